import Glibc
import Synchronization

/// The emulated machine's physical memory and its memory manager: the WDM `Mm*`
/// routines a WaveRT miniport and its port driver rely on.
///
/// Each DDI keeps the meaning the WDK documents (see `shared/seeds/`): whole
/// pages, every page inside the range asked for, zero-filled pages from
/// `MmAllocatePagesForMdl`, a partial MDL when the range runs short and NULL
/// (`nil`) only when nothing could be had, uninitialised contiguous memory.
/// Misuse never crashes the process: it returns what Windows would return
/// (NULL, or nothing) and files a ``Diagnostic`` naming the DDI, the argument
/// and the rule in ``diagnostics``.
///
/// Thread safety: every DDI takes one internal lock; none of them is meant for
/// a real-time thread (neither are the originals, which run at PASSIVE_LEVEL
/// or APC_LEVEL). The DMA controller reads page contents through
/// ``physicalView`` without any lock.
public final class PhysicalMemory: @unchecked Sendable {
    public let map: PhysicalMemoryMap
    public let pageSize: Int
    public let diagnostics: DiagnosticLog
    let backing: HostBacking

    /// The contents of uninitialised memory (`MmAllocateContiguousMemory`,
    /// `MM_DONT_ZERO_ALLOCATION`): 0xDEADBEEF, little-endian. Loud as audio and
    /// obvious in a hex dump, so a driver that forgets to zero is caught.
    public static let uninitializedPattern: UInt32 = 0xDEAD_BEEF
    /// What a read from a hole or beyond the end of memory returns (a floating bus).
    public static let openBusByte: UInt8 = 0xFF

    struct State {
        var frames: PageFrameDatabase
        var nextOwner: PageOwnerID = 2
        var live: [ObjectIdentifier: MDL] = [:]
        var contiguousByAddress: [UInt: MDL] = [:]
        var mappingsByBase: [UInt: MDL] = [:]
        var userMappings: [UInt: MDL] = [:]
        var systemRuns: [Range<Int>] = []
        var placement: PlacementPolicy
        var random: SplitMix64
    }
    let state: Mutex<State>
    /// The owner of each page frame, for DMA engines' lock-free checks.
    let owners: PageOwnerTable
    private let gates = Mutex<[ObjectIdentifier: DMATransferGate]>([:])
    /// The account of every device copy through ``physicalView`` (off unless enabled).
    public let dmaAudit: DMAAccessAudit

    /// The default machine: ``PhysicalMemoryMap/pc`` and top-down placement.
    public convenience init() {
        do {
            try self.init(map: .pc)
        } catch {
            fatalError("cannot back emulated physical memory with host memory: \(error)")
        }
    }

    public init(map: PhysicalMemoryMap, placement: PlacementPolicy = .topDown,
                diagnostics: DiagnosticLog = DiagnosticLog()) throws(HostMemoryError)
    {
        self.map = map
        self.pageSize = map.pageSize
        self.diagnostics = diagnostics
        let pageCount = Int(map.end.rawValue / UInt64(map.pageSize))
        backing = try HostBacking(byteCount: pageCount * map.pageSize, pageSize: map.pageSize)
        var frames = PageFrameDatabase(pageCount: pageCount)
        for r in map.ramRanges {
            frames.set(Int(r.start.rawValue / UInt64(pageSize))..<Int(r.end.rawValue / UInt64(pageSize)), free: true)
        }
        let seed: UInt64 = if case .random(let s) = placement { s } else { 0 }
        state = Mutex(State(frames: frames, placement: placement, random: SplitMix64(seed: seed)))
        owners = PageOwnerTable(pageCount: pageCount)
        dmaAudit = DMAAccessAudit(map: map, owners: owners)
    }

    // MARK: DMA engines

    /// The allocation that owns the page holding `address` now (``PageOwnerID/freePage``
    /// when none, or outside RAM). Lock-free: what a DMA engine checks around each copy.
    @inline(__always)
    public func owner(of address: PhysicalAddress) -> PageOwnerID {
        owners.owner(of: Int(truncatingIfNeeded: address.rawValue / UInt64(pageSize)))
    }

    /// Registers a DMA engine's transfer gate: frees wait for its transfer in flight.
    public func register(_ gate: DMATransferGate) {
        gates.withLock { $0[ObjectIdentifier(gate)] = gate }
    }

    public func unregister(_ gate: DMATransferGate) {
        _ = gates.withLock { $0.removeValue(forKey: ObjectIdentifier(gate)) }
    }

    /// Whether a running DMA engine's program covers any of the MDL's pages (a
    /// driver about to free a buffer its hardware still plays from).
    public func isInUseByRunningDMA(_ mdl: MDL) -> Bool {
        let running = gates.withLock { $0.values.filter(\.isRunning) }
        return running.contains { gate in mdl.pageFrameNumbers.contains { gate.covers($0) } }
    }

    /// Takes pages out of their owner's hands before they are freed: clears
    /// the owners, then waits out every DMA transfer that may have checked them
    /// before. After this no DMA engine touches them until they are allocated again
    /// (and then to a new owner, which the engine's program does not expect).
    func revokeOwnership(of frames: [UInt64]) {
        forEachRun(frames) { owners.set($0, to: .freePage) }
        for gate in gates.withLock({ Array($0.values) }) { gate.waitForTransferInFlight() }
    }

    /// A fresh owner number for a new allocation (under the state lock).
    func takeOwnerID(_ s: inout State) -> PageOwnerID {
        let id = s.nextOwner
        s.nextOwner = s.nextOwner == .max ? 2 : s.nextOwner + 1
        return id
    }

    // MARK: Introspection

    /// Base of the host mapping of the whole physical address space: physical
    /// address p is at `physicalView + p`. This is the DMA controller's view.
    public var physicalView: UnsafeMutableRawPointer { backing.physicalView }

    /// Free page frames in RAM.
    public var freePageCount: Int { state.withLock { $0.frames.freePageCount } }

    /// The longest run of physically contiguous free pages.
    public var longestFreeRunPages: Int { state.withLock { $0.frames.longestFreeRun } }

    public var placement: PlacementPolicy {
        get { state.withLock { $0.placement } }
        set {
            state.withLock {
                $0.placement = newValue
                if case .random(let seed) = newValue { $0.random = SplitMix64(seed: seed) }
            }
        }
    }

    /// Whether the page holding `address` is RAM that is currently allocated.
    public func isAllocated(_ address: PhysicalAddress) -> Bool {
        guard map.isRAM(address) else { return false }
        let page = Int(address.rawValue / UInt64(pageSize))
        return state.withLock { !$0.frames.isFree(page) }
    }

    /// MDLs allocated and not yet freed (`MmAllocatePagesForMdl*`, contiguous MDLs).
    public var liveMDLs: [MDL] {
        state.withLock { Array($0.live.values) }.filter { $0.origin != .contiguousMemory }
    }

    // MARK: MmAllocatePagesForMdl / MmAllocatePagesForMdlEx

    /// `MmAllocatePagesForMdl`: zero-filled pages inside [LowAddress, HighAddress],
    /// then [Low + SkipBytes, High + SkipBytes], ... until TotalBytes (rounded up to
    /// whole pages) are found or the ranges leave physical memory. Returns a partial
    /// MDL when fewer pages were free, and nil only when none were.
    public func allocatePagesForMdl(lowAddress: PhysicalAddress, highAddress: PhysicalAddress,
                                    skipBytes: UInt64, totalBytes: Int) -> MDL?
    {
        allocatePages(ddi: "MmAllocatePagesForMdl", lowAddress: lowAddress, highAddress: highAddress,
                      skipBytes: skipBytes, totalBytes: totalBytes, cacheType: .cached, flags: [])
    }

    /// `MmAllocatePagesForMdlEx`: as ``allocatePagesForMdl(lowAddress:highAddress:skipBytes:totalBytes:)``
    /// with a caching type and `MM_*` flags (see ``AllocatePagesFlags``).
    public func allocatePagesForMdlEx(lowAddress: PhysicalAddress, highAddress: PhysicalAddress,
                                      skipBytes: UInt64, totalBytes: Int,
                                      cacheType: MemoryCachingType, flags: AllocatePagesFlags) -> MDL?
    {
        allocatePages(ddi: "MmAllocatePagesForMdlEx", lowAddress: lowAddress, highAddress: highAddress,
                      skipBytes: skipBytes, totalBytes: totalBytes, cacheType: cacheType, flags: flags)
    }

    /// The most one call may allocate: 4 GiB minus one page (Windows 2000 and later).
    public var maximumAllocationBytes: Int { (1 << 32) - pageSize }

    package func allocatePages(ddi: String, lowAddress: PhysicalAddress, highAddress: PhysicalAddress,
                       skipBytes: UInt64, totalBytes: Int, cacheType: MemoryCachingType,
                       flags: AllocatePagesFlags) -> MDL?
    {
        guard let bounds = checkRequest(ddi: ddi, lowAddress: lowAddress, highAddress: highAddress,
                                        totalBytes: totalBytes) else { return nil }
        let contiguousChunks = flags.contains(.requireContiguousChunks)
        guard skipBytes % UInt64(pageSize) == 0 else {
            reject(ddi, "SkipBytes", "must be a multiple of the page size (\(pageSize)); got \(skipBytes)")
            return nil
        }
        if contiguousChunks && skipBytes != 0 && skipBytes & (skipBytes - 1) != 0 {
            reject(ddi, "SkipBytes",
                   "with MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS must be 0 or a power of two; got \(skipBytes)")
            return nil
        }
        var pages = (totalBytes + pageSize - 1) / pageSize
        let maxPages = maximumAllocationBytes / pageSize
        if pages > maxPages {
            if flags.contains(.fullyRequired) {
                reject(ddi, "TotalBytes",
                       "at most 4 GiB - PAGE_SIZE (\(maximumAllocationBytes) bytes) per call; got \(totalBytes) with MM_ALLOCATE_FULLY_REQUIRED")
                return nil
            }
            diagnostics.report(Diagnostic(
                severity: .warning, ddi: ddi, argument: "TotalBytes",
                rule: "at most 4 GiB - PAGE_SIZE (\(maximumAllocationBytes) bytes) per call; got \(totalBytes)",
                outcome: "allocating at most \(maximumAllocationBytes) bytes"))
            pages = maxPages
        }

        let result: [UInt64]? = state.withLock { s in
            var taken: [Range<Int>] = []
            if contiguousChunks {
                let chunk = skipBytes == 0 ? pages : Int(skipBytes) / pageSize
                var remaining = pages
                while remaining > 0 {
                    let k = min(chunk, remaining)
                    guard let start = s.findRun(length: k, alignment: chunk, boundary: 0, in: bounds) else { break }
                    s.frames.set(start..<(start + k), free: false)
                    taken.append(start..<(start + k))
                    remaining -= k
                }
            } else {
                if flags.contains(.preferContiguous),
                   let start = s.findRun(length: pages, alignment: 1, boundary: 0, in: bounds)
                {
                    s.frames.set(start..<(start + pages), free: false)
                    taken.append(start..<(start + pages))
                } else {
                    // [Low + k*Skip, High + k*Skip] for k = 0, 1, ... while inside memory.
                    var lo = bounds.lowerBound
                    var hi = bounds.upperBound
                    let skipPages = Int(min(skipBytes / UInt64(pageSize), UInt64(Int.max / 2)))
                    var remaining = pages
                    while remaining > 0 && lo < s.frames.pageCount {
                        remaining -= s.take(upTo: remaining, in: lo...hi, into: &taken)
                        if skipPages == 0 { break }
                        lo += skipPages
                        hi = hi > Int.max - skipPages ? Int.max : hi + skipPages
                    }
                }
            }
            let got = taken.reduce(0) { $0 + $1.count }
            if got == 0 || (got < pages && flags.contains(.fullyRequired)) {
                for r in taken { s.frames.set(r, free: true) }
                return nil
            }
            return s.frameList(taken)
        }
        guard let frames = result else {
            let why = flags.contains(.fullyRequired) ? "MM_ALLOCATE_FULLY_REQUIRED and fewer than \(pages) pages free"
                : contiguousChunks ? "no free contiguous run of the size asked for" : "no free page"
            diagnostics.report(Diagnostic(
                severity: .info, ddi: ddi, argument: "",
                rule: "\(why) in [\(lowAddress), \(highAddress)]" + (skipBytes > 0 ? " stepping by \(skipBytes)" : ""),
                outcome: "returned NULL"))
            return nil
        }
        if frames.count < pages {
            diagnostics.report(Diagnostic(
                severity: .info, ddi: ddi, argument: "TotalBytes",
                rule: "only \(frames.count) of \(pages) pages were free in range",
                outcome: "returned a partial MDL of \(frames.count * pageSize) bytes; the caller must check MmGetMdlByteCount"))
        }
        if flags.contains(.dontZeroAllocation) { poison(frames) }  // free pages read as zero otherwise
        return register(MDL(owner: self, origin: .pagesForMdl, frames: frames, byteCount: frames.count * pageSize,
                            startVa: 0, byteOffset: 0, flags: [.pagesLocked], cacheType: cacheType, pageSize: pageSize))
    }

    /// Validates the parts every allocation DDI shares; returns the page bounds or nil.
    func checkRequest(ddi: String, lowAddress: PhysicalAddress, highAddress: PhysicalAddress,
                      totalBytes: Int, lowName: String = "LowAddress", highName: String = "HighAddress",
                      sizeName: String = "TotalBytes") -> ClosedRange<Int>?
    {
        guard totalBytes > 0 else {
            reject(ddi, sizeName, "must be greater than zero; got \(totalBytes)")
            return nil
        }
        guard highAddress >= lowAddress else {
            reject(ddi, highName, "\(highName) \(highAddress) is below \(lowName) \(lowAddress)")
            return nil
        }
        let ps = UInt64(pageSize)
        let first = (lowAddress.rawValue / ps) + (lowAddress.rawValue % ps == 0 ? 0 : 1)
        // The last page whose every byte is <= HighAddress.
        let lastPlusOne = highAddress.rawValue == .max ? (UInt64.max / ps) : (highAddress.rawValue + 1) / ps
        let maxPage = UInt64(Int.max / 2)
        guard lastPlusOne > first else {
            reject(ddi, highName, "[\(lowAddress), \(highAddress)] holds no whole page")
            return nil
        }
        return Int(min(first, maxPage))...Int(min(lastPlusOne - 1, maxPage))
    }

    func reject(_ ddi: String, _ argument: String, _ rule: String) {
        diagnostics.report(Diagnostic(severity: .error, ddi: ddi, argument: argument, rule: rule,
                                      outcome: "returned NULL"))
    }

    private func register(_ mdl: MDL) -> MDL {
        state.withLock { s in
            mdl.ownerID = takeOwnerID(&s)
            s.live[ObjectIdentifier(mdl)] = mdl
        }
        forEachRun(mdl.pageFrameNumbers) { owners.set($0, to: mdl.ownerID) }
        return mdl
    }

    /// Fills the frames with ``uninitializedPattern``.
    func poison(_ frames: [UInt64]) {
        let words = pageSize / 4
        for f in frames {
            (physicalView + Int(f) * pageSize).initializeMemory(as: UInt32.self, repeating: Self.uninitializedPattern, count: words)
        }
    }

    // MARK: Contiguous allocations

    /// Takes one physically contiguous run of `pages` inside `bounds` (placed by
    /// the policy), or reports why not. All-or-nothing.
    private func takeContiguousRun(pages: Int, in bounds: ClosedRange<Int>, ddi: String, argument: String,
                                   range: String) -> [UInt64]?
    {
        let start: Int? = state.withLock { s in
            guard let start = s.findRun(length: pages, alignment: 1, boundary: 0, in: bounds) else { return nil }
            s.frames.set(start..<(start + pages), free: false)
            return start
        }
        guard let start else {
            diagnostics.report(Diagnostic(
                severity: .info, ddi: ddi, argument: argument,
                rule: "no \(pages) physically contiguous free pages \(range) (longest free run: \(longestFreeRunPages) pages)",
                outcome: "returned NULL"))
            return nil
        }
        return (start..<(start + pages)).map { UInt64($0) }
    }

    /// One physically contiguous run inside [lowAddress, highAddress], all-or-nothing:
    /// the heart of `IPortWaveRTStream::AllocateContiguousPagesForMdl`.
    package func allocateContiguousPages(ddi: String, lowAddress: PhysicalAddress, highAddress: PhysicalAddress,
                                 totalBytes: Int) -> MDL?
    {
        guard let bounds = checkRequest(ddi: ddi, lowAddress: lowAddress, highAddress: highAddress,
                                        totalBytes: totalBytes) else { return nil }
        let pages = (totalBytes + pageSize - 1) / pageSize
        guard let frames = takeContiguousRun(pages: pages, in: bounds, ddi: ddi, argument: "TotalBytes",
                                             range: "in [\(lowAddress), \(highAddress)]") else { return nil }
        return register(MDL(owner: self, origin: .contiguousPagesForMdl, frames: frames, byteCount: pages * pageSize,
                            startVa: 0, byteOffset: 0, flags: [.pagesLocked], cacheType: .nonCached, pageSize: pageSize))
    }

    /// `MmAllocateContiguousMemory`: physically contiguous pages at or below
    /// HighestAcceptableAddress, already mapped, page-aligned, and uninitialised
    /// (filled with ``uninitializedPattern``). Returns the base virtual address or nil.
    ///
    /// The virtual address is inside ``physicalView``, so writes beyond the end
    /// land in the next physical page, as they would in a kernel.
    public func allocateContiguousMemory(numberOfBytes: Int, highestAcceptableAddress: PhysicalAddress) -> UnsafeMutableRawPointer? {
        allocateContiguousMemory(ddi: "MmAllocateContiguousMemory", numberOfBytes: numberOfBytes, lowest: 0,
                                 highest: highestAcceptableAddress, boundary: 0)
    }

    /// `MmAllocateContiguousMemorySpecifyCache`: as ``allocateContiguousMemory(numberOfBytes:highestAcceptableAddress:)``
    /// inside [Lowest, Highest], not crossing a multiple of BoundaryAddressMultiple (0: no boundary).
    public func allocateContiguousMemory(numberOfBytes: Int, lowestAcceptableAddress: PhysicalAddress,
                                         highestAcceptableAddress: PhysicalAddress,
                                         boundaryAddressMultiple: PhysicalAddress) -> UnsafeMutableRawPointer?
    {
        allocateContiguousMemory(ddi: "MmAllocateContiguousMemorySpecifyCache", numberOfBytes: numberOfBytes,
                                 lowest: lowestAcceptableAddress, highest: highestAcceptableAddress,
                                 boundary: boundaryAddressMultiple.rawValue)
    }

    private func allocateContiguousMemory(ddi: String, numberOfBytes: Int, lowest: PhysicalAddress, highest: PhysicalAddress,
                                          boundary: UInt64) -> UnsafeMutableRawPointer?
    {
        guard let bounds = checkRequest(ddi: ddi, lowAddress: lowest, highAddress: highest,
                                        totalBytes: numberOfBytes, lowName: "LowestAcceptableAddress",
                                        highName: "HighestAcceptableAddress", sizeName: "NumberOfBytes") else { return nil }
        guard boundary == 0 || (boundary % UInt64(pageSize) == 0 && boundary & (boundary - 1) == 0) else {
            reject(ddi, "BoundaryAddressMultiple", "must be 0 or a power-of-two multiple of the page size; got \(boundary)")
            return nil
        }
        let pages = (numberOfBytes + pageSize - 1) / pageSize
        let boundaryPages = Int(boundary / UInt64(pageSize))
        let start: Int? = state.withLock { s in
            guard let start = s.findRun(length: pages, alignment: 1, boundary: boundaryPages, in: bounds) else { return nil }
            s.frames.set(start..<(start + pages), free: false)
            return start
        }
        guard let start else {
            diagnostics.report(Diagnostic(
                severity: .info, ddi: ddi, argument: "NumberOfBytes",
                rule: "no \(pages) physically contiguous free pages in [\(lowest), \(highest)]" + (boundary > 0 ? " inside one \(boundary)-byte boundary" : "") + " (longest free run: \(longestFreeRunPages) pages)",
                outcome: "returned NULL"))
            return nil
        }
        let frames = (start..<(start + pages)).map { UInt64($0) }
        poison(frames)
        let va = physicalView + Int(frames[0]) * pageSize
        let mdl = MDL(owner: self, origin: .contiguousMemory, frames: frames, byteCount: numberOfBytes,
                      startVa: UInt(bitPattern: va), byteOffset: 0,
                      flags: [.pagesLocked, .mappedToSystemVa, .sourceIsNonpagedPool], cacheType: .cached,
                      pageSize: pageSize)
        mdl.mappedSystemVa = va
        _ = register(mdl)
        state.withLock { $0.contiguousByAddress[UInt(bitPattern: va)] = mdl }
        return va
    }

    /// `MmFreeContiguousMemory`: frees what ``allocateContiguousMemory(numberOfBytes:highestAcceptableAddress:)`` returned.
    public func freeContiguousMemory(_ baseAddress: UnsafeMutableRawPointer) {
        let mdl = state.withLock { $0.contiguousByAddress.removeValue(forKey: UInt(bitPattern: baseAddress)) }
        guard let mdl else {
            diagnostics.report(Diagnostic(
                severity: .error, ddi: "MmFreeContiguousMemory", argument: "BaseAddress",
                rule: "\(baseAddress) is not an address MmAllocateContiguousMemory returned (or it was freed already)",
                outcome: "nothing freed"))
            return
        }
        release(mdl)
    }

    // MARK: Freeing

    /// `MmFreePagesFromMdl` (and the `ExFreePool` of the MDL that follows it):
    /// returns the pages to the free list. A still-mapped MDL is reported and
    /// unmapped first; a dead or foreign MDL is reported and left alone.
    public func freePagesFromMdl(_ mdl: MDL) {
        freePages(mdl, ddi: "MmFreePagesFromMdl")
    }

    package func freePages(_ mdl: MDL, ddi: String) {
        guard mdl.owner === self else {
            diagnostics.report(Diagnostic(
                severity: .error, ddi: ddi, argument: "MemoryDescriptorList",
                rule: "\(mdl) was allocated by another memory manager", outcome: "nothing freed"))
            return
        }
        guard mdl.origin != .contiguousMemory else {
            diagnostics.report(Diagnostic(
                severity: .error, ddi: ddi, argument: "MemoryDescriptorList",
                rule: "memory from MmAllocateContiguousMemory is freed with MmFreeContiguousMemory",
                outcome: "nothing freed"))
            return
        }
        let known = state.withLock { $0.live[ObjectIdentifier(mdl)] != nil }
        guard known else {
            diagnostics.report(Diagnostic(
                severity: .error, ddi: ddi, argument: "MemoryDescriptorList",
                rule: "\(mdl) was freed already (double free)", outcome: "nothing freed"))
            return
        }
        if let va = mdl.mappedSystemVa {
            diagnostics.report(Diagnostic(
                severity: .error, ddi: ddi, argument: "MemoryDescriptorList",
                rule: "\(mdl) is still mapped at \(va); unmap it (MmUnmapLockedPages / UnmapAllocatedPages) before freeing",
                outcome: "unmapped it, then freed the pages"))
            unmapLockedPages(va, mdl: mdl)
        }
        let users = state.withLock { s in
            let bases = s.userMappings.filter { $0.value === mdl }.map(\.key)
            for b in bases { s.userMappings[b] = nil }
            return bases
        }
        for b in users {
            diagnostics.report(Diagnostic(severity: .error, ddi: ddi, argument: "MemoryDescriptorList",
                                          rule: "\(mdl) is still mapped for a client", outcome: "unmapped it, then freed the pages"))
            backing.unmap(UnsafeMutableRawPointer(bitPattern: b)!, pageCount: mdl.pageFrameNumbers.count)
        }
        release(mdl)
    }

    /// Returns an MDL's pages to the free list and the host, and marks it dead.
    private func release(_ mdl: MDL) {
        mdl.freedFlag.store(true, ordering: .releasing)
        let frames = mdl.pageFrameNumbers
        // No DMA engine may touch the pages once anyone else can have them:
        // revoke, wait out transfers in flight, wipe, and only then free.
        revokeOwnership(of: frames)
        forEachRun(frames) { backing.discard(frames: $0) }
        state.withLock { s in
            s.live[ObjectIdentifier(mdl)] = nil
            forEachRun(frames) { s.frames.set($0, free: true) }
        }
        mdl.mdlFlags.remove(.mappedToSystemVa)
        mdl.mappedSystemVa = nil
    }

    // MARK: Mapping

    /// `MmMapLockedPagesSpecifyCache(Mdl, KernelMode, CacheType, NULL, FALSE, NormalPagePriority)`:
    /// maps the MDL's pages to one virtually contiguous system-space range and
    /// returns its address plus `ByteOffset`. Mapping an MDL twice is refused.
    public func mapLockedPagesSpecifyCache(_ mdl: MDL, cacheType: MemoryCachingType) -> UnsafeMutableRawPointer? {
        mapPages(mdl, cacheType: cacheType, ddi: "MmMapLockedPagesSpecifyCache")
    }

    package func mapPages(_ mdl: MDL, cacheType: MemoryCachingType, ddi: String) -> UnsafeMutableRawPointer? {
        guard checkLive(mdl, ddi: ddi, outcome: "returned NULL") else { return nil }
        if let va = mdl.mappedSystemVa {
            reject(ddi, "MemoryDescriptorList", "\(mdl) is already mapped at \(va) (MDL_MAPPED_TO_SYSTEM_VA); unmap it first")
            return nil
        }
        let base: UnsafeMutableRawPointer
        do {
            base = try backing.map(frames: mdl.pageFrameNumbers)
        } catch {
            reject(ddi, "MemoryDescriptorList", "the host could not map \(mdl): \(error)")
            return nil
        }
        let va = base + mdl.byteOffset
        mdl.mappedSystemVa = va
        mdl.mdlFlags.insert(.mappedToSystemVa)
        mdl.cacheType = cacheType
        state.withLock { $0.mappingsByBase[UInt(bitPattern: base)] = mdl }
        return va
    }

    /// `MmMapLockedPagesSpecifyCache(Mdl, UserMode, CacheType, ...)`: a mapping
    /// of the MDL's pages for a client, separate from any system-space mapping
    /// the driver made (it does not touch `MappedSystemVa`). Returns the base
    /// plus `ByteOffset`, or nil.
    public func mapLockedPagesForUser(_ mdl: MDL, cacheType: MemoryCachingType) -> UnsafeMutableRawPointer? {
        let ddi = "MmMapLockedPagesSpecifyCache(UserMode)"
        guard checkLive(mdl, ddi: ddi, outcome: "returned NULL") else { return nil }
        guard let base = try? backing.map(frames: mdl.pageFrameNumbers) else {
            reject(ddi, "MemoryDescriptorList", "the host could not map \(mdl)")
            return nil
        }
        state.withLock { $0.userMappings[UInt(bitPattern: base)] = mdl }
        return base + mdl.byteOffset
    }

    /// `MmUnmapLockedPages(BaseAddress, Mdl)` of a user-mode mapping.
    public func unmapLockedPagesForUser(_ baseAddress: UnsafeMutableRawPointer, mdl: MDL) {
        let base = baseAddress - mdl.byteOffset
        let found = state.withLock { $0.userMappings.removeValue(forKey: UInt(bitPattern: base)) }
        guard found === mdl else {
            diagnostics.report(Diagnostic(severity: .error, ddi: "MmUnmapLockedPages(UserMode)", argument: "BaseAddress",
                                          rule: "\(baseAddress) is not a user-mode mapping of \(mdl)", outcome: "nothing unmapped"))
            return
        }
        backing.unmap(base, pageCount: mdl.pageFrameNumbers.count)
    }

    /// User-mode mappings of `mdl` still in place.
    public func userMappingCount(of mdl: MDL) -> Int { state.withLock { $0.userMappings.values.filter { $0 === mdl }.count } }

    /// `MmUnmapLockedPages(BaseAddress, Mdl)`: BaseAddress must be what the mapping returned.
    public func unmapLockedPages(_ baseAddress: UnsafeMutableRawPointer, mdl: MDL) {
        unmapPages(baseAddress, mdl: mdl, ddi: "MmUnmapLockedPages")
    }

    package func unmapPages(_ baseAddress: UnsafeMutableRawPointer, mdl: MDL, ddi: String) {
        guard checkLive(mdl, ddi: ddi, outcome: "nothing unmapped") else { return }
        guard let va = mdl.mappedSystemVa, mdl.origin != .contiguousMemory else {
            diagnostics.report(Diagnostic(
                severity: .error, ddi: ddi, argument: "MemoryDescriptorList",
                rule: "\(mdl) is not mapped", outcome: "nothing unmapped"))
            return
        }
        guard va == baseAddress else {
            diagnostics.report(Diagnostic(
                severity: .error, ddi: ddi, argument: "BaseAddress",
                rule: "\(baseAddress) is not where \(mdl) is mapped (\(va))", outcome: "nothing unmapped"))
            return
        }
        let base = va - mdl.byteOffset
        state.withLock { _ = $0.mappingsByBase.removeValue(forKey: UInt(bitPattern: base)) }
        backing.unmap(base, pageCount: mdl.pageFrameNumbers.count)
        mdl.mappedSystemVa = nil
        mdl.mdlFlags.remove(.mappedToSystemVa)
    }

    package func checkLive(_ mdl: MDL, ddi: String, outcome: String) -> Bool {
        guard mdl.owner === self else {
            diagnostics.report(Diagnostic(severity: .error, ddi: ddi, argument: "MemoryDescriptorList",
                                          rule: "\(mdl) belongs to another memory manager", outcome: outcome))
            return false
        }
        guard mdl.isLive else {
            diagnostics.report(Diagnostic(severity: .error, ddi: ddi, argument: "MemoryDescriptorList",
                                          rule: "\(mdl) was freed already", outcome: outcome))
            return false
        }
        return true
    }

    // MARK: Translation and the physical view

    /// `MmGetPhysicalAddress`: the physical address behind a system-space virtual
    /// address (a mapped MDL or contiguous memory), or nil when it maps nothing.
    public func physicalAddress(of virtualAddress: UnsafeRawPointer) -> PhysicalAddress? {
        let va = UInt(bitPattern: virtualAddress)
        let view = UInt(bitPattern: physicalView)
        let ps = UInt(pageSize)
        return state.withLock { s -> PhysicalAddress? in
            if va >= view && va < view + UInt(backing.byteCount) {
                let pa = UInt64(va - view)
                return s.frames.isFree(Int(pa / UInt64(ps))) ? nil : PhysicalAddress(pa)
            }
            for (base, mdl) in s.mappingsByBase where va >= base && va < base + UInt(mdl.pageFrameNumbers.count) * ps {
                let index = Int((va - base) / ps)
                return PhysicalAddress(mdl.pageFrameNumbers[index] * UInt64(ps) + UInt64((va - base) % ps))
            }
            return nil
        }
    }

    /// Copies bytes out of physical memory. Holes and addresses past the end read
    /// as ``openBusByte`` and are reported; free RAM reads as zero.
    public func readPhysical(at address: PhysicalAddress, count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        var out = [UInt8](repeating: Self.openBusByte, count: count)
        var outside: PhysicalAddress?
        out.withUnsafeMutableBytes { dst in
            forEachPage(from: address, count: count) { pa, offset, length in
                if map.isRAM(pa) {
                    dst.baseAddress!.advanced(by: offset).copyMemory(from: physicalView + Int(pa.rawValue), byteCount: length)
                } else if outside == nil {
                    outside = pa
                }
            }
        }
        if let outside {
            diagnostics.report(Diagnostic(severity: .warning, ddi: "readPhysical", argument: "address",
                                          rule: "\(outside) is not RAM (a hole or beyond the end of memory)",
                                          outcome: "read 0x\(String(Self.openBusByte, radix: 16)) there"))
        }
        return out
    }

    /// Copies bytes into allocated physical pages. Pages that are free, in a
    /// hole or past the end are not written and are reported.
    public func writePhysical(at address: PhysicalAddress, bytes: [UInt8]) {
        var refused: PhysicalAddress?
        bytes.withUnsafeBytes { src in
            forEachPage(from: address, count: src.count) { pa, offset, length in
                if map.isRAM(pa) && !state.withLock({ $0.frames.isFree(Int(pa.rawValue / UInt64(pageSize))) }) {
                    (physicalView + Int(pa.rawValue)).copyMemory(from: src.baseAddress!.advanced(by: offset), byteCount: length)
                } else if refused == nil {
                    refused = pa
                }
            }
        }
        if let refused {
            diagnostics.report(Diagnostic(severity: .error, ddi: "writePhysical", argument: "address",
                                          rule: "\(refused) is not allocated RAM", outcome: "those bytes were not written"))
        }
    }

    /// Splits [address, address + count) at page boundaries; stops at the end of
    /// the address space (what lies beyond stays at its default).
    private func forEachPage(from address: PhysicalAddress, count: Int, _ body: (PhysicalAddress, Int, Int) -> Void) {
        var offset = 0
        let end = map.end.rawValue
        while offset < count {
            let (pa, overflow) = address.rawValue.addingReportingOverflow(UInt64(offset))
            if overflow || pa >= end {
                body(PhysicalAddress(overflow ? .max : pa), offset, 0)
                return
            }
            let inPage = pageSize - Int(pa % UInt64(pageSize))
            let length = min(inPage, count - offset)
            body(PhysicalAddress(pa), offset, length)
            offset += length
        }
    }
}

/// Calls `body` with each run of consecutive frame numbers, in array order.
func forEachRun(_ frames: [UInt64], _ body: (Range<Int>) -> Void) {
    var i = 0
    while i < frames.count {
        var j = i + 1
        while j < frames.count && frames[j] == frames[j - 1] + 1 { j += 1 }
        body(Int(frames[i])..<(Int(frames[i]) + j - i))
        i = j
    }
}

extension PhysicalMemory.State {
    /// A free run placed by the policy.
    mutating func findRun(length: Int, alignment: Int, boundary: Int, in bounds: ClosedRange<Int>) -> Int? {
        switch placement {
        case .topDown:
            return frames.findAlignedRun(length: length, alignment: alignment, boundary: boundary, in: bounds, highestFirst: true)
        case .bottomUp:
            return frames.findAlignedRun(length: length, alignment: alignment, boundary: boundary, in: bounds, highestFirst: false)
        case .random:
            // A random pivot: the lowest fit at or above it, else the highest fit below it.
            let span = bounds.upperBound - bounds.lowerBound + 1
            let pivot = bounds.lowerBound + Int(random.next() % UInt64(span))
            return frames.findAlignedRun(length: length, alignment: alignment, boundary: boundary,
                                         in: pivot...bounds.upperBound, highestFirst: false)
                ?? frames.findAlignedRun(length: length, alignment: alignment, boundary: boundary,
                                         in: bounds.lowerBound...min(bounds.upperBound, pivot + length - 1),
                                         highestFirst: true)
        }
    }

    /// Takes up to `count` free pages from `bounds` by the policy, marks them used,
    /// and appends them as runs. Returns how many it took.
    mutating func take(upTo count: Int, in bounds: ClosedRange<Int>, into taken: inout [Range<Int>]) -> Int {
        var got = 0
        switch placement {
        case .topDown, .bottomUp:
            var runs: [Range<Int>] = []
            frames.forEachFreeRun(in: bounds, highestFirst: placement == .topDown, limit: count) { runs.append($0) }
            for r in runs {
                frames.set(r, free: false)
                got += r.count
            }
            taken.append(contentsOf: runs)
        case .random:
            while got < count {
                let available = frames.freeCount(in: bounds)
                guard available > 0 else { break }
                let rank = frames.freeCount(below: bounds.lowerBound) + Int(random.next() % UInt64(available))
                guard let page = frames.selectFree(rank: rank) else { break }
                frames.set(page..<(page + 1), free: false)
                taken.append(page..<(page + 1))
                got += 1
            }
        }
        return got
    }

    /// The PFN array for `taken`: ascending for the ordered policies (so runs
    /// stay adjacent and map with one call), in draw order for `.random`.
    func frameList(_ taken: [Range<Int>]) -> [UInt64] {
        var frames: [UInt64] = []
        frames.reserveCapacity(taken.reduce(0) { $0 + $1.count })
        let ordered = if case .random = placement { taken } else { taken.sorted { $0.lowerBound < $1.lowerBound } }
        for r in ordered { for p in r { frames.append(UInt64(p)) } }
        return frames
    }
}
