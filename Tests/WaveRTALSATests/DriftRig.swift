import Foundation
@testable import WaveRTALSA
import WaveRTEngine

/// The engine, the ALSA writer and a ``SimulatedCard`` stepped together on
/// virtual time, 1 ms at a time: the engine produces a tone at the nominal
/// rate into the ring in 100-byte bursts (cutting frames, as DMA bursts do),
/// the card plays at its own crystal's rate, and the writer does all it can
/// in between, exactly as its thread would. What the card plays is fitted
/// block by block, on every channel.
final class DriftRig {
    let format: StreamFormat
    let card: SimulatedCard
    let ring: FrameRing
    let writer: PCMWriter
    let frequency = 440.0
    private(set) var analyzers: [ToneAnalyzer]
    /// Frames of the card's output not analysed (after an xrun, the restart).
    var skipOutput = 0
    private(set) var now: UInt64 = 0
    private(set) var produced = 0
    private var scratch: [UInt8]
    /// After `settleSeconds`, the largest distance of the card's queue from the
    /// writer's target, and the fullest the ring got.
    var settleSeconds = 60.0
    private(set) var worstFillDeviation = 0
    private(set) var worstRingFrames = 0
    /// The mean resampling ratio after `settleSeconds` (sampled every millisecond).
    private var ratioSum = 0.0
    private var ratioCount = 0
    var meanRatio: Double { ratioCount > 0 ? ratioSum / Double(ratioCount) : .nan }

    init(format: StreamFormat, ppm: Double, bufferFrames: Int = 4096, periodFrames: Int = 1024,
         resampler: (any StreamingResampler)? = nil) throws
    {
        self.format = format
        card = SimulatedCard(format: format, bufferFrames: bufferFrames, periodFrames: periodFrames, ppm: ppm)
        ring = FrameRing(frameBytes: format.blockAlign, capacityFrames: format.sampleRate / 2)
        writer = try PCMWriter(device: card, format: format, ring: ring, compensateDrift: true, deviceTimebase: nil,
                               resampler: resampler)
        // The tone as the card plays it is 440 Hz of its crystal's time; in samples, a touch off nominal.
        let omega = 2 * Double.pi * frequency / card.actualRate
        analyzers = Array(repeating: ToneAnalyzer(blockLength: format.sampleRate / 20, omega: omega), count: format.channels)
        scratch = [UInt8](repeating: 0, count: (format.sampleRate / 1000 + 2) * format.blockAlign)
        card.played = { [unowned self] frames, count in self.hear(frames, count) }
    }

    private func hear(_ frames: UnsafeRawPointer, _ count: Int) {
        let bytes = format.sampleFormat.bytes
        for f in 0..<count {
            if skipOutput > 0 {
                skipOutput -= 1
                continue
            }
            for c in 0..<format.channels {
                analyzers[c].add(SampleCoding.load(at: frames + f * format.blockAlign + c * bytes, as: format.sampleFormat))
            }
        }
    }

    /// Starts the analysis afresh (the block fits restart), skipping `frames` of output.
    func restartAnalysis(skipping frames: Int) {
        skipOutput = frames
        analyzers = analyzers.map { ToneAnalyzer(blockLength: $0.blockLength, omega: $0.omega) }
    }

    /// Runs for `seconds` of virtual time; the writer does nothing while `writerStalled(t)` holds.
    func run(seconds: Double, writerStalled: (UInt64) -> Bool = { _ in false }) {
        let end = now + UInt64(seconds * 1e9)
        let rate = UInt64(format.sampleRate)
        while now < end {
            now += 1_000_000
            // The engine: every frame due at the nominal rate, in bursts that cut frames.
            let due = Int(now * rate / 1_000_000_000) - produced
            let bytes = due * format.blockAlign
            scratch.withUnsafeMutableBytes { writeTone(frames: due, from: produced, into: $0.baseAddress!) }
            var at = 0
            while at < bytes {
                let n = min(100, bytes - at)
                let dropped = scratch.withUnsafeBytes { ring.write(UnsafeRawBufferPointer(rebasing: $0[at..<at + n])) }
                if dropped > 0 { writer.noteDropped(frames: dropped) }
                at += n
            }
            produced += due
            card.advance(to: now)
            if !writerStalled(now) {
                var steps = 0
                while writer.step(now: now, endOfInput: false) == .wrote && steps < 1_000 { steps += 1 }
            }
            if Double(now) / 1e9 > settleSeconds {
                worstFillDeviation = max(worstFillDeviation, abs(card.queued - Int(writer.compensator.targetFrames)))
                worstRingFrames = max(worstRingFrames, ring.readableFrames)
                ratioSum += writer.resampleRatio
                ratioCount += 1
            }
        }
    }

    /// The engine's source: 440 Hz at -12 dBFS on every channel, sample n a pure function of n.
    private func writeTone(frames: Int, from first: Int, into out: UnsafeMutableRawPointer) {
        let amplitude = pow(10, -12.0 / 20)
        for f in 0..<frames {
            let cycles = Double((first + f) * Int(frequency) % format.sampleRate) / Double(format.sampleRate)
            let value = amplitude * sin(2 * .pi * cycles)
            for c in 0..<format.channels {
                SampleCoding.store(value, at: out + f * format.blockAlign + c * format.sampleFormat.bytes, as: format.sampleFormat)
            }
        }
    }

    var worstSNR: Double { analyzers.map(\.worstSNR).min() ?? -.infinity }
    var worstSeam: Double { analyzers.map(\.worstSeam).max() ?? .infinity }
    var blocks: Int { analyzers.map(\.blocks).min() ?? 0 }
    var summary: String {
        String(format: "%@: %d blocks, worst SNR %.1f dB (block %d), worst seam %.2e (block %d), fill deviation %d, ring %d, mean ratio %.7f, underruns %d",
               format.description, blocks, worstSNR, analyzers.first?.worstSNRBlock ?? -1, worstSeam,
               analyzers.first?.worstSeamBlock ?? -1, worstFillDeviation, worstRingFrames, meanRatio, card.underruns)
    }
}

/// libsamplerate, failing every `every`-th call as a broken converter would.
final class FailingResampler: StreamingResampler {
    let inner: AdaptiveResampler
    let every: Int
    private(set) var calls = 0
    private(set) var failures = 0
    var channels: Int { inner.channels }
    init(channels: Int, every: Int) throws {
        inner = try AdaptiveResampler(channels: channels)
        self.every = every
    }
    func process(_ input: UnsafePointer<Float>, inputFrames: Int, ratio: Double, into output: UnsafeMutablePointer<Float>,
                 outputCapacity: Int, endOfInput: Bool) throws(ResamplerError) -> (used: Int, generated: Int)
    {
        calls += 1
        if calls % every == 0 {
            failures += 1
            throw ResamplerError(code: 6)  // SRC_ERR_BAD_SRC_RATIO
        }
        return try inner.process(input, inputFrames: inputFrames, ratio: ratio, into: output, outputCapacity: outputCapacity,
                                 endOfInput: endOfInput)
    }
    func reset() { inner.reset() }
}
