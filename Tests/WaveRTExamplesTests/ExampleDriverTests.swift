import Foundation
import Testing
import WaveRTClient
import WaveRTDMA
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTMemory
import WaveRTPort
import WaveRTTestSupport

/// What each example driver does with its hardware and its memory, what the
/// client does with what the port gives it, and what the deliberately buggy
/// drivers get caught at.
@Suite struct ExampleDriverTests {
    static func session(_ name: String, miniport: (any MiniportWaveRT)? = nil, format: StreamFormat? = nil, bufferMilliseconds: Double? = nil,
                        mode: ClientMode? = nil, memory: PhysicalMemory = PhysicalMemory(), faithfulFaults: Bool = false,
                        source: (any SampleSource)? = nil) throws -> (MiniportSession, VirtualClock, GrowingSink)
    {
        let example = try #require(ExampleMiniport.named(name))
        let format = format ?? example.format
        var setup = StreamSetup(hardware: example.hardware, format: format,
                                bufferFrames: StreamSetup.frames(milliseconds: bufferMilliseconds ?? Double(example.bufferMilliseconds),
                                                                 rate: format.sampleRate, notificationCount: example.notificationCount),
                                notificationCount: example.notificationCount, mode: mode ?? (example.packetMode ? .packet : .event))
        if let name = example.profileName { setup.dmaProfile = DMAProfile.preset(named: name) }
        setup.faithfulFaults = faithfulFaults
        let clock = VirtualClock()
        let speaker = GrowingSink()
        let session = try MiniportSession(miniport: miniport ?? example.make(), setup: setup, timebase: clock, memory: memory,
                                          source: source ?? ToneGenerator(frequency: 440, levelDBFS: -12), speaker: speaker)
        return (session, clock, speaker)
    }

    static func tone(_ format: StreamFormat, bytes: Int) -> [UInt8] {
        ExampleEndToEndTests.reference(440, -12, format: format, frames: bytes / format.blockAlign)
    }

    // MARK: The drivers' hardware and memory

    @Test func hdaWritesABDLWithIOCAtPacketEndsAndHandsOutLPIBAndTheWallClock() throws {
        let (session, clock, _) = try Self.session("hda")
        try session.start()
        let pages = try #require(session.pin.bufferPages)
        #expect(pages.mdl.pageFrameNumbers.allSatisfy { $0 < 0x10_0000 })   // below 4 GiB: the controller is 32-bit
        #expect(session.client.buffer.callMemoryBarrier)                       // MmWriteCombined
        #expect(session.client.mode == .packet)
        // The BDL the driver wrote in memory, as the controller fetched it at RUN.
        let descriptor = try #require(session.adapter.hda?.descriptors[4])
        let list = try #require(descriptor.dma.program?.dma.programmedDescriptors)
        #expect(list.allSatisfy { $0.address.rawValue % 128 == 0 && $0.address.rawValue < 1 << 32 })
        #expect(list.filter(\.interruptOnCompletion).count == 2)
        #expect(list.reduce(0) { $0 + $1.length } == session.client.buffer.actualSize)
        // POSITIONREGISTER (LPIB's alias) is mapped once per pin, and the client has it already.
        if case .failure(let s) = session.pin.positionRegister() { #expect(s == .invalidDeviceRequest) } else { Issue.record("mapped twice") }
        clock.advance(by: 12_345_678)
        let position = try session.pin.position().get()
        let alias = try #require(session.adapter.hda).read(offset: 0x2000 + 0x80 + 0x20 * 4 + 0x04, width: .dword)
        #expect(alias == position.playOffset)
        #expect(position.playOffset == UInt64(592 * 4 % session.client.buffer.actualSize))  // 12.35 ms = 592 frames
        #expect(position.writeOffset == (position.playOffset + 192) % UInt64(session.client.buffer.actualSize))  // LPIB + FIFOS + 1
        session.finish()
    }

    @Test func hdaClockRegisterIsTheWallClock() throws {
        let (session, clock, _) = try Self.session("hda")
        let wall = try session.pin.clockRegister().get()
        #expect(wall.description.numerator == 24_000_000 && wall.description.denominator == 1)
        let before = wall.read()
        clock.advance(by: 1_000_000)
        #expect(wall.read() &- before == 24_000)
        session.finish()
    }

    /// The 8237 needs one physically contiguous buffer below 16 MiB inside one
    /// 128 KiB page; the SB16 has no memory-mapped position, so the client reads
    /// KSPROPERTY_AUDIO_POSITION (the driver reads the 8237's count through the flip-flop).
    @Test func isaBufferIsContiguousBelow16MiBInsideOnePageAndHasNoPositionRegister() throws {
        let (session, clock, _) = try Self.session("isa")
        if case .failure(let s) = session.pin.positionRegister() { #expect(s == .notSupported) } else { Issue.record("a register") }
        let pages = try #require(session.pin.bufferPages)
        let frames = pages.mdl.pageFrameNumbers
        #expect(zip(frames, frames.dropFirst()).allSatisfy { $0 + 1 == $1 })
        let first = pages.mdl.physicalAddress(ofPage: 0).rawValue
        let last = first + UInt64(pages.size) - 1
        #expect(last < 1 << 24 && first >> 17 == last >> 17)
        let window = try #require(session.adapter.isaDMA?.channels[5].window)
        #expect(window.base.rawValue == first && window.length == pages.size)
        try session.start()
        clock.advance(by: 30_000_000)
        let p = try session.pin.position().get()
        // 30 ms at 44.1 kHz stereo: 1323 frames from the start, wrapped in the buffer.
        #expect(p.playOffset == UInt64(1323 * 4 % pages.size))
        #expect(session.finish().isClean)
    }

    /// A file's samples come out of the DMA exactly, then silence once it ends.
    @Test func aFileSourceComesOutSampleExact() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wavert-\(UUID()).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try AudioFileSource.writeWAV(path: path, format: .cd48k, frames: 12_000) { f, c in
            0.3 * sin(Double(f) * (c == 0 ? 0.05 : 0.031)) + 0.1 * sin(Double(f) * 0.7)
        }
        let (session, clock, speaker) = try Self.session("simple", source: try AudioFileSource(path: path))
        try session.start()
        clock.advance(by: 400_000_000)
        #expect(session.sourceHasPlayed)
        let played = speaker.bytes
        var expected = [UInt8](repeating: 0, count: played.count)
        let file = try AudioFileSource(path: path)
        _ = expected.withUnsafeMutableBytes { file.read(frames: 12_000, into: $0.baseAddress!, format: .cd48k) }
        #expect(played.count > 12_000 * 4)
        #expect(firstDifference(played, expected) == nil)
        #expect(session.finish().glitchCount == 0)
    }

    /// Packet mode end of stream: the client sends EOS with the last packet's
    /// length; the `hda` driver silences what the buffer holds after it, so the
    /// file plays exactly and then silence, never a repeat of the old buffer.
    @Test func hdaEndOfStreamPlaysTheFileThenSilence() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wavert-\(UUID()).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try AudioFileSource.writeWAV(path: path, format: .cd48k, frames: 5_000) { f, c in 0.5 * sin(Double(f) * (c == 0 ? 0.03 : 0.05)) }
        let (session, clock, speaker) = try Self.session("hda", source: try AudioFileSource(path: path))
        #expect(session.client.mode == .packet)
        try session.start()
        clock.advance(by: 300_000_000)
        #expect(session.sourceHasPlayed)
        #expect(session.client.endOfDataPosition == 20_000)
        let played = speaker.bytes
        var expected = [UInt8](repeating: 0, count: played.count)
        _ = expected.withUnsafeMutableBytes { try! AudioFileSource(path: path).read(frames: 5_000, into: $0.baseAddress!, format: .cd48k) }
        #expect(played.count >= 48_000 * 4 / 4)
        #expect(firstDifference(played, expected) == nil)
        let report = session.finish()
        #expect(report.glitchCount == 0 && report.packetErrors == 0, "\(report.glitches.prefix(3)) \(report.packetErrors)")
    }

    @Test func aSourceAtAnotherRateIsAClearError() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wavert-\(UUID()).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try AudioFileSource.writeWAV(path: path, format: try StreamFormat(sampleRate: 44_100, channels: 2, sampleFormat: .int16), frames: 100) { _, _ in 0 }
        do {
            _ = try Self.session("simple", source: try AudioFileSource(path: path))
            Issue.record("opened")
        } catch {
            #expect("\(error)".contains("the source is at 44100 Hz but the stream runs at 48000 Hz"))
        }
    }

    // MARK: Clients

    @Test func aTimerDrivenClientKeepsUp() throws {
        let (session, clock, speaker) = try Self.session("simple", bufferMilliseconds: 20, mode: .timer(periodNanoseconds: 2_000_000))
        try session.start()
        clock.advance(by: 300_000_000)
        let played = speaker.bytes
        #expect(firstDifference(played, Self.tone(.cd48k, bytes: played.count)) == nil)
        let report = session.finish()
        #expect(report.glitchCount == 0 && report.lateWrites == 0)
        #expect(report.wakes >= 149)
    }

    /// Polling every 50 ms with a 10 ms buffer: the device laps the client, and every lap is a glitch.
    @Test func aSlowTimerDrivenClientGlitches() throws {
        let (session, clock, _) = try Self.session("simple", mode: .timer(periodNanoseconds: 50_000_000))
        try session.start()
        clock.advance(by: 500_000_000)
        let report = session.finish()
        #expect(report.glitchCount >= 9, "\(report.glitchCount)")
        #expect(report.lateWrites >= 5)
        #expect(report.glitches.allSatisfy { $0.kind == .underrun })
    }

    /// A stream without IMiniportWaveRTStreamNotification: the client asks for a
    /// plain buffer, registers no event, and polls the position (timer mode): still exact.
    @Test func withoutNotificationsTheClientPolls() throws {
        let (session, clock, speaker) = try Self.session("simple", miniport: PollingOnlyMiniport())
        #expect(try session.pin.queryNotificationSupport().get() == false)
        #expect(session.client.notificationCount == 0)
        guard case .timer(let period) = session.client.mode else { Issue.record("mode \(session.client.mode)"); return }
        #expect(period > 0 && period <= 5_000_000)
        try session.start()
        clock.advance(by: 300_000_000)
        let played = speaker.bytes
        #expect(played.count >= 48_000 * 4 * 3 / 10)
        #expect(firstDifference(played, Self.tone(.cd48k, bytes: played.count)) == nil)
        let report = session.finish()
        #expect(report.isClean && report.eventTimeouts == 0, "\(report.glitches.prefix(3)) \(report.leaks) \(report.verifier)")
    }

    /// WASAPI does not use a buffer smaller than it asked for: stream creation fails
    /// (the rule of the KSPROPERTY_RTAUDIO_BUFFER page, followed over the WITH_NOTIFICATION
    /// page's "can be less": the client must get the latency it asked for).
    @Test func aBufferSmallerThanAskedFailsStreamCreation() throws {
        do {
            _ = try Self.session("simple", miniport: ShortBufferMiniport())
            Issue.record("opened")
        } catch let error as SessionError {
            guard case .client(let client, _) = error, case .bufferSmallerThanAsked(let actual, let requested) = client else {
                Issue.record("\(error)")
                return
            }
            #expect(requested == 1920 && actual == 960)
            #expect(error.description.contains("smaller than the 1920 bytes asked for; WASAPI does not use such a buffer"))
        }
    }

    /// SYSVAD maps its buffer for itself; the client's view is a mapping of its own.
    @Test func sysvadMapsItsOwnBufferAndTheClientStillPlays() throws {
        let (session, clock, speaker) = try Self.session("sysvad")
        let pages = try #require(session.pin.bufferPages)
        let kernel = try #require(pages.mdl.mappedSystemVa)
        #expect(kernel != session.client.buffer.address)
        #expect(session.machine.memory.userMappingCount(of: pages.mdl) == 1)
        #expect(!session.client.buffer.callMemoryBarrier)  // MmCached, as SYSVAD asks
        try session.start()
        clock.advance(by: 200_000_000)
        let played = speaker.bytes
        #expect(played.count >= 48_000 * 4 / 10)
        #expect(firstDifference(played, Self.tone(.cd48k, bytes: played.count)) == nil)
        #expect(session.finish().isClean)
    }

    // MARK: Memory pressure

    /// A machine whose RAM below 4 GiB is small, so fragmenting it is quick.
    static func smallMachineMemory() throws -> PhysicalMemory {
        try PhysicalMemory(map: PhysicalMemoryMap(ramRanges: [.init(start: 0, end: 0xA_0000), .init(start: 0x10_0000, end: 0x1000_0000),
                                                              .init(start: 0x1_0000_0000, end: 0x1_0400_0000)]))
    }

    /// Scatter-gather drivers do not care that no two free pages are adjacent.
    @Test(arguments: ["simple", "hda"])
    func scatterGatherExamplesPlayOnFragmentedMemory(name: String) throws {
        let memory = try Self.smallMachineMemory()
        memory.fragment(seed: 77, occupancy: 0.6, longestFreeRunPages: 1)
        let (session, clock, speaker) = try Self.session(name, bufferMilliseconds: 200, memory: memory)
        let frames = try #require(session.pin.bufferPages).mdl.pageFrameNumbers
        #expect(zip(frames, frames.dropFirst()).allSatisfy { $0 + 1 != $1 })
        try session.start()
        clock.advance(by: 300_000_000)
        let played = speaker.bytes
        #expect(firstDifference(played, Self.tone(.cd48k, bytes: played.count)) == nil)
        #expect(session.finish().isClean)
    }

    /// The ISA driver halves its buffer when no contiguous run is long enough, and
    /// says so; the client then refuses the smaller buffer.
    @Test func isaOnFragmentedMemoryGetsLessAndSaysSo() throws {
        let memory = try Self.smallMachineMemory()
        memory.fragment(seed: 77, occupancy: 0.6, longestFreeRunPages: 4)
        do {
            _ = try Self.session("isa", bufferMilliseconds: 200, memory: memory)
            Issue.record("opened")
        } catch let error as SessionError {
            #expect(error.description.contains("smaller than the 35280 bytes asked for"), "\(error)")
            #expect(error.description.contains("isa: no 35280 contiguous bytes below 16 MiB inside one 128 KiB page; using"))
        }
    }

    @Test func isaFailsCleanlyWhenNoContiguousMemoryIsLeft() throws {
        let memory = PhysicalMemory()
        let hog = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFF_FFFF, skipBytes: 0, totalBytes: 16 << 20))
        do {
            _ = try Self.session("isa", memory: memory)
            Issue.record("opened")
        } catch let error as SessionError {
            #expect(error.description.contains("STATUS_INSUFFICIENT_RESOURCES"))
            #expect(error.description.contains("not even 4096 contiguous bytes below 16 MiB"))
        }
        memory.freePagesFromMdl(hog)
        #expect(memory.liveMDLs.isEmpty)
    }

    // MARK: The buggy drivers

    /// buggy-highmem on a 32-bit bus master: the device refuses the descriptor
    /// table and names the segment, the address and the limit; nothing plays.
    @Test func buggyHighMemoryIsRefusedByTheDeviceWithTheAddressNamed() throws {
        let (session, clock, speaker) = try Self.session("buggy-highmem")
        try session.start()
        clock.advance(by: 50_000_000)
        let report = session.finish()
        #expect(speaker.bytes.isEmpty)
        #expect(report.guestErrors.contains { $0.contains("is above the 32-bit limit of controller pci32-sg") && $0.contains("segment 0 at 0x1_") },
                "\(report.guestErrors)")
        #expect(report.glitchCount == 0 && report.verifier.isEmpty)  // a hardware mistake, not a kernel rule
    }

    /// With faithful faults the device drops the high address bits as silicon
    /// does, and plays whatever lies 4 GiB lower (free memory: silence).
    @Test func buggyHighMemoryInFaithfulModePlaysTheWrongSamples() throws {
        let (session, clock, speaker) = try Self.session("buggy-highmem", faithfulFaults: true)
        try session.start()
        clock.advance(by: 200_000_000)
        let played = speaker.bytes
        #expect(played.count >= 48_000 * 4 / 10)
        #expect(played.allSatisfy { $0 == 0 })
        #expect(played != Self.tone(.cd48k, bytes: played.count))
        let report = session.finish()
        #expect(report.dmaFaultEvents > 0)
        #expect(!report.dmaFaults.isEmpty && report.dmaFaults.allSatisfy { $0.kind.contains(.addressTruncated) })
    }

    /// buggy-partial ignores a partial AllocatePagesForMdl: on a machine short of
    /// memory below 16 MiB it claims a buffer larger than its MDL; the port refuses it.
    @Test func buggyPartialIsCaughtWhenMemoryRunsShort() throws {
        let memory = PhysicalMemory()
        let hog = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFF_FFFF, skipBytes: 0, totalBytes: 16 << 20))
        memory.freePagesFromMdl(hog)
        let keep = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFF_FFFF, skipBytes: 0, totalBytes: hog.byteCount - 4096))
        do {
            _ = try Self.session("buggy-partial", bufferMilliseconds: 50, memory: memory)  // three pages asked, one free
            Issue.record("opened")
        } catch let error as SessionError {
            #expect(error.description.contains("STATUS_INSUFFICIENT_RESOURCES"))
            #expect(error.description.contains("BufferLargerThanMdl"), "\(error)")
            #expect(error.description.contains("exceeds the MDL's 4096 bytes (was a partial allocation ignored?)"))
        }
        memory.freePagesFromMdl(keep)
        #expect(memory.liveMDLs.isEmpty)
    }

    /// buggy-passive-in-dpc plays fine and is caught by the verifier: a
    /// PASSIVE_LEVEL DDI called at DISPATCH_LEVEL from its DPC.
    @Test func buggyPassiveInDpcIsReportedByTheVerifier() throws {
        let (session, clock, speaker) = try Self.session("buggy-passive-in-dpc")
        try session.start()
        clock.advance(by: 100_000_000)
        let report = session.finish()
        let played = speaker.bytes
        #expect(firstDifference(played, Self.tone(.cd48k, bytes: played.count)) == nil)
        #expect(report.glitchCount == 0)
        let findings = report.verifier.filter { $0.rule == "IrqlTooHigh" }
        #expect(findings.count >= 19)  // one per DPC: two a buffer, 10 ms buffers, 100 ms
        #expect(findings.allSatisfy { $0.ddi == "IPortWaveRTStream::GetPhysicalPagesCount" && $0.irql == "DISPATCH_LEVEL" })
        #expect(findings.first?.detail == "called at DISPATCH_LEVEL; its maximum is PASSIVE_LEVEL")
        #expect(report.verifier.allSatisfy { $0.rule == "IrqlTooHigh" })
        #expect(!report.isClean)
    }
}

/// `simple` with a stream that has only IMiniportWaveRTStream (no notification
/// interface): the shape of a driver whose hardware cannot interrupt.
final class PollingOnlyMiniport: SimpleMiniport, @unchecked Sendable {
    override func makeStream(capture: Bool, format: StreamFormat, portStream: any PortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus> {
        .success(PlainStream(attach(SimpleStream(miniport: self, channel: capture ? 1 : 0, format: format, portStream: portStream))))
    }

    final class PlainStream: MiniportWaveRTStream, @unchecked Sendable {
        let inner: SimpleStream
        init(_ inner: SimpleStream) { self.inner = inner }
        func setFormat(_ dataFormat: KSDataFormat) -> NTStatus { inner.setFormat(dataFormat) }
        func setState(_ state: KSState) -> NTStatus { inner.setState(state) }
        func getPosition(_ position: inout KSAudioPosition) -> NTStatus { inner.getPosition(&position) }
        func allocateAudioBuffer(requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> { inner.allocateAudioBuffer(requestedSize: requestedSize) }
        func freeAudioBuffer(_ mdl: MDL?, size: Int) { inner.freeAudioBuffer(mdl, size: size) }
        func getHWLatency(_ latency: inout KSRTAudioHWLatency) { inner.getHWLatency(&latency) }
        func getPositionRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus { inner.getPositionRegister(&register) }
        func getClockRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus { inner.getClockRegister(&register) }
    }
}

/// `simple` with a stream that hands back half the buffer asked for.
final class ShortBufferMiniport: SimpleMiniport, @unchecked Sendable {
    override func makeStream(capture: Bool, format: StreamFormat, portStream: any PortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus> {
        .success(attach(Stream(miniport: self, channel: capture ? 1 : 0, format: format, portStream: portStream)))
    }

    final class Stream: SimpleStream, @unchecked Sendable {
        override func allocate(_ requested: Int, notifications: Int) -> Result<AudioBufferAllocation, NTStatus> {
            super.allocate(requested / 2, notifications: notifications)
        }
    }
}
