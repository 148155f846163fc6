/// A Windows `GUID`, with its in-memory layout (Data1, Data2 and Data3
/// little-endian, then Data4's 8 bytes).
public struct GUID: Hashable, Sendable, CustomStringConvertible {
    public var data1: UInt32
    public var data2: UInt16
    public var data3: UInt16
    public var data4: UInt64  // bytes in order, first byte in the high bits

    @inlinable public init(_ data1: UInt32, _ data2: UInt16, _ data3: UInt16, _ data4: UInt64) {
        self.data1 = data1
        self.data2 = data2
        self.data3 = data3
        self.data4 = data4
    }

    /// From "A855A48C-2F78-4729-9051-1968746B9EEF".
    public init?(_ text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 5, let a = UInt32(parts[0], radix: 16), let b = UInt16(parts[1], radix: 16),
              let c = UInt16(parts[2], radix: 16), let d = UInt64(parts[3] + parts[4], radix: 16),
              parts[3].count == 4, parts[4].count == 12 else { return nil }
        self.init(a, b, c, d)
    }

    @inlinable public static var null: GUID { GUID(0, 0, 0, 0) }

    /// The 16 bytes as a GUID lies in memory.
    public func store(to p: UnsafeMutableRawPointer) {
        p.storeBytes(of: data1.littleEndian, toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: data2.littleEndian, toByteOffset: 4, as: UInt16.self)
        p.storeBytes(of: data3.littleEndian, toByteOffset: 6, as: UInt16.self)
        p.storeBytes(of: data4.bigEndian, toByteOffset: 8, as: UInt64.self)
    }

    public static func load(from p: UnsafeRawPointer) -> GUID {
        GUID(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt32.self)),
             UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt16.self)),
             UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 6, as: UInt16.self)),
             UInt64(bigEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
    }

    public var description: String {
        func hex<T: BinaryInteger>(_ v: T, _ width: Int) -> String {
            let s = String(v, radix: 16, uppercase: true)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(hex(data1, 8))-\(hex(data2, 4))-\(hex(data3, 4))-\(hex(data4 >> 48, 4))-\(hex(data4 & 0xFFFF_FFFF_FFFF, 12))"
    }
}
