import Synchronization
import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA

/// Transfers: what bytes come out, where the position goes, which faults are counted.
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

    // Wrap-around at the end of the buffer, with the buffer starting 128 bytes into its first page.
    @Test func wrapsAtTheEndWithAByteOffsetInTheFirstPage() throws {
        let memory = PhysicalMemory()
        memory.fragment(seed: 11, occupancy: 0.5, longestFreeRunPages: 2)
        let port = SimulatedPortWaveRTStream(memory: memory)
        let length = 3 * ps  // spans 4 pages from offset 128
        let mdl = try #require(port.allocatePagesForMdl(highAddress: 0xFFFF_FFFF, totalBytes: length + ps))
        let va = try #require(port.mapAllocatedPages(mdl, cacheType: .writeCombined))
        let buffer = va + 128
        fillRamp(buffer, count: length)
        let expected = (0..<length).map { buffer.load(fromByteOffset: $0, as: UInt8.self) }
        let list = [DMADescriptor](mdl: mdl, port: port, offset: 128, length: length, interruptsAt: [length / 2, length])
        let dma = DMAController(profile: .hda, memory: memory)
        try dma.program(descriptors: list, buffer: mdl)
        #expect(dma.cycleLength == length)
        let interrupts = Atomic<Int>(0)
        dma.interruptHandler = { _ in interrupts.add(1, ordering: .relaxed) }
        dma.start()
        // Odd-sized reads that straddle segment and buffer ends.
        var out: [UInt8] = []
        for chunk in [1000, 3000, 5000, 4000, 2288, 7000] { out += read(dma, chunk) }
        let total = out.count
        #expect(out == (0..<total).map { expected[$0 % length] })
        #expect(dma.position == total % length)
        #expect(dma.bytesTransferred == UInt64(total))
        #expect(dma.interruptCount == UInt64(2 * (total / length) + (total % length >= length / 2 ? 1 : 0)))
        #expect(interrupts.load(ordering: .relaxed) == Int(dma.interruptCount))
        #expect(dma.faultRecords.isEmpty)
        dma.reset()
        #expect(dma.position == 0)
        #expect(read(dma, 16) == Array(expected.prefix(16)))
    }

    @Test func captureWritesLandInTheBuffer() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: 2 * ps))
        let va = try #require(port.mapAllocatedPages(mdl, cacheType: .cached))
        let dma = DMAController(profile: .pcie64SG, memory: memory)
        try dma.program(descriptors: [DMADescriptor](mdl: mdl, port: port, length: 2 * ps), buffer: mdl)
        dma.start()
        let source = (0..<(3 * ps)).map { UInt8(truncatingIfNeeded: $0 * 7) }
        _ = source.withUnsafeBytes { dma.write(from: $0.baseAddress!, count: 3 * ps) }
        // The third page's worth wrapped over the first.
        for i in 0..<(2 * ps) {
            let want = i < ps ? source[2 * ps + i] : source[i]
            if va.load(fromByteOffset: i, as: UInt8.self) != want {
                Issue.record("byte \(i)")
                break
            }
        }
    }

    // Faithful faults: a 32-bit controller given pages above 4 GiB drops the high
    // address bits and plays another page: the bytes out are that page's.
    @Test func faithfulFaultReadsTheAliasedPage() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: ps))
        let page = port.physicalPageAddress(mdl, index: 0)
        #expect(page.rawValue >> 32 == 1)
        let va = try #require(port.mapAllocatedPages(mdl, cacheType: .cached))
        va.initializeMemory(as: UInt8.self, repeating: 0x11, count: ps)
        // What lives at the aliased address (the same address minus 4 GiB).
        let alias = PhysicalAddress(page.rawValue & 0xFFFF_FFFF)
        let other = try #require(port.allocateContiguousPagesForMdl(lowAddress: alias, highAddress: alias + UInt64(ps - 1), totalBytes: ps))
        memory.writePhysical(at: alias, bytes: [UInt8](repeating: 0x77, count: ps))

        let strict = DMAController(profile: .pci32SG, memory: memory)
        #expect(throws: DMAProgramError.self) { try strict.program(descriptors: [DMADescriptor(address: page, length: ps)], buffer: mdl) }

        let dma = DMAController(profile: .pci32SG, memory: memory, faithfulFaults: true)
        try dma.program(descriptors: [DMADescriptor(address: page, length: ps)], buffer: mdl)
        #expect(dma.toleratedViolations == [.aboveAddressLimit(segment: 0, address: page, bits: 32, controller: "pci32-sg")])
        dma.start()
        #expect(read(dma, ps).allSatisfy { $0 == 0x77 })
        #expect(read(dma, ps / 2).allSatisfy { $0 == 0x77 })
        let records = dma.faultRecords
        #expect(records.count == 1)
        #expect(records[0].kind == [.addressTruncated, .strayPage])
        #expect(records[0].intendedAddress == page && records[0].actualAddress == alias)
        #expect(records[0].events == 2 && records[0].bytes == UInt64(ps + ps / 2))
        port.freePagesFromMdl(other)
    }

    // Faithful faults: an 8237 transfer that crosses 64 KiB wraps to the start of the same 64 KiB block.
    @Test func faithfulFaultWrapsInsideTheBoundary() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocateContiguousPagesForMdl(lowAddress: 0x1_F000, highAddress: 0x2_0FFF, totalBytes: 2 * ps))
        let va = try #require(port.mapAllocatedPages(mdl, cacheType: .cached))
        va.initializeMemory(as: UInt8.self, repeating: 0xAA, count: 2 * ps)
        let wrapped = try #require(port.allocateContiguousPagesForMdl(lowAddress: 0x1_0000, highAddress: 0x1_0FFF, totalBytes: ps))
        memory.writePhysical(at: 0x1_0000, bytes: [UInt8](repeating: 0x55, count: ps))
        let dma = DMAController(profile: .isa8237_8bit, memory: memory, faithfulFaults: true)
        try dma.program(baseAddress: 0x1_F000, length: 2 * ps, buffer: mdl)
        dma.start()
        let out = read(dma, 2 * ps)
        #expect(out.prefix(ps).allSatisfy { $0 == 0xAA })
        #expect(out.suffix(ps).allSatisfy { $0 == 0x55 })  // 0x2_0000 became 0x1_0000
        #expect(dma.faultRecords.map(\.kind) == [[.boundaryWrapped, .strayPage]])
        #expect(dma.faultRecords[0].actualAddress == 0x1_0000)
        port.freePagesFromMdl(wrapped)
    }

    @Test func faithfulFaultIntoAHoleReadsOpenBusAndDropsWrites() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: ps))
        let dma = DMAController(profile: .pcie64SG, memory: memory, faithfulFaults: true)
        try dma.program(descriptors: [DMADescriptor(address: 0xC000_0000, length: ps)], buffer: mdl)  // the PCI hole
        dma.start()
        #expect(read(dma, 64).allSatisfy { $0 == 0xFF })
        #expect(dma.faultRecords.first?.kind == .openBus)
    }

    @Test func readingAFreedBufferIsAFaultNotACrash() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: 2 * ps))
        let va = try #require(port.mapAllocatedPages(mdl, cacheType: .cached))
        va.initializeMemory(as: UInt8.self, repeating: 0x42, count: 2 * ps)
        let dma = DMAController(profile: .pcie64SG, memory: memory)
        try dma.program(descriptors: [DMADescriptor](mdl: mdl, port: port, length: 2 * ps), buffer: mdl)
        dma.start()
        #expect(read(dma, 100).allSatisfy { $0 == 0x42 })
        port.unmapAllocatedPages(va, mdl: mdl)
        port.freePagesFromMdl(mdl)
        #expect(read(dma, 100).allSatisfy { $0 == 0 })
        #expect(read(dma, 100).allSatisfy { $0 == 0 })
        #expect(dma.useAfterFreeCount == 2)
        #expect(dma.faultRecords.last?.kind == .useAfterFree)
        #expect(dma.position == 300)
    }

    @Test func stoppedControllerMovesNothing() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: ps))
        let dma = DMAController(profile: .pcie64SG, memory: memory)
        try dma.program(descriptors: [DMADescriptor](mdl: mdl, port: port, length: ps), buffer: mdl)
        var scratch = [UInt8](repeating: 0, count: 16)
        #expect(scratch.withUnsafeMutableBytes { dma.read(into: $0.baseAddress!, count: 16) } == 0)
        #expect(dma.bytesTransferred == 0)
    }
}
