import Foundation
import Glibc
import Synchronization
import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine
import WaveRTPort
import WaveRTExamples
import WaveRTALSA

/// Real libasound, no sound card: the shipped configuration's file plugin over
/// `null` captures what the whole miniport path played, and the captured WAV is
/// analysed here. Real time is measured, not timed: assertions are on ratios.
@Suite(.serialized) struct ALSAPlaybackTests {
    static let resources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Resources/alsa/wavert.conf")

    static func temporaryWAV() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("wavert-alsa-\(UUID()).wav").path
    }

    static func options(_ example: ExampleMiniport, device: String, duration: Double?, source: any SampleSource,
                        faithful: Bool = false, clock: Player.Clock = .system, stop: @escaping @Sendable () -> Bool = { false }) -> Player.Options
    {
        Player.Options(exampleName: example.name, makeMiniport: example.make,
                       // 40 ms buffers: zero glitches even when the engine wakes ~18 ms late on a loaded CI machine.
                       session: SessionConfiguration(format: example.format, bufferMilliseconds: max(example.bufferMilliseconds, 40),
                                                     notificationCount: example.notificationCount, clientMode: example.clientMode,
                                                     dmaProfile: example.profile, faithfulFaults: faithful),
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

    @Test func shippedConfigurationIsTheOneTheEmulatorUses() throws {
        #expect(try String(contentsOf: Self.resources, encoding: .utf8) == ALSAConfiguration.wavertText)
    }

    @Test(arguments: ["simple", "hda", "isa"])
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
        // Duration: the audio is as long as the run, and the run took as long as the audio.
        let audioSeconds = Double(frames) / Double(format.sampleRate)
        #expect(audioSeconds / requested > 0.9 && audioSeconds / requested < 1.1, "\(audioSeconds) s of audio")
        #expect(report.wallSeconds / audioSeconds > 0.9 && report.wallSeconds / audioSeconds < 1.25)
        // Frequency: 440 Hz holds nearly all the power; 470 Hz next to none.
        #expect(Self.relativePower(captured, format: format, frequency: 440) > 0.9)
        #expect(Self.relativePower(captured, format: format, frequency: 470) < 0.01)
        // Continuity: every sample is the ideal tone's, none dropped, repeated or wrong.
        let reference = ExampleLifecycleReference.tone(440, -12, format: format, bytes: captured.count)
        #expect(captured == reference)
    }

    @Test func formatConversionThroughPlug() throws {
        let example = try #require(ExampleMiniport.named("simple"))
        let path = Self.temporaryWAV()
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try Player.play(Self.options(example, device: "wavert_capture_s32:FILE=\(path)", duration: 0.3,
                                         source: ToneGenerator(frequency: 1000)))
        let file = try AudioFileSource(path: path)
        #expect(file.fileSampleFormat == .int32)  // plug converted S16 to S32 on the way
        let s32 = try StreamFormat(sampleRate: 48_000, channels: 2, sampleFormat: .int32)
        let wide = try Self.decode(path, as: s32)
        let reference = ExampleLifecycleReference.tone(1000, -12, format: .cd48k, bytes: wide.count / 2)
        // Each 32-bit sample is the 16-bit one shifted left by 16.
        for i in stride(from: 0, to: reference.count / 2, by: 97) {
            let narrow = Int32(Int16(bitPattern: UInt16(reference[2 * i]) | UInt16(reference[2 * i + 1]) << 8))
            let w = wide.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self) }
            #expect(w == narrow << 16)
        }
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

    @Test func theDefaultDeviceFallsBackToAFileWithoutASoundCard() throws {
        guard (try? ALSAPCM(name: "default")) == nil else { return }  // a machine with a card plays for real
        let example = try #require(ExampleMiniport.named("simple"))
        let path = Self.temporaryWAV()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var options = Self.options(example, device: "default", duration: 0.3, source: ToneGenerator(frequency: 440))
        options.fallbackPath = path
        let said = Mutex<[String]>([])
        let report = try Player.play(options, say: { line in said.withLock { $0.append(line) } })
        #expect(report.outputFile == path)
        #expect(said.withLock { $0 }.count == 1)
        #expect(said.withLock { $0 }.first?.contains("no sound card") == true)
        #expect(FileManager.default.fileExists(atPath: path))
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
        #expect(captured != ExampleLifecycleReference.tone(440, -12, format: .cd48k, bytes: captured.count))
    }
}
