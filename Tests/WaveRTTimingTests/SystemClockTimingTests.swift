import Testing
import WaveRTTestSupport
import WaveRTClient
import WaveRTExamples
import WaveRTTiming

/// Real time. Absolute times depend on the machine and its neighbours (two
/// cores, other builds), so the figures a loaded machine makes flaky are judged
/// as ratios to this machine's own timer wake-up latency measured in the same
/// run; the rest are properties that hold whatever the load.
@Suite(.serialized, .realTime) struct SystemClockTimingTests {
    /// 128-frame periods: a 256-frame buffer with two notifications, 2.67 ms per packet.
    @Test func hdaWith128FramePeriodsPassesTheWindowsLimits() throws {
        var scenario = TimingScenario(steps: TimingScenario.standardSteps(seconds: 2), clock: .system)
        scenario.baselineNanoseconds = 500_000_000
        let setup = Examples.setup("hda", bufferFrames: 256, notifications: 2)
        let report = try Examples.run("hda", setup, scenario: scenario)
        #expect(report.clock == .system && report.stream.bufferFrames == 256 && report.stream.packetBytes == 512)
        #expect(report.passWindows, "\(report.checks.filter { $0.windows == .fail }.map(\.failureLine)) \(report.warnings)")
        // The KS Position Test's figures: positions are read with the time around each read, the
        // narrowest of three brackets, so even a loaded machine reads them to within a few frames.
        for p in [report.position, try #require(report.positionRegister)] {
            #expect(abs(p.rateErrorPpm!) < 10_000 && p.jitterStdMicroseconds! < 1_000 && p.jitterMaxMicroseconds! < 4_000)
            #expect(p.monotonic && p.offsetsOutsideBuffer == 0 && p.stopReadsZero == true && p.pauseHolds == true)
            #expect(p.fittedReadings >= 100 && p.readFailures == 0)
            #expect(p.stepFrames == 1)
        }
        // Notification latency against this machine's timer baseline, measured just before.
        let baseline = try #require(report.timerBaseline)
        // The baseline sleeps to the deadlines start + k x 1 ms, k = 1...500: exactly 500 wake-ups, however late each is.
        #expect(baseline.wakeups == 500 && baseline.periodMicroseconds == 1_000 && baseline.durationSeconds == 0.5)
        #expect(baseline.latencyMicroseconds.p50 > 0)
        let ratio = try #require(report.notifications.latencyRatioToTimerBaseline)
        // Two wake-ups in a row (the processor's thread, then the client's) plus a pass of work and a
        // frame of quantisation: a few baselines, never dozens.
        #expect(ratio.p50 > 0 && ratio.p50 < 25, "notification p50 is \(ratio.p50) x the baseline's")
        let latency = try #require(report.notifications.latencyMicroseconds)
        // The ratios are these figures over the baseline's, percentile by percentile. The report
        // rounds ratios to 0.001 and latencies to 0.001 us (1 ns): the bound is what that rounding allows.
        let b = baseline.latencyMicroseconds
        func matches(_ r: Double, _ measured: Double, _ base: Double) -> Bool {
            let exact = measured / max(base, 0.001)
            return abs(r - exact) <= 0.0005 + exact * 0.0005 * (1 / max(measured, 0.001) + 1 / max(base, 0.001)) + 1e-12
        }
        #expect(matches(ratio.p50, latency.p50, b.p50) && matches(ratio.p99, latency.p99, b.p99), "\(ratio) vs \(latency) / \(b)")
        let n = report.notifications
        #expect(n.count >= n.expectedMinimum - 2 * 2 && n.count <= n.expected + 2 * 2)
    }
}
