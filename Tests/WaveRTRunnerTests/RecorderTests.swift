import Foundation
import Synchronization
import Testing
import WaveRTALSA
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTRunner
import WaveRTTestSupport

extension RealTime {
    /// `wavert record` as a library call, in real time through real libasound:
    /// ALSA's `file` plugin reads raw samples from its `infile` (a capture PCM
    /// only the test process's `ALSA_CONFIG_PATH` file defines), the example's
    /// hardware writes them by DMA into the cyclic buffer, the client reads them
    /// into the WAV file. Every byte of every frame must arrive, in order, and
    /// exactly round(duration × rate) frames, after more than two laps of the
    /// cyclic buffer.
    @Suite struct RecorderTests {
        init() { ALSATestEnvironment.setUp() }

        /// A raw file of `frames` frames of `format`: byte i a pure function of i, never a run of silence.
        static func writeInfile(frames: Int, format: StreamFormat) throws -> (path: String, bytes: [UInt8]) {
            let path = ALSATestEnvironment.temporaryPath("infile", "raw")
            let bytes = (0..<(frames * format.blockAlign)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 9) | 1 }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return (path, bytes)
        }

        static func options(_ example: ExampleMiniport, format: StreamFormat, device: String, output: String, duration: Double?,
                            stop: @escaping @Sendable () -> Bool = { false }) -> Recorder.Options
        {
            // 40 ms buffers: zero glitches even when the client wakes late on a loaded CI machine.
            Recorder.Options(example: example,
                             setup: example.streamSetup(format: format, bufferMilliseconds: Double(max(example.bufferMilliseconds, 40)),
                                                        capture: true),
                             output: output, device: device, duration: duration, alsaLatencyMilliseconds: 20, stop: stop)
        }

        struct Cell: CustomStringConvertible, Sendable {
            var example: String
            var format: StreamFormat
            var description: String { "\(example) \(format)" }
        }

        /// Each example that records, in formats its hardware takes: 24-bit, float, multichannel, 44.1 to 96 kHz.
        static let cells: [Cell] = [
            Cell(example: "hda", format: .cd48k),
            Cell(example: "hda", format: try! StreamFormat(sampleRate: 96_000, channels: 8, sampleFormat: .int32)),
            Cell(example: "hda", format: try! StreamFormat(sampleRate: 44_100, channels: 1, sampleFormat: .int16)),
            Cell(example: "isa", format: try! StreamFormat(sampleRate: 44_100, channels: 2, sampleFormat: .int16)),
            Cell(example: "isa", format: try! StreamFormat(sampleRate: 22_050, channels: 1, sampleFormat: .int16)),
            Cell(example: "simple", format: .cd48k),
            Cell(example: "simple", format: try! StreamFormat(sampleRate: 44_100, channels: 6, sampleFormat: .int24)),
            Cell(example: "simple", format: try! StreamFormat(sampleRate: 96_000, channels: 2, sampleFormat: .float32)),
        ]

        static let seconds = 0.25

        @Test(arguments: cells)
        func recordsSampleExactAndFrameExact(cell: Cell) throws {
            let example = try #require(ExampleMiniport.named(cell.example))
            let format = cell.format
            let expectedFrames = Int((Self.seconds * Double(format.sampleRate)).rounded())
            // The infile holds more than is recorded: the recording stops at the duration, not at the file's end.
            let (infile, bytes) = try Self.writeInfile(frames: expectedFrames + format.sampleRate / 10, format: format)
            let output = ALSATestEnvironment.temporaryPath("recorded")
            defer {
                try? FileManager.default.removeItem(atPath: infile)
                try? FileManager.default.removeItem(atPath: output)
            }
            let report = try Recorder.record(Self.options(example, format: format, device: ALSATestEnvironment.infile(infile),
                                                          output: output, duration: Self.seconds))
            let wav = try WAVFile(path: output)
            #expect(wav.channels == format.channels && wav.sampleRate == format.sampleRate && wav.blockAlign == format.blockAlign)
            #expect(wav.formatTag == (format.sampleFormat == .float32 ? 3 : 1) || wav.formatTag == 0xFFFE)
            #expect(wav.headerFrames == wav.frames)
            #expect(wav.frames == expectedFrames && report.framesRecorded == UInt64(expectedFrames), "\(cell): \(wav.frames) of \(expectedFrames) frames")
            #expect(report.glitches == 0 && report.xruns == 0 && report.silenceFrames == 0 && report.framesLost == 0,
                    "\(cell): \(report.glitchEvents.prefix(3)), \(report.xruns) xruns, \(report.silenceFrames) silent, \(report.framesLost) lost")
            #expect(report.verifier.isEmpty && report.leaks.isEmpty && report.guestErrors.isEmpty)
            #expect(Double(expectedFrames) / Double(report.cyclicBufferFrames) > 2, "\(cell): the cyclic buffer did not wrap twice")
            let expected = Array(bytes[..<(expectedFrames * format.blockAlign)])
            let mismatch = ToneReference.mismatch(wav.data, expected, format: format)
            #expect(mismatch == nil && wav.data.count == expected.count,
                    "\(cell): \(mismatch.map { "\($0.samples) samples differ, first at frame \($0.frame) channel \($0.channel)" } ?? "length")")
            print(String(format: "record %-6@ %@: %6d of %6d frames, %@, %.2f s", cell.example, format.description, wav.frames, expectedFrames,
                         mismatch == nil ? "sample-exact" : "MISMATCH", report.wallSeconds))
        }

        /// Past the end of the infile the input is silence, not what the buffers held before.
        @Test func pastTheEndOfTheInfileIsSilence() throws {
            let example = try #require(ExampleMiniport.named("hda"))
            let format = StreamFormat.cd48k
            let (infile, bytes) = try Self.writeInfile(frames: 4_800, format: format)
            let output = ALSATestEnvironment.temporaryPath("short")
            defer {
                try? FileManager.default.removeItem(atPath: infile)
                try? FileManager.default.removeItem(atPath: output)
            }
            let report = try Recorder.record(Self.options(example, format: format, device: ALSATestEnvironment.infile(infile),
                                                          output: output, duration: 0.3))
            let wav = try WAVFile(path: output)
            #expect(wav.frames == 14_400 && report.glitches == 0)
            #expect(ToneReference.firstDifference(Array(wav.data[..<bytes.count]), bytes) == nil)
            #expect(wav.data[bytes.count...].allSatisfy { $0 == 0 })
        }

        @Test func theDefaultInputFallsBackToEmbeddedSilence() throws {
            let example = try #require(ExampleMiniport.named("simple"))
            let output = ALSATestEnvironment.temporaryPath("fallback")
            defer { try? FileManager.default.removeItem(atPath: output) }
            let said = Mutex<[String]>([])
            let report = try Recorder.record(Self.options(example, format: .cd48k, device: "default", output: output, duration: 0.2),
                                             say: { line in said.withLock { $0.append(line) } })
            #expect(report.device == Recorder.embeddedInput)
            let lines = said.withLock { $0 }
            #expect(lines.count == 1 && lines[0].contains("no sound card") && lines[0].contains(Recorder.embeddedInput), "\(lines)")
            let wav = try WAVFile(path: output)
            #expect(wav.frames == 9_600 && wav.data.allSatisfy { $0 == 0 })
            #expect(report.glitches == 0 && report.silenceFrames == 0)
        }

        @Test func anExampleWithoutCaptureOrAFormatItCannotRecordIsRefused() throws {
            let output = ALSATestEnvironment.temporaryPath("refused")
            defer { try? FileManager.default.removeItem(atPath: output) }
            for (name, format) in [("sysvad", StreamFormat.cd48k), ("isa", StreamFormat.cd48k),
                                   ("hda", try StreamFormat(sampleRate: 48_000, channels: 2, sampleFormat: .float32))] {
                let example = try #require(ExampleMiniport.named(name))
                do {
                    _ = try Recorder.record(Self.options(example, format: format, device: "default", output: output, duration: 0.1))
                    Issue.record("\(name) recorded \(format)")
                } catch {
                    guard case .refused(let why) = error else { Issue.record("\(name): \(error)"); continue }
                    #expect(why.contains("example '\(name)' cannot record \(format)"), "\(why)")
                }
                #expect(!FileManager.default.fileExists(atPath: output))
            }
        }

        @Test func aMissingCaptureDeviceIsAClearError() throws {
            let example = try #require(ExampleMiniport.named("simple"))
            let output = ALSATestEnvironment.temporaryPath("missing")
            defer { try? FileManager.default.removeItem(atPath: output) }
            do {
                _ = try Recorder.record(Self.options(example, format: .cd48k, device: "nosuchpcm", output: output, duration: 0.1))
                Issue.record("recorded from a missing device")
            } catch {
                #expect(error.description.contains("cannot open ALSA capture PCM 'nosuchpcm'"), "\(error)")
            }
        }

        @Test func stoppingMidwayFinishesTheFile() throws {
            let example = try #require(ExampleMiniport.named("isa"))
            let format = try StreamFormat(sampleRate: 44_100, channels: 2, sampleFormat: .int16)
            let (infile, bytes) = try Self.writeInfile(frames: 44_100, format: format)
            let output = ALSATestEnvironment.temporaryPath("stopped")
            defer {
                try? FileManager.default.removeItem(atPath: infile)
                try? FileManager.default.removeItem(atPath: output)
            }
            let start = MonotonicTimebase.shared.now
            let report = try Recorder.record(Self.options(example, format: format, device: ALSATestEnvironment.infile(infile), output: output,
                                                          duration: nil, stop: { MonotonicTimebase.shared.now - start > 300_000_000 }))
            let wav = try WAVFile(path: output)
            #expect(wav.headerFrames == wav.frames && UInt64(wav.frames) == report.framesRecorded)
            // It recorded in real time until the stop, every frame the one the infile holds.
            let audioSeconds = Double(wav.frames) / 44_100
            #expect(audioSeconds / report.wallSeconds > 0.7 && audioSeconds / report.wallSeconds < 1.1, "\(audioSeconds) s in \(report.wallSeconds) s")
            #expect(ToneReference.firstDifference(wav.data, Array(bytes[..<wav.data.count])) == nil)
            #expect(report.glitches == 0 && report.leaks.isEmpty)
        }
    }
}

extension RealTime.RecorderTests {
    /// A capture device that vanishes after `reads` good reads: `snd_pcm_readi` says -ENODEV from then on.
    final class VanishingCapture: PCMCaptureDevice, @unchecked Sendable {
        let pcm: ALSAPCM
        let reads: Int
        private let done = Mutex(0)
        init(_ pcm: ALSAPCM, reads: Int) {
            self.pcm = pcm
            self.reads = reads
        }
        var name: String { pcm.name }
        var periodFrames: Int { pcm.periodFrames }
        var bufferFrames: Int { pcm.bufferFrames }
        func read(_ frames: UnsafeMutableRawPointer, count: Int) -> Int {
            let n = done.withLock { n in
                n += 1
                return n
            }
            return n > reads ? -Int(ENODEV) : pcm.read(frames, count: count)
        }
        func resume() -> Int32 { pcm.resume() }
        func prepare() -> Int32 { pcm.prepare() }
        func delay() -> Int? { pcm.delay() }
        func drop() { pcm.drop() }
    }

    /// The capture device vanishing mid-recording ends the run cleanly: the
    /// stream stopped, the WAV finished with what came before (exactly what
    /// the device gave, no more), the report naming the device and the errno.
    @Test func aVanishingCaptureDeviceEndsTheRunWithItsReport() throws {
        let example = try #require(ExampleMiniport.named("simple"))
        let format = StreamFormat.cd48k
        let (infile, bytes) = try Self.writeInfile(frames: 48_000, format: format)
        let output = ALSATestEnvironment.temporaryPath("vanished")
        defer {
            try? FileManager.default.removeItem(atPath: infile)
            try? FileManager.default.removeItem(atPath: output)
        }
        var options = Self.options(example, format: format, device: ALSATestEnvironment.infile(infile), output: output, duration: 0.8)
        options.pcmBoundary = { VanishingCapture($0, reads: 10) }
        let report = try Recorder.record(options)
        #expect(report.framesRecorded < 38_400, "the run ended when the device went, not at its duration (\(report.framesRecorded) frames)")
        let error = try #require(report.deviceError)
        #expect(error.contains("failed while recording") && error.contains("No such device") && report.deviceErrno == ENODEV, "\(error)")
        let wav = try WAVFile(path: output)
        #expect(wav.headerFrames == wav.frames && UInt64(wav.frames) == report.framesRecorded)
        // What the device gave before it vanished is in the WAV, sample for sample (all but what the cyclic
        // buffer still held when the stream stopped), then at most a buffer of silence (recorded while the
        // run noticed the ring had run dry).
        #expect(report.framesRead > 0 && UInt64(wav.frames) + UInt64(report.cyclicBufferFrames) >= report.framesRead && UInt64(wav.frames) <= report.framesRead + UInt64(report.cyclicBufferFrames),
                "\(wav.frames) frames in the WAV, \(report.framesRead) read from the device")
        let compared = min(wav.frames, Int(report.framesRead)) * format.blockAlign
        #expect(ToneReference.firstDifference(Array(wav.data.prefix(compared)), Array(bytes.prefix(compared))) == nil)
        #expect(report.notes.contains { $0.contains("the stream was stopped after") })
    }
}
