import Testing
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTHardware

/// README's "Using the library in your own tests", word for word apart from
/// the imports (tests depend on the modules, not the umbrella): if the API it
/// shows changes, this stops compiling.
@Suite struct ReadmeExampleTests {
    @Test func myMiniportPlaysWithoutGlitches() throws {
        let clock = VirtualClock()                            // deterministic: hours of stream time per second
        let speaker = CollectingSink(capacityBytes: 1 << 20)  // what the device played
        let setup = StreamSetup(hardware: .hda, format: .cd48k,
                                bufferFrames: 480, notificationCount: 2, mode: .event)
        let session = try MiniportSession(miniport: HDAMiniport(),   // your MiniportWaveRT
                                          setup: setup, timebase: clock,
                                          source: ToneGenerator(frequency: 440, levelDBFS: -12),
                                          speaker: speaker)
        try session.start()                                   // KSSTATE_STOP -> ACQUIRE -> PAUSE -> RUN
        clock.advance(by: 1_000_000_000)                      // one second, in nanoseconds
        let report = session.finish()                         // back down to STOP, pin closed, leak check
        #expect(report.isClean, "\(report)")                  // no glitch, leak or verifier finding
        #expect(speaker.count >= 48_000 * 4)                  // the whole second reached the device
    }
}
