import WaveRTDMA
import WaveRTEngine
import WaveRTHardware
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

/// Everything that says how a stream is run, in one value: the hardware the
/// miniport drives, the format and buffer the client asks for, and how the
/// client is woken.
public struct StreamSetup: Sendable, Hashable {
    public var hardware: HardwareKind
    /// The hardware's DMA controller profile (nil: its default).
    public var dmaProfile: DMAProfile?
    /// The DMA does what silicon would with a bad program instead of refusing it.
    public var faithfulFaults = false
    /// An `sg` device whose position register moves only at IOC.
    public var coarsePosition = false
    public var timerResolution: Machine.TimerResolution = .standard
    public var format: StreamFormat
    /// The buffer the client asks for, in frames.
    public var bufferFrames: Int
    /// 0: no notifications (a timer-driven client); 1 or 2.
    public var notificationCount: Int
    public var mode: ClientMode
    public var capture = false

    public init(hardware: HardwareKind, format: StreamFormat, bufferFrames: Int, notificationCount: Int = 2, mode: ClientMode = .event,
                dmaProfile: DMAProfile? = nil, capture: Bool = false)
    {
        self.hardware = hardware
        self.format = format
        self.bufferFrames = bufferFrames
        self.notificationCount = notificationCount
        self.mode = mode
        self.dmaProfile = dmaProfile
        self.capture = capture
    }

    /// Frames for `milliseconds` of audio, rounded to whole packets.
    public static func frames(milliseconds: Double, rate: Int, notificationCount: Int) -> Int {
        let packets = max(1, notificationCount)
        let frames = Int((milliseconds * Double(rate) / 1000).rounded())
        return max(packets, (frames + packets - 1) / packets * packets)
    }

    public var requestedBytes: Int { bufferFrames * format.blockAlign }
}

/// A miniport run end to end on an emulated machine: the adapter's hardware,
/// the port initialising the miniport, one pin opened with the setup's
/// format, and the audio-engine client on it (with the glitch monitor).
/// ``start()`` runs it; ``finish()`` takes it all down and reports.
public final class MiniportSession: @unchecked Sendable {
    public let setup: StreamSetup
    public let machine: Machine
    public let adapter: Adapter
    public let port: WaveRTPort
    public let pin: KSPin
    public let client: AudioEngineClient
    private var report: SessionReport?

    /// - Parameters:
    ///   - timebase: a ``VirtualClock`` for exact, fast runs; the monotonic (or a device) timebase to listen.
    ///   - source: what a render client plays. `recorder`: where a capture client puts what it reads.
    ///   - speaker, microphone: the device's output and input.
    ///   - trace: records what the machine, the port and the client do, for a Chrome/Perfetto trace
    ///     (``ChromeTrace``); make it with the timebase's current reading as its origin.
    public init(miniport: any MiniportWaveRT, setup: StreamSetup, timebase: any Timebase, memory: PhysicalMemory = PhysicalMemory(),
                source: (any SampleSource)? = nil, recorder: (any AudioSink)? = nil,
                speaker: (any AudioSink)? = nil, microphone: (any AudioSource)? = nil, monitorGlitches: Bool = true,
                trace: TraceRecorder? = nil) throws(SessionError)
    {
        if let rate = source?.nativeSampleRate, rate != setup.format.sampleRate {
            throw .rateMismatch(sourceRate: rate, streamRate: setup.format.sampleRate)
        }
        self.setup = setup
        machine = Machine(timebase: timebase, memory: memory, timerResolution: setup.timerResolution, trace: trace)
        do {
            adapter = try Adapter(kind: setup.hardware, machine: machine, profile: setup.dmaProfile, faithfulFaults: setup.faithfulFaults,
                                  coarsePosition: setup.coarsePosition, speaker: speaker, microphone: microphone)
        } catch {
            throw .hardware(error.description)
        }
        do {
            port = try WaveRTPort(miniport: miniport, adapter: adapter)
        } catch {
            let details = Self.details(machine: machine, adapter: adapter)
            machine.shutdown()
            throw .port(error.description, details: details)
        }
        let pinID = setup.capture ? 2 : 0
        switch port.createPin(pinID, dataFormat: KSDataFormat(setup.format)) {
        case .success(let p): pin = p
        case .failure(let status):
            let details = Self.details(machine: machine, adapter: adapter)
            port.close()
            adapter.shutdown()
            machine.shutdown()
            throw .pin(status: status, format: setup.format, details: details)
        }
        do {
            client = try AudioEngineClient(port: port, pin: pin, mode: setup.mode, requestedBytes: setup.requestedBytes,
                                           notificationCount: setup.notificationCount, source: source, recorder: recorder,
                                           monitorGlitches: monitorGlitches)
        } catch {
            let details = Self.details(machine: machine, adapter: adapter)
            pin.close()
            port.close()
            adapter.shutdown()
            machine.shutdown()
            throw .client(error, details: details)
        }
    }

    static func details(machine: Machine, adapter: Adapter) -> SessionError.Details {
        let verifier = machine.verifier.violations
        return .init(verifier: verifier,
                     lines: adapter.guestErrors + verifier.map(\.description)
                         + machine.memory.diagnostics.all.filter { $0.severity != .info }.map(\.description) + machine.debugOutput)
    }

    /// Pre-rolls and runs the stream: STOP → ACQUIRE → PAUSE → RUN through the port.
    public func start() throws(SessionError) {
        do { try client.start() } catch { throw .client(error, details: Self.details(machine: machine, adapter: adapter)) }
    }

    /// Whether everything the client's source produced has reached the device.
    public var sourceHasPlayed: Bool {
        guard let end = client.endOfDataPosition else { return false }
        // The client's unwrapped device position: a cyclic offset alone cannot say whether the end went by.
        return end == 0 || client.devicePositionBytes >= end
    }

    /// Stops the client and the stream, closes the pin and the port (leak
    /// checks), shuts the hardware down, and reports. Safe to call twice.
    @discardableResult
    public func finish() -> SessionReport {
        if let report { return report }
        let clientFrames = client.bytesTransferred / UInt64(setup.format.blockAlign)
        // While the stream still runs: a driver resets its DMA engine on the way to STOP, which drops the program and its fault records.
        let faults = adapter.dmaFaults
        client.stop()
        client.close()
        let teardown = pin.close()
        let unloadLeaks = port.close()
        adapter.shutdown()
        machine.shutdown()
        let monitor = client.monitor
        let r = SessionReport(
            clientFrames: clientFrames, glitchCount: monitor?.glitchCount ?? 0, glitches: monitor?.glitches ?? [],
            glitchedFrames: monitor?.glitchedFrameCount ?? 0, eventTimeouts: client.eventTimeoutCount,
            lateWrites: client.lateWriteCount, packetErrors: client.packetErrorCount, wakes: client.wakeCount,
            dmaFaults: faults, leaks: teardown.leaks + unloadLeaks, teardownFailures: teardown.failures,
            verifier: machine.verifier.violations, guestErrors: adapter.guestErrors,
            diagnostics: machine.memory.diagnostics.all.filter { $0.severity != .info }.map(\.description),
            debugOutput: machine.debugOutput)
        report = r
        return r
    }
}

/// What a session did.
public struct SessionReport: Sendable {
    /// Frames the client wrote (render) or read (capture).
    public var clientFrames: UInt64
    public var glitchCount: UInt64
    public var glitches: [Glitch]
    public var glitchedFrames: UInt64
    /// Event waits that timed out (the client then served the buffer from the position).
    public var eventTimeouts: UInt64
    public var lateWrites: UInt64
    public var packetErrors: UInt64
    public var wakes: UInt64
    public var dmaFaults: [DMAFaultRecord]
    /// What the miniport left behind ("DDI: N bytes").
    public var leaks: [String]
    public var teardownFailures: [String]
    public var verifier: [VerifierViolation]
    /// How the hardware was misprogrammed.
    public var guestErrors: [String]
    /// Warnings and errors of the memory DDIs.
    public var diagnostics: [String]
    public var debugOutput: [String]
    public var dmaFaultEvents: UInt64 { dmaFaults.reduce(0) { $0 + $1.events } }
    public var isClean: Bool { glitchCount == 0 && leaks.isEmpty && teardownFailures.isEmpty && verifier.isEmpty }
}

public enum SessionError: Error, CustomStringConvertible {
    case hardware(String)
    case port(String, details: Details)
    case pin(status: NTStatus, format: StreamFormat, details: Details)
    case client(ClientError, details: Details)
    case rateMismatch(sourceRate: Int, streamRate: Int)

    /// What the machine said about a refusal: the verifier's findings, and every complaint in words
    /// (the hardware's guest errors, the findings, the memory DDIs' diagnostics, the driver's DbgPrint).
    public struct Details: Sendable {
        public var verifier: [VerifierViolation]
        public var lines: [String]

        public init(verifier: [VerifierViolation] = [], lines: [String] = []) {
            self.verifier = verifier
            self.lines = lines
        }
    }

    /// The verifier's findings that came with the refusal (a buffer beyond its MDL, say).
    public var verifier: [VerifierViolation] {
        switch self {
        case .port(_, let d), .pin(_, _, let d), .client(_, let d): d.verifier
        case .hardware, .rateMismatch: []
        }
    }

    public var description: String {
        func with(_ head: String, _ details: Details) -> String { ([head] + details.lines.map { "  \($0)" }).joined(separator: "\n") }
        switch self {
        case .hardware(let why): return "the hardware could not be set up: \(why)"
        case .port(let why, let details): return with(why, details)
        case .pin(let status, let format, let details):
            return with("the miniport refused a stream of \(format) (\(status))", details)
        case .client(let error, let details): return with(error.description, details)
        case .rateMismatch(let source, let stream):
            return "the source is at \(source) Hz but the stream runs at \(stream) Hz; ask for the source's rate or resample it first"
        }
    }
}
