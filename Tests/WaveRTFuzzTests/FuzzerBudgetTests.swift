import Foundation
import Testing
import WaveRTFuzz
import WaveRTTestSupport

/// Each fuzzer for a short fixed budget on a fixed seed, so CI keeps them
/// alive (`wavert fuzz TARGET --seconds N` runs them for longer; Fuzz/README.md).
/// A run must be clean and must have reached what it is there to exercise.
@Suite(.apartFromRealTime) struct FuzzerBudgetTests {
    static func run(_ name: String, iterations: Int, seed: UInt64 = 20_261_122) throws -> FuzzReport {
        let iteration = try #require(FuzzTargets.named(name))
        let report = Fuzzer.run(target: name, seed: seed, iterations: iterations, seconds: nil, iteration: iteration)
        #expect(report.iterations == iterations)
        #expect(report.failures.isEmpty, "\(report)")
        return report
    }

    @Test func hdaRegistersBDLsAndFreesUnderDMA() throws {
        let r = try Self.run("hda", iterations: 120)
        #expect(r.counters["dma programs", default: 0] > 20 && r.counters["dma copies checked", default: 0] > 1000, "\(r)")
        #expect(r.counters["dma transfers refused", default: 0] > 0 && r.counters["guest errors", default: 0] > 0, "\(r)")
    }

    @Test func isaPortsAndTheDSP() throws {
        let r = try Self.run("isa", iterations: 150)
        #expect(r.counters["dma copies checked", default: 0] > 100 && r.counters["dma transfers refused", default: 0] > 0, "\(r)")
    }

    @Test func sgRegistersAndTables() throws {
        let r = try Self.run("sg", iterations: 120)
        #expect(r.counters["dma copies checked", default: 0] > 1000 && r.counters["RUN writes", default: 0] > 100, "\(r)")
    }

    @Test func ksPropertiesAgainstEveryExample() throws {
        let r = try Self.run("ks-property", iterations: 60)
        #expect(r.counters["pins opened", default: 0] > 20 && r.counters["requests refused", default: 0] > 100, "\(r)")
    }

    @Test func dmaProfileJSON() throws {
        let r = try Self.run("dma-profile", iterations: 3000)
        #expect(r.counters["refused", default: 0] > 1000 && r.counters["programs run", default: 0] > 50, "\(r)")
    }

    @Test func audioFiles() throws {
        let r = try Self.run("audio-file", iterations: 200)
        #expect(r.counters["accepted", default: 0] > 10 && r.counters["refused", default: 0] > 10, "\(r)")
    }

    /// A seed replays: the same inputs, so the same counts; iteration 0 runs the seed itself.
    @Test func aSeedReplaysExactly() throws {
        let a = try Self.run("sg", iterations: 5, seed: 99)
        let b = try Self.run("sg", iterations: 5, seed: 99)
        #expect(a.counters == b.counters)
        #expect(Fuzzer.iterationSeed(99, 0) == 99 && Fuzzer.iterationSeed(99, 1) != 99)
    }

    /// The harness reports a failing iteration with the seed and the command that replay it.
    @Test func aFailureNamesItsReplaySeed() {
        var third = FuzzRandom(seed: Fuzzer.iterationSeed(5, 2))
        let marker = third.next()
        let report = Fuzzer.run(target: "hda", seed: 5, iterations: 3, seconds: nil) { (random: inout FuzzRandom) -> FuzzOutcome in
            var o = FuzzOutcome()
            if random.next() == marker { o.fail("third") }
            return o
        }
        #expect(report.failures.map(\.iterationSeed) == [Fuzzer.iterationSeed(5, 2)])
        #expect(report.description.contains("replay: wavert fuzz hda --seed \(Fuzzer.iterationSeed(5, 2)) --iterations 1"))
    }

    /// `wavert fuzz cli`: the command line's own parser, in the built executable.
    @Test func commandLines() throws {
        let wavert = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("wavert").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: wavert)
        process.arguments = ["fuzz", "cli", "--iterations", "300", "--seed", "11"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("300 iterations") && text.contains("clean") && text.contains("refused"), "\(text)")
    }
}
