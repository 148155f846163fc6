import Synchronization

/// The memory half of PortCls' `IPortWaveRTStream`: what the port driver offers
/// a WaveRT miniport stream for its cyclic buffer. Implemented by the port
/// (``SimulatedPortWaveRTStream``), called by the miniport at PASSIVE_LEVEL.
public protocol PortWaveRTStream: AnyObject {
    /// `IPortWaveRTStream::AllocatePagesForMdl`: pages anywhere in [0, HighAddress],
    /// not necessarily contiguous, whole pages, locked but unmapped, possibly
    /// fewer than asked (check `byteCount`), nil when none could be had.
    func allocatePagesForMdl(highAddress: PhysicalAddress, totalBytes: Int) -> MDL?
    /// `IPortWaveRTStream::AllocateContiguousPagesForMdl`: physically contiguous
    /// pages in [LowAddress, HighAddress], all or nothing.
    func allocateContiguousPagesForMdl(lowAddress: PhysicalAddress, highAddress: PhysicalAddress, totalBytes: Int) -> MDL?
    /// `IPortWaveRTStream::MapAllocatedPages`: maps the MDL into system space.
    func mapAllocatedPages(_ mdl: MDL, cacheType: MemoryCachingType) -> UnsafeMutableRawPointer?
    /// `IPortWaveRTStream::UnmapAllocatedPages`: must precede the free.
    func unmapAllocatedPages(_ baseAddress: UnsafeMutableRawPointer, mdl: MDL)
    /// `IPortWaveRTStream::FreePagesFromMdl`: frees the pages and the MDL.
    func freePagesFromMdl(_ mdl: MDL)
    /// `IPortWaveRTStream::GetPhysicalPagesCount`.
    func physicalPagesCount(_ mdl: MDL) -> Int
    /// `IPortWaveRTStream::GetPhysicalPageAddress`: how a miniport builds its
    /// scatter-gather or buffer descriptor list.
    func physicalPageAddress(_ mdl: MDL, index: Int) -> PhysicalAddress
}

/// The port driver's `IPortWaveRTStream` over an emulated ``PhysicalMemory``.
///
/// It keeps account of everything the miniport allocated and mapped through it,
/// so the port can report leaks by DDI and size at teardown (``outstanding``).
///
/// Deliberate differences from PortCls: misuse (a foreign or freed MDL, an index
/// past the PFN array, a free while mapped) is reported to the memory's
/// ``DiagnosticLog`` and answered with NULL, 0 or a no-op instead of a bug check.
public final class SimulatedPortWaveRTStream: PortWaveRTStream, @unchecked Sendable {
    public let memory: PhysicalMemory

    /// One allocation or mapping the miniport has not released yet.
    public struct Outstanding: Sendable, Hashable, CustomStringConvertible {
        public var ddi: String
        public var bytes: Int
        public var mdl: ObjectIdentifier
        public var description: String { "\(ddi): \(bytes) bytes" }
    }
    private struct Books {
        var allocations: [ObjectIdentifier: Outstanding] = [:]
        var mappings: [ObjectIdentifier: Outstanding] = [:]
    }
    private let books = Mutex(Books())

    public init(memory: PhysicalMemory) { self.memory = memory }

    /// Allocations and mappings made through this port stream and not yet
    /// released: a non-empty list at teardown is a leak.
    public var outstanding: [Outstanding] {
        books.withLock { Array($0.allocations.values) + Array($0.mappings.values) }.sorted { $0.ddi < $1.ddi }
    }

    public func allocatePagesForMdl(highAddress: PhysicalAddress, totalBytes: Int) -> MDL? {
        let ddi = "IPortWaveRTStream::AllocatePagesForMdl"
        let mdl = memory.allocatePages(ddi: ddi, lowAddress: 0, highAddress: highAddress, skipBytes: 0,
                                       totalBytes: totalBytes, cacheType: .cached, flags: [])
        if let mdl { record(mdl, ddi: ddi, in: \.allocations) }
        return mdl
    }

    public func allocateContiguousPagesForMdl(lowAddress: PhysicalAddress, highAddress: PhysicalAddress, totalBytes: Int) -> MDL? {
        let ddi = "IPortWaveRTStream::AllocateContiguousPagesForMdl"
        let mdl = memory.allocateContiguousPages(ddi: ddi, lowAddress: lowAddress, highAddress: highAddress, totalBytes: totalBytes)
        if let mdl { record(mdl, ddi: ddi, in: \.allocations) }
        return mdl
    }

    public func mapAllocatedPages(_ mdl: MDL, cacheType: MemoryCachingType) -> UnsafeMutableRawPointer? {
        let ddi = "IPortWaveRTStream::MapAllocatedPages"
        let va = memory.mapPages(mdl, cacheType: cacheType, ddi: ddi)
        if va != nil { record(mdl, ddi: ddi, in: \.mappings) }
        return va
    }

    public func unmapAllocatedPages(_ baseAddress: UnsafeMutableRawPointer, mdl: MDL) {
        memory.unmapPages(baseAddress, mdl: mdl, ddi: "IPortWaveRTStream::UnmapAllocatedPages")
        if mdl.mappedSystemVa == nil { books.withLock { $0.mappings[ObjectIdentifier(mdl)] = nil } }
    }

    public func freePagesFromMdl(_ mdl: MDL) {
        memory.freePages(mdl, ddi: "IPortWaveRTStream::FreePagesFromMdl")
        if !mdl.isLive {
            books.withLock {
                $0.allocations[ObjectIdentifier(mdl)] = nil
                $0.mappings[ObjectIdentifier(mdl)] = nil
            }
        }
    }

    private func record(_ mdl: MDL, ddi: String, in book: WritableKeyPath<Books, [ObjectIdentifier: Outstanding]>) {
        let entry = Outstanding(ddi: ddi, bytes: mdl.byteCount, mdl: ObjectIdentifier(mdl))
        books.withLock { $0[keyPath: book][ObjectIdentifier(mdl)] = entry }
    }

    public func physicalPagesCount(_ mdl: MDL) -> Int {
        guard memory.checkLive(mdl, ddi: "IPortWaveRTStream::GetPhysicalPagesCount", outcome: "returned 0") else { return 0 }
        return MDL.addressAndSizeToSpanPages(byteOffset: mdl.byteOffset, size: mdl.byteCount, pageSize: mdl.pageSize)
    }

    public func physicalPageAddress(_ mdl: MDL, index: Int) -> PhysicalAddress {
        let ddi = "IPortWaveRTStream::GetPhysicalPageAddress"
        guard memory.checkLive(mdl, ddi: ddi, outcome: "returned physical address 0") else { return 0 }
        guard index >= 0 && index < mdl.pageFrameNumbers.count else {
            memory.diagnostics.report(Diagnostic(
                severity: .error, ddi: ddi, argument: "Index",
                rule: "index \(index) is outside the MDL's \(mdl.pageFrameNumbers.count) pages",
                outcome: "returned physical address 0"))
            return 0
        }
        return mdl.physicalAddress(ofPage: index)
    }
}
