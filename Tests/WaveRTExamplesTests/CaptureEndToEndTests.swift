import Testing
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTPort
import WaveRTTestSupport

/// Capture end to end on the virtual clock: a microphone with a known pattern
/// feeds the device's input, its DMA writes the cyclic buffer, the client
/// reads it through the port's mapping into the recorder: byte for byte.
@Suite struct CaptureEndToEndTests {
    static func record(_ name: String, format: StreamFormat? = nil, milliseconds: UInt64 = 500, mode: ClientMode = .event,
                       notifications: Int = 2) throws -> (SessionReport, GrowingSink, PatternSource, StreamFormat)
    {
        let example = try #require(ExampleMiniport.named(name))
        let format = format ?? example.format
        let setup = StreamSetup(hardware: example.hardware, format: format,
                                bufferFrames: StreamSetup.frames(milliseconds: Double(example.bufferMilliseconds), rate: format.sampleRate,
                                                                 notificationCount: notifications),
                                notificationCount: notifications, mode: mode, capture: true)
        let clock = VirtualClock()
        let recorder = GrowingSink(), microphone = PatternSource()
        let session = try MiniportSession(miniport: example.make(), setup: setup, timebase: clock, recorder: recorder, microphone: microphone)
        try session.start()
        clock.advance(by: milliseconds * 1_000_000)
        return (session.finish(), recorder, microphone, format)
    }

    @Test(arguments: ["hda", "isa", "simple"])
    func theRecorderGetsTheMicrophoneByteForByte(name: String) throws {
        let (report, recorder, microphone, format) = try Self.record(name)
        let recorded = recorder.bytes
        // Half a second, less what is still in the buffer and the FIFO when the stream stops.
        #expect(recorded.count >= format.bytesPerSecond * 4 / 10, "\(recorded.count) bytes")
        #expect(recorded.count % format.blockAlign == 0)
        #expect(firstDifference(recorded, PatternSource.bytes(count: recorded.count)) == nil)
        #expect(microphone.produced >= UInt64(recorded.count))
        #expect(report.glitchCount == 0, "\(report.glitches.prefix(3))")
        #expect(report.leaks.isEmpty && report.verifier.isEmpty && report.guestErrors.isEmpty,
                "\(report.leaks) \(report.verifier) \(report.guestErrors)")
    }

    /// Other formats and a polling client, still exact, across many laps of the buffer.
    @Test(arguments: [("hda", 96_000, 2, StreamFormat.SampleFormat.int32), ("simple", 44_100, 6, .int24), ("isa", 22_050, 1, .int16)])
    func otherFormatsRecordExactly(name: String, rate: Int, channels: Int, sample: StreamFormat.SampleFormat) throws {
        let format = try StreamFormat(sampleRate: rate, channels: channels, sampleFormat: sample)
        let (report, recorder, _, _) = try Self.record(name, format: format, milliseconds: 300, mode: .timer(periodNanoseconds: 2_000_000))
        let recorded = recorder.bytes
        #expect(recorded.count >= format.bytesPerSecond * 2 / 10)
        #expect(firstDifference(recorded, PatternSource.bytes(count: recorded.count)) == nil)
        #expect(report.glitchCount == 0, "\(report.glitches.prefix(3))")
    }
}
