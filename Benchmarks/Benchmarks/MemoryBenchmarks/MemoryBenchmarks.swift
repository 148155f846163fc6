// Benchmarks of the emulated memory DDIs a WaveRT miniport calls through
// IPortWaveRTStream. See ../../README.md for what each measures and its goal.
import Benchmark
import WaveRT

/// One emulated machine and the port stream a miniport would be given.
final class Fixture: @unchecked Sendable {
    let memory: PhysicalMemory
    let port: SimulatedPortWaveRTStream

    /// A fresh `PhysicalMemory()`; fragmented once if `longestFreeRunPages` is given.
    init(fragmentedTo longestFreeRunPages: Int? = nil) {
        memory = PhysicalMemory()
        if let longestFreeRunPages {
            memory.fragment(seed: 1, occupancy: 0.5, longestFreeRunPages: longestFreeRunPages)
        }
        port = SimulatedPortWaveRTStream(memory: memory)
    }

    /// Checks after the run that every iteration released what it took.
    func checkNothingOutstanding(_ name: String) {
        precondition(port.outstanding.isEmpty, "\(name): leaked \(port.outstanding)")
        precondition(memory.liveMDLs.isEmpty, "\(name): \(memory.liveMDLs.count) MDLs still live")
    }
}

let sgBytes = 1 << 20       // 1 MiB: 256 pages
let contiguousBytes = 65536 // 64 KiB: 16 pages

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        timeUnits: .microseconds,
        warmupIterations: 10,
        maxDuration: .seconds(2),
        maxIterations: 10_000
    )

    // 1. The common path: a scatter-gather cyclic buffer, mapped, unmapped, freed.
    var fresh: Fixture?
    Benchmark("SG 1 MiB allocate+map+free") { (benchmark: Benchmark, fixture: Fixture) in
        let port = fixture.port
        for _ in benchmark.scaledIterations {
            guard let mdl = port.allocatePagesForMdl(highAddress: .max, totalBytes: sgBytes) else {
                fatalError("SG 1 MiB: allocatePagesForMdl returned nil")
            }
            guard let va = port.mapAllocatedPages(mdl, cacheType: .cached) else {
                fatalError("SG 1 MiB: mapAllocatedPages returned nil")
            }
            blackHole(va)
            port.unmapAllocatedPages(va, mdl: mdl)
            port.freePagesFromMdl(mdl)
        }
    } setup: { () -> Fixture in
        let fixture = Fixture()
        fresh = fixture
        return fixture
    } teardown: {
        fresh?.checkNothingOutstanding("SG 1 MiB")
        fresh = nil
    }

    // 2. A contiguous buffer on memory with free runs of 1...32 pages: the
    //    16-page runs exist, the allocator has to find one.
    var fragmented: Fixture?
    Benchmark("Contiguous 64 KiB on fragmented memory") { (benchmark: Benchmark, fixture: Fixture) in
        let port = fixture.port
        for _ in benchmark.scaledIterations {
            guard let mdl = port.allocateContiguousPagesForMdl(lowAddress: 0, highAddress: .max,
                                                               totalBytes: contiguousBytes)
            else {
                fatalError("Contiguous 64 KiB: allocateContiguousPagesForMdl returned nil")
            }
            port.freePagesFromMdl(mdl)
        }
    } setup: { () -> Fixture in
        let fixture = Fixture(fragmentedTo: 32)
        precondition(fixture.memory.longestFreeRunPages >= contiguousBytes / 4096,
                     "fragmented memory has no 16-page run")
        fragmented = fixture
        return fixture
    } teardown: {
        fragmented?.checkNothingOutstanding("Contiguous 64 KiB")
        fragmented = nil
    }

    // 3. The same request on memory whose longest free run is 8 pages: every
    //    call fails (nil), as the WDK warns; this measures how fast it says so.
    var hopeless: Fixture?
    Benchmark("Contiguous 64 KiB failing on fragmented memory") { (benchmark: Benchmark, fixture: Fixture) in
        let port = fixture.port
        for _ in benchmark.scaledIterations {
            let mdl = port.allocateContiguousPagesForMdl(lowAddress: 0, highAddress: .max,
                                                         totalBytes: contiguousBytes)
            guard mdl == nil else {
                fatalError("Contiguous 64 KiB failing: got an MDL from memory with no 16-page run")
            }
        }
    } setup: { () -> Fixture in
        let fixture = Fixture(fragmentedTo: 8)
        precondition(fixture.memory.longestFreeRunPages <= 8, "fragmented memory has a run longer than 8 pages")
        fixture.memory.diagnostics.removeAll()
        hopeless = fixture
        return fixture
    } teardown: {
        // Each failure files one Diagnostic (part of what is measured); drop them.
        hopeless?.checkNothingOutstanding("Contiguous 64 KiB failing")
        hopeless?.memory.diagnostics.removeAll()
        hopeless = nil
    }
}
