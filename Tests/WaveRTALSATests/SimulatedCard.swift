import Glibc
import WaveRTALSA
import WaveRTEngine

/// A sound card on virtual time, behind the ``PCMDevice`` boundary: its own
/// crystal runs `ppm` off nominal, it starts once half its buffer is queued
/// (the sink's start threshold), consumes at its crystal's rate, and
/// `snd_pcm_writei` takes only what fits. Like ALSA: a queue that runs dry is
/// an underrun, the next write fails with -EPIPE until `snd_pcm_prepare`
/// prepares it again (queue emptied). Faults on demand: short writes and -EAGAIN.
final class SimulatedCard: PCMDevice, @unchecked Sendable {
    let name = "simulated card"
    let periodFrames: Int
    let bufferFrames: Int
    let format: StreamFormat
    /// Frames per second the crystal really plays.
    let actualRate: Double
    /// Every `shortWriteEvery`-th write takes at most half of what is offered (0: never).
    var shortWriteEvery = 0
    /// Every `busyEvery`-th write takes nothing and returns -EAGAIN (0: never).
    var busyEvery = 0
    /// Until this host time, `snd_pcm_delay` says 0 (like a plugin that cannot tell yet).
    var silentDelayUntil: UInt64 = 0
    /// When set, `snd_pcm_prepare` fails with this errno (a card unplugged).
    var prepareError: Int32 = 0
    /// What the DAC plays, frame by frame, as it plays it.
    var played: (UnsafeRawPointer, Int) -> Void = { _, _ in }

    private(set) var underruns = 0
    private(set) var writes = 0
    private(set) var framesPlayed = 0
    private var queue: [UInt8]
    private var queueStart = 0       // index of the oldest queued frame in `queue` (frames)
    private(set) var queued = 0      // frames
    private var running = false
    private var runStart: UInt64 = 0
    private var consumedSinceStart = 0
    private var inXrun = false
    private var now: UInt64 = 0

    init(format: StreamFormat, bufferFrames: Int, periodFrames: Int, ppm: Double) {
        self.format = format
        self.bufferFrames = bufferFrames
        self.periodFrames = periodFrames
        actualRate = Double(format.sampleRate) * (1 + ppm * 1e-6)
        queue = [UInt8](repeating: 0, count: bufferFrames * format.blockAlign)
    }

    /// Plays what the crystal has clocked out by host time `t` (ns).
    func advance(to t: UInt64) {
        now = t
        guard running, !inXrun else { return }
        let due = Int(Double(t - runStart) * actualRate / 1e9) - consumedSinceStart
        guard due > 0 else { return }
        let n = min(due, queued)
        take(n)
        consumedSinceStart += n
        if n < due {
            // Ran dry: the card plays on regardless (silence), ALSA flags the underrun.
            underruns += 1
            inXrun = true
            running = false
        }
    }

    private func take(_ n: Int) {
        let align = format.blockAlign
        var left = n
        queue.withUnsafeBytes { q in
            while left > 0 {
                let run = min(left, bufferFrames - queueStart)
                played(q.baseAddress! + queueStart * align, run)
                queueStart = (queueStart + run) % bufferFrames
                left -= run
            }
        }
        queued -= n
        framesPlayed += n
    }

    func write(_ frames: UnsafeRawPointer, count: Int) -> Int {
        writes += 1
        if inXrun { return -Int(EPIPE) }
        if busyEvery > 0, writes % busyEvery == 0 { return -Int(EAGAIN) }
        var n = min(count, bufferFrames - queued)
        if shortWriteEvery > 0, writes % shortWriteEvery == 0 { n = min(n, max(1, count / 2)) }
        if n == 0 { return -Int(EAGAIN) }
        let align = format.blockAlign
        queue.withUnsafeMutableBytes { q in
            var done = 0
            while done < n {
                let at = (queueStart + queued + done) % bufferFrames
                let run = min(n - done, bufferFrames - at)
                (q.baseAddress! + at * align).copyMemory(from: frames + done * align, byteCount: run * align)
                done += run
            }
        }
        queued += n
        if !running, queued >= bufferFrames / 2 {
            running = true
            runStart = now
            consumedSinceStart = 0
        }
        return n
    }

    /// This card never suspends: like ALSA on a PCM that is not suspended, -EBADFD.
    func resume() -> Int32 { -EBADFD }

    func prepare() -> Int32 {
        if prepareError != 0 { return -prepareError }
        // snd_pcm_prepare: the queue is dropped, the card waits for the start threshold again.
        inXrun = false
        queued = 0
        queueStart = 0
        return 0
    }

    /// Like ALSA, an underrun's PCM reports no delay (-EPIPE) until prepared.
    func delay() -> Int? {
        if inXrun { return nil }
        return now < silentDelayUntil ? 0 : queued
    }

    func drain() {
        if queued > 0 { take(queued) }
    }
}
