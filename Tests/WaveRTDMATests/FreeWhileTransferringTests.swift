import Foundation
import Synchronization
import Testing
import WaveRTDMA
import WaveRTMemory
import WaveRTTestSupport

/// A driver frees (`MmFreePagesFromMdl`) the buffer its capture DMA is still
/// writing, on another thread, while transfers run; the pages go straight to
/// a new allocation. The engine's ownership check and its copy are one step
/// the free waits out (``DMATransferGate``), so no byte of the new owner's
/// memory is ever written: every refused transfer is counted as a fault
/// instead. Run under ThreadSanitizer in CI (`.ci/sanitizers`).
@Suite(.serialized, .realTime) struct FreeWhileTransferringTests {
    let ps = 4096

    @Test(.timeLimit(.minutes(1)))
    func captureNeverWritesIntoPagesFreedUnderIt() throws {
        let memory = PhysicalMemory()
        var refused: UInt64 = 0
        var writesAfterFree: UInt64 = 0
        for round in 0..<150 {
            let bytes = ps * (1 + round % 3)
            let old = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: bytes))
            let dma = DMAController(profile: .pcie64SG, memory: memory)
            try dma.program(descriptors: [DMADescriptor](mdl: old, length: bytes))
            dma.isRunning = true
            let stop = Atomic<Bool>(false), stopped = Atomic<Bool>(false)
            // The engine: 0xEE bursts of odd sizes, as fast as it can, until told to stop.
            Thread.detachNewThread {
                var fifo = [UInt8](repeating: 0xEE, count: 1000)
                fifo.withUnsafeMutableBytes { raw in
                    while !stop.load(ordering: .relaxed) { _ = dma.write(from: raw.baseAddress!, count: 1000) }
                }
                stopped.store(true, ordering: .releasing)
            }
            while dma.bytesTransferred < UInt64(2 * bytes) { sched_yield() }
            // The driver frees the buffer under the running engine; a new allocation takes the same pages.
            memory.freePagesFromMdl(old)
            let new = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: bytes))
            #expect(Set(new.pageFrameNumbers) == Set(old.pageFrameNumbers), "top-down placement reuses the freed pages")
            // Let the engine run on over them for several more cycles.
            let after = dma.bytesTransferred
            while dma.bytesTransferred < after + UInt64(4 * bytes) { sched_yield() }
            stop.store(true, ordering: .relaxed)
            while !stopped.load(ordering: .acquiring) { sched_yield() }
            for page in 0..<new.pageFrameNumbers.count {
                let landed = memory.readPhysical(at: new.physicalAddress(ofPage: page), count: ps).filter { $0 != 0 }.count
                writesAfterFree += UInt64(landed)
            }
            refused += dma.useAfterFreeCount
            #expect(dma.useAfterFreeCount >= UInt64(4 * bytes / 1000) / 2, "round \(round): \(dma.useAfterFreeCount) refused copies")
            dma.isRunning = false
            memory.freePagesFromMdl(new)
        }
        #expect(writesAfterFree == 0, "\(writesAfterFree) bytes written into a new owner's pages")
        #expect(refused > 0)
    }
}
