import CWaveRTSDK
import WaveRTPort

// The KS structures that cross the bridge as bytes, with their x64 WDK
// layouts (the SDK's headers static_assert the same offsets):
//   KSDATAFORMAT (64): FormatSize 0, Flags 4, SampleSize 8, Reserved 12, MajorFormat 16, SubFormat 32, Specifier 48
//   WAVEFORMATEX (18, packed) at 64: wFormatTag 64, nChannels 66, nSamplesPerSec 68, nAvgBytesPerSec 72,
//     nBlockAlign 76, wBitsPerSample 78, cbSize 80; WAVEFORMATEXTENSIBLE adds Samples 82, dwChannelMask 84, SubFormat 88
//   KSDATARANGE_AUDIO (88): KSDATARANGE, MaximumChannels 64, Min/MaxBitsPerSample 68/72, Min/MaxSampleFrequency 76/80
enum FormatCoding {
    static let dataFormatWaveFormatExBytes = 88
    static let dataFormatWaveFormatExtensibleBytes = 104
    static let dataRangeAudioBytes = 88

    /// KSDATAFORMAT_WAVEFORMATEXTENSIBLE (or KSDATAFORMAT_WAVEFORMATEX for a non-extensible tag), in a new buffer.
    static func encode(_ format: KSDataFormat) -> UnsafeMutableRawBufferPointer {
        let w = format.waveFormat
        let extensible = w.formatTag == WaveFormatExtensible.tagExtensible
        let size = extensible ? dataFormatWaveFormatExtensibleBytes : dataFormatWaveFormatExBytes
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        b.initializeMemory(as: UInt8.self, repeating: 0)
        let p = b.baseAddress!
        p.storeBytes(of: UInt32(size), toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: UInt32(w.blockAlign), toByteOffset: 8, as: UInt32.self)
        format.majorFormat.store(to: p + 16)
        format.subFormat.store(to: p + 32)
        format.specifier.store(to: p + 48)
        p.storeBytes(of: w.formatTag, toByteOffset: 64, as: UInt16.self)
        p.storeBytes(of: w.channels, toByteOffset: 66, as: UInt16.self)
        p.storeBytes(of: w.samplesPerSec, toByteOffset: 68, as: UInt32.self)
        p.storeBytes(of: w.avgBytesPerSec, toByteOffset: 72, as: UInt32.self)
        p.storeBytes(of: w.blockAlign, toByteOffset: 76, as: UInt16.self)
        p.storeBytes(of: w.bitsPerSample, toByteOffset: 78, as: UInt16.self)
        p.storeBytes(of: UInt16(extensible ? 22 : 0), toByteOffset: 80, as: UInt16.self)
        if extensible {
            p.storeBytes(of: w.validBitsPerSample, toByteOffset: 82, as: UInt16.self)
            p.storeBytes(of: w.channelMask, toByteOffset: 84, as: UInt32.self)
            w.subFormat.store(to: p + 88)
        }
        return b
    }

    /// A KSDATAFORMAT with a wave format the miniport wrote (DataRangeIntersection's result), or nil.
    static func decode(_ p: UnsafeRawPointer, length: Int) -> KSDataFormat? {
        guard length >= 64 + 18 else { return nil }
        let major = GUID.load(from: p + 16), sub = GUID.load(from: p + 32), specifier = GUID.load(from: p + 48)
        let tag = p.loadUnaligned(fromByteOffset: 64, as: UInt16.self)
        let extensible = tag == WaveFormatExtensible.tagExtensible && length >= dataFormatWaveFormatExtensibleBytes
        let bits = p.loadUnaligned(fromByteOffset: 78, as: UInt16.self)
        let wave = WaveFormatExtensible(
            formatTag: tag, channels: p.loadUnaligned(fromByteOffset: 66, as: UInt16.self),
            samplesPerSec: p.loadUnaligned(fromByteOffset: 68, as: UInt32.self), avgBytesPerSec: p.loadUnaligned(fromByteOffset: 72, as: UInt32.self),
            blockAlign: p.loadUnaligned(fromByteOffset: 76, as: UInt16.self), bitsPerSample: bits,
            validBitsPerSample: extensible ? p.loadUnaligned(fromByteOffset: 82, as: UInt16.self) : bits,
            channelMask: extensible ? p.loadUnaligned(fromByteOffset: 84, as: UInt32.self) : 0,
            subFormat: extensible ? GUID.load(from: p + 88) : sub)
        return KSDataFormat(majorFormat: major, subFormat: sub, specifier: specifier, waveFormat: wave)
    }

    /// KSDATARANGE_AUDIO for a client's range, in a new buffer.
    static func encode(_ range: KSDataRangeAudio) -> UnsafeMutableRawBufferPointer {
        let b = UnsafeMutableRawBufferPointer.allocate(byteCount: dataRangeAudioBytes, alignment: 8)
        b.initializeMemory(as: UInt8.self, repeating: 0)
        let p = b.baseAddress!
        p.storeBytes(of: UInt32(dataRangeAudioBytes), toByteOffset: 0, as: UInt32.self)
        range.majorFormat.store(to: p + 16)
        range.subFormat.store(to: p + 32)
        range.specifier.store(to: p + 48)
        p.storeBytes(of: UInt32(clamping: range.maximumChannels), toByteOffset: 64, as: UInt32.self)
        p.storeBytes(of: UInt32(clamping: range.minimumBitsPerSample), toByteOffset: 68, as: UInt32.self)
        p.storeBytes(of: UInt32(clamping: range.maximumBitsPerSample), toByteOffset: 72, as: UInt32.self)
        p.storeBytes(of: UInt32(clamping: range.minimumSampleFrequency), toByteOffset: 76, as: UInt32.self)
        p.storeBytes(of: UInt32(clamping: range.maximumSampleFrequency), toByteOffset: 80, as: UInt32.self)
        return b
    }

    static func guid(_ g: WrtGuid) -> GUID {
        var copy = g
        return withUnsafeBytes(of: &copy) { GUID.load(from: $0.baseAddress!) }
    }

    static func wrtGuid(_ g: GUID) -> WrtGuid {
        var w = WrtGuid()
        withUnsafeMutableBytes(of: &w) { g.store(to: $0.baseAddress!) }
        return w
    }

    /// A pin's range as the port models it (non-audio ranges keep their GUIDs and no limits).
    static func range(_ r: WrtRangeInfo) -> KSDataRangeAudio {
        if r.isAudio != 0 {
            return KSDataRangeAudio(subFormat: guid(r.subFormat), maximumChannels: Int(r.maximumChannels),
                                    bitsPerSample: Int(r.minimumBitsPerSample)...Int(max(r.minimumBitsPerSample, r.maximumBitsPerSample)),
                                    sampleFrequency: Int(r.minimumSampleFrequency)...Int(max(r.minimumSampleFrequency, r.maximumSampleFrequency)),
                                    majorFormat: guid(r.majorFormat), specifier: guid(r.specifier))
        }
        return KSDataRangeAudio(subFormat: guid(r.subFormat), maximumChannels: 0, bitsPerSample: 0...0, sampleFrequency: 0...0,
                                majorFormat: guid(r.majorFormat), specifier: guid(r.specifier))
    }
}

/// The interface IDs the host asks a miniport's objects for.
enum InterfaceID {
    static let miniportWaveRTStreamNotification = FormatCoding.wrtGuid(GUID(0x2375_9128, 0x96F1, 0x423B, 0xAB4D_81635BCF8CA1))
    static let miniportWaveRTOutputStream = FormatCoding.wrtGuid(GUID(0x831F_C7BC, 0x6347, 0x44BC, 0xB47B_C0C657B5BF73))
    static let miniportWaveRTInputStream = FormatCoding.wrtGuid(GUID(0xCD8E_756A, 0x5FC7, 0x4624, 0x984B_2AF02925B91F))
}
