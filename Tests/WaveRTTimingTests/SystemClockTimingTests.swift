import Foundation
import FoundationXML
import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine
import WaveRTPort
import WaveRTExamples
import WaveRTTiming

/// A short run in real time. Absolute times depend on the machine and its
/// neighbours, so the assertions are on counts, on properties, and on the
/// engine's latency as a ratio to this machine's own timer baseline measured
/// in the same run, with generous bounds.
@Suite struct SystemClockTimingTests {
    @Test func shortRealTimeRun() throws {
        var scenario = TimingScenario.of(Examples.named("simple"), steps: TimingScenario.standardSteps(seconds: 1.2), clock: .system)
        scenario.baselineNanoseconds = 500_000_000
        let report = try Examples.run("simple", scenario)
        #expect(report.clock == .system)
        let baseline = try #require(report.timerBaseline)
        #expect(baseline.wakeups >= 490 && baseline.wakeups <= 500)
        #expect(baseline.latencyMicroseconds.p50 > 0 && baseline.latencyMicroseconds.p50 <= baseline.latencyMicroseconds.p99)
        // The engine sleeps to absolute deadlines with the baseline's thread settings: its
        // median wake-up is of the same order (it does a pass of work first). A p99 over a
        // hundred notifications is one neighbour's burst away from anything: reported, not bounded.
        let ratio = try #require(report.notifications.latencyRatioToTimerBaseline)
        #expect(ratio.p50 > 0.2 && ratio.p50 < 25, "engine p50 is \(ratio.p50) x the baseline")
        #expect(ratio.p99 > 0)
        let latency = try #require(report.notifications.latencyMicroseconds)
        #expect(latency.p50 <= latency.p99 && latency.p99 <= latency.max)
        // Counts and properties hold whatever the machine.
        let n = report.notifications
        #expect(abs(n.count - n.expected) <= 2)
        let p = report.position
        #expect(p.monotonic && p.wrapsCorrectly && p.stopReadsZero == true && p.pauseHolds == true)
        #expect(p.fittedReadings >= 100 && p.readFailures == 0)
        // The position is computed from the same clock it is read on: its rate is the
        // nominal one to within the Windows figure by orders of magnitude.
        #expect(abs(p.rateErrorPpm!) < 1_000)
        #expect(p.stepFrames == 16)
        let doc = try XMLDocument(data: Data(report.svg.utf8), options: [])
        #expect(try doc.nodes(forXPath: "//*[@id='baseline-histogram']").count == 1)
        #expect(try doc.nodes(forXPath: "//*[@id='latency-histogram']").count == 1)
    }
}
