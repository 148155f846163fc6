import Testing
import WaveRTClient
import WaveRTDMA
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTTestSupport

/// A finished session lets go of everything it made: the machine (whose
/// processor's work list used to hold it for ever), the adapter, the port and
/// the miniport, so a test process running thousands of sessions does not
/// keep their memory.
@Suite struct SessionLifetimeTests {
    @Test(arguments: ["hda", "isa", "simple", "sysvad"])
    func aFinishedSessionFreesItsMachine(name: String) throws {
        let example = try #require(ExampleMiniport.named(name))
        weak var machine: Machine?
        weak var sessionRef: MiniportSession?
        let clock = VirtualClock()
        do {
            var setup = StreamSetup(hardware: example.hardware, format: example.format,
                                    bufferFrames: StreamSetup.frames(milliseconds: Double(example.bufferMilliseconds), rate: example.format.sampleRate,
                                                                     notificationCount: example.notificationCount),
                                    notificationCount: example.notificationCount, mode: example.packetMode ? .packet : .event)
            if let p = example.profileName { setup.dmaProfile = DMAProfile.preset(named: p) }
            let session = try MiniportSession(miniport: example.make(), setup: setup, timebase: clock,
                                              source: ToneGenerator(frequency: 440, levelDBFS: -12), speaker: GrowingSink())
            machine = session.machine
            sessionRef = session
            try session.start()
            clock.advance(by: TestTime.ms(50))
            _ = session.finish()
        }
        #expect(sessionRef == nil, "the session outlives its last reference")
        #expect(machine == nil, "the machine outlives its session")
    }
}
