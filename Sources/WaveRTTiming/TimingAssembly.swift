import Histogram
import WaveRTClient
import WaveRTEngine
import WaveRTKernel
import WaveRTPort

/// Turns what a run collected into a ``TimingReport``: the figures of each
/// position source, the notifications, the limits for this run, the checks,
/// and the plot's series.
struct TimingAssembly {
    struct Baseline {
        var histogram: Histogram<UInt64>
        var period: UInt64
        var duration: UInt64
        var status: RealTimeThread.Status?
    }

    let scenario: TimingScenario
    let setup: StreamSetup
    let session: MiniportSession
    let name: String?
    let fifoBytes: UInt64
    let driver: ScenarioDriver
    let end: UInt64
    let sessionReport: SessionReport
    let baseline: Baseline?

    func report() -> TimingReport {
        let format = setup.format
        let client = session.client
        let blockAlign = UInt64(format.blockAlign)
        let bytesPerSecond = UInt64(format.bytesPerSecond)
        let bufferBytes = UInt64(client.buffer.actualSize)
        let packetBytes = UInt64(client.packetBytes)
        let timeline = driver.timeline
        let register = client.positionRegister
        let primary: PositionSource = register == nil ? .audioPosition : .register
        let latency = try? session.pin.hwLatency().get()
        let codecDelay = Double(latency?.codecDelay ?? 0) / 10  // 100-ns units to µs
        let packetMode = client.mode == .packet

        func analyse(_ source: PositionSource) -> PositionAnalysis {
            let accuracy = source == .register ? UInt64(max(1, register!.description.accuracy)) : blockAlign
            let context = PositionAnalysis.Context(
                source: source, bufferBytes: bufferBytes, blockAlign: blockAlign, bytesPerSecond: bytesPerSecond,
                accuracyBytes: accuracy, fifoBytes: fifoBytes, packetBytes: packetMode && source == primary ? packetBytes : nil,
                settle: scenario.settleNanoseconds, start: driver.start)
            let granularity = max(accuracy, blockAlign)
            let base = PositionFigures(
                source: source == .register ? "register" : "audioPosition", samplePeriodMicroseconds: Double(scenario.samplePeriod) / 1e3,
                readings: 0, fittedReadings: 0, declaredAccuracyBytes: Int(accuracy),
                granularityFrames: Double(granularity) / Double(blockAlign), codecDelayMicroseconds: codecDelay,
                monotonic: true, maxOffsetBytes: 0, offsetsOutsideBuffer: 0, wrapsCorrectly: true, wraps: 0,
                longestStallMilliseconds: 0, readFailures: 0, readLatencyMaxMicroseconds: 0)
            let observations = driver.observations.filter { $0.source == source }
                + (source == primary ? driver.notifications : [])
            return PositionAnalysis(observations: observations, timeline: timeline, context: context, base: base)
        }
        let audio = analyse(.audioPosition)
        let registerAnalysis = register == nil ? nil : analyse(.register)
        let main = registerAnalysis ?? audio

        let notificationCount = client.notificationCount
        let burst = UInt64(max(1, session.adapter.profile.burstBytes))
        let slackBytes = packetBytes % burst == 0 ? 0 : burst - 1
        let notes = NotificationAnalysis(
            notified: main.notified, generationEnds: main.generationEnds,
            context: .init(packetBytes: max(1, packetBytes), fifoBytes: fifoBytes, fetchSlackBytes: slackBytes,
                           bytesPerSecond: bytesPerSecond, notificationCount: notificationCount, timeouts: client.eventTimeoutCount,
                           headroomBytes: packetBytes > fifoBytes ? packetBytes - fifoBytes : 0))
        var noteFigures = notes.figures

        var baselineFigures: BaselineFigures?
        if let baseline {
            let h = baseline.histogram
            let latency = LatencyFigures(p50: Double(h.valueAtPercentile(50)) / 1e3, p99: Double(h.valueAtPercentile(99)) / 1e3,
                                         max: Double(h.max) / 1e3)
            baselineFigures = BaselineFigures(
                periodMicroseconds: Double(baseline.period) / 1e3, durationSeconds: Double(baseline.duration) / 1e9,
                wakeups: Int(h.totalCount), latencyMicroseconds: latency,
                fifoPriority: baseline.status?.fifoPriority.map(Int.init), timerSlackLowered: baseline.status?.timerSlackSet ?? false)
            if let measured = noteFigures.latencyMicroseconds {
                // A baseline of 0 ns (impossible in practice) would make the ratio infinite: floor it at 1 ns.
                noteFigures.latencyRatioToTimerBaseline = .init(p50: measured.p50 / max(latency.p50, 0.001),
                                                                p99: measured.p99 / max(latency.p99, 0.001))
            }
        }

        let frameMicroseconds = 1e6 / Double(format.sampleRate)
        let declared = registerAnalysis.map { UInt64($0.figures.declaredAccuracyBytes) } ?? blockAlign
        let granularity = max(declared, blockAlign)
        let slackMicroseconds = Double(slackBytes + blockAlign) / Double(bytesPerSecond) * 1e6
        let windows = TimingLimits.windows()
        let strict = TimingLimits.strict(clock: scenario.clock, granularityMicroseconds: Double(granularity) / Double(bytesPerSecond) * 1e6,
                                         frameMicroseconds: frameMicroseconds, notificationSlackMicroseconds: slackMicroseconds,
                                         baseline: baselineFigures?.latencyMicroseconds)
        // On the system clock a glitch that follows a host stall is the machine's: the client was woken
        // later than any client could keep up with. Only in a run whose median notification came in
        // time, so a miniport that is late every time is not excused.
        var excused = 0
        if scenario.clock == .system, notificationCount > 0, let p50 = noteFigures.latencyMicroseconds?.p50,
           let limit = strict.notificationLatencyP50Microseconds, p50 <= limit
        {
            excused = min(Int(sessionReport.glitchCount), noteFigures.lateBeyondHeadroom + noteFigures.missed)
            noteFigures.glitchesAfterHostStalls = excused
        }
        let glitches = sessionReport.glitches.prefix(1000).map {
            GlitchFigure(timeSeconds: Double($0.time &- driver.start) / 1e9, kind: "\($0.kind)", frames: Int($0.frames))
        }
        let verifier = Self.findings(sessionReport.verifier)
        let dmaFaults = Int(driver.unloadedFaultEvents + sessionReport.dmaFaultEvents)
        var sources: [(label: String, figures: PositionFigures)] = [("audio position", audio.figures)]
        if let registerAnalysis { sources.append(("register", registerAnalysis.figures)) }
        let verdict = TimingVerdict(
            .init(clock: scenario.clock, sources: sources, packets: main.packets, notifications: noteFigures,
                  notificationCount: notificationCount, generations: notes.generations, glitches: Int(sessionReport.glitchCount),
                  glitchesExcused: excused,
                  dmaFaults: dmaFaults, guestErrors: sessionReport.guestErrors, verifier: verifier),
            windows: windows, strict: strict)
        var warnings = verdict.checks.warnings
        let dropped = driver.dropped
        if dropped > 0 { warnings.append("\(dropped) records were dropped: the probe's rings overflowed (figures are partial)") }
        for (label, a) in [("audio position", audio), ("register", registerAnalysis)].compactMap({ l, a in a.map { (l, $0) } })
            where a.lapAmbiguities > 0
        {
            warnings.append("\(label): \(a.lapAmbiguities) reads strayed half a buffer from where the position should be (the lap was ambiguous)")
        }
        warnings += sessionReport.leaks.map { "leak at teardown: \($0)" } + sessionReport.teardownFailures.map { "teardown: \($0)" }
        warnings += sessionReport.diagnostics.map { "memory: \($0)" }
        if excused > 0 {
            warnings.append("\(excused) glitch\(excused == 1 ? "" : "es") followed host stalls: \(noteFigures.lateBeyondHeadroom) notifications reached the client later than the \(Format.fixed(noteFigures.headroomMicroseconds ?? 0, 0)) µs a client has to refill the buffer, \(noteFigures.missed) never did (this machine's scheduling, not the miniport)")
        }

        let requested = setup.bufferFrames
        var report = TimingReport(
            miniport: name, clock: scenario.clock,
            durationSeconds: Double(scenario.durationNanoseconds) / 1e9,
            runSeconds: Double(scenario.steps.filter { $0.state == .run }.reduce(0) { $0 + $1.nanoseconds }) / 1e9,
            sampleRate: format.sampleRate,
            stream: StreamFigures(
                hardware: setup.hardware.rawValue, channels: format.channels, bitsPerSample: format.sampleFormat.bits,
                float: format.sampleFormat == .float32, requestedBufferFrames: requested, bufferBytes: Int(bufferBytes),
                bufferFrames: Int(bufferBytes / blockAlign), notificationCount: notificationCount, packetBytes: Int(packetBytes),
                fifoBytes: Int(fifoBytes), clientMode: Self.describe(client.mode), dmaProfile: session.adapter.profile.name,
                faithfulFaults: setup.faithfulFaults, coarsePosition: setup.coarsePosition,
                timerResolution: setup.timerResolution.rawValue, steps: scenario.steps.map(Self.describe)),
            position: audio.figures, positionRegister: registerAnalysis?.figures, notifications: noteFigures, packets: main.packets,
            timerBaseline: baselineFigures, glitches: Int(sessionReport.glitchCount), glitchEvents: glitches,
            dmaFaults: dmaFaults, guestErrors: sessionReport.guestErrors, verifier: verifier,
            limits: LimitSets(windows: windows, strict: strict), checks: verdict.checks.checks, pass: verdict.pass,
            passWindows: verdict.passWindows, failures: verdict.checks.failures, warnings: warnings)
        report.series = series(main.errorSeries, latency: notes.latency, strict: strict, timeline: timeline)
        return report.rounded()
    }

    /// Identical findings once, with their count, in the order first made.
    static func findings(_ violations: [VerifierViolation]) -> [VerifierFinding] {
        var list: [VerifierFinding] = []
        var index: [String: Int] = [:]
        for v in violations {
            let key = "\(v.rule)\u{0}\(v.ddi)\u{0}\(v.irql)\u{0}\(v.detail)"
            if let i = index[key] {
                list[i].count += 1
            } else {
                index[key] = list.count
                list.append(VerifierFinding(rule: v.rule, ddi: v.ddi, irql: v.irql, detail: v.detail, count: 1))
            }
        }
        return list
    }

    private func series(_ error: [TimingSeries.PlotPoint], latency: Distribution, strict: TimingLimits,
                        timeline: StreamTimeline) -> TimingSeries
    {
        var s = TimingSeries()
        s.positionError = error
        s.bandMicroseconds = strict.jitterMaxMicroseconds ?? 0
        s.windowsBandMicroseconds = TimingLimits.windows().jitterMaxMicroseconds ?? 0
        // Consecutive states out of RUN are one span (RUN -> PAUSE -> STOP passes through PAUSE for an
        // instant), named after the state it spent longest in.
        let segments = timeline.segments
        var i = 1
        while i < segments.count {
            guard segments[i].state != .run else { i += 1; continue }
            var longest = (state: segments[i].state, time: UInt64(0))
            let first = segments[i].start
            var until = first
            while i < segments.count && segments[i].state != .run {
                until = i + 1 < segments.count ? segments[i + 1].start : max(end, segments[i].start)
                if until - segments[i].start > longest.time { longest = (segments[i].state, until - segments[i].start) }
                i += 1
            }
            guard until > first else { continue }
            s.idleSpans.append(.init(start: Double(first - driver.start) / 1e9, end: Double(until - driver.start) / 1e9,
                                     label: longest.state == .stop ? "STOP" : "PAUSE"))
        }
        s.latency = latency.sortedValues.map { .init(value: Double($0.value) / 1e3, count: Double($0.count)) }
        if let baseline {
            s.baseline = baseline.histogram.sortedValues.map { .init(value: Double($0.value) / 1e3, count: Double($0.count)) }
        }
        return s
    }

    static func describe(_ mode: ClientMode) -> String {
        switch mode {
        case .event: "event"
        case .packet: "packet"
        case .timer(let period): "timer every \(Format.fixed(Double(period) / 1e6, 3)) ms"
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
