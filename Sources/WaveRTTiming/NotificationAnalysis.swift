/// The notification checks, from the client's side: each wake the
/// notification event caused, with the position the client read at that
/// moment. IMiniportWaveRTStreamNotification promises NotificationCount
/// events per buffer, one as the stream completes each packet (at the
/// midpoint and end of the buffer): so each notification should find one more
/// packet fetched than the one before (position + FIFO past a packet
/// boundary), and find it just after the boundary.
///
/// - **Count** against the packets the device's own position says were
///   completed in each run between STOPs (so a device whose clock is wrong is
///   the rate check's, not this one's). A DMA fetches in bursts, so a packet
///   whose boundary lies within a burst of where the position says the fetch
///   is may not be complete yet: the expected count is a range, exact when
///   packets are whole bursts.
/// - **Latency**: how long after its packet boundary each notification came
///   (position + FIFO − boundary, at the stream's rate; at most the time since
///   RUN began: a FIFO larger than a packet fills past a boundary at once). A notification that
///   finds no new packet completed is *spurious* (it came early or twice); a
///   notification that finds more than one new packet means others were
///   *missed* (or, on the system clock, coalesced: a KEVENT set twice before
///   the wait wakes its waiter once).
/// - **Intervals** between consecutive notifications of a RUN, against the
///   packet's duration (figures only).
struct NotificationAnalysis {
    struct Context {
        var packetBytes: UInt64
        var fifoBytes: UInt64
        /// Bytes the fetch may lag position + FIFO: a burst less one byte (0 when packets are whole bursts).
        var fetchSlackBytes: UInt64
        var bytesPerSecond: UInt64
        var notificationCount: Int
        var timeouts: UInt64
        /// How late a notification may come before the client can no longer keep the device fed:
        /// a packet less the FIFO (the client writes a buffer ahead of the position when it wakes).
        var headroomBytes: UInt64
    }

    var figures: NotificationFigures
    /// Lateness of each notification that completed a packet, in nanoseconds.
    var latency = Distribution()
    var intervals = Distribution()
    /// Runs between STOPs in which notifications were expected.
    var generations = 0

    init(notified: [PositionAnalysis.Notified], generationEnds: [Int: UInt64], context c: Context) {
        let P = c.packetBytes
        var expected = 0, minimum = 0
        for (_, end) in generationEnds.sorted(by: { $0.key < $1.key }) {
            let reach = end + c.fifoBytes
            expected += Int(reach / P)
            minimum += Int((reach > c.fetchSlackBytes ? reach - c.fetchSlackBytes : 0) / P)
            generations += 1
        }
        var spurious = 0, missed = 0, beyondHeadroom = 0
        var previous: (generation: Int, packets: UInt64)?
        var lastArrival: (segment: Int, time: UInt64)?
        let ordered = notified.enumerated().sorted { ($0.element.arrival, $0.offset) < ($1.element.arrival, $1.offset) }.map(\.element)
        for n in ordered {
            let completed = (n.linear + c.fifoBytes) / P
            let before = previous?.generation == n.generation ? previous!.packets : 0
            if completed <= before {
                spurious += 1
            } else {
                missed += Int(completed - before - 1)
                // Since the fetch crossed the boundary, or since RUN began when it crossed it then
                // (a FIFO larger than a packet primes past a boundary at the first RUN).
                let late = min(n.linear + c.fifoBytes - completed * P, n.sinceRunStart ?? .max)
                if late > c.headroomBytes { beyondHeadroom += 1 }
                latency.record(Int64(late * 1_000_000_000 / c.bytesPerSecond))
                previous = (n.generation, completed)
            }
            if let l = lastArrival, l.segment == n.segment { intervals.record(Int64(bitPattern: n.arrival &- l.time)) }
            lastArrival = (n.segment, n.arrival)
        }
        var f = NotificationFigures(count: notified.count, expected: expected, expectedMinimum: minimum, spurious: spurious,
                                    missed: missed, timeouts: Int(c.timeouts))
        f.lateBeyondHeadroom = beyondHeadroom
        f.headroomMicroseconds = Double(c.headroomBytes) * 1e6 / Double(c.bytesPerSecond)
        let nominal = Double(P) * 1e9 / Double(c.bytesPerSecond)
        f.intervalNominalMicroseconds = nominal / 1e3
        if expected > 0 { f.rateErrorPpm = (Double(notified.count) / Double(expected) - 1) * 1e6 }
        if let p50 = latency.percentile(50), let p99 = latency.percentile(99) {
            f.latencyMicroseconds = Percentiles(p50: Double(p50) / 1e3, p99: Double(p99) / 1e3, max: Double(latency.maximum) / 1e3)
        }
        if let p50 = intervals.percentile(50), let p99 = intervals.percentile(99), let mean = intervals.mean {
            f.intervalMicroseconds = Percentiles(p50: Double(p50) / 1e3, p99: Double(p99) / 1e3, max: Double(intervals.maximum) / 1e3)
            f.intervalMinMicroseconds = Double(intervals.minimum) / 1e3
            f.intervalMeanMicroseconds = mean / 1e3
            f.intervalErrorMaxMicroseconds = max(abs(Double(intervals.maximum) - nominal), abs(Double(intervals.minimum) - nominal)) / 1e3
        }
        figures = f
    }
}
