import Glibc
import Synchronization
import WaveRTEngine

/// Busy threads at normal priority (SCHED_OTHER, nice 0): the CPU hog beside
/// the streams. Each spins on arithmetic until ``stop()``, counting its rounds
/// so the run can show the hog really ran; deliberately unbounded work, but
/// never on a real-time thread and always ended by ``stop()``.
final class CPUHog: @unchecked Sendable {
    /// One thread's rounds, and what its arithmetic came to (kept, so it is not optimised away).
    private final class Counter: Sendable {
        let rounds = Atomic<UInt64>(0)
        let result = Atomic<UInt64>(0)
    }

    private var threads: [RealTimeThread] = []
    private let counters: [Counter]

    init(threads count: Int) {
        counters = (0..<count).map { _ in Counter() }
        for (i, counter) in counters.enumerated() {
            threads.append(RealTimeThread(configuration: .init(fifoPriority: nil, name: "wavert-hog\(i)")) { thread in
                var x: UInt64 = 0x9E37_79B9_7F4A_7C15
                while !thread.shouldStop {
                    for _ in 0..<10_000 { x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
                    counter.rounds.add(1, ordering: .relaxed)
                    counter.result.store(x, ordering: .relaxed)
                }
            })
        }
    }

    var tids: [Int32] { threads.map(\.status.tid) }
    /// Rounds of 10,000 multiply-adds done by each thread so far.
    var progress: [UInt64] { counters.map { $0.rounds.load(ordering: .relaxed) } }

    func stop() {
        for t in threads { t.requestStop() }
        for t in threads { t.join() }
        threads = []
    }
}

/// The CPU time a thread has used, in nanoseconds: `sum_exec_runtime`, the
/// first field of /proc/self/task/TID/schedstat (nil when it cannot be read).
enum ThreadCPU {
    static func nanoseconds(tid: Int32) -> UInt64? {
        let fd = open("/proc/self/task/\(tid)/schedstat", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var text = [UInt8](repeating: 0, count: 128)
        let n = text.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        guard n > 0 else { return nil }
        var value: UInt64 = 0
        for byte in text[0..<n] {
            guard (48...57).contains(byte) else { break }
            value = value * 10 + UInt64(byte - 48)
        }
        return value
    }

    /// CPU time of the whole process (every thread), `getrusage(RUSAGE_SELF)`.
    static func processNanoseconds() -> UInt64 {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func ns(_ t: timeval) -> UInt64 { UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_usec) * 1_000 }
        return ns(usage.ru_utime) + ns(usage.ru_stime)
    }
}
