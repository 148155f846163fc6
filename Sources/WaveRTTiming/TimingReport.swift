/// What a timing run measured, how it was judged, and why it failed.
///
/// Encoded by ``jsonData()`` as the JSON report, a contract read by scripts
/// outside the project (schema `wavert-timing/1`; keys sorted; on the virtual
/// clock byte-identical for the same inputs: no wall-clock time or host data).
/// Absent keys were not measured (a figure needs readings; the timer baseline
/// and latency ratios exist only on the system clock; `packets` only for a
/// packet-mode stream).
///
/// Assertions, from Swift Testing or XCTest alike:
/// ```swift
/// try report.requirePass()                  // throws TimingFailure naming every failed check
/// #expect(report.pass, "\(report.failures)")
/// XCTAssertTrue(report.pass, report.summary)
/// ```
public struct TimingReport: Sendable, Codable {
    public var schema = "wavert-timing/1"
    /// The caller's name for the miniport, if given.
    public var miniport: String?
    public var clock: TimingScenario.Clock
    /// Stream time the scenario lasted, and the part of it in RUN.
    public var durationSeconds: Double
    public var runSeconds: Double
    public var sampleRate: Int
    public var stream: StreamFigures
    public var position: PositionFigures
    public var notifications: NotificationFigures
    public var packets: PacketFigures?
    public var timerBaseline: BaselineFigures?
    /// Glitches (underruns) the hardware recorded, and the first thousand of them.
    public var glitches: Int
    public var glitchEvents: [GlitchFigure]
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
        case schema, miniport, clock, durationSeconds, runSeconds, sampleRate, stream, position, notifications, packets,
             timerBaseline, glitches, glitchEvents, limits, checks, pass, passWindows, failures, warnings
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
    public var channels: Int
    public var bitsPerSample: Int
    public var float: Bool
    public var bufferBytes: Int
    public var bufferFrames: Int
    public var notificationCount: Int
    public var clientMode: String
    public var dmaProfile: String
    /// The scenario's steps, e.g. "run 0.9 s".
    public var steps: [String]
}

public struct PositionFigures: Sendable, Codable, Hashable {
    /// "register" (KSPROPERTY_RTAUDIO_POSITIONREGISTER) or "getPosition" (PlayOffset).
    public var source: String
    public var samplePeriodMicroseconds: Double
    public var readings: Int
    /// Readings in RUN after the settle: what the fit uses.
    public var fittedReadings: Int
    /// The register's `Accuracy` in bytes (GetPosition: one frame), and as frames.
    public var declaredAccuracyBytes: Int
    public var granularityFrames: Double
    /// The largest step the position was seen to move in: the GCD of every position read, in frames.
    public var stepFrames: Double?
    /// GetHWLatency's CodecDelay, which PlayOffset trails the DMA by.
    public var codecDelayMicroseconds: Double
    public var rateErrorPpm: Double?
    public var driftPpm: Double?
    public var biasMicroseconds: Double?
    public var jitterStdMicroseconds: Double?
    public var jitterMaxMicroseconds: Double?
    /// Largest |reported - exact| in frames against a device of the declared accuracy.
    public var errorFramesMax: Double?
    public var monotonic: Bool
    public var wrapsCorrectly: Bool
    /// Buffer wrap-arounds seen.
    public var wraps: Int
    /// nil when the scenario has no STOP / PAUSE reading.
    public var stopReadsZero: Bool?
    public var pauseHolds: Bool?
    public var longestStallMilliseconds: Double
    public var readFailures: Int
    /// Longest a single reading took (the KS Position Test warns at 20 ms).
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
    public var count: Int
    /// Exactly how many notifications the frames played must produce.
    public var expected: Int
    public var intervalNominalMicroseconds: Double?
    /// Least-squares rate of the firings against their due times (latency's slope), in ppm.
    public var rateErrorPpm: Double?
    public var intervalMicroseconds: Percentiles?
    public var intervalMeanMicroseconds: Double?
    public var intervalMinMicroseconds: Double?
    /// Largest |interval - nominal|.
    public var intervalErrorMaxMicroseconds: Double?
    /// Fired minus due.
    public var latencyMicroseconds: Percentiles?
    /// Latency percentiles over the timer baseline's (system clock).
    public var latencyRatioToTimerBaseline: Ratio?

    public struct Ratio: Sendable, Codable, Hashable {
        public var p50: Double
        public var p99: Double
    }
}

public struct PacketFigures: Sendable, Codable, Hashable {
    /// GetPacketCount at the last reading, and what the exact position implies.
    public var count: Int
    public var expected: Int
    public var rateErrorPpm: Double?
    /// Most packets the counter was seen ahead of / behind the exact position.
    public var maxLead: Int
    public var maxLag: Int
    public var resetsOnStop: Bool?
}

/// This machine's own timer wake-up latency, measured before the run with the engine's thread settings.
public struct BaselineFigures: Sendable, Codable, Hashable {
    public var periodMicroseconds: Double
    public var durationSeconds: Double
    public var wakeups: Int
    public var latencyMicroseconds: LatencyFigures
    /// Whether SCHED_FIFO was granted to the engine thread (its priority) and the timer slack lowered.
    public var fifoPriority: Int?
    public var timerSlackLowered: Bool
}

public struct LatencyFigures: Sendable, Codable, Hashable {
    public var p50: Double
    public var p99: Double
    public var max: Double
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
