import Testing
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTTiming

/// The suite on the virtual clock, where every figure is exact and the same every run.
@Suite struct VirtualClockTimingTests {
    static func format(_ rate: Int, _ bits: Int, _ channels: Int, float: Bool = false) -> StreamFormat {
        try! StreamFormat(sampleRate: rate, bitsPerSample: bits, channels: channels, float: float)
    }

    /// Every format each correct example's hardware plays, at its default buffer, a 128-frame
    /// period (256 frames, 2 notifications) and one notification per buffer.
    static let matrix: [(String, StreamFormat)] = [
        ("simple", .cd48k), ("simple", format(48_000, 24, 2)), ("simple", format(44_100, 16, 2)), ("simple", format(96_000, 32, 6)),
        ("simple", format(96_000, 32, 8, float: true)), ("simple", format(44_100, 24, 1)),
        ("hda", .cd48k), ("hda", format(48_000, 32, 2)), ("hda", format(44_100, 16, 2)), ("hda", format(96_000, 16, 8)),
        ("hda", format(96_000, 32, 6)), ("hda", format(192_000, 32, 2)), ("hda", format(8_000, 16, 1)),
        ("isa", format(44_100, 16, 2)), ("isa", format(44_100, 16, 1)), ("isa", format(22_050, 16, 2)), ("isa", format(8_000, 16, 1)),
    ]

    @Test(arguments: matrix)
    func correctExamplesPassEverythingAcrossFormatsAndBuffers(name: String, format: StreamFormat) throws {
        for (frames, notifications) in [(nil, nil), (256, 2), (nil, 1)] as [(Int?, Int?)] {
            let setup = Examples.setup(name, format: format, bufferFrames: frames, notifications: notifications)
            let report = try Examples.run(name, setup)
            #expect(report.pass, "\(name) \(format) \(frames.map { "\($0) frames" } ?? "default buffer") \(notifications ?? 2) notifications: \(report.failures)")
            #expect(report.checks.allSatisfy { $0.strict != .notExercised }, "\(report.checks.filter { $0.strict == .notExercised }.map(\.id))")
            // Exact: the rate of a device of the declared accuracy, to the ppm's fourth decimal.
            #expect(report.clientPosition.rateErrorPpm == 0 && report.clientPosition.errorFramesMax == 0)
            #expect(report.notifications.count == report.notifications.expected && report.notifications.spurious == 0)
        }
    }

    /// A frame-exact position read at 2.618 ms intervals: rate 0; bias, jitter only the frame's own quantisation.
    @Test func hdaFiguresAreExact() throws {
        let report = try Examples.run("hda")
        for p in [report.position, try #require(report.positionRegister)] {
            #expect(p.rateErrorPpm == 0 && p.driftPpm == 0 && p.errorFramesMax == 0)
            #expect(p.stepFrames == 1 && p.granularityFrames == 1 && p.declaredAccuracyBytes == 4)
            let frame = 1e6 / 48_000
            #expect(p.jitterStdMicroseconds! < frame / 2 && p.jitterMaxMicroseconds! <= frame && abs(p.biasMicroseconds!) <= frame)
            #expect(p.monotonic && p.wrapsCorrectly && p.wraps > 150)
            #expect(p.stopReadsZero == true && p.pauseHolds == true)
            #expect(p.readFailures == 0 && p.readLatencyMaxMicroseconds == 0 && p.longestStallMilliseconds == 0)
            #expect(p.fittedReadings >= 500)
        }
        let packets = try #require(report.packets)  // hda's client runs in packet mode
        #expect(packets.maxLead == 0 && packets.maxLag == 0 && packets.resetsOnStop == true)
        #expect(report.stream.clientMode == "packet" && report.stream.fifoBytes == 192)
    }

    /// One second of RUN on `simple`: 48,000 frames in 240-frame packets, each notification
    /// exactly as its packet completes (position + FIFO on the boundary).
    @Test func notificationsAreExactlyCountedAndOnTime() throws {
        let report = try Examples.run("simple", scenario: TimingScenario(steps: TimingScenario.steadySteps(seconds: 1)))
        let n = report.notifications
        #expect(report.stream.bufferFrames == 480 && report.stream.packetBytes == 960)
        #expect(n.expected == 48_000 / 240 && n.count == n.expected && n.expectedMinimum == n.expected)
        #expect(n.latencyMicroseconds == Percentiles(p50: 0, p99: 0, max: 0))
        #expect(n.intervalMicroseconds == Percentiles(p50: 5_000, p99: 5_000, max: 5_000) && n.intervalErrorMaxMicroseconds == 0)
        #expect(n.spurious == 0 && n.missed == 0 && n.timeouts == 0 && n.rateErrorPpm == 0)
    }

    /// PAUSE freezes the position, STOP zeroes it, the run after STOP counts its packets from 0.
    @Test func pauseAndRestartAreChecked() throws {
        let steps: [TimingScenario.Step] = [.run(.milliseconds(400)), .pause(.milliseconds(60)), .run(.milliseconds(300)),
                                            .stop(.milliseconds(30)), .run(.milliseconds(300))]
        let report = try Examples.run("isa", scenario: TimingScenario(steps: steps))
        #expect(report.position.pauseHolds == true && report.position.stopReadsZero == true)
        #expect(report.durationSeconds == 1.09 && report.runSeconds == 1.0)
        // Two runs between STOPs: 700 ms and 300 ms of frames at 44.1 kHz, each counted from 0.
        let packet = report.stream.packetBytes / 4
        #expect(report.notifications.expected == 30_870 / packet + 13_230 / packet)
        #expect(report.notifications.count == report.notifications.expected)
        #expect(report.pass, "\(report.failures)")
    }

    /// A timer-driven client polling every 50 ms with a 10 ms buffer: the DMA laps it, and the
    /// glitch monitor sees every lap it missed. The miniport is fine; the run still fails.
    @Test func aStarvedClientShowsGlitches() throws {
        var setup = Examples.setup("simple", notifications: 0)
        setup.mode = .timer(periodNanoseconds: 50_000_000)
        let report = try Examples.run("simple", setup, scenario: TimingScenario(steps: TimingScenario.steadySteps(seconds: 0.5)))
        #expect(report.glitches >= 5 && report.glitchEvents.count == report.glitches, "\(report.glitches) \(report.glitchEvents.prefix(4)) \(report.stream.clientMode)")
        #expect(report.glitchEvents.allSatisfy { $0.timeSeconds > 0 && $0.timeSeconds < 0.5 && $0.kind == "underrun" })
        #expect(!report.pass && !report.passWindows)
        #expect(report.failedChecks == ["glitches"])
        #expect(throws: TimingFailure.self) { try report.requirePass(.windows) }
    }

    /// NotificationCount 0: AllocateAudioBuffer and a client that polls the position.
    @Test func pollingClientWithoutNotifications() throws {
        var setup = Examples.setup("simple", notifications: 0)
        setup.mode = .timer(periodNanoseconds: 2_000_000)
        let report = try Examples.run("simple", setup, scenario: TimingScenario(steps: TimingScenario.standardSteps(seconds: 1.2)))
        #expect(report.notifications.count == 0 && report.stream.notificationCount == 0)
        #expect(!report.checks.contains { $0.id.hasPrefix("notification") })
        #expect(report.packets == nil && report.glitches == 0)
        #expect(report.position.rateErrorPpm == 0)
        #expect(report.pass, "\(report.failures)")
    }

    @Test func tooShortARunCannotBeJudged() throws {
        let report = try Examples.run("simple", scenario: TimingScenario(steps: [.run(.milliseconds(150))]))
        #expect(report.position.fittedReadings < 100)
        #expect(!report.passWindows && report.failedChecks.contains("readings"))
    }

    @Test func unusableScenariosAndSetupsAreErrors() {
        #expect(throws: TimingError.self) { try Examples.run("simple", scenario: TimingScenario(steps: [])) }
        var capture = Examples.setup("simple")
        capture.capture = true
        #expect(throws: TimingError.self) { try Examples.run("simple", capture) }
        // A format the hardware cannot play: the miniport refuses the pin, the run says so.
        let refused = Examples.setup("isa", format: Self.format(48_000, 24, 2))
        #expect(throws: TimingError.self) { try Examples.run("isa", refused) }
    }

    @Test func sameInputsGiveByteIdenticalReports() throws {
        let setup = Examples.setup("hda", bufferFrames: 256, notifications: 2)
        let first = try Examples.run("hda", setup)
        let second = try Examples.run("hda", setup)
        #expect(first.jsonData() == second.jsonData())
        #expect(first.svg == second.svg)
        #expect(first.table(terminal: false) == second.table(terminal: false))
        #expect(try Examples.run("simple").jsonData() != first.jsonData())
    }
}
