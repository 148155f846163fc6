import WaveRTClient
import WaveRTEngine
import WaveRTKernel

extension TimingAssembly {
    /// The report of a run whose stream never opened because the port refused
    /// what the miniport did, with the verifier's findings (a buffer larger than
    /// its MDL, say): a bug of the miniport's, so a failed named check, not a
    /// run that could not be made. The verifier check fails with the findings;
    /// every other check is "not exercised" (no position was ever read).
    static func refused(scenario: TimingScenario, setup: StreamSetup, name: String?, error: SessionError) -> TimingReport {
        let format = setup.format
        let blockAlign = format.blockAlign
        let never = "the stream never opened"
        let position = PositionFigures(
            source: "audioPosition", samplePeriodMicroseconds: Double(scenario.samplePeriod) / 1e3, readings: 0, fittedReadings: 0,
            declaredAccuracyBytes: blockAlign, granularityFrames: 1, codecDelayMicroseconds: 0, monotonic: true, maxOffsetBytes: 0,
            offsetsOutsideBuffer: 0, wrapsCorrectly: true, wraps: 0, longestStallMilliseconds: 0, readFailures: 0,
            readLatencyMaxMicroseconds: 0)
        let notifications = NotificationFigures(count: 0, expected: 0, expectedMinimum: 0, spurious: 0, missed: 0, timeouts: 0)
        let verifier = findings(error.verifier)
        let frameMicroseconds = 1e6 / Double(format.sampleRate)
        let windows = TimingLimits.windows()
        let strict = TimingLimits.strict(clock: scenario.clock, granularityMicroseconds: frameMicroseconds, frameMicroseconds: frameMicroseconds,
                                         notificationSlackMicroseconds: frameMicroseconds, baseline: nil)
        var verdict = TimingVerdict(
            .init(clock: scenario.clock, sources: [("audio position", position)], packets: nil, notifications: notifications,
                  notificationCount: setup.notificationCount, generations: 0, glitches: 0, glitchesExcused: 0, dmaFaults: 0,
                  guestErrors: [], verifier: verifier),
            windows: windows, strict: strict)
        verdict.checks.markNotExercised(except: "verifier", measured: never)
        let head = "\(error)".split(separator: "\n", maxSplits: 1).first.map(String.init) ?? "\(error)"
        let report = TimingReport(
            miniport: name, clock: scenario.clock, durationSeconds: Double(scenario.durationNanoseconds) / 1e9, runSeconds: 0,
            sampleRate: format.sampleRate,
            stream: StreamFigures(
                hardware: setup.hardware.rawValue, channels: format.channels, bitsPerSample: format.sampleFormat.bits,
                float: format.sampleFormat == .float32, requestedBufferFrames: setup.bufferFrames, bufferBytes: 0, bufferFrames: 0,
                notificationCount: setup.notificationCount, packetBytes: 0, fifoBytes: 0, clientMode: describe(setup.mode),
                dmaProfile: (setup.dmaProfile ?? setup.hardware.defaultProfile).name, faithfulFaults: setup.faithfulFaults,
                coarsePosition: setup.coarsePosition, timerResolution: setup.timerResolution.rawValue,
                steps: scenario.steps.map(describe)),
            position: position, positionRegister: nil, notifications: notifications, packets: nil, timerBaseline: nil, glitches: 0,
            glitchEvents: [], dmaFaults: 0, guestErrors: [], verifier: verifier, limits: LimitSets(windows: windows, strict: strict),
            checks: verdict.checks.checks, pass: verdict.pass, passWindows: verdict.passWindows, failures: verdict.checks.failures,
            warnings: ["\(never): \(head)"])
        return report.rounded()
    }
}
