import CWaveRTShim
import Glibc
import WaveRTALSA
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTMemory
import WaveRTPort

/// What `wavert play` does, as a library call: an example miniport run end to
/// end in real time on an emulated machine (the audio engine's client writes
/// the source into the cyclic buffer, the miniport's hardware moves it by DMA
/// into the device's output FIFO) and its output played through an ALSA PCM.
public enum Player {
    public typealias Clock = RunClock

    public struct Options: Sendable {
        /// The miniport: an example, or one of the caller's (a C++ library).
        public var miniport: RunMiniport
        /// The stream: hardware, format, buffer, notifications, DMA, timer resolution.
        public var setup: StreamSetup
        public var source: any SampleSource
        /// ALSA PCM name, looked up in the user's ALSA configuration (the
        /// emulator's `wavert_*` PCMs added). "default" falls back to a WAV
        /// file when it cannot be opened.
        public var device: String
        public var clock: RunClock
        /// Seconds of audio: exactly round(duration × rate) frames are played.
        /// nil: a file plays to its end, a tone until ``stop`` holds.
        public var duration: Double?
        /// Where the embedded fallback writes.
        public var fallbackPath: String
        /// ALSA buffer, in milliseconds, and the periods it is split into.
        public var alsaLatencyMilliseconds: Int
        public var alsaPeriods: Int
        /// How far the device may get ahead of the ALSA writer, in milliseconds.
        public var ringMilliseconds: Int
        /// Polled every few milliseconds (e.g. a signal's flag): true stops the run cleanly.
        public var stop: @Sendable () -> Bool
        /// The emulated machine's physical memory, made fresh for each session (nil: a default one);
        /// e.g. fragmented, so that allocations meet scarce memory.
        public var memory: (@Sendable () -> PhysicalMemory)?
        /// Where to write a Chrome/Perfetto trace of the run, and its ring (nil: no trace).
        public var trace: TraceOptions?
        /// How long a suspended card (-ESTRPIPE) is waited for before it is prepared.
        public var recoveryPolicy: PCMRecoveryPolicy = .standard
        /// The boundary between the sink's writer and libasound: given the opened,
        /// configured PCM, what the writer calls (`snd_pcm_writei`, `_resume`,
        /// `_prepare`, `_delay`, `_drain`). nil: the PCM itself. Tests wrap it to
        /// inject the faults a card produces and ALSA's `null`/`file` plugins
        /// cannot (underruns, suspends, a device vanishing); the run closes the
        /// real PCM either way, so a WAV written by the `file` plugin is finished.
        public var pcmBoundary: (@Sendable (ALSAPCM) -> any PCMDevice)?

        public init(example: ExampleMiniport, setup: StreamSetup, source: any SampleSource, device: String = "default",
                    clock: RunClock = .system, duration: Double? = nil, fallbackPath: String = "wavert-output.wav",
                    alsaLatencyMilliseconds: Int = 80, alsaPeriods: Int = 4, ringMilliseconds: Int = 500,
                    stop: @escaping @Sendable () -> Bool = { false })
        {
            self.init(miniport: RunMiniport(example: example), setup: setup, source: source, device: device, clock: clock,
                      duration: duration, fallbackPath: fallbackPath, alsaLatencyMilliseconds: alsaLatencyMilliseconds,
                      alsaPeriods: alsaPeriods, ringMilliseconds: ringMilliseconds, stop: stop)
        }

        public init(miniport: RunMiniport, setup: StreamSetup, source: any SampleSource, device: String = "default",
                    clock: RunClock = .system, duration: Double? = nil, fallbackPath: String = "wavert-output.wav",
                    alsaLatencyMilliseconds: Int = 80, alsaPeriods: Int = 4, ringMilliseconds: Int = 500,
                    memory: (@Sendable () -> PhysicalMemory)? = nil, trace: TraceOptions? = nil,
                    stop: @escaping @Sendable () -> Bool = { false })
        {
            self.miniport = miniport
            self.memory = memory
            self.trace = trace
            self.setup = setup
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
            var limit = duration.map { UInt64(($0 * Double(setup.format.sampleRate)).rounded()) }
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
        let format = options.setup.format
        precondition(!options.setup.capture, "Player plays a render stream; Recorder records")
        // A stream the miniport refuses is said before any device is touched.
        if let why = options.miniport.refusal(of: options.setup, memory: options.memory) { throw .refused(why) }
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
            let path = RunLoop.absolute(options.fallbackPath)
            note("wavert: no sound card (\(error.shortReason)); playing into \(path) through ALSA's file plugin")
            deviceName = "wavert_capture:FILE=\(path)"
            outputFile = path
            do { pcm = try ALSAPCM(name: deviceName, configuration: configuration) } catch { throw .alsa(error) }
        }
        defer { pcm.close() }  // the file plugin writes its WAV header's lengths on close
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
            sink = try ALSASink(device: options.pcmBoundary?(pcm) ?? pcm, format: format, ringMilliseconds: options.ringMilliseconds,
                                deviceTimebase: deviceTimebase, frameLimit: limit, recoveryPolicy: options.recoveryPolicy)
        } catch { throw .alsa(error) }
        let timebase: any Timebase = deviceTimebase ?? MonotonicTimebase.shared

        let trace = options.trace?.recorder(origin: timebase.now)
        let session: MiniportSession
        do {
            session = try MiniportSession(miniport: options.miniport.make(), setup: options.setup, timebase: timebase,
                                          memory: options.memory?() ?? PhysicalMemory(), source: options.source, speaker: sink,
                                          trace: trace)
        } catch {
            sink.finish()
            throw .session(error)
        }
        let start = wrt_monotonic_ns()
        let runStart = timebase.now
        do { try session.start() } catch {
            session.finish()
            sink.finish()
            throw .session(error)
        }
        let ending = RunLoop.wait(
            patience: RunLoop.patience(frames: limit, rate: format.sampleRate), stop: options.stop,
            done: {
                sink.isComplete || sink.fatalError != nil
                    || (limit == nil && session.sourceHasPlayed)  // a source that ends, its length unknown up front
                    || options.miniport.crashed  // the machine stopped (a bug check): nothing more will play
            },
            status: status.map { status in
                {
                    status(Status(seconds: Double(wrt_monotonic_ns() - start) / 1e9, framesPlayed: sink.framesPlayed,
                                  glitches: session.client.monitor?.glitchCount ?? 0, xruns: sink.xruns,
                                  bufferFill: sink.bufferFill, ringFrames: sink.ringFrames))
                }
            })
        if case .stalled(let seconds) = ending, !options.miniport.crashed {
            note("wavert: stopped after \(sink.framesPlayed) of \(limit ?? 0) frames: the stream did not finish in \(seconds) s")
        }
        // RUN -> STOP, the pin and the port closed (leak checks), the hardware shut
        // down, which finishes the speaker: the sink plays out what it holds and drains.
        let result = session.finish()
        sink.finish()  // in case the hardware never prepared it
        pcm.close()
        let wall = Double(wrt_monotonic_ns() - start) / 1e9
        let crash = options.miniport.crashReport()
        let traceFile = RunTrace.write(trace, options: options.trace, command: "play", miniport: options.miniport.name,
                                       setup: options.setup, clock: clock.rawValue, note: note)
        // A device that failed mid-play ends the run, not the report: the stream was
        // stepped down and the WAV finished above; the caller exits non-zero on it.
        let deviceError = sink.fatalError.map { PlayError.writer(device: deviceName, errno: $0).description }
        if let deviceError {
            note("wavert: \(deviceError); the stream was stopped after \(sink.framesPlayed) frames played, \(sink.framesLost) lost")
        }
        if sink.resamplerErrors > 0 {
            note("wavert: libsamplerate failed \(sink.resamplerErrors) times (last: \(sink.lastResamplerError?.description ?? "-")); those periods played unconverted")
        }
        return Report(example: options.miniport.name, device: deviceName, clock: clock, framesPlayed: sink.framesPlayed,
                      glitches: result.glitchCount, xruns: sink.xruns, framesLost: sink.framesLost,
                      dmaFaults: result.dmaFaultEvents, wallSeconds: wall, outputFile: outputFile,
                      lateWrites: result.lateWrites, clientWakes: result.wakes, eventTimeouts: result.eventTimeouts,
                      packetErrors: result.packetErrors,
                      glitchEvents: result.glitches.map { GlitchEvent($0, runStart: runStart) },
                      verifier: result.verifier.map(VerifierEntry.init), leaks: result.leaks,
                      guestErrors: result.guestErrors, notes: notes,
                      alsaBufferFrames: pcm.bufferFrames, alsaPeriodFrames: pcm.periodFrames,
                      framesWritten: sink.framesWritten, resamplerErrors: sink.resamplerErrors,
                      cyclicBufferFrames: session.client.buffer.actualSize / format.blockAlign,
                      ringFrames: sink.ringCapacityFrames, timerResolution: options.setup.timerResolution.rawValue,
                      crash: crash, trace: traceFile, traceDropped: trace?.droppedCount,
                      suspends: sink.suspends, framesDiscardedByDevice: sink.framesDiscardedByDevice,
                      framesReceived: sink.framesReceived, deviceError: deviceError, deviceErrno: sink.fatalError)
    }
}
