import ArgumentParser
import Foundation
import WaveRTFuzz

/// `wavert fuzz TARGET --seconds N --seed N`: runs one seeded fuzzer (see
/// `Fuzz/README.md`) and prints what it exercised and any failure with the
/// seed that replays it. Exits 1 when a fuzzer found a problem.
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz",
        abstract: "Run a seeded fuzzer against the device models, the KS properties, DMA profiles, audio files or the command line.",
        discussion: "Targets: " + (FuzzTargets.all.map(\.name) + [CLIFuzzer.name]).joined(separator: ", ")
            + ". A failure prints its seed; --seed S --iterations 1 replays it.")

    @Argument(help: "What to fuzz (see the list above).")
    var target: String

    @Option(help: "Stop after this many seconds (default 10 unless --iterations is given).")
    var seconds: Double?

    @Option(help: "Stop after this many iterations.")
    var iterations: Int?

    @Option(help: "The first iteration's seed (default: from the clock; printed either way).")
    var seed: UInt64?

    @Flag(name: .customLong("print-seeds"), help: "Print each iteration's seed to stderr before running it (to replay one that kills the process).")
    var printSeeds = false

    func validate() throws {
        guard FuzzTargets.named(target) != nil || target == CLIFuzzer.name else {
            throw ValidationError("unknown fuzz target '\(target)' (targets: \((FuzzTargets.all.map(\.name) + [CLIFuzzer.name]).joined(separator: ", ")))")
        }
        if let seconds, !(seconds > 0 && seconds.isFinite) { throw ValidationError("--seconds must be a positive number; got \(seconds)") }
        if let iterations, iterations < 1 { throw ValidationError("--iterations must be at least 1; got \(iterations)") }
    }

    func run() throws {
        let seed = self.seed ?? UInt64(DispatchTime.now().uptimeNanoseconds)
        let budget = seconds ?? (iterations == nil ? 10 : nil)
        print("wavert fuzz \(target): seed \(seed)")
        let iteration = FuzzTargets.named(target) ?? CLIFuzzer.iteration
        let report = Fuzzer.run(target: target, seed: seed, iterations: iterations, seconds: budget,
                                progress: printSeeds ? { FileHandle.standardError.write(Data("iteration seed \($0)\n".utf8)) } : nil,
                                iteration: iteration)
        print(report)
        if !report.failures.isEmpty { throw ExitCode(1) }
    }
}
