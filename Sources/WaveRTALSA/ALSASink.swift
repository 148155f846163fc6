import CWaveRTShim
import Glibc
import Synchronization
import WaveRTEngine

/// The engine's output into ALSA: what the DMA read leaves the engine's
/// real-time thread through a lock-free ``FrameRing`` and reaches the PCM on a
/// dedicated writer thread (which may block in `snd_pcm_writei`; the engine
/// never does). The writer's work is a ``PCMWriter``: whole frames, straight
/// or through the drift-compensating resampler, errors recovered there.
///
/// Clock leadership:
/// - system: the engine runs on the monotonic clock. Against a pacing card the
///   two crystals drift, so once the card reports a queue (`snd_pcm_delay`), a
///   ``DriftCompensator`` steers an adaptive resampler to hold the fill at its
///   target. Against a non-pacing PCM (`null`, `file`) nothing drifts and the
///   bytes pass through untouched, sample for sample.
/// - device: the card leads: after each write the sink reports the frames the
///   card has consumed to a ``DeviceTimebase`` that the engine runs on.
///
/// With a frame limit the sink takes exactly that many frames from the engine
/// (the rest are not played), writes them all, drains the PCM and reports
/// ``isComplete``: `wavert play --duration S` plays exactly round(S × rate) frames.
public final class ALSASink: AudioSink, @unchecked Sendable {
    public let device: any PCMDevice
    public let format: StreamFormat
    public let deviceTimebase: DeviceTimebase?
    public let compensateDrift: Bool
    /// Frames to play, then stop; nil: until ``finish()``.
    public let frameLimit: UInt64?
    let writer: PCMWriter
    private let ring: FrameRing
    private var thread: RealTimeThread?
    private let stopping = Atomic<Bool>(false)
    private let inputEnded = Atomic<Bool>(false)
    private let received = Atomic<UInt64>(0)  // bytes taken from the engine (engine thread writes)
    private let limitBytes: UInt64

    /// - Parameters:
    ///   - ringMilliseconds: how far the engine may get ahead of the writer (at
    ///     least two ALSA buffers and two writes are kept, whatever is asked).
    ///   - compensateDrift: resample to follow a pacing card (system clock only).
    ///   - frameLimit: play exactly this many frames, then drain and complete.
    ///   - recoveryPolicy: how long a suspended card (-ESTRPIPE) is waited for.
    public convenience init(device: any PCMDevice, format: StreamFormat, ringMilliseconds: Int = 500,
                            compensateDrift: Bool = true, deviceTimebase: DeviceTimebase? = nil,
                            frameLimit: UInt64? = nil, recoveryPolicy: PCMRecoveryPolicy = .standard) throws(ALSAError)
    {
        try self.init(device: device, format: format, ringMilliseconds: ringMilliseconds, compensateDrift: compensateDrift,
                      deviceTimebase: deviceTimebase, frameLimit: frameLimit, resampler: nil, recoveryPolicy: recoveryPolicy)
    }

    /// As above, with the resampler given (tests inject faults through it).
    init(device: any PCMDevice, format: StreamFormat, ringMilliseconds: Int = 500, compensateDrift: Bool = true,
         deviceTimebase: DeviceTimebase? = nil, frameLimit: UInt64? = nil, resampler: (any StreamingResampler)?,
         recoveryPolicy: PCMRecoveryPolicy = .standard) throws(ALSAError)
    {
        self.device = device
        self.format = format
        self.deviceTimebase = deviceTimebase
        self.compensateDrift = compensateDrift && deviceTimebase == nil
        self.frameLimit = frameLimit
        limitBytes = frameLimit.map { $0 * UInt64(format.blockAlign) } ?? .max
        let chunk = max(64, device.periodFrames)
        let frames = max(format.sampleRate * ringMilliseconds / 1000, 2 * device.bufferFrames, 4 * chunk)
        ring = FrameRing(frameBytes: format.blockAlign, capacityFrames: frames)
        writer = try PCMWriter(device: device, format: format, ring: ring, compensateDrift: self.compensateDrift,
                               deviceTimebase: deviceTimebase, resampler: resampler, recoveryPolicy: recoveryPolicy)
        if frameLimit == 0 { inputEnded.store(true, ordering: .relaxed) }
    }

    // MARK: AudioSink

    public func prepare(format: StreamFormat) throws {
        guard thread == nil else { return }
        // Below the engine's priority: the engine must never wait on ALSA.
        thread = RealTimeThread(configuration: .init(fifoPriority: 60, name: "wavert-alsa")) { [unowned self] _ in self.writerLoop() }
    }

    /// Engine thread: hands the bytes to the writer. Never blocks; a full ring
    /// drops whole frames and counts them. Bytes past the frame limit are not
    /// played. Once the writer has failed (the device is gone) nothing more can
    /// play: whole frames are counted lost instead of queued.
    public func consume(_ bytes: UnsafeRawBufferPointer) {
        let before = received.load(ordering: .relaxed)
        guard before < limitBytes else { return }
        let count = Int(min(UInt64(bytes.count), limitBytes - before))
        let dropped: Int
        if writer.isFinished && writer.fatalError != nil {
            let align = UInt64(format.blockAlign)
            dropped = Int((before + UInt64(count)) / align - before / align)
        } else {
            dropped = ring.write(UnsafeRawBufferPointer(rebasing: bytes[..<count]))
        }
        if dropped > 0 { writer.noteDropped(frames: dropped) }
        received.store(before + UInt64(count), ordering: .relaxed)
        if before + UInt64(count) == limitBytes {
            inputEnded.store(true, ordering: .releasing)
            ring.wake()
        }
    }

    /// Lets the writer play out what is queued, drains the PCM and stops the thread.
    public func finish() {
        guard let t = thread else { return }
        stopping.store(true, ordering: .releasing)
        ring.wake()
        t.join()
        thread = nil
        if writer.fatalError != nil {
            writer.discardUnplayed()  // what reached the ring after the writer failed
        } else if !writer.drained {
            device.drain()
        }
    }

    // MARK: Figures (any thread)

    /// Underruns (-EPIPE) recovered.
    public var xruns: UInt64 { writer.xruns }
    /// Suspends (-ESTRPIPE) recovered.
    public var suspends: UInt64 { writer.suspends }
    /// Frames dropped: backlog shed after an underrun or suspend, stale resampled output, a full
    /// ring, what the card held when `snd_pcm_prepare` discarded it, and after a fatal error
    /// everything that could no longer be played.
    public var framesLost: UInt64 { writer.framesLost }
    /// The part of ``framesLost`` the card had taken (`snd_pcm_delay` before `snd_pcm_prepare`).
    public var framesDiscardedByDevice: UInt64 { writer.framesDiscardedByDevice }
    /// Stream frames taken from the engine (up to the frame limit).
    public var framesReceived: UInt64 { received.load(ordering: .relaxed) / UInt64(format.blockAlign) }
    /// How long a suspended card is waited for.
    public var recoveryPolicy: PCMRecoveryPolicy { writer.recoveryPolicy }
    /// Stream frames played (handed to ALSA, through the resampler when compensating).
    public var framesPlayed: UInt64 { writer.framesPlayed }
    /// Frames `snd_pcm_writei` took (as many as ``framesPlayed`` unless resampling).
    public var framesWritten: UInt64 { writer.framesWritten }
    /// Frames the card had queued at the last write (`snd_pcm_delay`), if it says.
    public var bufferFill: Int? { writer.bufferFill }
    /// Frames waiting in the ring.
    public var ringFrames: Int { ring.readableFrames }
    /// The ring's capacity in frames.
    public var ringCapacityFrames: Int { ring.capacityFrames }
    /// The resampling ratio in use (1 when passing through).
    public var resampleRatio: Double { writer.resampleRatio }
    /// libsamplerate failures (`src_process` errors), and the last one.
    public var resamplerErrors: UInt64 { writer.resamplerErrors }
    public var lastResamplerError: ResamplerError? { writer.lastResamplerError }
    /// The errno of an unrecoverable write error, if one stopped the writer.
    public var fatalError: Int32? { writer.fatalError }
    /// With a frame limit: all of it was played and the PCM drained.
    public var isComplete: Bool { writer.isFinished && writer.fatalError == nil }

    // MARK: Writer thread

    private func writerLoop() {
        while true {
            let ending = stopping.load(ordering: .acquiring) || inputEnded.load(ordering: .acquiring)
            switch writer.step(now: wrt_monotonic_ns(), endOfInput: ending) {
            case .wrote:
                continue
            case .needsInput:
                // Write whole periods; the last frames or a finish() wake us to flush the rest.
                ring.wait(forFrames: writer.chunkFrames, until: wrt_monotonic_ns() + 50_000_000) {
                    stopping.load(ordering: .acquiring) || inputEnded.load(ordering: .acquiring)
                }
            case .deviceBusy:
                usleep(1_000)  // ALSA took nothing: try again shortly rather than spin
            case .retry(let at):
                // A suspended card still waking: sleep to the writer's next snd_pcm_resume, 50 ms at
                // most at a time. The writer keeps asking until its policy runs out (5 s by default),
                // so a finish() during a suspend waits up to that before the drain.
                _ = wrt_sleep_until_monotonic_ns(min(at, wrt_monotonic_ns() + 50_000_000))
            case .finished:
                return
            }
        }
    }
}
