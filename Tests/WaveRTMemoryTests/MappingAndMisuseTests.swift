import Testing
import WaveRT
import WaveRTMemory

@Suite struct MappingAndMisuseTests {
    let ps = 4096

    // AllocatePagesForMdl: "allocates memory pages that are locked (nonpaged) but unmapped. If the
    //  miniport driver wants to set up software access to this memory, the miniport driver must make
    //  a subsequent call to IPortWaveRTStream::MapAllocatedPages"
    @Test func writesThroughTheMappingLandInThePhysicalPages() throws {
        let memory = PhysicalMemory()
        memory.fragment(seed: 3, occupancy: 0.5, longestFreeRunPages: 2)  // scatter the pages
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: 16 * ps))
        #expect(mdl.mappedSystemVa == nil && !mdl.mdlFlags.contains(.mappedToSystemVa))
        let va = try #require(port.mapAllocatedPages(mdl, cacheType: .writeCombined))
        #expect(mdl.mappedSystemVa == va && mdl.mdlFlags.contains(.mappedToSystemVa))
        #expect(mdl.cacheType == .writeCombined)
        #expect(port.physicalPagesCount(mdl) == 16)
        for page in 0..<16 {
            (va + page * ps + 100).storeBytes(of: UInt16(page * 7 + 1), as: UInt16.self)
        }
        for page in 0..<16 {
            let pa = port.physicalPageAddress(mdl, index: page)
            let bytes = memory.readPhysical(at: pa + 100, count: 2)
            #expect(UInt16(bytes[0]) | UInt16(bytes[1]) << 8 == UInt16(page * 7 + 1))
            #expect(memory.physicalAddress(of: va + page * ps + 100) == pa + 100)
        }
        // And the other way: a write to the physical page shows through the mapping.
        memory.writePhysical(at: port.physicalPageAddress(mdl, index: 5), bytes: [9, 8, 7])
        #expect((va + 5 * ps).load(as: UInt8.self) == 9)
        port.unmapAllocatedPages(va, mdl: mdl)
        port.freePagesFromMdl(mdl)
        #expect(port.outstanding.isEmpty)
        #expect(memory.diagnostics.all.filter { $0.severity == .error }.isEmpty)
    }

    @Test func mappingTwiceIsRefused() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: ps))
        let va = try #require(port.mapAllocatedPages(mdl, cacheType: .cached))
        #expect(port.mapAllocatedPages(mdl, cacheType: .cached) == nil)
        let d = try #require(memory.diagnostics.all.last)
        #expect(d.ddi == "IPortWaveRTStream::MapAllocatedPages" && d.rule.contains("already mapped"))
        port.unmapAllocatedPages(va, mdl: mdl)
        port.freePagesFromMdl(mdl)
    }

    @Test func unmappingTheWrongAddressIsRefused() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: 2 * ps))
        let va = try #require(port.mapAllocatedPages(mdl, cacheType: .cached))
        port.unmapAllocatedPages(va + ps, mdl: mdl)
        let d = try #require(memory.diagnostics.all.last)
        #expect(d.ddi == "IPortWaveRTStream::UnmapAllocatedPages" && d.argument == "BaseAddress")
        #expect(mdl.mappedSystemVa == va)  // still mapped: nothing lost
        va.storeBytes(of: 1, as: UInt8.self)
        port.unmapAllocatedPages(va, mdl: mdl)
        #expect(mdl.mappedSystemVa == nil)
        port.freePagesFromMdl(mdl)
    }

    // The seeds: UnmapAllocatedPages must precede FreePagesFromMdl.
    @Test func freeingAStillMappedMdlIsReported() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: ps))
        _ = try #require(port.mapAllocatedPages(mdl, cacheType: .cached))
        #expect(port.outstanding.map(\.ddi).sorted() == ["IPortWaveRTStream::AllocatePagesForMdl", "IPortWaveRTStream::MapAllocatedPages"])
        let free = memory.freePageCount
        port.freePagesFromMdl(mdl)
        #expect(memory.diagnostics.all.contains { $0.ddi == "IPortWaveRTStream::FreePagesFromMdl" && $0.rule.contains("still mapped") })
        #expect(memory.freePageCount == free + 1)
        #expect(!mdl.isLive && mdl.mappedSystemVa == nil)
        #expect(port.outstanding.isEmpty)
    }

    @Test func doubleFreeAndForeignMdlAreNoOpsWithDiagnostics() throws {
        let memory = PhysicalMemory()
        let other = PhysicalMemory()
        let mdl = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: ps))
        let foreign = try #require(other.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: ps))
        memory.freePagesFromMdl(mdl)
        let free = memory.freePageCount
        memory.freePagesFromMdl(mdl)
        #expect(memory.diagnostics.all.last?.rule.contains("double free") == true)
        memory.freePagesFromMdl(foreign)
        #expect(memory.diagnostics.all.last?.rule.contains("another memory manager") == true)
        #expect(memory.freePageCount == free)
        #expect(foreign.isLive)
        other.freePagesFromMdl(foreign)
        #expect(memory.mapLockedPagesSpecifyCache(mdl, cacheType: .cached) == nil)
        #expect(memory.diagnostics.all.last?.rule.contains("freed already") == true)
    }

    @Test func badSizesAndRangesGiveNilWithTheArgumentNamed() {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        #expect(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 0) == nil)
        #expect(memory.diagnostics.all.last.map { ($0.ddi, $0.argument) } ?? ("", "") == ("MmAllocatePagesForMdl", "TotalBytes"))
        #expect(port.allocatePagesForMdl(highAddress: .max, totalBytes: -5) == nil)
        #expect(memory.diagnostics.all.last?.argument == "TotalBytes")
        #expect(memory.allocatePagesForMdl(lowAddress: 0x10_0000, highAddress: 0xF_FFFF, skipBytes: 0, totalBytes: ps) == nil)
        #expect(memory.diagnostics.all.last.map { ($0.argument, $0.rule.contains("below LowAddress")) } ?? ("", false) == ("HighAddress", true))
        #expect(port.allocateContiguousPagesForMdl(lowAddress: 0x2000, highAddress: 0x1000, totalBytes: ps) == nil)
        #expect(memory.diagnostics.all.last?.ddi == "IPortWaveRTStream::AllocateContiguousPagesForMdl")
        #expect(memory.allocateContiguousMemory(numberOfBytes: 0, highestAcceptableAddress: .max) == nil)
        #expect(memory.diagnostics.all.last?.argument == "NumberOfBytes")
        let bogus = UnsafeMutableRawPointer(bitPattern: 0x1000)!
        memory.freeContiguousMemory(bogus)
        #expect(memory.diagnostics.all.last?.ddi == "MmFreeContiguousMemory")
        #expect(port.outstanding.isEmpty)
    }

    @Test func physicalPageAddressOutOfRangeIsZeroAndReported() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: 2 * ps))
        #expect(port.physicalPageAddress(mdl, index: 2) == 0)
        let d = try #require(memory.diagnostics.all.last)
        #expect(d.ddi == "IPortWaveRTStream::GetPhysicalPageAddress" && d.argument == "Index")
        port.freePagesFromMdl(mdl)
        #expect(port.physicalPagesCount(mdl) == 0)
    }

    @Test func physicalViewReadsHolesAsOpenBusAndRefusesWritesToFreePages() throws {
        let memory = PhysicalMemory()
        #expect(memory.readPhysical(at: 0xA_0000, count: 2) == [0xFF, 0xFF])  // the VGA hole
        #expect(memory.readPhysical(at: 0x2000, count: 2) == [0, 0])          // free RAM reads zero
        memory.writePhysical(at: 0x2000, bytes: [1, 2])
        #expect(memory.diagnostics.all.last?.rule.contains("not allocated RAM") == true)
        #expect(memory.readPhysical(at: 0x2000, count: 2) == [0, 0])
        #expect(memory.readPhysical(at: 0x1_3FFF_FFFF, count: 2) == [0, 0xFF])  // the last byte of RAM, then the end
    }

    @Test func portDefaultsToZeroLowAddressAndHonoursHighAddress() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        // "The low end of the address range is implicitly zero."
        let mdl = try #require(port.allocatePagesForMdl(highAddress: 0xFFFF_FFFF, totalBytes: 64 * 1024))
        #expect(mdl.pageFrameNumbers.allSatisfy { $0 < 0x10_0000 })
        #expect(port.outstanding.count == 1 && port.outstanding[0].bytes == 64 * 1024)
        port.freePagesFromMdl(mdl)
    }
}
