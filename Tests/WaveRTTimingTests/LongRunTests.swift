import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine
import WaveRTPort
import WaveRTExamples
import WaveRTTiming

/// A day of stream time on the virtual clock. QEMU's HD Audio emulation
/// overflowed `uptime * bytes_per_sec` after 14.5 hours; here the position must
/// still be exact at 24. A one-second buffer keeps the engine to a few passes
/// per stream second, so the day takes seconds even in a debug build.
@Suite struct LongRunTests {
    @Test func aDayOfStreamTimeStaysExact() throws {
        let example = Examples.named("simple")
        let scenario = TimingScenario.of(example, steps: TimingScenario.standardSteps(seconds: 86_400), bufferMilliseconds: 1_000)
        let report = try Examples.run("simple", scenario)
        #expect(report.durationSeconds == 86_400)
        let p = report.position
        // Readings every 1.73 s (86,400 s / 50,000, whole milliseconds + 0.618 ms).
        #expect(p.samplePeriodMicroseconds == 1_728_618.034)
        #expect(p.readings >= 49_000 && p.readings <= 50_000)
        #expect(p.rateErrorPpm == 0 && p.driftPpm == 0 && p.errorFramesMax == 0)
        #expect(p.monotonic && p.wrapsCorrectly && p.wraps > 80_000)
        let n = report.notifications
        #expect(n.count == n.expected && n.expected > 160_000)
        #expect(n.latencyMicroseconds?.max == 0)
        #expect(report.glitches == 0)
        #expect(report.pass, "\(report.failures)")
    }
}
