import ArgumentParser
import WaveRT

/// `wavert timing`: runs the timing suite against an example miniport.
struct TimingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "timing", abstract: "Run the timing suite on an example miniport.")
    func run() throws {}
}
