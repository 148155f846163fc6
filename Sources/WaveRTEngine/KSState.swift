/// `KSSTATE`: a stream's state. Transitions always pass through the neighbours
/// (STOP <-> ACQUIRE <-> PAUSE <-> RUN). STOP zeroes the position, PAUSE and
/// ACQUIRE freeze it, RUN advances it from where it stood.
public enum KSState: Int, Sendable, Hashable, Comparable, CustomStringConvertible {
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

/// `NTSTATUS` values the WaveRT DDIs return. `success` is the only non-error.
public enum NTStatus: UInt32, Error, Sendable, Hashable, CustomStringConvertible {
    case success = 0
    case unsuccessful = 0xC000_0001
    case invalidParameter = 0xC000_000D
    case bufferTooSmall = 0xC000_0023
    case dataOverrun = 0xC000_003C
    case dataLateError = 0xC000_003D
    case insufficientResources = 0xC000_009A
    case deviceNotReady = 0xC000_00A3
    case notSupported = 0xC000_00BB
    case invalidDeviceState = 0xC000_0184

    public var isSuccess: Bool { self == .success }

    public var description: String {
        let name = switch self {
        case .success: "STATUS_SUCCESS"
        case .unsuccessful: "STATUS_UNSUCCESSFUL"
        case .invalidParameter: "STATUS_INVALID_PARAMETER"
        case .bufferTooSmall: "STATUS_BUFFER_TOO_SMALL"
        case .dataOverrun: "STATUS_DATA_OVERRUN"
        case .dataLateError: "STATUS_DATA_LATE_ERROR"
        case .insufficientResources: "STATUS_INSUFFICIENT_RESOURCES"
        case .deviceNotReady: "STATUS_DEVICE_NOT_READY"
        case .notSupported: "STATUS_NOT_SUPPORTED"
        case .invalidDeviceState: "STATUS_INVALID_DEVICE_STATE"
        }
        return name + " (0x" + String(rawValue, radix: 16, uppercase: true) + ")"
    }
}
