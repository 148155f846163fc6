import ArgumentParser
import Foundation
import Synchronization
import WaveRT
// The layers used here, imported directly (not only through the umbrella) so an
// incremental build recompiles this file when one of them changes.
import WaveRTALSA
import WaveRTDMA
import WaveRTEngine
import WaveRTExamples
import WaveRTPort
import WaveRTTiming

/// Set by SIGINT: the player stops cleanly (RUN -> STOP, drain, report).
let interrupted = Atomic<Bool>(false)

/// `wavert play`: hear an example miniport through ALSA. The flags are a
/// contract: scripts outside the project call them.
struct PlayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "play",
        abstract: "Play an example miniport through ALSA, in real time.",
        discussion: """
            Without a sound card the default device falls back to ALSA's file plugin and \
            writes wavert-output.wav, still paced in real time.
            """)

    @Option(help: "Example miniport (see 'wavert examples').") var example = "hda"
    @Option(help: "tone:HZ[:DBFS] or file:PATH.") var source = "tone:440:-12"
    @Option(help: "RATE:BITS:CHANNELS, BITS 16, 24, 32 or 32f (default 48000:16:2, or the file's).") var format: String?
    @Option(name: .customLong("buffer-ms"), help: "Cyclic buffer length in milliseconds.") var bufferMs: Int?
    @Option(help: "Notifications per buffer: 1 or 2.") var notifications: Int?
    @Option(help: "DMA controller preset or profile file (overrides the example's).") var dma: String?
    @Flag(name: .customLong("faithful-faults"), help: "Let the DMA do what silicon would instead of refusing bad programs.")
    var faithfulFaults = false
    @Option(help: "ALSA PCM name.") var device = "default"
    @Option(help: "system or device: who leads the clock.") var clock = "system"
    @Option(help: "Seconds to play (a tone plays until Ctrl-C without it, a file until it ends).") var duration: Double?
    @Option(help: "Write a JSON report here.") var report: String?

    func run() throws {
        guard let ex = ExampleMiniport.named(example) else {
            throw ValidationError("no example named '\(example)'; try: \(ExampleMiniport.all.map(\.name).joined(separator: ", "))")
        }
        guard let leader = Player.Clock(rawValue: clock) else { throw ValidationError("--clock must be system or device") }
        if let n = notifications, n != 1 && n != 2 { throw ValidationError("--notifications must be 1 or 2") }
        let (sampleSource, fileFormat) = try parseSource(source)
        let streamFormat = try format.map(parseFormat) ?? fileFormat ?? ex.format
        let profile: DMAProfile
        do { profile = try dma.map { try DMAProfile.named($0) } ?? ex.profile } catch { throw ValidationError("\(error)") }
        if let d = duration, d <= 0 { throw ValidationError("--duration must be positive") }

        signal(SIGINT) { _ in interrupted.store(true, ordering: .relaxed) }
        let options = Player.Options(
            exampleName: ex.name, makeMiniport: ex.make,
            session: SessionConfiguration(format: streamFormat, bufferMilliseconds: bufferMs ?? ex.bufferMilliseconds,
                                          notificationCount: notifications ?? ex.notificationCount, clientMode: ex.clientMode,
                                          dmaProfile: profile, faithfulFaults: faithfulFaults),
            source: sampleSource, device: device, clock: leader, duration: duration,
            stop: { interrupted.load(ordering: .relaxed) })
        let terminal = isatty(STDOUT_FILENO) == 1
        let result: Player.Report
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
        print("played \(result.framesPlayed) frames of \(ex.name) on \(result.device) in \(String(format: "%.2f", result.wallSeconds)) s: " +
              "\(result.glitches) glitches, \(result.xruns) xruns, \(result.framesLost) frames lost, \(result.dmaFaults) DMA faults")
        if let file = result.outputFile { print("output: \(file)") }
        if let path = report {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(result).write(to: URL(fileURLWithPath: path))
        }
    }

    /// tone:HZ[:DBFS] or file:PATH; for a file, its format too.
    private func parseSource(_ text: String) throws -> (any SampleSource, StreamFormat?) {
        if text.hasPrefix("tone:") {
            let parts = text.dropFirst(5).split(separator: ":")
            guard (1...2).contains(parts.count), let hz = Double(parts[0]), hz > 0,
                  parts.count == 1 || Double(parts[1]) != nil
            else { throw ValidationError("--source tone:HZ[:DBFS], e.g. tone:440:-12; got '\(text)'") }
            return (ToneGenerator(frequency: hz, levelDBFS: parts.count == 2 ? Double(parts[1])! : -12), nil)
        }
        if text.hasPrefix("file:") {
            let path = String(text.dropFirst(5))
            do {
                let file = try AudioFileSource(path: path)
                let f = try StreamFormat(sampleRate: file.sampleRate, channels: file.channels,
                                         sampleFormat: file.fileSampleFormat ?? .int16)
                return (file, f)
            } catch {
                throw ValidationError("\(error)")
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
        guard let bits = Int(parts[1].dropLast(float ? 1 : 0)) else { throw ValidationError("bad BITS in --format '\(text)'") }
        do { return try StreamFormat(sampleRate: rate, bitsPerSample: bits, channels: channels, float: float) } catch {
            throw ValidationError("\(error)")
        }
    }
}
