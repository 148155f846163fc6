import Testing
import WaveRTEngine

/// Position arithmetic: exact, no overflow, no drift (what every device
/// position and every deadline is computed with).
@Suite struct PositionMathTests {
    @Test func framesAreExactlyFloorOfTimeTimesRateAndDoNotOverflow() {
        // 24 hours at 44.1 kHz.
        let day: UInt64 = 86_400 * 1_000_000_000
        #expect(PositionMath.frames(inNanoseconds: day, rate: 44_100) == 86_400 * 44_100)
        // floor(t × rate) at awkward instants.
        for t: UInt64 in [1, 22_675, 22_676, 999_999_999, 1_000_000_001, day - 1] {
            let exact = (t * 44_100) / 1_000_000_000  // fits: t × 44100 < 2^64 for these t
            #expect(PositionMath.frames(inNanoseconds: t, rate: 44_100) == exact)
        }
        // Ten years at 768 kHz: the 64-bit product would have overflowed after 6.6 hours.
        let tenYears: UInt64 = 3_652 * 86_400 * 1_000_000_000 + 12 * 3_600 * 1_000_000_000
        #expect(PositionMath.frames(inNanoseconds: tenYears, rate: 768_000) == 315_576_000 * 768_000)
        // Just past the 64-bit fast path: 6.6 hours at 768 kHz, computed both ways.
        let edge = UInt64.max / 768_000 + 1
        let wide = edge.multipliedFullWidth(by: 768_000)
        #expect(PositionMath.frames(inNanoseconds: edge, rate: 768_000) == (1_000_000_000 as UInt64).dividingFullWidth(wide).quotient)
    }

    @Test func nanosecondsUntilFramesIsTheExactInverse() {
        // The first nanosecond at which a frame has elapsed.
        for f: UInt64 in [1, 2, 147, 44_099, 44_100, 315_576_000 * 768_000] {
            for rate: UInt64 in [8_000, 44_100, 48_000, 96_000, 768_000] {
                let t = PositionMath.nanoseconds(untilFrames: f, rate: rate)
                guard t != .max else {
                    // Beyond 2^64 ns (584 years): saturated, and only then.
                    #expect(f.multipliedFullWidth(by: 1_000_000_000).high >= rate)
                    continue
                }
                #expect(PositionMath.frames(inNanoseconds: t, rate: rate) == f)
                #expect(PositionMath.frames(inNanoseconds: t - 1, rate: rate) == f - 1)
            }
        }
        #expect(PositionMath.nanoseconds(untilFrames: 0, rate: 48_000) == 0)
        // Saturates instead of wrapping.
        #expect(PositionMath.nanoseconds(untilFrames: .max, rate: 8_000) == .max)
    }

    /// Packets whose duration is not a whole number of nanoseconds (147 frames at
    /// 44.1 kHz = 3.333... ms): summing rounded durations drifts; the formula does not.
    @Test func deadlinesOfNonIntegerPacketsDoNotDrift() {
        var drifting: UInt64 = 0
        var wrong = 0
        let step = PositionMath.nanoseconds(untilFrames: 147, rate: 44_100)
        for k: UInt64 in 1...300_000 {
            drifting += step
            let exact = PositionMath.nanoseconds(untilFrames: 147 * k, rate: 44_100)
            if PositionMath.frames(inNanoseconds: exact, rate: 44_100) != 147 * k { wrong += 1 }
        }
        #expect(wrong == 0)
        // After 1000 s the naive sum of rounded-up packet durations is 200 µs late; the formula is exact.
        #expect(PositionMath.nanoseconds(untilFrames: 147 * 300_000, rate: 44_100) == 1_000_000_000_000)
        #expect(drifting == 1_000_000_200_000)
    }
}
