import ArgumentParser
import Foundation
import WaveRTExamples
import WaveRTPort
import WaveRTSDK
import WaveRTSoak

/// `wavert soak`: one stream of a miniport on the virtual clock for hours of
/// stream time, with random state ladders, reopens, format changes, fragmented
/// memory and a sometimes-late client, every check after every step (see
/// ``WaveRTSoak/Soak``). Prints a summary; on a failure, the seed that replays it.
/// Exit status: 0 passed (a known-buggy example's findings do not fail it), 1 a check failed, 2 the run could not be made.
struct SoakCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Run a miniport's stream for hours of virtual time through random states, reopens and late clients, checking everything.",
        discussion: """
            Each step may change the stream's state through the port (RUN, PAUSE, STOP, and KSSTATE ladders), reopen the pin \
            with a new format and buffer on freshly fragmented memory, or make the client late; then it advances the virtual \
            clock and checks the position against the device's own timing, glitches against what the lateness allowed, \
            notifications, the verifier, the hardware, leaks and crashes. The first failure stops the soak and prints the \
            command that replays it. Exit status: 0 passed, 1 a check failed, 2 the run could not be made.
            """)

    @Option(help: "Example miniport (see 'wavert examples').") var example: String?
    @Option(help: "A C++ miniport library built with 'wavert sdk build' (instead of --example).") var miniport: String?
    @Option(help: "The hardware a --miniport drives: hda, isa or sg (default: what the library declares, else hda).") var hardware: String?
    @Option(help: "Seconds of stream time.") var duration: Double = 3600
    @Option(help: "The seed of every random choice (default: a new one, printed).") var seed: UInt64?

    func validate() throws { _ = try target() }

    func run() throws {
        let target = try target()
        let seed = seed ?? UInt64.random(in: 0...UInt64(Int64.max))
        let terminal = isatty(STDOUT_FILENO) == 1
        if !terminal || duration > 600 { print("wavert soak: \(target.name), \(Int(duration)) s of stream time, seed \(seed)") }
        let started = Date()
        var drawn = false
        let report = Soak.run(target, seconds: duration, seed: seed) { p in
            guard terminal, Date().timeIntervalSince(started) > 2 else { return }
            FileHandle.standardOutput.write(Data(("\r\u{1B}[K  soak: \(p.streamNanoseconds * 100 / max(1, p.totalNanoseconds)) % ("
                + "\(p.streamNanoseconds / 1_000_000_000) of \(p.totalNanoseconds / 1_000_000_000) s, \(p.steps) steps)").utf8))
            drawn = true
        }
        if drawn { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)) }
        print(report.summary)
        if let failure = report.failure { throw ExitCode(failure.kind == .open && report.steps <= 1 ? 2 : 1) }
    }

    private func target() throws -> SoakTarget {
        guard duration > 0, duration.isFinite, duration <= 10 * 365 * 86_400 else {
            throw ValidationError("--duration must be a positive number of seconds (at most ten years); got \(duration)")
        }
        switch (example, miniport) {
        case (_?, _?): throw ValidationError("give --example or --miniport, not both")
        case (nil, let path?):
            var kind: HardwareKind?
            if let hardware {
                guard let k = HardwareKind(rawValue: hardware) else { throw ValidationError("--hardware must be hda, isa or sg; got '\(hardware)'") }
                kind = k
            }
            do { return try SoakTarget.library(path: path, hardware: kind) } catch { throw ValidationError("--miniport: \(error)") }
        case (let name, nil):
            if hardware != nil { throw ValidationError("--hardware is for --miniport; an example drives its own hardware") }
            let name = name ?? "hda"
            guard let ex = ExampleMiniport.named(name) else {
                throw ValidationError("no example named '\(name)'; try: \(ExampleMiniport.all.map(\.name).joined(separator: ", "))")
            }
            return .example(ex)
        }
    }
}
