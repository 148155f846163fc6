import Testing
import WaveRTExamples
import WaveRTTiming

/// Ten minutes of stream time on the virtual clock: every ring the run uses wraps many times
/// (the cyclic buffer 56,000 times; the probe's 8,192-entry rings, the glitch monitor's 16,384
/// watermarks and its 4,096-entry history and queue, more than a hundred thousand notifications),
/// and the position is still exact.
@Suite struct LongRunTests {
    @Test func tenMinutesWrapEveryRingAndStayExact() throws {
        let report = try Examples.run("hda", scenario: TimingScenario(steps: TimingScenario.standardSteps(seconds: 600)))
        #expect(report.durationSeconds == 600)
        for p in [report.position, try #require(report.positionRegister)] {
            // Readings every 12.618 ms (600 s / 50,000, whole milliseconds + 0.618 ms).
            #expect(p.samplePeriodMicroseconds == 12_618.034)
            #expect(p.readings >= 47_000 && p.readings <= 50_000)
            #expect(p.rateErrorPpm == 0 && p.driftPpm == 0 && p.errorFramesMax == 0)
            #expect(p.monotonic && p.wrapsCorrectly && p.wraps > 50_000)
        }
        let n = report.notifications
        #expect(n.count == n.expected && n.expected > 100_000)
        #expect(n.latencyMicroseconds?.max == 0)
        let packets = try #require(report.packets)
        #expect(packets.maxLead == 0 && packets.maxLag == 0)
        #expect(report.glitches == 0 && report.warnings.isEmpty, "\(report.warnings)")
        #expect(report.pass, "\(report.failures)")
    }
}
