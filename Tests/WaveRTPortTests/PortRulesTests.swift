import Foundation
import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine
import WaveRTPort
import WaveRTExamples

/// The port's rules, the state machine, the buggy examples, fragmentation, leaks.
@Suite struct PortRulesTests {
    func device(_ profile: DMAProfile, memory: PhysicalMemory = PhysicalMemory(), faithful: Bool = false) -> EmulatedAudioDevice {
        EmulatedAudioDevice(memory: memory, engine: AudioEngine(timebase: VirtualClock()), dmaProfile: profile, faithfulFaults: faithful)
    }

    @Test func stateMachineAndCallsInTheWrongState() throws {
        let port = SimulatedPortWaveRT(miniport: HDAMiniport(), device: device(.hda))
        try port.initialize()
        let portStream = SimulatedPortWaveRTStream(memory: port.device.memory)
        let stream = try #require(try? port.miniport.newStream(pin: 0, capture: false, format: .cd48k, portStream: portStream).get()
                                  as? any MiniportWaveRTOutputStream)
        // Before any buffer: no RUN, no events, no packets.
        #expect(stream.setState(.run) == .invalidDeviceState)
        #expect(stream.registerNotificationEvent(NotificationEvent()) == .invalidDeviceState)
        #expect(stream.setWritePacket(packetNumber: 0, flags: 0, eosPacketLength: 0) == .notSupported)
        #expect(stream.allocateBufferWithNotification(notificationCount: 3, requestedSize: 4096).failureStatus == .invalidParameter)
        let buffer = try stream.allocateBufferWithNotification(notificationCount: 2, requestedSize: 4096).get()
        #expect(stream.allocateBufferWithNotification(notificationCount: 2, requestedSize: 4096).failureStatus == .invalidDeviceState)
        #expect(stream.setFormat(.cd48k) == .invalidDeviceState)
        // States move one step at a time.
        #expect(stream.setState(.pause) == .invalidDeviceState)
        #expect(stream.setState(.acquire) == .success)
        #expect(stream.setState(.run) == .invalidDeviceState)
        #expect(stream.setState(.pause) == .success)
        #expect(stream.setState(.run) == .success)
        #expect(stream.setState(.stop) == .invalidDeviceState)
        // Packets: late, overrun, EOS, after EOS.
        #expect(stream.setWritePacket(packetNumber: 0, flags: 0, eosPacketLength: 0) == .success)
        #expect(stream.setWritePacket(packetNumber: 5, flags: 0, eosPacketLength: 0) == .dataOverrun)
        #expect(stream.setWritePacket(packetNumber: 1, flags: EngineStream.endOfStreamFlag, eosPacketLength: 64) == .success)
        #expect(stream.setWritePacket(packetNumber: 2, flags: 0, eosPacketLength: 0) == .invalidDeviceState)
        for s in [KSState.pause, .acquire, .stop] { #expect(stream.setState(s) == .success) }
        stream.freeBufferWithNotification(buffer.mdl, size: buffer.actualSize)
        #expect(portStream.outstanding.isEmpty)
        // The simple example has no packet mode.
        let simple = SimulatedPortWaveRT(miniport: SimpleMiniport(), device: device(.pcie64SG))
        try simple.initialize()
        let s2 = try simple.openStream(StreamRequest(format: .cd48k, bufferMilliseconds: 10))
        let output = try #require(s2.miniportStream as? any MiniportWaveRTOutputStream)
        #expect(output.setWritePacket(packetNumber: 0, flags: 0, eosPacketLength: 0) == .notSupported)
        #expect(s2.close().isClean)
    }

    @Test func portRoundsToPagesAndRefusesTooSmallBuffers() throws {
        let port = SimulatedPortWaveRT(miniport: SimpleMiniport(), device: device(.pcie64SG))
        try port.initialize()
        let stream = try port.openStream(StreamRequest(format: .cd48k, bufferBytes: 1_920, notificationCount: 2))
        #expect(stream.bufferBytes == 4_096)  // asked for whole pages: 1920 -> 4096, 1024 frames
        #expect(stream.close().isClean)
        // A miniport that hands back a buffer too small for the format is refused.
        let tiny = SimulatedPortWaveRT(miniport: TinyBufferMiniport(), device: device(.pcie64SG))
        try tiny.initialize()
        #expect(throws: PortError.bufferTooSmall(actual: 64, minimum: 384)) {
            try tiny.openStream(StreamRequest(format: .cd48k, bufferBytes: 1_920, notificationCount: 2))
        }
        #expect(tiny.device.memory.liveMDLs.isEmpty)  // the port gave the buffer back
    }

    @Test func buggyHighMemoryIsReportedPrecisely() throws {
        let example = try #require(ExampleMiniport.named("buggy-highmem"))
        do {
            _ = try ExampleLifecycleTests.start(example, source: ToneGenerator(frequency: 440))
            Issue.record("the buggy miniport opened a stream")
        } catch let error as SessionError {
            let text = error.description
            #expect(text.contains("AllocateBufferWithNotification failed with STATUS_INSUFFICIENT_RESOURCES"))
            #expect(text.contains("is above the 32-bit limit of controller pci32-sg"))
            #expect(text.contains("segment 0 at 0x1_3fff_"))
        }
    }

    @Test func buggyHighMemoryInFaithfulFaultModePlaysTheWrongSamples() throws {
        let example = try #require(ExampleMiniport.named("buggy-highmem"))
        let run = try ExampleLifecycleTests.start(example, source: ToneGenerator(frequency: 440), faithfulFaults: true)
        run.clock.advance(by: 200_000_000)
        let played = run.sink.bytes
        let expected = ExampleLifecycleTests.reference({ ToneGenerator(frequency: 440) }, format: .cd48k, bytes: played.count)
        #expect(played != expected)
        #expect(played.allSatisfy { $0 == 0 })  // the aliased pages 4 GiB lower are free memory: silence
        let report = run.session.finish()
        #expect(report.dmaFaultEvents > 0)
        #expect(report.dmaFaults.allSatisfy { $0.kind.contains(.addressTruncated) })
    }

    @Test func buggyPartialIsCaughtWhenMemoryRunsShort() throws {
        let memory = PhysicalMemory()
        // Leave a single free page below 16 MiB.
        let hog = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFF_FFFF, skipBytes: 0, totalBytes: 16 << 20))
        memory.freePagesFromMdl(hog)
        let keep = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFF_FFFF, skipBytes: 0,
                                                           totalBytes: hog.byteCount - 4096))
        let example = try #require(ExampleMiniport.named("buggy-partial"))
        do {
            // 50 ms asks for three pages; one is free: a partial MDL.
            _ = try ExampleLifecycleTests.start(example, source: ToneGenerator(frequency: 440), memory: memory, bufferMilliseconds: 50)
            Issue.record("opened")
        } catch let error as SessionError {
            // The driver asked for page addresses it never got, and claimed a buffer larger than its MDL.
            #expect(error.description.contains("GetPhysicalPageAddress: Index: index 1 is outside the MDL's 1 pages"))
            #expect(error.description.contains("a partial allocation was ignored"))
        }
        // Faithful faults let the DMA through; the port still refuses a buffer larger than its MDL.
        do {
            _ = try ExampleLifecycleTests.start(example, source: ToneGenerator(frequency: 440), memory: memory,
                                                faithfulFaults: true, bufferMilliseconds: 50)
            Issue.record("opened")
        } catch let error as SessionError {
            #expect(error.description.contains("a partial allocation was ignored"))
        }
        memory.freePagesFromMdl(keep)
        #expect(memory.liveMDLs.isEmpty)
    }

    @Test(arguments: ["simple", "hda", "isa"])
    func examplesUnderFragmentation(name: String) throws {
        let memory = PhysicalMemory()
        memory.fragment(seed: 77, occupancy: 0.6, longestFreeRunPages: 4)
        let example = try #require(ExampleMiniport.named(name))
        // 200 ms: 9.4 pages at 48 kHz stereo, more than any free run.
        let run = try ExampleLifecycleTests.start(example, source: ToneGenerator(frequency: 300), memory: memory,
                                                  bufferMilliseconds: 200)
        run.clock.advance(by: 300_000_000)
        let played = run.sink.bytes
        #expect(played == ExampleLifecycleTests.reference({ ToneGenerator(frequency: 300) }, format: .cd48k, bytes: played.count))
        let stream = run.session.stream
        if name == "isa" {
            // Contiguous memory is short: a smaller buffer, and a word about it.
            #expect(stream.bufferBytes < 38_400)
            #expect(run.session.memory.diagnostics.all.contains { $0.ddi == "isa: AllocateContiguousPagesForMdl" && $0.outcome.contains("fell back") })
        } else {
            #expect(stream.bufferBytes >= 38_400)
        }
        let report = run.session.finish()
        #expect(report.glitchCount == 0 && report.leaks.isEmpty)
    }

    @Test func isaFailsCleanlyWhenNoContiguousMemoryIsLeft() throws {
        let memory = PhysicalMemory()
        let hog = try #require(memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFF_FFFF, skipBytes: 0, totalBytes: 16 << 20))
        let example = try #require(ExampleMiniport.named("isa"))
        do {
            _ = try ExampleLifecycleTests.start(example, source: ToneGenerator(frequency: 440), memory: memory)
            Issue.record("opened")
        } catch let error as SessionError {
            #expect(error.description.contains("STATUS_INSUFFICIENT_RESOURCES"))
            #expect(error.description.contains("not even 4096 contiguous bytes below 16 MiB"))
        }
        memory.freePagesFromMdl(hog)
        #expect(memory.liveMDLs.isEmpty)
    }

    @Test func leaksAreReportedByDDIAndSize() throws {
        let port = SimulatedPortWaveRT(miniport: LeakyMiniport(), device: device(.pcie64SG))
        try port.initialize()
        let stream = try port.openStream(StreamRequest(format: .cd48k, bufferMilliseconds: 10))
        let report = stream.close()
        #expect(report.leaks.map(\.description) == ["IPortWaveRTStream::AllocatePagesForMdl: 8192 bytes"])
        #expect(port.device.diagnostics.all.contains { $0.rule.contains("8192 bytes were not released") })
    }

    @Test func rateMismatchIsAClearError() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wavert-\(UUID()).wav").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try AudioFileSource.writeWAV(path: path, format: try StreamFormat(sampleRate: 44_100, channels: 2, sampleFormat: .int16),
                                     frames: 100) { _, _ in 0 }
        let example = try #require(ExampleMiniport.named("simple"))
        #expect(throws: SessionError.self) { try ExampleLifecycleTests.start(example, source: AudioFileSource(path: path)) }
        do {
            _ = try ExampleLifecycleTests.start(example, source: AudioFileSource(path: path))
        } catch {
            #expect("\(error)".contains("44100 Hz but the stream runs at 48000 Hz"))
        }
    }
}

extension Result {
    var failureStatus: Failure? {
        if case .failure(let f) = self { return f }
        return nil
    }
}

/// Hands back a 64-byte buffer, below any format's minimum.
final class TinyBufferMiniport: ExampleMiniportDriver<TinyBufferMiniport.Stream>, @unchecked Sendable {
    override func getDeviceDescription() -> DeviceDescription {
        DeviceDescription(scatterGather: true, dma32BitAddresses: true, dma64BitAddresses: true, maximumLength: 1 << 20)
    }
    final class Stream: ExampleStream, @unchecked Sendable {
        override func allocateBuffer(requestedSize: Int, notificationCount: Int) -> Result<AudioBufferAllocation, NTStatus> {
            guard let mdl = portStream.allocatePagesForMdl(highAddress: .max, totalBytes: 64) else { return .failure(.insufficientResources) }
            return .success(AudioBufferAllocation(mdl: mdl, actualSize: 64, offsetFromFirstPage: 0, cacheType: .cached))
        }
        override func program(_ dma: DMAController, with buffer: AudioBufferAllocation, notificationCount: Int) throws(DMAProgramError) {
            try dma.program(descriptors: [DMADescriptor](mdl: buffer.mdl, port: portStream, length: buffer.actualSize), buffer: buffer.mdl)
        }
    }
}

/// Allocates a scratch MDL next to its buffer and never frees it.
final class LeakyMiniport: ExampleMiniportDriver<LeakyMiniport.Stream>, @unchecked Sendable {
    override func getDeviceDescription() -> DeviceDescription {
        DeviceDescription(scatterGather: true, dma32BitAddresses: true, dma64BitAddresses: true, maximumLength: 1 << 20)
    }
    final class Stream: ExampleStream, @unchecked Sendable {
        override func allocateBuffer(requestedSize: Int, notificationCount: Int) -> Result<AudioBufferAllocation, NTStatus> {
            _ = portStream.allocatePagesForMdl(highAddress: .max, totalBytes: 8192)  // the leak
            guard let mdl = portStream.allocatePagesForMdl(highAddress: .max, totalBytes: requestedSize) else { return .failure(.insufficientResources) }
            return .success(AudioBufferAllocation(mdl: mdl, actualSize: usableSize(mdl.byteCount, notificationCount: notificationCount),
                                                  offsetFromFirstPage: 0, cacheType: .cached))
        }
        override func program(_ dma: DMAController, with buffer: AudioBufferAllocation, notificationCount: Int) throws(DMAProgramError) {
            try dma.program(descriptors: [DMADescriptor](mdl: buffer.mdl, port: portStream, length: buffer.actualSize), buffer: buffer.mdl)
        }
    }
}
