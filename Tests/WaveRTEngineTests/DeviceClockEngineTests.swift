import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine

/// The engine on a device timebase: a simulated card whose crystal runs ±300 ppm
/// off reports its consumption every period, and the stream's position, DMA and
/// notifications follow the card, not the host clock, without drift.
@Suite struct DeviceClockEngineTests {
    @Test(arguments: [300.0, -300.0])
    func streamFollowsADriftingCard(ppm: Double) throws {
        let host = VirtualClock(start: 1_000_000)
        let device = DeviceTimebase(host: host, nominalRate: 48_000, periodFrames: 480)
        let f = try EngineFixture(bufferFrames: 960, clock: host, timebase: device, sinkCapacity: 0)
        f.fastWrites = true
        f.startEventDrivenClient()
        f.run()
        let start = host.now
        let cardRate = 48_000 * (1 + ppm * 1e-6)
        var rng = SplitMix64(seed: 9)
        var consumed: UInt64 = 0
        var worst = [0.0, 0.0]
        // 10 minutes of card periods, with up to ±200 µs of report jitter.
        for period in 1...(10 * 60 * 100) {
            consumed += 480
            let ideal = Double(consumed) / cardRate * 1e9
            let jitter = Double(Int64(rng.next() % 400_001) - 200_000)
            host.advance(to: start + UInt64(max(0, ideal + jitter)))
            device.report(framesConsumed: consumed, atHostTime: host.now)
            if (period > 60 * 100 && period < 2 * 60 * 100) || period > 9 * 60 * 100 {
                // Where the card really is now, against where the stream says it is.
                let card = (Double(host.now - start)) / 1e9 * cardRate
                let error = abs(Double(f.stream.framesElapsed()) - card)
                let window = period > 9 * 60 * 100 ? 1 : 0
                worst[window] = max(worst[window], error)
            }
        }
        // Within a few frames of the card after lock-in (minute 2), and no worse in minute 10.
        #expect(worst[0] < 24, "worst error \(worst[0]) frames")
        #expect(worst[1] < 24, "worst error in the last minute \(worst[1]) frames")
        #expect(abs((device.estimatedRateRatio - 1) * 1e6 - ppm) < 20)
        // Notifications kept the card's pace: one per 480 card frames.
        let expected = Double(f.stream.framesElapsed()) / 480
        #expect(abs(Double(f.stream.notificationCount) - expected) <= 1)
        #expect(f.stream.glitchCount == 0)
    }
}
