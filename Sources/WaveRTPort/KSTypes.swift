import WaveRTKernel

/// `KSSTATE`: a stream's state. Transitions always pass through the neighbours
/// (STOP ↔ ACQUIRE ↔ PAUSE ↔ RUN), which the port enforces.
public enum KSState: Int32, Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    case stop = 0, acquire = 1, pause = 2, run = 3

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .stop: "KSSTATE_STOP"
        case .acquire: "KSSTATE_ACQUIRE"
        case .pause: "KSSTATE_PAUSE"
        case .run: "KSSTATE_RUN"
        }
    }
}

/// Property sets and identifiers the WaveRT port answers (ksmedia.h, ks.h).
public enum KSPropertySet {
    /// `KSPROPSETID_RtAudio`.
    @inlinable public static var rtAudio: GUID { GUID(0xA855A48C, 0x2F78, 0x4729, 0x9051_1968746B9EEF) }  // A855A48C-2F78-4729-9051-1968746B9EEF
    /// `KSPROPSETID_Audio`.
    @inlinable public static var audio: GUID { GUID(0x45FFAAA0, 0x6E1B, 0x11D0, 0xBCF2_444553540000) }  // 45FFAAA0-6E1B-11D0-BCF2-444553540000
    /// `KSPROPSETID_Connection`.
    @inlinable public static var connection: GUID { GUID(0x1D58C920, 0xAC9B, 0x11CF, 0xA5D6_28DB04C10000) }  // 1D58C920-AC9B-11CF-A5D6-28DB04C10000
}

/// `KSPROPERTY_RTAUDIO` identifiers.
public enum KSPropertyRtAudio: UInt32, Sendable, CaseIterable {
    case getPositionFunction = 0, buffer, hwLatency, positionRegister, clockRegister, bufferWithNotification
    case registerNotificationEvent, unregisterNotificationEvent, queryNotificationSupport, packetCount
    case presentationPosition, getReadPacket, setWritePacket, packetVRegister
}

/// `KSPROPERTY_AUDIO_POSITION` in KSPROPSETID_Audio; `KSPROPERTY_CONNECTION_STATE` in KSPROPSETID_Connection.
public let KSPROPERTY_AUDIO_POSITION: UInt32 = 5
public let KSPROPERTY_CONNECTION_STATE: UInt32 = 0

/// `KSPROPERTY.Flags`.
public struct KSPropertyFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let get = KSPropertyFlags(rawValue: 0x1)          // KSPROPERTY_TYPE_GET
    public static let set = KSPropertyFlags(rawValue: 0x2)          // KSPROPERTY_TYPE_SET
    public static let basicSupport = KSPropertyFlags(rawValue: 0x200)
}

/// `KSPROPERTY` (= `KSIDENTIFIER`): 24 bytes on x64, GUID Set, ULONG Id, ULONG Flags.
public struct KSProperty: Hashable, Sendable {
    public var set: GUID
    public var id: UInt32
    public var flags: KSPropertyFlags
    public init(set: GUID, id: UInt32, flags: KSPropertyFlags) {
        self.set = set
        self.id = id
        self.flags = flags
    }
    public static let size = 24

    public func store(to p: UnsafeMutableRawPointer) {
        set.store(to: p)
        p.storeBytes(of: id.littleEndian, toByteOffset: 16, as: UInt32.self)
        p.storeBytes(of: flags.rawValue.littleEndian, toByteOffset: 20, as: UInt32.self)
    }

    public static func load(from p: UnsafeRawPointer) -> KSProperty {
        KSProperty(set: GUID.load(from: p), id: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt32.self)),
                   flags: KSPropertyFlags(rawValue: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 20, as: UInt32.self))))
    }
}

/// `KSAUDIO_POSITION`: byte offsets in the cyclic buffer (16 bytes).
public struct KSAudioPosition: Hashable, Sendable {
    /// Render: the byte at the DAC. Capture: the record position.
    public var playOffset: UInt64
    /// Render: the write position the client must stay ahead of. Capture: the read position.
    public var writeOffset: UInt64
    public init(playOffset: UInt64 = 0, writeOffset: UInt64 = 0) {
        self.playOffset = playOffset
        self.writeOffset = writeOffset
    }
}

/// `KSRTAUDIO_HWLATENCY` (12 bytes): FIFO bytes, chipset and codec delay in 100-ns units.
public struct KSRTAudioHWLatency: Hashable, Sendable {
    public var fifoSize: UInt32
    public var chipsetDelay: UInt32
    public var codecDelay: UInt32
    public init(fifoSize: UInt32 = 0, chipsetDelay: UInt32 = 0, codecDelay: UInt32 = 0) {
        self.fifoSize = fifoSize
        self.chipsetDelay = chipsetDelay
        self.codecDelay = codecDelay
    }
}

/// `KSRTAUDIO_HWREGISTER` (40 bytes): a register the client may map. For a
/// position register only Register, Width and Accuracy (bytes per step) mean
/// anything; a clock register fills all (frequency = Numerator / Denominator,
/// Accuracy in ticks per update).
public struct KSRTAudioHWRegister: Hashable, @unchecked Sendable {
    public var register: UnsafeMutableRawPointer?
    public var width: UInt32
    public var numerator: UInt64
    public var denominator: UInt64
    public var accuracy: UInt32
    public init(register: UnsafeMutableRawPointer? = nil, width: UInt32 = 0, numerator: UInt64 = 0, denominator: UInt64 = 0, accuracy: UInt32 = 0) {
        self.register = register
        self.width = width
        self.numerator = numerator
        self.denominator = denominator
        self.accuracy = accuracy
    }
}

/// `KSAUDIO_PRESENTATION_POSITION` (16 bytes).
public struct KSAudioPresentationPosition: Hashable, Sendable {
    public var positionInBlocks: UInt64
    /// KeQueryPerformanceCounter when the position was taken.
    public var qpcPosition: UInt64
    public init(positionInBlocks: UInt64 = 0, qpcPosition: UInt64 = 0) {
        self.positionInBlocks = positionInBlocks
        self.qpcPosition = qpcPosition
    }
}

/// `KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM`: the SetWritePacket flag for end of stream.
public let KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM: UInt32 = 0x200

/// `DEVICE_DESCRIPTION` (the fields a WaveRT miniport fills in GetDeviceDescription).
public struct DeviceDescription: Hashable, Sendable {
    public var version: UInt32 = 2
    public var master = true
    public var scatterGather = false
    public var dma32BitAddresses = false
    public var dma64BitAddresses = false
    public var interfaceType: UInt32 = 5  // PCIBus
    public var maximumLength: UInt32 = 0
    public init() {}
}
