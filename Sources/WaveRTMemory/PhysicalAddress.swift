/// A physical address in the emulated machine: the WDK's `PHYSICAL_ADDRESS`
/// (a `LARGE_INTEGER`), kept unsigned because no physical address is negative.
public struct PhysicalAddress: RawRepresentable, Hashable, Comparable, Sendable,
    ExpressibleByIntegerLiteral, CustomStringConvertible
{
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public init(integerLiteral value: UInt64) { self.rawValue = value }

    /// `MAXULONG64`: "no limit" for a HighAddress or HighestAcceptableAddress.
    public static let max = PhysicalAddress(UInt64.max)

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public static func + (a: Self, offset: UInt64) -> Self { Self(a.rawValue &+ offset) }

    /// Hexadecimal with a `_` every four digits, as WinDbg prints them: `0x1_0000_5000`.
    public var description: String { Self.hex(rawValue) }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 4 == 0 { out.append("_") }
            out.append(c)
        }
        return "0x" + out
    }
}

/// `MEMORY_CACHING_TYPE`: the caching a mapping asks for. The host cannot change
/// caching, so it is recorded on the MDL and in reports, and checked for misuse.
public enum MemoryCachingType: Int, Sendable, CustomStringConvertible {
    case nonCached = 0        // MmNonCached
    case cached = 1           // MmCached
    case writeCombined = 2    // MmWriteCombined

    public var description: String {
        switch self {
        case .nonCached: "MmNonCached"
        case .cached: "MmCached"
        case .writeCombined: "MmWriteCombined"
        }
    }
}

/// The `MM_ALLOCATE_*` / `MM_DONT_ZERO_ALLOCATION` flags of `MmAllocatePagesForMdlEx`.
public struct AllocatePagesFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// MM_DONT_ZERO_ALLOCATION (0x1): the pages keep whatever they held (here: a poison pattern).
    public static let dontZeroAllocation = Self(rawValue: 0x1)
    /// MM_ALLOCATE_FROM_LOCAL_NODE_ONLY (0x2): accepted; the emulated machine has one NUMA node.
    public static let allocateFromLocalNodeOnly = Self(rawValue: 0x2)
    /// MM_ALLOCATE_FULLY_REQUIRED (0x4): NULL instead of a partial MDL.
    public static let fullyRequired = Self(rawValue: 0x4)
    /// MM_ALLOCATE_NO_WAIT (0x8): accepted; the emulator never waits.
    public static let noWait = Self(rawValue: 0x8)
    /// MM_ALLOCATE_PREFER_CONTIGUOUS (0x10): one run if one exists, scattered pages otherwise.
    public static let preferContiguous = Self(rawValue: 0x10)
    /// MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS (0x20): SkipBytes 0 means one contiguous block or
    /// NULL; a power-of-two SkipBytes means SkipBytes-sized, SkipBytes-aligned contiguous chunks.
    public static let requireContiguousChunks = Self(rawValue: 0x20)
    /// MM_ALLOCATE_FAST_LARGE_PAGES (0x40): accepted, no effect.
    public static let fastLargePages = Self(rawValue: 0x40)
}

/// Where the allocator takes free pages from inside the range a caller allows.
public enum PlacementPolicy: Sendable, Hashable {
    /// Highest addresses first (the default): a driver that silently assumes low
    /// memory gets pages above 4 GiB and its 32-bit DMA breaks here, not in the field.
    case topDown
    /// Lowest addresses first.
    case bottomUp
    /// Pages drawn at random from the free pages in range, reproducibly from the seed.
    case random(seed: UInt64)
}
