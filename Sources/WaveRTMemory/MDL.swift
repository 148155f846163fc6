import Synchronization

/// `MDL_*` flags of the WDK's `MDL.MdlFlags`.
public struct MdlFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let mappedToSystemVa = Self(rawValue: 0x0001)      // MDL_MAPPED_TO_SYSTEM_VA
    public static let pagesLocked = Self(rawValue: 0x0002)           // MDL_PAGES_LOCKED
    public static let sourceIsNonpagedPool = Self(rawValue: 0x0004)  // MDL_SOURCE_IS_NONPAGED_POOL
    public static let allocatedFixedSize = Self(rawValue: 0x0008)    // MDL_ALLOCATED_FIXED_SIZE
    public static let partial = Self(rawValue: 0x0010)               // MDL_PARTIAL
    public static let partialHasBeenMapped = Self(rawValue: 0x0020)  // MDL_PARTIAL_HAS_BEEN_MAPPED
    public static let ioPageRead = Self(rawValue: 0x0040)            // MDL_IO_PAGE_READ
    public static let writeOperation = Self(rawValue: 0x0080)        // MDL_WRITE_OPERATION
    public static let lockedPageTables = Self(rawValue: 0x0100)      // MDL_LOCKED_PAGE_TABLES
    public static let freeExtraPtes = Self(rawValue: 0x0200)         // MDL_FREE_EXTRA_PTES
    public static let describesAwe = Self(rawValue: 0x0400)          // MDL_DESCRIBES_AWE
    public static let ioSpace = Self(rawValue: 0x0800)               // MDL_IO_SPACE
    public static let networkHeader = Self(rawValue: 0x1000)         // MDL_NETWORK_HEADER
    public static let mappingCanFail = Self(rawValue: 0x2000)        // MDL_MAPPING_CAN_FAIL
    public static let pageContentsInvariant = Self(rawValue: 0x4000) // MDL_PAGE_CONTENTS_INVARIANT
    public static let `internal` = Self(rawValue: 0x8000)            // MDL_INTERNAL
}

/// A memory descriptor list: the WDK's `MDL` followed by its PFN array.
///
/// Fields mirror the structure (`Next`, `Size`, `MdlFlags`, `MappedSystemVa`,
/// `StartVa`, `ByteCount`, `ByteOffset`, then the page frame numbers), and the
/// computed properties mirror the macros a driver uses (`MmGetMdlByteCount`,
/// `MmGetMdlPfnArray`, `ADDRESS_AND_SIZE_TO_SPAN_PAGES`, ...).
///
/// Deliberate differences: an MDL here is a reference-counted object rather than
/// pool memory the caller frees with `ExFreePool`; `freePagesFromMdl` releases
/// pages *and* marks the descriptor dead, and the memory manager refuses a dead
/// or foreign MDL with a diagnostic instead of bug-checking. Fields are set by
/// the memory manager under its lock; drivers only read them.
public final class MDL: @unchecked Sendable, CustomStringConvertible {
    /// How the pages were obtained, so the matching free can be checked.
    enum Origin: Sendable { case pagesForMdl, contiguousPagesForMdl, contiguousMemory }

    /// `Next`: MDL chains are not built by these DDIs; always nil unless a driver links them.
    public var next: MDL?
    /// `MdlFlags`.
    public internal(set) var mdlFlags: MdlFlags
    /// `MappedSystemVa`: the system-space address while mapped (including `byteOffset`).
    public internal(set) var mappedSystemVa: UnsafeMutableRawPointer?
    /// `StartVa`: page-aligned virtual address the MDL describes. Zero for pages
    /// allocated without a virtual address (MmAllocatePagesForMdl), as on Windows.
    public internal(set) var startVa: UInt
    /// `ByteCount`: bytes described. Smaller than asked after a partial allocation.
    public internal(set) var byteCount: Int
    /// `ByteOffset`: offset of the buffer inside its first page.
    public internal(set) var byteOffset: Int
    /// The PFN array (`MmGetMdlPfnArray`), one `PFN_NUMBER` per page spanned.
    public internal(set) var pageFrameNumbers: [UInt64]

    /// The caching type asked for at allocation, updated by each mapping.
    public internal(set) var cacheType: MemoryCachingType
    /// Page size of the memory that owns the MDL.
    public let pageSize: Int

    /// Which allocation owns the pages (see ``PageOwnerID``): what a DMA
    /// engine programmed with these pages checks around each copy.
    public internal(set) var ownerID: PageOwnerID = .freePage

    let origin: Origin
    unowned(unsafe) let owner: PhysicalMemory
    /// Set once the pages are freed. The DMA controller reads it on its
    /// real-time path to turn a use-after-free into a reported fault.
    let freedFlag = Atomic<Bool>(false)

    init(owner: PhysicalMemory, origin: Origin, frames: [UInt64], byteCount: Int, startVa: UInt,
         byteOffset: Int, flags: MdlFlags, cacheType: MemoryCachingType, pageSize: Int)
    {
        self.owner = owner
        self.origin = origin
        self.pageFrameNumbers = frames
        self.byteCount = byteCount
        self.startVa = startVa
        self.byteOffset = byteOffset
        self.mdlFlags = flags
        self.cacheType = cacheType
        self.pageSize = pageSize
    }

    /// Whether the pages are still allocated. False after `freePagesFromMdl`.
    public var isLive: Bool { !freedFlag.load(ordering: .acquiring) }

    /// `Size`: bytes of the structure, header plus PFN array (`MmSizeOfMdl`, x64 layout).
    public var size: Int { 48 + 8 * pageFrameNumbers.count }

    /// `ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(Mdl), MmGetMdlByteCount(Mdl))`.
    public var pagesSpanned: Int {
        Self.addressAndSizeToSpanPages(byteOffset: byteOffset, size: byteCount, pageSize: pageSize)
    }

    /// `MmGetMdlVirtualAddress`: StartVa + ByteOffset.
    public var virtualAddress: UInt { startVa + UInt(byteOffset) }

    /// The physical address of page `index` of the PFN array (the start of that page frame).
    public func physicalAddress(ofPage index: Int) -> PhysicalAddress {
        PhysicalAddress(pageFrameNumbers[index] * UInt64(pageSize))
    }

    /// `ADDRESS_AND_SIZE_TO_SPAN_PAGES(Va, Size)`.
    public static func addressAndSizeToSpanPages(byteOffset: Int, size: Int, pageSize: Int = 4096) -> Int {
        let offset = byteOffset & (pageSize - 1)
        return (offset + size + pageSize - 1) / pageSize
    }

    public var description: String {
        let first = pageFrameNumbers.first.map { PhysicalAddress($0 * UInt64(pageSize)).description } ?? "-"
        return "MDL(\(byteCount) bytes, offset \(byteOffset), \(pageFrameNumbers.count) pages from \(first))"
    }
}
