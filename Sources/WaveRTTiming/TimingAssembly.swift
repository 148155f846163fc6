import Histogram
import WaveRTDMA
import WaveRTEngine
import WaveRTPort

/// Turns what a run collected into a ``TimingReport``: the figures, the limits
/// for this run, the checks, and the plot's series.
struct TimingAssembly {
    let scenario: TimingScenario
    let profile: DMAProfile
    let name: String?
    let session: MiniportSession
    let useRegister: Bool
    let packetBytes: UInt64?
    let timeline: StreamTimeline
    let start: UInt64
    let end: UInt64
    let readings: [PositionReading]
    let notifications: NotificationAnalysis
    let dropped: Int
    let teardown: SessionReport
    let baseline: (histogram: Histogram<UInt64>, period: UInt64, duration: UInt64)?
    let realTime: RealTimeThread.Status?

    func report() -> TimingReport {
        let format = scenario.format
        let stream = session.stream
        let blockAlign = UInt64(format.blockAlign)
        let bytesPerSecond = Double(format.bytesPerSecond)
        let rate = UInt64(format.sampleRate)
        let accuracy = useRegister ? UInt64(max(1, stream.positionRegister!.accuracy)) : blockAlign
        let codecDelay = useRegister ? 0 : UInt64(stream.miniportStream.getHWLatency().codecDelay) * 100
        let context = PositionAnalysis.Context(
            bufferBytes: UInt64(stream.bufferBytes), blockAlign: blockAlign, bytesPerSecond: bytesPerSecond,
            accuracyBytes: accuracy, codecDelayFrames: PositionMath.frames(inNanoseconds: codecDelay, rate: rate),
            packetBytes: packetBytes, settle: scenario.settleNanoseconds, start: start)
        let granularityBytes = max(accuracy, blockAlign)
        let base = PositionFigures(
            source: useRegister ? "register" : "getPosition", samplePeriodMicroseconds: Double(scenario.samplePeriod) / 1e3,
            readings: 0, fittedReadings: 0, declaredAccuracyBytes: Int(accuracy),
            granularityFrames: Double(granularityBytes) / Double(blockAlign), codecDelayMicroseconds: Double(codecDelay) / 1e3,
            monotonic: true, wrapsCorrectly: true, wraps: 0, longestStallMilliseconds: 0, readFailures: 0,
            readLatencyMaxMicroseconds: 0)
        let position = PositionAnalysis(readings: readings, timeline: timeline, context: context, base: base)
        let bufferFrames = UInt64(stream.bufferBytes) / blockAlign
        var notes = notifications.figures(timeline: timeline, end: end, bufferFrames: bufferFrames,
                                          notificationCount: scenario.notificationCount, rate: format.sampleRate)

        var baselineFigures: BaselineFigures?
        if let baseline {
            let h = baseline.histogram
            let latency = LatencyFigures(p50: Double(h.valueAtPercentile(50)) / 1e3, p99: Double(h.valueAtPercentile(99)) / 1e3,
                                         max: Double(h.max) / 1e3)
            baselineFigures = BaselineFigures(
                periodMicroseconds: Double(baseline.period) / 1e3, durationSeconds: Double(baseline.duration) / 1e9,
                wakeups: Int(h.totalCount), latencyMicroseconds: latency,
                fifoPriority: realTime?.fifoPriority.map(Int.init), timerSlackLowered: realTime?.timerSlackSet ?? false)
            if let engine = notes.latencyMicroseconds {
                // A baseline of 0 ns (impossible in practice) would make the ratio infinite: floor it at 1 ns.
                notes.latencyRatioToTimerBaseline = .init(p50: engine.p50 / max(latency.p50, 0.001),
                                                          p99: engine.p99 / max(latency.p99, 0.001))
            }
        }

        let frameMicroseconds = 1e6 / Double(format.sampleRate)
        let windows = TimingLimits.windows()
        let strict = TimingLimits.strict(clock: scenario.clock,
                                         granularityMicroseconds: Double(granularityBytes) / bytesPerSecond * 1e6,
                                         frameMicroseconds: frameMicroseconds, baseline: baselineFigures?.latencyMicroseconds)
        let glitches = teardown.glitches.prefix(1000).map {
            GlitchFigure(timeSeconds: Double($0.time &- start) / 1e9, kind: "\($0.kind)", frames: Int($0.frames))
        }
        let verdict = TimingVerdict(
            clock: scenario.clock, position: position.figures, packets: position.packets, notifications: notes,
            notificationCount: scenario.notificationCount,
            generations: NotificationAnalysis.generations(timeline, end: end), glitches: Int(teardown.glitchCount),
            windows: windows, strict: strict)
        var warnings = verdict.checks.warnings
        if dropped > 0 { warnings.append("\(dropped) records were dropped: the suite's rings overflowed (figures are partial)") }
        warnings += teardown.leaks.map { "leak at teardown: \($0)" } + teardown.teardownFailures.map { "teardown: \($0)" }
        if teardown.dmaFaultEvents > 0 { warnings.append("\(teardown.dmaFaultEvents) DMA transfers went through a faulty descriptor") }

        var report = TimingReport(
            miniport: name, clock: scenario.clock,
            durationSeconds: Double(scenario.durationNanoseconds) / 1e9,
            runSeconds: Double(scenario.steps.filter { $0.state == .run }.reduce(0) { $0 + $1.nanoseconds }) / 1e9,
            sampleRate: format.sampleRate,
            stream: StreamFigures(
                channels: format.channels, bitsPerSample: format.sampleFormat.bits, float: format.sampleFormat == .float32,
                bufferBytes: stream.bufferBytes, bufferFrames: Int(bufferFrames), notificationCount: scenario.notificationCount,
                clientMode: Self.describe(scenario.clientMode), dmaProfile: profile.name,
                steps: scenario.steps.map(Self.describe)),
            position: position.figures, notifications: notes, packets: position.packets, timerBaseline: baselineFigures,
            glitches: Int(teardown.glitchCount), glitchEvents: glitches, limits: LimitSets(windows: windows, strict: strict),
            checks: verdict.checks.checks, pass: verdict.pass, passWindows: verdict.passWindows,
            failures: verdict.checks.failures, warnings: warnings)
        report.series = series(position.errorSeries, strict: strict)
        return report.rounded()
    }

    private func series(_ error: [TimingSeries.PlotPoint], strict: TimingLimits) -> TimingSeries {
        var s = TimingSeries()
        s.positionError = error
        s.bandMicroseconds = strict.jitterMaxMicroseconds ?? 0
        s.windowsBandMicroseconds = TimingLimits.windows().jitterMaxMicroseconds ?? 0
        let segments = timeline.segments
        for i in segments.indices.dropFirst() where segments[i].state != .run {
            let until = i + 1 < segments.count ? segments[i + 1].start : end
            guard until > segments[i].start else { continue }
            s.idleSpans.append(.init(start: Double(segments[i].start - start) / 1e9, end: Double(until - start) / 1e9,
                                     label: segments[i].state == .stop ? "STOP" : "PAUSE"))
        }
        s.latency = notifications.latency.sortedValues.map { .init(value: Double($0.value) / 1e3, count: Double($0.count)) }
        if let baseline {
            s.baseline = baseline.histogram.sortedValues.map { .init(value: Double($0.value) / 1e3, count: Double($0.count)) }
        }
        return s
    }

    static func describe(_ mode: AudioEngineClient.Mode) -> String {
        switch mode {
        case .eventDriven: "event-driven"
        case .packet: "packet"
        case .timerDriven(let period, let margin): "timer-driven every \(Format.fixed(Double(period) / 1e6, 3)) ms, \(margin) bytes ahead"
        }
    }

    static func describe(_ step: TimingScenario.Step) -> String {
        let name = switch step.state {
        case .run: "run"
        case .pause: "pause"
        default: "stop"
        }
        return "\(name) \(Format.fixed(Double(step.nanoseconds) / 1e9, 3)) s"
    }
}
