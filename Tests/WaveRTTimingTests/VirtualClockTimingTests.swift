import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine
import WaveRTPort
import WaveRTExamples
import WaveRTTiming

/// The suite's own checks on the virtual clock, where every figure is exact.
@Suite struct VirtualClockTimingTests {
    static let frameMicroseconds = 1e6 / 48_000

    /// A position quantised to `step` frames and read at every phase: the residual
    /// is uniform over `step` whole frames, so std = sqrt((step² - 1) / 12) frames,
    /// bias -(step - 1) / 2 frames, max about (step - 1) / 2 frames.
    static func expectQuantised(_ p: PositionFigures, step: Double) {
        let std = ((step * step - 1) / 12).squareRoot() * frameMicroseconds
        let half = (step - 1) / 2 * frameMicroseconds
        #expect(abs(p.jitterStdMicroseconds! - std) <= 0.01 * std, "std \(p.jitterStdMicroseconds!) vs \(std)")
        #expect(abs(p.biasMicroseconds! + half) <= 0.02 * half, "bias \(p.biasMicroseconds!) vs \(-half)")
        #expect(p.jitterMaxMicroseconds! >= half && p.jitterMaxMicroseconds! <= half * 1.1)
    }

    @Test func simpleRegisterIsExactAtItsDeclaredAccuracy() throws {
        let report = try Examples.run("simple", .of(Examples.named("simple"), steps: TimingScenario.standardSteps(seconds: 2)))
        let p = report.position
        #expect(p.source == "register")
        #expect(p.declaredAccuracyBytes == 64 && p.granularityFrames == 16)
        #expect(p.rateErrorPpm == 0 && p.driftPpm == 0 && p.errorFramesMax == 0)
        #expect(p.stepFrames == 16)
        Self.expectQuantised(p, step: 16)
        #expect(p.monotonic && p.wrapsCorrectly && p.wraps > 60)
        #expect(p.stopReadsZero == true && p.pauseHolds == true)
        #expect(p.longestStallMilliseconds < 16_000.0 / 48_000)  // never longer than one 16-frame step
        #expect(p.readFailures == 0 && p.readLatencyMaxMicroseconds == 0)
        #expect(report.pass && report.passWindows, "\(report.failures)")
        #expect(report.checks.allSatisfy { $0.strict != .notExercised })
    }

    @Test(arguments: ["simple", "hda", "isa"])
    func getPositionIsSampleExact(name: String) throws {
        let scenario = TimingScenario.of(Examples.named(name), steps: TimingScenario.standardSteps(seconds: 1.5), source: .getPosition)
        let report = try Examples.run(name, scenario)
        let p = report.position
        #expect(p.source == "getPosition" && p.granularityFrames == 1 && p.stepFrames == 1)
        // PlayOffset trails the frames by the declared codec delay, exactly: nothing else.
        #expect(p.codecDelayMicroseconds == (name == "hda" ? 500 : 0))
        #expect(p.rateErrorPpm == 0 && p.driftPpm == 0 && p.errorFramesMax == 0)
        #expect(p.biasMicroseconds == 0 && p.jitterStdMicroseconds == 0 && p.jitterMaxMicroseconds == 0)
        #expect(report.pass, "\(report.failures)")
    }

    @Test func hdaRegisterAndPacketCounter() throws {
        let report = try Examples.run("hda", .of(Examples.named("hda"), steps: TimingScenario.standardSteps(seconds: 2)))
        Self.expectQuantised(report.position, step: 32)  // LPIB in 128-byte bursts
        let packets = try #require(report.packets)
        #expect(packets.maxLag == 0 && packets.maxLead == 1)  // the DMA runs up to a FIFO ahead
        #expect(packets.resetsOnStop == true)
        #expect(abs(packets.rateErrorPpm!) < 10_000)
        #expect(report.pass, "\(report.failures)")
    }

    @Test func notificationsAreExactlyCountedAndOnTime() throws {
        // One second of RUN: 48,000 frames, 512-frame packets (a 4096-byte buffer, two notifications).
        let report = try Examples.run("simple", .of(Examples.named("simple"), steps: [.run(.seconds(1))]))
        let n = report.notifications
        #expect(report.stream.bufferFrames == 1024)
        #expect(n.expected == 48_000 / 512 && n.count == n.expected)
        #expect(n.latencyMicroseconds == Percentiles(p50: 0, p99: 0, max: 0))
        #expect(n.rateErrorPpm == 0)
        // 512 frames = 10,666,666.67 ns: deadlines rounded up to the nanosecond alternate 10,666,667 and 10,666,666.
        #expect(n.intervalNominalMicroseconds == 10_666.667)
        #expect(n.intervalMinMicroseconds == 10_666.666 && n.intervalMicroseconds?.max == 10_666.667)
        #expect(n.intervalErrorMaxMicroseconds == 0.001)
    }

    @Test func pauseAndRestartAreChecked() throws {
        let steps: [TimingScenario.Step] = [.run(.milliseconds(400)), .pause(.milliseconds(60)), .run(.milliseconds(300)),
                                            .stop(.milliseconds(30)), .run(.milliseconds(300))]
        let report = try Examples.run("isa", .of(Examples.named("isa"), steps: steps))
        #expect(report.position.pauseHolds == true && report.position.stopReadsZero == true)
        #expect(report.durationSeconds == 1.09 && report.runSeconds == 1.0)
        // Two runs between STOPs: 700 ms and 300 ms of frames, each counted from 0.
        let packet = UInt64(report.stream.bufferFrames / 2)
        #expect(report.notifications.expected == Int(33_600 / packet + 14_400 / packet))
        #expect(report.notifications.count == report.notifications.expected)
        #expect(report.pass, "\(report.failures)")
    }

    @Test func aStarvedClientShowsGlitches() throws {
        // A timer-driven client polling every 50 ms with a ~21 ms buffer: the DMA laps it.
        var scenario = TimingScenario.of(Examples.named("simple"), steps: [.run(.milliseconds(500))])
        scenario.clientMode = .timerDriven(period: 50_000_000, marginBytes: 4_096)
        let report = try Examples.run("simple", scenario)
        #expect(report.glitches >= 5 && report.glitchEvents.count == report.glitches)
        #expect(report.glitchEvents.allSatisfy { $0.timeSeconds > 0 && $0.timeSeconds < 0.5 && $0.kind == "underrun" })
        #expect(!report.pass && !report.passWindows)
        #expect(report.failures.contains { $0.hasPrefix("Glitches") })
        #expect(throws: TimingFailure.self) { try report.requirePass(.windows) }
    }

    @Test func tooShortARunCannotBeJudged() throws {
        let report = try Examples.run("simple", .of(Examples.named("simple"), steps: [.run(.milliseconds(150))]))
        #expect(report.position.fittedReadings < 100)
        #expect(!report.pass && report.failures.contains { $0.hasPrefix("Readings after the settle") })
    }

    @Test func positionRegisterCanBeRequired() {
        #expect(throws: TimingError.self) {
            try Examples.run("isa", .of(Examples.named("isa"), steps: [.run(.seconds(1))], source: .register))
        }
    }
}

extension VirtualClockTimingTests {
    /// NotificationCount 0: AllocateAudioBuffer and a client that polls the position.
    @Test func pollingClientWithoutNotifications() throws {
        var scenario = TimingScenario.of(Examples.named("simple"), steps: TimingScenario.standardSteps(seconds: 1.2))
        scenario.notificationCount = 0
        scenario.clientMode = .timerDriven(period: 2_000_000, marginBytes: 1_536)
        let report = try Examples.run("simple", scenario)
        #expect(report.notifications.count == 0 && report.notifications.expected == 0)
        #expect(!report.checks.contains { $0.id.hasPrefix("notification") || $0.id.hasPrefix("latency") })
        #expect(report.packets == nil && report.glitches == 0)
        #expect(report.position.rateErrorPpm == 0)
        #expect(report.pass, "\(report.failures)")
    }
}
