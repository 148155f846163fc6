import Testing
import WaveRTEngine
import WaveRTHardware
import WaveRTTestSupport

/// The DMA engine every device shares: positions are arithmetic on the
/// timebase, exact over any run length.
@Suite struct DMAStreamTests {
    func running(rate: Int, blockAlign: Int, fifo: Int = 0, burst: Int = 1, at start: UInt64) -> DMAStream {
        let stream = DMAStream(direction: .render, timebase: VirtualClock(), passGuard: PassGuard())
        stream.configure(rate: rate, blockAlign: blockAlign, fifoBytes: fifo, burstBytes: burst)
        stream.start(at: start)
        return stream
    }

    /// 24 hours at 44.1 kHz: exactly floor(t × rate) frames at every instant asked.
    @Test func aDayOfPositionsIsExact() {
        let start: UInt64 = 1_000_000
        let stream = running(rate: 44_100, blockAlign: 4, at: start)
        let t = stream.currentTiming()
        for step: UInt64 in [1, 22_675, 22_676, 3_600_000_000_000, 86_400_000_000_000 - 1, 86_400_000_000_000] {
            #expect(DMAStream.linkBytes(t, at: start + step) == PositionMath.frames(inNanoseconds: step, rate: 44_100) * 4)
        }
        #expect(DMAStream.linkBytes(t, at: start + 86_400_000_000_000) == 86_400 * 44_100 * 4)
    }

    /// Ten years at 768 kHz, 8-byte frames: no overflow, and the fetch leads by the FIFO in whole bursts.
    @Test func tenYearsAt768kHz() {
        let stream = running(rate: 768_000, blockAlign: 8, fifo: 256, burst: 64, at: 0)
        let t = stream.currentTiming()
        let tenYears: UInt64 = 315_576_000 * 1_000_000_000
        let link = DMAStream.linkBytes(t, at: tenYears)
        #expect(link == 315_576_000 * 768_000 * 8)
        #expect(stream.dmaBytes(t, at: tenYears) == (link + 256) / 64 * 64)
    }

    /// Stop freezes the position at the frame reached; RUN reads 1 until the next
    /// frame boundary; start resumes from the frozen position; reset goes to 0.
    @Test func stopStartAndReset() {
        let stream = running(rate: 48_000, blockAlign: 4, at: 0)
        stream.stop(at: 1_010_000)  // 48.48 frames
        let t = stream.currentTiming()
        #expect(DMAStream.linkBytes(t, at: 5_000_000) == 48 * 4)
        #expect(DMAStream.isActive(t, at: 1_020_833))
        #expect(!DMAStream.isActive(t, at: 1_020_834))  // frame 49 ends at 1.0208333 ms
        stream.start(at: 2_000_000)
        #expect(DMAStream.linkBytes(stream.currentTiming(), at: 2_000_000 + PositionMath.nanoseconds(untilFrames: 10, rate: 48_000)) == 58 * 4)
        stream.reset()
        let r = stream.currentTiming()
        #expect(!r.running && DMAStream.linkBytes(r, at: 9_000_000) == 0)
        // Stopped, no interrupt point is ever reached.
        #expect(stream.time(whenDMAReaches: 1, r) == nil)
    }

    @Test func theFirstInstantEachByteIsFetched() {
        let stream = running(rate: 48_000, blockAlign: 4, fifo: 192, burst: 128, at: 1_000)
        let t = stream.currentTiming()
        for target: UInt64 in [1, 128, 129, 1920, 3840, 100_000] {
            let when = stream.time(whenDMAReaches: target, t)!
            #expect(stream.dmaBytes(t, at: when) >= target)
            #expect(when == 1_000 || stream.dmaBytes(t, at: when - 1) < target)
        }
    }
}
