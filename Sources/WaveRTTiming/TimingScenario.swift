import WaveRTEngine
import WaveRTPort

/// What a timing run does over time: the KSSTATE changes the audio engine
/// asks for, how long each lasts, which clock runs the machine, and how often
/// the position is read. The stream itself (hardware, format, buffer,
/// notifications, client mode) is a `StreamSetup`.
///
/// The stream starts in KSSTATE_STOP; each ``Step`` moves it to a state
/// (through the neighbouring states, as the port does) and holds it. Leaving
/// STOP, the client pre-rolls a buffer first, as the audio engine does.
///
/// ```swift
/// var scenario = TimingScenario(steps: [.run(.seconds(1)), .pause(.milliseconds(100)),
///                                       .run(.seconds(1)), .stop(.milliseconds(50)), .run(.milliseconds(300))])
/// scenario.clock = .system
/// ```
public struct TimingScenario: Sendable {
    /// The timebase: ``virtual`` for deterministic, exact, fast runs; ``system``
    /// for CLOCK_MONOTONIC and real-time threads.
    public enum Clock: String, Sendable, Codable, CaseIterable {
        case virtual, system
    }

    /// One state change and how long the stream stays there.
    public enum Step: Sendable, Hashable {
        case run(Duration)
        case pause(Duration)
        case stop(Duration)

        public var state: KSState {
            switch self {
            case .run: .run
            case .pause: .pause
            case .stop: .stop
            }
        }

        public var nanoseconds: UInt64 {
            switch self {
            case .run(let d), .pause(let d), .stop(let d): UInt64(d.nanoseconds)
            }
        }
    }

    public var steps: [Step]
    public var clock: Clock
    /// Readings this soon after each entry into RUN are left out of the fit
    /// (the KS Position Test settles for 100 ms before its readings).
    public var settleNanoseconds: UInt64 = 100_000_000
    /// Time between position readings; nil: ``defaultSamplePeriod(forDuration:)``.
    public var samplePeriodNanoseconds: UInt64?
    /// How long the system clock's timer baseline is measured before the run; nil: one second.
    public var baselineNanoseconds: UInt64?

    public init(steps: [Step] = TimingScenario.standardSteps(seconds: 2), clock: Clock = .virtual) {
        self.steps = steps
        self.clock = clock
    }

    /// Stream time the scenario lasts, in nanoseconds.
    public var durationNanoseconds: UInt64 { steps.reduce(0) { $0 + $1.nanoseconds } }

    /// The steps `wavert timing --duration` runs: mostly RUN, with a 100 ms PAUSE
    /// after the first half and a 100 ms STOP before a short restart, so the
    /// PAUSE-holds, STOP-reads-zero and restart checks are exercised. Runs
    /// shorter than a second are one RUN.
    public static func standardSteps(seconds: Double) -> [Step] {
        let total = Int64((seconds * 1e9).rounded())
        guard total >= 1_000_000_000 else { return [.run(.nanoseconds(max(1, total)))] }
        let hold: Int64 = 100_000_000
        let running = total - 2 * hold
        let first = running / 2
        let restart = running / 10
        return [.run(.nanoseconds(first)), .pause(.nanoseconds(hold)), .run(.nanoseconds(running - first - restart)),
                .stop(.nanoseconds(hold)), .run(.nanoseconds(restart))]
    }

    /// One RUN of `seconds`.
    public static func steadySteps(seconds: Double) -> [Step] {
        [.run(.nanoseconds(Int64((seconds * 1e9).rounded())))]
    }

    /// Most position readings a run takes; longer runs read more sparsely.
    public static let maximumReadings: UInt64 = 50_000

    /// The default time between position readings: 2.618 ms (φ² ms), so the
    /// reading times sweep every phase of a position that moves in steps of a
    /// frame, a burst or a millisecond, as a user thread's readings would (a
    /// period commensurate with the frame rate would read every step at the same
    /// phase and hide a coarse position). Runs long enough to exceed
    /// ``maximumReadings`` read every whole number of milliseconds plus 0.618 ms
    /// instead, so 24 hours of virtual time take 50,000 readings, not 33 million.
    public static func defaultSamplePeriod(forDuration nanoseconds: UInt64) -> UInt64 {
        let base: UInt64 = 2_618_034
        guard nanoseconds / base > maximumReadings else { return base }
        let wholeMilliseconds = (nanoseconds / maximumReadings + 999_999) / 1_000_000
        return wholeMilliseconds * 1_000_000 + 618_034
    }

    var samplePeriod: UInt64 { max(1, samplePeriodNanoseconds ?? Self.defaultSamplePeriod(forDuration: durationNanoseconds)) }
}
