import Foundation
import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine
import WaveRTPort
import WaveRTExamples

/// Each example through a full lifecycle on the virtual clock: the bytes out of
/// the DMA are exactly the source's, no glitches, a clean teardown.
@Suite struct ExampleLifecycleTests {
    struct Run {
        let session: MiniportSession
        let sink: CollectingSink
        let clock: VirtualClock
    }

    static func start(_ example: ExampleMiniport, source: any SampleSource, format: StreamFormat? = nil,
                      memory: PhysicalMemory = PhysicalMemory(), profile: DMAProfile? = nil,
                      faithfulFaults: Bool = false, mode: AudioEngineClient.Mode? = nil,
                      bufferMilliseconds: Int? = nil) throws -> Run
    {
        let clock = VirtualClock()
        let sink = CollectingSink(capacityBytes: 2 << 20)
        let configuration = SessionConfiguration(
            format: format ?? example.format, bufferMilliseconds: bufferMilliseconds ?? example.bufferMilliseconds,
            notificationCount: example.notificationCount, clientMode: mode ?? example.clientMode,
            dmaProfile: profile ?? example.profile, faithfulFaults: faithfulFaults)
        let session = try MiniportSession(miniport: example.make(), configuration: configuration, source: source,
                                          engine: AudioEngine(timebase: clock), memory: memory, sink: { _ in sink })
        try session.start()
        return Run(session: session, sink: sink, clock: clock)
    }

    /// The bytes a fresh generator produces for `count` bytes of `format`.
    static func reference(_ make: () -> any SampleSource, format: StreamFormat, bytes count: Int) -> [UInt8] {
        let source = make()
        var out = [UInt8](repeating: 0, count: count)
        let frames = count / format.blockAlign
        let got = out.withUnsafeMutableBytes { source.read(frames: frames, into: $0.baseAddress!, format: format) }
        return Array(out.prefix(got * format.blockAlign)) + [UInt8](repeating: 0, count: count - got * format.blockAlign)
    }

    @Test(arguments: ["simple", "hda", "isa"])
    func toneComesOutOfTheDMASampleExact(name: String) throws {
        let example = try #require(ExampleMiniport.named(name))
        let run = try Self.start(example, source: ToneGenerator(frequency: 440, levelDBFS: -12))
        run.clock.advance(by: 500_000_000)
        let played = run.sink.bytes
        let expected = Self.reference({ ToneGenerator(frequency: 440, levelDBFS: -12) }, format: example.format, bytes: played.count)
        #expect(played.count >= 48_000 * 4 / 2)
        #expect(played == expected)
        let report = run.session.finish()
        #expect(report.glitchCount == 0)
        #expect(report.lateWrites == 0)
        #expect(report.leaks.isEmpty && report.teardownFailures.isEmpty)
        #expect(report.framesPlayed == 24_000)
        #expect(run.session.memory.liveMDLs.isEmpty)
        #expect(report.diagnostics.isEmpty, "\(report.diagnostics)")
    }

    @Test func hdaUsesPacketModeTheRegisterAndLowPages() throws {
        let example = try #require(ExampleMiniport.named("hda"))
        let run = try Self.start(example, source: ToneGenerator(frequency: 1000))
        let stream = run.session.stream
        #expect(stream.allocation.cacheType == .writeCombined)
        #expect(stream.allocation.mdl.pageFrameNumbers.allSatisfy { $0 < 0x10_0000 })  // below 4 GiB
        let register = try #require(stream.positionRegister)
        #expect(register.accuracy == 128 && register.width == 32)
        run.clock.advance(by: 100_000_000)
        let hardware = try #require(run.session.hardware)
        #expect(hardware.getPacketCount() > 0)
        #expect(run.session.client.lastPacketError == nil)
        #expect(hardware.glitchCount == 0)
        // The BDL: one entry per page, cut at packet ends, IOC there, 128-byte aligned.
        let list = hardware.dma.programmedDescriptors
        #expect(list.allSatisfy { $0.address.rawValue % 128 == 0 && $0.address.rawValue < 1 << 32 })
        #expect(list.filter(\.interruptOnCompletion).count == 2)
        run.session.finish()
    }

    @Test func isaStreamHasNoRegisterAndStaysInsideA64KiBWindow() throws {
        let example = try #require(ExampleMiniport.named("isa"))
        let run = try Self.start(example, source: ToneGenerator(frequency: 500))
        let stream = run.session.stream
        #expect(stream.positionRegister == nil)  // the port falls back to GetPosition
        let first = stream.allocation.mdl.physicalAddress(ofPage: 0).rawValue
        let last = first + UInt64(stream.bufferBytes) - 1
        #expect(last < 1 << 24 && first >> 16 == last >> 16)
        run.clock.advance(by: 50_000_000)
        #expect(stream.currentPosition() != nil)
        #expect(run.session.finish().glitchCount == 0)
    }

    @Test func fileSourceComesOutSampleExact() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wavert-\(UUID()).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let format = StreamFormat.cd48k
        // A quarter second of a two-tone chord with a different level per channel.
        try AudioFileSource.writeWAV(path: path, format: format, frames: 12_000) { f, c in
            0.3 * sin(Double(f) * (c == 0 ? 0.05 : 0.031)) + 0.1 * sin(Double(f) * 0.7)
        }
        let example = try #require(ExampleMiniport.named("simple"))
        let run = try Self.start(example, source: AudioFileSource(path: path))
        run.clock.advance(by: 400_000_000)
        #expect(run.session.sourceHasPlayed)
        let played = run.sink.bytes
        let expected = Self.reference({ try! AudioFileSource(path: path) }, format: format, bytes: played.count)
        #expect(played.count > 12_000 * 4)
        #expect(played == expected)  // the file's samples, then silence
        #expect(played.suffix(played.count - 48_000).allSatisfy { $0 == 0 })
        #expect(run.session.finish().glitchCount == 0)
    }

    @Test func timerDrivenClientKeepsUp() throws {
        let example = try #require(ExampleMiniport.named("simple"))
        let run = try Self.start(example, source: ToneGenerator(frequency: 440),
                                 mode: .timerDriven(period: 2_000_000, marginBytes: 1_536), bufferMilliseconds: 20)
        run.clock.advance(by: 300_000_000)
        let played = run.sink.bytes
        #expect(played == Self.reference({ ToneGenerator(frequency: 440) }, format: .cd48k, bytes: played.count))
        let report = run.session.finish()
        #expect(report.glitchCount == 0 && report.lateWrites == 0)
    }

    @Test func aSlowTimerDrivenClientReportsItsLateWrites() throws {
        let example = try #require(ExampleMiniport.named("simple"))
        // Polling every 50 ms with a ~21 ms buffer: the DMA laps the client.
        let run = try Self.start(example, source: ToneGenerator(frequency: 440),
                                 mode: .timerDriven(period: 50_000_000, marginBytes: 4_096))
        run.clock.advance(by: 500_000_000)
        let report = run.session.finish()
        #expect(report.lateWrites >= 5)
        #expect(report.glitchCount >= 5)
    }

    /// Every format the CLI accepts, including frame sizes that share no factor
    /// with the controllers' alignments (3-, 15-, 21-byte frames).
    static let formats: [StreamFormat] = {
        var all = [StreamFormat.SampleFormat.int16, .int24, .int32, .float32].flatMap { sample in
            [1, 2, 6, 8].flatMap { channels in
                [44_100, 48_000, 96_000].map { try! StreamFormat(sampleRate: $0, channels: channels, sampleFormat: sample) }
            }
        }
        all += [(8_000, 1, StreamFormat.SampleFormat.int16), (44_100, 3, .int24), (48_000, 5, .int24), (96_000, 7, .int24),
                (48_000, 32, .int24), (48_000, 32, .int32), (192_000, 2, .int24), (22_050, 6, .float32)]
            .map { try! StreamFormat(sampleRate: $0.0, channels: $0.1, sampleFormat: $0.2) }
        return all
    }()

    /// Each example takes each format: its packets are whole frames and whole
    /// multiples of the controller's alignment (a descriptor starts at every
    /// packet boundary), and the DMA reads exactly the source's samples.
    @Test(arguments: ["simple", "hda", "isa"])
    func everyFormatPlaysSampleExactOnEveryExample(name: String) throws {
        let example = try #require(ExampleMiniport.named(name))
        var failures: [String] = []
        for format in Self.formats {
            do {
                let run = try Self.start(example, source: ToneGenerator(frequency: 997, levelDBFS: -3), format: format,
                                         bufferMilliseconds: 20)
                let stream = run.session.stream
                let packet = stream.bufferBytes / example.notificationCount
                let alignment = name == "hda" ? 128 : example.profile.segmentAlignment
                if packet % format.blockAlign != 0 || packet % alignment != 0 {
                    failures.append("\(format): \(packet)-byte packets")
                }
                run.clock.advance(by: 100_000_000)
                // The DMA moves whole bursts, so the last frame collected may be partial: whole frames only.
                let collected = run.sink.bytes
                let played = Array(collected.prefix(collected.count / format.blockAlign * format.blockAlign))
                let expected = Self.reference({ ToneGenerator(frequency: 997, levelDBFS: -3) }, format: format, bytes: played.count)
                if played.count < format.bytesPerSecond / 10 || played != expected { failures.append("\(format): samples differ") }
                let report = run.session.finish()
                if report.glitchCount != 0 || !report.leaks.isEmpty { failures.append("\(format): glitches or leaks") }
            } catch {
                failures.append("\(format): \(error)")
            }
        }
        #expect(failures.isEmpty, "\(name): \(failures.joined(separator: "; "))")
    }

    /// The case from the field: 24-bit stereo on pcie64-sg (4-byte aligned)
    /// used to put a descriptor at a 2-byte boundary and refuse to start.
    @Test func twentyFourBitStereoStartsOnTheSimpleExample() throws {
        let example = try #require(ExampleMiniport.named("simple"))
        let format = try StreamFormat(sampleRate: 48_000, channels: 2, sampleFormat: .int24)
        let run = try Self.start(example, source: ToneGenerator(frequency: 440), format: format)
        let list = try #require(run.session.hardware).dma.programmedDescriptors
        #expect(list.allSatisfy { $0.address.rawValue % 4 == 0 })
        #expect(run.session.stream.bufferBytes % 12 == 0)
        run.session.finish()
    }

    /// A buffer too short for one aligned packet of the format: the example says
    /// which frames, which alignment and what a packet must be a multiple of.
    @Test func aBufferTooShortForOneAlignedPacketSaysWhy() throws {
        let example = try #require(ExampleMiniport.named("hda"))
        let format = try StreamFormat(sampleRate: 8_000, channels: 7, sampleFormat: .int24)
        do {
            _ = try Self.start(example, source: ToneGenerator(frequency: 440), format: format)
            Issue.record("a 4 KiB buffer held two 5,376-byte packets")
        } catch let error as SessionError {
            let text = error.description
            #expect(text.contains("hold no 2 packets of whole 21-byte frames"), "\(text)")
            #expect(text.contains("aligned to 128 bytes (a packet is a multiple of 2688 bytes)"), "\(text)")
        }
    }
}
