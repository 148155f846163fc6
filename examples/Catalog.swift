import WaveRTDMA
import WaveRTEngine
import WaveRTPort

/// The example miniports, with the controller and defaults each is meant for:
/// what `wavert examples` lists and `--example NAME` picks.
public struct ExampleMiniport: Sendable {
    public let name: String
    public let summary: String
    /// The DMA controller the example's hardware has (`--dma` overrides it).
    public let profile: DMAProfile
    public let format: StreamFormat
    public let bufferMilliseconds: Int
    public let notificationCount: Int
    /// How the audio engine feeds it.
    public let clientMode: AudioEngineClient.Mode
    public let make: @Sendable () -> any MiniportWaveRT

    public static let all: [ExampleMiniport] = [
        ExampleMiniport(name: "simple", summary: "64-bit scatter-gather, pages anywhere, two notifications per buffer",
                        profile: .pcie64SG, format: .cd48k, bufferMilliseconds: 10, notificationCount: 2,
                        clientMode: .eventDriven, make: { SimpleMiniport() }),
        ExampleMiniport(name: "hda", summary: "HD Audio: BDL from GetPhysicalPageAddress, pages below 4 GiB, LPIB, packet mode",
                        profile: .hda, format: .cd48k, bufferMilliseconds: 10, notificationCount: 2,
                        clientMode: .packet, make: { HDAMiniport() }),
        ExampleMiniport(name: "isa", summary: "8237 ISA DMA: contiguous below 16 MiB inside a 64 KiB window, smaller buffer when fragmented",
                        profile: .isa8237_8bit, format: .cd48k, bufferMilliseconds: 20, notificationCount: 2,
                        clientMode: .eventDriven, make: { ISAMiniport() }),
        ExampleMiniport(name: "buggy-highmem", summary: "BUG: pages anywhere for a 32-bit controller (try --faithful-faults)",
                        profile: .pci32SG, format: .cd48k, bufferMilliseconds: 10, notificationCount: 2,
                        clientMode: .eventDriven, make: { BuggyHighMemoryMiniport() }),
        ExampleMiniport(name: "buggy-partial", summary: "BUG: ignores a partial AllocatePagesForMdl (shows on fragmented memory)",
                        profile: .pci32SG, format: .cd48k, bufferMilliseconds: 10, notificationCount: 2,
                        clientMode: .eventDriven, make: { BuggyPartialMiniport() }),
    ]

    public static func named(_ name: String) -> ExampleMiniport? { all.first { $0.name == name } }
}
