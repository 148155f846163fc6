import ArgumentParser
import CALSA
import WaveRTRunner

/// `wavert`: the command-line face of the emulator.
@main
struct WaveRTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wavert",
        abstract: "A virtual WaveRT audio device: run a WaveRT miniport's logic in user space, hear it, time it.",
        version: "wavert \(waveRTVersion) (libasound \(String(cString: snd_asoundlib_version())))",
        subcommands: [PlayCommand.self, RecordCommand.self, TimingCommand.self, SoakCommand.self, ExamplesCommand.self, SDKCommand.self, FuzzCommand.self],
    )

    func run() throws {
        print(Self.helpMessage())
    }
}
