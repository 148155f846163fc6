import ArgumentParser
import Foundation
import WaveRT
// The layers used here, imported directly (not only through the umbrella) so an
// incremental build recompiles this file when one of them changes.
import WaveRTALSA
import WaveRTDMA
import WaveRTEngine
import WaveRTExamples
import WaveRTPort
import WaveRTTiming

/// `wavert timing`: runs the timing suite against an example miniport, prints
/// the verdict, optionally writes the JSON report and the SVG plot, and exits
/// non-zero when a check fails.
struct TimingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timing",
        abstract: "Run the timing suite on an example miniport.",
        discussion: """
            Measures what Windows' position tests measure (sample-rate error by least squares, bias, jitter, \
            monotonicity and wrap-around, STOP/PAUSE/RUN behaviour, notifications, packet counter, glitches) and \
            judges it against the Windows limits and this project's stricter figures. The default scenario runs, \
            pauses for 100 ms, resumes, stops for 100 ms and restarts. On the virtual clock the run is exact and \
            fast (a day of stream time takes seconds); on the system clock the machine's own timer latency is \
            measured first and the engine's is reported beside it.
            """)

    @Option(help: "The example miniport (see `wavert examples`).")
    var example: String = "simple"

    @Option(help: "The timebase: virtual (exact, fast) or system (CLOCK_MONOTONIC, real time).")
    var clock: String = "virtual"

    @Option(help: "Stream time to run, in seconds.")
    var duration: Double = 2

    @Option(help: "A DMA controller preset or a JSON profile path (default: the example's).")
    var dma: String?

    @Option(help: "Where the position is read: automatic (the register when there is one), register or getPosition.")
    var position: String = "automatic"

    @Option(help: "Write the JSON report here.")
    var report: String?

    @Option(help: "Write the SVG plot here.")
    var plot: String?

    @Flag(help: "Let the DMA controller do what silicon would with a bad program instead of refusing it.")
    var faithfulFaults = false

    @Flag(help: "Judge against the Windows limits only (exit 0 when they pass).")
    var windowsOnly = false

    func run() throws {
        guard let example = ExampleMiniport.named(example) else {
            throw ValidationError("no example named '\(example)' (try: \(ExampleMiniport.all.map(\.name).joined(separator: ", ")))")
        }
        guard let clock = TimingScenario.Clock(rawValue: clock) else { throw ValidationError("--clock is virtual or system") }
        guard let source = TimingScenario.PositionSource(rawValue: position) else {
            throw ValidationError("--position is automatic, register or getPosition")
        }
        guard duration > 0, duration <= 10 * 365 * 86_400 else { throw ValidationError("--duration must be a positive number of seconds") }
        let profile: DMAProfile
        do { profile = try dma.map { name throws(DMAProfileError) in try DMAProfile.named(name) } ?? example.profile } catch {
            throw ValidationError(error.description)
        }
        var scenario = TimingScenario(format: example.format, bufferMilliseconds: example.bufferMilliseconds,
                                      notificationCount: example.notificationCount, clientMode: example.clientMode,
                                      steps: TimingScenario.standardSteps(seconds: duration), clock: clock, positionSource: source)

        scenario.faithfulFaults = faithfulFaults

        let terminal = isatty(1) == 1
        let progress = ProgressLine(enabled: terminal)
        let result: TimingReport
        do {
            result = try TimingSuite.run(miniport: example.make, profile: profile, scenario: scenario, name: example.name,
                                         progress: progress.update)
        } catch {
            progress.clear()
            throw TimingRunError(description: error.description)
        }
        progress.clear()
        print(result.table(terminal: terminal), terminator: "")
        if let path = report {
            try result.jsonData().write(to: URL(fileURLWithPath: path))
            if !terminal { print("report: \(path)") }
        }
        if let path = plot {
            try Data(result.svg.utf8).write(to: URL(fileURLWithPath: path))
            if !terminal { print("plot: \(path)") }
        }
        if !result.passes(windowsOnly ? .windows : .strict) { throw ExitCode(1) }
    }
}

/// A run that could not be made (not a failed check): printed without the usage text, exit status 1.
struct TimingRunError: Error, CustomStringConvertible {
    var description: String
}

/// One self-overwriting line on a terminal, for runs that last more than a
/// couple of seconds of wall time; nothing on a pipe.
final class ProgressLine: @unchecked Sendable {
    private let enabled: Bool
    private let started = Date()
    private var lastDraw = Date.distantPast
    private var drawn = false

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ p: TimingSuite.Progress) {
        guard enabled else { return }
        let now = Date()
        guard now.timeIntervalSince(started) > 2, now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        let line = p.phase == "run"
            ? "  timing: \(Int(p.fraction * 100)) % (\(Int(Double(p.streamNanoseconds) / 1e9)) of \(Int(Double(p.totalNanoseconds) / 1e9)) s of stream time)"
            : "  timing: measuring the \(p.phase)"
        FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line).utf8))
        drawn = true
    }

    func clear() {
        if drawn { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)) }
        drawn = false
    }
}
