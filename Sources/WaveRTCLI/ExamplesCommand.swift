import ArgumentParser
import WaveRTDMA
import WaveRTExamples
import WaveRTPort
import WaveRTRunner

/// `wavert examples`: what can be played and recorded, on which hardware, in
/// which formats, and the DMA controller presets.
struct ExamplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "examples",
        abstract: "List the example miniports (hardware, formats, defaults) and the DMA controller presets.")

    func run() {
        print("Example miniports (--example NAME):")
        let nameWidth = ExampleMiniport.all.map(\.name.count).max() ?? 0
        let indent = "  " + pad("", nameWidth) + "  "
        for e in ExampleMiniport.all {
            let mode = e.packetMode ? "packet mode" : "event-driven"
            let capture = Self.records(e) ? "render and capture" : "render only"
            let dma = e.profileName ?? "\(e.hardware.defaultProfile.name) (the hardware's)"
            print("  \(pad(e.name, nameWidth))  \(e.summary)")
            print("\(indent)hardware \(e.hardware.rawValue), DMA \(dma); \(capture)")
            print("\(indent)formats: \(e.formats)")
            print("\(indent)defaults \(e.format.sampleRate):\(e.format.sampleFormat == .float32 ? "32f" : "\(e.format.sampleFormat.bits)"):\(e.format.channels), " +
                  "\(e.bufferMilliseconds) ms buffer, \(e.notificationCount) notifications, \(mode)")
        }
        print("")
        print("DMA controller presets (--dma NAME, or --dma PATH for a JSON profile):")
        let width = DMAProfile.presets.map(\.name.count).max() ?? 0
        for p in DMAProfile.presets {
            print("  \(pad(p.name, width))  \(p.summary)")
            print("  \(pad("", width))  \(p.limitsDescription)")
        }
    }

    /// Whether the miniport's filter has a capture pin with formats (`GetDescription`, as PortCls reads it).
    static func records(_ e: ExampleMiniport) -> Bool {
        guard case .success(let d) = e.make().getDescription() else { return false }
        return d.pins.contains { $0.ksPinDescriptor.dataFlow == .out && !$0.ksPinDescriptor.dataRanges.isEmpty }
    }

    private func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
}
