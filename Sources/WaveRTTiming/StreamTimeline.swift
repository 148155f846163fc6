import WaveRTEngine
import WaveRTPort

/// The suite's own record of the states it put the stream in, and from it the
/// position an exact device would report at any instant: frames elapsed in RUN
/// since the last STOP, floor((t - runStart) × rate / 10⁹) per RUN interval,
/// frozen in PAUSE, zero after STOP. This is the reference the position
/// checks compare with; it comes from when the suite asked for each state,
/// never from the device.
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
        /// Where the change really took effect, when only known to lie within
        /// the request that made it (the system clock); nil: exactly at `start`.
        var window: ClosedRange<UInt64>?
    }

    let rate: UInt64
    private(set) var segments: [Segment]

    init(start: UInt64, rate: Int) {
        self.rate = UInt64(rate)
        segments = [Segment(state: .stop, start: start, accumulated: 0, runTime: 0, generation: 0)]
    }

    /// The stream entered `state` at `time` (somewhere in `window`, if given).
    mutating func enter(_ state: KSState, at time: UInt64, window: ClosedRange<UInt64>? = nil) {
        let previous = segments[segments.count - 1]
        var accumulated = previous.accumulated
        var runTime = previous.runTime
        if previous.state == .run {
            let ran = time > previous.start ? time - previous.start : 0
            accumulated += PositionMath.frames(inNanoseconds: ran, rate: rate)
            runTime += ran
        }
        var generation = previous.generation
        if state == .stop {
            accumulated = 0
            if previous.state != .stop { generation += 1 }
        }
        segments.append(Segment(state: state, start: max(time, previous.start), accumulated: accumulated, runTime: runTime,
                                generation: generation, window: window))
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

    /// The number of runs between STOPs (each restarts the position at 0).
    var generations: Int { (segments.last?.generation ?? 0) + (segments.last?.state == .stop ? 0 : 1) }
}
