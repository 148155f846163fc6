import ArgumentParser
import WaveRT
// The layers used here, imported directly (not only through the umbrella) so an
// incremental build recompiles this file when one of them changes.
import WaveRTALSA
import WaveRTDMA
import WaveRTEngine
import WaveRTExamples
import WaveRTPort
import WaveRTTiming

/// `wavert examples`: what can be played and on which controllers.
struct ExamplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "examples",
        abstract: "List the example miniports and the DMA controller presets.")

    func run() {
        print("Example miniports (--example NAME):")
        let nameWidth = ExampleMiniport.all.map(\.name.count).max() ?? 0
        for e in ExampleMiniport.all {
            let mode = switch e.clientMode {
            case .eventDriven: "event-driven"
            case .packet: "packet mode"
            case .timerDriven: "timer-driven"
            }
            print("  \(pad(e.name, nameWidth))  \(e.summary)")
            print("  \(pad("", nameWidth))  DMA \(e.profile.name); defaults \(e.format.sampleRate):\(e.format.sampleFormat.bits):\(e.format.channels), \(e.bufferMilliseconds) ms buffer, \(e.notificationCount) notifications, \(mode)")
        }
        print("")
        print("DMA controller presets (--dma NAME, or --dma PATH for a JSON profile):")
        let width = DMAProfile.presets.map(\.name.count).max() ?? 0
        for p in DMAProfile.presets {
            print("  \(pad(p.name, width))  \(p.summary)")
            print("  \(pad("", width))  \(p.limitsDescription)")
        }
    }

    private func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
}
