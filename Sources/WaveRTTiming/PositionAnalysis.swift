/// One position source's observations, unwrapped and measured the way the
/// KS Position Test measures a position (least-squares fit of position
/// against time for the sample-rate error; residuals for jitter), with
/// Device.Audio.Base.SamplePositionAccuracy's bias and wavetest's state
/// rules, against the suite's own ``StreamTimeline``:
///
/// - **Rate and drift** against a device of the declared accuracy read at the
///   same instants (the timeline's exact frames, quantised to the register's
///   `Accuracy`, or to a frame for KSPROPERTY_AUDIO_POSITION), so quantisation
///   does not pass for a rate error and an exact device reads exactly 0 ppm.
///   One common slope over every RUN; each RUN its own intercept.
/// - **Bias and jitter** against the continuous ideal position (bytes per
///   second × time since the RUN began, from where the device held in the
///   PAUSE before it), so granularity shows as jitter, as in the KS Position
///   Test: an exact device has ±half a frame; SYSVAD's millisecond steps have
///   a standard deviation of 0.29 ms. Bias is the fitted line's value where
///   each RUN began (the offset the position starts with), so a rate error
///   is the rate check's alone.
/// - **Position in the buffer**: every offset read lies in the cyclic buffer.
/// - **wavetest**: STOP reads 0, PAUSE holds, RUN moves (longest stall).
///
/// The reads the client made when woken by its notification event go through
/// the same unwrapping (they are reads of the same position) and are handed
/// to the notification analysis with their linear positions.
struct PositionAnalysis {
    struct Context {
        var source: PositionSource
        var bufferBytes: UInt64
        var blockAlign: UInt64
        var bytesPerSecond: UInt64
        /// Declared accuracy in bytes: the register's, or one frame for KSPROPERTY_AUDIO_POSITION.
        var accuracyBytes: UInt64
        var fifoBytes: UInt64
        /// Packet mode: the packet count is read with this source, packets of this size.
        var packetBytes: UInt64?
        var settle: UInt64
        var start: UInt64
    }

    /// A notification wake with the position the client read then, unwrapped.
    struct Notified {
        var arrival: UInt64
        var linear: UInt64
        /// How far the position had moved since this RUN began (nil outside RUN).
        var sinceRunStart: UInt64?
        var generation: Int
        var segment: Int
    }

    var figures: PositionFigures
    var packets: PacketFigures?
    var errorSeries: [TimingSeries.PlotPoint] = []
    var notified: [Notified] = []
    /// The highest position read in each run between STOPs (generation), unwrapped.
    var generationEnds: [Int: UInt64] = [:]

    init(observations unsorted: [PositionObservation], timeline: StreamTimeline, context c: Context, base: PositionFigures) {
        figures = base
        let observations = unsorted.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
        let B = c.bufferBytes, bA = c.blockAlign
        let bytesPerNs = Double(c.bytesPerSecond) / 1e9

        var fitX: [Double] = [], fitDeclared: [Double] = [], fitIdeal: [Double] = [], fitGroup: [Int] = []
        var packetX: [Double] = [], packetY: [Double] = [], packetGroup: [Int] = []
        var segmentStartX: [Int: Double] = [:]
        var previous: (generation: Int, linear: UInt64, declared: UInt64)?
        var lastReading: (generation: Int, segment: Int, linear: UInt64)?
        var anchors: [Int: UInt64] = [:]          // RUN segment -> the device's position where it began
        var pauseValue: [Int: UInt64] = [:]       // PAUSE segment -> the offset it held (first reading)
        var pauseLinear: [Int: UInt64] = [:]      // PAUSE segment -> its last reading, unwrapped
        var lastMove: (segment: Int, value: UInt64, time: UInt64)?
        var stopOK: Bool?, pauseOK: Bool?, packetReset: Bool?
        var monotonic = true, ambiguous = 0
        var step: UInt64 = 0
        var stall: UInt64 = 0, readLatency: UInt64 = 0, failures = 0, used = 0
        var maxOffset: UInt64 = 0, outside = 0
        var errorMax: UInt64 = 0
        var lead = Int64.min, lag = Int64.max
        var lastPackets: (count: UInt64, expected: UInt64)?

        for o in observations {
            let isReading = o.kind != .notification
            if o.epoch & 1 != 0 && isReading { continue }  // taken during a state change
            let index = o.epoch & 1 == 0 ? o.epoch / 2 : (o.epoch - 1) / 2
            guard index < timeline.segments.count else { continue }
            let s = timeline.segments[index]
            let t = o.time
            if isReading {
                used += 1
                readLatency = max(readLatency, o.after - o.before)
            }
            if o.failed {
                if isReading { failures += 1 }
                continue
            }
            maxOffset = max(maxOffset, o.offset)
            if o.offset >= B { outside += 1 }
            let frames = timeline.frames(at: t, segment: index)
            let exact = frames * bA
            let declared = exact - exact % max(1, c.accuracyBytes)

            if s.state == .stop {
                if isReading {
                    stopOK = (stopOK ?? true) && o.offset == 0
                    if o.packets != .max { packetReset = (packetReset ?? true) && o.packets == 0 }
                }
                previous = nil
                continue
            }
            // Unwrap as a client does, predicting from the previous observation plus the
            // exact advance since (so observations further apart than a buffer still
            // unwrap); the lap is ambiguous only if the position strays by half a buffer
            // from that prediction, which the jitter then shows.
            let continuing = previous?.generation == s.generation
            let predicted = continuing ? previous!.linear + declared - min(declared, previous!.declared) : declared
            let linear = Self.unwrap(o.offset % B, near: predicted, buffer: B)
            if (linear > predicted ? linear - predicted : predicted - linear) >= B / 2 { ambiguous += 1 }
            previous = (s.generation, linear, declared)

            // Where this RUN began: 0 after STOP, else where the device held in the PAUSE before.
            if s.state == .run && anchors[index] == nil {
                let before = index > 0 ? timeline.segments[index - 1] : s
                anchors[index] = before.state == .pause && before.generation == s.generation
                    ? pauseLinear[index - 1] ?? s.accumulated * bA : s.accumulated * bA
                segmentStartX[index] = Double(s.runTime)
            }

            if !isReading {
                notified.append(Notified(arrival: o.arrival, linear: linear,
                                         sinceRunStart: anchors[index].map { linear > $0 ? linear - $0 : 0 },
                                         generation: s.generation, segment: index))
                continue
            }

            generationEnds[s.generation] = max(generationEnds[s.generation] ?? 0, linear)
            if let p = lastReading, p.generation == s.generation, linear < p.linear { monotonic = false }
            lastReading = (s.generation, index, linear)
            step = gcd(step, linear)
            errorMax = max(errorMax, linear > declared ? linear - declared : declared - linear)

            if s.state == .pause {
                if let held = pauseValue[index] {
                    pauseOK = (pauseOK ?? true) && held == o.offset
                } else {
                    pauseValue[index] = o.offset
                }
                pauseLinear[index] = linear
                continue
            }

            let anchor = anchors[index]!
            // RUN moves: the longest the position was seen to hold still.
            if lastMove?.segment != index { lastMove = (index, anchor, s.start) }
            if linear != lastMove!.value {
                lastMove = (index, linear, t)
            } else {
                stall = max(stall, t - lastMove!.time)
            }
            let ideal = Double(anchor) + Double(t - s.start) * bytesPerNs
            if t - s.start >= c.settle {
                fitX.append(Double(timeline.runTime(at: t, segment: index)))
                fitDeclared.append(Double(linear) - Double(declared))
                fitIdeal.append(Double(linear) - ideal)
                fitGroup.append(index)
            }
            errorSeries.append(.init(x: Double(t - c.start) / 1e9, y: (Double(linear) - ideal) / Double(c.bytesPerSecond) * 1e6))

            if let P = c.packetBytes, o.packets != .max {
                // KSPROPERTY_RTAUDIO_PACKETCOUNT: packets completely fetched; the device's own
                // position says how many: (position + FIFO) / packet.
                let expectedCount = (linear + c.fifoBytes) / P
                let count = Self.unwrap(o.packets & 0xFFFF_FFFF, near: expectedCount, buffer: 1 << 32)
                let d = Int64(bitPattern: count &- expectedCount)
                lead = max(lead, d)
                lag = min(lag, d)
                lastPackets = (count, expectedCount)
                if t - s.start >= c.settle {
                    packetX.append(Double(timeline.runTime(at: t, segment: index)))
                    packetY.append(Double(count * P) - Double(declared))
                    packetGroup.append(index)
                }
            }
        }

        let us = 1e6 / Double(c.bytesPerSecond)
        figures.readings = used
        figures.fittedReadings = fitX.count
        figures.readFailures = failures
        figures.readLatencyMaxMicroseconds = Double(readLatency) / 1e3
        figures.monotonic = monotonic
        figures.maxOffsetBytes = Int(maxOffset)
        figures.offsetsOutsideBuffer = outside
        figures.wrapsCorrectly = outside == 0 && ambiguous == 0
        figures.wraps = generationEnds.values.reduce(0) { $0 + Int($1 / B) }
        figures.stopReadsZero = stopOK
        figures.pauseHolds = pauseOK
        figures.longestStallMilliseconds = Double(stall) / 1e6
        figures.stepFrames = step == 0 ? nil : Double(step) / Double(bA)
        figures.errorFramesMax = used > failures ? Double(errorMax) / Double(bA) : nil
        lapAmbiguities = ambiguous
        if let fit = LinearFit(x: fitX, y: fitDeclared, groups: fitGroup) {
            figures.rateErrorPpm = fit.slope / bytesPerNs * 1e6
            figures.driftPpm = Self.drift(x: fitX, y: fitDeclared, groups: fitGroup).map { $0 / bytesPerNs * 1e6 }
        }
        if let fit = LinearFit(x: fitX, y: fitIdeal, groups: fitGroup) {
            // The fitted line where each RUN began, weighted by its readings. When the RUN's start is
            // only known to lie within the request that made it (the system clock), the offset any
            // start in that window explains is not the device's: the bias is what remains.
            var sum = 0.0, n = 0.0
            for (g, m) in fit.groupMeans.sorted(by: { $0.key < $1.key }) {
                guard let x0 = segmentStartX[g], var v = fit.value(group: g, at: x0) else { continue }
                let segment = timeline.segments[g]
                if let w = segment.window {
                    let low = v + (Double(w.lowerBound) - Double(segment.start)) * bytesPerNs
                    let high = v + (Double(w.upperBound) - Double(segment.start)) * bytesPerNs
                    v = low > 0 ? low : high < 0 ? high : 0
                }
                sum += v * m.n
                n += m.n
            }
            figures.biasMicroseconds = n > 0 ? sum / n * us + 0.0 : nil
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

    /// Observations whose offset unwrapped more than half a buffer from the prediction.
    private(set) var lapAmbiguities = 0

    /// End to end: the error gained from the first to the last reading of each
    /// RUN, over the RUN time between them (bytes per ns).
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
