import Glibc
import Histogram
import WaveRTDMA
import WaveRTEngine
import WaveRTMemory
import WaveRTPort

/// Runs a miniport through a ``TimingScenario`` and measures its timing the way
/// Windows' own tests do, then judges it against the Windows figures and this
/// project's stricter ones (``TimingLimits``).
///
/// A test of your own miniport is a few lines, in Swift Testing or XCTest:
/// ```swift
/// import Testing
/// import WaveRT
///
/// @Test func myMiniportKeepsTime() throws {
///     let report = try TimingSuite.run(miniport: { MyMiniport() }, profile: .hda,
///                                      scenario: TimingScenario(steps: TimingScenario.standardSteps(seconds: 2)))
///     try report.requirePass()          // or .requirePass(.windows) for the Windows floor only
/// }
/// ```
///
/// How it measures: the port opens a stream on an emulated adapter with
/// `profile`'s DMA controller; an audio-engine client feeds it silence; an
/// engine timer reads the position every ``TimingScenario/samplePeriod`` of
/// stream time (the position register when the miniport has one, GetPosition
/// otherwise) with the timebase time of each reading, and reads the packet
/// counter of a packet-mode stream; the port's notifications are timestamped
/// as the client gets them. The engine timer is what makes it the same on both
/// clocks: on the virtual clock the run is exact and takes a fraction of the
/// stream time; on the system clock the suite first measures this machine's
/// timer wake-up latency (``TimerBaseline``, the engine thread's settings) so
/// the notification latency can be judged against it.
public enum TimingSuite {
    /// How far a run has got (called on the caller's thread).
    public struct Progress: Sendable {
        public var phase: String
        public var streamNanoseconds: UInt64
        public var totalNanoseconds: UInt64
        public var fraction: Double { totalNanoseconds == 0 ? 1 : Double(streamNanoseconds) / Double(totalNanoseconds) }
    }

    /// - Parameters:
    ///   - miniport: makes the miniport under test.
    ///   - profile: the adapter's DMA controller.
    ///   - name: what the report calls the miniport.
    ///   - progress: called every stream second (virtual) or every 20 ms (system).
    public static func run(miniport: () -> any MiniportWaveRT, profile: DMAProfile, scenario: TimingScenario,
                           name: String? = nil, progress: ((Progress) -> Void)? = nil) throws(TimingError) -> TimingReport
    {
        guard !scenario.steps.isEmpty, scenario.durationNanoseconds > 0 else { throw .emptyScenario }
        let realTime = RealTimeThreadConfiguration()
        var baseline: (histogram: Histogram<UInt64>, period: UInt64, duration: UInt64)?
        if scenario.clock == .system {
            let duration = scenario.baselineNanoseconds ?? 1_000_000_000
            progress?(Progress(phase: "timer baseline", streamNanoseconds: 0, totalNanoseconds: scenario.durationNanoseconds))
            baseline = (TimerBaseline.measure(duration: duration, period: 1_000_000, configuration: realTime), 1_000_000, duration)
        }
        let clock = scenario.clock == .virtual ? VirtualClock() : nil
        let timebase: any Timebase = clock ?? MonotonicTimebase.shared
        let engine = AudioEngine(timebase: timebase, realTime: realTime)
        defer { engine.shutdown() }

        let configuration = SessionConfiguration(
            format: scenario.format, bufferMilliseconds: scenario.bufferMilliseconds,
            notificationCount: scenario.notificationCount, clientMode: scenario.clientMode,
            dmaProfile: profile, faithfulFaults: scenario.faithfulFaults)
        let session: MiniportSession
        do {
            session = try MiniportSession(miniport: miniport(), configuration: configuration, source: QuietSource(), engine: engine)
        } catch {
            throw .session(error.description)
        }
        let stream = session.stream
        let useRegister: Bool
        switch scenario.positionSource {
        case .automatic: useRegister = stream.positionRegister != nil
        case .register:
            guard stream.positionRegister != nil else { session.finish(); throw .noPositionRegister }
            useRegister = true
        case .getPosition: useRegister = false
        }
        let packetCounter: (any MiniportWaveRTOutputStream)? = {
            guard scenario.notificationCount > 0, let out = stream.miniportStream as? any MiniportWaveRTOutputStream,
                  case .success = out.getPacketCount() else { return nil }
            return out
        }()
        let probe = TimingProbe(timebase: timebase,
                                source: useRegister ? .register(stream.positionRegister!) : .getPosition(stream.miniportStream),
                                packetCounter: packetCounter)
        let collected = Collected()
        let start = timebase.now
        var timeline = StreamTimeline(start: start, rate: scenario.format.sampleRate)
        let period = scenario.samplePeriod
        let sampler = engine.schedule(every: period, startingAt: start + period) { _ in probe.takeReading() }

        // The steps, each held for its duration on the scenario's grid.
        var state = KSState.stop
        var planned = start
        let total = scenario.durationNanoseconds
        func hold(until end: UInt64) {
            if let clock {
                while clock.now < end {
                    clock.advance(to: min(end, clock.now + 1_000_000_000))
                    collected.drain(probe)
                    progress?(Progress(phase: "run", streamNanoseconds: clock.now - start, totalNanoseconds: total))
                }
            } else {
                while timebase.now < end {
                    Self.sleep(until: min(end, timebase.now + 20_000_000))
                    collected.drain(probe)
                    progress?(Progress(phase: "run", streamNanoseconds: min(total, timebase.now - start), totalNanoseconds: total))
                }
            }
        }
        func enter(_ target: KSState) throws(TimingError) {
            if state == .stop, target != .stop {
                // The audio engine fills the buffer before it leaves STOP.
                session.client.start()
                let forward = stream.onNotification
                stream.onNotification = { note in probe.record(note); forward?(note) }
            }
            probe.beginTransition()
            let before = timebase.now
            do { try stream.transition(to: target) } catch {
                probe.endTransition()
                throw .stateChange(error.description)
            }
            let after = timebase.now
            if clock == nil { Self.awaitFreshPass(engine) }
            probe.endTransition()
            if target == .stop, state != .stop { session.client.stop() }
            // RUN begins at the last SetState of the walk up; it ends at the first of the walk down.
            var time = target == .run ? after : before
            var frozen: UInt64?
            if clock == nil, let hardware = session.hardware {
                // Real time: the instant is only known to within the walk (a wake-up of the
                // engine thread may land inside it), so anchor on the device's own start
                // and frozen frames; the position is still computed independently from there.
                if target == .run { time = Self.runStart(of: hardware, between: before, and: after) }
                if target == .pause, state == .run { frozen = hardware.framesElapsed() }
            }
            timeline.enter(target, at: time, frozen: frozen)
            state = target
        }
        for step in scenario.steps {
            do { try enter(step.state) } catch { engine.cancel(sampler); session.finish(); throw error }
            planned += step.nanoseconds
            hold(until: planned)
        }
        engine.cancel(sampler)
        collected.drain(probe)
        var end = timebase.now
        if state == .run {
            probe.beginTransition()
            end = timebase.now
            try? stream.pause()
            probe.endTransition()
            timeline.enter(.pause, at: end, frozen: clock == nil ? session.hardware?.framesElapsed() : nil)
        }
        let teardown = session.finish()
        collected.drain(probe)

        return TimingAssembly(
            scenario: scenario, profile: profile, name: name, session: session, useRegister: useRegister,
            packetBytes: packetCounter == nil ? nil : UInt64(stream.bufferBytes / max(1, scenario.notificationCount)),
            timeline: timeline, start: start, end: end, readings: collected.readings, notifications: collected.notifications,
            dropped: probe.readings.dropped + probe.notifications.dropped, teardown: teardown,
            baseline: baseline, realTime: engine.realTimeStatus
        ).report()
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
    private static func awaitFreshPass(_ engine: AudioEngine) {
        let seen = engine.passCount
        let deadline = MonotonicTimebase.shared.now + 200_000_000
        while engine.passCount < seen + 2, MonotonicTimebase.shared.now < deadline {
            usleep(50)
        }
    }

    /// Sleeps until the absolute CLOCK_MONOTONIC time `deadline` (ns).
    private static func sleep(until deadline: UInt64) {
        var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }
}

/// Why a timing run could not be made (a run that was made but failed its checks is a report, not an error).
public enum TimingError: Error, CustomStringConvertible, Sendable {
    case emptyScenario
    case session(String)
    case noPositionRegister
    case stateChange(String)

    public var description: String {
        switch self {
        case .emptyScenario: "the scenario has no steps or lasts no time"
        case .session(let why): "the stream could not be opened: \(why)"
        case .noPositionRegister: "the scenario asks for the position register, and the miniport's GetPositionRegister has none"
        case .stateChange(let why): "a state change failed: \(why)"
        }
    }
}

/// What the rings handed over, collected on the runner's thread.
private final class Collected {
    var readings: [PositionReading] = []
    var notifications = NotificationAnalysis()

    func drain(_ probe: TimingProbe) {
        probe.readings.drain { readings.append($0) }
        probe.notifications.drain { notifications.add($0) }
    }
}

/// Silence written with memset: the client's source costs nothing, so a
/// virtual day of stream time is spent on timing, not on filling buffers.
final class QuietSource: SampleSource, @unchecked Sendable {
    var nativeSampleRate: Int? { nil }
    func read(frames: Int, into destination: UnsafeMutableRawPointer, format: StreamFormat) -> Int {
        memset(destination, 0, frames * format.blockAlign)
        return frames
    }
}
