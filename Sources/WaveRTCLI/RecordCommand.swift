import ArgumentParser
import Foundation
import WaveRTExamples
import WaveRTRunner

/// `wavert record`: an ALSA capture PCM into an example miniport's capture
/// stream, and what its client reads into a WAV file.
struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record through an example miniport's capture stream from ALSA, in real time.",
        discussion: """
            ALSA's capture PCM feeds the device's input FIFO, the miniport's emulated hardware \
            writes it by DMA into the cyclic buffer, and the client reads it from there into \
            the WAV file. hda, isa and simple record. Without a sound card the default device \
            falls back to wavert's embedded input (silence through ALSA's file plugin); \
            --device wavert_input:FILE=PATH records the raw samples of a file in the stream's \
            format. SIGINT, SIGTERM and SIGHUP stop cleanly (WAV finished, report written); a \
            second one exits at once with 128 + its number. A run the driver verifier found \
            fault with, or in which the miniport crashed, exits 1.
            """)

    @OptionGroup var stream: StreamFlags
    @Option(help: "ALSA capture PCM name, from your ALSA configuration (ALSA_CONFIG_PATH, ~/.asoundrc, ...).")
    var device = "default"
    @Option(help: "The WAV file to write.") var output: String
    @OptionGroup var alsa: RunFlags
    @OptionGroup var traceFlags: TraceFlags

    func validate() throws {
        let ex = try stream.resolvedMiniport()
        _ = try alsa.check()
        _ = try traceFlags.options()
        _ = try stream.setup(for: ex, capture: true)
        guard !output.isEmpty else { throw ValidationError("--output needs a path for the WAV file") }
    }

    func run() throws {
        let ex = try stream.resolvedMiniport()
        let clock = try alsa.check()
        let setup = try stream.setup(for: ex, capture: true)
        try RunOutput.installStopSignals()
        let options = Recorder.Options(miniport: ex, setup: setup, output: output, device: device, clock: clock,
                                       duration: alsa.duration, alsaLatencyMilliseconds: alsa.latencyMs, alsaPeriods: alsa.periods,
                                       memory: try stream.memory(), trace: try traceFlags.options(),
                                       stop: { RunOutput.stopRequested })
        var result: Recorder.Report
        do {
            result = try Recorder.record(options, say: { print($0) }, status: RunOutput.terminal ? { s in
                RunOutput.status(String(format: "%7.2f s  recorded %10llu  glitches %llu  xruns %llu  silence %llu",
                                        s.seconds, s.framesRecorded, s.glitches, s.xruns, s.silenceFrames))
            } : nil)
        } catch {
            throw RunOutput.fail(error)
        }
        RunOutput.endStatusLine()
        if let stopped = RunOutput.stopNote {
            result.notes.append(stopped)
            print(stopped)
        }
        print("recorded \(result.framesRecorded) frames through \(ex.name) from \(result.device) in \(String(format: "%.2f", result.wallSeconds)) s: " +
              "\(result.glitches) glitches, \(result.xruns) xruns, \(result.silenceFrames) frames of silence, \(result.framesLost) frames lost, " +
              "\(result.dmaFaults) DMA faults; ALSA buffer \(result.alsaBufferFrames) frames in periods of \(result.alsaPeriodFrames)")
        print("output: \(result.output)")
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
}
