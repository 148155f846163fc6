/// `NTSTATUS`: a 32-bit signed status whose sign is its severity (negative is
/// an error, as `NT_SUCCESS` tests). An open set of values: the constants name
/// the ones the WaveRT DDIs return, and any other value round-trips.
public struct NTStatus: RawRepresentable, Hashable, Sendable, Error, CustomStringConvertible {
    public var rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ raw: UInt32) { self.rawValue = Int32(bitPattern: raw) }

    /// `NT_SUCCESS(Status)`: success and informational values.
    @inline(__always) public var isSuccess: Bool { rawValue >= 0 }

    public static let success = NTStatus(0x0000_0000)
    public static let timeout = NTStatus(0x0000_0102)
    public static let pending = NTStatus(0x0000_0103)
    public static let bufferOverflow = NTStatus(0x8000_0005)
    public static let noMoreEntries = NTStatus(0x8000_001A)
    public static let unsuccessful = NTStatus(0xC000_0001)
    public static let notImplemented = NTStatus(0xC000_0002)
    public static let invalidHandle = NTStatus(0xC000_0008)
    public static let invalidParameter = NTStatus(0xC000_000D)
    public static let invalidDeviceRequest = NTStatus(0xC000_0010)
    public static let noMemory = NTStatus(0xC000_0017)
    public static let bufferTooSmall = NTStatus(0xC000_0023)
    public static let objectNameNotFound = NTStatus(0xC000_0034)
    public static let dataOverrun = NTStatus(0xC000_003C)
    public static let dataLateError = NTStatus(0xC000_003D)
    public static let insufficientResources = NTStatus(0xC000_009A)
    public static let deviceNotReady = NTStatus(0xC000_00A3)
    public static let notSupported = NTStatus(0xC000_00BB)
    public static let cancelled = NTStatus(0xC000_0120)
    public static let invalidDeviceState = NTStatus(0xC000_0184)
    public static let invalidBufferSize = NTStatus(0xC000_0206)
    public static let notFound = NTStatus(0xC000_0225)
    public static let noMatch = NTStatus(0xC000_0272)

    static let names: [Int32: String] = [
        success.rawValue: "STATUS_SUCCESS", timeout.rawValue: "STATUS_TIMEOUT", pending.rawValue: "STATUS_PENDING",
        bufferOverflow.rawValue: "STATUS_BUFFER_OVERFLOW", noMoreEntries.rawValue: "STATUS_NO_MORE_ENTRIES",
        unsuccessful.rawValue: "STATUS_UNSUCCESSFUL", notImplemented.rawValue: "STATUS_NOT_IMPLEMENTED",
        invalidHandle.rawValue: "STATUS_INVALID_HANDLE", invalidParameter.rawValue: "STATUS_INVALID_PARAMETER",
        invalidDeviceRequest.rawValue: "STATUS_INVALID_DEVICE_REQUEST", noMemory.rawValue: "STATUS_NO_MEMORY",
        bufferTooSmall.rawValue: "STATUS_BUFFER_TOO_SMALL", objectNameNotFound.rawValue: "STATUS_OBJECT_NAME_NOT_FOUND",
        dataOverrun.rawValue: "STATUS_DATA_OVERRUN", dataLateError.rawValue: "STATUS_DATA_LATE_ERROR",
        insufficientResources.rawValue: "STATUS_INSUFFICIENT_RESOURCES", deviceNotReady.rawValue: "STATUS_DEVICE_NOT_READY",
        notSupported.rawValue: "STATUS_NOT_SUPPORTED", cancelled.rawValue: "STATUS_CANCELLED",
        invalidDeviceState.rawValue: "STATUS_INVALID_DEVICE_STATE", notFound.rawValue: "STATUS_NOT_FOUND",
        invalidBufferSize.rawValue: "STATUS_INVALID_BUFFER_SIZE",
        noMatch.rawValue: "STATUS_NO_MATCH",
    ]

    /// The WDK's name when it is one of the constants, and the value in hex: "STATUS_NOT_SUPPORTED (0xC00000BB)".
    public var description: String {
        let hex = "0x" + String(UInt32(bitPattern: rawValue), radix: 16, uppercase: true)
        return Self.names[rawValue].map { "\($0) (\(hex))" } ?? hex
    }
}
