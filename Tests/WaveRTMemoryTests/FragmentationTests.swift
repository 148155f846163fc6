import Glibc
import Testing
@testable import WaveRTMemory

@Suite struct FragmentationTests {
    let ps = 4096

    // AllocateContiguousPagesForMdl: "After a system has been running for some time, the system's pool
    //  of nonpaged memory tends to become fragmented, which increases the probability that a request to
    //  allocate a large block of contiguous physical memory will fail." ... "Unlike
    //  AllocateContiguousPagesForMdl, the AllocatePagesForMdl method is not affected by memory fragmentation."
    @Test func contiguousFailsWhileScatterGatherSucceeds() throws {
        let memory = PhysicalMemory()
        memory.fragment(seed: 42, occupancy: 0.6, longestFreeRunPages: 8)
        #expect(memory.longestFreeRunPages <= 8)
        let ddi = "IPortWaveRTStream::AllocateContiguousPagesForMdl"
        #expect(memory.allocateContiguousPages(ddi: ddi, lowAddress: 0, highAddress: .max, totalBytes: 64 * 1024) == nil)
        #expect(memory.allocateContiguousMemory(numberOfBytes: 64 * 1024, highestAcceptableAddress: .max) == nil)
        let sg = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 64 * 1024))
        #expect(sg.byteCount == 64 * 1024)
        #expect(memory.diagnostics.all.contains { $0.ddi == ddi && $0.rule.contains("longest free run") })
        memory.freePagesFromMdl(sg)
        // Small contiguous requests still fit into the remaining holes.
        let small = try #require(memory.allocateContiguousPages(ddi: ddi, lowAddress: 0, highAddress: .max, totalBytes: 8 * ps))
        #expect(zip(small.pageFrameNumbers, small.pageFrameNumbers.dropFirst()).allSatisfy { $0 + 1 == $1 })
        memory.freePagesFromMdl(small)
    }

    @Test func occupancyIsNearTheTargetAndTheBoundHolds() {
        let memory = PhysicalMemory()
        let ramPages = Int(memory.map.totalRAMBytes) / ps
        memory.fragment(seed: 1, occupancy: 0.75, longestFreeRunPages: 16)
        let used = Double(ramPages - memory.freePageCount) / Double(ramPages)
        #expect(abs(used - 0.75) < 0.03, "occupancy \(used)")
        #expect(memory.longestFreeRunPages <= 16)
        #expect(memory.longestFreeRunPages >= 12)  // the bound is reached, not just respected
        memory.releaseFragmentation()
        #expect(memory.freePageCount == ramPages)
        #expect(memory.systemPageCount == 0)
    }

    @Test func sameSeedSameMachine() throws {
        func run(_ seed: UInt64) throws -> (Int, [UInt64]) {
            let m = PhysicalMemory()
            m.fragment(seed: seed, occupancy: 0.5, longestFreeRunPages: 4)
            let mdl = try #require(m.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 64 * ps))
            return (m.freePageCount, mdl.pageFrameNumbers)
        }
        let a = try run(9), b = try run(9), c = try run(10)
        #expect(a.0 == b.0 && a.1 == b.1)
        #expect(a.1 != c.1)
    }

    @Test func nonsenseArgumentsLeaveMemoryAlone() {
        let memory = PhysicalMemory()
        let free = memory.freePageCount
        memory.fragment(seed: 1, occupancy: 1.5, longestFreeRunPages: 4)
        memory.fragment(seed: 1, occupancy: 0.5, longestFreeRunPages: 0)
        #expect(memory.freePageCount == free)
        #expect(memory.diagnostics.all.map(\.argument) == ["occupancy", "longestFreeRunPages"])
    }

    // "Only pages in use may cost host memory": a sparse memfd, holes punched on free.
    @Test func onlyTouchedPagesCostHostMemory() throws {
        let memory = PhysicalMemory()
        func hostBytes() -> Int {
            var st = stat()
            fstat(memory.backing.fd, &st)
            return Int(st.st_blocks) * 512
        }
        #expect(hostBytes() == 0)  // 5 GiB of emulated RAM, nothing resident
        let mdl = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 1 << 20))
        let va = try #require(memory.mapLockedPagesSpecifyCache(mdl, cacheType: .cached))
        va.initializeMemory(as: UInt8.self, repeating: 1, count: 1 << 20)
        #expect(hostBytes() == 1 << 20)
        memory.unmapLockedPages(va, mdl: mdl)
        memory.freePagesFromMdl(mdl)
        #expect(hostBytes() == 0)
    }
}
