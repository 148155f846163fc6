/// `NTSTATUS`: a 32-bit signed status whose sign is its severity (negative is
/// an error, as `NT_SUCCESS` tests). An open set of values: the constants name
/// the ones the WaveRT DDIs return, and any other value round-trips.
public struct NTStatus: RawRepresentable, Hashable, Sendable, Error, CustomStringConvertible {
    public var rawValue: Int32

    @inlinable public init(rawValue: Int32) { self.rawValue = rawValue }
    @inlinable public init(_ raw: UInt32) { self.rawValue = Int32(bitPattern: raw) }

    /// `NT_SUCCESS(Status)`: success and informational values.
    @inline(__always) public var isSuccess: Bool { rawValue >= 0 }

    @inlinable public static var success: NTStatus { NTStatus(0x0000_0000) }
    @inlinable public static var timeout: NTStatus { NTStatus(0x0000_0102) }
    @inlinable public static var pending: NTStatus { NTStatus(0x0000_0103) }
    @inlinable public static var bufferOverflow: NTStatus { NTStatus(0x8000_0005) }
    @inlinable public static var noMoreEntries: NTStatus { NTStatus(0x8000_001A) }
    @inlinable public static var unsuccessful: NTStatus { NTStatus(0xC000_0001) }
    @inlinable public static var notImplemented: NTStatus { NTStatus(0xC000_0002) }
    @inlinable public static var invalidHandle: NTStatus { NTStatus(0xC000_0008) }
    @inlinable public static var invalidParameter: NTStatus { NTStatus(0xC000_000D) }
    @inlinable public static var invalidDeviceRequest: NTStatus { NTStatus(0xC000_0010) }
    @inlinable public static var noMemory: NTStatus { NTStatus(0xC000_0017) }
    @inlinable public static var bufferTooSmall: NTStatus { NTStatus(0xC000_0023) }
    @inlinable public static var objectNameNotFound: NTStatus { NTStatus(0xC000_0034) }
    @inlinable public static var dataOverrun: NTStatus { NTStatus(0xC000_003C) }
    @inlinable public static var dataLateError: NTStatus { NTStatus(0xC000_003D) }
    @inlinable public static var insufficientResources: NTStatus { NTStatus(0xC000_009A) }
    @inlinable public static var deviceNotReady: NTStatus { NTStatus(0xC000_00A3) }
    @inlinable public static var notSupported: NTStatus { NTStatus(0xC000_00BB) }
    @inlinable public static var cancelled: NTStatus { NTStatus(0xC000_0120) }
    @inlinable public static var invalidDeviceState: NTStatus { NTStatus(0xC000_0184) }
    @inlinable public static var invalidBufferSize: NTStatus { NTStatus(0xC000_0206) }
    @inlinable public static var notFound: NTStatus { NTStatus(0xC000_0225) }
    @inlinable public static var noMatch: NTStatus { NTStatus(0xC000_0272) }

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
