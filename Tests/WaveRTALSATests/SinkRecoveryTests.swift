import Foundation
import Glibc
import Synchronization
import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine
import WaveRTPort
import WaveRTExamples
@testable import WaveRTALSA

/// A real ALSA PCM with a fault injected at the boundary: ALSA's `null` and
/// `file` plugins never underrun (they swallow any amount at once), so the
/// card's stall is simulated here and everything after it is the real sink
/// recovering through real `snd_pcm_recover`.
final class StallingPCM: PCMDevice, @unchecked Sendable {
    let inner: ALSAPCM
    let stallAtWrite: Int
    let stallMicroseconds: UInt32
    private var writes = 0
    init(_ inner: ALSAPCM, stallAtWrite: Int, stallMicroseconds: UInt32) {
        self.inner = inner
        self.stallAtWrite = stallAtWrite
        self.stallMicroseconds = stallMicroseconds
    }
    var name: String { inner.name }
    var periodFrames: Int { inner.periodFrames }
    var bufferFrames: Int { inner.bufferFrames }
    func write(_ frames: UnsafeRawPointer, count: Int) -> Int {
        writes += 1
        if writes == stallAtWrite {
            usleep(stallMicroseconds)  // the card starves meanwhile...
            return -Int(EPIPE)         // ...and reports the underrun
        }
        return inner.write(frames, count: count)
    }
    func recover(_ error: Int32) -> Int32 { inner.recover(error) }
    func delay() -> Int? { inner.delay() }
    func drain() { inner.drain() }
}

@Suite(.serialized) struct SinkRecoveryTests {
    init() { ALSATestEnvironment.setUp() }

    @Test func aForcedUnderrunIsRecoveredAndCounted() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wavert-xrun-\(UUID()).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pcm = try ALSAPCM(name: "wavert_capture:FILE=\(path)", configuration: ALSAConfiguration(text: ALSAConfiguration.wavertText))
        try pcm.configure(format: .cd48k, latencyMicroseconds: 40_000)
        let sink = try ALSASink(device: StallingPCM(pcm, stallAtWrite: 10, stallMicroseconds: 200_000), format: .cd48k)
        let example = try #require(ExampleMiniport.named("simple"))
        let engine = AudioEngine()
        let session = try MiniportSession(
            miniport: example.make(),
            configuration: SessionConfiguration(format: .cd48k, bufferMilliseconds: 40, notificationCount: 2, dmaProfile: example.profile),
            source: ToneGenerator(frequency: 440), engine: engine, sink: { _ in sink })
        let started = MonotonicTimebase.shared.now
        try session.start()
        // At least 0.8 s of real time, however the sleeps are woken.
        while MonotonicTimebase.shared.now - started < 800_000_000 { usleep(10_000) }
        let report = session.finish()
        let elapsed = Double(MonotonicTimebase.shared.now - started) / 1e9
        engine.shutdown()
        pcm.close()
        #expect(sink.xruns == 1)
        #expect(sink.framesLost > 0)  // the backlog built up during the stall was shed
        #expect(sink.fatalError == nil)
        #expect(report.glitchCount == 0)  // the miniport path itself never glitched
        // Playback went on after the recovery: the file holds what was written.
        let file = try AudioFileSource(path: path)
        #expect(UInt64(file.frameCount) == sink.framesWritten)
        // Written plus shed accounts for the run: a ratio to its measured wall time.
        let accounted = Double(file.frameCount + Int(sink.framesLost)) / 48_000
        #expect(accounted / elapsed > 0.7 && accounted / elapsed < 1.1, "\(accounted) s of audio in \(elapsed) s")
    }
}

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
        var rng = SplitMix64(seed: 3)
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
