import ArgumentParser
import CWaveRTShim
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

/// `wavert play`: hear an example miniport through ALSA. The flags are a
/// contract: scripts outside the project call them.
struct PlayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "play",
        abstract: "Play an example miniport through ALSA, in real time.",
        discussion: """
            Without a sound card the default device falls back to ALSA's file plugin and \
            writes wavert-output.wav, still paced in real time. SIGINT, SIGTERM and SIGHUP \
            stop cleanly (drained, WAV finished, report written); a second one exits at once.
            """)

    @Option(help: "Example miniport (see 'wavert examples').") var example = "hda"
    @Option(help: "tone:HZ[:DBFS] (DBFS at most 0) or file:PATH.") var source = "tone:440:-12"
    @Option(help: "RATE:BITS:CHANNELS, BITS 16, 24, 32 or 32f (default 48000:16:2, or the file's).") var format: String?
    @Option(name: .customLong("buffer-ms"), help: "Cyclic buffer length in milliseconds.") var bufferMs: Int?
    @Option(help: "Notifications per buffer: 1 or 2.") var notifications: Int?
    @Option(help: "DMA controller preset or profile file (overrides the example's).") var dma: String?
    @Flag(name: .customLong("faithful-faults"), help: "Let the DMA do what silicon would instead of refusing bad programs.")
    var faithfulFaults = false
    @Option(help: "ALSA PCM name, from your ALSA configuration (ALSA_CONFIG_PATH, ~/.asoundrc, ...).") var device = "default"
    @Option(help: "system or device: who leads the clock.") var clock = "system"
    @Option(help: "Seconds to play: exactly round(SECONDS x rate) frames (a tone plays until stopped without it, a file until it ends).")
    var duration: Double?
    @Option(name: .customLong("latency-ms"), help: "ALSA buffer in milliseconds (the report says what ALSA granted).")
    var latencyMs = 80
    @Option(help: "Periods in the ALSA buffer.") var periods = 4
    @Option(help: "Write a JSON report here.") var report: String?

    /// What the flags ask for, checked.
    struct Plan {
        var example: ExampleMiniport
        var clock: Player.Clock
        var source: any SampleSource
        var format: StreamFormat
        var profile: DMAProfile
    }

    /// Runs before run(), so a mistake is reported with this subcommand's usage.
    func validate() throws {
        _ = try plan()
    }

    func run() throws {
        let plan = try plan()
        let ex = plan.example
        let status = wrt_install_stop_signals()
        if status != 0 { throw ValidationError("cannot install the stop signal handlers: \(String(cString: strerror(status)))") }
        let options = Player.Options(
            exampleName: ex.name, makeMiniport: ex.make,
            session: SessionConfiguration(format: plan.format, bufferMilliseconds: bufferMs ?? ex.bufferMilliseconds,
                                          notificationCount: notifications ?? ex.notificationCount, clientMode: ex.clientMode,
                                          dmaProfile: plan.profile, faithfulFaults: faithfulFaults),
            source: plan.source, device: device, clock: plan.clock, duration: duration,
            alsaLatencyMilliseconds: latencyMs, alsaPeriods: periods,
            stop: { wrt_stop_signal() != 0 })
        let terminal = isatty(STDOUT_FILENO) == 1
        var result: Player.Report
        do {
            result = try Player.play(options, say: { print($0) }, status: terminal ? { s in
                let fill = s.bufferFill.map { "\($0) frames" } ?? "-"
                print(String(format: "\r%7.2f s  position %10llu  glitches %llu  xruns %llu  ALSA fill %@   ",
                             s.seconds, s.position, s.glitches, s.xruns, fill), terminator: "")
                fflush(nil)
            } : nil)
        } catch {
            if terminal { print("") }
            FileHandle.standardError.write(Data("wavert: \(error)\n".utf8))
            throw ExitCode.failure
        }
        if terminal { print("") }
        let signo = wrt_stop_signal()
        if signo != 0 {
            let name = [SIGINT: "SIGINT", SIGTERM: "SIGTERM", SIGHUP: "SIGHUP"][signo] ?? "signal \(signo)"
            result.notes.append("wavert: stopped by \(name)")
            print("wavert: stopped by \(name)")
        }
        print("played \(result.framesPlayed) frames of \(ex.name) on \(result.device) in \(String(format: "%.2f", result.wallSeconds)) s: " +
              "\(result.glitches) glitches, \(result.xruns) xruns, \(result.framesLost) frames lost, \(result.dmaFaults) DMA faults; " +
              "ALSA buffer \(result.alsaBufferFrames) frames in periods of \(result.alsaPeriodFrames)")
        if let file = result.outputFile { print("output: \(file)") }
        if let path = report {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(result).write(to: URL(fileURLWithPath: path))
        }
    }

    /// Every flag checked, each error naming the flag and what it accepts.
    private func plan() throws -> Plan {
        guard let ex = ExampleMiniport.named(example) else {
            throw ValidationError("no example named '\(example)'; try: \(ExampleMiniport.all.map(\.name).joined(separator: ", "))")
        }
        guard let leader = Player.Clock(rawValue: clock) else { throw ValidationError("--clock must be system or device; got '\(clock)'") }
        if let n = notifications, n != 1 && n != 2 { throw ValidationError("--notifications must be 1 or 2; got \(n)") }
        if let ms = bufferMs, ms <= 0 { throw ValidationError("--buffer-ms must be positive; got \(ms)") }
        if let d = duration, !(d > 0 && d.isFinite) { throw ValidationError("--duration must be a positive number of seconds; got \(d)") }
        guard (1...10_000).contains(latencyMs) else { throw ValidationError("--latency-ms must be 1 to 10000; got \(latencyMs)") }
        guard (2...64).contains(periods) else { throw ValidationError("--periods must be 2 to 64; got \(periods)") }
        let (sampleSource, fileFormat) = try parseSource(source)
        let streamFormat = try format.map(parseFormat) ?? fileFormat ?? ex.format
        let profile: DMAProfile
        do { profile = try dma.map { try DMAProfile.named($0) } ?? ex.profile } catch { throw ValidationError("--dma: \(error)") }
        return Plan(example: ex, clock: leader, source: sampleSource, format: streamFormat, profile: profile)
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

    private func parseFormat(_ text: String) throws -> StreamFormat {
        let parts = text.split(separator: ":")
        guard parts.count == 3, let rate = Int(parts[0]), let channels = Int(parts[2]) else {
            throw ValidationError("--format RATE:BITS:CHANNELS, e.g. 48000:16:2; got '\(text)'")
        }
        let float = parts[1].hasSuffix("f")
        guard let bits = Int(parts[1].dropLast(float ? 1 : 0)) else { throw ValidationError("bad BITS in --format '\(text)'; use 16, 24, 32 or 32f") }
        do { return try StreamFormat(sampleRate: rate, bitsPerSample: bits, channels: channels, float: float) } catch {
            throw ValidationError("--format '\(text)': \(error)")
        }
    }
}
