/// The position checks over a run's readings, against the exact position of
/// ``StreamTimeline``:
/// - KS Position Test: least-squares fit of position against time for the
///   sample-rate error, bias and jitter (residuals), after a settle;
///   monotonic, wraps at the buffer end; a read taking 20 ms is a warning;
/// - Device.Audio.Base.SamplePositionAccuracy: bias;
/// - wavetest: STOP reads 0, PAUSE holds, RUN moves at least every 50 ms;
/// - this project: every reading exactly what a device of the declared
///   accuracy reads, no drift, steps no larger than declared.
struct PositionAnalysis {
    struct Context {
        var bufferBytes: UInt64
        var blockAlign: UInt64
        var bytesPerSecond: Double
        /// Declared accuracy: the register's, or one frame for GetPosition.
        var accuracyBytes: UInt64
        /// PlayOffset trails the frames elapsed by the codec delay (GetPosition only).
        var codecDelayFrames: UInt64
        var packetBytes: UInt64?
        var settle: UInt64
        var start: UInt64
    }

    var figures: PositionFigures
    var packets: PacketFigures?
    var errorSeries: [TimingSeries.PlotPoint] = []

    init(readings: [PositionReading], timeline: StreamTimeline, context c: Context, base: PositionFigures) {
        figures = base
        var fitX: [Double] = [], fitDeclared: [Double] = [], fitExact: [Double] = [], fitGroup: [Int] = []
        var packetX: [Double] = [], packetY: [Double] = [], packetGroup: [Int] = []
        var previous: (generation: Int, segment: Int, linear: UInt64, declared: UInt64)?
        var lastChange: UInt64 = 0
        var pauseValue: (segment: Int, offset: UInt64)?
        var stopOK: Bool?, pauseOK: Bool?, packetReset: Bool?
        var monotonic = true, wrapsOK = true
        var maxLinear: [Int: UInt64] = [:]
        var step: UInt64 = 0
        var stall: UInt64 = 0, readLatency: UInt64 = 0, failures = 0, used = 0
        var errorMax: UInt64 = 0
        var lead = Int64.min, lag = Int64.max
        var lastPackets: (count: UInt64, expected: UInt64)?
        let B = c.bufferBytes

        for r in readings where r.epoch & 1 == 0 {
            let segment = r.epoch / 2
            guard segment < timeline.segments.count else { continue }
            used += 1
            readLatency = max(readLatency, r.after - r.before)
            if r.failed { failures += 1; continue }
            let s = timeline.segments[segment]
            let t = r.before + (r.after - r.before) / 2
            let frames = timeline.frames(at: t, segment: segment)
            let play = frames > c.codecDelayFrames ? frames - c.codecDelayFrames : 0
            let exact = play * c.blockAlign
            let declared = exact - exact % c.accuracyBytes
            if r.offset >= B { wrapsOK = false }

            if s.state == .stop {
                let zero = r.offset == 0
                stopOK = (stopOK ?? true) && zero
                if r.packets != .max { packetReset = (packetReset ?? true) && r.packets == 0 }
                previous = nil
                continue
            }
            // Unwrap as a client does, predicting from the previous reading plus the
            // exact advance since (so readings further apart than a buffer still
            // unwrap); the lap is ambiguous only if the position strays by half a buffer
            // between two readings, which is a wrap-around failure.
            let continuing = previous.map { $0.generation == s.generation } ?? false
            let predicted = continuing ? previous!.linear + declared - previous!.declared : declared
            let linear = Self.unwrap(r.offset % B, near: predicted, buffer: B)
            if linear > predicted ? linear - predicted >= B / 2 : predicted - linear > B / 2 { wrapsOK = false }
            maxLinear[s.generation] = max(maxLinear[s.generation] ?? 0, linear)
            step = gcd(step, linear)
            errorMax = max(errorMax, linear > declared ? linear - declared : declared - linear)
            errorSeries.append(.init(x: Double(t - c.start) / 1e9,
                                     y: (Double(linear) - Double(exact)) / c.bytesPerSecond * 1e6))

            if let p = previous, p.generation == s.generation, linear < p.linear { monotonic = false }
            if s.state == .pause {
                if let pv = pauseValue, pv.segment == segment {
                    pauseOK = (pauseOK ?? true) && pv.offset == r.offset
                } else {
                    pauseValue = (segment, r.offset)
                    if let p = previous, p.generation == s.generation { pauseOK = (pauseOK ?? true) && linear >= p.linear }
                }
            } else {
                // A stall is timed from the last reading that saw the position move,
                // or from the start of this RUN (the position before it: the previous
                // reading's, or 0 after a STOP).
                if previous?.segment != segment { lastChange = s.start }
                if (continuing ? previous!.linear : 0) == linear {
                    stall = max(stall, t - lastChange)
                } else {
                    lastChange = t
                }
            }
            previous = (s.generation, segment, linear, declared)

            if let P = c.packetBytes, r.packets != .max {
                let expectedCount = frames * c.blockAlign / P
                let count = Self.unwrap(r.packets & 0xFFFF_FFFF, near: expectedCount, buffer: 1 << 32)
                let d = Int64(bitPattern: count &- expectedCount)
                lead = max(lead, d)
                lag = min(lag, d)
                lastPackets = (count, expectedCount)
                if s.state == .run, t - s.start >= c.settle {
                    packetX.append(Double(timeline.runTime(at: t, segment: segment)))
                    packetY.append(Double(count * P) - Double(frames * c.blockAlign))
                    packetGroup.append(s.generation)
                }
            }
            if s.state == .run, t - s.start >= c.settle {
                fitX.append(Double(timeline.runTime(at: t, segment: segment)))
                fitDeclared.append(Double(linear) - Double(declared))
                fitExact.append(Double(linear) - Double(exact))
                fitGroup.append(s.generation)
            }
        }

        let bytesPerNs = c.bytesPerSecond / 1e9
        let us = 1e6 / c.bytesPerSecond
        figures.readings = used
        figures.fittedReadings = fitX.count
        figures.readFailures = failures
        figures.readLatencyMaxMicroseconds = Double(readLatency) / 1e3
        figures.monotonic = monotonic
        figures.wrapsCorrectly = wrapsOK
        figures.wraps = maxLinear.values.reduce(0) { $0 + Int($1 / B) }
        figures.stopReadsZero = stopOK
        figures.pauseHolds = pauseOK
        figures.longestStallMilliseconds = Double(stall) / 1e6
        figures.stepFrames = step == 0 ? nil : Double(step) / Double(c.blockAlign)
        figures.errorFramesMax = used > failures ? Double(errorMax) / Double(c.blockAlign) : nil
        // Rate and drift against a device of the declared accuracy read at the same
        // instants, so the declared quantisation does not pass for a rate error;
        // bias and jitter against the exact position, so granularity shows, as in
        // the KS Position Test.
        if let fit = LinearFit(x: fitX, y: fitDeclared, groups: fitGroup) {
            figures.rateErrorPpm = fit.slope / bytesPerNs * 1e6
            figures.driftPpm = Self.drift(x: fitX, y: fitDeclared, groups: fitGroup).map { $0 / bytesPerNs * 1e6 }
        }
        if let fit = LinearFit(x: fitX, y: fitExact, groups: fitGroup) {
            figures.biasMicroseconds = fit.meanY * us
            figures.jitterStdMicroseconds = fit.residualRMS * us
            figures.jitterMaxMicroseconds = fit.residualMax * us
        }
        if c.packetBytes != nil, let last = lastPackets {
            let fit = LinearFit(x: packetX, y: packetY, groups: packetGroup)
            packets = PacketFigures(count: Int(last.count), expected: Int(last.expected),
                                    rateErrorPpm: fit.map { $0.slope / bytesPerNs * 1e6 },
                                    maxLead: Int(max(lead, 0)), maxLag: Int(max(-lag, 0)), resetsOnStop: packetReset)
        }
    }

    /// End to end: the error gained from the first to the last reading of each
    /// run between STOPs, over the RUN time between them (bytes per ns).
    static func drift(x: [Double], y: [Double], groups: [Int]) -> Double? {
        var first: [Int: Int] = [:], last: [Int: Int] = [:]
        for i in groups.indices {
            if first[groups[i]] == nil { first[groups[i]] = i }
            last[groups[i]] = i
        }
        var gained = 0.0, span = 0.0
        for g in first.keys.sorted() {
            let i = first[g]!, j = last[g]!
            gained += y[j] - y[i]
            span += x[j] - x[i]
        }
        return span > 0 ? gained / span + 0.0 : nil
    }

    /// The value congruent to `offset` modulo `buffer` nearest to `target` (never negative).
    static func unwrap(_ offset: UInt64, near target: UInt64, buffer: UInt64) -> UInt64 {
        let base = target - target % buffer + offset
        if base >= buffer, base > target, base - target > buffer / 2 { return base - buffer }
        if base < target, target - base > buffer / 2 { return base + buffer }
        return base
    }
}
