import Testing
import WaveRTDMA
import WaveRTMemory

/// Program-time validation: each preset against buffers that fit and buffers that break each rule.
@Suite struct DMAValidationTests {
    let ps = 4096

    func expectError(_ expected: DMAProgramError, _ body: () throws(DMAProgramError) -> Void) {
        do {
            try body()
            Issue.record("expected \(expected)")
        } catch {
            #expect(error == expected)
        }
    }

    func contiguous(_ memory: PhysicalMemory, _ low: PhysicalAddress, _ high: PhysicalAddress, _ bytes: Int) throws -> MDL {
        try #require(memory.allocateContiguousPages(ddi: "test", lowAddress: low, highAddress: high, totalBytes: bytes))
    }

    @Test func everyPresetAcceptsABufferThatFits() throws {
        let memory = PhysicalMemory()
        // ISA 8-bit: contiguous, below 16 MiB, inside one 64 KiB block.
        let isa8 = try contiguous(memory, 0, 0xFF_FFFF, 32 * 1024)
        try DMAController(profile: .isa8237_8bit, memory: memory)
            .program(descriptors: [DMADescriptor(address: isa8.physicalAddress(ofPage: 0), length: 32 * 1024)])
        // ISA 16-bit: 128 KiB inside one 128 KiB block.
        let isa16 = try contiguous(memory, 0x2_0000, 0x3_FFFF, 128 * 1024)
        try DMAController(profile: .isa8237_16bit, memory: memory)
            .program(descriptors: [DMADescriptor(address: isa16.physicalAddress(ofPage: 0), length: 128 * 1024)])
        // 32-bit scatter-gather and HD Audio: pages below 4 GiB.
        let low = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 64 * 1024))
        try DMAController(profile: .pci32SG, memory: memory).program(descriptors: [DMADescriptor](mdl: low, length: 64 * 1024, maxSegmentLength: 65536))
        try DMAController(profile: .hda, memory: memory).program(descriptors: [DMADescriptor](mdl: low, length: 64 * 1024))
        // 64-bit: anywhere, including the top-down default above 4 GiB.
        let high = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 64 * 1024))
        #expect(high.physicalAddress(ofPage: 0) >= 0x1_0000_0000)
        try DMAController(profile: .pcie64SG, memory: memory).program(descriptors: [DMADescriptor](mdl: high, length: 64 * 1024))
        for mdl in [isa8, isa16, low, high] { memory.freePagesFromMdl(mdl) }
    }

    // The classic bug: AllocatePagesForMdl(HighAddress: MAXULONG64) on a 32-bit controller.
    @Test func pagesAboveFourGiBOnA32BitController() throws {
        let memory = PhysicalMemory()
        let mdl = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 16 * 1024))
        let list = [DMADescriptor](mdl: mdl, length: 16 * 1024)
        for profile in [DMAProfile.pci32SG, .hda] {
            do {
                try DMAController(profile: profile, memory: memory).program(descriptors: list)
                Issue.record("\(profile.name) accepted pages above 4 GiB")
            } catch {
                #expect(error == .aboveAddressLimit(segment: 0, address: list[0].address, bits: 32, controller: profile.name))
                #expect(error.description == "segment 0 at \(list[0].address) is above the 32-bit limit of controller \(profile.name)")
                #expect(error.description.contains("0x1_3fff_c000"))
            }
        }
        memory.freePagesFromMdl(mdl)
    }

    @Test func isaBufferAbove16MiB() throws {
        let memory = PhysicalMemory()
        let mdl = try contiguous(memory, 0, 0xFFFF_FFFF, 8192)
        let base = mdl.physicalAddress(ofPage: 0)
        #expect(base.rawValue > 0xFF_FFFF)
        expectError(.aboveAddressLimit(segment: 0, address: base, bits: 24, controller: "isa8237-8bit")) { () throws(DMAProgramError) in
            try DMAController(profile: .isa8237_8bit, memory: memory).program(descriptors: [DMADescriptor(address: base, length: 8192)])
        }
    }

    @Test func isaBufferCrossingA64KiBBoundary() throws {
        let memory = PhysicalMemory()
        _ = try contiguous(memory, 0x1_F000, 0x2_0FFF, 8192)
        expectError(.crossesBoundary(segment: 0, address: 0x1_F000, length: 8192, boundary: 65536, controller: "isa8237-8bit")) { () throws(DMAProgramError) in
            try DMAController(profile: .isa8237_8bit, memory: memory).program(descriptors: [DMADescriptor(address: 0x1_F000, length: 8192)])
        }
        // 0x2_0000 is a 128 KiB boundary too; 0x1_0000 is only a 64 KiB one.
        expectError(.crossesBoundary(segment: 0, address: 0x1_F000, length: 8192, boundary: 131072, controller: "isa8237-16bit")) { () throws(DMAProgramError) in
            try DMAController(profile: .isa8237_16bit, memory: memory).program(descriptors: [DMADescriptor(address: 0x1_F000, length: 8192)])
        }
        _ = try contiguous(memory, 0xF000, 0x1_0FFF, 8192)
        expectError(.crossesBoundary(segment: 0, address: 0xF000, length: 8192, boundary: 65536, controller: "isa8237-8bit")) { () throws(DMAProgramError) in
            try DMAController(profile: .isa8237_8bit, memory: memory).program(descriptors: [DMADescriptor(address: 0xF000, length: 8192)])
        }
        try DMAController(profile: .isa8237_16bit, memory: memory).program(descriptors: [DMADescriptor(address: 0xF000, length: 8192)])
    }

    // A contiguous controller takes one base address and one length: scattered
    // pages need more than one segment, which it cannot take.
    @Test func contiguousControllerGivenScatteredPages() throws {
        let memory = PhysicalMemory()
        memory.fragment(seed: 5, occupancy: 0.5, longestFreeRunPages: 1)
        let mdl = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFF_FFFF, skipBytes: 0, totalBytes: 8192))
        let list = [DMADescriptor](mdl: mdl, length: 8192)
        #expect(list.count == 2)
        // A contiguous bus master without the 8237's boundary, so only contiguity matters here.
        let profile = try DMAProfile(name: "contiguous32", summary: "test", addressBits: 32, scatterGather: false, maxSegments: 1,
                                     segmentAlignment: 1, bufferAlignment: 1, maxSegmentLength: 1 << 20, boundary: 0,
                                     burstBytes: 4, fifoFrames: 1)
        expectError(.tooManySegments(count: 2, limit: 1, controller: "contiguous32")) { () throws(DMAProgramError) in
            try DMAController(profile: profile, memory: memory).program(descriptors: list)
        }
        // Programmed as if contiguous (base and length only), the second page the
        // controller reads is not the buffer's: it plays whatever lies there.
        let base = mdl.physicalAddress(ofPage: 0)
        #expect(mdl.physicalAddress(ofPage: 1) != base + UInt64(ps))
        memory.writePhysical(at: mdl.physicalAddress(ofPage: 0), bytes: [UInt8](repeating: 0x33, count: ps))
        memory.writePhysical(at: mdl.physicalAddress(ofPage: 1), bytes: [UInt8](repeating: 0x33, count: ps))
        let dma = DMAController(profile: profile, memory: memory)
        try dma.program(descriptors: [DMADescriptor(address: base, length: 8192)])
        var out = [UInt8](repeating: 0, count: 8192)
        _ = out.withUnsafeMutableBytes { dma.read(into: $0.baseAddress!, count: 8192) }
        #expect(out.prefix(ps).allSatisfy { $0 == 0x33 })
        #expect(!out.suffix(ps).allSatisfy { $0 == 0x33 })
        memory.freePagesFromMdl(mdl)
    }

    @Test func hdaDescriptorListRules() throws {
        let memory = PhysicalMemory()
        memory.fragment(seed: 2, occupancy: 0.5, longestFreeRunPages: 1)  // no two pages adjacent
        let big = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 257 * ps))
        let list = [DMADescriptor](mdl: big, length: 257 * ps)
        #expect(list.count == 257)
        let hda = DMAController(profile: .hda, memory: memory)
        expectError(.tooManySegments(count: 257, limit: 256, controller: "hda")) { () throws(DMAProgramError) in
            try hda.program(descriptors: list)
        }
        try hda.program(descriptors: Array(list.prefix(256)))
        // A buffer that starts 64 bytes into its first page breaks the 128-byte alignment.
        let shifted = [DMADescriptor](mdl: big, offset: 64, length: 8 * ps)
        expectError(.misaligned(segment: 0, address: shifted[0].address, alignment: 128, controller: "hda")) { () throws(DMAProgramError) in
            try hda.program(descriptors: shifted)
        }
        // 128 bytes in is fine.
        try hda.program(descriptors: [DMADescriptor](mdl: big, offset: 128, length: 8 * ps))
        memory.freePagesFromMdl(big)
    }

    @Test func segmentLengthEmptinessHolesAndForeignPages() throws {
        let memory = PhysicalMemory()
        let mdl = try contiguous(memory, 0, 0xFFFF_FFFF, 128 * 1024)
        let base = mdl.physicalAddress(ofPage: 0)
        let pci = DMAController(profile: .pci32SG, memory: memory)
        expectError(.segmentTooLong(segment: 0, length: 131072, limit: 65536, controller: "pci32-sg")) { () throws(DMAProgramError) in
            try pci.program(descriptors: [DMADescriptor(address: base, length: 131072)])
        }
        expectError(.emptySegment(segment: 1, controller: "pci32-sg")) { () throws(DMAProgramError) in
            try pci.program(descriptors: [DMADescriptor(address: base, length: 4096), DMADescriptor(address: base, length: 0)])
        }
        expectError(.emptyProgram(controller: "pci32-sg")) { () throws(DMAProgramError) in
            try pci.program(descriptors: [])
        }
        expectError(.notRAM(segment: 1, address: 0xA_0000, controller: "pci32-sg")) { () throws(DMAProgramError) in
            try pci.program(descriptors: [DMADescriptor(address: base, length: 4096), DMADescriptor(address: 0xA_0000, length: 4096)])
        }
        // Pages nobody allocated.
        expectError(.unallocated(segment: 0, address: 0x10_0000, controller: "pci32-sg")) { () throws(DMAProgramError) in
            try pci.program(descriptors: [DMADescriptor(address: 0x10_0000, length: 4096)])
        }
        // A freed buffer's pages are unallocated again.
        memory.freePagesFromMdl(mdl)
        expectError(.unallocated(segment: 0, address: base, controller: "pci32-sg")) { () throws(DMAProgramError) in
            try pci.program(descriptors: [DMADescriptor(address: base, length: 4096)])
        }
        #expect(DMAProgramError.unallocated(segment: 0, address: base, controller: "pci32-sg").description.contains("nobody has allocated"))
    }

    // The first byte must meet bufferAlignment, every segment segmentAlignment.
    @Test func alignmentOfTheFirstAndLaterSegments() throws {
        let memory = PhysicalMemory()
        let mdl = try contiguous(memory, 0, 0xFFFF_FFFF, 2 * ps)
        let base = mdl.physicalAddress(ofPage: 0)
        let pci = DMAController(profile: .pci32SG, memory: memory)
        expectError(.misaligned(segment: 0, address: base + 2, alignment: 4, controller: "pci32-sg")) { () throws(DMAProgramError) in
            try pci.program(descriptors: [DMADescriptor(address: base + 2, length: 100)])
        }
        expectError(.misaligned(segment: 1, address: base + 102, alignment: 4, controller: "pci32-sg")) { () throws(DMAProgramError) in
            try pci.program(descriptors: [DMADescriptor(address: base, length: 100), DMADescriptor(address: base + 102, length: 100)])
        }
        try pci.program(descriptors: [DMADescriptor(address: base, length: 100), DMADescriptor(address: base + 104, length: 100)])
        #expect(pci.cycleLength == 200)
        memory.freePagesFromMdl(mdl)
    }
}
