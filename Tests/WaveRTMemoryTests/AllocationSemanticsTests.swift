import Testing
import WaveRTMemory

/// The allocation DDIs against the sentences of the seeds (`shared/seeds/`).
/// Each test quotes the sentence it checks.
@Suite struct AllocationSemanticsTests {
    let ps = 4096

    /// A small machine: RAM in [0, 64 pages) and [128, 192 pages), a hole between.
    func smallMemory(placement: PlacementPolicy = .topDown) throws -> PhysicalMemory {
        let map = try PhysicalMemoryMap(ramRanges: [
            .init(start: 0, end: PhysicalAddress(UInt64(64 * ps))),
            .init(start: PhysicalAddress(UInt64(128 * ps)), end: PhysicalAddress(UInt64(192 * ps))),
        ])
        return try PhysicalMemory(map: map, placement: placement)
    }

    // "The method always allocates an integral number of pages. If sufficient memory
    //  is available, the memory allocation is the requested size rounded up to the next page."
    @Test func requestIsRoundedUpToWholePages() {
        let memory = PhysicalMemory()
        let mdl = try! #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 5000))
        #expect(mdl.byteCount == 8192)
        #expect(mdl.pageFrameNumbers.count == 2)
        #expect(mdl.pagesSpanned == 2)
        #expect(mdl.byteOffset == 0)
        memory.freePagesFromMdl(mdl)
    }

    // "The physical memory pages in the MDL are not necessarily contiguous in physical
    //  memory, but they all fall within the specified address range."
    @Test func everyPageIsInsideTheRange() {
        let memory = PhysicalMemory()
        let low: PhysicalAddress = 0x20_0000, high: PhysicalAddress = 0xFF_FFFF
        let mdl = try! #require(memory.allocatePagesForMdl(lowAddress: low, highAddress: high, skipBytes: 0, totalBytes: 256 * 1024))
        #expect(mdl.byteCount == 256 * 1024)
        for i in 0..<mdl.pageFrameNumbers.count {
            let pa = mdl.physicalAddress(ofPage: i)
            #expect(pa >= low && pa.rawValue + UInt64(ps) - 1 <= high.rawValue)
        }
        // Top-down placement (the default) takes the highest pages of the range.
        #expect(mdl.physicalAddress(ofPage: mdl.pageFrameNumbers.count - 1) == PhysicalAddress(0x100_0000 - UInt64(ps)))
        memory.freePagesFromMdl(mdl)
    }

    // "MmAllocatePagesForMdl always fills the allocated pages in the returned MDL with zeros."
    @Test func pagesForMdlAreZeroFilledEvenWhenReused() {
        let memory = PhysicalMemory()
        let first = try! #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 2 * ps))
        let address = first.physicalAddress(ofPage: 0)
        memory.writePhysical(at: address, bytes: [UInt8](repeating: 0x5A, count: 2 * ps))
        #expect(memory.readPhysical(at: address, count: 4) == [0x5A, 0x5A, 0x5A, 0x5A])
        memory.freePagesFromMdl(first)
        let second = try! #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 2 * ps))
        #expect(second.pageFrameNumbers == first.pageFrameNumbers)  // top-down hands out the same pages again
        #expect(memory.readPhysical(at: address, count: 2 * ps).allSatisfy { $0 == 0 })
        memory.freePagesFromMdl(second)
    }

    // MmAllocatePagesForMdlEx, MM_DONT_ZERO_ALLOCATION: "Don't fill the allocated pages with zeros."
    @Test func dontZeroAllocationLeavesPagesUninitialised() {
        let memory = PhysicalMemory()
        let mdl = try! #require(memory.allocatePagesForMdlEx(
            lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: ps,
            cacheType: .cached, flags: .dontZeroAllocation))
        let bytes = memory.readPhysical(at: mdl.physicalAddress(ofPage: 0), count: 8)
        #expect(bytes == [0xEF, 0xBE, 0xAD, 0xDE, 0xEF, 0xBE, 0xAD, 0xDE])
        memory.freePagesFromMdl(mdl)
    }

    // MmAllocateContiguousMemory: "Memory that MmAllocateContiguousMemory allocates is uninitialized."
    // "The routine aligns the starting address of a contiguous memory allocation to a memory page boundary."
    // "allocates a block of nonpaged memory that is contiguous in physical address space. The routine
    //  maps this block to a contiguous block of virtual memory in the system address space"
    @Test func contiguousMemoryIsUninitialisedAlignedContiguousAndMapped() throws {
        let memory = PhysicalMemory()
        let va = try #require(memory.allocateContiguousMemory(numberOfBytes: 3 * ps + 10, highestAcceptableAddress: 0xFF_FFFF))
        #expect(UInt(bitPattern: va) % UInt(ps) == 0)
        #expect(va.load(as: UInt32.self) == PhysicalMemory.uninitializedPattern)
        let base = try #require(memory.physicalAddress(of: va))
        #expect(base.rawValue + UInt64(4 * ps) - 1 <= 0xFF_FFFF)  // "the highest valid physical address the caller can use"
        for page in 1..<4 {
            #expect(memory.physicalAddress(of: va + page * ps) == base + UInt64(page * ps))
        }
        va.storeBytes(of: 0x1234_5678, toByteOffset: 2 * ps + 4, as: UInt32.self)
        #expect(memory.readPhysical(at: base + UInt64(2 * ps + 4), count: 4) == [0x78, 0x56, 0x34, 0x12])
        memory.freeContiguousMemory(va)
        #expect(!memory.isAllocated(base))
    }

    // "Otherwise, the memory allocation can be less than the requested size. The caller must
    //  verify how many bytes are actually allocated." / "If the requested number of bytes is not
    //  available, the MDL describes as much physical memory as is available."
    @Test func partialAllocationDescribesWhatWasAvailable() throws {
        let memory = try smallMemory()
        let mdl = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 200 * ps))
        #expect(mdl.byteCount == 128 * ps)
        #expect(memory.freePageCount == 0)
        #expect(memory.diagnostics.all.contains { $0.rule.contains("only 128 of 200 pages") })
        memory.freePagesFromMdl(mdl)
    }

    // "NULL: There are no physical memory pages in the specified address ranges"
    @Test func nilOnlyWhenNothingWasAvailable() throws {
        let memory = try smallMemory()
        // [64, 128) pages is the hole: no RAM at all.
        #expect(memory.allocatePagesForMdl(lowAddress: PhysicalAddress(UInt64(64 * ps)),
                                           highAddress: PhysicalAddress(UInt64(128 * ps) - 1),
                                           skipBytes: 0, totalBytes: ps) == nil)
        let all = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 128 * ps))
        #expect(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: ps) == nil)
        memory.freePagesFromMdl(all)
    }

    // MM_ALLOCATE_FULLY_REQUIRED: "this flag requires MmAllocatePagesForMdlEx to return NULL if it
    //  cannot allocate all of the requested pages"
    @Test func fullyRequiredTurnsPartialIntoNil() throws {
        let memory = try smallMemory()
        #expect(memory.allocatePagesForMdlEx(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 129 * ps,
                                             cacheType: .cached, flags: .fullyRequired) == nil)
        #expect(memory.freePageCount == 128)  // nothing kept from the failed attempt
        let mdl = try #require(memory.allocatePagesForMdlEx(lowAddress: 0, highAddress: .max, skipBytes: 0,
                                                            totalBytes: 128 * ps, cacheType: .cached, flags: .fullyRequired))
        #expect(mdl.byteCount == 128 * ps)
        memory.freePagesFromMdl(mdl)
    }

    // AllocateContiguousPagesForMdl: "If sufficient memory is available, the memory allocation is
    //  the requested size rounded up to the next page; otherwise, the call fails." The memory
    //  manager's half of it (the port's IPortWaveRTStream adds IRQL and book-keeping: WaveRTPortTests).
    @Test func contiguousPagesAreAllOrNothing() throws {
        let memory = try smallMemory()
        let ddi = "IPortWaveRTStream::AllocateContiguousPagesForMdl"
        // 64 free pages per RAM range, separated by a hole: 65 contiguous pages do not exist.
        #expect(memory.allocateContiguousPages(ddi: ddi, lowAddress: 0, highAddress: .max, totalBytes: 65 * ps) == nil)
        #expect(memory.freePageCount == 128)
        #expect(memory.diagnostics.all.last?.ddi == ddi)
        let mdl = try #require(memory.allocateContiguousPages(ddi: ddi, lowAddress: 0, highAddress: .max, totalBytes: 64 * ps - 1))
        #expect(mdl.byteCount == 64 * ps)
        let frames = mdl.pageFrameNumbers
        #expect(zip(frames, frames.dropFirst()).allSatisfy { $0 + 1 == $1 })
        // "All of the physical memory pages in the MDL fall within the address range specified"
        let low = try #require(memory.allocateContiguousPages(ddi: ddi, lowAddress: 0x1000, highAddress: 0x8FFF, totalBytes: 8 * ps))
        #expect(low.pageFrameNumbers == Array(1...8))
        memory.freePagesFromMdl(mdl)
        memory.freePagesFromMdl(low)
        #expect(memory.liveMDLs.isEmpty)
        #expect(memory.freePageCount == 128)
    }

    // "SkipBytes must be an integer multiple of the virtual memory page size, in bytes."
    @Test func skipBytesMustBeAMultipleOfThePageSize() {
        let memory = PhysicalMemory()
        #expect(memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 100, totalBytes: ps) == nil)
        let d = try! #require(memory.diagnostics.all.last)
        #expect(d.ddi == "MmAllocatePagesForMdl" && d.argument == "SkipBytes")
        #expect(d.rule.contains("multiple of the page size"))
    }

    // "If MmAllocatePagesForMdl cannot allocate the requested number of bytes in the first address
    //  range, it iterates through additional address ranges to get more pages. At each iteration,
    //  MmAllocatePagesForMdl adds the value of SkipBytes to the previous start address"
    @Test func skipBytesWalksFurtherRangesUntilMemoryEnds() throws {
        let memory = try smallMemory()
        // First range: pages [0, 16). Skip 128 pages: next range [128, 144), then [256, ...) is past the end.
        let mdl = try #require(memory.allocatePagesForMdl(
            lowAddress: 0, highAddress: PhysicalAddress(UInt64(16 * ps) - 1),
            skipBytes: UInt64(128 * ps), totalBytes: 40 * ps))
        #expect(mdl.byteCount == 32 * ps)  // two ranges of 16 pages, then memory ends: partial
        #expect(mdl.pageFrameNumbers == Array(0..<16) + Array(128..<144))
        memory.freePagesFromMdl(mdl)
    }

    // "the maximum amount of memory that MmAllocatePagesForMdl can allocate in a single call is
    //  (4 gigabytes - PAGE_SIZE)"
    @Test func atMostFourGiBMinusAPagePerCall() throws {
        let map = try PhysicalMemoryMap(ramRanges: [.init(start: 0, end: 0x1_8000_0000)])  // 6 GiB
        let memory = try PhysicalMemory(map: map)
        let mdl = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 5 << 30))
        #expect(mdl.byteCount == (1 << 32) - ps)
        #expect(memory.diagnostics.all.contains { $0.argument == "TotalBytes" && $0.rule.contains("4 GiB - PAGE_SIZE") })
        memory.freePagesFromMdl(mdl)
        #expect(memory.allocatePagesForMdlEx(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 5 << 30,
                                             cacheType: .cached, flags: .fullyRequired) == nil)
    }

    // MM_ALLOCATE_REQUIRE_CONTIGUOUS_CHUNKS with SkipBytes 0: one contiguous block or NULL;
    // with a power-of-two SkipBytes: SkipBytes-sized chunks aligned to SkipBytes.
    @Test func requireContiguousChunks() throws {
        let memory = try smallMemory(placement: .bottomUp)
        let block = try #require(memory.allocatePagesForMdlEx(lowAddress: 0, highAddress: .max, skipBytes: 0,
                                                              totalBytes: 10 * ps, cacheType: .cached,
                                                              flags: .requireContiguousChunks))
        #expect(block.pageFrameNumbers == Array(0..<10))
        let chunks = try #require(memory.allocatePagesForMdlEx(lowAddress: 0, highAddress: .max, skipBytes: UInt64(4 * ps),
                                                               totalBytes: 8 * ps, cacheType: .cached,
                                                               flags: .requireContiguousChunks))
        #expect(chunks.pageFrameNumbers == Array(12..<20))  // 4-page aligned chunks after the 10-page block
        #expect(memory.allocatePagesForMdlEx(lowAddress: 0, highAddress: .max, skipBytes: UInt64(3 * ps),
                                             totalBytes: 8 * ps, cacheType: .cached, flags: .requireContiguousChunks) == nil)
        memory.freePagesFromMdl(block)
        memory.freePagesFromMdl(chunks)
    }

    @Test func placementPolicies() throws {
        let top = PhysicalMemory()
        let a = try #require(top.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 4 * ps))
        #expect(a.physicalAddress(ofPage: 0) >= 0x1_0000_0000)  // top-down: above 4 GiB

        let bottom = try PhysicalMemory(map: .pc, placement: .bottomUp)
        let b = try #require(bottom.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 4 * ps))
        #expect(b.pageFrameNumbers == [0, 1, 2, 3])

        func randomFrames(_ seed: UInt64) throws -> [UInt64] {
            let m = try PhysicalMemory(map: .pc, placement: .random(seed: seed))
            return try #require(m.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 8 * ps)).pageFrameNumbers
        }
        let r1 = try randomFrames(7), r2 = try randomFrames(7), r3 = try randomFrames(8)
        #expect(r1 == r2)
        #expect(r1 != r3)
        #expect(Set(r1).count == 8 && r1.allSatisfy { $0 < 0x10_0000 })
    }
}
