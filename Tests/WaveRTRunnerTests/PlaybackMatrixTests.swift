import Foundation
import Testing
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTRunner
import WaveRTTestSupport

extension RealTime {
    /// The format space the CLI accepts against every example that plays, in
    /// real time through real libasound into a PCM that only the test process's
    /// `ALSA_CONFIG_PATH` file defines (`type file` over `null`). Where the
    /// example's hardware takes the format (its documented limits, restated in
    /// ``Cell/accepted``), every sample of every channel is the ideal tone's and
    /// exactly round(duration × rate) frames reach the file, after more than two
    /// laps of every ring on the way (the cyclic buffer, the device-to-writer
    /// ring, ALSA's buffer). Elsewhere the run is refused before any device is
    /// opened, saying what the example takes.
    ///
    /// Reproduce: `swift test --filter PlaybackMatrixTests` (one line per cell).
    @Suite struct PlaybackMatrixTests {
        init() { ALSATestEnvironment.setUp() }

        struct Cell: CustomStringConvertible, Sendable {
            var example: String
            var format: StreamFormat
            var description: String { "\(example) \(format)" }

            /// What each example's hardware plays, as `wavert examples` documents it.
            var accepted: Bool {
                let f = format
                switch example {
                case "simple": return true
                case "hda": return f.sampleFormat == .int16 || f.sampleFormat == .int32  // 1-8 channels; 44.1, 48, 96 kHz in SDnFMT
                case "isa": return f.sampleFormat == .int16 && f.channels <= 2 && f.sampleRate <= 44_100
                case "sysvad": return f.sampleFormat == .int16 && f.channels == 2 && (24_000...96_000).contains(f.sampleRate)
                default: return false
                }
            }
        }

        static let formats: [StreamFormat] = [StreamFormat.SampleFormat.int16, .int24, .int32, .float32].flatMap { sample in
            [1, 2, 6, 8].flatMap { channels in
                [44_100, 48_000, 96_000].map { try! StreamFormat(sampleRate: $0, channels: channels, sampleFormat: sample) }
            }
        }
        static let cells: [Cell] = ["simple", "hda", "isa", "sysvad"].flatMap { name in formats.map { Cell(example: name, format: $0) } }

        static let seconds = 0.2
        static let tone = (hz: 997.0, dbfs: -6.0)

        @Test(arguments: cells)
        func playsSampleExactAndFrameExact(cell: Cell) throws {
            let example = try #require(ExampleMiniport.named(cell.example))
            let format = cell.format
            let path = ALSATestEnvironment.temporaryPath("matrix")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let options = Player.Options(
                example: example, setup: example.streamSetup(format: format, bufferMilliseconds: Double(max(example.bufferMilliseconds, 40))),
                source: ToneGenerator(frequency: Self.tone.hz, levelDBFS: Self.tone.dbfs),
                device: ALSATestEnvironment.capture(path), duration: Self.seconds,
                alsaLatencyMilliseconds: 20, ringMilliseconds: 50)
            guard cell.accepted else {
                do {
                    _ = try Player.play(options)
                    Issue.record("\(cell): played a format the example's hardware does not take")
                } catch {
                    guard case .refused(let why) = error else { Issue.record("\(cell): \(error)"); return }
                    #expect(why.contains("example '\(example.name)' cannot play \(format)") && why.contains(example.formats), "\(why)")
                    #expect(!FileManager.default.fileExists(atPath: path), "\(cell): the device was opened")
                }
                print("matrix \(cell): refused")
                return
            }
            let report = try Player.play(options)
            let wav = try WAVFile(path: path)
            let expectedFrames = Int((Self.seconds * Double(format.sampleRate)).rounded())
            // The header describes the stream (the file plugin calls float data PCM: the bytes are compared as they are).
            #expect(wav.channels == format.channels && wav.sampleRate == format.sampleRate)
            #expect(wav.bitsPerSample == format.sampleFormat.bits && wav.blockAlign == format.blockAlign)
            #expect(wav.headerFrames == wav.frames, "header says \(wav.headerFrames) frames, the data holds \(wav.frames)")
            // Frame-exact: the duration, no more, no less, and the report agrees.
            #expect(wav.frames == expectedFrames, "\(cell): \(wav.frames) frames, expected \(expectedFrames)")
            #expect(report.framesPlayed == UInt64(expectedFrames))
            #expect(report.glitches == 0 && report.xruns == 0 && report.framesLost == 0 && report.resamplerErrors == 0,
                    "\(cell): \(report.glitches) glitches \(report.glitchEvents.prefix(3)), \(report.xruns) xruns, \(report.framesLost) lost")
            // Every ring went round more than twice.
            let laps = [report.cyclicBufferFrames, report.ringFrames, report.alsaBufferFrames].map { Double(wav.frames) / Double($0) }
            #expect(laps.allSatisfy { $0 > 2 }, "\(cell): laps \(laps)")
            // Sample-exact, every channel.
            let expected = ToneReference.tone(Self.tone.hz, Self.tone.dbfs, format: format, bytes: expectedFrames * format.blockAlign)
            let mismatch = ToneReference.mismatch(wav.data, expected, format: format)
            #expect(mismatch == nil, "\(cell): \(mismatch.map { "\($0.samples) samples differ, first at frame \($0.frame) channel \($0.channel)" } ?? "")")
            print(String(format: "matrix %-6@ %6d Hz %-3@ %dch: %6d of %6d frames, %@, laps %.1f/%.1f/%.1f, %.2f s",
                         cell.example, format.sampleRate, format.sampleFormat == .float32 ? "32f" : "\(format.sampleFormat.bits)",
                         format.channels, wav.frames, expectedFrames, mismatch == nil ? "sample-exact" : "MISMATCH",
                         laps[0], laps[1], laps[2], report.wallSeconds))
        }
    }
}
