import Synchronization
import WaveRTDMA
import WaveRTEngine
import WaveRTMemory

/// The emulated adapter behind a miniport: the machine's physical memory, the
/// kind of DMA controller the adapter has, the buffer engine that is its clock,
/// and where its output goes. A miniport reaches it through its port
/// (``SimulatedPortWaveRT/device``), the way a real miniport reaches its
/// hardware through the resources PortCls hands it.
public final class EmulatedAudioDevice: @unchecked Sendable {
    public let memory: PhysicalMemory
    public let engine: AudioEngine
    /// The controller model every stream of this adapter gets.
    public let dmaProfile: DMAProfile
    /// Whether the controllers do what silicon would instead of refusing a bad program.
    public let faithfulFaults: Bool
    /// Shared with the memory manager: every DDI misuse and hardware refusal lands here.
    public var diagnostics: DiagnosticLog { memory.diagnostics }
    private let makeSink: @Sendable (StreamFormat) -> any AudioSink
    private let hardware = Mutex<[ObjectIdentifier: EngineStream]>([:])
    private let controllers = Mutex<[DMAController]>([])

    public var timebase: any Timebase { engine.timebase }

    public init(memory: PhysicalMemory, engine: AudioEngine, dmaProfile: DMAProfile, faithfulFaults: Bool = false,
                sink: @escaping @Sendable (StreamFormat) -> any AudioSink = { _ in NullSink() })
    {
        self.memory = memory
        self.engine = engine
        self.dmaProfile = dmaProfile
        self.faithfulFaults = faithfulFaults
        self.makeSink = sink
    }

    /// The adapter's DMA engine for one stream (its stream descriptor registers).
    public func makeDMAController() -> DMAController {
        let dma = DMAController(profile: dmaProfile, memory: memory, faithfulFaults: faithfulFaults)
        controllers.withLock { $0.append(dma) }
        return dma
    }

    /// Starts serving a programmed stream: from now on the buffer engine moves its
    /// DMA, position and notifications. What "the hardware" is for the port's stream.
    public func attachHardwareStream(for portStream: SimulatedPortWaveRTStream,
                                     configuration: EngineStream.Configuration,
                                     dma: DMAController) throws(EngineError) -> EngineStream
    {
        let sink = configuration.direction == .render ? makeSink(configuration.format) : nil
        let source: (any AudioSource)? = configuration.direction == .capture ? SilenceSource() : nil
        let stream = try EngineStream(configuration: configuration, dma: dma, timebase: engine.timebase,
                                      sink: sink, source: source)
        try engine.add(stream)
        hardware.withLock { $0[ObjectIdentifier(portStream)] = stream }
        return stream
    }

    /// Stops serving the stream (before its buffer is freed).
    public func detachHardwareStream(for portStream: SimulatedPortWaveRTStream) {
        if let stream = hardware.withLock({ $0.removeValue(forKey: ObjectIdentifier(portStream)) }) {
            engine.remove(stream)
        }
    }

    /// The hardware stream serving `portStream`, if the miniport started one.
    public func hardwareStream(for portStream: SimulatedPortWaveRTStream) -> EngineStream? {
        hardware.withLock { $0[ObjectIdentifier(portStream)] }
    }

    /// Every fault every controller of this adapter recorded (faithful-fault mode, use after free).
    public var dmaFaults: [DMAFaultRecord] { controllers.withLock { $0.flatMap(\.faultRecords) } }

    /// Files a diagnostic on behalf of a miniport or the port.
    public func report(_ severity: Diagnostic.Severity = .error, ddi: String, argument: String = "",
                       rule: String, outcome: String)
    {
        diagnostics.report(Diagnostic(severity: severity, ddi: ddi, argument: argument, rule: rule, outcome: outcome))
    }
}
