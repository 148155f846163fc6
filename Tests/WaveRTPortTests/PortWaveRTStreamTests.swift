import Testing
import WaveRTDMA
import WaveRTKernel
import WaveRTMemory
import WaveRTPort
import WaveRTTestSupport

/// `IPortWaveRTStream`: the buffer memory services the port gives a miniport,
/// with the meanings of `shared/seeds/` (each test quotes its sentence) and
/// the verifier's order rules around them. Driven through the stream object
/// a test miniport received in NewStream, as its driver code would.
@Suite struct PortWaveRTStreamTests {
    let ps = 4096

    /// A machine whose RAM is two 64-page ranges with a hole between.
    static func smallMemory() throws -> PhysicalMemory {
        try PhysicalMemory(map: PhysicalMemoryMap(ramRanges: [.init(start: 0, end: 0x4_0000), .init(start: 0x8_0000, end: 0xC_0000)]))
    }

    func rig(memory: PhysicalMemory = PhysicalMemory()) throws -> (PortRig, any PortWaveRTStream) {
        let rig = try PortRig(memory: memory)
        let (_, stream) = try rig.open()
        return (rig, stream.portStream)
    }

    // AllocatePagesForMdl: "The method always allocates an integral number of pages. If sufficient
    // memory is available, the memory allocation is the requested size rounded up to the next page."
    // "The low end of the address range is implicitly zero." "allocates memory pages that are
    // locked (nonpaged) but unmapped".
    @Test func allocatePagesForMdlRoundsUpToWholeLockedUnmappedPagesBelowHighAddress() throws {
        let (rig, port) = try rig()
        try rig.machine.withCurrent {
            let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: 5000))
            #expect(mdl.byteCount == 8192 && port.getPhysicalPagesCount(mdl) == 2)
            #expect(mdl.mdlFlags.contains(.pagesLocked) && mdl.mappedSystemVa == nil)
            #expect(rig.machine.memory.readPhysical(at: mdl.physicalAddress(ofPage: 1), count: ps).allSatisfy { $0 == 0 })
            let low = try #require(port.allocatePagesForMdl(highAddress: 0xFFFF_FFFF, totalBytes: 64 * 1024))
            #expect(low.pageFrameNumbers.allSatisfy { $0 < 0x10_0000 })
            #expect((0..<16).allSatisfy { port.getPhysicalPageAddress(low, index: $0) == low.physicalAddress(ofPage: $0) })
            port.freePagesFromMdl(mdl)
            port.freePagesFromMdl(low)
        }
        #expect(rig.verifier.count == 0)
    }

    // "Otherwise, the memory allocation can be less than the requested size. The caller must verify
    //  how many bytes are actually allocated." "If the method is unable to allocate the requested
    //  buffer, it returns NULL."
    @Test func allocatePagesForMdlMayReturnLessAndNilOnlyWhenNothing() throws {
        let (rig, port) = try rig(memory: Self.smallMemory())
        try rig.machine.withCurrent {
            let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: 200 * ps))
            #expect(mdl.byteCount == 128 * ps)
            #expect(rig.machine.memory.diagnostics.all.contains {
                $0.ddi == "IPortWaveRTStream::AllocatePagesForMdl" && $0.rule.contains("only 128 of 200 pages")
            })
            #expect(port.allocatePagesForMdl(highAddress: .max, totalBytes: ps) == nil)
            port.freePagesFromMdl(mdl)
        }
    }

    // AllocateContiguousPagesForMdl: "If sufficient memory is available, the memory allocation is the
    //  requested size rounded up to the next page; otherwise, the call fails." "All of the physical
    //  memory pages in the MDL fall within the address range specified by the LowAddress and HighAddress".
    @Test func allocateContiguousPagesForMdlIsAllOrNothingInsideTheRange() throws {
        let (rig, port) = try rig(memory: Self.smallMemory())
        try rig.machine.withCurrent {
            #expect(port.allocateContiguousPagesForMdl(lowAddress: 0, highAddress: .max, totalBytes: 65 * ps) == nil)
            #expect(rig.machine.memory.freePageCount == 128)
            #expect(rig.machine.memory.diagnostics.all.last?.ddi == "IPortWaveRTStream::AllocateContiguousPagesForMdl")
            let mdl = try #require(port.allocateContiguousPagesForMdl(lowAddress: 0, highAddress: .max, totalBytes: 64 * ps - 1))
            #expect(mdl.byteCount == 64 * ps)
            #expect(zip(mdl.pageFrameNumbers, mdl.pageFrameNumbers.dropFirst()).allSatisfy { $0 + 1 == $1 })
            let low = try #require(port.allocateContiguousPagesForMdl(lowAddress: 0x1000, highAddress: 0x8FFF, totalBytes: 8 * ps))
            #expect(low.pageFrameNumbers == Array(1...8))
            #expect(port.allocateContiguousPagesForMdl(lowAddress: 0x2000, highAddress: 0x1000, totalBytes: ps) == nil)
            #expect(rig.machine.memory.diagnostics.all.last?.argument == "HighAddress")
            port.freePagesFromMdl(mdl)
            port.freePagesFromMdl(low)
        }
        #expect(rig.machine.memory.liveMDLs.isEmpty)
    }

    // MapAllocatedPages: "the miniport driver must make a subsequent call to
    // IPortWaveRTStream::MapAllocatedPages to map the pages into kernel-mode address space."
    @Test func mappedPagesAreThePhysicalPages() throws {
        let (rig, port) = try rig()
        try rig.machine.withCurrent {
            let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: 3 * ps))
            let va = try #require(port.mapAllocatedPages(mdl, cacheType: .writeCombined))
            #expect(mdl.mappedSystemVa == va && mdl.cacheType == .writeCombined)
            for page in 0..<3 { (va + page * ps + 9).storeBytes(of: UInt8(page + 1), as: UInt8.self) }
            for page in 0..<3 {
                #expect(rig.machine.memory.readPhysical(at: port.getPhysicalPageAddress(mdl, index: page) + 9, count: 1) == [UInt8(page + 1)])
            }
            #expect(port.mapAllocatedPages(mdl, cacheType: .cached) == nil)  // mapped already
            #expect(rig.machine.memory.diagnostics.all.last?.ddi == "IPortWaveRTStream::MapAllocatedPages")
            port.unmapAllocatedPages(va, mdl: mdl)
            port.freePagesFromMdl(mdl)
        }
        #expect(rig.verifier.count == 0)
    }

    /// The order rules: map before unmap, unmap before free, one free, no free
    /// while the DMA still runs over the pages. Each break is a finding naming
    /// the rule and the DDI; the port cleans up what it safely can.
    @Test func mapUnmapFreeOrderIsChecked() throws {
        let (rig, port) = try rig()
        try rig.machine.withCurrent {
            let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: 2 * ps))
            let stray = UnsafeMutableRawPointer(bitPattern: 0x10_0000)!
            port.unmapAllocatedPages(stray, mdl: mdl)                   // unmap before any map
            let va = try #require(port.mapAllocatedPages(mdl, cacheType: .cached))
            port.unmapAllocatedPages(va + ps, mdl: mdl)                 // not what the map returned
            #expect(mdl.mappedSystemVa == va)                           // still mapped: nothing lost
            port.freePagesFromMdl(mdl)                                  // free before unmap
            #expect(!mdl.isLive && mdl.mappedSystemVa == nil)           // the port unmapped, then freed
            port.freePagesFromMdl(mdl)                                  // twice
            #expect(port.getPhysicalPagesCount(mdl) == 0)
            #expect(port.getPhysicalPageAddress(mdl, index: 0) == 0)
        }
        let v = rig.verifier
        #expect(v.violations(of: .unmapWithoutMap).count == 2)
        #expect(v.violations(of: .freeWhileMapped).map(\.ddi) == ["IPortWaveRTStream::FreePagesFromMdl"])
        #expect(v.violations(of: .doubleFree).map(\.ddi) == ["IPortWaveRTStream::FreePagesFromMdl"])
        #expect(v.violations.allSatisfy { $0.irql == "PASSIVE_LEVEL" })
    }

    @Test func freeingPagesARunningDMAStillReadsIsAFinding() throws {
        let (rig, port) = try rig()
        try rig.machine.withCurrent {
            let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: ps))
            // The device's DMA programmed over the page, and running.
            let dma = DMAController(profile: .pcie64SG, memory: rig.machine.memory)
            try dma.program(descriptors: [DMADescriptor(address: mdl.physicalAddress(ofPage: 0), length: ps)])
            dma.isRunning = true
            port.freePagesFromMdl(mdl)
            // What the device reads from now on is silence, counted, never someone else's memory.
            var out = [UInt8](repeating: 1, count: 64)
            _ = out.withUnsafeMutableBytes { dma.read(into: $0.baseAddress!, count: 64) }
            #expect(out.allSatisfy { $0 == 0 } && dma.useAfterFreeCount == 1)
        }
        #expect(rig.verifier.violations(of: .freeWhileDMARunning).map(\.ddi) == ["IPortWaveRTStream::FreePagesFromMdl"])
    }

    @Test func physicalPageAddressOutOfRangeIsZeroAndNamesTheIndex() throws {
        let (rig, port) = try rig()
        try rig.machine.withCurrent {
            let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: 2 * ps))
            #expect(port.getPhysicalPageAddress(mdl, index: 2) == 0)
            let d = try #require(rig.machine.memory.diagnostics.all.last)
            #expect(d.ddi == "IPortWaveRTStream::GetPhysicalPageAddress" && d.argument == "Index")
            #expect(d.rule.contains("index 2 is outside the MDL's 2 pages"))
            #expect(port.getPhysicalPageAddress(mdl, index: -1) == 0)
            port.freePagesFromMdl(mdl)
        }
    }

    /// Closing the pin finds what the miniport left: pages and mappings, each named by DDI and size.
    @Test func pagesAndMappingsLeftBehindAreLeaksAtPinClose() throws {
        let rig = try PortRig()
        let (pin, stream) = try rig.open()
        rig.machine.withCurrent {
            _ = stream.portStream.allocatePagesForMdl(highAddress: .max, totalBytes: 8192)       // never freed
            let mapped = stream.portStream.allocatePagesForMdl(highAddress: .max, totalBytes: 4096)!
            _ = stream.portStream.mapAllocatedPages(mapped, cacheType: .cached)                  // never unmapped nor freed
        }
        let report = pin.close()
        #expect(report.leaks.contains("IPortWaveRTStream::AllocatePagesForMdl: 8192 bytes not freed"))
        #expect(report.leaks.contains("IPortWaveRTStream::AllocatePagesForMdl: 4096 bytes not freed"))
        #expect(report.leaks.contains { $0.hasPrefix("IPortWaveRTStream::MapAllocatedPages: 4096 bytes still mapped at 0x") })
        #expect(!report.isClean)
        let leaks = rig.verifier.violations(of: .leakedPages)
        #expect(leaks.count == 2 && leaks.allSatisfy { $0.stream == "pin 0 (render)" })
        #expect(rig.verifier.violations(of: .leakedMapping).first?.ddi == "IPortWaveRTStream::UnmapAllocatedPages")
    }
}
