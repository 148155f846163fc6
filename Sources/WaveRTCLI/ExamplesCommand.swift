import ArgumentParser
import WaveRT

/// `wavert examples`: what can be played and on which controllers.
struct ExamplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "examples",
        abstract: "List the example miniports and the DMA controller presets.")

    func run() {
        print("DMA controller presets (--dma NAME, or --dma PATH for a JSON profile):")
        let width = DMAProfile.presets.map(\.name.count).max() ?? 0
        for p in DMAProfile.presets {
            print("  \(p.name + String(repeating: " ", count: width - p.name.count))  \(p.summary)")
            print("  \(String(repeating: " ", count: width))  \(p.limitsDescription)")
        }
    }
}
