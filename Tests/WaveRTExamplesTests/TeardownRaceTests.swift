import Foundation
import Testing
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTPort
import WaveRTTestSupport

/// `MiniportSession.finish()` on the system clock, at a random point of a
/// running stream, over and over: the client stops, unregisters its
/// notification event (which the miniport's DPC signals on the processor
/// thread), the pin closes (the miniport frees its buffer under the DMA
/// engine's transfer gate), the adapter and the processor shut down. Each
/// round must end clean: no leak, no verifier finding, no teardown failure.
/// Run under ThreadSanitizer in CI (`.ci/sanitizers`), where a race in any of
/// those steps is a report.
@Suite(.serialized, .realTime) struct TeardownRaceTests {
    @Test(.timeLimit(.minutes(2)), arguments: ["simple", "hda", "isa", "sysvad"])
    func finishAtARandomPointOfARunningStream(_ name: String) throws {
        let example = try #require(ExampleMiniport.named(name))
        var random = SystemRandomNumberGenerator()
        var woke: UInt64 = 0
        for round in 0..<12 {
            let setup = StreamSetup(hardware: example.hardware, format: example.format,
                                    bufferFrames: StreamSetup.frames(milliseconds: Double(example.bufferMilliseconds),
                                                                     rate: example.format.sampleRate,
                                                                     notificationCount: example.notificationCount),
                                    notificationCount: example.notificationCount, mode: .event)
            let session = try MiniportSession(miniport: example.make(), setup: setup, timebase: MonotonicTimebase.shared,
                                              source: ToneGenerator(frequency: 440, levelDBFS: -12), speaker: GrowingSink(),
                                              monitorGlitches: false)
            try session.start()
            // Anywhere from before the first packet to two and a half packets in.
            let packetMicroseconds = UInt64(example.bufferMilliseconds * 1_000 / max(1, example.notificationCount))
            Thread.sleep(forTimeInterval: Double(UInt64.random(in: 0...packetMicroseconds * 5 / 2, using: &random)) / 1e6)
            let report = session.finish()
            woke += report.wakes
            #expect(report.leaks.isEmpty && report.teardownFailures.isEmpty && report.verifier.isEmpty,
                    "\(name) round \(round): \(report.leaks) \(report.teardownFailures) \(report.verifier)")
            // Safe to call twice: the same report, nothing torn down again.
            #expect(session.finish().wakes == report.wakes)
        }
        // The rounds did race a running stream: the client woke (on the stream's events) in some of them.
        #expect(woke > 0, "\(name): the client never woke in 12 rounds")
    }
}
