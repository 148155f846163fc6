/// The notification checks: the count against the exact number the frames
/// played must produce (one per packet, NotificationCount per buffer), the
/// intervals between consecutive notifications of a RUN against the packet
/// duration, and the latency (fired minus due) percentiles.
///
/// Fed one record at a time as the rings are drained, so a virtual day (eight
/// million notifications) keeps only distributions, never the records.
struct NotificationAnalysis {
    private(set) var count = 0
    private(set) var latency = Distribution()
    private var intervals = Distribution()
    private var previous: NotificationRecord?
    private var drift = StreamingFit()
    private var origin: UInt64?

    mutating func add(_ r: NotificationRecord) {
        count += 1
        let late = Int64(bitPattern: r.actual &- r.ideal)
        latency.record(late)
        // Latency against due time: its slope is the notifications' rate error,
        // robust to a late first or last one (a mean interval is not).
        let start = origin ?? r.ideal
        origin = start
        drift.add(x: Double(r.ideal &- start), y: Double(late))
        // Consecutive notifications of one RUN (a PAUSE or STOP in between changes the epoch).
        if let p = previous, p.epoch == r.epoch, r.epoch & 1 == 0, r.sequence == p.sequence + 1 {
            intervals.record(Int64(bitPattern: r.actual &- p.actual))
        }
        previous = r
    }

    /// Runs between STOPs in the timeline (each may end with a notification still due).
    static func generations(_ timeline: StreamTimeline, end: UInt64) -> Int {
        timeline.framesPerGeneration(end: end).count
    }

    func figures(timeline: StreamTimeline, end: UInt64, bufferFrames: UInt64, notificationCount: Int, rate: Int) -> NotificationFigures {
        let expected = notificationCount == 0 ? 0
            : timeline.framesPerGeneration(end: end).reduce(0) { $0 + Int($1 * UInt64(notificationCount) / bufferFrames) }
        var f = NotificationFigures(count: count, expected: expected)
        guard notificationCount > 0 else { return f }
        let nominal = Double(bufferFrames) / Double(notificationCount) * 1e9 / Double(rate)
        f.intervalNominalMicroseconds = nominal / 1e3
        f.rateErrorPpm = drift.slope.map { $0 * 1e6 }
        if let p50 = latency.percentile(50), let p99 = latency.percentile(99) {
            f.latencyMicroseconds = Percentiles(p50: Double(p50) / 1e3, p99: Double(p99) / 1e3, max: Double(latency.maximum) / 1e3)
        }
        if let p50 = intervals.percentile(50), let p99 = intervals.percentile(99), let mean = intervals.mean {
            f.intervalMicroseconds = Percentiles(p50: Double(p50) / 1e3, p99: Double(p99) / 1e3, max: Double(intervals.maximum) / 1e3)
            f.intervalMinMicroseconds = Double(intervals.minimum) / 1e3
            f.intervalMeanMicroseconds = mean / 1e3
            f.intervalErrorMaxMicroseconds = max(abs(Double(intervals.maximum) - nominal), abs(Double(intervals.minimum) - nominal)) / 1e3
        }
        return f
    }
}
