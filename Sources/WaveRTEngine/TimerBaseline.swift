import CWaveRTShim
import Histogram
import Synchronization

/// This machine's own timer wake-up latency: a thread set up like the engine's
/// (same timer slack, same SCHED_FIFO request) sleeps to absolute monotonic
/// deadlines `period` apart and records how late each wake-up is. The engine's
/// notification latency is only meaningful beside this baseline, measured in
/// the same run (cyclictest in miniature).
public enum TimerBaseline {
    /// Measures for `duration` nanoseconds; returns lateness in nanoseconds.
    public static func measure(duration: UInt64, period: UInt64 = 1_000_000,
                               configuration: RealTimeThreadConfiguration = .init()) -> Histogram<UInt64>
    {
        let result = Mutex(Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three))
        let thread = RealTimeThread(configuration: configuration) { _ in
            var local = Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
            let start = wrt_monotonic_ns()
            var deadline = start + period
            while deadline <= start + duration {
                _ = wrt_sleep_until_monotonic_ns(deadline)
                let woke = wrt_monotonic_ns()
                _ = local.record(woke &- deadline)
                deadline += period
            }
            result.withLock { $0 = local }
        }
        thread.join()
        return result.withLock { $0 }
    }
}
