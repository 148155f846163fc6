import WaveRTEngine

/// The suite's own record of the states it put the stream in, and from it the
/// position an exact device would report at any instant: frames elapsed in RUN
/// since the last STOP, floor((t - runStart) × rate / 10⁹) per RUN interval,
/// frozen in PAUSE, zero after STOP. This is the reference every position
/// check compares against; it is computed independently of the engine.
struct StreamTimeline {
    struct Segment {
        var state: KSState
        var start: UInt64
        /// Frames elapsed (since the last STOP) when the segment began.
        var accumulated: UInt64
        /// Time spent in RUN over the whole scenario when the segment began.
        var runTime: UInt64
        /// Number of STOPs before the segment (positions restart from 0 at each).
        var generation: Int
    }

    let rate: UInt64
    private(set) var segments: [Segment]

    init(start: UInt64, rate: Int) {
        self.rate = UInt64(rate)
        segments = [Segment(state: .stop, start: start, accumulated: 0, runTime: 0, generation: 0)]
    }

    /// The stream entered `state` at `time`. `frozen`: the frames the device
    /// holds from here (leaving RUN on the system clock, where the instant is
    /// only known to within the state change's duration); else computed.
    mutating func enter(_ state: KSState, at time: UInt64, frozen: UInt64? = nil) {
        let previous = segments[segments.count - 1]
        var accumulated = previous.accumulated
        var runTime = previous.runTime
        if previous.state == .run {
            let ran = time > previous.start ? time - previous.start : 0
            accumulated = frozen ?? accumulated + PositionMath.frames(inNanoseconds: ran, rate: rate)
            runTime += ran
        }
        var generation = previous.generation
        if state == .stop {
            accumulated = 0
            if previous.state != .stop { generation += 1 }
        }
        segments.append(Segment(state: state, start: time, accumulated: accumulated, runTime: runTime, generation: generation))
    }

    /// Exact frames elapsed at `time`, which lies in segment `index`.
    func frames(at time: UInt64, segment index: Int) -> UInt64 {
        let s = segments[index]
        guard s.state == .run, time > s.start else { return s.accumulated }
        return s.accumulated + PositionMath.frames(inNanoseconds: time - s.start, rate: rate)
    }

    /// Time spent in RUN up to `time` (the fit's abscissa: continuous across PAUSE and STOP).
    func runTime(at time: UInt64, segment index: Int) -> UInt64 {
        let s = segments[index]
        guard s.state == .run, time > s.start else { return s.runTime }
        return s.runTime + (time - s.start)
    }

    /// Frames elapsed at the end of each run between STOPs (the last one ending at `end`).
    func framesPerGeneration(end: UInt64) -> [UInt64] {
        var result: [UInt64] = []
        for i in segments.indices.dropFirst() where segments[i].state == .stop && segments[i - 1].state != .stop {
            result.append(frames(at: segments[i].start, segment: i - 1))
        }
        if let last = segments.last, last.state != .stop {
            result.append(frames(at: end, segment: segments.count - 1))
        }
        return result
    }
}
