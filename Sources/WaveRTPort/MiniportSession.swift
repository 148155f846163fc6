import WaveRTDMA
import WaveRTEngine
import WaveRTMemory

/// How to run a miniport: the stream the audio engine opens and how it feeds it.
public struct SessionConfiguration: Sendable {
    public var format: StreamFormat
    public var bufferMilliseconds: Int
    public var notificationCount: Int
    public var clientMode: AudioEngineClient.Mode
    /// The adapter's DMA controller.
    public var dmaProfile: DMAProfile
    public var faithfulFaults: Bool

    public init(format: StreamFormat = .cd48k, bufferMilliseconds: Int = 10, notificationCount: Int = 2,
                clientMode: AudioEngineClient.Mode = .eventDriven, dmaProfile: DMAProfile, faithfulFaults: Bool = false)
    {
        self.format = format
        self.bufferMilliseconds = bufferMilliseconds
        self.notificationCount = notificationCount
        self.clientMode = clientMode
        self.dmaProfile = dmaProfile
        self.faithfulFaults = faithfulFaults
    }
}

/// One miniport driven end to end: an emulated adapter over `memory`, the port
/// initialising the miniport and opening a render stream, and an audio-engine
/// client feeding it from a source. ``start()`` runs it; ``finish()`` takes it
/// all down and reports.
public final class MiniportSession: @unchecked Sendable {
    public let configuration: SessionConfiguration
    public let memory: PhysicalMemory
    public let engine: AudioEngine
    public let device: EmulatedAudioDevice
    public let port: SimulatedPortWaveRT
    public let stream: PortStream
    public let client: AudioEngineClient
    private var finished: SessionReport?

    /// - Parameters:
    ///   - engine: the buffer engine (its timebase: virtual for tests, monotonic to listen).
    ///   - sink: where the adapter's output goes, per stream format.
    public init(miniport: any MiniportWaveRT, configuration: SessionConfiguration, source: any SampleSource,
                engine: AudioEngine, memory: PhysicalMemory = PhysicalMemory(),
                sink: @escaping @Sendable (StreamFormat) -> any AudioSink = { _ in NullSink() }) throws(SessionError)
    {
        if let rate = source.nativeSampleRate, rate != configuration.format.sampleRate {
            throw .rateMismatch(sourceRate: rate, streamRate: configuration.format.sampleRate)
        }
        self.configuration = configuration
        self.memory = memory
        self.engine = engine
        device = EmulatedAudioDevice(memory: memory, engine: engine, dmaProfile: configuration.dmaProfile,
                                     faithfulFaults: configuration.faithfulFaults, sink: sink)
        port = SimulatedPortWaveRT(miniport: miniport, device: device)
        do {
            try port.initialize()
            stream = try port.openStream(StreamRequest(format: configuration.format, bufferMilliseconds: configuration.bufferMilliseconds,
                                                       notificationCount: configuration.notificationCount))
        } catch {
            throw .port(error, diagnostics: memory.diagnostics.all.filter { $0.severity != .info }.map(\.description))
        }
        client = AudioEngineClient(stream: stream, source: source, mode: configuration.clientMode)
    }

    /// The emulated hardware stream (positions, glitches, notifications).
    public var hardware: EngineStream? { stream.hardware }

    /// Fills the buffer and runs the stream: STOP -> ACQUIRE -> PAUSE -> RUN.
    public func start() throws(SessionError) {
        client.start()
        do { try stream.run() } catch { throw .port(error, diagnostics: []) }
    }

    /// Whether everything the source produced has reached the DAC.
    public var sourceHasPlayed: Bool {
        guard let end = client.endOfData, let hardware else { return false }
        return hardware.framesElapsed() * UInt64(configuration.format.blockAlign) >= end
    }

    /// Stops the stream, closes it (unregister, unmap, free, leak check) and reports.
    @discardableResult
    public func finish() -> SessionReport {
        if let finished { return finished }
        let hardware = self.hardware
        let frames = hardware?.framesElapsed() ?? 0
        client.stop()
        try? stream.pause()  // freeze, so the report's figures are the run's
        let glitchCount = hardware?.glitchCount ?? 0
        let glitches = hardware?.glitches ?? []
        let faults = device.dmaFaults
        let teardown = stream.close()
        let report = SessionReport(
            framesPlayed: frames, glitchCount: glitchCount, glitches: glitches, lateWrites: client.lateWrites,
            dmaFaults: faults, leaks: teardown.leaks.map(\.description), teardownFailures: teardown.failures,
            diagnostics: memory.diagnostics.all.filter { $0.severity != .info }.map(\.description))
        finished = report
        return report
    }
}

/// What a session did.
public struct SessionReport: Sendable {
    public var framesPlayed: UInt64
    public var glitchCount: UInt64
    public var glitches: [Glitch]
    /// Client writes that started behind the DMA.
    public var lateWrites: UInt64
    public var dmaFaults: [DMAFaultRecord]
    /// Allocations the miniport left behind ("DDI: N bytes").
    public var leaks: [String]
    public var teardownFailures: [String]
    /// Warnings and errors from the DDIs and the hardware.
    public var diagnostics: [String]
    /// Transfers that went through a faulty DMA piece.
    public var dmaFaultEvents: UInt64 { dmaFaults.reduce(0) { $0 + $1.events } }
}

public enum SessionError: Error, CustomStringConvertible {
    case port(PortError, diagnostics: [String])
    case rateMismatch(sourceRate: Int, streamRate: Int)

    public var description: String {
        switch self {
        case .port(let error, let diagnostics):
            ([error.description] + diagnostics.map { "  \($0)" }).joined(separator: "\n")
        case .rateMismatch(let source, let stream):
            "the source is at \(source) Hz but the stream runs at \(stream) Hz; ask for the source's rate or resample it first"
        }
    }
}
