import Foundation
import Testing
@testable import WaveRTALSA

/// The drift loop against a simulated card a few hundred ppm off, on virtual
/// time: the queue fill must stay bounded (it would grow or drain by 14 frames
/// a second, 52 000 an hour, without compensation).
@Suite struct DriftCompensationTests {
    /// Steps of 10 ms: the engine produces 480 frames, the writer resamples them
    /// by the controller's ratio into the card, the card consumes at its own rate.
    func simulate(ppm: Double, seconds: Int, compensate: Bool) -> (maxDeviation: Double, finalRatio: Double) {
        let rate = 48_000.0, step = 0.01, target = 1_920
        var compensator = DriftCompensator(targetFrames: target, sampleRate: 48_000)
        var queued = Double(target)
        var maxDeviation = 0.0
        var rng = SplitMix(seed: 3)
        for i in 0..<(seconds * 100) {
            let ratio = compensate ? compensator.ratio : 1
            queued += 480 * ratio                       // written into the card
            queued -= rate * (1 + ppm * 1e-6) * step    // consumed by its crystal
            // snd_pcm_delay is read at period granularity: up to one period of jitter.
            let measured = Int(queued) - Int(rng.next() % 480)
            if compensate { _ = compensator.update(queuedFrames: measured, elapsed: step) }
            if i > 60 * 100 { maxDeviation = max(maxDeviation, abs(queued - Double(target))) }
        }
        return (maxDeviation, compensator.ratio)
    }

    @Test(arguments: [300.0, -300.0, 120.0])
    func fillStaysBoundedForAnHour(ppm: Double) {
        let with = simulate(ppm: ppm, seconds: 3_600, compensate: true)
        #expect(with.maxDeviation < 600, "deviation \(with.maxDeviation) frames")
        #expect(abs((with.finalRatio - 1) * 1e6 - ppm) < 15, "ratio \(with.finalRatio)")
        let without = simulate(ppm: ppm, seconds: 3_600, compensate: false)
        #expect(without.maxDeviation > abs(ppm) * 48_000 * 3_600 * 1e-6 * 0.9)
    }

    /// 1 s of a 440 Hz sine through libsamplerate in 480-frame blocks at `ratio`: all it generated.
    func resample(ratio: Double) throws -> [Double] {
        let resampler = try AdaptiveResampler(channels: 1)
        var input = [Float](repeating: 0, count: 480)
        var output = [Float](repeating: 0, count: 1_024)
        var generated: [Double] = []
        var n = 0
        for _ in 0..<100 {
            for i in 0..<480 { input[i] = Float(0.5 * sin(2 * Double.pi * 440 * Double(n + i) / 48_000)) }
            n += 480
            var offset = 0
            while offset < 480 {
                let (used, made) = try input.withUnsafeBufferPointer { inp in
                    try output.withUnsafeMutableBufferPointer { out in
                        try resampler.process(inp.baseAddress! + offset, inputFrames: 480 - offset, ratio: ratio,
                                              into: out.baseAddress!, outputCapacity: 1_024, endOfInput: false)
                    }
                }
                offset += used
                generated += output[0..<made].map(Double.init)
            }
        }
        return generated
    }

    @Test func resamplerFollowsTheRatio() throws {
        let unity = try resample(ratio: 1), fast = try resample(ratio: 1.0003), slow = try resample(ratio: 0.9997)
        // The converter holds back its filter's latency whatever the ratio, so the
        // differences in length are the ratio's alone: 48,000 x 0.0003 = 14.4 frames.
        #expect(abs(Double(fast.count - unity.count) - 14.4) <= 1, "\(fast.count) vs \(unity.count) frames")
        #expect(abs(Double(slow.count - unity.count) + 14.4) <= 1, "\(slow.count) vs \(unity.count) frames")
        // The pitch in samples follows too: 440 Hz becomes 440 / ratio per nominal sample.
        let omega = 2 * Double.pi * 440 / 48_000
        for (signal, ratio) in [(unity, 1.0), (fast, 1.0003), (slow, 0.9997)] {
            let fit = SineFit(signal[1_000..<(signal.count - 1_000)], omega: omega, iterations: 6)
            #expect(abs(fit.omega / omega * ratio - 1) < 2e-5, "ratio \(ratio): fitted \(fit.omega / omega)")
            #expect(fit.snrDB > 80, "ratio \(ratio): SNR \(fit.snrDB) dB")
        }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): reproducible jitter, the same on every machine.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
