import Foundation
import Testing
import WaveRTTestSupport

/// `wavert soak` as a user runs it: the built executable, its output and exit status.
@Suite(.apartFromRealTime) struct SoakCommandTests {
    /// The `wavert` built next to this test binary.
    static let wavert = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("wavert").path

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: wavert)
        process.arguments = ["soak"] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let error = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output, error)
    }

    @Test func anExampleSoaksAndSaysWhatItDid() throws {
        let r = try Self.run(["--example", "isa", "--duration", "60", "--seed", "42"])
        #expect(r.status == 0, "\(r.output)\(r.error)")
        #expect(r.output.contains("wavert soak: isa, 60 s of stream time, seed 42"), "\(r.output)")
        #expect(r.output.contains("soak isa: 0.02 h of stream time") && r.output.hasSuffix("passed\n"), "\(r.output)")
        // The same seed, the same run: every figure of the summary but the wall time.
        let again = try Self.run(["--example", "isa", "--duration", "60", "--seed", "42"])
        func figures(_ s: String) -> [String] { s.split(separator: "\n").filter { !$0.contains("real time") }.map(String.init) }
        #expect(figures(again.output) == figures(r.output))
    }

    @Test func aKnownBuggyExamplesFindingsArePrintedAndDoNotFailIt() throws {
        let r = try Self.run(["--example", "buggy-wrong-fmt", "--duration", "20", "--seed", "1"])
        #expect(r.status == 0, "\(r.output)\(r.error)")
        #expect(r.output.contains("findings of the known-buggy miniport") && r.output.contains("[rate]"), "\(r.output)")
    }

    @Test(arguments: [(["--example", "nope"], "no example named 'nope'"),
                      (["--example", "hda", "--miniport", "x.so"], "give --example or --miniport, not both"),
                      (["--example", "hda", "--duration", "0"], "--duration must be a positive number"),
                      (["--example", "hda", "--hardware", "isa"], "--hardware is for --miniport"),
                      (["--miniport", "/nonexistent.so"], "--miniport:")])
    func badArgumentsAreRefusedByName(arguments: [String], message: String) throws {
        let r = try Self.run(arguments)
        #expect(r.status == 64, "\(r.status): \(r.error)")
        #expect(r.error.contains(message), "\(r.error)")
        #expect(r.error.contains("wavert soak"), "the soak subcommand's usage: \(r.error)")
    }
}
