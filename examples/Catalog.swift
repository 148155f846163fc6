import WaveRTEngine
import WaveRTPort

/// The example miniports, with the hardware each drives and its defaults:
/// what `wavert examples` lists and `--example NAME` picks.
public struct ExampleMiniport: Sendable {
    public let name: String
    public let summary: String
    /// The adapter the driver is written for.
    public let hardware: HardwareKind
    /// A DMA profile other than the hardware's default (a preset name), if the example needs one.
    public let profileName: String?
    /// Defaults for a run.
    public let format: StreamFormat
    public let bufferMilliseconds: Int
    public let notificationCount: Int
    /// Whether its render stream does packet mode (IMiniportWaveRTOutputStream).
    public let packetMode: Bool
    /// What the hardware cannot play, in words (shown when a format is refused).
    public let formats: String
    public let make: @Sendable () -> any MiniportWaveRT

    public static let all: [ExampleMiniport] = [
        ExampleMiniport(name: "simple", summary: "generic scatter-gather bus master: pages anywhere it reaches, IOC per packet, events",
                        hardware: .sg, profileName: nil, format: .cd48k, bufferMilliseconds: 10, notificationCount: 2, packetMode: false,
                        formats: "16-, 24-, 32-bit integer and 32-bit float, 1-32 channels, 8-384 kHz", make: { SimpleMiniport() }),
        ExampleMiniport(name: "hda", summary: "Intel HD Audio: BDL with IOC, ISR and DPC, LPIB position register, packet mode",
                        hardware: .hda, profileName: nil, format: .cd48k, bufferMilliseconds: 10, notificationCount: 2, packetMode: true,
                        formats: "16- or 32-bit integer (HD Audio puts 24-bit samples in 32-bit containers; packed 24-bit and float are not accepted), 1-8 channels, rates SDnFMT can express from 8 to 192 kHz",
                        make: { HDAMiniport() }),
        ExampleMiniport(name: "isa", summary: "Sound Blaster 16 on the 8237: contiguous below 16 MiB in one 128 KiB page, DSP block IRQs",
                        hardware: .isa, profileName: nil, format: try! StreamFormat(sampleRate: 44_100, channels: 2, sampleFormat: .int16),
                        bufferMilliseconds: 40, notificationCount: 2, packetMode: false,
                        formats: "16-bit integer, mono or stereo, 5000-44100 Hz (what the SB16 DSP plays)", make: { ISAMiniport() }),
        ExampleMiniport(name: "sysvad", summary: "SYSVAD's stream logic: 1 ms timer, integer-ms position and notifications (known flaws)",
                        hardware: .sg, profileName: nil, format: .cd48k, bufferMilliseconds: 10, notificationCount: 2, packetMode: true,
                        formats: "16-bit stereo, 24-96 kHz (SYSVAD's speaker)", make: { SysvadMiniport() }),
        ExampleMiniport(name: "buggy-highmem", summary: "BUG: ignores the device's 32-bit limit (try --faithful-faults)",
                        hardware: .sg, profileName: "pci32-sg", format: .cd48k, bufferMilliseconds: 10, notificationCount: 2, packetMode: false,
                        formats: "as simple", make: { BuggyHighMemoryMiniport() }),
        ExampleMiniport(name: "buggy-partial", summary: "BUG: ignores a partial AllocatePagesForMdl (try --fragment-memory scarce --buffer-ms 200)",
                        hardware: .sg, profileName: "pci32-sg", format: .cd48k, bufferMilliseconds: 10, notificationCount: 2, packetMode: false,
                        formats: "as simple", make: { BuggyPartialMiniport() }),
        ExampleMiniport(name: "buggy-no-ioc", summary: "BUG: BDL without IOC: no interrupts, no notifications",
                        hardware: .hda, profileName: nil, format: .cd48k, bufferMilliseconds: 10, notificationCount: 2, packetMode: false,
                        formats: "as hda", make: { BuggyNoIOCMiniport() }),
        ExampleMiniport(name: "buggy-cumulative-position", summary: "BUG: GetPosition returns the linear byte count, not the offset",
                        hardware: .hda, profileName: nil, format: .cd48k, bufferMilliseconds: 10, notificationCount: 2, packetMode: false,
                        formats: "as hda", make: { BuggyCumulativePositionMiniport() }),
        ExampleMiniport(name: "buggy-wrong-fmt", summary: "BUG: programs SDnFMT for 44.1 kHz on a 48 kHz stream (plays 8 % low)",
                        hardware: .hda, profileName: nil, format: .cd48k, bufferMilliseconds: 10, notificationCount: 2, packetMode: false,
                        formats: "as hda", make: { BuggyWrongFormatMiniport() }),
        ExampleMiniport(name: "buggy-passive-in-dpc", summary: "BUG: calls a PASSIVE_LEVEL DDI from its DPC (verifier: IrqlTooHigh)",
                        hardware: .sg, profileName: nil, format: .cd48k, bufferMilliseconds: 10, notificationCount: 2, packetMode: false,
                        formats: "as simple", make: { BuggyPassiveInDpcMiniport() }),
    ]

    public static func named(_ name: String) -> ExampleMiniport? { all.first { $0.name == name } }
}
