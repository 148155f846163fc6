import ArgumentParser

/// `wavert`: the command-line face of the emulator.
@main
struct WaveRTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wavert",
        abstract: "A virtual WaveRT audio device: run a WaveRT miniport's logic in user space, hear it, time it.",
        subcommands: [TimingCommand.self],  // play and examples: on the runner's branch
    )

    func run() throws {
        print(Self.helpMessage())
    }
}
