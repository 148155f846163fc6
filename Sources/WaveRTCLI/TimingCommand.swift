import ArgumentParser
import Foundation
import WaveRTClient
import WaveRTDMA
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTMemory
import WaveRTPort
import WaveRTRunner
import WaveRTTiming

/// `wavert timing`: runs the timing suite on an example miniport, prints the
/// verdict, optionally writes the JSON report and the SVG plot, and exits
/// non-zero when a check fails. The flags are a contract: scripts call them.
struct TimingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timing",
        abstract: "Measure an example miniport's (or a C++ one's, --miniport) timing the way Windows' position tests do.",
        discussion: """
            Reads the position from the client's side (KSPROPERTY_AUDIO_POSITION and the mapped position register) \
            every 2.618 ms with the time of each read, and the position at each notification the client receives, \
            then judges sample-rate error (least squares), bias, jitter, granularity, wrap-around, STOP/PAUSE/RUN, \
            one notification per packet and its latency, the packet counter, glitches, DMA faults and the verifier \
            against the Windows limits and this project's stricter figures. The default scenario runs, pauses for \
            100 ms, resumes, stops for 100 ms and restarts. On the virtual clock the run is exact and fast; on the \
            system clock this machine's timer latency is measured first and notification latency judged beside it. \
            Exit status: 0 every check passed, 1 a check failed, 2 the run could not be made.
            """)

    @Option(help: "Example miniport (see 'wavert examples'; default hda).") var example: String?
    @Option(help: "A C++ miniport library built with 'wavert sdk build' (instead of --example).") var miniport: String?
    @Option(help: "hda, isa or sg: the adapter a --miniport library drives (default: what the library declares, else hda).")
    var hardware: String?
    @Option(name: .customLong("fragment-memory"),
            help: "Fragment the machine's memory: scarce, or OCCUPANCY:LONGEST_FREE_RUN_PAGES[:SEED] (e.g. 0.999:1).")
    var fragmentMemory: String?
    @Option(help: "RATE:BITS:CHANNELS, BITS 16, 24, 32 or 32f (default: the example's).") var format: String?
    @Option(name: .customLong("buffer-ms"), help: "Cyclic buffer length in milliseconds (default: the example's).") var bufferMs: Int?
    @Option(name: .customLong("buffer-frames"), help: "Cyclic buffer length in frames (instead of --buffer-ms).") var bufferFrames: Int?
    @Option(help: "Notifications per buffer: 1 or 2 (0: no notifications, a timer-driven client).") var notifications: Int?
    @Option(help: "DMA controller preset or profile file (overrides the example's).") var dma: String?
    @Flag(name: .customLong("faithful-faults"), help: "Let the DMA do what silicon would instead of refusing bad programs.")
    var faithfulFaults = false
    @Flag(name: .customLong("coarse-position"), help: "An sg device whose position register moves only at IOC (cheap hardware).")
    var coarsePosition = false
    @Option(name: .customLong("timer-resolution"), help: "The system timer: default (15.625 ms, 1 ms while a high-resolution timer is set) or high.")
    var timerResolution = "default"
    @Option(help: "virtual (exact, fast, deterministic) or system (CLOCK_MONOTONIC, real time).") var clock = "virtual"
    @Option(help: "Seconds of stream time.") var duration: Double = 2
    @Option(help: "Write the JSON report here.") var report: String?
    @Option(help: "Write the SVG plot here.") var plot: String?
    @Flag(name: .customLong("windows-only"), help: "Exit 0 when the Windows limits pass, whatever the stricter figures say.")
    var windowsOnly = false
    @OptionGroup var traceFlags: TraceFlags

    /// What the flags ask for, checked.
    struct Plan {
        var example: RunMiniport
        var setup: StreamSetup
        var scenario: TimingScenario
        var memory: (@Sendable () -> PhysicalMemory)?
        var trace: TraceOptions?
    }

    /// Runs before run(), so a mistake is reported with this subcommand's usage.
    func validate() throws { _ = try plan() }

    func run() throws {
        let plan = try plan()
        let terminal = isatty(STDOUT_FILENO) == 1
        let progress = ProgressLine(enabled: terminal)
        let result: TimingReport
        // The virtual clock starts at 0; the system clock's trace counts from the start of the run.
        let trace = plan.trace?.recorder(origin: plan.scenario.clock == .virtual ? 0 : MonotonicTimebase.shared.now)
        defer { writeTrace(trace, plan) }
        do {
            result = try TimingSuite.run(miniport: plan.example.make, setup: plan.setup, scenario: plan.scenario,
                                         name: plan.example.name, memory: plan.memory?() ?? PhysicalMemory(), trace: trace,
                                         progress: progress.update)
        } catch {
            progress.clear()
            var message = "wavert: \(error.description)\n"
            if error.description.contains("refused a stream") {
                message += "wavert: \(plan.example.name) " + (plan.example.formats.map { "plays \($0)" } ?? "refused it: \(plan.example.formatsDescription(capture: false))") + "\n"
            }
            if let crash = plan.example.crashReport() { message += "wavert: \(crash)\n" }
            FileHandle.standardError.write(Data(message.utf8))
            throw ExitCode(2)
        }
        progress.clear()
        print(result.table(terminal: terminal), terminator: "")
        do {
            if let path = report {
                try result.jsonData().write(to: URL(fileURLWithPath: path))
                if !terminal { print("report: \(path)") }
            }
            if let path = plot {
                try Data(result.svg.utf8).write(to: URL(fileURLWithPath: path))
                if !terminal { print("plot: \(path)") }
            }
        } catch {
            FileHandle.standardError.write(Data("wavert: cannot write the report: \(error.localizedDescription)\n".utf8))
            throw ExitCode(2)
        }
        if let crash = plan.example.crashReport() {
            FileHandle.standardError.write(Data("wavert: \(crash)\n".utf8))
            throw ExitCode(1)
        }
        if !result.passes(windowsOnly ? .windows : .strict) { throw ExitCode(1) }
    }

    /// Writes the trace the run recorded (whatever became of the run), and says where.
    private func writeTrace(_ trace: TraceRecorder?, _ plan: Plan) {
        guard let trace, let path = plan.trace?.path else { return }
        do {
            try ChromeTrace.write(trace, to: path, metadata: RunTrace.metadata(command: "timing", miniport: plan.example.name,
                                                                                 setup: plan.setup, clock: plan.scenario.clock.rawValue))
            if isatty(STDOUT_FILENO) != 1 || trace.droppedCount > 0 { RunOutput.noteTrace(path, dropped: trace.droppedCount) }
        } catch {
            FileHandle.standardError.write(Data("wavert: \(error)\n".utf8))
        }
    }

    /// Every flag checked, each error naming the flag and what it accepts.
    private func plan() throws -> Plan {
        let ex = try MiniportChoice.resolve(example: example, miniport: miniport, hardware: hardware)
        let memory = try MiniportChoice.memory(fragmentMemory)
        let trace = try traceFlags.options()
        guard let clock = TimingScenario.Clock(rawValue: clock) else { throw ValidationError("--clock must be virtual or system; got '\(clock)'") }
        guard let resolution = Machine.TimerResolution(rawValue: timerResolution) else {
            throw ValidationError("--timer-resolution must be default or high; got '\(timerResolution)'")
        }
        if let n = notifications, !(0...2).contains(n) { throw ValidationError("--notifications must be 0, 1 or 2; got \(n)") }
        if bufferMs != nil && bufferFrames != nil { throw ValidationError("give --buffer-ms or --buffer-frames, not both") }
        if let ms = bufferMs, ms <= 0 { throw ValidationError("--buffer-ms must be positive; got \(ms)") }
        if let f = bufferFrames, f <= 0 { throw ValidationError("--buffer-frames must be positive; got \(f)") }
        guard duration > 0, duration.isFinite, duration <= 10 * 365 * 86_400 else {
            throw ValidationError("--duration must be a positive number of seconds (at most ten years); got \(duration)")
        }
        let streamFormat = try format.map(StreamFlags.parseFormat) ?? ex.format
        let count = notifications ?? ex.notificationCount
        let frames = bufferFrames
            ?? StreamSetup.frames(milliseconds: Double(bufferMs ?? ex.bufferMilliseconds), rate: streamFormat.sampleRate, notificationCount: count)
        if count > 0 && frames % count != 0 {
            throw ValidationError("--buffer-frames \(frames) is not a whole number of packets for \(count) notifications")
        }
        var setup = StreamSetup(hardware: ex.hardware, format: streamFormat, bufferFrames: frames, notificationCount: count,
                                mode: count == 0 ? .timer(periodNanoseconds: 0) : ex.packetMode ? .packet : .event)
        if count == 0 {
            // No notifications: the client polls twice a buffer, as the audio engine's timer mode does.
            let period = UInt64(frames) * 1_000_000_000 / UInt64(streamFormat.sampleRate) / 2
            setup.mode = .timer(periodNanoseconds: max(1_000_000, period))
        }
        do {
            if let dma {
                setup.dmaProfile = try DMAProfile.named(dma)
            } else {
                setup.dmaProfile = ex.dmaProfile
            }
        } catch {
            throw ValidationError("--dma: \(error)")
        }
        setup.faithfulFaults = faithfulFaults
        if coarsePosition {
            guard ex.hardware == .sg else {
                let sg = ExampleMiniport.all.filter { $0.hardware == .sg }.map(\.name).joined(separator: ", ")
                throw ValidationError("--coarse-position is for the sg device (examples \(sg)); \(ex.name) drives \(ex.hardware.rawValue)")
            }
            setup.coarsePosition = true
        }
        setup.timerResolution = resolution
        let scenario = TimingScenario(steps: TimingScenario.standardSteps(seconds: duration), clock: clock)
        return Plan(example: ex, setup: setup, scenario: scenario, memory: memory, trace: trace)
    }
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
