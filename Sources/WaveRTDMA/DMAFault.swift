import WaveRTMemory

/// What went wrong on a piece of a program that a faithful-fault controller ran anyway.
public struct DMAFaultKind: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Address bits beyond the controller's width were dropped: it reached another page.
    public static let addressTruncated = Self(rawValue: 1 << 0)
    /// The transfer crossed the controller's boundary and wrapped inside it.
    public static let boundaryWrapped = Self(rawValue: 1 << 1)
    /// The address is not RAM: reads give an open bus (0xFF), writes vanish.
    public static let openBus = Self(rawValue: 1 << 2)
    /// RAM nobody had allocated when the program was loaded: reads give silence, writes are dropped.
    public static let unallocated = Self(rawValue: 1 << 3)
    /// Pages freed (perhaps reallocated) since the program was loaded: reads give silence, writes are dropped.
    public static let useAfterFree = Self(rawValue: 1 << 4)

    public var description: String {
        var names: [String] = []
        if contains(.addressTruncated) { names.append("address truncated") }
        if contains(.boundaryWrapped) { names.append("boundary wrapped") }
        if contains(.openBus) { names.append("open bus") }
        if contains(.unallocated) { names.append("unallocated page") }
        if contains(.useAfterFree) { names.append("use after free") }
        return names.joined(separator: ", ")
    }
}

/// A faulty piece of a program and what the controller moved through it.
public struct DMAFaultRecord: Sendable, Hashable, CustomStringConvertible {
    public var kind: DMAFaultKind
    /// Descriptor index (-1 for the buffer as a whole).
    public var segment: Int
    /// Where the piece starts in the cyclic buffer, and its length.
    public var bufferOffset: Int
    public var length: Int
    /// The address the program named, and the one the silicon reached.
    public var intendedAddress: PhysicalAddress
    public var actualAddress: PhysicalAddress
    /// Transfers that touched the piece, and the bytes they moved through it.
    public var events: UInt64
    public var bytes: UInt64

    public var description: String {
        if kind == .useAfterFree { return "use after free: \(events) transfers from a freed buffer gave silence" }
        return "segment \(segment) (+\(bufferOffset), \(length) bytes): \(kind): meant \(intendedAddress), reached \(actualAddress); \(events) transfers, \(bytes) bytes"
    }
}
