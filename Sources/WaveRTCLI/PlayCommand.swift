import ArgumentParser
import WaveRT

/// `wavert play`: filled in by issue 6.
struct PlayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "play", abstract: "Play an example miniport through ALSA.")
    func run() throws {}
}
