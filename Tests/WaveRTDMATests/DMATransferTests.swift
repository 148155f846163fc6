import Testing
import WaveRTDMA
import WaveRTMemory

/// Transfers: what bytes come out, where the cursor goes, which faults are counted.
@Suite struct DMATransferTests {
    let ps = 4096

    /// Fills `count` bytes at `va` with a ramp that starts at `seed`.
    func fillRamp(_ va: UnsafeMutableRawPointer, count: Int, seed: UInt8 = 0) {
        for i in 0..<count { va.storeBytes(of: UInt8(truncatingIfNeeded: i &+ Int(seed) &* 31 &+ i / 251), toByteOffset: i, as: UInt8.self) }
    }

    func read(_ dma: DMAController, _ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0xCC, count: count)
        let moved = out.withUnsafeMutableBytes { dma.read(into: $0.baseAddress!, count: count) }
        #expect(moved == count)
        return out
    }

    func scattered(_ memory: PhysicalMemory, bytes: Int, below high: PhysicalAddress = .max) throws -> MDL {
        try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: high, skipBytes: 0, totalBytes: bytes))
    }

    // Wrap-around at the end of the buffer, with the buffer starting 128 bytes into its first page.
    @Test func wrapsAtTheEndWithAByteOffsetInTheFirstPage() throws {
        let memory = PhysicalMemory()
        memory.fragment(seed: 11, occupancy: 0.5, longestFreeRunPages: 2)
        let length = 3 * ps  // spans 4 pages from offset 128
        let mdl = try scattered(memory, bytes: length + ps, below: 0xFFFF_FFFF)
        let va = try #require(memory.mapLockedPagesSpecifyCache(mdl, cacheType: .writeCombined))
        let buffer = va + 128
        fillRamp(buffer, count: length)
        let expected = (0..<length).map { buffer.load(fromByteOffset: $0, as: UInt8.self) }
        let list = [DMADescriptor](mdl: mdl, offset: 128, length: length, interruptsAt: [length / 2, length])
        #expect(list.count >= 4)  // at least one cut per page: the pages are scattered
        #expect(list.filter(\.interruptOnCompletion).count == 2)
        let dma = DMAController(profile: .hda, memory: memory)
        try dma.program(descriptors: list)
        #expect(dma.cycleLength == length)
        #expect(dma.programmedDescriptors == list)
        // Odd-sized reads that straddle segment and buffer ends.
        var out: [UInt8] = []
        for chunk in [1000, 3000, 5000, 4000, 2288, 7000] { out += read(dma, chunk) }
        let total = out.count
        #expect(out == (0..<total).map { expected[$0 % length] })
        #expect(dma.cycleOffset == total % length)
        #expect(dma.bytesTransferred == UInt64(total))
        #expect(dma.faultRecords.isEmpty && dma.faultEventCount == 0)
        // The physical address behind each cycle offset is the MDL's page plus the offset.
        for offset in [0, 127, 3968, 3969, length - 1] {
            let p = try #require(dma.physicalAddress(atCycleOffset: offset))
            let byte = 128 + offset
            #expect(p.address == mdl.physicalAddress(ofPage: byte / ps) + UInt64(byte % ps))
            #expect(p.contiguous >= 1 && p.contiguous <= ps - byte % ps)
        }
        dma.reset()
        #expect(dma.cycleOffset == 0)
        #expect(read(dma, 16) == Array(expected.prefix(16)))
        dma.seek(toCycleOffset: length + 5000)
        #expect(dma.cycleOffset == 5000)
        #expect(read(dma, 100) == Array(expected[5000..<5100]))
        memory.unmapLockedPages(va, mdl: mdl)
        memory.freePagesFromMdl(mdl)
    }

    @Test func captureWritesLandInTheBufferAndWrap() throws {
        let memory = PhysicalMemory()
        let mdl = try scattered(memory, bytes: 2 * ps)
        let va = try #require(memory.mapLockedPagesSpecifyCache(mdl, cacheType: .cached))
        let dma = DMAController(profile: .pcie64SG, memory: memory)
        try dma.program(descriptors: [DMADescriptor](mdl: mdl, length: 2 * ps))
        let source = (0..<(3 * ps)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let moved = source.withUnsafeBytes { dma.write(from: $0.baseAddress!, count: 3 * ps) }
        #expect(moved == 3 * ps)
        // The third page's worth wrapped over the first.
        let got = (0..<(2 * ps)).map { va.load(fromByteOffset: $0, as: UInt8.self) }
        #expect(got == Array(source[(2 * ps)...]) + Array(source[ps..<(2 * ps)]))
        memory.unmapLockedPages(va, mdl: mdl)
        memory.freePagesFromMdl(mdl)
    }

    // Faithful faults: a 32-bit controller given pages above 4 GiB drops the high
    // address bits and plays another page: the bytes out are that page's.
    @Test func faithfulFaultReadsTheAliasedPage() throws {
        let memory = PhysicalMemory()
        let mdl = try scattered(memory, bytes: ps)
        let page = mdl.physicalAddress(ofPage: 0)
        #expect(page.rawValue >> 32 == 1)
        let va = try #require(memory.mapLockedPagesSpecifyCache(mdl, cacheType: .cached))
        va.initializeMemory(as: UInt8.self, repeating: 0x11, count: ps)
        // What lives at the aliased address (the same address minus 4 GiB).
        let alias = PhysicalAddress(page.rawValue & 0xFFFF_FFFF)
        let other = try #require(memory.allocateContiguousPages(ddi: "test", lowAddress: alias, highAddress: alias + UInt64(ps - 1), totalBytes: ps))
        memory.writePhysical(at: alias, bytes: [UInt8](repeating: 0x77, count: ps))

        let strict = DMAController(profile: .pci32SG, memory: memory)
        #expect(throws: DMAProgramError.aboveAddressLimit(segment: 0, address: page, bits: 32, controller: "pci32-sg")) {
            try strict.program(descriptors: [DMADescriptor(address: page, length: ps)])
        }
        #expect(strict.cycleLength == 0)

        let dma = DMAController(profile: .pci32SG, memory: memory, faithfulFaults: true)
        try dma.program(descriptors: [DMADescriptor(address: page, length: ps)])
        #expect(dma.toleratedViolations == [.aboveAddressLimit(segment: 0, address: page, bits: 32, controller: "pci32-sg")])
        #expect(read(dma, ps).allSatisfy { $0 == 0x77 })
        #expect(read(dma, ps / 2).allSatisfy { $0 == 0x77 })
        let records = dma.faultRecords
        #expect(records.count == 1)
        #expect(records.first?.kind == .addressTruncated)
        #expect(records.first?.intendedAddress == page && records.first?.actualAddress == alias)
        #expect(records.first?.events == 2 && records.first?.bytes == UInt64(ps + ps / 2))
        memory.freePagesFromMdl(other)
        memory.unmapLockedPages(va, mdl: mdl)
        memory.freePagesFromMdl(mdl)
    }

    // Faithful faults: an 8237 transfer that crosses 64 KiB wraps to the start of the
    // same 64 KiB block (the address counter does not carry into the page register).
    @Test func faithfulFaultWrapsInsideTheBoundary() throws {
        let memory = PhysicalMemory()
        let mdl = try #require(memory.allocateContiguousPages(ddi: "test", lowAddress: 0x1_F000, highAddress: 0x2_0FFF, totalBytes: 2 * ps))
        memory.writePhysical(at: 0x1_F000, bytes: [UInt8](repeating: 0xAA, count: 2 * ps))
        let wrapped = try #require(memory.allocateContiguousPages(ddi: "test", lowAddress: 0x1_0000, highAddress: 0x1_0FFF, totalBytes: ps))
        memory.writePhysical(at: 0x1_0000, bytes: [UInt8](repeating: 0x55, count: ps))
        let dma = DMAController(profile: .isa8237_8bit, memory: memory, faithfulFaults: true)
        try dma.program(descriptors: [DMADescriptor(address: 0x1_F000, length: 2 * ps)])
        #expect(dma.toleratedViolations == [.crossesBoundary(segment: 0, address: 0x1_F000, length: 2 * ps, boundary: 65536, controller: "isa8237-8bit")])
        let out = read(dma, 2 * ps)
        #expect(out.prefix(ps).allSatisfy { $0 == 0xAA })
        #expect(out.suffix(ps).allSatisfy { $0 == 0x55 })  // 0x2_0000 became 0x1_0000
        #expect(dma.faultRecords.map(\.kind) == [.boundaryWrapped])
        #expect(dma.faultRecords.first?.actualAddress == 0x1_0000)
        #expect(dma.faultRecords.first?.intendedAddress == 0x2_0000)
        memory.freePagesFromMdl(wrapped)
        memory.freePagesFromMdl(mdl)
    }

    @Test func faithfulFaultIntoAHoleReadsOpenBusAndDropsWrites() throws {
        let memory = PhysicalMemory()
        let dma = DMAController(profile: .pcie64SG, memory: memory, faithfulFaults: true)
        try dma.program(descriptors: [DMADescriptor(address: 0xC000_0000, length: ps)])  // the PCI hole
        #expect(dma.toleratedViolations == [.notRAM(segment: 0, address: 0xC000_0000, controller: "pcie64-sg")])
        #expect(read(dma, 64).allSatisfy { $0 == 0xFF })
        let junk = [UInt8](repeating: 1, count: 64)
        #expect(junk.withUnsafeBytes { dma.write(from: $0.baseAddress!, count: 64) } == 64)
        #expect(dma.faultRecords.first?.kind == .openBus)
        #expect(dma.faultRecords.first?.events == 2)
    }

    // Unallocated RAM (faithful mode accepts it): reads are silence, writes are dropped, nothing is touched.
    @Test func faithfulFaultOnUnallocatedPagesNeverTouchesThem() throws {
        let memory = PhysicalMemory()
        let dma = DMAController(profile: .pcie64SG, memory: memory, faithfulFaults: true)
        try dma.program(descriptors: [DMADescriptor(address: 0x20_0000, length: ps)])
        #expect(dma.toleratedViolations == [.unallocated(segment: 0, address: 0x20_0000, controller: "pcie64-sg")])
        let junk = [UInt8](repeating: 9, count: ps)
        _ = junk.withUnsafeBytes { dma.write(from: $0.baseAddress!, count: ps) }
        #expect(read(dma, ps).allSatisfy { $0 == 0 })
        #expect(dma.unallocatedCount == 2)
        #expect(dma.faultRecords.first?.kind == .unallocated)
        // Pages allocated after the program was loaded are someone else's: still not touched.
        let later = try #require(memory.allocateContiguousPages(ddi: "test", lowAddress: 0x20_0000, highAddress: 0x20_0FFF, totalBytes: ps))
        _ = junk.withUnsafeBytes { dma.write(from: $0.baseAddress!, count: ps) }
        #expect(memory.readPhysical(at: 0x20_0000, count: ps).allSatisfy { $0 == 0 })
        memory.freePagesFromMdl(later)
    }

    @Test func readingAFreedBufferIsAFaultNotACrash() throws {
        let memory = PhysicalMemory()
        let mdl = try scattered(memory, bytes: 2 * ps)
        let va = try #require(memory.mapLockedPagesSpecifyCache(mdl, cacheType: .cached))
        va.initializeMemory(as: UInt8.self, repeating: 0x42, count: 2 * ps)
        let dma = DMAController(profile: .pcie64SG, memory: memory)
        try dma.program(descriptors: [DMADescriptor](mdl: mdl, length: 2 * ps))
        #expect(read(dma, 100).allSatisfy { $0 == 0x42 })
        memory.unmapLockedPages(va, mdl: mdl)
        memory.freePagesFromMdl(mdl)
        #expect(read(dma, 100).allSatisfy { $0 == 0 })
        #expect(read(dma, 100).allSatisfy { $0 == 0 })
        #expect(dma.useAfterFreeCount == 2)
        #expect(dma.faultRecords.last?.kind == .useAfterFree)
        #expect(dma.faultRecords.last?.events == 2)
        #expect(dma.cycleOffset == 300)
    }

    /// A capture DMA still programmed with pages that were freed and handed
    /// to a new allocation writes nothing into the new owner's memory.
    @Test func captureIntoPagesReallocatedSinceTheProgramWritesNothing() throws {
        let memory = PhysicalMemory()
        let old = try scattered(memory, bytes: ps)
        let dma = DMAController(profile: .pcie64SG, memory: memory)
        try dma.program(descriptors: [DMADescriptor](mdl: old, length: ps))
        memory.freePagesFromMdl(old)
        let new = try scattered(memory, bytes: ps)
        #expect(new.pageFrameNumbers == old.pageFrameNumbers)  // top-down hands out the same page
        #expect(memory.owner(of: new.physicalAddress(ofPage: 0)) != old.ownerID)
        let junk = [UInt8](repeating: 0xEE, count: ps)
        _ = junk.withUnsafeBytes { dma.write(from: $0.baseAddress!, count: ps) }
        #expect(memory.readPhysical(at: new.physicalAddress(ofPage: 0), count: ps).allSatisfy { $0 == 0 })
        #expect(dma.useAfterFreeCount == 1)
        memory.freePagesFromMdl(new)
    }

    /// The memory manager can tell a driver is freeing pages its running DMA still covers.
    @Test func pagesUnderARunningProgramAreReportedInUse() throws {
        let memory = PhysicalMemory()
        let mdl = try scattered(memory, bytes: 2 * ps)
        let unrelated = try scattered(memory, bytes: ps)
        let dma = DMAController(profile: .pcie64SG, memory: memory)
        try dma.program(descriptors: [DMADescriptor](mdl: mdl, length: 2 * ps))
        #expect(!memory.isInUseByRunningDMA(mdl))  // programmed but stopped
        dma.isRunning = true
        #expect(memory.isInUseByRunningDMA(mdl))
        #expect(!memory.isInUseByRunningDMA(unrelated))
        dma.isRunning = false
        #expect(!memory.isInUseByRunningDMA(mdl))
        memory.freePagesFromMdl(mdl)
        memory.freePagesFromMdl(unrelated)
    }

    @Test func withoutAProgramNothingMoves() throws {
        let memory = PhysicalMemory()
        let dma = DMAController(profile: .pcie64SG, memory: memory)
        var scratch = [UInt8](repeating: 7, count: 16)
        #expect(scratch.withUnsafeMutableBytes { dma.read(into: $0.baseAddress!, count: 16) } == 0)
        #expect(scratch == [UInt8](repeating: 7, count: 16))
        #expect(dma.bytesTransferred == 0 && dma.cycleOffset == 0)
        #expect(dma.physicalAddress(atCycleOffset: 0) == nil)
        // A refused program leaves none either.
        #expect(throws: DMAProgramError.emptyProgram(controller: "pcie64-sg")) { try dma.program(descriptors: []) }
        #expect(scratch.withUnsafeMutableBytes { dma.read(into: $0.baseAddress!, count: 16) } == 0)
    }

    /// A new program replaces the old one and rewinds.
    @Test func reprogrammingReplacesAndRewinds() throws {
        let memory = PhysicalMemory()
        let a = try scattered(memory, bytes: ps), b = try scattered(memory, bytes: ps)
        memory.writePhysical(at: a.physicalAddress(ofPage: 0), bytes: [UInt8](repeating: 1, count: ps))
        memory.writePhysical(at: b.physicalAddress(ofPage: 0), bytes: [UInt8](repeating: 2, count: ps))
        let dma = DMAController(profile: .pcie64SG, memory: memory)
        try dma.program(descriptors: [DMADescriptor](mdl: a, length: ps))
        #expect(read(dma, 100).allSatisfy { $0 == 1 })
        try dma.program(descriptors: [DMADescriptor](mdl: b, length: 2048))
        #expect(dma.cycleOffset == 0 && dma.cycleLength == 2048)
        #expect(read(dma, 2048).allSatisfy { $0 == 2 })
        #expect(dma.cycleOffset == 0)
        memory.freePagesFromMdl(a)
        memory.freePagesFromMdl(b)
    }
}
