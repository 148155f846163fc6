import Foundation
import Synchronization
import Testing
import WaveRTEngine
import WaveRTTestSupport

/// Removing work and stopping a scheduler while its real-time thread runs:
/// once ``Scheduler/remove(_:)`` returns, the thread never touches the work
/// again, neither to service it nor to ask its deadline (which reads the
/// same objects: DMA programs, timers, interrupt objects).
///
/// Run under ThreadSanitizer in CI (`.ci/sanitizers`).
@Suite(.serialized, .realTime) struct SchedulerTeardownTests {
    /// Work that is always due again within `period`, and records any call
    /// that arrives after the test declared it retired (remove() returned).
    /// Each call lingers a few microseconds, the window in which a removal
    /// that does not wait for the caller would return.
    /// Calls that reached a probe after it was retired, over all probes.
    final class LateCalls: Sendable {
        let count = Atomic<Int>(0)
        func add(_ n: Int, ordering _: AtomicUpdateOrdering) { count.add(n, ordering: .relaxed) }
        var value: Int { count.load(ordering: .acquiring) }
    }

    final class Probe: TimedWork, @unchecked Sendable {
        let retired = Atomic<Bool>(false)
        let lateCalls: LateCalls
        let calls = Atomic<Int>(0)
        let period: UInt64
        init(lateCalls: LateCalls, period: UInt64) {
            self.lateCalls = lateCalls
            self.period = period
        }
        private func linger() {
            if retired.load(ordering: .acquiring) { lateCalls.add(1, ordering: .relaxed) }
            let until = MonotonicTimebase.shared.now + 3_000
            while MonotonicTimebase.shared.now < until {}
            if retired.load(ordering: .acquiring) { lateCalls.add(1, ordering: .relaxed) }
            calls.add(1, ordering: .relaxed)
        }
        func nextDeadline() -> UInt64? {
            linger()
            return MonotonicTimebase.shared.now + period
        }
        func service(now: UInt64) { linger() }
    }

    /// Add, run a little, remove, in a loop: no call reaches the probe after
    /// remove() returned. Before the deadline scan was made part of the pass,
    /// the thread asked deadlines outside it and remove() returned while it did.
    @Test(.timeLimit(.minutes(1)))
    func removeWaitsForTheDeadlineScanAndThePass() throws {
        let late = LateCalls()
        let scheduler = Scheduler(timebase: MonotonicTimebase.shared, realTime: .init(name: "teardown"))
        defer { scheduler.shutdown() }
        // A neighbour that keeps the thread scanning (its deadline is always 20 µs away).
        let neighbour = Probe(lateCalls: late, period: 20_000)
        scheduler.add(neighbour)
        var racedRounds = 0
        for i in 0..<1_500 {
            let probe = Probe(lateCalls: late, period: 10_000)
            scheduler.add(probe)
            // Let the thread reach the probe at a varying point of its scan.
            let until = MonotonicTimebase.shared.now + UInt64(i % 7) * 4_000
            while MonotonicTimebase.shared.now < until {}
            scheduler.remove(probe)
            probe.retired.store(true, ordering: .releasing)
            // Give a scan that was still running time to make its late call.
            let settle = MonotonicTimebase.shared.now + 8_000
            while MonotonicTimebase.shared.now < settle {}
            if probe.calls.load(ordering: .relaxed) > 0 { racedRounds += 1 }
        }
        scheduler.remove(neighbour)
        #expect(late.value == 0, "\(late.value) calls after remove() returned")
        // The loop did race the thread: in a good share of the rounds the thread was using the
        // probe when remove() was called (a tenth; about 40 % here, under ThreadSanitizer or not).
        #expect(racedRounds >= 150, "the thread reached the probe in \(racedRounds) of 1500 rounds")
    }

    /// Shutting the thread down while work is due, then freeing the work: the
    /// join means nothing runs afterwards; a new thread starts on the next add.
    @Test(.timeLimit(.minutes(1)))
    func shutdownThenRemoveRacesNothing() throws {
        let late = LateCalls()
        for _ in 0..<200 {
            let scheduler = Scheduler(timebase: MonotonicTimebase.shared, realTime: .init(name: "teardown"))
            let probe = Probe(lateCalls: late, period: 5_000)
            scheduler.add(probe)
            let until = MonotonicTimebase.shared.now + 30_000
            while MonotonicTimebase.shared.now < until {}
            scheduler.shutdown()
            probe.retired.store(true, ordering: .releasing)
            let settle = MonotonicTimebase.shared.now + 10_000
            while MonotonicTimebase.shared.now < settle {}
            scheduler.remove(probe)
        }
        #expect(late.value == 0)
    }
}
