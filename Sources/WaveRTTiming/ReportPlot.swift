extension TimingReport {
    /// The report as an SVG picture a person reads without the numbers:
    /// - the verdict, green or red;
    /// - position error (reported minus exact, µs) against stream time, inside a
    ///   shaded band of this project's tolerance (the Windows ±4 ms lines when
    ///   they fit the scale), PAUSE and STOP shaded grey, glitches as red marks
    ///   on the time axis;
    /// - a histogram of notification latency, with this machine's timer
    ///   baseline beside it on the system clock (as shares of wake-ups, so
    ///   the two compare whatever their counts).
    /// Element ids name the series: `position-error`, `tolerance-band`,
    /// `idle-spans`, `glitch-markers`, `latency-histogram`, `baseline-histogram`.
    public var svg: String {
        var svg = SVG(width: 960, height: 680)
        svg.rect(0, 0, 960, 680, fill: "#ffffff")
        let verdict = pass ? ("PASS", "#1a7f37") : passWindows ? ("FAIL (strict)", "#b35900") : ("FAIL", "#cf222e")
        svg.text(24, 32, "WaveRT timing: \(miniport ?? "miniport") on the \(clock.rawValue) clock, \(Format.fixed(durationSeconds, 3)) s, \(positionSources)",
                 size: 16, weight: "bold")
        svg.rect(800, 12, 136, 30, fill: verdict.1, id: "verdict", rx: 6)
        svg.text(868, 33, verdict.0, anchor: "middle", size: 15, weight: "bold", fill: "#ffffff")
        if pass {
            svg.text(24, 54, headline, size: 12, fill: "#444")
        } else {
            var line = "\(failures.count) check\(failures.count == 1 ? "" : "s") failed: "
                + failures.map { String($0.prefix(while: { $0 != ":" })) }.joined(separator: ", ")
            if line.count > 140 { line = String(line.prefix(137)) + "..." }
            svg.text(24, 54, line, size: 12, fill: verdict.1)
        }
        drawPositionPanel(&svg, x: 80, y: 96, width: 850, height: 290)
        drawLatencyPanel(&svg, x: 80, y: 462, width: 850, height: 170)
        return svg.document
    }

    /// The figures a reader looks for first, in one line.
    private var headline: String {
        var parts: [String] = []
        let p = clientPosition
        if let r = p.rateErrorPpm { parts.append("rate error \(Format.compact(r, 3)) ppm") }
        if let b = p.biasMicroseconds { parts.append("bias \(Format.compact(b, 1)) µs") }
        if let j = p.jitterStdMicroseconds { parts.append("jitter std \(Format.compact(j, 1)) µs") }
        if let step = p.stepFrames { parts.append("step \(Format.compact(step, 2)) frames") }
        parts.append("\(notifications.count)/\(notifications.expected) notifications")
        if let l = notifications.latencyMicroseconds { parts.append("latency p99 \(Format.compact(l.p99, 1)) µs") }
        parts.append("\(glitches) glitches")
        return parts.joined(separator: " · ")
    }

    private func drawPositionPanel(_ svg: inout SVG, x: Double, y: Double, width: Double, height: Double) {
        let s = series
        let duration = max(durationSeconds, 1e-9)
        let band = s.bandMicroseconds
        let dataMax = s.positionError.reduce(0.0) { max($0, abs($1.y)) }
        var span = max(dataMax, band, 1) * 1.25
        let windowsFits = s.windowsBandMicroseconds <= span * 1.6
        if windowsFits { span = max(span, s.windowsBandMicroseconds * 1.1) }
        let px = { (t: Double) in x + t / duration * width }
        let py = { (v: Double) in y + height / 2 - v / span * (height / 2) }
        svg.text(x, y - 12, "Position error (\(clientPosition.source)): reported minus ideal position (µs) against stream time",
                 size: 13, weight: "bold")
        svg.rect(x, y, width, height, fill: "#fafafa", stroke: "#999")
        svg.group("idle-spans") { g in
            for idle in s.idleSpans {
                g.rect(px(idle.start), y, px(idle.end) - px(idle.start), height, fill: "#bbbbbb", opacity: 0.5)
                g.text((px(idle.start) + px(idle.end)) / 2, y + 14, idle.label, anchor: "middle", size: 10, fill: "#555")
            }
        }
        svg.rect(x, py(band), width, py(-band) - py(band), fill: "#2da44e", opacity: 0.18, id: "tolerance-band")
        svg.text(x + width - 6, py(band) - 4, "strict tolerance ±\(Format.fixed(band, 1)) µs", anchor: "end", size: 11, fill: "#1a7f37")
        if windowsFits {
            let w = s.windowsBandMicroseconds
            svg.line(x, py(w), x + width, py(w), stroke: "#cf222e", dash: "6 4")
            svg.line(x, py(-w), x + width, py(-w), stroke: "#cf222e", dash: "6 4")
            svg.text(x + 6, py(w) - 4, "Windows limit ±\(Format.fixed(w, 0)) µs", size: 11, fill: "#cf222e")
        } else {
            svg.text(x + 6, y + 14, "Windows limit ±\(Format.fixed(s.windowsBandMicroseconds, 0)) µs is far off this scale",
                     size: 11, fill: "#cf222e")
        }
        // Axes.
        for v in Ticks.nice(-span, span) {
            svg.line(x - 4, py(v), x, py(v), stroke: "#555")
            svg.text(x - 7, py(v) + 4, Ticks.label(v, step: span / 3), anchor: "end", size: 10)
        }
        svg.line(x, py(0), x + width, py(0), stroke: "#777", width: 0.5)
        let timeTicks = Ticks.nice(0, duration, count: 8)
        for t in timeTicks {
            svg.line(px(t), y + height, px(t), y + height + 4, stroke: "#555")
            svg.text(px(t), y + height + 16, Ticks.label(t, step: timeTicks.count > 1 ? timeTicks[1] - timeTicks[0] : 1),
                     anchor: "middle", size: 10)
        }
        svg.text(x + width / 2, y + height + 34, "stream time (s)", anchor: "middle")
        svg.text(x - 52, y + height / 2, "position error (µs)", anchor: "middle", rotate: true)
        // The series: one vertical stroke per pixel column, from its lowest to its highest reading.
        var columns: [Int: (Double, Double)] = [:]
        for p in s.positionError {
            let c = Int(px(p.x).rounded())
            let v = min(max(p.y, -span), span)
            columns[c] = columns[c].map { (min($0.0, v), max($0.1, v)) } ?? (v, v)
        }
        let d = columns.keys.sorted().map { c -> String in
            let (lo, hi) = columns[c]!
            return "M\(svg.n(Double(c))) \(svg.n(py(lo) + 0.8))V\(svg.n(py(hi) - 0.8))"
        }.joined()
        svg.path(d.isEmpty ? "M0 0" : d, stroke: "#0969da", width: 1.6, id: "position-error")
        svg.group("glitch-markers") { g in
            for glitch in glitchEvents.prefix(200) {
                let gx = px(glitch.timeSeconds)
                g.path("M\(g.n(gx)) \(g.n(y + height - 10))L\(g.n(gx - 5)) \(g.n(y + height))L\(g.n(gx + 5)) \(g.n(y + height))Z",
                       stroke: "#cf222e", fill: "#cf222e")
                g.line(gx, y, gx, y + height, stroke: "#cf222e", width: 0.6, dash: "2 3")
            }
        }
        if glitches > 0 {
            svg.text(x + width, y - 12, "▲ \(glitches) glitch\(glitches == 1 ? "" : "es")", anchor: "end", size: 12,
                     weight: "bold", fill: "#cf222e")
        }
    }

    private func drawLatencyPanel(_ svg: inout SVG, x: Double, y: Double, width: Double, height: Double) {
        let notified = series.latency, baseline = series.baseline
        svg.text(x, y - 12, "Notification latency (after the packet boundary), share of notifications"
            + (baseline.isEmpty ? "" : ", beside this machine's timer baseline"), size: 13, weight: "bold")
        svg.rect(x, y, width, height, fill: "#fafafa", stroke: "#999")
        guard !(notified + baseline).isEmpty else {
            svg.text(x + width / 2, y + height / 2, "no notifications in this run", anchor: "middle", fill: "#555")
            return
        }
        // Logarithmic bins, five per decade from 1 µs to the decade above the largest
        // value (at least 1 ms), so the bulk and the outliers both show; below 1 µs
        // (the virtual clock's exact 0) is the first bin.
        let largest = (notified + baseline).map(\.value).max() ?? 0
        var decades = 3
        while decades < 7, pow10(decades) < largest { decades += 1 }
        let perDecade = 5
        let binCount = decades * perDecade + 1
        func bin(_ v: Double) -> Int {
            guard v >= 1 else { return 0 }
            var k = 0
            while k < binCount - 1, v >= pow10(k, perDecade) { k += 1 }
            return k
        }
        func shares(_ bins: [TimingSeries.PlotBin]) -> [Double] {
            var h = [Double](repeating: 0, count: binCount)
            let total = max(1, bins.reduce(0) { $0 + $1.count })
            for b in bins { h[bin(b.value)] += b.count / total }
            return h
        }
        let e = shares(notified), bl = baseline.isEmpty ? [] : shares(baseline)
        let peak = max(e.max() ?? 0, bl.max() ?? 0, 1e-9)
        let slot = width / Double(binCount)
        let barWidth = bl.isEmpty ? slot * 0.8 : slot * 0.4
        let pyh = { (share: Double) in y + height - share / peak * (height - 16) }
        svg.group("latency-histogram") { g in
            for (i, v) in e.enumerated() where v > 0 {
                g.rect(x + Double(i) * slot + slot * 0.1, pyh(v), barWidth, y + height - pyh(v), fill: "#0969da")
            }
        }
        if !bl.isEmpty {
            svg.group("baseline-histogram") { g in
                for (i, v) in bl.enumerated() where v > 0 {
                    g.rect(x + Double(i) * slot + slot * 0.5, pyh(v), barWidth, y + height - pyh(v), fill: "#8c959f")
                }
            }
        }
        // Bin 0 holds [0, 1) µs; bin k >= 1 holds [10^((k-1)/5), 10^(k/5)) µs.
        svg.text(x + slot / 2, y + height + 16, "<1", anchor: "middle", size: 10)
        for d in 0...decades {
            let tx = x + Double(d * perDecade + 1) * slot
            svg.line(tx, y + height, tx, y + height + 4, stroke: "#555")
            if d > 0 { svg.text(tx, y + height + 16, Format.compact(pow10(d), 0), anchor: "middle", size: 10) }
        }
        svg.text(x + width / 2, y + height + 34, "latency (µs, logarithmic)", anchor: "middle")
        svg.text(x - 52, y + height / 2, "share of wake-ups (%)", anchor: "middle", rotate: true)
        for share in Ticks.nice(0, peak * 100, count: 4) {
            svg.line(x - 4, pyh(share / 100), x, pyh(share / 100), stroke: "#555")
            svg.text(x - 7, pyh(share / 100) + 4, Format.compact(share, 1), anchor: "end", size: 10)
        }
        svg.rect(x + width - 250, y + 8, 12, 12, fill: "#0969da")
        svg.text(x + width - 232, y + 18, "notifications as the client saw them", size: 11)
        if !bl.isEmpty {
            svg.rect(x + width - 250, y + 26, 12, 12, fill: "#8c959f")
            svg.text(x + width - 232, y + 36, "timer baseline (the client thread's settings)", size: 11)
        } else if clock == .virtual, notifications.latencyMicroseconds?.max == 0 {
            svg.text(x + width / 2, y + 40, "virtual clock: every notification came as its packet completed",
                     anchor: "middle", fill: "#1a7f37")
        }
    }
}

/// 10^(k / 5): whole decades exactly, the fifths from a table (no libm, so the
/// picture is the same bytes on every machine).
private func pow10(_ k: Int, _ perDecade: Int = 1) -> Double {
    let fifths = [1.0, 1.584893192461113, 2.51188643150958, 3.981071705534972, 6.309573444801933]
    let steps = perDecade == 1 ? k * 5 : k
    var v = 1.0
    for _ in 0..<(steps / 5) { v *= 10 }
    return v * fifths[steps % 5]
}
