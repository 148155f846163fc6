import Testing
import WaveRTMemory
import WaveRTTestSupport

/// The memory's own account of device copies: what the fuzzers rely on to
/// prove no DMA touched a byte outside allocated RAM.
@Suite struct DMAAccessAuditTests {
    @Test func copiesOutsideAllocatedRAMAreViolationsAndOffCountsNothing() throws {
        let memory = PhysicalMemory()
        let audit = memory.dmaAudit
        let mdl = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 8192))
        let page = mdl.physicalAddress(ofPage: 0).rawValue
        // Off (the default): nothing counted, everything "fine".
        #expect(audit.access(0xA_0000, count: 4, write: true))
        #expect(audit.accessCount == 0 && audit.violationCount == 0)
        audit.isEnabled = true
        #expect(audit.access(page + 100, count: 200, write: false))
        #expect(!audit.access(0xA_0000, count: 4, write: true))                  // the VGA hole
        #expect(!audit.access(memory.map.end.rawValue - 2, count: 4, write: false))  // straddles the end
        #expect(!audit.access(UInt64.max - 1, count: 4, write: false))            // wraps the address space
        let free = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 4096))
        let freed = free.physicalAddress(ofPage: 0).rawValue
        memory.freePagesFromMdl(free)
        #expect(!audit.access(freed, count: 1, write: true))                      // a page freed since
        audit.refusal()
        #expect(audit.accessCount == 5 && audit.accessBytes == 213 && audit.violationCount == 4 && audit.refusedCount == 1)
        #expect(audit.violationSummary == "4 device copies outside allocated RAM (last: 1 bytes at 0x\(String(freed, radix: 16)))")
    }
}
