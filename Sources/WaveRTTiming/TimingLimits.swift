/// Pass limits for one run. A nil limit is a figure that set of rules does not
/// judge. Two sets are applied to every run: ``windows()``, the floor, and
/// ``strict(clock:granularityMicroseconds:frameMicroseconds:baseline:)``, this project's
/// figures, shown beside them.
public struct TimingLimits: Sendable, Hashable, Codable {
    /// |least-squares sample-rate error| (KS Position Test; Device.Audio.Base.SamplePositionAccuracy skew).
    public var rateErrorPpm: Double?
    /// |end-to-end drift| against an exact device of the declared accuracy.
    public var driftPpm: Double?
    /// Largest |reported - exact| position, in frames, against a device of the declared accuracy.
    public var positionErrorFrames: Double?
    /// |bias| (Device.Audio.Base.SamplePositionAccuracy).
    public var biasMicroseconds: Double?
    /// Jitter standard deviation and maximum (KS Position Test).
    public var jitterStdMicroseconds: Double?
    public var jitterMaxMicroseconds: Double?
    /// Largest step the position moves in (the KS Position Test wants one sample).
    public var positionStepFrames: Double?
    /// Longest time RUN may leave the position unchanged (wavetest: 50 ms).
    public var runStallMilliseconds: Double?
    /// Longest a position read may take before the KS Position Test warns (20 ms). A warning, never a failure.
    public var readLatencyWarningMilliseconds: Double?
    /// Notifications may differ from the exact expected count by this many.
    public var notificationCountTolerance: Int?
    /// Largest |interval - nominal| between consecutive notifications.
    public var notificationIntervalErrorMicroseconds: Double?
    /// |least-squares rate of the notifications against their due times - nominal|.
    public var notificationRateErrorPpm: Double?
    /// Notification latency (fired minus due) percentiles.
    public var notificationLatencyP50Microseconds: Double?
    public var notificationLatencyP99Microseconds: Double?
    public var notificationLatencyMaxMicroseconds: Double?
    /// |least-squares packet-counter rate error| (packet mode).
    public var packetRateErrorPpm: Double?
    /// The packet counter may lead the position by at most this many packets, and lag by at most `packetLagTolerance`.
    public var packetLeadTolerance: Int?
    public var packetLagTolerance: Int?
    /// Glitches allowed.
    public var glitches: Int?

    public init() {}

    /// The Windows figures: the KS Position Test (rate error <= 1 %, jitter std
    /// <= 1 ms, max <= 4 ms, a warning when a read takes 20 ms),
    /// Device.Audio.Base.SamplePositionAccuracy (|bias| <= 1 ms), wavetest (RUN
    /// moves at least every 50 ms; PAUSE holds; STOP gives 0), and no glitches.
    public static func windows() -> TimingLimits {
        var l = TimingLimits()
        l.rateErrorPpm = 10_000
        l.biasMicroseconds = 1_000
        l.jitterStdMicroseconds = 1_000
        l.jitterMaxMicroseconds = 4_000
        l.runStallMilliseconds = 50
        l.readLatencyWarningMilliseconds = 20
        l.packetRateErrorPpm = 10_000
        l.glitches = 0
        return l
    }

    /// This project's figures.
    ///
    /// Virtual clock (exact arithmetic, so exactness is demanded): every reading
    /// is exactly what a device of the declared accuracy (the register's
    /// `Accuracy`, or one frame for GetPosition) reads at that instant, so the
    /// rate error and drift are 0; bias within one declared step, jitter std
    /// within half a step and max within one step (what quantising to the step
    /// alone gives: std = step / sqrt(12)); the position moves in steps no
    /// larger than declared; exactly the expected notifications, each at its
    /// exact deadline (latency 0, intervals within 1 ns of nominal, the
    /// nanosecond rounding of deadlines); the packet counter never more than one
    /// packet ahead of the position (the FIFO) and never behind.
    ///
    /// System clock (readings carry the host timer's uncertainty): rate error
    /// <= 200 ppm (0.02 %, the Windows 8.1 HD Audio sampling-position figure);
    /// bias and jitter as on the virtual clock plus 50 µs (the Windows 8.1 HD
    /// Audio accuracy, 0.05 ms); notification count within one (a notification
    /// due in the last instants may not have fired), notification rate (least
    /// squares) within 200 ppm, latency p50 at most twice this machine's timer
    /// baseline p50 plus 50 µs and p99 at most three times its p99 plus 100 µs
    /// (the engine does a pass of work after each wake-up, and a neighbour's
    /// burst may land in the run and not in the baseline); the packet counter
    /// within one packet either way.
    public static func strict(clock: TimingScenario.Clock, granularityMicroseconds step: Double,
                              frameMicroseconds: Double, baseline: LatencyFigures?) -> TimingLimits
    {
        var l = TimingLimits()
        let allowance = clock == .virtual ? 0.0 : 50.0
        l.biasMicroseconds = step + allowance
        l.jitterStdMicroseconds = step / 2 + allowance
        l.jitterMaxMicroseconds = step + allowance
        l.positionStepFrames = (step / frameMicroseconds).rounded()
        l.runStallMilliseconds = max(step, frameMicroseconds) / 1000 + allowance / 1000
        l.readLatencyWarningMilliseconds = 1
        l.glitches = 0
        switch clock {
        case .virtual:
            l.rateErrorPpm = 0
            l.driftPpm = 0
            l.positionErrorFrames = 0
            l.notificationCountTolerance = 0
            l.notificationIntervalErrorMicroseconds = 0.001
            l.notificationRateErrorPpm = 0
            l.notificationLatencyP50Microseconds = 0
            l.notificationLatencyP99Microseconds = 0
            l.notificationLatencyMaxMicroseconds = 0
            l.packetLeadTolerance = 1
            l.packetLagTolerance = 0
        case .system:
            l.rateErrorPpm = 200
            l.notificationCountTolerance = 1
            l.notificationRateErrorPpm = 200
            if let baseline {
                l.notificationLatencyP50Microseconds = 2 * baseline.p50 + 50
                l.notificationLatencyP99Microseconds = 3 * baseline.p99 + 100
            }
            l.packetLeadTolerance = 1
            l.packetLagTolerance = 1
        }
        return l
    }
}
