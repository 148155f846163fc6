import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA

/// Program-time validation: each preset against MDLs that fit and MDLs that break each rule.
@Suite struct DMAValidationTests {
    let ps = 4096

    func descriptors(_ mdl: MDL, _ port: SimulatedPortWaveRTStream, offset: Int = 0, length: Int? = nil,
                     maxSegment: Int = .max) -> [DMADescriptor]
    {
        [DMADescriptor](mdl: mdl, port: port, offset: offset, length: length ?? mdl.byteCount - offset,
                        maxSegmentLength: maxSegment)
    }

    func expectError(_ expected: DMAProgramError, _ body: () throws(DMAProgramError) -> Void) {
        do {
            try body()
            Issue.record("expected \(expected)")
        } catch {
            #expect(error == expected)
        }
    }

    @Test func everyPresetAcceptsABufferThatFits() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        // ISA 8-bit: contiguous, below 16 MiB, inside one 64 KiB block.
        let isa8 = try #require(port.allocateContiguousPagesForMdl(lowAddress: 0, highAddress: 0xFF_FFFF, totalBytes: 32 * 1024))
        try DMAController(profile: .isa8237_8bit, memory: memory)
            .program(baseAddress: port.physicalPageAddress(isa8, index: 0), length: 32 * 1024, buffer: isa8)
        // ISA 16-bit: 128 KiB inside one 128 KiB block.
        let isa16 = try #require(port.allocateContiguousPagesForMdl(lowAddress: 0x2_0000, highAddress: 0x3_FFFF, totalBytes: 128 * 1024))
        try DMAController(profile: .isa8237_16bit, memory: memory)
            .program(baseAddress: port.physicalPageAddress(isa16, index: 0), length: 128 * 1024, buffer: isa16)
        // 32-bit scatter-gather and HD Audio: pages below 4 GiB.
        let low = try #require(port.allocatePagesForMdl(highAddress: 0xFFFF_FFFF, totalBytes: 64 * 1024))
        try DMAController(profile: .pci32SG, memory: memory).program(descriptors: descriptors(low, port, maxSegment: 65536), buffer: low)
        try DMAController(profile: .hda, memory: memory).program(descriptors: descriptors(low, port), buffer: low)
        // 64-bit: anywhere, including the top-down default above 4 GiB.
        let high = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: 64 * 1024))
        #expect(high.physicalAddress(ofPage: 0) >= 0x1_0000_0000)
        try DMAController(profile: .pcie64SG, memory: memory).program(descriptors: descriptors(high, port), buffer: high)
    }

    // The classic bug: AllocatePagesForMdl(highAddress: MAXULONG64) on a 32-bit controller.
    @Test func pagesAboveFourGiBOnA32BitController() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: 16 * 1024))
        let list = descriptors(mdl, port)
        for profile in [DMAProfile.pci32SG, .hda] {
            do {
                try DMAController(profile: profile, memory: memory).program(descriptors: list, buffer: mdl)
                Issue.record("\(profile.name) accepted pages above 4 GiB")
            } catch {
                #expect(error == .aboveAddressLimit(segment: 0, address: list[0].address, bits: 32, controller: profile.name))
                #expect(error.description == "segment 0 at \(list[0].address) is above the 32-bit limit of controller \(profile.name)")
                #expect(error.description.contains("0x1_3fff_c000"))
            }
        }
    }

    @Test func isaBufferAbove16MiB() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocateContiguousPagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, totalBytes: 8192))
        let base = port.physicalPageAddress(mdl, index: 0)
        expectError(.aboveAddressLimit(segment: 0, address: base, bits: 24, controller: "isa8237-8bit")) { () throws(DMAProgramError) in
            try DMAController(profile: .isa8237_8bit, memory: memory).program(baseAddress: base, length: 8192, buffer: mdl)
        }
    }

    @Test func isaBufferCrossingA64KiBBoundary() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocateContiguousPagesForMdl(lowAddress: 0x1_F000, highAddress: 0x2_0FFF, totalBytes: 8192))
        expectError(.crossesBoundary(segment: 0, address: 0x1_F000, length: 8192, boundary: 65536, controller: "isa8237-8bit")) { () throws(DMAProgramError) in
            try DMAController(profile: .isa8237_8bit, memory: memory).program(baseAddress: 0x1_F000, length: 8192, buffer: mdl)
        }
        // 0x2_0000 is a 128 KiB boundary too; 0x1_0000 is only a 64 KiB one.
        expectError(.crossesBoundary(segment: 0, address: 0x1_F000, length: 8192, boundary: 131072, controller: "isa8237-16bit")) { () throws(DMAProgramError) in
            try DMAController(profile: .isa8237_16bit, memory: memory).program(baseAddress: 0x1_F000, length: 8192, buffer: mdl)
        }
        let other = try #require(port.allocateContiguousPagesForMdl(lowAddress: 0xF000, highAddress: 0x1_0FFF, totalBytes: 8192))
        expectError(.crossesBoundary(segment: 0, address: 0xF000, length: 8192, boundary: 65536, controller: "isa8237-8bit")) { () throws(DMAProgramError) in
            try DMAController(profile: .isa8237_8bit, memory: memory).program(baseAddress: 0xF000, length: 8192, buffer: other)
        }
        try DMAController(profile: .isa8237_16bit, memory: memory).program(baseAddress: 0xF000, length: 8192, buffer: other)
    }

    @Test func contiguousControllerGivenScatteredPages() throws {
        let memory = PhysicalMemory()
        memory.fragment(seed: 5, occupancy: 0.5, longestFreeRunPages: 1)
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocatePagesForMdl(highAddress: 0xFF_FFFF, totalBytes: 8192))
        let base = port.physicalPageAddress(mdl, index: 0)
        do {
            try DMAController(profile: .isa8237_8bit, memory: memory).program(baseAddress: base, length: 8192, buffer: mdl)
            Issue.record("accepted scattered pages")
        } catch {
            guard case .notContiguous(let page, let expected, let actual, "isa8237-8bit") = error else {
                Issue.record("wrong error \(error)")
                return
            }
            #expect(page == 1 && expected == base + 4096 && actual == port.physicalPageAddress(mdl, index: 1))
        }
    }

    @Test func hdaDescriptorListRules() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        memory.fragment(seed: 2, occupancy: 0.5, longestFreeRunPages: 1)  // no two pages adjacent
        let big = try #require(port.allocatePagesForMdl(highAddress: 0xFFFF_FFFF, totalBytes: 257 * ps))
        let list = descriptors(big, port)
        #expect(list.count == 257)
        let hda = DMAController(profile: .hda, memory: memory)
        expectError(.tooManySegments(count: 257, limit: 256, controller: "hda")) { () throws(DMAProgramError) in
            try hda.program(descriptors: list, buffer: big)
        }
        try hda.program(descriptors: Array(list.prefix(256)), buffer: big)
        // A buffer that starts 64 bytes into its first page breaks the 128-byte alignment.
        let shifted = descriptors(big, port, offset: 64, length: 8 * ps)
        expectError(.misaligned(segment: 0, address: shifted[0].address, alignment: 128, controller: "hda")) { () throws(DMAProgramError) in
            try hda.program(descriptors: shifted, buffer: big)
        }
        // 128 bytes in is fine.
        try hda.program(descriptors: descriptors(big, port, offset: 128, length: 8 * ps), buffer: big)
    }

    @Test func segmentLengthEmptinessHolesAndForeignPages() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocateContiguousPagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, totalBytes: 128 * 1024))
        let base = port.physicalPageAddress(mdl, index: 0)
        let pci = DMAController(profile: .pci32SG, memory: memory)
        expectError(.segmentTooLong(segment: 0, length: 131072, limit: 65536, controller: "pci32-sg")) { () throws(DMAProgramError) in
            try pci.program(descriptors: [DMADescriptor(address: base, length: 131072)], buffer: mdl)
        }
        expectError(.emptySegment(segment: 1, controller: "pci32-sg")) { () throws(DMAProgramError) in
            try pci.program(descriptors: [DMADescriptor(address: base, length: 4096), DMADescriptor(address: base, length: 0)], buffer: mdl)
        }
        expectError(.emptyProgram(controller: "pci32-sg")) { () throws(DMAProgramError) in
            try pci.program(descriptors: [], buffer: mdl)
        }
        expectError(.notRAM(segment: 1, address: 0xA_0000, controller: "pci32-sg")) { () throws(DMAProgramError) in
            try pci.program(descriptors: [DMADescriptor(address: base, length: 4096), DMADescriptor(address: 0xA_0000, length: 4096)], buffer: mdl)
        }
        expectError(.outsideBuffer(segment: 0, address: 0x10_0000, controller: "pci32-sg")) { () throws(DMAProgramError) in
            try pci.program(descriptors: [DMADescriptor(address: 0x10_0000, length: 4096)], buffer: mdl)
        }
        port.freePagesFromMdl(mdl)
        expectError(.bufferFreed(controller: "pci32-sg")) { () throws(DMAProgramError) in
            try pci.program(descriptors: [DMADescriptor(address: base, length: 4096)], buffer: mdl)
        }
    }

    @Test func reprogrammingWhileRunningIsRefused() throws {
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: 8192))
        let dma = DMAController(profile: .pcie64SG, memory: memory)
        try dma.program(descriptors: descriptors(mdl, port), buffer: mdl)
        dma.start()
        expectError(.running(controller: "pcie64-sg")) { () throws(DMAProgramError) in
            try dma.program(descriptors: descriptors(mdl, port), buffer: mdl)
        }
        dma.stop()
        try dma.program(descriptors: descriptors(mdl, port), buffer: mdl)
    }
}
