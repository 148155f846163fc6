/// The layout of the emulated physical address space: where RAM is and where the
/// holes are (legacy VGA/BIOS area, the PCI hole below 4 GiB).
public struct PhysicalMemoryMap: Sendable, Hashable {
    /// One range of RAM, `[start, end)`, both multiples of the page size.
    public struct Range: Sendable, Hashable {
        public var start: PhysicalAddress
        public var end: PhysicalAddress
        public init(start: PhysicalAddress, end: PhysicalAddress) {
            self.start = start
            self.end = end
        }
        public var byteCount: UInt64 { end.rawValue - start.rawValue }
    }

    public var ramRanges: [Range]
    public var pageSize: Int

    /// Builds a layout; ranges are sorted and must be page-aligned and disjoint.
    public init(ramRanges: [Range], pageSize: Int = 4096) throws(PhysicalMemoryMapError) {
        guard pageSize >= 512, pageSize & (pageSize - 1) == 0 else {
            throw .badPageSize(pageSize)
        }
        let sorted = ramRanges.sorted { $0.start < $1.start }
        guard !sorted.isEmpty else { throw .noRAM }
        var previousEnd: UInt64 = 0
        for (i, r) in sorted.enumerated() {
            let mask = UInt64(pageSize - 1)
            guard r.start.rawValue & mask == 0, r.end.rawValue & mask == 0 else {
                throw .unaligned(index: i, range: r, pageSize: pageSize)
            }
            guard r.end > r.start else { throw .empty(index: i, range: r) }
            guard i == 0 || r.start.rawValue >= previousEnd else { throw .overlapping(index: i, range: r) }
            previousEnd = r.end.rawValue
        }
        self.ramRanges = sorted
        self.pageSize = pageSize
    }

    /// A PC-like map: RAM at 0–640 KiB, 1 MiB–3 GiB and 4 GiB–5 GiB, 4 KiB pages;
    /// a hole for the legacy VGA/BIOS area and the 1 GiB PCI hole below 4 GiB.
    public static let pc = try! PhysicalMemoryMap(ramRanges: [
        Range(start: 0, end: 0xA_0000),
        Range(start: 0x10_0000, end: 0xC000_0000),
        Range(start: 0x1_0000_0000, end: 0x1_4000_0000),
    ])

    /// One byte past the highest RAM address: the size of the address space modelled.
    public var end: PhysicalAddress { ramRanges.last!.end }

    public var totalRAMBytes: UInt64 { ramRanges.reduce(0) { $0 + $1.byteCount } }

    /// Whether `address` is RAM (not a hole, not beyond the end of memory).
    public func isRAM(_ address: PhysicalAddress) -> Bool {
        ramRanges.contains { address >= $0.start && address < $0.end }
    }
}

public enum PhysicalMemoryMapError: Error, Hashable, CustomStringConvertible {
    case badPageSize(Int)
    case noRAM
    case unaligned(index: Int, range: PhysicalMemoryMap.Range, pageSize: Int)
    case empty(index: Int, range: PhysicalMemoryMap.Range)
    case overlapping(index: Int, range: PhysicalMemoryMap.Range)

    public var description: String {
        switch self {
        case .badPageSize(let s): "page size \(s) is not a power of two of at least 512"
        case .noRAM: "the memory map has no RAM range"
        case .unaligned(let i, let r, let ps):
            "RAM range \(i) [\(r.start), \(r.end)) is not aligned to the \(ps)-byte page size"
        case .empty(let i, let r): "RAM range \(i) [\(r.start), \(r.end)) is empty"
        case .overlapping(let i, let r): "RAM range \(i) [\(r.start), \(r.end)) overlaps the previous one"
        }
    }
}
