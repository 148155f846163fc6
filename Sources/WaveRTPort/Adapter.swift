import WaveRTDMA
import WaveRTEngine
import WaveRTHardware
import WaveRTKernel
import WaveRTMemory

/// The audio hardware a miniport drives, as the PnP manager would find it
/// on the emulated machine: one of three kinds, attached to the machine's
/// buses, with the resource list Init receives.
public enum HardwareKind: String, Sendable, CaseIterable, Codable {
    /// An Intel HD Audio controller (BAR0 16 KiB of MMIO, one PCI interrupt).
    case hda
    /// A Sound Blaster 16 at 0x220 on the 8237 DMA controllers (IRQ 5, DMA 1 and 5).
    case isa
    /// The project's generic scatter-gather bus master (BAR0 4 KiB, one PCI interrupt).
    case sg

    /// The DMA controller profile the hardware has by default.
    public var defaultProfile: DMAProfile {
        switch self {
        case .hda: .hda
        case .isa: .isa8237_16bit
        case .sg: .pcie64SG
        }
    }
}

/// An emulated adapter: its devices on a ``Machine`` and its resources.
public final class Adapter: @unchecked Sendable {
    public static let hdaBAR: PhysicalAddress = 0xFEB0_0000
    public static let sgBAR: PhysicalAddress = 0xFEB4_0000
    public static let hdaVector: UInt32 = 16
    public static let sgVector: UInt32 = 17

    public let kind: HardwareKind
    public let machine: Machine
    public let profile: DMAProfile
    public let resources: ResourceList
    public private(set) var hda: HDAController?
    public private(set) var isaDMA: ISADMAController?
    public private(set) var sb16: SoundBlaster16?
    public private(set) var sg: GenericBusMaster?
    public let speaker: (any AudioSink)?
    public let microphone: (any AudioSource)?
    /// Every DMA transfer of the adapter's devices goes past here (glitch monitors, traces attach).
    public let dmaObservers: DMAObserverHub
    private var finished = false

    /// - Parameters:
    ///   - profile: overrides the hardware's DMA controller profile (`--dma`).
    ///   - coarsePosition: an `sg` whose position register moves only at IOC (a timing-test variant).
    ///   - speaker, microphone: what the device plays into and records from.
    public init(kind: HardwareKind, machine: Machine, profile: DMAProfile? = nil, faithfulFaults: Bool = false,
                coarsePosition: Bool = false, speaker: (any AudioSink)? = nil, microphone: (any AudioSource)? = nil) throws(BusError)
    {
        self.kind = kind
        self.machine = machine
        self.profile = profile ?? kind.defaultProfile
        self.speaker = speaker
        self.microphone = microphone
        dmaObservers = DMAObserverHub(passGuard: machine.passGuard)
        let memory = machine.memory, timebase = machine.timebase, guardian = machine.passGuard
        switch kind {
        case .hda:
            let c = HDAController(memory: memory, timebase: timebase, passGuard: guardian, profile: self.profile,
                                  faithfulFaults: faithfulFaults, makeSink: { _ in speaker }, makeSource: { _ in microphone })
            try machine.bus.attach(c, at: .memory(base: Self.hdaBAR, length: c.size))
            machine.attach(device: c)
            hda = c
            resources = ResourceList(descriptors: [.memory(Self.hdaBAR, c.size), .interrupt(Self.hdaVector)],
                                     lines: [1: c.interruptLine])
        case .isa:
            let dma = ISADMAController(timebase: timebase)
            for (block, window) in dma.blocks { try machine.bus.attach(block, at: window) }
            let sb = SoundBlaster16(memory: memory, timebase: timebase, passGuard: guardian, isa: dma, profile: self.profile,
                                    faithfulFaults: faithfulFaults, sink: speaker, source: microphone)
            try machine.bus.attach(sb, at: .ports(base: SoundBlaster16.basePort, length: sb.size))
            machine.attach(device: sb)
            isaDMA = dma
            sb16 = sb
            resources = ResourceList(descriptors: [.port(SoundBlaster16.basePort, sb.size), .port(0x00, 0x10), .port(0xC0, 0x20),
                                                   .port(0x80, 0x10), .interrupt(UInt32(SoundBlaster16.irq)),
                                                   .dma(UInt32(SoundBlaster16.dma8)), .dma(UInt32(SoundBlaster16.dma16))],
                                     lines: [4: sb.interruptLine])
        case .sg:
            let d = GenericBusMaster(memory: memory, timebase: timebase, passGuard: guardian, profile: self.profile,
                                     faithfulFaults: faithfulFaults, coarsePosition: coarsePosition, sink: speaker, source: microphone)
            try machine.bus.attach(d, at: .memory(base: Self.sgBAR, length: d.size))
            machine.attach(device: d)
            sg = d
            resources = ResourceList(descriptors: [.memory(Self.sgBAR, d.size), .interrupt(Self.sgVector)], lines: [1: d.interruptLine])
        }
        for stream in dmaStreams {
            stream.observer = dmaObservers
            stream.trace = machine.trace
        }
    }

    /// Every DMA engine of the adapter.
    public var dmaStreams: [DMAStream] {
        (hda?.descriptors.map(\.dma) ?? []) + (sg?.channels.map(\.dma) ?? []) + (sb16.map { [$0.playback, $0.recording] } ?? [])
    }

    /// What the devices' DMA controllers met in faithful-fault mode (and use after free), per program now loaded.
    public var dmaFaults: [DMAFaultRecord] { dmaStreams.compactMap(\.program).flatMap(\.dma.faultRecords) }

    /// How the hardware was misprogrammed, in words ("hda: ... (3 times, last 0x..)").
    public var guestErrors: [String] {
        var out = hda?.errors.descriptions ?? []
        out += isaDMA?.errors.descriptions ?? []
        out += sb16?.errors.descriptions ?? []
        out += sg?.errors.descriptions ?? []
        for (name, error) in [("hda", hda?.lastProgramError), ("sg", sg?.lastProgramError), ("sb16", sb16?.lastProgramError)] {
            if let error { out.append("\(name): last refused DMA program: \(error)") }
        }
        for (name, faults) in [("hda", hda?.faults), ("sg", sg?.faults), ("sb16", sb16?.faults), ("8237", isaDMA?.faults)] {
            if let s = faults?.summary { out.append("\(name): \(s)") }
        }
        return out
    }

    /// Detaches the devices from the processor and finishes the speaker and microphone.
    public func shutdown() {
        guard !finished else { return }
        finished = true
        for device in [hda as (any TimedWork)?, sb16, sg].compactMap({ $0 }) { machine.detach(device: device) }
        speaker?.finish()
        microphone?.finish()
    }
}
