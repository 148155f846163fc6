import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine
import WaveRTPort
import WaveRTExamples
import WaveRTTiming

/// Positions as lesser drivers report them: the checks must tell.
@Suite struct CoarsePositionTests {
    static let scenario = TimingScenario(steps: TimingScenario.standardSteps(seconds: 2))

    /// SYSVAD's 1 ms position steps: the Windows figures pass (jitter std ~0.29 ms
    /// is under 1 ms, which is why older KS Position Tests needed a special case),
    /// this project's do not (one frame is declared, 48 are delivered).
    @Test func millisecondStepsFailTheStrictJitterFigure() throws {
        let report = try TimingSuite.run(miniport: { RewrittenPositionMiniport.wholeMilliseconds() }, profile: .pcie64SG,
                                         scenario: Self.scenario, name: "sysvad-like")
        let p = report.position
        #expect(p.source == "getPosition" && p.granularityFrames == 1)
        #expect(p.stepFrames == 48)
        // Uniform over 48 whole frames: sqrt((48² - 1) / 12) frames = 288.6 µs.
        let expected = ((48.0 * 48 - 1) / 12).squareRoot() / 48_000 * 1e6
        #expect(abs(p.jitterStdMicroseconds! - expected) < 3, "\(p.jitterStdMicroseconds!)")
        #expect(abs(p.jitterStdMicroseconds! - 290) < 10)
        #expect(p.jitterMaxMicroseconds! > 450 && p.jitterMaxMicroseconds! < 500)
        #expect(report.passWindows && !report.pass)
        let failed = Set(report.checks.filter { $0.strict == .fail }.map(\.id))
        #expect(failed.isSuperset(of: ["jitter-std", "jitter-max", "step", "exact"]))
        #expect(report.checks.first { $0.id == "jitter-std" }?.windows == .pass)
        #expect(throws: TimingFailure.self) { try report.requirePass() }
        try report.requirePass(.windows)
    }

    @Test func theCorrectMiniportPassesTheSameScenario() throws {
        let report = try TimingSuite.run(miniport: { SimpleMiniport() }, profile: .pcie64SG, scenario: Self.scenario)
        #expect(report.position.jitterStdMicroseconds! < report.limits.strict.jitterStdMicroseconds!)
        try report.requirePass()
    }

    @Test func aFastClockFailsTheWindowsRateFigure() throws {
        let report = try TimingSuite.run(miniport: { RewrittenPositionMiniport.twoPercentFast() }, profile: .pcie64SG,
                                         scenario: Self.scenario)
        #expect(abs(report.position.rateErrorPpm! - 20_000) < 1)
        #expect(!report.passWindows)
        #expect(report.checks.first { $0.id == "rate" }?.windows == .fail)
    }
}
