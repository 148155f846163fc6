/// What a timing run measured, how it was judged, and why it failed.
///
/// Encoded by ``jsonData()`` as the JSON report, a contract read by scripts
/// outside the project (schema `wavert-timing/2`; keys sorted; on the virtual
/// clock byte-identical for the same inputs: no wall-clock time or host data).
/// Absent keys were not measured (a figure needs readings; the timer baseline
/// and latency ratios exist only on the system clock; `positionRegister` only
/// for a stream with a position register; `packets` only for a packet-mode client).
///
/// Assertions, from Swift Testing or XCTest alike:
/// ```swift
/// try report.requirePass()                  // throws TimingFailure naming every failed check
/// #expect(report.pass, "\(report.failures)")
/// XCTAssertTrue(report.pass, report.summary)
/// ```
public struct TimingReport: Sendable, Codable {
    public var schema = "wavert-timing/2"
    /// The caller's name for the miniport, if given.
    public var miniport: String?
    public var clock: TimingScenario.Clock
    /// Stream time the scenario lasted, and the part of it in RUN.
    public var durationSeconds: Double
    public var runSeconds: Double
    public var sampleRate: Int
    public var stream: StreamFigures
    /// KSPROPERTY_AUDIO_POSITION (the miniport's GetPosition), read by the probe.
    public var position: PositionFigures
    /// The position register the client mapped (KSPROPERTY_RTAUDIO_POSITIONREGISTER); absent when the stream has none.
    public var positionRegister: PositionFigures?
    public var notifications: NotificationFigures
    public var packets: PacketFigures?
    public var timerBaseline: BaselineFigures?
    /// Glitches the glitch monitor found in what the DMA moved, and the first thousand of them.
    public var glitches: Int
    public var glitchEvents: [GlitchFigure]
    /// DMA transfers through faulty descriptors (faithful-fault mode) and how the hardware was misprogrammed.
    public var dmaFaults: Int
    public var guestErrors: [String]
    /// What the verifier found (Driver Verifier's audio rules), identical findings counted once.
    public var verifier: [VerifierFinding]
    public var limits: LimitSets
    public var checks: [TimingCheck]
    /// Every check passes both the Windows figures and this project's stricter ones.
    public var pass: Bool
    /// Every check passes the Windows figures (the floor).
    public var passWindows: Bool
    /// One line per failed check: what, measured, against which limit.
    public var failures: [String]
    public var warnings: [String]
    /// What the plot draws; not part of the JSON.
    public var series = TimingSeries()

    enum CodingKeys: String, CodingKey {
        case schema, miniport, clock, durationSeconds, runSeconds, sampleRate, stream, position, positionRegister, notifications,
             packets, timerBaseline, glitches, glitchEvents, dmaFaults, guestErrors, verifier, limits, checks, pass, passWindows,
             failures, warnings
    }

    /// Which limits a run must meet.
    public enum Level: String, Sendable { case windows, strict }

    /// Passes at `level`?
    public func passes(_ level: Level = .strict) -> Bool { level == .strict ? pass : passWindows }

    /// Throws a ``TimingFailure`` listing every failed check unless the run passes at `level`.
    public func requirePass(_ level: Level = .strict) throws(TimingFailure) {
        guard !passes(level) else { return }
        let lines = level == .strict ? failures : checks.filter { $0.windows == .fail }.map(\.failureLine)
        throw TimingFailure(level: level, failures: lines, summary: summary)
    }

    /// The check called `id`, if the run made it.
    public func check(_ id: String) -> TimingCheck? { checks.first { $0.id == id } }

    /// The ids of the checks that failed (at either level).
    public var failedChecks: [String] { checks.filter(\.failed).map(\.id) }

    /// A few lines: the verdict and the headline figures.
    public var summary: String {
        var s = "\(miniport ?? "miniport") on the \(clock.rawValue) clock, \(Format.fixed(durationSeconds, 3)) s: "
        s += pass ? "PASS" : passWindows ? "FAIL (passes the Windows figures, not the strict ones)" : "FAIL"
        for f in failures { s += "\n  " + f }
        return s
    }
}

/// Thrown by ``TimingReport/requirePass(_:)``.
public struct TimingFailure: Error, CustomStringConvertible, Sendable {
    public var level: TimingReport.Level
    public var failures: [String]
    public var summary: String
    public var description: String { summary }
}

public struct StreamFigures: Sendable, Codable, Hashable {
    /// The adapter's hardware (`hda`, `isa`, `sg`).
    public var hardware: String
    public var channels: Int
    public var bitsPerSample: Int
    public var float: Bool
    /// The buffer the client asked for, and what the miniport gave.
    public var requestedBufferFrames: Int
    public var bufferBytes: Int
    public var bufferFrames: Int
    /// Notifications per buffer the stream runs with (0: none, a timer-driven client).
    public var notificationCount: Int
    public var packetBytes: Int
    /// KSRTAUDIO_HWLATENCY.FifoSize: how far the DMA fetches ahead of the position.
    public var fifoBytes: Int
    public var clientMode: String
    public var dmaProfile: String
    public var faithfulFaults: Bool
    public var coarsePosition: Bool
    /// The system timer: `default` (15.625 ms ticks, 1 ms while a high-resolution timer is set) or `high`.
    public var timerResolution: String
    /// The scenario's steps, e.g. "run 0.9 s".
    public var steps: [String]
}

public struct PositionFigures: Sendable, Codable, Hashable {
    /// `audioPosition` (KSPROPERTY_AUDIO_POSITION's PlayOffset) or `register` (the mapped position register).
    public var source: String
    public var samplePeriodMicroseconds: Double
    /// Readings taken (in RUN, PAUSE and STOP, outside state changes).
    public var readings: Int
    /// Readings in RUN after the settle: what the fit uses.
    public var fittedReadings: Int
    /// The register's `Accuracy` in bytes (KSPROPERTY_AUDIO_POSITION: one frame), and as frames.
    public var declaredAccuracyBytes: Int
    public var granularityFrames: Double
    /// The largest step the position was seen to move in: the GCD of every position read, in frames.
    public var stepFrames: Double?
    /// KSRTAUDIO_HWLATENCY's CodecDelay (reported, not applied).
    public var codecDelayMicroseconds: Double
    public var rateErrorPpm: Double?
    public var driftPpm: Double?
    public var biasMicroseconds: Double?
    public var jitterStdMicroseconds: Double?
    public var jitterMaxMicroseconds: Double?
    /// Largest |reported - exact| in frames against a device of the declared accuracy.
    public var errorFramesMax: Double?
    public var monotonic: Bool
    /// The largest offset read, and how many reads were not offsets in the cyclic buffer.
    public var maxOffsetBytes: Int
    public var offsetsOutsideBuffer: Int
    /// Every offset lies in the buffer and unwraps without ambiguity.
    public var wrapsCorrectly: Bool
    /// Buffer wrap-arounds seen.
    public var wraps: Int
    /// nil when the scenario has no STOP / PAUSE reading.
    public var stopReadsZero: Bool?
    public var pauseHolds: Bool?
    public var longestStallMilliseconds: Double
    public var readFailures: Int
    /// Longest a single read took (the KS Position Test warns at 20 ms).
    public var readLatencyMaxMicroseconds: Double
}

public struct Percentiles: Sendable, Codable, Hashable {
    public var p50: Double
    public var p99: Double
    public var max: Double

    public init(p50: Double, p99: Double, max: Double) {
        self.p50 = p50
        self.p99 = p99
        self.max = max
    }
}

public struct NotificationFigures: Sendable, Codable, Hashable {
    /// Wakes the notification event caused, as the client saw them.
    public var count: Int
    /// Packets the device's own position says it completed (the most notifications due), and the fewest
    /// (a packet whose boundary lies within a DMA burst of the fetch may not be complete yet).
    public var expected: Int
    public var expectedMinimum: Int
    /// Notifications that found no new packet completed, and packets that got none.
    public var spurious: Int
    public var missed: Int
    /// Event waits that timed out (the client then served the buffer from the position anyway).
    public var timeouts: Int
    /// How late a notification may come and the client still keep the device fed (a packet less the
    /// FIFO), and how many came later than that.
    public var headroomMicroseconds: Double?
    public var lateBeyondHeadroom: Int = 0
    /// System clock: glitches that followed a host stall (a notification later than the headroom, or
    /// none for a packet, in a run whose median latency is within the limit): this machine's, not the miniport's.
    public var glitchesAfterHostStalls: Int?
    /// Notifications against packets completed, in ppm (SYSVAD's 2 ms for 2.67 ms: +333,333).
    public var rateErrorPpm: Double?
    public var intervalNominalMicroseconds: Double?
    public var intervalMicroseconds: Percentiles?
    public var intervalMeanMicroseconds: Double?
    public var intervalMinMicroseconds: Double?
    /// Largest |interval - nominal|.
    public var intervalErrorMaxMicroseconds: Double?
    /// How long after its packet boundary each notification came.
    public var latencyMicroseconds: Percentiles?
    /// Latency percentiles over the timer baseline's (system clock).
    public var latencyRatioToTimerBaseline: Ratio?

    public struct Ratio: Sendable, Codable, Hashable {
        public var p50: Double
        public var p99: Double
    }

    init(count: Int, expected: Int, expectedMinimum: Int, spurious: Int, missed: Int, timeouts: Int) {
        self.count = count
        self.expected = expected
        self.expectedMinimum = expectedMinimum
        self.spurious = spurious
        self.missed = missed
        self.timeouts = timeouts
    }
}

public struct PacketFigures: Sendable, Codable, Hashable {
    /// KSPROPERTY_RTAUDIO_PACKETCOUNT at the last reading, and what the position read with it implies.
    public var count: Int
    public var expected: Int
    public var rateErrorPpm: Double?
    /// Most packets the counter was seen ahead of / behind (position + FIFO) / packet.
    public var maxLead: Int
    public var maxLag: Int
    public var resetsOnStop: Bool?
}

/// This machine's own timer wake-up latency, measured before the run with the client thread's settings.
public struct BaselineFigures: Sendable, Codable, Hashable {
    public var periodMicroseconds: Double
    public var durationSeconds: Double
    public var wakeups: Int
    public var latencyMicroseconds: LatencyFigures
    /// Whether SCHED_FIFO was granted to a thread with those settings (its priority) and the timer slack lowered.
    public var fifoPriority: Int?
    public var timerSlackLowered: Bool
}

public struct LatencyFigures: Sendable, Codable, Hashable {
    public var p50: Double
    public var p99: Double
    public var max: Double
}

/// One kind of verifier finding (`verifier: [{rule, ddi, irql, detail}]`), with how often it was made.
public struct VerifierFinding: Sendable, Codable, Hashable {
    public var rule: String
    public var ddi: String
    public var irql: String
    public var detail: String
    public var count: Int
}

public struct GlitchFigure: Sendable, Codable, Hashable {
    public var timeSeconds: Double
    public var kind: String
    public var frames: Int
}

public struct LimitSets: Sendable, Codable, Hashable {
    public var windows: TimingLimits
    public var strict: TimingLimits
}

/// Series the SVG plot draws.
public struct TimingSeries: Sendable, Hashable {
    /// (scenario time s, position error µs against the exact position) per reading.
    public var positionError: [PlotPoint] = []
    /// Spans of the scenario not in RUN: (start s, end s, "PAUSE" / "STOP").
    public var idleSpans: [IdleSpan] = []
    /// Notification latency and the timer baseline: (µs, count).
    public var latency: [PlotBin] = []
    public var baseline: [PlotBin] = []
    public var bandMicroseconds = 0.0
    public var windowsBandMicroseconds = 0.0

    public struct PlotPoint: Sendable, Hashable { public var x: Double; public var y: Double }
    public struct PlotBin: Sendable, Hashable { public var value: Double; public var count: Double }
    public struct IdleSpan: Sendable, Hashable { public var start: Double; public var end: Double; public var label: String }
}
