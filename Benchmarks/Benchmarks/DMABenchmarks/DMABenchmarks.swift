// Benchmarks of the emulated DMA controller's real-time transfer path, against
// a plain memcpy of the same size. See ../../README.md for what each measures
// and its goal.
import Benchmark
import Glibc
import WaveRT

let transferBytes = 1 << 20  // 1 MiB: 256 pages of 4 KiB
let pageCount = transferBytes / 4096

/// The MB/s of one iteration, from our own clock (decimal megabytes: 10⁶ B/s).
let megabytesPerSecond = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)

@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Records MB/s for `bytes` moved in `nanoseconds`.
@inline(__always)
func recordRate(_ benchmark: Benchmark, bytes: Int, nanoseconds: UInt64) {
    guard nanoseconds > 0 else { return }
    benchmark.measurement(megabytesPerSecond, Int(Double(bytes) * 1e3 / Double(nanoseconds)))
}

/// A 1 MiB scatter-gather buffer on memory fragmented so that no two of its
/// pages are physically adjacent (allocated with MmAllocatePagesForMdlEx on an
/// emulated machine), programmed page by page into a running pcie64-sg controller.
final class GatherFixture: @unchecked Sendable {
    let memory: PhysicalMemory
    let machine: Machine
    let mdl: MDL
    let mapping: UnsafeMutableRawPointer
    let dma: DMAController
    let destination: UnsafeMutableRawPointer

    init() {
        memory = PhysicalMemory()
        memory.fragment(seed: 1, occupancy: 0.5, longestFreeRunPages: 1)
        machine = Machine(timebase: VirtualClock(), memory: memory)
        let (mdl, va): (MDL, UnsafeMutableRawPointer) = machine.withCurrent {
            guard let mdl = mmAllocatePagesForMdlEx(0, .max, 0, transferBytes, .cached, []) else {
                fatalError("DMA gather: MmAllocatePagesForMdlEx returned NULL")
            }
            guard let va = mmMapLockedPagesSpecifyCache(mdl, .cached) else { fatalError("DMA gather: mapping failed") }
            return (mdl, va)
        }
        self.mdl = mdl
        mapping = va
        let pfns = mdl.pageFrameNumbers
        precondition(pfns.count == pageCount && mdl.byteCount == transferBytes,
                     "DMA gather: got a partial MDL (\(pfns.count) pages, \(mdl.byteCount) bytes)")
        for i in 1..<pfns.count {
            let a = pfns[i - 1], b = pfns[i]
            precondition(b != a + 1 && a != b + 1, "DMA gather: pages \(i - 1) and \(i) are physically adjacent (PFN \(a), \(b))")
        }
        // One descriptor per page: what a driver's scatter-gather list holds for scattered pages.
        let descriptors = (0..<pageCount).map { DMADescriptor(address: mdl.physicalAddress(ofPage: $0), length: 4096) }

        // Fill the buffer through its system-space mapping, so the DMA reads real data.
        for i in 0..<transferBytes { va.storeBytes(of: UInt8(truncatingIfNeeded: i &* 31 &+ i >> 12), toByteOffset: i, as: UInt8.self) }

        dma = DMAController(profile: .pcie64SG, memory: memory)
        do {
            try dma.program(descriptors: descriptors)
        } catch {
            fatalError("DMA gather: program failed: \(error)")
        }
        precondition(dma.cycleLength == transferBytes, "DMA gather: cycle is \(dma.cycleLength) bytes")
        dma.isRunning = true

        destination = .allocate(byteCount: transferBytes, alignment: 4096)
        memset(destination, 0, transferBytes)
        // One checked transfer: the gather must reproduce what was written.
        precondition(dma.read(into: destination, count: transferBytes) == transferBytes, "DMA gather: short read")
        precondition(memcmp(destination, va, transferBytes) == 0, "DMA gather: read back differs from the buffer")
        precondition(dma.cycleOffset == 0, "DMA gather: a whole cycle should leave the position at 0")
    }

    func tearDown() {
        dma.isRunning = false
        precondition(dma.faultEventCount == 0, "DMA gather: \(dma.faultEventCount) fault events")
        machine.withCurrent {
            mmUnmapLockedPages(mapping, mdl)
            mmFreePagesFromMdl(mdl)
        }
        precondition(memory.liveMDLs.isEmpty && machine.verifier.violations.isEmpty, "DMA gather: leaked or broke a rule")
        machine.shutdown()
        destination.deallocate()
    }
}

/// Two ordinary 1 MiB host buffers, touched up front.
final class CopyFixture: @unchecked Sendable {
    let source: UnsafeMutableRawPointer
    let destination: UnsafeMutableRawPointer

    init() {
        source = .allocate(byteCount: transferBytes, alignment: 4096)
        destination = .allocate(byteCount: transferBytes, alignment: 4096)
        for i in 0..<transferBytes { source.storeBytes(of: UInt8(truncatingIfNeeded: i &* 31), toByteOffset: i, as: UInt8.self) }
        memset(destination, 0, transferBytes)
    }

    func tearDown() {
        source.deallocate()
        destination.deallocate()
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, megabytesPerSecond],
        timeUnits: .microseconds,
        units: [megabytesPerSecond: .count, .throughput: .count],
        warmupIterations: 10,
        maxDuration: .seconds(2),
        maxIterations: 10_000
    )

    // (a) The controller gathering one whole cycle: 256 segments, one memcpy of
    //     4 KiB each from the physical view, position and counters updated.
    var gather: GatherFixture?
    Benchmark("DMA gather 1 MiB over 256 scattered pages") { (benchmark: Benchmark, fixture: GatherFixture) in
        let dma = fixture.dma
        let destination = fixture.destination
        let start = monotonicNanoseconds()
        for _ in benchmark.scaledIterations {
            let n = dma.read(into: destination, count: transferBytes)
            if n != transferBytes { fatalError("DMA gather: read moved \(n) bytes") }
            blackHole(destination)
        }
        recordRate(benchmark, bytes: transferBytes * benchmark.scaledIterations.count,
                   nanoseconds: monotonicNanoseconds() - start)
    } setup: { () -> GatherFixture in
        let fixture = GatherFixture()
        gather = fixture
        return fixture
    } teardown: {
        gather?.tearDown()
        gather = nil
    }

    // (b) The baseline: the same byte count between two ordinary buffers.
    var copy: CopyFixture?
    Benchmark("memcpy 1 MiB") { (benchmark: Benchmark, fixture: CopyFixture) in
        let source = fixture.source
        let destination = fixture.destination
        let start = monotonicNanoseconds()
        for _ in benchmark.scaledIterations {
            memcpy(destination, source, transferBytes)
            blackHole(destination)
        }
        recordRate(benchmark, bytes: transferBytes * benchmark.scaledIterations.count,
                   nanoseconds: monotonicNanoseconds() - start)
    } setup: { () -> CopyFixture in
        let fixture = CopyFixture()
        copy = fixture
        return fixture
    } teardown: {
        copy?.tearDown()
        copy = nil
    }
}
