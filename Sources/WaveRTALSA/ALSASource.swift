import CWaveRTShim
import Glibc
import Synchronization
import WaveRTEngine

/// An ALSA capture PCM as the device's input (the ADC side): a reader thread
/// calls `snd_pcm_readi` a period at a time into a lock-free ``FrameRing`` of
/// whole frames, and the emulated DMA takes bytes from it on the machine's
/// real-time pass (``produce(into:)``: no lock, no allocation, no system call).
///
/// The DMA moves bursts, not frames, so ``produce(into:)`` may be asked for a
/// count that ends inside a frame: the rest of that frame is kept and handed
/// out first next time, so every frame arrives whole and in order.
///
/// **Pacing.** A card delivers a period at a time at its crystal's rate; the
/// reader blocks in `snd_pcm_readi` between periods. ALSA's `null` and `file`
/// (`infile`) capture never blocks: the reader then keeps the ring topped up
/// and sleeps while it is full, so the stream, not ALSA, sets the pace and a
/// file is recorded sample for sample.
///
/// **Start.** The reader starts when the hardware starts its input
/// (``prepare(format:)``) and that call returns once the first period is in
/// the ring (or a few periods' time has passed), so the DMA's first bursts
/// find data.
///
/// **Faults, counted, never hidden:** a capture overrun (-EPIPE: the reader was
/// not scheduled in time, or the ring stayed full while a card kept
/// recording) is recovered with `snd_pcm_prepare` and counted in ``xruns``; a
/// suspend (-ESTRPIPE) is resumed with `snd_pcm_resume`, retried within the
/// ``PCMRecoveryPolicy`` (never libasound's `snd_pcm_recover`, which waits on a
/// card that does not wake for ever) and prepared only when it cannot resume,
/// and counted in ``suspends``; a
/// device that is gone (-ENODEV, -EBADFD) stops the reader (``fatalError``); a
/// DMA burst that finds the ring empty gets silence, whole frames of it,
/// counted in ``silenceFrames``.
///
/// Clock leadership: with a ``DeviceTimebase`` the card leads: after each read
/// the source reports the frames the card has captured (read plus
/// `snd_pcm_delay`) with the host time, and the machine runs on that timebase.
public final class ALSASource: AudioSource, @unchecked Sendable {
    public let device: any PCMCaptureDevice
    public let format: StreamFormat
    public let deviceTimebase: DeviceTimebase?
    /// Frames per `snd_pcm_readi`: one period, at least 16 and at most the ALSA
    /// buffer (the `file` plugin's `infile` fills no more than a buffer per read).
    public let chunkFrames: Int
    private let ring: FrameRing
    private let frameBytes: Int
    private var thread: RealTimeThread?
    private let stopping = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)

    // Reader-thread figures, read by any thread.
    private let readFrames = Atomic<UInt64>(0)
    private let xrunCount = Atomic<UInt64>(0)
    private let droppedFrames = Atomic<UInt64>(0)
    private let fatal = Atomic<Int32>(0)
    private let scratch: UnsafeMutableRawPointer

    // DMA-pass state: the part of a frame already handed out, and the frame it belongs to.
    private let carry: UnsafeMutableRawPointer
    private var carryOffset = 0
    private var carryValid = 0
    private let silence = Atomic<UInt64>(0)
    private let produced = Atomic<UInt64>(0)

    /// - Parameters:
    ///   - device: a capture PCM, configured in `format`.
    ///   - ringMilliseconds: how much the reader may hold ahead of the DMA
    ///     (at least two ALSA buffers and four reads are kept, whatever is asked).
    ///   - deviceTimebase: report the card's progress to it (the card leads the clock).
    ///   - recoveryPolicy: how long a suspended card is waited for before it is prepared.
    public init(device: any PCMCaptureDevice, format: StreamFormat, ringMilliseconds: Int = 200,
                deviceTimebase: DeviceTimebase? = nil, recoveryPolicy: PCMRecoveryPolicy = .standard)
    {
        self.device = device
        self.recoveryPolicy = recoveryPolicy
        self.format = format
        self.deviceTimebase = deviceTimebase
        frameBytes = format.blockAlign
        chunkFrames = min(max(16, device.periodFrames), max(16, device.bufferFrames))
        let frames = max(format.sampleRate * ringMilliseconds / 1000, 2 * device.bufferFrames, 4 * chunkFrames)
        ring = FrameRing(frameBytes: format.blockAlign, capacityFrames: frames)
        scratch = .allocate(byteCount: chunkFrames * format.blockAlign, alignment: 64)
        carry = .allocate(byteCount: format.blockAlign, alignment: 16)
    }

    deinit {
        stopReader()
        scratch.deallocate()
        carry.deallocate()
    }

    // MARK: AudioSource

    /// Starts the reader (control path) and waits for its first period.
    public func prepare(format requested: StreamFormat) throws {
        guard requested == format else { throw ALSASourceError.formatMismatch(device: device.name, opened: format, asked: requested) }
        guard startReader() else { return }
        // A few periods of the card's time, and never less than 100 ms: an unpaced PCM answers at once.
        let deadline = wrt_monotonic_ns() + max(100_000_000, 4 * chunkNanoseconds)
        ring.wait(forFrames: min(chunkFrames, ring.capacityFrames), until: deadline) { fatal.load(ordering: .relaxed) != 0 }
    }

    /// Starts the reader now, before the hardware asks for the input, and
    /// tells whether the PCM paces capture like a card: two reads take at
    /// least half a period's time to arrive from a card, while ALSA's `null`
    /// and `file` plugins hand them over at once. What was read stays in the
    /// ring, in order, for the stream.
    public func startAndProbePacing() -> Bool {
        let start = wrt_monotonic_ns()
        guard startReader() else { return false }
        let wanted = UInt64(min(2 * chunkFrames, ring.capacityFrames))
        let deadline = start + max(200_000_000, 4 * chunkNanoseconds)
        while framesRead < wanted && fatal.load(ordering: .relaxed) == 0 && wrt_monotonic_ns() < deadline { usleep(500) }
        guard framesRead >= wanted else { return false }
        return wrt_monotonic_ns() - start >= chunkNanoseconds / 2
    }

    /// One read's worth of the card's time.
    private var chunkNanoseconds: UInt64 { UInt64(chunkFrames) * 1_000_000_000 / UInt64(format.sampleRate) }

    /// Starts the reader thread once; false if it had already been started.
    private func startReader() -> Bool {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        thread = RealTimeThread(configuration: .init(fifoPriority: 60, name: "wavert-alsa-in")) { [unowned self] t in self.readerLoop(t) }
        return true
    }

    /// The next bytes of the input, on the DMA pass: whole frames in order,
    /// silence (counted) where the reader has not delivered yet.
    public func produce(into buffer: UnsafeMutableRawBufferPointer) {
        guard var out = buffer.baseAddress, buffer.count > 0 else { return }
        var left = buffer.count
        // The rest of a frame begun in the previous call.
        if carryValid > 0 {
            let n = min(left, carryValid - carryOffset)
            out.copyMemory(from: carry + carryOffset, byteCount: n)
            out += n
            left -= n
            carryOffset += n
            if carryOffset == carryValid { carryOffset = 0; carryValid = 0 }
        }
        // Whole frames straight from the ring.
        while left >= frameBytes {
            let (start, frames) = ring.peek(maxFrames: left / frameBytes)
            guard frames > 0 else { break }
            out.copyMemory(from: start, byteCount: frames * frameBytes)
            ring.consume(frames: frames)
            out += frames * frameBytes
            left -= frames * frameBytes
        }
        // What the ring could not give: whole frames of silence.
        if left >= frameBytes {
            let frames = left / frameBytes
            memset(out, 0, frames * frameBytes)
            silence.add(UInt64(frames), ordering: .relaxed)
            out += frames * frameBytes
            left -= frames * frameBytes
        }
        // The head of one more frame; its tail goes out next time.
        if left > 0 {
            let (start, frames) = ring.peek(maxFrames: 1)
            if frames == 1 {
                carry.copyMemory(from: start, byteCount: frameBytes)
                ring.consume(frames: 1)
            } else {
                memset(carry, 0, frameBytes)
                silence.add(1, ordering: .relaxed)
            }
            out.copyMemory(from: carry, byteCount: left)
            carryOffset = left
            carryValid = frameBytes
        }
        produced.add(UInt64(buffer.count), ordering: .relaxed)
    }

    /// Stops the reader and capturing (`snd_pcm_drop`).
    public func finish() { stopReader() }

    private func stopReader() {
        guard let t = thread else { return }
        stopping.store(true, ordering: .releasing)
        t.join()
        thread = nil
        device.drop()
    }

    // MARK: Figures (any thread)

    /// Frames `snd_pcm_readi` returned.
    public var framesRead: UInt64 { readFrames.load(ordering: .relaxed) }
    /// Capture overruns (-EPIPE) recovered.
    public var xruns: UInt64 { xrunCount.load(ordering: .relaxed) }
    /// Suspends (-ESTRPIPE) recovered, by resuming or preparing.
    public var suspends: UInt64 { suspendCount.load(ordering: .relaxed) }
    public let recoveryPolicy: PCMRecoveryPolicy
    private let suspendCount = Atomic<UInt64>(0)
    /// Frames read but dropped because the ring was full (not counted as read by the stream).
    public var framesLost: UInt64 { droppedFrames.load(ordering: .relaxed) }
    /// Frames of silence the DMA got because the reader had not delivered yet.
    public var silenceFrames: UInt64 { silence.load(ordering: .relaxed) }
    /// Bytes handed to the DMA.
    public var bytesProduced: UInt64 { produced.load(ordering: .relaxed) }
    /// Frames waiting in the ring.
    public var ringFrames: Int { ring.readableFrames }
    public var ringCapacityFrames: Int { ring.capacityFrames }
    /// The errno of an unrecoverable read error, if one stopped the reader.
    public var fatalError: Int32? {
        let e = fatal.load(ordering: .relaxed)
        return e == 0 ? nil : e
    }

    // MARK: Reader thread

    private func readerLoop(_ t: RealTimeThread) {
        // Sleep while the ring is full: a tenth of a read's duration, at least 0.5 ms.
        let pause = UInt32(max(500, chunkFrames * 100_000 / format.sampleRate))
        while !stopping.load(ordering: .acquiring) {
            if ring.capacityFrames - ring.readableFrames < chunkFrames {
                usleep(pause)
                continue
            }
            // The file plugin leaves the buffer as it was past the end of its infile: silence there, not stale data.
            memset(scratch, 0, chunkFrames * frameBytes)
            let rc = device.read(scratch, count: chunkFrames)
            if rc < 0 {
                if !recover(Int32(-rc)) { return }
                continue
            }
            if rc == 0 {
                usleep(pause)
                continue
            }
            let dropped = ring.write(UnsafeRawBufferPointer(start: scratch, count: rc * frameBytes))
            if dropped > 0 { droppedFrames.add(UInt64(dropped), ordering: .relaxed) }
            let total = readFrames.add(UInt64(rc), ordering: .relaxed).newValue
            if let deviceTimebase, let delay = device.delay() {
                // Frames the card has captured: what was read, plus what waits in its buffer.
                deviceTimebase.report(framesConsumed: total + UInt64(max(0, delay)), atHostTime: wrt_monotonic_ns())
            }
        }
    }

    /// Recovers from a read error; false when it is fatal (the reader stops).
    private func recover(_ error: Int32) -> Bool {
        switch error {
        case EAGAIN, EINTR:
            usleep(1_000)
            return true
        case EPIPE:
            xrunCount.add(1, ordering: .relaxed)
            return prepareAgain()
        case ESTRPIPE:
            suspendCount.add(1, ordering: .relaxed)
            // snd_pcm_resume while the card wakes, a bounded number of times (the reader thread waits; nothing waits on it).
            var attempts = 1
            var rc = device.resume()
            while rc == -EAGAIN && attempts < recoveryPolicy.resumeAttempts && !stopping.load(ordering: .acquiring) {
                _ = wrt_sleep_until_monotonic_ns(wrt_monotonic_ns() + recoveryPolicy.resumeRetryNanoseconds)
                attempts += 1
                rc = device.resume()
            }
            return rc == 0 ? true : prepareAgain()
        default:
            fatal.store(error, ordering: .relaxed)
            return false
        }
    }

    /// `snd_pcm_prepare` after an overrun or a suspend it could not resume from; false (fatal) when even that fails.
    private func prepareAgain() -> Bool {
        let rc = device.prepare()
        if rc < 0 {
            fatal.store(-rc, ordering: .relaxed)
            return false
        }
        return true
    }
}

/// Why the ALSA source cannot feed a stream.
public enum ALSASourceError: Error, Hashable, CustomStringConvertible {
    case formatMismatch(device: String, opened: StreamFormat, asked: StreamFormat)

    public var description: String {
        switch self {
        case .formatMismatch(let device, let opened, let asked):
            "ALSA capture PCM '\(device)' was opened for \(opened), but the hardware runs \(asked)"
        }
    }
}
