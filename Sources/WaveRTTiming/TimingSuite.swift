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
        let driver = ScenarioDriver(session: session, probe: probe, clock: clock, timebase: timebase,
                                    total: scenario.durationNanoseconds, progress: progress)
        let period = scenario.samplePeriod
        let sampler = engine.schedule(every: period, startingAt: driver.start + period) { _ in probe.takeReading() }
        do { try driver.play(scenario.steps) } catch {
            engine.cancel(sampler)
            session.finish()
            throw error
        }
        engine.cancel(sampler)
        let (end, teardown) = driver.finish()

        return TimingAssembly(
            scenario: scenario, profile: profile, name: name, session: session, useRegister: useRegister,
            packetBytes: packetCounter == nil ? nil : UInt64(stream.bufferBytes / max(1, scenario.notificationCount)),
            timeline: driver.timeline, start: driver.start, end: end, readings: driver.readings, notifications: driver.notifications,
            dropped: probe.readings.dropped + probe.notifications.dropped, teardown: teardown,
            baseline: baseline, realTime: engine.realTimeStatus
        ).report()
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

/// Silence written with memset: the client's source costs nothing, so a
/// virtual day of stream time is spent on timing, not on filling buffers.
final class QuietSource: SampleSource, @unchecked Sendable {
    var nativeSampleRate: Int? { nil }
    func read(frames: Int, into destination: UnsafeMutableRawPointer, format: StreamFormat) -> Int {
        memset(destination, 0, frames * format.blockAlign)
        return frames
    }
}
