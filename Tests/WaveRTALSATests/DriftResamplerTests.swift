import Foundation
import Testing
@testable import WaveRTALSA
import WaveRTEngine

/// The drift-compensating resampler against a simulated card whose crystal is
/// off, on virtual time: what the card plays must be a continuous tone (a sine
/// fitted to every 50 ms block of every channel: SNR at least 60 dB, and each
/// block continuing the previous one's sine within -60 dB), its queue must
/// stay near the target, and nothing may be fed twice or lost.
@Suite struct DriftResamplerTests {
    static let s16mono = try! StreamFormat(sampleRate: 48_000, channels: 1, sampleFormat: .int16)

    @Test(arguments: [300.0, -300.0])
    func toneStaysContinuousForTenMinutesAgainstADriftingCard(ppm: Double) throws {
        let rig = try DriftRig(format: Self.s16mono, ppm: ppm)
        // Faults a real card produces: short writes and -EAGAIN.
        rig.card.shortWriteEvery = 5
        rig.card.busyEvery = 7
        rig.run(seconds: 600)
        print("drift \(ppm) ppm, 10 min: \(rig.summary)")
        #expect(rig.blocks >= 11_000, "\(rig.summary)")
        #expect(rig.worstSNR >= 60, "\(rig.summary)")
        #expect(rig.worstSeam <= 1e-3, "\(rig.summary)")
        #expect(rig.card.underruns == 0, "\(rig.summary)")
        #expect(rig.writer.isResampling)
        // The queue held near its target the whole time after settling (a minute):
        // uncompensated, 300 ppm moves it by 14 frames a second, 8,640 in ten minutes.
        #expect(rig.worstFillDeviation <= 1_600, "\(rig.summary)")
        #expect(rig.worstRingFrames <= 2 * rig.writer.chunkFrames, "\(rig.summary)")
        // After settling, the ratio is the crystal's, on average to within 5 ppm.
        #expect(abs((rig.meanRatio - 1) * 1e6 - ppm) < 5, "\(rig.summary)")
        // Every frame produced was fed to the resampler once, none dropped.
        #expect(rig.writer.framesLost == 0)
        #expect(Int(rig.writer.framesPlayed) + rig.ring.readableFrames == rig.produced)
        #expect(rig.writer.resamplerErrors == 0)
    }

    @Test(arguments: [
        try! StreamFormat(sampleRate: 44_100, channels: 6, sampleFormat: .int24),
        try! StreamFormat(sampleRate: 96_000, channels: 8, sampleFormat: .float32),
        try! StreamFormat(sampleRate: 48_000, channels: 2, sampleFormat: .int32),
    ])
    func everyChannelOfWideFormatsStaysClean(format: StreamFormat) throws {
        let rig = try DriftRig(format: format, ppm: 250)
        rig.card.shortWriteEvery = 3
        rig.run(seconds: 20)
        #expect(rig.blocks >= 390)
        #expect(rig.worstSNR >= 60, "\(rig.summary)")
        #expect(rig.worstSeam <= 1e-3, "\(rig.summary)")
        #expect(rig.card.underruns == 0 && rig.writer.framesLost == 0, "\(rig.summary)")
    }

    @Test func takingOverFromTheStraightPathMidStreamIsSeamless() throws {
        // The card reports no queue for its first 3 s (as a plugin that cannot tell
        // yet): the writer plays straight, then switches to the resampler mid-tone.
        let rig = try DriftRig(format: Self.s16mono, ppm: -300)
        rig.card.silentDelayUntil = 3_000_000_000
        rig.run(seconds: 2.9)
        #expect(!rig.writer.isResampling)
        rig.run(seconds: 7.1)
        #expect(rig.writer.isResampling)
        #expect(rig.worstSNR >= 60, "\(rig.summary)")
        #expect(rig.worstSeam <= 1e-3, "\(rig.summary)")
        #expect(rig.card.underruns == 0, "\(rig.summary)")
    }

    /// The checks above must be able to fail: one dropped sample, one repeated
    /// sample, or a switch from the resampler back to the straight path.
    @Test func theToneChecksSeeASlipARepeatAndASwitchOff() throws {
        let omega = 2 * Double.pi * 440 / 48_000
        func tone(_ n: Int) -> Double { 0.25 * sin(omega * Double(n)) }
        func analyse(_ samples: [Double]) -> ToneAnalyzer {
            var a = ToneAnalyzer(blockLength: 2_400, omega: omega)
            for s in samples { a.add(s) }
            return a
        }
        let clean = analyse((0..<48_000).map(tone))
        #expect(clean.worstSNR >= 60 && clean.worstSeam <= 1e-3)
        // A frame lost in the middle of a block, and one at a block boundary.
        var slipped = (0..<48_000).map(tone)
        slipped.remove(at: 10_000)
        slipped.remove(at: 24_000)
        let s = analyse(slipped)
        #expect(s.worstSNR < 60 || s.worstSeam > 1e-3, "slip: SNR \(s.worstSNR), seam \(s.worstSeam)")
        var repeated = (0..<48_000).map(tone)
        repeated.insert(repeated[31_000], at: 31_000)
        let r = analyse(repeated)
        #expect(r.worstSNR < 60 || r.worstSeam > 1e-3, "repeat: SNR \(r.worstSNR), seam \(r.worstSeam)")
        // What the old writer did when the ratio came back to exactly 1: resampled for
        // 0.5 s, then straight from the ring, losing what the filter held back.
        let resampler = try AdaptiveResampler(channels: 1)
        var input = (0..<24_000).map { Float(tone($0)) }
        var output = [Float](repeating: 0, count: 30_000)
        let (_, made) = input.withUnsafeMutableBufferPointer { i in
            output.withUnsafeMutableBufferPointer { o in
                try! resampler.process(i.baseAddress!, inputFrames: i.count, ratio: 1, into: o.baseAddress!,
                                       outputCapacity: o.count, endOfInput: false)
            }
        }
        #expect(made < 24_000)  // the filter holds some back
        let switchedOff = analyse(output[0..<made].map(Double.init) + (24_000..<48_000).map(tone))
        #expect(switchedOff.worstSNR < 60 || switchedOff.worstSeam > 1e-3,
                "switched off: SNR \(switchedOff.worstSNR), seam \(switchedOff.worstSeam)")
    }

    @Test func resamplerFailuresAreCountedAndLoseNoInput() throws {
        let failing = try FailingResampler(channels: 1, every: 50)
        let rig = try DriftRig(format: Self.s16mono, ppm: 300, resampler: failing)
        rig.run(seconds: 30)
        #expect(failing.failures > 0)
        #expect(rig.writer.resamplerErrors == UInt64(failing.failures))
        #expect(rig.writer.lastResamplerError == ResamplerError(code: 6))
        // Each failed chunk went out unconverted: no input lost, none fed twice.
        #expect(rig.writer.framesLost == 0)
        #expect(Int(rig.writer.framesPlayed) + rig.ring.readableFrames == rig.produced)
        #expect(rig.card.underruns == 0)
        #expect(rig.writer.isResampling)  // it took over again after each failure
    }

    @Test func anUnderrunResetsTheResamplerAndTheToneResumesClean() throws {
        let rig = try DriftRig(format: Self.s16mono, ppm: 300)
        rig.settleSeconds = 1_000  // the fill is checked after the restart below
        rig.run(seconds: 5)
        // The writer thread stalls for 200 ms: the card runs dry.
        let stallFrom = rig.now
        rig.run(seconds: 0.3) { $0 > stallFrom && $0 < stallFrom + 200_000_000 }
        #expect(rig.card.underruns == 1)
        #expect(rig.writer.xruns == 1)
        #expect(rig.writer.resamplerResets == 1)
        #expect(rig.writer.framesLost > 0)  // the backlog beyond the target was shed
        // After the restart (one block skipped: the fresh filter fades in), a clean tone again.
        rig.restartAnalysis(skipping: 2_400)
        rig.settleSeconds = Double(rig.now) / 1e9 + 1
        rig.run(seconds: 10)
        #expect(rig.worstSNR >= 60, "\(rig.summary)")
        #expect(rig.worstSeam <= 1e-3, "\(rig.summary)")
        #expect(rig.card.underruns == 1, "\(rig.summary)")
    }

    @Test func aCardThatCannotRecoverStopsTheWriterWithItsError() throws {
        let rig = try DriftRig(format: Self.s16mono, ppm: 0)
        rig.run(seconds: 1)
        rig.card.prepareError = ENODEV  // unplugged while playing
        let stallFrom = rig.now
        rig.run(seconds: 0.3) { $0 > stallFrom && $0 < stallFrom + 200_000_000 }
        #expect(rig.writer.xruns == 1)
        #expect(rig.writer.fatalError == ENODEV)
        #expect(rig.writer.isFinished)
        let writes = rig.card.writes
        #expect(rig.writer.step(now: rig.now, endOfInput: false) == .finished)
        #expect(rig.card.writes == writes)  // nothing more is tried
    }
}
