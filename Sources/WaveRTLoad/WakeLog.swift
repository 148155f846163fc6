import Synchronization
import WaveRTClient

/// Each signalled wake of one client (its time on the timebase), in a buffer
/// allocated up front: the client's thread records without allocating or
/// locking; past the capacity, wakes are counted, not kept. Read once the
/// window is over (the count is published with release/acquire).
final class WakeLog: AudioEngineClientObserver, @unchecked Sendable {
    private let times: UnsafeMutablePointer<UInt64>
    let capacity: Int
    private let recorded = Atomic<Int>(0)
    private let overflowed = Atomic<UInt64>(0)
    /// Wakes at or after this time are kept (the warm-up is skipped).
    private let from = Atomic<UInt64>(.max)

    init(capacity: Int) {
        self.capacity = capacity
        times = .allocate(capacity: capacity)
    }

    deinit { times.deallocate() }

    /// Starts keeping wakes from `time` on.
    func keep(from time: UInt64) { from.store(time, ordering: .releasing) }

    func clientWoke(_ client: AudioEngineClient, at time: UInt64, signalled: Bool) {
        guard signalled, time >= from.load(ordering: .acquiring) else { return }
        let n = recorded.load(ordering: .relaxed)
        guard n < capacity else {
            overflowed.add(1, ordering: .relaxed)
            return
        }
        times[n] = time
        recorded.store(n + 1, ordering: .releasing)
    }

    var count: Int { recorded.load(ordering: .acquiring) }
    var dropped: UInt64 { overflowed.load(ordering: .relaxed) }
    subscript(i: Int) -> UInt64 { times[i] }
}
