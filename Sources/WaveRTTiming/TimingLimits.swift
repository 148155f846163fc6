/// Pass limits for one run. A nil limit is a figure that set of rules does not
/// judge. Two sets are applied to every run: ``windows()``, the floor, and
/// ``strict(clock:granularityMicroseconds:frameMicroseconds:notificationSlackMicroseconds:baseline:)``,
/// this project's figures, shown beside them.
public struct TimingLimits: Sendable, Hashable, Codable {
    /// |least-squares sample-rate error| (KS Position Test; Device.Audio.Base.SamplePositionAccuracy skew).
    public var rateErrorPpm: Double?
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
    /// Notifications may differ from the packets completed by this many per run between STOPs,
    /// plus this fraction of them.
    public var notificationCountTolerance: Int?
    public var notificationCountToleranceFraction: Double?
    /// Notification latency (after its packet boundary) percentiles.
    public var notificationLatencyP50Microseconds: Double?
    public var notificationLatencyP99Microseconds: Double?
    public var notificationLatencyMaxMicroseconds: Double?
    /// |least-squares packet-counter rate error| (packet mode).
    public var packetRateErrorPpm: Double?
    /// The packet counter may lead (position + FIFO) / packet by at most this many packets, and lag by at most `packetLagTolerance`.
    public var packetLeadTolerance: Int?
    public var packetLagTolerance: Int?
    /// Glitches allowed.
    public var glitches: Int?

    public init() {}

    /// The Windows figures: the KS Position Test (rate error <= 1 %, jitter std
    /// <= 1 ms, max <= 4 ms, a warning when a read takes 20 ms),
    /// Device.Audio.Base.SamplePositionAccuracy (|bias| <= 1 ms), wavetest (RUN
    /// moves at least every 50 ms; PAUSE holds; STOP gives 0), a notification
    /// per packet (IMiniportWaveRTStreamNotification: NotificationCount per
    /// buffer; within one per run and 1 %, for a notification due at the last
    /// instant and, on the system clock, events a busy client saw as one), the
    /// packet counter's rate within 1 %, and no glitches.
    public static func windows() -> TimingLimits {
        var l = TimingLimits()
        l.rateErrorPpm = 10_000
        l.biasMicroseconds = 1_000
        l.jitterStdMicroseconds = 1_000
        l.jitterMaxMicroseconds = 4_000
        l.runStallMilliseconds = 50
        l.readLatencyWarningMilliseconds = 20
        l.notificationCountTolerance = 1
        l.notificationCountToleranceFraction = 0.01
        l.packetRateErrorPpm = 10_000
        l.glitches = 0
        return l
    }

    /// This project's figures.
    ///
    /// Virtual clock (exact arithmetic, so exactness is demanded): every reading
    /// is what a device of the declared accuracy (the register's `Accuracy`, or
    /// one frame for KSPROPERTY_AUDIO_POSITION) reads at that instant, so the
    /// rate error is 0; bias within one declared step, jitter std
    /// within half a step and max within one step (quantising to the step alone
    /// gives std = step / sqrt(12)); the position moves in steps no larger than
    /// declared; a notification for every packet completed, and none other,
    /// each within `notificationSlack` of its boundary (one frame, plus a DMA
    /// burst when packets are not whole bursts); the packet counter never ahead
    /// of (position + FIFO) / packet, and at most one packet behind it (the
    /// fetch moves in bursts).
    ///
    /// System clock (readings carry the host timer's uncertainty): rate error
    /// <= 200 ppm (0.02 %, the Windows 8.1 HD Audio sampling-position figure);
    /// bias and jitter as on the virtual clock plus 50 µs (the Windows 8.1 HD
    /// Audio accuracy, 0.05 ms); notification count within one per run,
    /// latency p50 at most three times this machine's timer baseline p50 plus
    /// 100 µs and p99 at most four times its p99 plus 300 µs (a notification
    /// wakes two threads in turn, the processor's then the client's, each as
    /// late as a timer wake-up, with a pass of work between), both plus the
    /// slack; the packet counter within one packet either way.
    public static func strict(clock: TimingScenario.Clock, granularityMicroseconds step: Double, frameMicroseconds: Double,
                              notificationSlackMicroseconds slack: Double, baseline: LatencyFigures?) -> TimingLimits
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
            l.notificationCountTolerance = 0
            l.notificationCountToleranceFraction = 0
            l.notificationLatencyMaxMicroseconds = slack
            l.packetLeadTolerance = 0
            l.packetLagTolerance = 1
        case .system:
            l.rateErrorPpm = 200
            l.notificationCountTolerance = 1
            l.notificationCountToleranceFraction = 0
            if let baseline {
                l.notificationLatencyP50Microseconds = 3 * baseline.p50 + 100 + slack
                l.notificationLatencyP99Microseconds = 4 * baseline.p99 + 300 + slack
            }
            l.packetLeadTolerance = 1
            l.packetLagTolerance = 1
        }
        return l
    }
}
