// Benchmarks of the emulated memory DDIs a WaveRT miniport calls (the kernel's
// Mm* functions, which IPortWaveRTStream's memory methods share). See
// ../../README.md for what each measures and its goal.
import Benchmark
import WaveRT

/// One emulated machine whose kernel DDIs the benchmark calls, at PASSIVE_LEVEL.
final class Fixture: @unchecked Sendable {
    let memory: PhysicalMemory
    let machine: Machine

    /// A fresh `PhysicalMemory()`; fragmented once if `longestFreeRunPages` is given.
    init(fragmentedTo longestFreeRunPages: Int? = nil) {
        memory = PhysicalMemory()
        if let longestFreeRunPages {
            memory.fragment(seed: 1, occupancy: 0.5, longestFreeRunPages: longestFreeRunPages)
        }
        machine = Machine(timebase: VirtualClock(), memory: memory)
    }

    /// Checks after the run that every iteration released what it took and broke no rule.
    func checkNothingOutstanding(_ name: String) {
        precondition(memory.liveMDLs.isEmpty, "\(name): \(memory.liveMDLs.count) MDLs still live")
        precondition(machine.verifier.violations.isEmpty, "\(name): \(machine.verifier.violations)")
        machine.shutdown()
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
        fixture.machine.withCurrent {
            for _ in benchmark.scaledIterations {
                guard let mdl = mmAllocatePagesForMdlEx(0, .max, 0, sgBytes, .cached, []) else {
                    fatalError("SG 1 MiB: MmAllocatePagesForMdlEx returned NULL")
                }
                guard let va = mmMapLockedPagesSpecifyCache(mdl, .cached) else {
                    fatalError("SG 1 MiB: MmMapLockedPagesSpecifyCache returned NULL")
                }
                blackHole(va)
                mmUnmapLockedPages(va, mdl)
                mmFreePagesFromMdl(mdl)
            }
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
        fixture.machine.withCurrent {
            for _ in benchmark.scaledIterations {
                guard let va = mmAllocateContiguousMemorySpecifyCache(contiguousBytes, 0, .max, 0, .cached) else {
                    fatalError("Contiguous 64 KiB: MmAllocateContiguousMemorySpecifyCache returned NULL")
                }
                mmFreeContiguousMemory(va)
            }
        }
    } setup: { () -> Fixture in
        let fixture = Fixture(fragmentedTo: 32)
        precondition(fixture.memory.longestFreeRunPages >= contiguousBytes / 4096, "fragmented memory has no 16-page run")
        fragmented = fixture
        return fixture
    } teardown: {
        fragmented?.checkNothingOutstanding("Contiguous 64 KiB")
        fragmented = nil
    }

    // 3. The same request on memory whose longest free run is 8 pages: every
    //    call fails (NULL), as the WDK warns; this measures how fast it says so.
    var hopeless: Fixture?
    Benchmark("Contiguous 64 KiB failing on fragmented memory") { (benchmark: Benchmark, fixture: Fixture) in
        fixture.machine.withCurrent {
            for _ in benchmark.scaledIterations {
                let va = mmAllocateContiguousMemorySpecifyCache(contiguousBytes, 0, .max, 0, .cached)
                guard va == nil else { fatalError("Contiguous 64 KiB failing: got memory with no 16-page run") }
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
        hopeless?.memory.diagnostics.removeAll()
        hopeless?.checkNothingOutstanding("Contiguous 64 KiB failing")
        hopeless = nil
    }
}
