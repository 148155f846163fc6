import Testing
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTTestSupport

/// A client kept from running for more than a buffer, with a PAUSE and a RUN
/// between its last position read and its next wake (found by `wavert soak
/// --example simple --duration 86400 --seed 1` at 10 h): the position offset
/// cannot say how many laps the device made before the pause, so the client
/// must count them from the time the stream ran. The late wake costs glitches
/// in the time it was late; every wake after it is on time and glitch-free.
@Suite struct LateAcrossPauseTests {
    @Test(arguments: [ClientMode.timer(periodNanoseconds: 10_000_000), .event])
    func aClientLateAcrossAPauseCatchesUp(mode: ClientMode) throws {
        let example = try #require(ExampleMiniport.named("simple"))
        let format = try StreamFormat(sampleRate: 192_000, channels: 8, sampleFormat: .int24)
        // 20 ms of buffer: two 10 ms packets.
        let setup = StreamSetup(hardware: example.hardware, format: format, bufferFrames: 3840, notificationCount: 2, mode: mode)
        let clock = VirtualClock()
        let session = try MiniportSession(miniport: example.make(), setup: setup, timebase: clock,
                                          source: ToneGenerator(frequency: 440, levelDBFS: -12), speaker: GrowingSink())
        try session.start()
        clock.advance(by: TestTime.ms(100))
        // The client stops waking: 35 ms of RUN (1.75 buffers), a 10 ms PAUSE, 6 ms of RUN, then it wakes.
        clock.detach(session.client)
        clock.advance(by: TestTime.ms(35))
        #expect(session.client.pause().isSuccess)
        clock.advance(by: TestTime.ms(10))
        #expect(session.client.resume().isSuccess)
        clock.advance(by: TestTime.ms(6))
        let lateWake = clock.now
        clock.attach(session.client)
        clock.advance(by: TestTime.ms(500))  // 25 laps of the buffer
        let report = session.finish()
        #expect(report.glitchCount > 0, "being 1.75 buffers late must cost a glitch")
        // What the late wake found: frames fetched before it. A lapped client would glitch on every lap after.
        // The device ran 141 ms by the late wake (27,072 frames); the client then writes a buffer ahead
        // of it, so no frame from a buffer past that point on may be a glitch. A lapped client would glitch to the end.
        #expect(lateWake == 151_000_000)  // 100 + 35 + 10 + 6 ms: 141 ms of RUN
        let caughtUp: UInt64 = 141 * 192 + 3840
        let late = report.glitches.filter { $0.frame + $0.frames > caughtUp }
        #expect(late.isEmpty, "glitches past frame \(caughtUp): \(late.prefix(3)) (all: \(report.glitches.prefix(3)))")
    }
}
