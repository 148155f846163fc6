import Testing
import WaveRTMemory

/// Mapping MDLs and the misuse the memory manager refuses (the DDIs' own
/// checks; the port's order rules on top of them are in WaveRTPortTests).
@Suite struct MappingAndMisuseTests {
    let ps = 4096

    // MmAllocatePagesForMdl: "drivers that do not need corresponding virtual addresses";
    // MmMapLockedPagesSpecifyCache gives them one. A write through the mapping is the
    // physical page's content, and the other way round, on scattered pages.
    @Test func writesThroughTheMappingLandInThePhysicalPages() throws {
        let memory = PhysicalMemory()
        memory.fragment(seed: 3, occupancy: 0.5, longestFreeRunPages: 2)  // scatter the pages
        let mdl = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 16 * ps))
        #expect(mdl.mappedSystemVa == nil && !mdl.mdlFlags.contains(.mappedToSystemVa))
        #expect(mdl.pageFrameNumbers.count == 16)
        #expect(zip(mdl.pageFrameNumbers, mdl.pageFrameNumbers.dropFirst()).contains { $0 + 1 != $1 })  // really scattered
        let va = try #require(memory.mapLockedPagesSpecifyCache(mdl, cacheType: .writeCombined))
        #expect(mdl.mappedSystemVa == va && mdl.mdlFlags.contains(.mappedToSystemVa))
        #expect(mdl.cacheType == .writeCombined)
        for page in 0..<16 {
            (va + page * ps + 100).storeBytes(of: UInt16(page * 7 + 1), as: UInt16.self)
        }
        for page in 0..<16 {
            let pa = mdl.physicalAddress(ofPage: page)
            let bytes = memory.readPhysical(at: pa + 100, count: 2)
            #expect(UInt16(bytes[0]) | UInt16(bytes[1]) << 8 == UInt16(page * 7 + 1))
            #expect(memory.physicalAddress(of: va + page * ps + 100) == pa + 100)
        }
        // And the other way: a write to the physical page shows through the mapping.
        memory.writePhysical(at: mdl.physicalAddress(ofPage: 5), bytes: [9, 8, 7])
        #expect((va + 5 * ps).load(as: UInt8.self) == 9)
        memory.unmapLockedPages(va, mdl: mdl)
        #expect(mdl.mappedSystemVa == nil && !mdl.mdlFlags.contains(.mappedToSystemVa))
        #expect(memory.physicalAddress(of: va) == nil)
        memory.freePagesFromMdl(mdl)
        #expect(memory.diagnostics.all.filter { $0.severity == .error }.isEmpty)
    }

    /// The client's mapping (MmMapLockedPagesSpecifyCache with UserMode) is a
    /// second view of the same pages: the driver's system mapping is untouched,
    /// both see the same bytes, and each is unmapped on its own.
    @Test func aUserModeMappingIsSeparateFromTheSystemMapping() throws {
        let memory = PhysicalMemory()
        let mdl = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 3 * ps))
        let kernel = try #require(memory.mapLockedPagesSpecifyCache(mdl, cacheType: .cached))
        let user = try #require(memory.mapLockedPagesForUser(mdl, cacheType: .writeCombined))
        #expect(user != kernel)
        #expect(mdl.mappedSystemVa == kernel)
        #expect(memory.userMappingCount(of: mdl) == 1)
        (user + 2 * ps + 17).storeBytes(of: 0xA5, as: UInt8.self)
        #expect((kernel + 2 * ps + 17).load(as: UInt8.self) == 0xA5)
        #expect(memory.readPhysical(at: mdl.physicalAddress(ofPage: 2) + 17, count: 1) == [0xA5])
        // A wrong base address is refused and unmaps nothing.
        memory.unmapLockedPagesForUser(user + ps, mdl: mdl)
        #expect(memory.diagnostics.all.last?.ddi == "MmUnmapLockedPages(UserMode)")
        #expect(memory.userMappingCount(of: mdl) == 1)
        memory.unmapLockedPagesForUser(user, mdl: mdl)
        #expect(memory.userMappingCount(of: mdl) == 0)
        #expect(mdl.mappedSystemVa == kernel)  // the driver's mapping is still there
        #expect((kernel + 2 * ps + 17).load(as: UInt8.self) == 0xA5)
        memory.unmapLockedPages(kernel, mdl: mdl)
        memory.freePagesFromMdl(mdl)
        #expect(memory.diagnostics.all.filter { $0.severity == .error }.count == 1)
    }

    @Test func freeingWithAUserMappingInPlaceIsReportedAndUnmapsIt() throws {
        let memory = PhysicalMemory()
        let mdl = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: ps))
        _ = try #require(memory.mapLockedPagesForUser(mdl, cacheType: .cached))
        memory.freePagesFromMdl(mdl)
        #expect(memory.diagnostics.all.contains { $0.ddi == "MmFreePagesFromMdl" && $0.rule.contains("still mapped for a client") })
        #expect(memory.userMappingCount(of: mdl) == 0)
        #expect(!mdl.isLive)
    }

    @Test func mappingTwiceIsRefused() throws {
        let memory = PhysicalMemory()
        let mdl = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: ps))
        let va = try #require(memory.mapLockedPagesSpecifyCache(mdl, cacheType: .cached))
        #expect(memory.mapLockedPagesSpecifyCache(mdl, cacheType: .cached) == nil)
        let d = try #require(memory.diagnostics.all.last)
        #expect(d.ddi == "MmMapLockedPagesSpecifyCache" && d.rule.contains("already mapped"))
        #expect(mdl.mappedSystemVa == va)
        memory.unmapLockedPages(va, mdl: mdl)
        memory.freePagesFromMdl(mdl)
    }

    @Test func unmappingTheWrongAddressIsRefused() throws {
        let memory = PhysicalMemory()
        let mdl = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 2 * ps))
        let va = try #require(memory.mapLockedPagesSpecifyCache(mdl, cacheType: .cached))
        memory.unmapLockedPages(va + ps, mdl: mdl)
        let d = try #require(memory.diagnostics.all.last)
        #expect(d.ddi == "MmUnmapLockedPages" && d.argument == "BaseAddress")
        #expect(mdl.mappedSystemVa == va)  // still mapped: nothing lost
        va.storeBytes(of: 1, as: UInt8.self)
        memory.unmapLockedPages(va, mdl: mdl)
        #expect(mdl.mappedSystemVa == nil)
        // Unmapping again: not mapped.
        memory.unmapLockedPages(va, mdl: mdl)
        #expect(memory.diagnostics.all.last?.rule.contains("is not mapped") == true)
        memory.freePagesFromMdl(mdl)
    }

    // MmFreePagesFromMdl after MmUnmapLockedPages: freeing a still-mapped MDL is
    // reported, and the emulator unmaps it first rather than leave a mapping to freed pages.
    @Test func freeingAStillMappedMdlIsReported() throws {
        let memory = PhysicalMemory()
        let mdl = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: ps))
        _ = try #require(memory.mapLockedPagesSpecifyCache(mdl, cacheType: .cached))
        let free = memory.freePageCount
        memory.freePagesFromMdl(mdl)
        #expect(memory.diagnostics.all.contains { $0.ddi == "MmFreePagesFromMdl" && $0.rule.contains("still mapped") })
        #expect(memory.freePageCount == free + 1)
        #expect(!mdl.isLive && mdl.mappedSystemVa == nil)
        #expect(memory.liveMDLs.isEmpty)
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
        // Contiguous memory is freed with its own DDI, not MmFreePagesFromMdl.
        let va = try #require(memory.allocateContiguousMemory(numberOfBytes: ps, highestAcceptableAddress: .max))
        memory.freeContiguousMemory(va)
        memory.freeContiguousMemory(va)
        #expect(memory.diagnostics.all.last?.ddi == "MmFreeContiguousMemory")
        #expect(memory.diagnostics.all.last?.rule.contains("freed already") == true)
    }

    @Test func badSizesAndRangesGiveNilWithTheArgumentNamed() {
        let memory = PhysicalMemory()
        #expect(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 0) == nil)
        #expect(memory.diagnostics.all.last.map { ($0.ddi, $0.argument) } ?? ("", "") == ("MmAllocatePagesForMdl", "TotalBytes"))
        #expect(memory.allocatePagesForMdlEx(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: -5,
                                             cacheType: .cached, flags: []) == nil)
        #expect(memory.diagnostics.all.last.map { ($0.ddi, $0.argument) } ?? ("", "") == ("MmAllocatePagesForMdlEx", "TotalBytes"))
        #expect(memory.allocatePagesForMdl(lowAddress: 0x10_0000, highAddress: 0xF_FFFF, skipBytes: 0, totalBytes: ps) == nil)
        #expect(memory.diagnostics.all.last.map { ($0.argument, $0.rule.contains("below LowAddress")) } ?? ("", false) == ("HighAddress", true))
        // A range holding no whole page.
        #expect(memory.allocatePagesForMdl(lowAddress: 0x1001, highAddress: 0x1FFF, skipBytes: 0, totalBytes: 1) == nil)
        #expect(memory.diagnostics.all.last?.rule.contains("holds no whole page") == true)
        #expect(memory.allocateContiguousMemory(numberOfBytes: 0, highestAcceptableAddress: .max) == nil)
        #expect(memory.diagnostics.all.last?.argument == "NumberOfBytes")
        #expect(memory.allocateContiguousMemory(numberOfBytes: ps, lowestAcceptableAddress: 0, highestAcceptableAddress: .max,
                                                boundaryAddressMultiple: PhysicalAddress(3 * 4096)) == nil)
        #expect(memory.diagnostics.all.last?.argument == "BoundaryAddressMultiple")
        let bogus = UnsafeMutableRawPointer(bitPattern: 0x1000)!
        memory.freeContiguousMemory(bogus)
        #expect(memory.diagnostics.all.last?.ddi == "MmFreeContiguousMemory")
        #expect(memory.liveMDLs.isEmpty)
        #expect(memory.diagnostics.all.allSatisfy { $0.outcome == "returned NULL" || $0.outcome == "nothing freed" })
    }

    // MmAllocateContiguousMemorySpecifyCache: BoundaryAddressMultiple "the physical address
    // multiple that the allocated buffer must not cross".
    @Test func contiguousMemoryHonoursItsBoundary() throws {
        let memory = try PhysicalMemory(map: .pc, placement: .bottomUp)
        // Take pages 0...14 so the first free run starts at page 15, one page before the 64 KiB line.
        let hog = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xEFFF, skipBytes: 0, totalBytes: 15 * ps))
        let va = try #require(memory.allocateContiguousMemory(numberOfBytes: 2 * ps, lowestAcceptableAddress: 0,
                                                              highestAcceptableAddress: 0xFF_FFFF, boundaryAddressMultiple: 0x1_0000))
        let pa = try #require(memory.physicalAddress(of: va))
        #expect(pa.rawValue / 0x1_0000 == (pa.rawValue + UInt64(2 * ps) - 1) / 0x1_0000)
        #expect(pa == 0x1_0000)  // page 15 would have crossed 64 KiB
        memory.freeContiguousMemory(va)
        memory.freePagesFromMdl(hog)
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
}
