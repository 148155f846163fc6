import Testing
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTPort
import WaveRTTestSupport

/// The format space each example supports (its `formats` in examples/Catalog.swift):
/// 24- and 32-bit, float, multichannel, 44.1 and 96 kHz, each played end to end
/// for at least eight laps of its cyclic buffer, byte for byte;
/// and the formats each refuses, refused with a status that says so.
@Suite struct FormatCoverageTests {
    static func format(_ rate: Int, _ channels: Int, _ sample: StreamFormat.SampleFormat) -> StreamFormat {
        try! StreamFormat(sampleRate: rate, channels: channels, sampleFormat: sample)
    }

    /// (example, format, buffer ms): buffers chosen so each example's packets are whole frames
    /// (SYSVAD's integer-millisecond arithmetic is exact at 20 ms and 44.1 kHz; its flaw at other sizes is the timing suite's to catch).
    static let supported: [(String, StreamFormat, Double)] = [
        ("simple", format(44_100, 2, .int24), 10), ("simple", format(96_000, 6, .int32), 10), ("simple", format(48_000, 8, .float32), 10),
        ("simple", format(44_100, 3, .int24), 10), ("simple", format(192_000, 1, .int16), 5),
        ("simple", format(48_000, 5, .int24), 10), ("simple", format(96_000, 7, .int24), 10), ("simple", format(48_000, 32, .int32), 10),
        ("hda", format(44_100, 2, .int16), 10), ("hda", format(96_000, 2, .int32), 10), ("hda", format(48_000, 8, .int16), 10),
        ("hda", format(44_100, 6, .int32), 10), ("hda", format(22_050, 1, .int16), 20),
        ("isa", format(44_100, 1, .int16), 40), ("isa", format(22_050, 2, .int16), 40), ("isa", format(8_000, 1, .int16), 100),
        ("sysvad", format(44_100, 2, .int16), 20), ("sysvad", format(96_000, 2, .int16), 10), ("sysvad", format(24_000, 2, .int16), 10),
    ]

    @Test(arguments: supported)
    func eachSupportedFormatPlaysByteForByte(name: String, format: StreamFormat, bufferMilliseconds: Double) throws {
        // At least eight laps (the isa driver never goes below a 4 KiB buffer).
        let lap = max(bufferMilliseconds, 4096_000 / Double(format.bytesPerSecond))
        let (report, speaker, _, session) = try ExampleEndToEndTests.run(name, format: format, milliseconds: max(250, 8 * lap),
                                                                         bufferMilliseconds: bufferMilliseconds)
        #expect(report.glitchCount == 0, "\(report.glitches.prefix(3))")
        #expect(report.packetErrors == 0 && report.lateWrites == 0, "\(report.packetErrors) \(report.lateWrites)")
        #expect(report.leaks.isEmpty && report.verifier.isEmpty && report.guestErrors.isEmpty,
                "\(report.leaks) \(report.verifier) \(report.guestErrors)")
        // The DMA moves whole bursts, so the last frame may be partial: compare whole frames.
        let collected = speaker.bytes
        let played = Array(collected.prefix(collected.count / format.blockAlign * format.blockAlign))
        #expect(played.count >= format.bytesPerSecond / 5, "\(played.count) bytes")
        // Packets of whole frames, each starting where a descriptor may (HD Audio: 128-byte aligned; sg: 4).
        let packet = session.client.buffer.actualSize / session.client.notificationCount
        let alignment = name == "hda" ? 128 : name == "isa" ? 2 : 4
        #expect(packet % format.blockAlign == 0 && packet % alignment == 0, "\(packet)-byte packets")
        let laps = played.count / session.client.buffer.actualSize
        #expect(laps >= 6, "\(laps) laps of a \(session.client.buffer.actualSize)-byte buffer")
        let reference = ExampleEndToEndTests.reference(440, -12, format: format, frames: played.count / format.blockAlign)
        #expect(firstDifference(played, reference) == nil)
    }

    static let refused: [(String, StreamFormat)] = [
        ("hda", format(48_000, 2, .int24)),     // packed 24-bit: HD Audio carries 24 bits in 32-bit containers
        ("hda", format(48_000, 2, .float32)),   // not PCM: the pin's ranges are PCM only
        ("hda", format(12_345, 2, .int16)),     // SDnFMT cannot express it
        ("hda", format(48_000, 12, .int16)),    // more channels than its ranges
        ("isa", format(48_000, 2, .int16)),     // above the DSP's 44.1 kHz
        ("isa", format(44_100, 2, .int32)),     // the DSP plays 16 bits
        ("isa", format(44_100, 4, .int16)),     // mono or stereo
        ("sysvad", format(48_000, 1, .int16)),  // SYSVAD's speaker is stereo
        ("sysvad", format(192_000, 2, .int16)),
        ("simple", format(768_000, 2, .int16)), // above 384 kHz
    ]

    @Test(arguments: refused)
    func unsupportedFormatsAreRefusedWithAClearStatus(name: String, format: StreamFormat) throws {
        do {
            _ = try ExampleEndToEndTests.run(name, format: format, milliseconds: 10)
            Issue.record("\(name) opened a stream of \(format)")
        } catch let error as SessionError {
            guard case .pin(let status, let refused, _) = error else { Issue.record("\(error)"); return }
            #expect(status == .noMatch && refused == format)
            #expect(error.description.hasPrefix("the miniport refused a stream of \(format) (STATUS_NO_MATCH (0xC0000272))"))
        }
    }
}
