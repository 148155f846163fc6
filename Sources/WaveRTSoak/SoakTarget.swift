import WaveRTDMA
import WaveRTExamples
import WaveRTPort
import WaveRTSDK

/// What a soak runs: a miniport (made once per run: the port keeps it for the
/// whole run and only its pins come and go), the hardware it drives, and how
/// its reported position relates to that hardware.
public struct SoakTarget: Sendable {
    /// Where a miniport's KSPROPERTY_AUDIO_POSITION comes from, so the soak can
    /// compute, from the device's own timing, what it must be at any instant.
    public enum PositionSource: Sendable, Hashable {
        /// The link position (the DAC's frame): HD Audio's LPIB, the `sg`
        /// device's POSITION. Exact, modulo the buffer.
        case link
        /// The DMA fetch position (what the bus master has read, FIFO
        /// included): the 8237's count on ISA. Exact, modulo the buffer.
        case fetch
        /// A clock of the driver's own, not a register (SYSVAD's timer): it may
        /// lag the link by up to `granularityNanoseconds` (it moves in steps),
        /// and lead it by one frame for each RUN since STOP (the link drops the
        /// part of a frame it was in at each PAUSE; a clock does not).
        case clock(granularityNanoseconds: UInt64)
    }

    /// The name the summary and the replay command use.
    public var name: String
    public var hardware: HardwareKind
    /// The hardware's DMA profile when not its default.
    public var dmaProfile: DMAProfile?
    public var position: PositionSource
    /// Its render pin does packet mode: the client then always asks for two
    /// notifications (one packet a buffer leaves the device nothing announced to fetch).
    public var packetMode: Bool
    /// A deliberately buggy example: what the checks find is reported as its
    /// findings, not counted as failures.
    public var knownBuggy: Bool
    /// The command-line arguments that select this target (for the replay line).
    public var arguments: [String]
    /// Makes the miniport for a run.
    public var make: @Sendable () -> any MiniportWaveRT
    /// The miniport's crash, if it crashed (C++ miniports: the crash guard's report).
    public var crash: @Sendable () -> String?

    public init(name: String, hardware: HardwareKind, dmaProfile: DMAProfile? = nil, position: PositionSource, packetMode: Bool,
                knownBuggy: Bool = false, arguments: [String], make: @escaping @Sendable () -> any MiniportWaveRT,
                crash: @escaping @Sendable () -> String? = { nil })
    {
        self.name = name
        self.hardware = hardware
        self.dmaProfile = dmaProfile
        self.position = position
        self.packetMode = packetMode
        self.knownBuggy = knownBuggy
        self.arguments = arguments
        self.make = make
        self.crash = crash
    }

    /// The position source of a miniport that reads its hardware's position register.
    public static func registerPosition(of hardware: HardwareKind) -> PositionSource {
        hardware == .isa ? .fetch : .link
    }

    /// An example miniport (`wavert examples`). `sysvad` reports a 1 ms clock
    /// (SYSVAD has no hardware position); the others read their device. The
    /// `buggy-*` examples and `sysvad` (SYSVAD's flaws, kept on purpose: its
    /// carries survive STOP, so after a restart its first notification comes
    /// early and its position leads) are known-buggy: findings, not failures.
    public static func example(_ example: ExampleMiniport) -> SoakTarget {
        SoakTarget(name: example.name, hardware: example.hardware,
                   dmaProfile: example.profileName.flatMap { DMAProfile.preset(named: $0) },
                   position: example.name == "sysvad" ? .clock(granularityNanoseconds: 1_000_000) : registerPosition(of: example.hardware),
                   packetMode: example.packetMode, knownBuggy: example.name.hasPrefix("buggy-") || example.name == "sysvad",
                   arguments: ["--example", example.name], make: example.make)
    }

    /// A C++ miniport library built with `wavert sdk build`: each run makes a
    /// fresh miniport from it; the soak keeps only its crash monitor, so the
    /// port's leak checks see the C++ object go at unload.
    public static func library(path: String, hardware: HardwareKind? = nil) throws(CxxMiniportError) -> SoakTarget {
        let library = try CxxMiniportLibrary.open(path: path)
        let kind = hardware ?? library.declaredHardware ?? .hda
        let monitor = CxxMiniportMonitor()
        return SoakTarget(name: path, hardware: kind, position: registerPosition(of: kind), packetMode: false,
                          arguments: ["--miniport", path] + (hardware.map { ["--hardware", $0.rawValue] } ?? []),
                          make: { library.makeMiniport(hardware: kind, monitor: monitor) },
                          crash: { monitor.crash?.description })
    }
}
