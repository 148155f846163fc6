import CWaveRTShim
import Glibc
import Synchronization
import WaveRTDMA
import WaveRTEngine
import WaveRTMemory
import WaveRTPort

/// What `wavert play` does, as a library call: a miniport driven end to end in
/// real time, its DMA output played through an ALSA PCM.
public enum Player {
    public enum Clock: String, Sendable, Codable { case system, device }

    public struct Options: Sendable {
        public var exampleName: String
        public var makeMiniport: @Sendable () -> any MiniportWaveRT
        public var session: SessionConfiguration
        public var source: any SampleSource
        /// ALSA PCM name. "default" falls back to a WAV file when it cannot be opened.
        public var device: String
        public var clock: Clock
        /// Seconds of wall time; nil: until the source ends or ``stop`` is set.
        public var duration: Double?
        /// Where the embedded fallback writes.
        public var fallbackPath: String
        /// ALSA buffer, in milliseconds.
        public var alsaLatencyMilliseconds: Int
        /// Set it (e.g. from a SIGINT handler) to stop cleanly.
        public var stop: @Sendable () -> Bool

        public init(exampleName: String, makeMiniport: @escaping @Sendable () -> any MiniportWaveRT,
                    session: SessionConfiguration, source: any SampleSource, device: String = "default",
                    clock: Clock = .system, duration: Double? = nil, fallbackPath: String = "wavert-output.wav",
                    alsaLatencyMilliseconds: Int = 80, stop: @escaping @Sendable () -> Bool = { false })
        {
            self.exampleName = exampleName
            self.makeMiniport = makeMiniport
            self.session = session
            self.source = source
            self.device = device
            self.clock = clock
            self.duration = duration
            self.fallbackPath = fallbackPath
            self.alsaLatencyMilliseconds = alsaLatencyMilliseconds
            self.stop = stop
        }
    }

    /// The `--report` JSON (a contract: scripts read these keys).
    public struct Report: Sendable, Codable {
        public var example: String
        public var device: String
        public var clock: Clock
        public var framesPlayed: UInt64
        public var glitches: UInt64
        public var xruns: UInt64
        public var framesLost: UInt64
        public var dmaFaults: UInt64
        public var wallSeconds: Double
        /// The WAV file written when the default device could not be opened.
        public var outputFile: String?
        public var lateWrites: UInt64
        /// Each glitch: when (seconds of stream time after RUN), where (frame), how many frames.
        public var glitchEvents: [GlitchEvent]
        public var leaks: [String]
        public var notes: [String]
    }

    public struct GlitchEvent: Sendable, Codable {
        public var kind: String
        public var seconds: Double
        public var frame: UInt64
        public var frames: UInt64
    }

    /// A snapshot for the live status line.
    public struct Status: Sendable {
        public var seconds: Double
        public var position: UInt64
        public var glitches: UInt64
        public var xruns: UInt64
        public var bufferFill: Int?
        public var ringBytes: Int
    }

    public enum PlayError: Error, CustomStringConvertible {
        case alsa(ALSAError)
        case session(SessionError)
        case writer(device: String, errno: Int32)

        public var description: String {
            switch self {
            case .alsa(let e): e.description
            case .session(let e): e.description
            case .writer(let d, let e): "ALSA PCM '\(d)' failed while playing: \(String(cString: strerror(e))) (errno \(e))"
            }
        }
    }

    /// Plays; `say` gets one-line notices (fallbacks), `status` a snapshot every 100 ms.
    public static func play(_ options: Options, say: (String) -> Void = { _ in },
                            status: ((Status) -> Void)? = nil) throws(PlayError) -> Report
    {
        var notes: [String] = []
        func note(_ s: String) { notes.append(s); say(s) }
        let format = options.session.format
        let configuration: ALSAConfiguration
        do { configuration = try ALSAConfiguration(text: ALSAConfiguration.wavertText) } catch { throw .alsa(error) }

        // The device, or the embedded default: a WAV file through ALSA's file plugin.
        var deviceName = options.device
        var outputFile: String?
        let pcm: ALSAPCM
        do {
            pcm = try ALSAPCM(name: deviceName, configuration: configuration)
        } catch {
            guard options.device == "default" else { throw .alsa(error) }
            let path = absolute(options.fallbackPath)
            note("wavert: no sound card (\(error.shortReason)); playing into \(path) through ALSA's file plugin")
            deviceName = "wavert_capture:FILE=\(path)"
            outputFile = path
            do { pcm = try ALSAPCM(name: deviceName, configuration: configuration) } catch { throw .alsa(error) }
        }
        do {
            try pcm.configure(format: format, latencyMicroseconds: options.alsaLatencyMilliseconds * 1000)
        } catch { throw .alsa(error) }

        // Who leads the clock.
        var clock = options.clock
        var deviceTimebase: DeviceTimebase?
        if clock == .device {
            if pcm.probePacing(format: format) {
                deviceTimebase = DeviceTimebase(host: MonotonicTimebase.shared, nominalRate: format.sampleRate,
                                                periodFrames: pcm.periodFrames)
            } else {
                note("wavert: '\(deviceName)' (\(pcm.typeName)) does not pace playback, so it cannot lead the clock; using the system clock")
                clock = .system
            }
        }
        let sink: ALSASink
        do { sink = try ALSASink(device: pcm, format: format, deviceTimebase: deviceTimebase) } catch { throw .alsa(error) }
        let engine = AudioEngine(timebase: deviceTimebase ?? MonotonicTimebase.shared)
        defer { engine.shutdown() }

        let session: MiniportSession
        do {
            session = try MiniportSession(miniport: options.makeMiniport(), configuration: options.session, source: options.source,
                                          engine: engine, sink: { _ in sink })
            try session.start()
        } catch {
            throw .session(error)
        }
        let start = wrt_monotonic_ns()
        let runStart = engine.timebase.now
        var nextStatus = start
        while true {
            let now = wrt_monotonic_ns()
            let elapsed = Double(now - start) / 1e9
            if options.stop() { break }
            if let d = options.duration, elapsed >= d { break }
            if options.duration == nil, session.sourceHasPlayed { break }
            if sink.fatalError != nil { break }
            if let status, now >= nextStatus {
                status(Status(seconds: elapsed, position: session.hardware?.framesElapsed() ?? 0,
                              glitches: session.hardware?.glitchCount ?? 0, xruns: sink.xruns,
                              bufferFill: sink.bufferFill, ringBytes: sink.ringFill))
                nextStatus = now + 100_000_000
            }
            var deadline = now + 20_000_000
            if let d = options.duration { deadline = min(deadline, start + UInt64(d * 1e9)) }
            _ = wrt_sleep_until_monotonic_ns(deadline)
        }
        // RUN -> STOP, free everything; the sink drains as the stream leaves the engine.
        let result = session.finish()
        // A miniport that leaks its buffer never detaches its stream: stop the writer
        // anyway before the PCM goes (finish() is a no-op when already done).
        sink.finish()
        pcm.close()  // the file plugin writes its WAV header's lengths on close
        let wall = Double(wrt_monotonic_ns() - start) / 1e9
        if let e = sink.fatalError { throw .writer(device: deviceName, errno: e) }
        return Report(example: options.exampleName, device: deviceName, clock: clock, framesPlayed: sink.framesWritten,
                      glitches: result.glitchCount, xruns: sink.xruns, framesLost: sink.framesLost,
                      dmaFaults: result.dmaFaultEvents, wallSeconds: wall, outputFile: outputFile,
                      lateWrites: result.lateWrites,
                      glitchEvents: result.glitches.map {
                          GlitchEvent(kind: "\($0.kind)", seconds: Double($0.time &- runStart) / 1e9,
                                      frame: $0.position / UInt64(format.blockAlign), frames: $0.frames)
                      },
                      leaks: result.leaks, notes: notes)
    }

    private static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        return String(cString: buffer) + "/" + path
    }
}

extension ALSAError {
    /// The errno text alone, for one-line notices.
    var shortReason: String {
        if case .open(let device, let code) = self { return "\(device): \(String(cString: strerror(-code)))" }
        return description
    }
}

extension ALSAPCM {
    /// Whether the PCM paces playback like a card: after a period of silence is
    /// written, a card reports it queued (`snd_pcm_delay` > 0); ALSA's `null` and
    /// `file`-over-`null` swallow it at once and report nothing queued.
    public func probePacing(format: StreamFormat) -> Bool {
        let frames = max(1, periodFrames)
        let silence = UnsafeMutableRawPointer.allocate(byteCount: frames * format.blockAlign, alignment: 16)
        defer { silence.deallocate() }
        silence.initializeMemory(as: UInt8.self, repeating: 0, count: frames * format.blockAlign)
        guard write(silence, count: frames) > 0 else { return false }
        return (delay() ?? 0) > 0
    }
}
