import Synchronization

/// A stream's run state, published by the control path and read lock-free by
/// the engine thread and by position reads on any thread: a seqlock over
/// atomics. Writers are serialised by the stream's control lock; readers never
/// take a lock and retry only while a write is in progress.
final class RunClock: @unchecked Sendable {
    struct Snapshot: Equatable {
        var state: KSState
        /// Frames elapsed in earlier RUN intervals (since the last STOP).
        var accumulatedFrames: UInt64
        /// Stream time at which the current RUN interval began (meaningful in RUN).
        var runStart: UInt64
        /// Bumped by every STOP, so the engine thread knows to rewind.
        var generation: UInt64

        /// Frames elapsed at stream time `now`: accumulated + floor((now - runStart) × rate / 10⁹) in RUN.
        @inline(__always)
        func frames(at now: UInt64, rate: UInt64) -> UInt64 {
            guard state == .run, now > runStart else { return accumulatedFrames }
            return accumulatedFrames + PositionMath.frames(inNanoseconds: now - runStart, rate: rate)
        }

        /// The first stream time at which `frames` will have elapsed (RUN only).
        @inline(__always)
        func time(ofFrame frame: UInt64, rate: UInt64) -> UInt64 {
            guard frame > accumulatedFrames else { return runStart }
            let ns = PositionMath.nanoseconds(untilFrames: frame - accumulatedFrames, rate: rate)
            return ns > .max - runStart ? .max : runStart + ns
        }
    }

    private let sequence = Atomic<UInt64>(0)
    private let state = Atomic<Int>(KSState.stop.rawValue)
    private let accumulated = Atomic<UInt64>(0)
    private let runStart = Atomic<UInt64>(0)
    private let generation = Atomic<UInt64>(0)

    @inline(__always)
    func read() -> Snapshot {
        while true {
            let s1 = sequence.load(ordering: .sequentiallyConsistent)
            if s1 & 1 == 1 { continue }
            let snap = Snapshot(
                state: KSState(rawValue: state.load(ordering: .sequentiallyConsistent)) ?? .stop,
                accumulatedFrames: accumulated.load(ordering: .sequentiallyConsistent),
                runStart: runStart.load(ordering: .sequentiallyConsistent),
                generation: generation.load(ordering: .sequentiallyConsistent))
            if sequence.load(ordering: .sequentiallyConsistent) == s1 { return snap }
        }
    }

    /// Publishes a new snapshot. Callers serialise writes.
    func write(_ snap: Snapshot) {
        sequence.add(1, ordering: .sequentiallyConsistent)
        state.store(snap.state.rawValue, ordering: .sequentiallyConsistent)
        accumulated.store(snap.accumulatedFrames, ordering: .sequentiallyConsistent)
        runStart.store(snap.runStart, ordering: .sequentiallyConsistent)
        generation.store(snap.generation, ordering: .sequentiallyConsistent)
        sequence.add(1, ordering: .sequentiallyConsistent)
    }
}
