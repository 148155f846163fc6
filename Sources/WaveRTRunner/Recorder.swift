import CWaveRTShim
import Glibc
import WaveRTALSA
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTMemory
import WaveRTPort

/// What `wavert record` does, as a library call: an ALSA capture PCM feeds
/// the emulated device's input FIFO, the example miniport's hardware writes it
/// by DMA into the cyclic buffer, and the audio engine's client reads it from
/// there (at the record position, or packet by packet) into a WAV file.
public enum Recorder {
    public struct Options: Sendable {
        /// The miniport: an example, or one of the caller's (a C++ library).
        public var miniport: RunMiniport
        /// The stream (``StreamSetup/capture`` is set by the recorder).
        public var setup: StreamSetup
        /// The WAV file to write.
        public var output: String
        /// ALSA capture PCM name from the user's ALSA configuration; "default"
        /// falls back to wavert's embedded input (silence) when it cannot be opened.
        public var device: String
        public var clock: RunClock
        /// Seconds to record: exactly round(duration × rate) frames. nil: until ``stop`` holds.
        public var duration: Double?
        /// ALSA buffer, in milliseconds, and the periods it is split into.
        public var alsaLatencyMilliseconds: Int
        public var alsaPeriods: Int
        /// How far the ALSA reader may get ahead of the device, in milliseconds.
        public var ringMilliseconds: Int
        /// Polled every few milliseconds (e.g. a signal's flag): true stops the run cleanly.
        public var stop: @Sendable () -> Bool

        /// The emulated machine's physical memory, made fresh for each session (nil: a default one).
        public var memory: (@Sendable () -> PhysicalMemory)?
        /// Where to write a Chrome/Perfetto trace of the run, and its ring (nil: no trace).
        public var trace: TraceOptions?
        /// Wraps the opened capture PCM (tests inject faults ALSA's plugins cannot make: a vanished device).
        public var pcmBoundary: (@Sendable (ALSAPCM) -> any PCMCaptureDevice)?

        public init(example: ExampleMiniport, setup: StreamSetup, output: String, device: String = "default",
                    clock: RunClock = .system, duration: Double? = nil, alsaLatencyMilliseconds: Int = 80, alsaPeriods: Int = 4,
                    ringMilliseconds: Int = 200, stop: @escaping @Sendable () -> Bool = { false })
        {
            self.init(miniport: RunMiniport(example: example), setup: setup, output: output, device: device, clock: clock,
                      duration: duration, alsaLatencyMilliseconds: alsaLatencyMilliseconds, alsaPeriods: alsaPeriods,
                      ringMilliseconds: ringMilliseconds, stop: stop)
        }

        public init(miniport: RunMiniport, setup: StreamSetup, output: String, device: String = "default",
                    clock: RunClock = .system, duration: Double? = nil, alsaLatencyMilliseconds: Int = 80, alsaPeriods: Int = 4,
                    ringMilliseconds: Int = 200, memory: (@Sendable () -> PhysicalMemory)? = nil, trace: TraceOptions? = nil,
                    stop: @escaping @Sendable () -> Bool = { false })
        {
            self.miniport = miniport
            self.memory = memory
            self.trace = trace
            self.setup = setup
            self.output = output
            self.device = device
            self.clock = clock
            self.duration = duration
            self.alsaLatencyMilliseconds = alsaLatencyMilliseconds
            self.alsaPeriods = alsaPeriods
            self.ringMilliseconds = ringMilliseconds
            self.stop = stop
        }

        public var frameLimit: UInt64? { duration.map { UInt64(($0 * Double(setup.format.sampleRate)).rounded()) } }
    }

    /// The PCM recorded from when the default capture device cannot be opened.
    public static let embeddedInput = "wavert_input"

    /// Records; `say` gets one-line notices (fallbacks), `status` a snapshot every 100 ms.
    public static func record(_ options: Options, say: (String) -> Void = { _ in },
                              status: ((Status) -> Void)? = nil) throws(RecordError) -> Report
    {
        var notes: [String] = []
        func note(_ s: String) { notes.append(s); say(s) }
        var setup = options.setup
        setup.capture = true
        let format = setup.format
        if let why = options.miniport.refusal(of: setup, memory: options.memory) { throw .refused(why) }
        let configuration: ALSAConfiguration
        do { configuration = try ALSAConfiguration() } catch { throw .alsa(error) }

        // The capture device, or the embedded default: silence through ALSA's file plugin.
        var deviceName = options.device
        let pcm: ALSAPCM
        do {
            pcm = try ALSAPCM(name: deviceName, configuration: configuration, direction: .capture)
        } catch {
            guard options.device == "default" else { throw .alsa(error) }
            note("wavert: no sound card (\(error.shortReason)); recording silence from ALSA's file plugin (\(embeddedInput); --device \(embeddedInput):FILE=PATH records a raw file)")
            deviceName = embeddedInput
            do { pcm = try ALSAPCM(name: deviceName, configuration: configuration, direction: .capture) } catch { throw .alsa(error) }
        }
        defer { pcm.close() }
        do {
            try pcm.configure(format: format, latencyMicroseconds: options.alsaLatencyMilliseconds * 1000, periods: options.alsaPeriods)
        } catch { throw .alsa(error) }

        let limit = options.frameLimit
        let recorder: WAVRecorderSink
        do { recorder = try WAVRecorderSink(path: options.output, format: format, frameLimit: limit) } catch { throw .output(error) }
        defer { recorder.finish() }

        // Who leads the clock: a card that paces capture can; ALSA's null and file plugins answer at once.
        var clock = options.clock
        let deviceTimebase = clock == .device
            ? DeviceTimebase(host: MonotonicTimebase.shared, nominalRate: format.sampleRate, periodFrames: pcm.periodFrames) : nil
        let microphone = ALSASource(device: options.pcmBoundary?(pcm) ?? pcm, format: format, ringMilliseconds: options.ringMilliseconds, deviceTimebase: deviceTimebase)
        defer { microphone.finish() }
        if clock == .device && !microphone.startAndProbePacing() {
            note("wavert: '\(deviceName)' (\(pcm.typeName)) does not pace capture, so it cannot lead the clock; using the system clock")
            clock = .system
        }
        let timebase: any Timebase = clock == .device ? deviceTimebase! : MonotonicTimebase.shared

        let trace = options.trace?.recorder(origin: timebase.now)
        let session: MiniportSession
        do {
            try recorder.prepare(format: format)
            session = try MiniportSession(miniport: options.miniport.make(), setup: setup, timebase: timebase,
                                          memory: options.memory?() ?? PhysicalMemory(), recorder: recorder, microphone: microphone,
                                          trace: trace)
        } catch let error as SessionError {
            throw .session(error)
        } catch {
            throw .output(.unwritable(path: options.output, reason: "\(error)"))
        }
        let start = wrt_monotonic_ns()
        let runStart = timebase.now
        do { try session.start() } catch {
            session.finish()
            throw .session(error)
        }
        let ending = RunLoop.wait(
            patience: RunLoop.patience(frames: limit, rate: format.sampleRate), stop: options.stop,
            // A device that failed: what it gave before is recorded (the ring drains into the stream), then the run ends.
            done: { recorder.hasAllFrames || (microphone.fatalError != nil && microphone.ringFrames == 0) || options.miniport.crashed },
            status: status.map { status in
                {
                    status(Status(seconds: Double(wrt_monotonic_ns() - start) / 1e9, framesRecorded: recorder.framesReceived,
                                  glitches: session.client.monitor?.glitchCount ?? 0, xruns: microphone.xruns,
                                  silenceFrames: microphone.silenceFrames, ringFrames: microphone.ringFrames))
                }
            })
        if case .stalled(let seconds) = ending, !options.miniport.crashed {
            note("wavert: stopped after \(recorder.framesReceived) of \(limit ?? 0) frames: the stream did not finish in \(seconds) s")
        }
        // RUN -> STOP, the pin and the port closed (leak checks), the hardware shut down (the microphone stops).
        let result = session.finish()
        microphone.finish()
        recorder.finish()
        let wall = Double(wrt_monotonic_ns() - start) / 1e9
        let crash = options.miniport.crashReport()
        let traceFile = RunTrace.write(trace, options: options.trace, command: "record", miniport: options.miniport.name,
                                       setup: setup, clock: clock.rawValue, note: note)
        // A device that failed ends the run like a stop: the WAV holds what came before, the report says why.
        let deviceError = microphone.fatalError.map { RecordError.reader(device: deviceName, errno: $0).description }
        if let deviceError { note("wavert: \(deviceError); the stream was stopped after \(recorder.framesWritten) frames recorded") }
        if recorder.failedToWrite { throw .output(.unwritable(path: options.output, reason: "the disk did not take every frame")) }
        return Report(example: options.miniport.name, device: deviceName, clock: clock, output: options.output,
                      framesRecorded: recorder.framesWritten, glitches: result.glitchCount, xruns: microphone.xruns,
                      silenceFrames: microphone.silenceFrames, framesLost: microphone.framesLost + recorder.framesLost,
                      dmaFaults: result.dmaFaultEvents, clientWakes: result.wakes, eventTimeouts: result.eventTimeouts,
                      packetErrors: result.packetErrors, wallSeconds: wall,
                      glitchEvents: result.glitches.map { GlitchEvent($0, runStart: runStart) },
                      verifier: result.verifier.map(VerifierEntry.init), leaks: result.leaks, guestErrors: result.guestErrors,
                      notes: notes, alsaBufferFrames: pcm.bufferFrames, alsaPeriodFrames: pcm.periodFrames,
                      framesRead: microphone.framesRead, cyclicBufferFrames: session.client.buffer.actualSize / format.blockAlign,
                      ringFrames: microphone.ringCapacityFrames, timerResolution: setup.timerResolution.rawValue,
                      crash: crash, trace: traceFile, traceDropped: trace?.droppedCount,
                      deviceError: deviceError, suspends: microphone.suspends, deviceErrno: microphone.fatalError)
    }
}
