import Histogram
import WaveRTClient
import WaveRTEngine
import WaveRTMemory
import WaveRTPort

/// Runs a miniport through a ``TimingScenario`` and measures its timing the
/// way Windows' own tests do, from the client's side, then judges it against
/// the Windows figures and this project's stricter ones (``TimingLimits``).
///
/// A test of your own miniport is a few lines:
/// ```swift
/// import Testing
/// import WaveRTTiming
///
/// @Test func myMiniportKeepsTime() throws {
///     let setup = StreamSetup(hardware: .sg, format: .cd48k, bufferFrames: 480, notificationCount: 2)
///     let report = try TimingSuite.run(miniport: { MyMiniport() }, setup: setup, scenario: TimingScenario())
///     try report.requirePass()          // or .requirePass(.windows) for the Windows floor only
/// }
/// ```
///
/// How it measures: a ``MiniportSession`` opens the stream on an emulated
/// machine (the adapter's hardware, the port, one render pin) and its
/// audio-engine client plays silence. A probe on the client's side reads the
/// position every sample period, as the KS Position Test does, through
/// KSPROPERTY_AUDIO_POSITION and through the position register the client
/// mapped (when the stream has one), with the timebase time of each read; it
/// is the client's observer too, and reads the position again at each wake
/// the notification event causes. The suite asks for each state change
/// itself and keeps the times (``StreamTimeline``): the exact reference every
/// position is compared with. On the virtual clock the run is exact and
/// takes a fraction of the stream time; on the system clock the suite first
/// measures this machine's timer wake-up latency (``TimerBaseline``, the
/// client thread's settings), so notification latency is judged against it.
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
    ///   - setup: the hardware it drives, the stream and the client (render only).
    ///   - name: what the report calls the miniport.
    ///   - memory: the machine's physical memory (fragment it to test allocation paths). When the port
    ///     refuses what the miniport did with it (a buffer beyond its MDL), the report fails the
    ///     verifier check with the findings, the stream never having opened.
    ///   - trace: records the run for a Chrome/Perfetto trace (``ChromeTrace``); on the virtual clock
    ///     its origin is 0, the clock's start.
    ///   - progress: called every stream second (virtual) or every 20 ms (system).
    public static func run(miniport: () -> any MiniportWaveRT, setup: StreamSetup, scenario: TimingScenario, name: String? = nil,
                           memory: PhysicalMemory = PhysicalMemory(), trace: TraceRecorder? = nil,
                           progress: ((Progress) -> Void)? = nil) throws(TimingError) -> TimingReport
    {
        guard !scenario.steps.isEmpty, scenario.durationNanoseconds > 0 else { throw .emptyScenario }
        guard !setup.capture else { throw .captureNotMeasured }
        var baseline: TimingAssembly.Baseline?
        if scenario.clock == .system {
            let duration = scenario.baselineNanoseconds ?? 1_000_000_000
            progress?(Progress(phase: "timer baseline", streamNanoseconds: 0, totalNanoseconds: scenario.durationNanoseconds))
            let configuration = RealTimeThreadConfiguration(fifoPriority: 65, name: "wavert-baseline")
            let histogram = TimerBaseline.measure(duration: duration, period: 1_000_000, configuration: configuration)
            // What a thread with the client's settings is granted (SCHED_FIFO, timer slack), for the report.
            let granted = RealTimeThread(configuration: configuration) { _ in }
            granted.join()
            let status = granted.status
            baseline = TimingAssembly.Baseline(histogram: histogram, period: 1_000_000, duration: duration, status: status)
        }
        let clock = scenario.clock == .virtual ? VirtualClock() : nil
        let timebase: any Timebase = clock ?? MonotonicTimebase.shared
        let session: MiniportSession
        do {
            session = try MiniportSession(miniport: miniport(), setup: setup, timebase: timebase, memory: memory,
                                          source: SilenceGenerator(), trace: trace)
        } catch {
            // Refused with the verifier's findings: the miniport broke a rule, a named check says which.
            if !error.verifier.isEmpty { return TimingAssembly.refused(scenario: scenario, setup: setup, name: name, error: error) }
            throw .session(error.description)
        }
        let client = session.client
        let fifo = UInt64((try? session.pin.hwLatency().get())?.fifoSize ?? 0)
        let probe = TimingProbe(pin: session.pin, register: client.positionRegister, readsPackets: client.mode == .packet,
                                timebase: timebase, period: scenario.samplePeriod)
        client.observer = probe
        let driver = ScenarioDriver(session: session, probe: probe, clock: clock, timebase: timebase,
                                    total: scenario.durationNanoseconds, progress: progress)
        do { try driver.play(scenario.steps) } catch {
            _ = driver.finish()
            throw error
        }
        let (end, report) = driver.finish()
        return TimingAssembly(scenario: scenario, setup: setup, session: session, name: name, fifoBytes: fifo, driver: driver,
                              end: end, sessionReport: report, baseline: baseline).report()
    }
}

/// Why a timing run could not be made (a run that was made but failed its checks is a report, not an error).
public enum TimingError: Error, CustomStringConvertible, Sendable {
    case emptyScenario
    case captureNotMeasured
    case session(String)
    case stateChange(String)

    public var description: String {
        switch self {
        case .emptyScenario: "the scenario has no steps or lasts no time"
        case .captureNotMeasured: "the timing suite measures render streams (the KS Position Test's render position); this setup is a capture stream"
        case .session(let why): "the stream could not be opened: \(why)"
        case .stateChange(let why): "a state change failed: \(why)"
        }
    }
}
