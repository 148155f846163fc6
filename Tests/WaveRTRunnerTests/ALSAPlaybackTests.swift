import Foundation
import Glibc
import Synchronization
import Testing
import WaveRTALSA
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTRunner
import WaveRTTestSupport

extension RealTime {
    /// Real libasound, no sound card: the shipped configuration's file plugin over
    /// `null` captures what the whole miniport path played, and the captured WAV is
    /// analysed here. Real time is measured, not timed: assertions are on ratios.
    @Suite struct ALSAPlaybackTests {
        init() { ALSATestEnvironment.setUp() }

        static func temporaryWAV() -> String {
            FileManager.default.temporaryDirectory.appendingPathComponent("wavert-alsa-\(UUID()).wav").path
        }

        static func options(_ example: ExampleMiniport, device: String, duration: Double?, source: any SampleSource,
                            format: StreamFormat? = nil, faithful: Bool = false, clock: RunClock = .system,
                            stop: @escaping @Sendable () -> Bool = { false }) -> Player.Options
        {
            // 40 ms buffers: zero glitches even when the client wakes ~18 ms late on a loaded CI machine.
            Player.Options(example: example,
                           setup: example.streamSetup(format: format, bufferMilliseconds: Double(max(example.bufferMilliseconds, 40)),
                                                      faithfulFaults: faithful),
                           source: source, device: device, clock: clock, duration: duration, stop: stop)
        }

        /// The captured file decoded as `format` (a WAV's own layout when they match).
        static func decode(_ path: String, as format: StreamFormat) throws -> [UInt8] {
            let file = try AudioFileSource(path: path)
            var bytes = [UInt8](repeating: 0, count: file.frameCount * format.blockAlign)
            _ = bytes.withUnsafeMutableBytes { file.read(frames: file.frameCount, into: $0.baseAddress!, format: format) }
            return bytes
        }

        /// Goertzel power of `frequency` in the left channel, relative to the signal's power.
        static func relativePower(_ bytes: [UInt8], format: StreamFormat, frequency: Double) -> Double {
            let n = bytes.count / format.blockAlign
            let k = 2 * cos(2 * .pi * frequency / Double(format.sampleRate))
            var s1 = 0.0, s2 = 0.0, energy = 0.0
            bytes.withUnsafeBytes { raw in
                for i in 0..<n {
                    let x = SampleCoding.load(at: raw.baseAddress! + i * format.blockAlign, as: format.sampleFormat)
                    energy += x * x
                    let s = x + k * s1 - s2
                    s2 = s1
                    s1 = s
                }
            }
            let power = s1 * s1 + s2 * s2 - k * s1 * s2
            return energy > 0 ? power / (energy * Double(n) / 2) : 0
        }

        @Test(arguments: ["simple", "hda", "isa", "sysvad"])
        func eachExamplePlaysSampleExactInRealTime(name: String) throws {
            let example = try #require(ExampleMiniport.named(name))
            let path = Self.temporaryWAV()
            defer { try? FileManager.default.removeItem(atPath: path) }
            let requested = 1.0
            let report = try Player.play(Self.options(example, device: "wavert_capture:FILE=\(path)", duration: requested,
                                                      source: ToneGenerator(frequency: 440, levelDBFS: -12)))
            #expect(report.glitches == 0 && report.xruns == 0 && report.framesLost == 0 && report.leaks.isEmpty)
            let format = example.format
            let captured = try Self.decode(path, as: format)
            let frames = captured.count / format.blockAlign
            #expect(UInt64(frames) == report.framesPlayed)
            #expect(frames == format.sampleRate)  // exactly the duration: round(1.0 s x rate)
            // Duration: the audio is as long as the run, and the run took as long as the audio.
            let audioSeconds = Double(frames) / Double(format.sampleRate)
            #expect(audioSeconds / requested > 0.9 && audioSeconds / requested < 1.1, "\(audioSeconds) s of audio")
            #expect(report.wallSeconds / audioSeconds > 0.9 && report.wallSeconds / audioSeconds < 1.25)
            // Frequency: 440 Hz holds nearly all the power; 470 Hz next to none.
            #expect(Self.relativePower(captured, format: format, frequency: 440) > 0.9)
            #expect(Self.relativePower(captured, format: format, frequency: 470) < 0.01)
            // Continuity: every sample is the ideal tone's, none dropped, repeated or wrong.
            let reference = ToneReference.tone(440, -12, format: format, bytes: captured.count)
            let mismatch = ToneReference.mismatch(captured, reference, format: format)
            #expect(mismatch == nil, "\(name): \(String(describing: mismatch))")
        }

        /// ALSA's `plug` converting to S32 on the way to the file: each 32-bit sample is
        /// the stream's left-justified, every sample of every channel, no frame cut.
        @Test(arguments: [
            StreamFormat.cd48k,
            try! StreamFormat(sampleRate: 44_100, channels: 6, sampleFormat: .int24),
            try! StreamFormat(sampleRate: 96_000, channels: 8, sampleFormat: .int16),
            try! StreamFormat(sampleRate: 48_000, channels: 2, sampleFormat: .int24),
        ])
        func formatConversionThroughPlug(format: StreamFormat) throws {
            let example = try #require(ExampleMiniport.named("simple"))
            let path = Self.temporaryWAV()
            defer { try? FileManager.default.removeItem(atPath: path) }
            let report = try Player.play(Self.options(example, device: "wavert_capture_s32:FILE=\(path)", duration: 0.3,
                                                      source: ToneGenerator(frequency: 1000), format: format))
            let wav = try WAVFile(path: path)
            #expect(wav.bitsPerSample == 32 && wav.channels == format.channels)  // plug converted on the way
            let frames = Int((0.3 * Double(format.sampleRate)).rounded())
            #expect(wav.frames == frames && report.framesPlayed == UInt64(frames))
            let reference = ToneReference.tone(1000, -12, format: format, bytes: frames * format.blockAlign)
            let shift = 32 - format.sampleFormat.bits
            var wrong = 0
            reference.withUnsafeBytes { ref in
                wav.data.withUnsafeBytes { wide in
                    for i in 0..<min(frames, wav.frames) * format.channels {
                        let p = ref.baseAddress! + i * format.sampleFormat.bytes
                        let narrow: Int32 = format.sampleFormat == .int16
                            ? Int32(Int16(littleEndian: p.loadUnaligned(as: Int16.self)))
                            : Int32(p.load(fromByteOffset: 0, as: UInt8.self)) | Int32(p.load(fromByteOffset: 1, as: UInt8.self)) << 8
                                | Int32(Int8(bitPattern: p.load(fromByteOffset: 2, as: UInt8.self))) << 16
                        if wide.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self) != narrow << shift { wrong += 1 }
                    }
                }
            }
            #expect(wrong == 0, "\(format): \(wrong) samples differ")
        }

        /// `--duration S` plays exactly round(S x rate) frames, the last period drained.
        @Test(arguments: [(44_100, 0.3), (44_100, 1.0), (48_000, 0.25), (96_000, 0.1), (22_050, 0.0101)])
        func durationPlaysExactlyTheRoundedFrames(rate: Int, seconds: Double) throws {
            let example = try #require(ExampleMiniport.named("hda"))
            let path = Self.temporaryWAV()
            defer { try? FileManager.default.removeItem(atPath: path) }
            let format = try StreamFormat(sampleRate: rate, channels: 2, sampleFormat: .int16)
            let report = try Player.play(Self.options(example, device: ALSATestEnvironment.capture(path), duration: seconds,
                                                      source: ToneGenerator(frequency: 440, levelDBFS: -12), format: format))
            let expected = Int((seconds * Double(rate)).rounded())
            let wav = try WAVFile(path: path)
            #expect(wav.frames == expected && wav.headerFrames == expected, "\(wav.frames) frames, expected \(expected)")
            #expect(report.framesPlayed == UInt64(expected))
            #expect(ToneReference.firstDifference(wav.data, ToneReference.tone(440, -12, format: format, bytes: expected * format.blockAlign)) == nil)
        }

        /// A 24-bit, 6-channel file plays at its own format: every sample, every
        /// channel (each its own tone), to its last frame and no further.
        @Test func a24BitFileSourcePlaysAtItsOwnFormat() throws {
            let format = try StreamFormat(sampleRate: 44_100, channels: 6, sampleFormat: .int24)
            let source = ALSATestEnvironment.temporaryPath("source")
            let path = Self.temporaryWAV()
            defer {
                try? FileManager.default.removeItem(atPath: source)
                try? FileManager.default.removeItem(atPath: path)
            }
            let frames = 13_337
            let sample: (Int, Int) -> Double = { f, c in 0.5 * sin(2 * Double.pi * Double(200 + 100 * c) * Double(f) / 44_100) }
            try AudioFileSource.writeWAV(path: source, format: format, frames: frames, sample: sample)
            let file = try AudioFileSource(path: source)
            #expect(file.fileSampleFormat == .int24)
            let example = try #require(ExampleMiniport.named("simple"))
            let report = try Player.play(Self.options(example, device: ALSATestEnvironment.capture(path), duration: nil,
                                                      source: file, format: format))
            let wav = try WAVFile(path: path)
            #expect(wav.frames == frames && report.framesPlayed == UInt64(frames))
            var expected = [UInt8](repeating: 0, count: frames * format.blockAlign)
            expected.withUnsafeMutableBytes { buf in
                for f in 0..<frames {
                    for c in 0..<6 { SampleCoding.store(sample(f, c), at: buf.baseAddress! + f * 18 + c * 3, as: .int24) }
                }
            }
            let mismatch = ToneReference.mismatch(wav.data, expected, format: format)
            #expect(mismatch == nil, "\(String(describing: mismatch))")
        }

        @Test func aMissingDeviceIsAClearError() throws {
            let example = try #require(ExampleMiniport.named("simple"))
            do {
                _ = try Player.play(Self.options(example, device: "nosuchpcm", duration: 0.1, source: ToneGenerator(frequency: 440)))
                Issue.record("played into a missing device")
            } catch {
                let text = "\(error)"
                #expect(text.contains("cannot open ALSA PCM 'nosuchpcm'"))
                #expect(text.contains("try --device null"))
            }
        }

        @Test func theDefaultDeviceFallsBackToAFileWhenItCannotOpen() throws {
            // The test configuration's default cannot open, sound card or not.
            #expect(throws: ALSAError.self) { try ALSAPCM(name: "default", configuration: ALSAConfiguration()) }
            let example = try #require(ExampleMiniport.named("simple"))
            let path = Self.temporaryWAV()
            defer { try? FileManager.default.removeItem(atPath: path) }
            var options = Self.options(example, device: "default", duration: 0.3, source: ToneGenerator(frequency: 440))
            options.fallbackPath = path
            let said = Mutex<[String]>([])
            let report = try Player.play(options, say: { line in said.withLock { $0.append(line) } })
            #expect(report.outputFile == path)
            #expect(report.device == "wavert_capture:FILE=\(path)")
            #expect(said.withLock { $0 }.count == 1)
            #expect(said.withLock { $0 }.first?.contains("no sound card") == true)
            // The fallback plays the whole run into the file.
            let wav = try WAVFile(path: path)
            #expect(wav.frames == 14_400 && report.framesPlayed == 14_400)
            #expect(ToneReference.firstDifference(wav.data, ToneReference.tone(440, -12, format: .cd48k, bytes: 14_400 * 4)) == nil)
        }

        @Test func aNonPacingDeviceCannotLeadTheClock() throws {
            let example = try #require(ExampleMiniport.named("simple"))
            let path = Self.temporaryWAV()
            defer { try? FileManager.default.removeItem(atPath: path) }
            let report = try Player.play(Self.options(example, device: "wavert_capture:FILE=\(path)", duration: 0.3,
                                                      source: ToneGenerator(frequency: 440), clock: .device))
            #expect(report.clock == .system)
            #expect(report.notes.contains { $0.contains("does not pace playback") })
        }

        @Test func stoppingMidwayIsClean() throws {
            let example = try #require(ExampleMiniport.named("hda"))
            let path = Self.temporaryWAV()
            defer { try? FileManager.default.removeItem(atPath: path) }
            let start = MonotonicTimebase.shared.now
            let threshold = 0.4
            // No duration: a tone plays until stopped (what SIGINT does).
            let report = try Player.play(Self.options(example, device: "wavert_capture:FILE=\(path)", duration: nil,
                                                      source: ToneGenerator(frequency: 440),
                                                      stop: { Double(MonotonicTimebase.shared.now - start) / 1e9 > threshold }))
            // It ran until the stop flag, not less (start-up comes before the player's own clock starts)...
            #expect(report.wallSeconds / threshold > 0.85, "\(report.wallSeconds) s")
            // ...in real time, and then wound down cleanly.
            let audioSeconds = Double(report.framesPlayed) / 48_000
            #expect(audioSeconds / report.wallSeconds > 0.8 && audioSeconds / report.wallSeconds < 1.25)
            #expect(report.leaks.isEmpty && report.glitches == 0)
        }

        @Test func faithfulFaultsWithABuggyExampleAreHeardAndCounted() throws {
            let example = try #require(ExampleMiniport.named("buggy-highmem"))
            let path = Self.temporaryWAV()
            defer { try? FileManager.default.removeItem(atPath: path) }
            let report = try Player.play(Self.options(example, device: "wavert_capture:FILE=\(path)", duration: 0.5,
                                                      source: ToneGenerator(frequency: 440), faithful: true))
            #expect(report.dmaFaults > 0)
            let captured = try Self.decode(path, as: .cd48k)
            // The tone the client wrote never reaches the DAC: the DMA read other pages.
            #expect(Self.relativePower(captured, format: .cd48k, frequency: 440) < 0.01)
            #expect(captured != ToneReference.tone(440, -12, format: .cd48k, bytes: captured.count))
        }
    }
}
