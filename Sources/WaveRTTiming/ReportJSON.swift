import FoundationEssentials

extension TimingReport {
    /// The JSON report: sorted keys, pretty-printed, figures rounded to the
    /// nanosecond (µs to 3 decimals, ms to 6, s to 9) and ppm to 4 decimals,
    /// so the same inputs on the virtual clock give the same bytes.
    public func jsonData() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        // Every Double is finite (figures that cannot be computed are absent), so this cannot fail.
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }

    /// ``jsonData()`` as text.
    public var json: String { String(decoding: jsonData(), as: UTF8.self) }

    /// The report with every figure rounded as ``jsonData()`` documents.
    func rounded() -> TimingReport {
        var r = self
        let us = { (x: Double) in Format.rounded(x, 3) }
        r.durationSeconds = Format.rounded(durationSeconds, 9)
        r.runSeconds = Format.rounded(runSeconds, 9)
        r.position = position.rounded()
        r.positionRegister = positionRegister?.rounded()
        var n = notifications
        let pct = { (x: Percentiles) in Percentiles(p50: us(x.p50), p99: us(x.p99), max: us(x.max)) }
        n.intervalNominalMicroseconds = n.intervalNominalMicroseconds.map(us)
        n.rateErrorPpm = n.rateErrorPpm.map { Format.rounded($0, 4) }
        n.intervalMicroseconds = n.intervalMicroseconds.map(pct)
        n.intervalMeanMicroseconds = n.intervalMeanMicroseconds.map(us)
        n.intervalMinMicroseconds = n.intervalMinMicroseconds.map(us)
        n.intervalErrorMaxMicroseconds = n.intervalErrorMaxMicroseconds.map(us)
        n.latencyMicroseconds = n.latencyMicroseconds.map(pct)
        n.latencyRatioToTimerBaseline = n.latencyRatioToTimerBaseline.map {
            .init(p50: Format.rounded($0.p50, 3), p99: Format.rounded($0.p99, 3))
        }
        r.notifications = n
        r.packets?.rateErrorPpm = packets?.rateErrorPpm.map { Format.rounded($0, 4) }
        if var b = timerBaseline {
            b.latencyMicroseconds = LatencyFigures(p50: us(b.latencyMicroseconds.p50), p99: us(b.latencyMicroseconds.p99),
                                                   max: us(b.latencyMicroseconds.max))
            r.timerBaseline = b
        }
        r.glitchEvents = glitchEvents.map { GlitchFigure(timeSeconds: Format.rounded($0.timeSeconds, 9), kind: $0.kind, frames: $0.frames) }
        r.limits = LimitSets(windows: limits.windows.rounded(), strict: limits.strict.rounded())
        return r
    }
}

extension PositionFigures {
    func rounded() -> PositionFigures {
        var p = self
        let us = { (x: Double) in Format.rounded(x, 3) }
        let ppm = { (x: Double) in Format.rounded(x, 4) }
        p.samplePeriodMicroseconds = us(p.samplePeriodMicroseconds)
        p.granularityFrames = Format.rounded(p.granularityFrames, 3)
        p.stepFrames = p.stepFrames.map { Format.rounded($0, 3) }
        p.codecDelayMicroseconds = us(p.codecDelayMicroseconds)
        p.rateErrorPpm = p.rateErrorPpm.map(ppm)
        p.driftPpm = p.driftPpm.map(ppm)
        p.biasMicroseconds = p.biasMicroseconds.map(us)
        p.jitterStdMicroseconds = p.jitterStdMicroseconds.map(us)
        p.jitterMaxMicroseconds = p.jitterMaxMicroseconds.map(us)
        p.errorFramesMax = p.errorFramesMax.map { Format.rounded($0, 3) }
        p.longestStallMilliseconds = Format.rounded(p.longestStallMilliseconds, 6)
        p.readLatencyMaxMicroseconds = us(p.readLatencyMaxMicroseconds)
        return p
    }
}

extension TimingLimits {
    func rounded() -> TimingLimits {
        var l = self
        let r3 = { (x: Double) in Format.rounded(x, 3) }
        l.rateErrorPpm = l.rateErrorPpm.map(r3)
        l.biasMicroseconds = l.biasMicroseconds.map(r3)
        l.jitterStdMicroseconds = l.jitterStdMicroseconds.map(r3)
        l.jitterMaxMicroseconds = l.jitterMaxMicroseconds.map(r3)
        l.positionStepFrames = l.positionStepFrames.map(r3)
        l.runStallMilliseconds = l.runStallMilliseconds.map { Format.rounded($0, 6) }
        l.notificationLatencyP50Microseconds = l.notificationLatencyP50Microseconds.map(r3)
        l.notificationLatencyP99Microseconds = l.notificationLatencyP99Microseconds.map(r3)
        l.notificationLatencyMaxMicroseconds = l.notificationLatencyMaxMicroseconds.map(r3)
        return l
    }
}
