import Glibc
import Synchronization
import WaveRTEngine

/// The ALSA writer thread's work, one step at a time: whole frames from the
/// ``FrameRing`` to `snd_pcm_writei`, either untouched or through the
/// drift-compensating resampler. ``ALSASink`` runs it on its writer thread;
/// tests step it on virtual time against a simulated card. Every method but
/// the figures belongs to that one thread: no locks, no allocation after init.
///
/// Frames are never cut, never fed twice, never silently lost:
/// - straight through, only what `snd_pcm_writei` took leaves the ring;
/// - through the resampler, input leaves the ring once the resampler has used
///   it, and the output waits in a buffer until ALSA has taken all of it, so
///   a short or failed write is retried with the same output, never by
///   converting the same input again;
/// - frames shed after an underrun, or output that could no longer be played,
///   are counted in ``framesLost``; resampler failures in ``resamplerErrors``.
///
/// Faults at the PCM, as `snd_pcm_writei` reports them:
/// - -EPIPE (underrun): `snd_pcm_prepare`; what the card still held
///   (`snd_pcm_delay`, when it says) and the backlog beyond the target are lost.
/// - -ESTRPIPE (suspended): `snd_pcm_resume` until it stops saying -EAGAIN,
///   bounded by a ``PCMRecoveryPolicy`` and waited out by the caller
///   (``Progress/retry(at:)``); a card that cannot resume is prepared instead.
///   The backlog built up meanwhile is shed like after an underrun.
/// - -ENODEV, -EBADFD or anything else (the device is gone): the writer stops
///   with ``fatalError``; what the ring still holds, and whatever reaches the
///   sink afterwards, is lost and counted.
///
/// Drift compensation (system clock, against a card that paces): the stream
/// goes straight through until the card first reports a queue (`snd_pcm_delay`
/// > 0; ALSA's `null` and `file` never do, so they get every sample untouched).
/// From then on every frame goes through the resampler, at ratio 1 or not, so
/// switching ratios never clicks; the resampler starts primed with the last
/// frames written straight, so the seam is continuous too.
final class PCMWriter: @unchecked Sendable {
    enum Progress: Equatable {
        /// Something reached ALSA (or the resampler): call again at once.
        case wrote
        /// Fewer than ``chunkFrames`` frames queued, and more are to come.
        case needsInput
        /// ALSA took nothing (-EAGAIN, a full non-blocking device): try again shortly.
        case deviceBusy
        /// The card is suspended and still waking (`snd_pcm_resume` said -EAGAIN):
        /// call again at this host time (ns), not before.
        case retry(at: UInt64)
        /// Everything was written and drained, or a fatal error stopped the writer.
        case finished
    }

    private enum Mode { case direct, resampling }

    let device: any PCMDevice
    let format: StreamFormat
    let ring: FrameRing
    /// Frames written per call: one ALSA period (at least 64).
    let chunkFrames: Int
    let deviceTimebase: DeviceTimebase?
    /// Whether the writer resamples once the card turns out to pace.
    let compensatesDrift: Bool
    private let blockAlign: Int

    // Figures: written here, read by any thread.
    private let xrunCount = Atomic<UInt64>(0)
    private let suspendCount = Atomic<UInt64>(0)
    private let lost = Atomic<UInt64>(0)
    private let streamFrames = Atomic<UInt64>(0)
    private let deviceFrames = Atomic<UInt64>(0)
    private let queued = Atomic<Int>(-1)
    private let ratioBits = Atomic<UInt64>(1.0.bitPattern)
    private let fatal = Atomic<Int32>(0)
    private let resamplerFailures = Atomic<UInt64>(0)
    private let lastResamplerFailure = Atomic<Int32>(0)
    private let resampling = Atomic<Bool>(false)
    private let resets = Atomic<UInt64>(0)
    private let done = Atomic<Bool>(false)
    private let drainedFlag = Atomic<Bool>(false)
    private let discardedByDevice = Atomic<UInt64>(0)

    /// How long a suspended card is waited for.
    let recoveryPolicy: PCMRecoveryPolicy
    // Writer-thread state while the card is suspended: resume calls that said -EAGAIN, and when to ask again.
    private var suspended = false
    private var resumeAttempts = 0
    private var nextResume: UInt64 = 0

    // Writer-thread state.
    private var mode = Mode.direct
    private(set) var compensator: DriftCompensator
    private let resampler: (any StreamingResampler)?
    private let floatIn: UnsafeMutablePointer<Float>
    private let floatOut: UnsafeMutablePointer<Float>
    private let bufferFrames: Int
    private let converted: UnsafeMutableRawPointer
    private var pendingStart = 0      // resampled frames ALSA has not taken yet: [start, start + count)
    private var pendingFrames = 0
    private var outputToDiscard = 0   // resampler output that stands for the primed history
    private var tailFlushed = false
    private var lastObservation: UInt64?
    private var writtenSinceStart = 0  // frames ALSA took since the stream (re)started
    // The last frames written straight: the resampler's history when it takes over.
    private static let historyCapacity = 128
    private let history: UnsafeMutableRawPointer
    private var historyFrames = 0

    init(device: any PCMDevice, format: StreamFormat, ring: FrameRing, compensateDrift: Bool,
         deviceTimebase: DeviceTimebase?, resampler: (any StreamingResampler)? = nil,
         recoveryPolicy: PCMRecoveryPolicy = .standard) throws(ALSAError)
    {
        precondition(ring.frameBytes == format.blockAlign, "the ring must hold frames of the stream's format")
        self.device = device
        self.recoveryPolicy = recoveryPolicy
        self.format = format
        self.ring = ring
        self.deviceTimebase = deviceTimebase
        compensatesDrift = compensateDrift && deviceTimebase == nil
        blockAlign = format.blockAlign
        chunkFrames = max(64, device.periodFrames)
        bufferFrames = 2 * max(chunkFrames, Self.historyCapacity) + 64
        floatIn = .allocate(capacity: bufferFrames * format.channels)
        floatOut = .allocate(capacity: bufferFrames * format.channels)
        converted = .allocate(byteCount: bufferFrames * format.blockAlign, alignment: 16)
        history = .allocate(byteCount: Self.historyCapacity * format.blockAlign, alignment: 16)
        if compensatesDrift, let resampler {
            self.resampler = resampler
        } else if compensatesDrift {
            self.resampler = try AdaptiveResampler(channels: format.channels)
        } else {
            self.resampler = nil
        }
        compensator = DriftCompensator(targetFrames: max(device.bufferFrames / 2, device.periodFrames), sampleRate: format.sampleRate)
    }

    deinit {
        floatIn.deallocate()
        floatOut.deallocate()
        converted.deallocate()
        history.deallocate()
    }

    // MARK: Figures (any thread)

    /// Underruns (-EPIPE) recovered.
    var xruns: UInt64 { xrunCount.load(ordering: .relaxed) }
    /// Suspends (-ESTRPIPE) recovered.
    var suspends: UInt64 { suspendCount.load(ordering: .relaxed) }
    /// Frames dropped: backlog shed after an underrun or a suspend, resampled output an underrun made
    /// stale, a full ring, what the card held when prepared (``framesDiscardedByDevice``), and after a
    /// fatal error everything that could no longer be played.
    var framesLost: UInt64 { lost.load(ordering: .relaxed) }
    /// The part of ``framesLost`` that `snd_pcm_writei` had taken: queued in the card
    /// (`snd_pcm_delay`) when `snd_pcm_prepare` discarded them. Also counted in ``framesPlayed``.
    var framesDiscardedByDevice: UInt64 { discardedByDevice.load(ordering: .relaxed) }
    /// Stream frames played: taken by ALSA straight, or by the resampler on their way to it.
    var framesPlayed: UInt64 { streamFrames.load(ordering: .relaxed) }
    /// Frames `snd_pcm_writei` took (differs from ``framesPlayed`` only when resampling).
    var framesWritten: UInt64 { deviceFrames.load(ordering: .relaxed) }
    /// Frames the card had queued at the last write (`snd_pcm_delay`), if it says.
    var bufferFill: Int? {
        let q = queued.load(ordering: .relaxed)
        return q < 0 ? nil : q
    }
    /// The resampling ratio in use (1 when passing through).
    var resampleRatio: Double { Double(bitPattern: ratioBits.load(ordering: .relaxed)) }
    /// Whether the stream now goes through the resampler.
    var isResampling: Bool { resampling.load(ordering: .relaxed) }
    /// `src_process` failures (each chunk concerned went out unconverted instead).
    var resamplerErrors: UInt64 { resamplerFailures.load(ordering: .relaxed) }
    /// The last one, if any.
    var lastResamplerError: ResamplerError? {
        let code = lastResamplerFailure.load(ordering: .relaxed)
        return code == 0 ? nil : ResamplerError(code: code)
    }
    /// Times the resampler was reset after an underrun.
    var resamplerResets: UInt64 { resets.load(ordering: .relaxed) }
    /// The errno of an unrecoverable write error, if one stopped the writer.
    var fatalError: Int32? {
        let e = fatal.load(ordering: .relaxed)
        return e == 0 ? nil : e
    }
    /// Whether the writer has finished (all written and drained, or stopped by a fatal error).
    var isFinished: Bool { done.load(ordering: .acquiring) }
    /// Whether the writer drained the PCM itself.
    var drained: Bool { drainedFlag.load(ordering: .acquiring) }

    /// Engine thread: frames the ring had no room for.
    func noteDropped(frames: Int) { lost.add(UInt64(frames), ordering: .relaxed) }

    /// After the writer thread has stopped (joined), once the writer failed:
    /// the frames left in the ring will never play; they leave it, counted lost.
    func discardUnplayed() {
        guard fatalError != nil else { return }
        let left = ring.readableFrames
        if left > 0 {
            ring.consume(frames: left)
            lost.add(UInt64(left), ordering: .relaxed)
        }
    }

    // MARK: Writer thread

    /// Does the next piece of work at host time `now` (ns). `endOfInput`: no
    /// more frames will reach the ring, so write what is queued however little,
    /// flush the resampler, drain the PCM and finish.
    func step(now: UInt64, endOfInput: Bool) -> Progress {
        if done.load(ordering: .relaxed) { return .finished }
        if suspended { return now < nextResume ? .retry(at: nextResume) : resume(now: now) }
        if pendingFrames > 0 { return writePending(now: now) }
        let available = ring.readableFrames
        if available == 0 {
            return endOfInput ? finishOutput() : .needsInput
        }
        if available < chunkFrames && !endOfInput { return .needsInput }
        let (start, frames) = ring.peek(maxFrames: chunkFrames)
        switch mode {
        case .direct: return writeDirect(start, frames: frames, now: now)
        case .resampling: return resample(start, frames: frames, now: now)
        }
    }

    private func writeDirect(_ start: UnsafeRawPointer, frames: Int, now: UInt64) -> Progress {
        let rc = device.write(start, count: frames)
        if rc < 0 { return handle(error: Int32(-rc), now: now) }
        if rc == 0 { return .deviceBusy }
        if compensatesDrift { remember(start, frames: rc) }
        ring.consume(frames: rc)  // only what ALSA took leaves the ring
        streamFrames.add(UInt64(rc), ordering: .relaxed)
        deviceFrames.add(UInt64(rc), ordering: .relaxed)
        writtenSinceStart += rc
        observe(now: now)
        return .wrote
    }

    private func resample(_ start: UnsafeRawPointer, frames: Int, now: UInt64) -> Progress {
        guard let resampler else { return writeDirect(start, frames: frames, now: now) }
        toFloat(start, frames: frames)
        let used: Int, generated: Int
        do {
            (used, generated) = try resampler.process(floatIn, inputFrames: frames, ratio: compensator.ratio,
                                                      into: floatOut, outputCapacity: bufferFrames, endOfInput: false)
        } catch {
            // Counted, never swallowed: this chunk goes out unconverted (nothing is
            // lost), and the resampler takes over again primed with it.
            noteResamplerFailure(error)
            mode = .direct
            resampling.store(false, ordering: .relaxed)
            return writeDirect(start, frames: frames, now: now)
        }
        ring.consume(frames: used)  // the resampler has it now: it is never fed again
        streamFrames.add(UInt64(used), ordering: .relaxed)
        queueOutput(generated)
        if pendingFrames > 0 { return writePending(now: now) }
        return used > 0 ? .wrote : .deviceBusy  // took nothing: look again shortly rather than spin
    }

    /// Writes resampled output ALSA has not taken yet.
    private func writePending(now: UInt64) -> Progress {
        let rc = device.write(converted + pendingStart * blockAlign, count: pendingFrames)
        if rc < 0 { return handle(error: Int32(-rc), now: now) }
        if rc == 0 { return .deviceBusy }
        pendingStart += rc
        pendingFrames -= rc
        deviceFrames.add(UInt64(rc), ordering: .relaxed)
        writtenSinceStart += rc
        observe(now: now)
        return .wrote
    }

    /// End of input with the ring empty: the resampler's held-back tail, then drain.
    private func finishOutput() -> Progress {
        if mode == .resampling, let resampler, !tailFlushed {
            tailFlushed = true
            do {
                let (_, generated) = try resampler.process(floatIn, inputFrames: 0, ratio: compensator.ratio,
                                                           into: floatOut, outputCapacity: bufferFrames, endOfInput: true)
                queueOutput(generated)
            } catch {
                noteResamplerFailure(error)
            }
            if pendingFrames > 0 { return .wrote }
        }
        device.drain()  // the last period plays out; the file plugin writes its last bytes
        drainedFlag.store(true, ordering: .releasing)
        done.store(true, ordering: .releasing)
        return .finished
    }

    /// Resampler output to the stream's samples, minus what stands for primed history.
    private func queueOutput(_ generated: Int) {
        let skip = min(outputToDiscard, generated)
        outputToDiscard -= skip
        fromFloat(from: skip, frames: generated - skip)
        pendingStart = 0
        pendingFrames = generated - skip
    }

    private func noteResamplerFailure(_ error: ResamplerError) {
        resamplerFailures.add(1, ordering: .relaxed)
        lastResamplerFailure.store(error.code, ordering: .relaxed)
        resampler?.reset()
    }

    /// Recovers from a write error; `.finished` when it is fatal.
    private func handle(error: Int32, now: UInt64) -> Progress {
        switch error {
        case EPIPE:
            xrunCount.add(1, ordering: .relaxed)
            // snd_pcm_recover(pcm, -EPIPE, 1) is snd_pcm_prepare alone; called directly so
            // that what the card still held is counted before the prepare discards it.
            if let failed = prepareAgain() { return fail(failed) }
            return .wrote
        case ESTRPIPE:
            suspendCount.add(1, ordering: .relaxed)
            suspended = true
            resumeAttempts = 0
            return resume(now: now)
        case EAGAIN, EINTR:
            return .deviceBusy
        default:
            return fail(error)
        }
    }

    /// `snd_pcm_resume` once; -EAGAIN: again after the policy's interval, until its
    /// attempts are spent; then, or when the card cannot resume, `snd_pcm_prepare`.
    private func resume(now: UInt64) -> Progress {
        let rc = device.resume()
        if rc == -EAGAIN {
            resumeAttempts += 1
            if resumeAttempts < recoveryPolicy.resumeAttempts {
                nextResume = now &+ recoveryPolicy.resumeRetryNanoseconds
                return .retry(at: nextResume)
            }
        }
        suspended = false
        if rc == 0 {
            // The card plays on from where it stopped: nothing it held is lost,
            // but the engine kept producing meanwhile.
            shedBacklog()
            restartMeasurement()
            return .wrote
        }
        if let failed = prepareAgain() { return fail(failed) }
        return .wrote
    }

    /// `snd_pcm_prepare` after an underrun or a suspend the card could not resume
    /// from; the errno when even that fails (a PCM that cannot be prepared would
    /// fail every write: the writer stops rather than spin).
    private func prepareAgain() -> Int32? {
        // In an xrun or suspended state ALSA's snd_pcm_delay fails; a plugin that
        // still tells what it holds loses exactly that much to the prepare.
        let held = max(0, device.delay() ?? 0)
        let rc = device.prepare()
        if rc < 0 { return -rc }
        if held > 0 {
            lost.add(UInt64(held), ordering: .relaxed)
            discardedByDevice.add(UInt64(held), ordering: .relaxed)
        }
        shedBacklog()
        // The card played silence meanwhile: what was resampled for before the
        // gap is stale, and the resampler starts over from that silence.
        if pendingFrames > 0 {
            lost.add(UInt64(pendingFrames), ordering: .relaxed)
            pendingFrames = 0
        }
        historyFrames = 0
        if mode == .resampling, let resampler {
            resampler.reset()
            outputToDiscard = 0
            resets.add(1, ordering: .relaxed)
        }
        restartMeasurement()
        return nil
    }

    /// The engine kept producing while the card did not play: shed the backlog
    /// beyond the target, or the stream would play that much later from now on.
    private func shedBacklog() {
        let excess = ring.readableFrames - max(device.bufferFrames / 2, device.periodFrames)
        if excess > 0 {
            ring.consume(frames: excess)
            lost.add(UInt64(excess), ordering: .relaxed)
        }
    }

    /// The card starts over: its fill says nothing about drift until it runs again.
    private func restartMeasurement() {
        compensator.restartMeasurement()
        lastObservation = nil
        writtenSinceStart = 0
    }

    /// Stops the writer for good on an unrecoverable errno.
    private func fail(_ error: Int32) -> Progress {
        fatal.store(error, ordering: .relaxed)
        done.store(true, ordering: .releasing)
        // The writer thread is the ring's reader: what it holds will never play.
        discardUnplayed()
        return .finished
    }

    /// After a write: the card's queue, the drift loop, the device timebase.
    private func observe(now: UInt64) {
        guard let delay = device.delay() else { return }
        queued.store(delay, ordering: .relaxed)
        if let deviceTimebase {
            let consumed = Int64(deviceFrames.load(ordering: .relaxed)) - Int64(delay)
            if consumed > 0 { deviceTimebase.report(framesConsumed: UInt64(consumed), atHostTime: now) }
            return
        }
        guard compensatesDrift else { return }
        if mode == .direct {
            // Only a card that reports a queue paces, and only then can it drift.
            guard delay > 0 else { return }
            enterResampling()
        }
        // Until the card runs (it starts at half its buffer: ALSAPCM's start
        // threshold) its queue only grows with what is written and says nothing
        // about drift; steering on it would glide the pitch at every start.
        guard writtenSinceStart >= device.bufferFrames / 2 else { return }
        // The first look at a running card sets the fill to hold (see DriftCompensator.hold).
        if lastObservation == nil { compensator.hold(at: delay) }
        let elapsed = lastObservation.map { Double(now &- $0) / 1e9 } ?? 0
        lastObservation = now
        ratioBits.store(compensator.update(queuedFrames: delay, elapsed: elapsed).bitPattern, ordering: .relaxed)
    }

    /// From now on every frame goes through the resampler. It first takes the
    /// last frames written straight, at ratio 1, and the output standing for
    /// them is discarded: its filter then holds the real past, and the first
    /// resampled frame follows the last straight one without a seam.
    private func enterResampling() {
        guard let resampler else { return }
        resampler.reset()
        mode = .resampling
        resampling.store(true, ordering: .relaxed)
        outputToDiscard = 0
        tailFlushed = false
        guard historyFrames > 0 else { return }
        toFloat(history, frames: historyFrames)
        var offset = 0, generated = 0
        do {
            while offset < historyFrames {
                let (used, made) = try resampler.process(floatIn + offset * format.channels, inputFrames: historyFrames - offset,
                                                         ratio: 1, into: floatOut, outputCapacity: bufferFrames, endOfInput: false)
                offset += used
                generated += made
                if used == 0 { break }
            }
        } catch {
            noteResamplerFailure(error)  // primed with silence instead: the seam may click, and it is counted
            return
        }
        outputToDiscard = max(0, historyFrames - generated)
    }

    /// Keeps the last frames written straight (the resampler's history if it takes over).
    private func remember(_ start: UnsafeRawPointer, frames: Int) {
        let capacity = Self.historyCapacity
        if frames >= capacity {
            history.copyMemory(from: start + (frames - capacity) * blockAlign, byteCount: capacity * blockAlign)
            historyFrames = capacity
            return
        }
        let keep = min(historyFrames, capacity - frames)
        if keep > 0 {
            history.copyMemory(from: history + (historyFrames - keep) * blockAlign, byteCount: keep * blockAlign)
        }
        (history + keep * blockAlign).copyMemory(from: start, byteCount: frames * blockAlign)
        historyFrames = keep + frames
    }

    /// Interleaved samples to Float for the resampler, with the port layer's coding.
    private func toFloat(_ source: UnsafeRawPointer, frames: Int) {
        let bytes = format.sampleFormat.bytes
        for i in 0..<(frames * format.channels) {
            floatIn[i] = Float(SampleCoding.load(at: source + i * bytes, as: format.sampleFormat))
        }
    }

    /// Resampler output from frame `first` back to the stream's samples (clipped), at the start of `converted`.
    private func fromFloat(from first: Int, frames: Int) {
        let bytes = format.sampleFormat.bytes
        let offset = first * format.channels
        for i in 0..<(frames * format.channels) {
            SampleCoding.store(Double(floatOut[offset + i]), at: converted + i * bytes, as: format.sampleFormat)
        }
    }
}
