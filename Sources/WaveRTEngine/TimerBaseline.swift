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

    /// A wake-up the baseline thread got at least a threshold late: from the
    /// deadline it slept to until it ran (the machine kept it from running).
    public struct Stall: Sendable, Hashable, Codable {
        public var deadline: UInt64
        public var lateness: UInt64
        public var end: UInt64 { deadline &+ lateness }
    }

    /// As ``measure(duration:period:configuration:)``, and also each wake-up at
    /// least `threshold` nanoseconds late (the first `capacity`, kept in an
    /// array reserved before the thread starts): where the machine stalled.
    public static func measureRecordingStalls(duration: UInt64, period: UInt64 = 1_000_000, threshold: UInt64, capacity: Int = 4096,
                                              configuration: RealTimeThreadConfiguration = .init()) -> (latency: Histogram<UInt64>, stalls: [Stall])
    {
        let result = Mutex((Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three), [Stall]()))
        var reserved = [Stall]()
        reserved.reserveCapacity(capacity)
        let handed = Mutex(reserved)
        let thread = RealTimeThread(configuration: configuration) { _ in
            var local = Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
            var stalls = handed.withLock { s in
                defer { s = [] }
                return s
            }
            let start = wrt_monotonic_ns()
            var deadline = start + period
            while deadline <= start + duration {
                _ = wrt_sleep_until_monotonic_ns(deadline)
                let woke = wrt_monotonic_ns()
                let late = woke &- deadline
                _ = local.record(late)
                if late >= threshold && stalls.count < capacity { stalls.append(Stall(deadline: deadline, lateness: late)) }
                deadline += period
            }
            result.withLock { $0 = (local, stalls) }
        }
        thread.join()
        return result.withLock { (latency: $0.0, stalls: $0.1) }
    }
}
