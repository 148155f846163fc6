import CWaveRTShim
import Glibc
import Synchronization
import WaveRTEngine
import WaveRTPort

/// The engine's output into ALSA: what the DMA read leaves the engine's
/// real-time thread through a lock-free ``ByteRing`` and reaches the PCM on a
/// dedicated writer thread (which may block in `snd_pcm_writei`; the engine
/// never does).
///
/// Errors are recovered on the writer thread, never on the engine's:
/// an underrun (-EPIPE) is counted, recovered, and the backlog the engine built
/// up meanwhile is dropped back to the target fill (those frames are counted as
/// lost); a suspend (-ESTRPIPE) is recovered too, however long `snd_pcm_recover`
/// blocks.
///
/// Clock leadership:
/// - system: the engine runs on the monotonic clock. Against a pacing card the
///   two crystals drift, so when the card reports a queue (`snd_pcm_delay`), a
///   ``DriftCompensator`` steers an adaptive resampler to hold the fill at its
///   target. Against a non-pacing PCM (`null`, `file`) nothing drifts and the
///   bytes pass through untouched, sample for sample.
/// - device: the card leads: after each write the sink reports the frames the
///   card has consumed to a ``DeviceTimebase`` that the engine runs on.
public final class ALSASink: AudioSink, @unchecked Sendable {
    public let device: any PCMDevice
    public let format: StreamFormat
    public let deviceTimebase: DeviceTimebase?
    public let compensateDrift: Bool
    private let ring: ByteRing
    private let blockAlign: Int
    private var thread: RealTimeThread?
    private let stopping = Atomic<Bool>(false)

    private let xrunCount = Atomic<UInt64>(0)
    private let suspendCount = Atomic<UInt64>(0)
    private let lost = Atomic<UInt64>(0)
    private let written = Atomic<UInt64>(0)
    private let queued = Atomic<Int>(-1)
    private let ratioBits = Atomic<UInt64>(1.0.bitPattern)
    private let fatal = Atomic<Int32>(0)

    // Writer-thread buffers, allocated up front.
    private let floatIn: UnsafeMutablePointer<Float>
    private let floatOut: UnsafeMutablePointer<Float>
    private let converted: UnsafeMutableRawPointer
    private let chunkFrames: Int
    private let resampler: AdaptiveResampler?
    private var compensator: DriftCompensator

    /// - Parameters:
    ///   - ringMilliseconds: how much the engine may get ahead of the writer.
    ///   - compensateDrift: resample to follow a pacing card (system clock only).
    public init(device: any PCMDevice, format: StreamFormat, ringMilliseconds: Int = 500,
                compensateDrift: Bool = true, deviceTimebase: DeviceTimebase? = nil) throws(ALSAError)
    {
        self.device = device
        self.format = format
        self.deviceTimebase = deviceTimebase
        self.compensateDrift = compensateDrift && deviceTimebase == nil
        blockAlign = format.blockAlign
        ring = ByteRing(capacity: max(format.bytesPerSecond * ringMilliseconds / 1000, 4 * device.bufferFrames * format.blockAlign))
        chunkFrames = max(64, device.periodFrames)
        let samples = (chunkFrames * 2 + 64) * format.channels
        floatIn = .allocate(capacity: samples)
        floatOut = .allocate(capacity: samples)
        converted = .allocate(byteCount: samples * 4, alignment: 16)
        resampler = self.compensateDrift ? try AdaptiveResampler(channels: format.channels) : nil
        compensator = DriftCompensator(targetFrames: max(device.bufferFrames / 2, device.periodFrames), sampleRate: format.sampleRate)
    }

    deinit {
        floatIn.deallocate()
        floatOut.deallocate()
        converted.deallocate()
    }

    // MARK: AudioSink

    public func prepare(format: StreamFormat) throws {
        guard thread == nil else { return }
        // Below the engine's priority: the engine must never wait on ALSA.
        thread = RealTimeThread(configuration: .init(fifoPriority: 60, name: "wavert-alsa")) { [unowned self] t in self.writerLoop(t) }
    }

    /// Engine thread: hands the bytes to the writer. Never blocks; a full ring drops and counts.
    public func consume(_ bytes: UnsafeRawBufferPointer) {
        let n = ring.write(bytes)
        if n < bytes.count { lost.add(UInt64((bytes.count - n) / blockAlign), ordering: .relaxed) }
    }

    /// Lets the writer play out what is queued, drains the PCM and stops the thread.
    public func finish() {
        guard let t = thread else { return }
        stopping.store(true, ordering: .releasing)
        ring.wake()
        t.join()
        thread = nil
        device.drain()
    }

    // MARK: Figures (any thread)

    /// Underruns (-EPIPE) recovered.
    public var xruns: UInt64 { xrunCount.load(ordering: .relaxed) }
    /// Suspends (-ESTRPIPE) recovered.
    public var suspends: UInt64 { suspendCount.load(ordering: .relaxed) }
    /// Frames dropped: backlog shed after an underrun, or a full ring.
    public var framesLost: UInt64 { lost.load(ordering: .relaxed) }
    /// Frames handed to ALSA.
    public var framesWritten: UInt64 { written.load(ordering: .relaxed) }
    /// Frames the card had queued at the last write (`snd_pcm_delay`), if it says.
    public var bufferFill: Int? {
        let q = queued.load(ordering: .relaxed)
        return q < 0 ? nil : q
    }
    /// Bytes waiting in the ring.
    public var ringFill: Int { ring.readable }
    /// The resampling ratio in use (1 when passing through).
    public var resampleRatio: Double { Double(bitPattern: ratioBits.load(ordering: .relaxed)) }
    /// The errno of an unrecoverable write error, if one stopped the writer.
    public var fatalError: Int32? {
        let e = fatal.load(ordering: .relaxed)
        return e == 0 ? nil : e
    }

    // MARK: Writer thread

    private func writerLoop(_ t: RealTimeThread) {
        var lastMeasure = wrt_monotonic_ns()
        while true {
            let available = ring.readable / blockAlign
            if available == 0 && stopping.load(ordering: .acquiring) { return }
            if available < chunkFrames && !stopping.load(ordering: .acquiring) {
                // Write whole periods; a finish() wakes us to flush the rest.
                ring.wait(forAtLeast: chunkFrames * blockAlign, until: wrt_monotonic_ns() + 50_000_000)
                continue
            }
            let piece = ring.peek(limit: min(available, chunkFrames) * blockAlign)
            let frames = piece.count / blockAlign
            guard frames > 0 else {
                // The contiguous run ends inside a frame: never, since the ring is frame-aligned.
                ring.consume(piece.count)
                continue
            }
            let rc: Int
            var usedFrames = frames
            if let resampler, compensator.ratio != 1 {
                toFloat(piece.baseAddress!, frames: frames)
                let (used, generated) = resampler.process(floatIn, inputFrames: frames, ratio: compensator.ratio,
                                                          into: floatOut, outputCapacity: chunkFrames * 2)
                usedFrames = used
                fromFloat(frames: generated)
                rc = generated > 0 ? writeAll(converted, frames: generated) : 0
            } else {
                rc = device.write(piece.baseAddress!, count: frames)
                usedFrames = max(0, rc)  // only what ALSA took leaves the ring
                if rc == 0 {
                    usleep(1_000)  // took nothing: try again shortly rather than spin
                    continue
                }
            }
            if rc < 0 {
                if handle(error: Int32(-rc)) { continue }
                return
            }
            ring.consume(usedFrames * blockAlign)
            written.add(UInt64(rc), ordering: .relaxed)  // frames ALSA took (resampled ones, when compensating)
            observe(&lastMeasure)
        }
    }

    /// Writes a whole converted block (resampling path); returns frames or -errno.
    private func writeAll(_ data: UnsafeRawPointer, frames: Int) -> Int {
        var done = 0
        while done < frames {
            let rc = device.write(data + done * blockAlign, count: frames - done)
            if rc < 0 { return rc }
            done += rc
        }
        return frames
    }

    /// Recovers from a write error; false when the error is fatal.
    private func handle(error: Int32) -> Bool {
        switch error {
        case EPIPE:
            xrunCount.add(1, ordering: .relaxed)
            _ = device.recover(-EPIPE)
            // The engine kept producing while the card starved: shed the backlog
            // beyond the target, or the stream would play that much later from now on.
            let keep = Int(compensator.targetFrames) * blockAlign
            let excess = (ring.readable - keep) / blockAlign * blockAlign
            if excess > 0 {
                ring.consume(excess)
                lost.add(UInt64(excess / blockAlign), ordering: .relaxed)
            }
            return true
        case ESTRPIPE:
            suspendCount.add(1, ordering: .relaxed)
            while device.recover(-ESTRPIPE) == -EAGAIN { usleep(100_000) }
            return true
        case EAGAIN:
            usleep(1_000)
            return true
        default:
            fatal.store(error, ordering: .relaxed)
            return false
        }
    }

    /// After a write: the card's queue, the drift loop, the device timebase.
    private func observe(_ last: inout UInt64) {
        guard let delay = device.delay() else { return }
        queued.store(delay, ordering: .relaxed)
        let now = wrt_monotonic_ns()
        if let deviceTimebase {
            let consumed = Int64(written.load(ordering: .relaxed)) - Int64(delay)
            if consumed > 0 { deviceTimebase.report(framesConsumed: UInt64(consumed), atHostTime: now) }
        } else if compensateDrift, delay > 0 {
            // Only a card that reports a queue paces, and only then can it drift.
            let ratio = compensator.update(queuedFrames: delay, elapsed: Double(now - last) / 1e9)
            ratioBits.store(ratio.bitPattern, ordering: .relaxed)
        }
        last = now
    }

    /// Interleaved samples to Float for the resampler, with the port layer's coding.
    private func toFloat(_ src: UnsafeRawPointer, frames: Int) {
        let bytes = format.sampleFormat.bytes
        for i in 0..<(frames * format.channels) {
            floatIn[i] = Float(SampleCoding.load(at: src + i * bytes, as: format.sampleFormat))
        }
    }

    /// The resampler's Float output back to the stream's samples (clipped).
    private func fromFloat(frames: Int) {
        let bytes = format.sampleFormat.bytes
        for i in 0..<(frames * format.channels) {
            SampleCoding.store(Double(floatOut[i]), at: converted + i * bytes, as: format.sampleFormat)
        }
    }
}
