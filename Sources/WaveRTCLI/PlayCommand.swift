import ArgumentParser
import Foundation
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTRunner

/// `wavert play`: hear an example miniport through ALSA. The flags are a
/// contract: scripts outside the project call them.
struct PlayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "play",
        abstract: "Play an example miniport (or a C++ one, --miniport) through ALSA, in real time.",
        discussion: """
            The client writes the source into the miniport's cyclic buffer, the miniport's \
            emulated hardware moves it by DMA into the device's output FIFO, and ALSA plays \
            what comes out. Without a sound card the default device falls back to ALSA's file \
            plugin and writes wavert-output.wav, still paced in real time. SIGINT, SIGTERM and \
            SIGHUP stop cleanly (drained, WAV finished, report written); a second one exits at \
            once with 128 + its number. Underruns and suspends are recovered (counted in the \
            report); a device that vanishes mid-play ends the run cleanly (WAV finished, report \
            written with the error and the frames lost) and exits 1. A run the driver verifier found fault with, or in which \
            the miniport crashed (its report on stderr), exits 1.
            """)

    @OptionGroup var stream: StreamFlags
    @Option(help: "tone:HZ[:DBFS] (DBFS at most 0) or file:PATH.") var source = "tone:440:-12"
    @Option(help: "ALSA PCM name, from your ALSA configuration (ALSA_CONFIG_PATH, ~/.asoundrc, ...).") var device = "default"
    @OptionGroup var alsa: RunFlags
    @OptionGroup var traceFlags: TraceFlags

    /// What the flags ask for, checked.
    struct Plan {
        var miniport: RunMiniport
        var setup: StreamSetup
        var clock: RunClock
        var source: any SampleSource
    }

    /// Runs before run(), so a mistake is reported with this subcommand's usage.
    func validate() throws {
        _ = try plan()
    }

    func run() throws {
        let plan = try plan()
        try RunOutput.installStopSignals()
        let options = Player.Options(miniport: plan.miniport, setup: plan.setup, source: plan.source, device: device,
                                     clock: plan.clock, duration: alsa.duration, alsaLatencyMilliseconds: alsa.latencyMs,
                                     alsaPeriods: alsa.periods, memory: try stream.memory(), trace: try traceFlags.options(),
                                     stop: { RunOutput.stopRequested })
        var result: Player.Report
        do {
            result = try Player.play(options, say: { print($0) }, status: RunOutput.terminal ? { s in
                let fill = s.bufferFill.map { "\($0) frames" } ?? "-"
                RunOutput.status(String(format: "%7.2f s  played %10llu  glitches %llu  xruns %llu  ALSA fill %@",
                                        s.seconds, s.framesPlayed, s.glitches, s.xruns, fill))
            } : nil)
        } catch {
            throw RunOutput.fail(error)
        }
        RunOutput.endStatusLine()
        if let stopped = RunOutput.stopNote {
            result.notes.append(stopped)
            print(stopped)
        }
        print("played \(result.framesPlayed) frames of \(plan.miniport.name) on \(result.device) in \(String(format: "%.2f", result.wallSeconds)) s: " +
              "\(result.glitches) glitches, \(result.xruns) xruns, \(result.framesLost) frames lost, \(result.dmaFaults) DMA faults; " +
              "ALSA buffer \(result.alsaBufferFrames) frames in periods of \(result.alsaPeriodFrames)")
        if let file = result.outputFile { print("output: \(file)") }
        RunOutput.noteTrace(result.trace, dropped: result.traceDropped)
        RunOutput.warn(guestErrors: result.guestErrors, leaks: result.leaks)
        try RunOutput.write(result, to: alsa.report)
        if let failed = result.deviceError {
            // Everything is written (WAV finished, report); the run still failed.
            FileHandle.standardError.write(Data("wavert: \(failed)\n".utf8))
            try? RunOutput.verdict(result.verifier, crash: result.crash)
            throw ExitCode.failure
        }
        try RunOutput.verdict(result.verifier, crash: result.crash)
    }

    /// Every flag checked, each error naming the flag and what it accepts.
    private func plan() throws -> Plan {
        let ex = try stream.resolvedMiniport()
        let clock = try alsa.check()
        _ = try traceFlags.options()
        let (sampleSource, fileFormat) = try parseSource(source)
        let setup = try stream.setup(for: ex, fallbackFormat: fileFormat, capture: false)
        if let file = fileFormat, file.sampleRate != setup.format.sampleRate {
            throw ValidationError("--source '\(source)' is at \(file.sampleRate) Hz but --format asks for \(setup.format.sampleRate) Hz; play it at the file's rate or resample it first")
        }
        return Plan(miniport: ex, setup: setup, clock: clock, source: sampleSource)
    }

    /// tone:HZ[:DBFS] or file:PATH; for a file, its format too.
    private func parseSource(_ text: String) throws -> (any SampleSource, StreamFormat?) {
        if text.hasPrefix("tone:") {
            let parts = text.dropFirst(5).split(separator: ":", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), let hz = Double(parts[0]), hz > 0, hz.isFinite,
                  parts.count == 1 || Double(parts[1]) != nil
            else { throw ValidationError("--source tone:HZ[:DBFS], e.g. tone:440:-12; got '\(text)'") }
            let level = parts.count == 2 ? Double(parts[1])! : -12
            guard level <= 0 else {
                throw ValidationError("--source '\(text)': a tone level of \(parts[1]) dBFS is above full scale; use 0 dBFS or less, e.g. tone:\(parts[0]):-12")
            }
            return (ToneGenerator(frequency: hz, levelDBFS: level), nil)
        }
        if text.hasPrefix("file:") {
            let path = String(text.dropFirst(5))
            do {
                let file = try AudioFileSource(path: path)
                let f = try StreamFormat(sampleRate: file.sampleRate, channels: file.channels,
                                         sampleFormat: file.fileSampleFormat ?? .int16)
                return (file, f)
            } catch {
                throw ValidationError("--source: \(error)")
            }
        }
        throw ValidationError("--source must be tone:HZ[:DBFS] or file:PATH; got '\(text)'")
    }
}
