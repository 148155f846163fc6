import Testing
import WaveRTTestSupport
import WaveRTSoak

/// `wavert soak --miniport LIB.so`: the C++ `hda` soaks clean through reopens,
/// formats and late wakes; the buggy one's PASSIVE_LEVEL call from its DPC is a
/// finding when it is soaked as known-buggy, and a failure (with its replay line) otherwise.
@Suite(.apartFromRealTime) struct CxxSoakTests {
    @Test func theCxxHDAMiniportSoaksClean() throws {
        let target = try SoakTarget.library(path: try CxxExamples.library("hda"))
        let report = Soak.run(target, seconds: 300, seed: 11)
        #expect(report.passed, "\(report.summary)")
        #expect(report.opens >= 3 && report.formats.count >= 2 && report.lateWakes > 0, "\(report.summary)")
        #expect(report.expectedGlitches == report.reportedGlitches)
    }

    @Test func theBuggyCxxMiniportFailsOnTheVerifier() throws {
        let path = try CxxExamples.library("buggy")
        let report = Soak.run(try SoakTarget.library(path: path), seconds: 60, seed: 11)
        let failure = try #require(report.failure, "\(report.summary)")
        #expect(failure.kind == .verifier, "\(failure)")
        #expect(report.summary.contains("replay: wavert soak --miniport \(path) --duration 60 --seed 11"), "\(report.summary)")
    }
}
