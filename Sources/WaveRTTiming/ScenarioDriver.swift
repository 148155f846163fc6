import Glibc
import WaveRTClient
import WaveRTEngine
import WaveRTPort

/// Plays a scenario's steps on a session, as the audio engine would ask for
/// them: each state change a KSPROPERTY_CONNECTION_STATE request the client
/// makes (started, with its pre-roll, when leaving STOP; paused and resumed;
/// stopped at STOP), the suite's own record of when each change happened
/// (``StreamTimeline``), and each step held for its duration: on the virtual
/// clock by advancing it, at most a second at a time; on the system clock by
/// sleeping. Between slices it drains the probe's rings on this thread.
///
/// The instant a change takes effect is the device's, somewhere inside the
/// request that made it; the driver therefore steps to PAUSE first, so the
/// request that starts or freezes the stream is one SetState call, and times
/// the timeline by it: RUN from the end of the PAUSE→RUN request, PAUSE from
/// the start of RUN→PAUSE on the virtual clock (where nothing happens between
/// them but the driver's own register writes); the middle of the request on
/// the system clock.
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
    private var clientRunning = false
    /// Everything the probe and the driver read, oldest first.
    private(set) var observations: [PositionObservation] = []
    private(set) var notifications: [PositionObservation] = []
    /// DMA fault events of programs a STOP unloaded (the session reports the last program's).
    private(set) var unloadedFaultEvents: UInt64 = 0

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
        timeline = StreamTimeline(start: start, rate: session.setup.format.sampleRate)
    }

    /// Each step on the scenario's grid (start + the durations so far), so real-time steps do not accumulate lateness.
    func play(_ steps: [TimingScenario.Step]) throws(TimingError) {
        probe.start(at: start)
        var planned = start
        for step in steps {
            try enter(step.state)
            planned += step.nanoseconds
            hold(until: planned)
        }
        drain()
    }

    /// Freezes the position (PAUSE, if still running), stops the probe, takes
    /// the session down and collects the last records. Returns the end of the
    /// measured time and the session's report.
    func finish() -> (end: UInt64, report: SessionReport) {
        var end = timebase.now
        if state == .run {
            end = (try? leaveRun()) ?? timebase.now
            state = .pause
        }
        probe.stop()
        let report = session.finish()
        drain()  // after the client's thread has stopped: nothing reaches the rings any more
        return (end, report)
    }

    /// Records the probe's rings had to drop (full between two drains).
    var dropped: Int { probe.readings.dropped + probe.notifications.dropped }

    private func drain() {
        probe.readings.drain { observations.append($0) }
        probe.notifications.drain { notifications.append($0) }
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

    /// Each change is one bracket of the probe's epoch and one segment of the timeline.
    private func enter(_ target: KSState) throws(TimingError) {
        guard target != state else { return }
        switch target {
        case .run:
            let (before, after): (UInt64, UInt64)
            probe.beginTransition()
            if clientRunning {
                let status = session.client.resume()
                guard status.isSuccess else { probe.endTransition(); throw .stateChange("PAUSE -> RUN: \(status)") }
                let bracket = session.client.lastRunRequest ?? timebase.now...timebase.now
                (before, after) = (bracket.lowerBound, bracket.upperBound)
            } else {
                if state == .stop {
                    let status = session.pin.setState(.pause)
                    guard status.isSuccess else { probe.endTransition(); throw .stateChange("STOP -> PAUSE: \(status)") }
                }
                // The client pre-rolls a buffer, then asks for RUN itself; it times its own request.
                do { try session.client.start() } catch {
                    probe.endTransition()
                    throw .stateChange(error.description)
                }
                let bracket = session.client.lastRunRequest ?? timebase.now...timebase.now
                (before, after) = (bracket.lowerBound, bracket.upperBound)
                clientRunning = true
                probe.reattach()  // after the client again, which a restart attached last
            }
            probe.endTransition()
            if clock == nil {
                timeline.enter(.run, at: before + (after - before) / 2, window: before...after)
            } else {
                timeline.enter(.run, at: after)
            }
        case .pause:
            if state == .run {
                _ = try leaveRun()
            } else {
                probe.beginTransition()
                let status = session.pin.setState(.pause)
                let now = timebase.now
                probe.endTransition()
                guard status.isSuccess else { throw .stateChange("STOP -> PAUSE: \(status)") }
                timeline.enter(.pause, at: now)
            }
        default:
            if state == .run { _ = try leaveRun() }
            probe.beginTransition()
            // A device reset unloads the DMA program and its fault records: count them first.
            unloadedFaultEvents += session.adapter.dmaFaults.reduce(0) { $0 + $1.events }
            if clientRunning {
                session.client.stop()  // PAUSE (already) -> ACQUIRE -> STOP; the glitch monitor judges what is left
                clientRunning = false
            } else {
                session.pin.setState(.stop)
            }
            let now = timebase.now
            probe.endTransition()
            timeline.enter(.stop, at: now)
        }
        state = target
    }

    /// RUN -> PAUSE, timed, then the position the device froze at, read from both sources.
    private func leaveRun() throws(TimingError) -> UInt64 {
        probe.beginTransition()
        let status = session.client.pause()
        probe.endTransition()
        guard status.isSuccess else { throw .stateChange("RUN -> PAUSE: \(status)") }
        let bracket = session.client.lastPauseRequest ?? timebase.now...timebase.now
        let time = clock == nil ? bracket.lowerBound + (bracket.upperBound - bracket.lowerBound) / 2 : bracket.lowerBound
        timeline.enter(.pause, at: time)
        state = .pause
        drain()  // what the probe read before the freeze comes first
        observations.append(probe.read(.audioPosition, kind: .freeze, arrival: nil, withPackets: false))
        if probe.register != nil { observations.append(probe.read(.register, kind: .freeze, arrival: nil, withPackets: false)) }
        return time
    }

    /// Sleeps until the absolute CLOCK_MONOTONIC time `deadline` (ns).
    static func sleep(until deadline: UInt64) {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }
}
