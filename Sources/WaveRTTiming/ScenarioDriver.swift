import Glibc
import WaveRTEngine
import WaveRTPort

/// Plays a scenario's steps on a session: each state change through the port
/// (stepping through the neighbouring states, as the audio engine's requests
/// do), the client started before leaving STOP and stopped at STOP, the suite's
/// own record of when each change happened (``StreamTimeline``), and each step
/// held for its duration: on the virtual clock by advancing it a second at a
/// time, on the system clock by sleeping. Between slices it drains the probe's
/// rings on this thread.
final class ScenarioDriver {
    let session: MiniportSession
    let probe: TimingProbe
    let clock: VirtualClock?
    let timebase: any Timebase
    let start: UInt64
    private let total: UInt64
    private let progress: ((TimingSuite.Progress) -> Void)?
    private(set) var timeline: StreamTimeline
    private(set) var state = KSState.stop
    private(set) var readings: [PositionReading] = []
    private(set) var notifications = NotificationAnalysis()

    init(session: MiniportSession, probe: TimingProbe, clock: VirtualClock?, timebase: any Timebase, total: UInt64,
         progress: ((TimingSuite.Progress) -> Void)?)
    {
        self.session = session
        self.probe = probe
        self.clock = clock
        self.timebase = timebase
        self.total = total
        self.progress = progress
        start = timebase.now
        timeline = StreamTimeline(start: start, rate: session.configuration.format.sampleRate)
    }

    /// Each step on the scenario's grid (start + the durations so far), so real-time steps do not accumulate lateness.
    func play(_ steps: [TimingScenario.Step]) throws(TimingError) {
        var planned = start
        for step in steps {
            try enter(step.state)
            planned += step.nanoseconds
            hold(until: planned)
        }
        drain()
    }

    /// Freezes the position (PAUSE, if still running), takes the session down
    /// and collects the last records. Returns the end of the measured time.
    func finish() -> (end: UInt64, teardown: SessionReport) {
        var end = timebase.now
        if state == .run {
            probe.beginTransition()
            end = timebase.now
            try? session.stream.pause()
            probe.endTransition()
            timeline.enter(.pause, at: end, frozen: clock == nil ? session.hardware?.framesElapsed() : nil)
        }
        let teardown = session.finish()
        drain()
        return (end, teardown)
    }

    private func drain() {
        probe.readings.drain { readings.append($0) }
        probe.notifications.drain { notifications.add($0) }
    }

    private func hold(until end: UInt64) {
        while timebase.now < end {
            if let clock {
                clock.advance(to: min(end, clock.now + 1_000_000_000))
            } else {
                Self.sleep(until: min(end, timebase.now + 20_000_000))
            }
            drain()
            progress?(TimingSuite.Progress(phase: "run", streamNanoseconds: min(total, timebase.now - start), totalNanoseconds: total))
        }
    }

    private func enter(_ target: KSState) throws(TimingError) {
        let stream = session.stream
        if state == .stop, target != .stop {
            // The audio engine fills the buffer before it leaves STOP.
            session.client.start()
            let forward = stream.onNotification
            let probe = probe
            stream.onNotification = { note in probe.record(note); forward?(note) }
        }
        probe.beginTransition()
        let before = timebase.now
        do { try stream.transition(to: target) } catch {
            probe.endTransition()
            throw .stateChange(error.description)
        }
        let after = timebase.now
        if clock == nil { awaitFreshPass() }
        probe.endTransition()
        if target == .stop, state != .stop { session.client.stop() }
        // RUN begins at the last SetState of the walk up; it ends at the first of the walk down.
        var time = target == .run ? after : before
        var frozen: UInt64?
        if clock == nil, let hardware = session.hardware {
            // Real time: the instant is only known to within the walk (a wake-up of the
            // engine thread may land inside it), so anchor on the device's own start and
            // frozen frames; the position is still computed independently from there.
            if target == .run { time = Self.runStart(of: hardware, between: before, and: after) }
            if target == .pause, state == .run { frozen = hardware.framesElapsed() }
        }
        timeline.enter(target, at: time, frozen: frozen)
        state = target
    }

    /// The stream time at which `hardware` entered RUN, known to lie in
    /// [`before`, `after`]: the first instant one more frame has elapsed, less
    /// one frame's duration (a bisection over the device's exact position).
    private static func runStart(of hardware: EngineStream, between before: UInt64, and after: UInt64) -> UInt64 {
        let rate = UInt64(hardware.format.sampleRate)
        let frame = PositionMath.nanoseconds(untilFrames: 1, rate: rate)
        let held = hardware.framesElapsed(at: before)
        var low = before, high = after + frame  // frames(high) > held
        guard hardware.framesElapsed(at: high) > held else { return after }
        while low + 1 < high {
            let mid = low + (high - low) / 2
            if hardware.framesElapsed(at: mid) > held { high = mid } else { low = mid }
        }
        return max(before, high - frame)
    }

    /// Real time: waits until the engine has made a whole pass that began after
    /// now, so the position word reflects the new state before readings count
    /// again (the register is updated once per pass; a pass already under way
    /// may publish the old state's value after the state changed).
    private func awaitFreshPass() {
        let engine = session.engine
        let seen = engine.passCount
        let deadline = timebase.now + 200_000_000
        while engine.passCount < seen + 2, timebase.now < deadline { usleep(50) }
    }

    /// Sleeps until the absolute CLOCK_MONOTONIC time `deadline` (ns).
    private static func sleep(until deadline: UInt64) {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }
}
