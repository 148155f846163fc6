import WaveRTEngine
import WaveRTKernel

/// The GUIDs of audio data formats (ksmedia.h).
public enum KSDataFormatGUID {
    /// `KSDATAFORMAT_TYPE_AUDIO`.
    @inlinable public static var typeAudio: GUID { GUID(0x73647561, 0x0000, 0x0010, 0x8000_00AA00389B71) }  // 73647561-0000-0010-8000-00AA00389B71
    /// `KSDATAFORMAT_SUBTYPE_PCM`.
    @inlinable public static var subtypePCM: GUID { GUID(0x00000001, 0x0000, 0x0010, 0x8000_00AA00389B71) }  // 00000001-0000-0010-8000-00AA00389B71
    /// `KSDATAFORMAT_SUBTYPE_IEEE_FLOAT`.
    @inlinable public static var subtypeIEEEFloat: GUID { GUID(0x00000003, 0x0000, 0x0010, 0x8000_00AA00389B71) }  // 00000003-0000-0010-8000-00AA00389B71
    /// `KSDATAFORMAT_SPECIFIER_WAVEFORMATEX`.
    @inlinable public static var specifierWaveFormatEx: GUID { GUID(0x05589F81, 0xC356, 0x11CE, 0xBF01_00AA0055595A) }  // 05589F81-C356-11CE-BF01-00AA0055595A
    /// `KSDATAFORMAT_TYPE_WILDCARD` / `SUBTYPE_WILDCARD` / `SPECIFIER_WILDCARD` (GUID_NULL).
    public static let wildcard = GUID.null
}

/// `WAVEFORMATEXTENSIBLE` (with `WAVEFORMATEX` as the case without the
/// extension: `WAVE_FORMAT_PCM` / `WAVE_FORMAT_IEEE_FLOAT` tags).
public struct WaveFormatExtensible: Hashable, Sendable {
    public static let tagPCM: UInt16 = 1
    public static let tagIEEEFloat: UInt16 = 3
    public static let tagExtensible: UInt16 = 0xFFFE

    public var formatTag: UInt16
    public var channels: UInt16
    public var samplesPerSec: UInt32
    public var avgBytesPerSec: UInt32
    public var blockAlign: UInt16
    public var bitsPerSample: UInt16
    /// `Samples.wValidBitsPerSample` (extensible only).
    public var validBitsPerSample: UInt16
    public var channelMask: UInt32
    public var subFormat: GUID

    public init(formatTag: UInt16, channels: UInt16, samplesPerSec: UInt32, avgBytesPerSec: UInt32, blockAlign: UInt16,
                bitsPerSample: UInt16, validBitsPerSample: UInt16, channelMask: UInt32, subFormat: GUID)
    {
        self.formatTag = formatTag
        self.channels = channels
        self.samplesPerSec = samplesPerSec
        self.avgBytesPerSec = avgBytesPerSec
        self.blockAlign = blockAlign
        self.bitsPerSample = bitsPerSample
        self.validBitsPerSample = validBitsPerSample
        self.channelMask = channelMask
        self.subFormat = subFormat
    }

    /// The WAVEFORMATEXTENSIBLE a client sends for `format` (the speaker mask of the usual layouts).
    public init(_ format: StreamFormat) {
        let bits = UInt16(format.sampleFormat.bits)
        self.init(formatTag: Self.tagExtensible, channels: UInt16(format.channels), samplesPerSec: UInt32(format.sampleRate),
                  avgBytesPerSec: UInt32(format.bytesPerSecond), blockAlign: UInt16(format.blockAlign), bitsPerSample: bits,
                  validBitsPerSample: bits, channelMask: Self.defaultChannelMask(format.channels),
                  subFormat: format.sampleFormat == .float32 ? KSDataFormatGUID.subtypeIEEEFloat : KSDataFormatGUID.subtypePCM)
    }

    /// `KSAUDIO_SPEAKER_MONO`, `_STEREO`, `_QUAD`, `_5POINT1`, `_7POINT1_SURROUND`; otherwise the low bits.
    public static func defaultChannelMask(_ channels: Int) -> UInt32 {
        switch channels {
        case 1: 0x4
        case 2: 0x3
        case 4: 0x33
        case 6: 0x3F
        case 8: 0x63F
        default: channels >= 32 ? .max : (1 << UInt32(channels)) - 1
        }
    }

    public var isFloat: Bool {
        formatTag == Self.tagIEEEFloat || (formatTag == Self.tagExtensible && subFormat == KSDataFormatGUID.subtypeIEEEFloat)
    }

    /// The stream format this describes, when the emulator can carry it
    /// (16-, 24- or 32-bit integer or 32-bit float, packed, 1–32 channels), and
    /// the fields agree (nBlockAlign, nAvgBytesPerSec).
    public var streamFormat: StreamFormat? {
        guard Int(blockAlign) == Int(channels) * Int(bitsPerSample) / 8,
              Int(avgBytesPerSec) == Int(blockAlign) * Int(samplesPerSec) else { return nil }
        return try? StreamFormat(sampleRate: Int(samplesPerSec), bitsPerSample: Int(bitsPerSample), channels: Int(channels), float: isFloat)
    }
}

/// `KSDATAFORMAT` followed by its WAVEFORMATEX(TENSIBLE): what a client asks
/// a pin for and NewStream receives.
public struct KSDataFormat: Hashable, Sendable {
    public var majorFormat: GUID
    public var subFormat: GUID
    public var specifier: GUID
    public var waveFormat: WaveFormatExtensible

    public init(majorFormat: GUID = KSDataFormatGUID.typeAudio, subFormat: GUID, specifier: GUID = KSDataFormatGUID.specifierWaveFormatEx,
                waveFormat: WaveFormatExtensible)
    {
        self.majorFormat = majorFormat
        self.subFormat = subFormat
        self.specifier = specifier
        self.waveFormat = waveFormat
    }

    /// `KSDATAFORMAT_WAVEFORMATEXTENSIBLE` for `format`.
    public init(_ format: StreamFormat) {
        let wave = WaveFormatExtensible(format)
        self.init(subFormat: wave.subFormat, waveFormat: wave)
    }

    /// `KSDATAFORMAT.SampleSize`: nBlockAlign.
    public var sampleSize: Int { Int(waveFormat.blockAlign) }
    public var streamFormat: StreamFormat? { waveFormat.streamFormat }
}

/// `KSDATARANGE_AUDIO`: a range of audio formats a pin accepts (the minimum
/// channel count is implicitly 1).
public struct KSDataRangeAudio: Hashable, Sendable {
    public var majorFormat: GUID
    public var subFormat: GUID
    public var specifier: GUID
    public var maximumChannels: Int
    public var minimumBitsPerSample: Int
    public var maximumBitsPerSample: Int
    public var minimumSampleFrequency: Int
    public var maximumSampleFrequency: Int

    public init(subFormat: GUID = KSDataFormatGUID.subtypePCM, maximumChannels: Int, bitsPerSample: ClosedRange<Int>,
                sampleFrequency: ClosedRange<Int>, majorFormat: GUID = KSDataFormatGUID.typeAudio,
                specifier: GUID = KSDataFormatGUID.specifierWaveFormatEx)
    {
        self.majorFormat = majorFormat
        self.subFormat = subFormat
        self.specifier = specifier
        self.maximumChannels = maximumChannels
        minimumBitsPerSample = bitsPerSample.lowerBound
        maximumBitsPerSample = bitsPerSample.upperBound
        minimumSampleFrequency = sampleFrequency.lowerBound
        maximumSampleFrequency = sampleFrequency.upperBound
    }

    /// A range holding exactly `format` (what a client asks with).
    public init(exactly format: KSDataFormat) {
        let w = format.waveFormat
        self.init(subFormat: format.subFormat, maximumChannels: Int(w.channels),
                  bitsPerSample: Int(w.bitsPerSample)...Int(w.bitsPerSample),
                  sampleFrequency: Int(w.samplesPerSec)...Int(w.samplesPerSec),
                  majorFormat: format.majorFormat, specifier: format.specifier)
    }

    /// `KsValidateConnectRequest`'s test: the GUID triple matches (GUID_NULL in the range is a wildcard).
    public func matchesGUIDs(of format: KSDataFormat) -> Bool {
        func match(_ mine: GUID, _ theirs: GUID) -> Bool { mine == .null || mine == theirs }
        return match(majorFormat, format.majorFormat) && match(subFormat, format.subFormat) && match(specifier, format.specifier)
    }

    /// Whether `format`'s values lie inside the range.
    public func contains(_ format: KSDataFormat) -> Bool {
        let w = format.waveFormat
        return matchesGUIDs(of: format) && (1...max(1, maximumChannels)).contains(Int(w.channels))
            && (minimumBitsPerSample...maximumBitsPerSample).contains(Int(w.bitsPerSample))
            && (minimumSampleFrequency...maximumSampleFrequency).contains(Int(w.samplesPerSec))
    }
}

/// `KSPIN_DATAFLOW`: a render pin's data flows in (from the client), a capture pin's out.
public enum KSPinDataFlow: Int32, Sendable, Hashable { case `in` = 1, out = 2 }
/// `KSPIN_COMMUNICATION`: a streaming pin is a sink; a bridge pin connects to another filter's node.
public enum KSPinCommunication: Int32, Sendable, Hashable { case none = 0, sink = 1, source = 2, both = 3, bridge = 4 }

/// `KSPIN_DESCRIPTOR` (the parts PortCls uses).
public struct KSPinDescriptor: Hashable, Sendable {
    public var dataRanges: [KSDataRangeAudio]
    public var dataFlow: KSPinDataFlow
    public var communication: KSPinCommunication
    public var category: GUID
    public init(dataRanges: [KSDataRangeAudio], dataFlow: KSPinDataFlow, communication: KSPinCommunication, category: GUID = .null) {
        self.dataRanges = dataRanges
        self.dataFlow = dataFlow
        self.communication = communication
        self.category = category
    }
}

/// `PCPIN_DESCRIPTOR`.
public struct PCPinDescriptor: Hashable, Sendable {
    public var maxGlobalInstanceCount: Int
    public var maxFilterInstanceCount: Int
    public var minFilterInstanceCount: Int
    public var ksPinDescriptor: KSPinDescriptor
    public init(maxGlobalInstanceCount: Int, maxFilterInstanceCount: Int, minFilterInstanceCount: Int, ksPinDescriptor: KSPinDescriptor) {
        self.maxGlobalInstanceCount = maxGlobalInstanceCount
        self.maxFilterInstanceCount = maxFilterInstanceCount
        self.minFilterInstanceCount = minFilterInstanceCount
        self.ksPinDescriptor = ksPinDescriptor
    }

    /// Whether a client may open a stream on the pin (a streaming sink, not a bridge).
    public var isStreaming: Bool { ksPinDescriptor.communication == .sink || ksPinDescriptor.communication == .both }
}

/// `PCFILTER_DESCRIPTOR` (pins, and the counts of the rest: nodes,
/// connections and categories are not used by the port here).
public struct PCFilterDescriptor: Hashable, Sendable {
    public var version: UInt32
    public var pins: [PCPinDescriptor]
    public var nodeCount: Int
    public var connectionCount: Int
    public var categories: [GUID]
    public init(version: UInt32 = 0, pins: [PCPinDescriptor], nodeCount: Int = 0, connectionCount: Int = 0, categories: [GUID] = []) {
        self.version = version
        self.pins = pins
        self.nodeCount = nodeCount
        self.connectionCount = connectionCount
        self.categories = categories
    }
}

/// PortCls' default data intersection handler (used when the miniport's
/// DataRangeIntersection returns STATUS_NOT_IMPLEMENTED): PCM only, mono or
/// stereo only, no WAVEFORMATEXTENSIBLE; it picks the highest rate, bits and
/// channels both ranges allow. Returns nil for no match.
public func defaultDataIntersection(client: KSDataRangeAudio, pin: KSDataRangeAudio) -> KSDataFormat? {
    guard pin.subFormat == KSDataFormatGUID.subtypePCM || pin.subFormat == .null,
          client.subFormat == KSDataFormatGUID.subtypePCM || client.subFormat == .null else { return nil }
    let channels = min(client.maximumChannels, pin.maximumChannels, 2)
    let bits = min(client.maximumBitsPerSample, pin.maximumBitsPerSample)
    let rate = min(client.maximumSampleFrequency, pin.maximumSampleFrequency)
    guard channels >= 1, bits >= max(client.minimumBitsPerSample, pin.minimumBitsPerSample),
          rate >= max(client.minimumSampleFrequency, pin.minimumSampleFrequency), bits % 8 == 0 else { return nil }
    let blockAlign = channels * bits / 8
    let wave = WaveFormatExtensible(formatTag: WaveFormatExtensible.tagPCM, channels: UInt16(channels), samplesPerSec: UInt32(rate),
                                    avgBytesPerSec: UInt32(rate * blockAlign), blockAlign: UInt16(blockAlign), bitsPerSample: UInt16(bits),
                                    validBitsPerSample: UInt16(bits), channelMask: 0, subFormat: KSDataFormatGUID.subtypePCM)
    return KSDataFormat(subFormat: KSDataFormatGUID.subtypePCM, waveFormat: wave)
}
