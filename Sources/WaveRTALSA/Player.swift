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
        /// ALSA PCM name, looked up in the user's ALSA configuration (the
        /// emulator's `wavert_capture` PCMs added). "default" falls back to a
        /// WAV file when it cannot be opened.
        public var device: String
        public var clock: Clock
        /// Seconds of audio: exactly round(duration × rate) frames are played.
        /// nil: a file plays to its end, a tone until ``stop`` is set.
        public var duration: Double?
        /// Where the embedded fallback writes.
        public var fallbackPath: String
        /// ALSA buffer, in milliseconds, and the periods it is split into.
        public var alsaLatencyMilliseconds: Int
        public var alsaPeriods: Int
        /// How far the engine may get ahead of the ALSA writer, in milliseconds.
        public var ringMilliseconds: Int
        /// Set it (e.g. from a signal handler) to stop cleanly.
        public var stop: @Sendable () -> Bool

        public init(exampleName: String, makeMiniport: @escaping @Sendable () -> any MiniportWaveRT,
                    session: SessionConfiguration, source: any SampleSource, device: String = "default",
                    clock: Clock = .system, duration: Double? = nil, fallbackPath: String = "wavert-output.wav",
                    alsaLatencyMilliseconds: Int = 80, alsaPeriods: Int = 4, ringMilliseconds: Int = 500,
                    stop: @escaping @Sendable () -> Bool = { false })
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
            self.alsaPeriods = alsaPeriods
            self.ringMilliseconds = ringMilliseconds
            self.stop = stop
        }

        /// The frames to play, when known up front: round(duration × rate), or
        /// what is left of a file, whichever is less.
        public var frameLimit: UInt64? {
            var limit = duration.map { UInt64(($0 * Double(session.format.sampleRate)).rounded()) }
            if let file = source as? AudioFileSource {
                let left = UInt64(max(0, file.frameCount - file.framesRead))
                limit = min(limit ?? left, left)
            }
            return limit
        }
    }

    /// Plays; `say` gets one-line notices (fallbacks), `status` a snapshot every 100 ms.
    public static func play(_ options: Options, say: (String) -> Void = { _ in },
                            status: ((Status) -> Void)? = nil) throws(PlayError) -> Report
    {
        var notes: [String] = []
        func note(_ s: String) { notes.append(s); say(s) }
        let format = options.session.format
        // The user's ALSA configuration, with the emulator's PCMs where the user has none of that name.
        let configuration: ALSAConfiguration
        do { configuration = try ALSAConfiguration() } catch { throw .alsa(error) }

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
            try pcm.configure(format: format, latencyMicroseconds: options.alsaLatencyMilliseconds * 1000, periods: options.alsaPeriods)
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
        let limit = options.frameLimit
        let sink: ALSASink
        do {
            sink = try ALSASink(device: pcm, format: format, ringMilliseconds: options.ringMilliseconds,
                                deviceTimebase: deviceTimebase, frameLimit: limit)
        } catch { throw .alsa(error) }
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
        let cyclicBufferBytes = session.stream.bufferBytes
        let start = wrt_monotonic_ns()
        let runStart = engine.timebase.now
        // A run that cannot end by itself in twice its length plus a margin has stalled somewhere.
        let patience = limit.map { UInt64(2e9 * Double($0) / Double(format.sampleRate)) + 5_000_000_000 }
        var nextStatus = start
        while true {
            let now = wrt_monotonic_ns()
            if options.stop() { break }
            if sink.isComplete || sink.fatalError != nil { break }
            if limit == nil, session.sourceHasPlayed { break }  // a source that ends, its length unknown up front
            if let patience, now - start > patience {
                note("wavert: stopped after \(sink.framesPlayed) of \(limit ?? 0) frames: the stream did not finish in \(patience / 1_000_000_000) s")
                break
            }
            if let status, now >= nextStatus {
                status(Status(seconds: Double(now - start) / 1e9, position: session.hardware?.framesElapsed() ?? 0,
                              glitches: session.hardware?.glitchCount ?? 0, xruns: sink.xruns,
                              bufferFill: sink.bufferFill, ringBytes: sink.ringFrames * format.blockAlign))
                nextStatus = now + 100_000_000
            }
            _ = wrt_sleep_until_monotonic_ns(now + 10_000_000)
        }
        // RUN -> STOP, free everything; the sink plays out what it holds and drains as the stream leaves the engine.
        let result = session.finish()
        // A miniport that leaks its buffer never detaches its stream: stop the writer
        // anyway before the PCM goes (finish() is a no-op when already done).
        sink.finish()
        pcm.close()  // the file plugin writes its WAV header's lengths on close
        let wall = Double(wrt_monotonic_ns() - start) / 1e9
        if let e = sink.fatalError { throw .writer(device: deviceName, errno: e) }
        if sink.resamplerErrors > 0 {
            note("wavert: libsamplerate failed \(sink.resamplerErrors) times (last: \(sink.lastResamplerError?.description ?? "-")); those periods played unconverted")
        }
        return Report(example: options.exampleName, device: deviceName, clock: clock, framesPlayed: sink.framesPlayed,
                      glitches: result.glitchCount, xruns: sink.xruns, framesLost: sink.framesLost,
                      dmaFaults: result.dmaFaultEvents, wallSeconds: wall, outputFile: outputFile,
                      lateWrites: result.lateWrites,
                      glitchEvents: result.glitches.map {
                          GlitchEvent(kind: "\($0.kind)", seconds: Double($0.time &- runStart) / 1e9,
                                      frame: $0.position / UInt64(format.blockAlign), frames: $0.frames)
                      },
                      leaks: result.leaks, notes: notes, alsaBufferFrames: pcm.bufferFrames, alsaPeriodFrames: pcm.periodFrames,
                      framesWritten: sink.framesWritten, resamplerErrors: sink.resamplerErrors,
                      cyclicBufferFrames: cyclicBufferBytes / format.blockAlign, ringFrames: sink.ringCapacityFrames)
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
