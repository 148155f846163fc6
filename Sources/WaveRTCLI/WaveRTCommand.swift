import ArgumentParser
import CALSA
import WaveRT
// The layers used here, imported directly (not only through the umbrella) so an
// incremental build recompiles this file when one of them changes.
import WaveRTALSA
import WaveRTDMA
import WaveRTEngine
import WaveRTExamples
import WaveRTPort
import WaveRTTiming

/// `wavert`: the command-line face of the emulator.
@main
struct WaveRTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wavert",
        abstract: "A virtual WaveRT audio device: run a WaveRT miniport's logic in user space, hear it, time it.",
        version: "wavert \(waveRTVersion) (libasound \(String(cString: snd_asoundlib_version())))",
        subcommands: [PlayCommand.self, TimingCommand.self, ExamplesCommand.self, SDKCommand.self],
    )

    func run() throws {
        print(Self.helpMessage())
    }
}
