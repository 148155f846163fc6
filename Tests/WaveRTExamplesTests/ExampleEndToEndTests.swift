import Testing
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTPort
import WaveRTTestSupport

/// Each example miniport played end to end on the virtual clock: the client
/// writes a tone through the port's mapping, the miniport's register-level
/// hardware moves it by DMA into the speaker, byte for byte.
@Suite struct ExampleEndToEndTests {
    static func reference(_ frequency: Double, _ level: Double, format: StreamFormat, frames: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: frames * format.blockAlign)
        let tone = ToneGenerator(frequency: frequency, levelDBFS: level)
        _ = bytes.withUnsafeMutableBytes { tone.read(frames: frames, into: $0.baseAddress!, format: format) }
        return bytes
    }

    static func run(_ name: String, format: StreamFormat? = nil, milliseconds: Double = 1000, bufferMilliseconds: Double? = nil,
                    notifications: Int? = nil, mode: ClientMode? = nil) throws -> (SessionReport, GrowingSink, StreamFormat, MiniportSession)
    {
        let example = try #require(ExampleMiniport.named(name))
        let format = format ?? example.format
        let count = notifications ?? example.notificationCount
        var setup = StreamSetup(hardware: example.hardware, format: format,
                                bufferFrames: StreamSetup.frames(milliseconds: bufferMilliseconds ?? Double(example.bufferMilliseconds),
                                                                 rate: format.sampleRate, notificationCount: count),
                                notificationCount: count, mode: mode ?? (example.packetMode ? .packet : .event))
        if let name = example.profileName { setup.dmaProfile = DMAProfile.preset(named: name) }
        let clock = VirtualClock()
        let speaker = GrowingSink()
        let session = try MiniportSession(miniport: example.make(), setup: setup, timebase: clock,
                                          source: ToneGenerator(frequency: 440, levelDBFS: -12), speaker: speaker)
        try session.start()
        clock.advance(by: UInt64(milliseconds * 1_000_000))
        let report = session.finish()
        return (report, speaker, format, session)
    }

    @Test(arguments: ["simple", "hda", "isa", "sysvad"])
    func eachExamplePlaysTheToneByteForByte(name: String) throws {
        let (report, speaker, format, _) = try Self.run(name)
        #expect(report.glitchCount == 0, "\(report.glitches.prefix(3)) wakes \(report.wakes) timeouts \(report.eventTimeouts) late \(report.lateWrites) packetErrors \(report.packetErrors)")
        #expect(report.packetErrors == 0 && report.lateWrites == 0 && report.eventTimeouts == 0)
        #expect(report.leaks.isEmpty, "\(report.leaks)")
        #expect(report.verifier.isEmpty, "\(report.verifier)")
        #expect(report.guestErrors.isEmpty, "\(report.guestErrors)")
        let played = speaker.bytes
        #expect(played.count >= format.bytesPerSecond * 9 / 10)
        let reference = Self.reference(440, -12, format: format, frames: played.count / format.blockAlign)
        let firstDifference = zip(played, reference).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstDifference == nil, "first different byte \(firstDifference ?? -1) of \(played.count)")
    }
}

import WaveRTDMA
