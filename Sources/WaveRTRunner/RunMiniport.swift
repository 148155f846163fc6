import WaveRTClient
import WaveRTDMA
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

/// The miniport a run drives, with the defaults of its stream: an example
/// (``init(example:)``), or any other miniport, such as a C++ library loaded
/// with the SDK (``init(name:hardware:make:crashReport:)``).
public struct RunMiniport: Sendable {
    /// What reports call it (an example's name, a library's path).
    public var name: String
    /// The adapter its driver is written for.
    public var hardware: HardwareKind
    /// A DMA profile other than the hardware's default, if it needs one.
    public var dmaProfile: DMAProfile?
    /// Defaults for a run.
    public var format: StreamFormat
    public var bufferMilliseconds: Int
    public var notificationCount: Int
    /// Whether the client asks for packet mode (it falls back to events when the stream has no packet interface).
    public var packetMode: Bool
    /// What it plays, in words (an example's); nil: its filter descriptor's data ranges say, which the port checks.
    public var formats: String?
    /// Makes a fresh miniport for one session.
    public var make: @Sendable () -> any MiniportWaveRT
    /// The miniport's crash, in words, once it has crashed (a C++ miniport's bug check): the run ends there.
    public var crashReport: @Sendable () -> String?

    public init(example: ExampleMiniport) {
        name = example.name
        hardware = example.hardware
        dmaProfile = example.dmaProfile
        format = example.format
        bufferMilliseconds = example.bufferMilliseconds
        notificationCount = example.notificationCount
        packetMode = example.packetMode
        formats = example.formats
        make = example.make
        crashReport = { nil }
    }

    /// A miniport of the caller's: 48 kHz 16-bit stereo, a 10 ms buffer with two notifications, packet mode when it offers it.
    public init(name: String, hardware: HardwareKind, format: StreamFormat = .cd48k, bufferMilliseconds: Int = 10,
                notificationCount: Int = 2, packetMode: Bool = true, make: @escaping @Sendable () -> any MiniportWaveRT,
                crashReport: @escaping @Sendable () -> String? = { nil })
    {
        self.name = name
        self.hardware = hardware
        self.format = format
        self.bufferMilliseconds = bufferMilliseconds
        self.notificationCount = notificationCount
        self.packetMode = packetMode
        self.make = make
        self.crashReport = crashReport
    }

    /// Whether the miniport has crashed.
    public var crashed: Bool { crashReport() != nil }

    /// How the audio engine's client is woken on its render stream.
    public var clientMode: ClientMode { packetMode ? .packet : .event }

    /// A stream of this miniport: its defaults, each overridable (what the
    /// command line's flags say). `bufferFrames` wins over `bufferMilliseconds`.
    public func streamSetup(format: StreamFormat? = nil, bufferMilliseconds: Double? = nil, bufferFrames: Int? = nil,
                            notificationCount: Int? = nil, dmaProfile: DMAProfile? = nil, faithfulFaults: Bool = false,
                            timerResolution: Machine.TimerResolution = .standard, capture: Bool = false) -> StreamSetup
    {
        let format = format ?? self.format
        let count = notificationCount ?? self.notificationCount
        let frames = bufferFrames ?? StreamSetup.frames(milliseconds: bufferMilliseconds ?? Double(self.bufferMilliseconds),
                                                        rate: format.sampleRate, notificationCount: count)
        var setup = StreamSetup(hardware: hardware, format: format, bufferFrames: frames, notificationCount: count,
                                mode: clientMode, dmaProfile: dmaProfile ?? self.dmaProfile, capture: capture)
        setup.faithfulFaults = faithfulFaults
        setup.timerResolution = timerResolution
        return setup
    }

    /// Whether the miniport opens `setup`'s stream: the port, the pin and the
    /// client's buffer set up once on a virtual clock (on `memory`, when the
    /// run's memory is special), then torn down. Nil when it does; else why
    /// not, with the formats it takes (an example's words, or what its filter
    /// descriptor declares), and its crash if it crashed.
    public func refusal(of setup: StreamSetup, memory: (@Sendable () -> PhysicalMemory)? = nil) -> String? {
        check(setup, memory: memory)?.message
    }

    /// Why a stream was not opened: in words, and whether the port refused
    /// what the miniport did with a verifier finding (a bug of the miniport's,
    /// not a stream it may refuse), or the miniport crashed.
    public struct Refusal: Sendable, Error, CustomStringConvertible {
        public var message: String
        public var verifier: [VerifierViolation]
        public var crashed: Bool
        /// A bug of the miniport's (a verifier finding, a crash), not a stream it is free to refuse.
        public var isMiniportBug: Bool { crashed || !verifier.isEmpty }
        public var description: String { message }
    }

    /// As ``refusal(of:memory:)``, with the verifier's findings.
    public func check(_ setup: StreamSetup, memory: (@Sendable () -> PhysicalMemory)? = nil) -> Refusal? {
        do {
            let session = try MiniportSession(miniport: make(), setup: setup, timebase: VirtualClock(),
                                              memory: memory?() ?? PhysicalMemory(), monitorGlitches: false)
            session.finish()
            return crashReport().map { Refusal(message: "miniport '\(name)' crashed opening a stream:\n\($0)", verifier: [], crashed: true) }
        } catch {
            let what = formats == nil ? "miniport" : "example"
            var why = "\(what) '\(name)' cannot \(setup.capture ? "record" : "play") \(setup.format): \(error)"
            if case .pin = error {
                if let formats {
                    why += "\n  '\(name)' takes \(formats)"
                } else {
                    why += "\n  " + declaredRanges(capture: setup.capture)
                }
            }
            let crash = crashReport()
            if let crash { why += "\n" + crash }
            return Refusal(message: why, verifier: error.verifier, crashed: crash != nil)
        }
    }

    /// The formats it takes, in words: an example's own, or what its filter descriptor declares.
    public func formatsDescription(capture: Bool) -> String { formats ?? declaredRanges(capture: capture) }

    /// What the miniport's filter descriptor declares for its render (capture) pin, in words.
    func declaredRanges(capture: Bool) -> String {
        let machine = Machine(timebase: VirtualClock())
        defer { machine.shutdown() }
        guard let adapter = try? Adapter(kind: hardware, machine: machine) else { return "its \(hardware.rawValue) hardware could not be set up" }
        defer { adapter.shutdown() }
        guard let port = try? WaveRTPort(miniport: make(), adapter: adapter) else { return "its Init or GetDescription failed" }
        defer { port.close() }
        let pins = port.filter.pins.enumerated().filter { $0.element.isStreaming && ($0.element.ksPinDescriptor.dataFlow == .out) == capture }
        guard !pins.isEmpty else { return "its filter descriptor has no \(capture ? "capture" : "render") pin" }
        let ranges = pins.map { pin in
            "pin \(pin.offset): " + (pin.element.ksPinDescriptor.dataRanges.isEmpty ? "no data ranges"
                : pin.element.ksPinDescriptor.dataRanges.map(Self.describe).joined(separator: "; "))
        }
        return "'\(name)' takes what its filter descriptor's data ranges cover (the port checks them at pin creation, as "
            + "KsCreatePin does; its NewStream then checks the values): " + ranges.joined(separator: "; ")
    }

    static func describe(_ r: KSDataRangeAudio) -> String {
        let kind = r.subFormat == KSDataFormatGUID.subtypeIEEEFloat ? "float" : r.subFormat == KSDataFormatGUID.subtypePCM ? "PCM" : "\(r.subFormat)"
        let bits = r.minimumBitsPerSample == r.maximumBitsPerSample ? "\(r.minimumBitsPerSample)" : "\(r.minimumBitsPerSample)-\(r.maximumBitsPerSample)"
        let rates = r.minimumSampleFrequency == r.maximumSampleFrequency ? "\(r.minimumSampleFrequency)"
            : "\(r.minimumSampleFrequency)-\(r.maximumSampleFrequency)"
        return "\(kind) \(bits)-bit, 1-\(r.maximumChannels) channels, \(rates) Hz"
    }
}
