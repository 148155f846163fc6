import WaveRTMemory

/// Why a controller refused a program: the rule, the segment, the address, the limit.
public enum DMAProgramError: Error, Hashable, CustomStringConvertible {
    case emptyProgram(controller: String)
    case tooManySegments(count: Int, limit: Int, controller: String)
    case emptySegment(segment: Int, controller: String)
    case segmentTooLong(segment: Int, length: Int, limit: Int, controller: String)
    case aboveAddressLimit(segment: Int, address: PhysicalAddress, bits: Int, controller: String)
    case misaligned(segment: Int, address: PhysicalAddress, alignment: Int, controller: String)
    case crossesBoundary(segment: Int, address: PhysicalAddress, length: Int, boundary: UInt64, controller: String)
    case notRAM(segment: Int, address: PhysicalAddress, controller: String)
    case unallocated(segment: Int, address: PhysicalAddress, controller: String)

    public var description: String {
        switch self {
        case .emptyProgram(let c): "controller \(c) was given no segments"
        case .tooManySegments(let n, let limit, let c):
            "\(n) segments exceed the \(limit)-entry limit of controller \(c)"
        case .emptySegment(let s, let c): "segment \(s) has length 0 (controller \(c))"
        case .segmentTooLong(let s, let len, let limit, let c):
            "segment \(s) is \(len) bytes, longer than the \(limit)-byte limit of controller \(c)"
        case .aboveAddressLimit(let s, let a, let bits, let c):
            "segment \(s) at \(a) is above the \(bits)-bit limit of controller \(c)"
        case .misaligned(let s, let a, let align, let c):
            "segment \(s) at \(a) is not \(align)-byte aligned as controller \(c) requires"
        case .crossesBoundary(let s, let a, let len, let b, let c):
            "segment \(s) at \(a) (\(len) bytes) crosses a \(b / 1024) KiB boundary, which controller \(c) cannot"
        case .notRAM(let s, let a, let c): "segment \(s) at \(a) is not RAM (a hole or beyond the end of memory) (controller \(c))"
        case .unallocated(let s, let a, let c):
            "segment \(s) touches \(a), a page nobody has allocated (freed already, or never allocated) (controller \(c))"
        }
    }
}
