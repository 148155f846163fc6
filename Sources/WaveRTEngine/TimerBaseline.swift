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

    /// As ``measure(duration:period:configuration:)``, with one timer thread
    /// pinned to each online CPU (a stall that holds one CPU, such as kernel
    /// code that cannot be preempted, shows on that CPU's thread), their
    /// latencies in one histogram, and each wake-up at least `threshold`
    /// nanoseconds late (the first `capacity` per thread, kept in arrays
    /// reserved before the threads start): where and when the machine stalled.
    public static func measureRecordingStalls(duration: UInt64, period: UInt64 = 1_000_000, threshold: UInt64, capacity: Int = 4096,
                                              configuration: RealTimeThreadConfiguration = .init()) -> (latency: Histogram<UInt64>, stalls: [Stall])
    {
        let cpus = Int(wrt_online_cpus())
        let results = Mutex([(Histogram<UInt64>, [Stall])]())
        // The window opens once every thread can be up (creating them on a loaded machine takes a while);
        // a thread that still comes up late skips the deadlines that passed before it ran, so its setup
        // is never counted as a stall.
        let start = wrt_monotonic_ns() + max(period, 10_000_000)
        let threads = (0..<cpus).map { cpu in
            var reserved = [Stall]()
            reserved.reserveCapacity(capacity)
            let handed = Mutex(reserved)
            let name = "\(configuration.name.prefix(12))-\(cpu)"  // within the 15 bytes a thread name keeps
            return RealTimeThread(configuration: .init(fifoPriority: configuration.fifoPriority,
                                                       timerSlackNanoseconds: configuration.timerSlackNanoseconds, name: name)) { _ in
                _ = wrt_pin_current_thread(Int32(cpu))
                var local = Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
                var stalls = handed.withLock { s in
                    defer { s = [] }
                    return s
                }
                var deadline = start
                let ready = wrt_monotonic_ns()
                while deadline < ready { deadline += period }
                while deadline < start + duration {
                    _ = wrt_sleep_until_monotonic_ns(deadline)
                    let late = wrt_monotonic_ns() &- deadline
                    _ = local.record(late)
                    if late >= threshold && stalls.count < capacity { stalls.append(Stall(deadline: deadline, lateness: late)) }
                    deadline += period
                }
                results.withLock { $0.append((local, stalls)) }
            }
        }
        for t in threads { t.join() }
        return results.withLock { all in
            var latency = Histogram<UInt64>(highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: .three)
            for (h, _) in all { latency.add(h) }
            return (latency, all.flatMap(\.1).sorted { $0.deadline < $1.deadline })
        }
    }
}
