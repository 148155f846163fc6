import Testing
import WaveRTEngine
import WaveRTKernel
import WaveRTMemory
import WaveRTPort
import WaveRTTestSupport

/// Each KS property the port answers, its success path and its documented
/// errors (reference §4; the WDK's ksproperty-rtaudio-* and portcls pages).
@Suite struct KSPropertyTests {
    /// A raw IOCTL_KS_PROPERTY: a property structure of `inputSize` bytes (KSPROPERTY
    /// first, the rest written by `fill`) and `outputSize` bytes of value (`prepare` writes them for SET).
    func raw(_ pin: KSPin, _ set: GUID, _ id: UInt32, _ flags: KSPropertyFlags, inputSize: Int = KSProperty.size, outputSize: Int,
             fill: (UnsafeMutableRawPointer) -> Void = { _ in }, prepare: (UnsafeMutableRawPointer) -> Void = { _ in }) -> (NTStatus, Int, [UInt8])
    {
        var input = [UInt8](repeating: 0, count: max(inputSize, KSProperty.size))
        var output = [UInt8](repeating: 0, count: outputSize)
        let property = KSProperty(set: set, id: id, flags: flags)
        input.withUnsafeMutableBytes { p in
            property.store(to: p.baseAddress!)
            fill(p.baseAddress!)
        }
        output.withUnsafeMutableBytes { p in if let b = p.baseAddress { prepare(b) } }
        let (status, bytes) = input.withUnsafeBytes { i in
            output.withUnsafeMutableBytes { o in pin.property(property, input: UnsafeRawBufferPointer(rebasing: i[0..<inputSize]), output: o) }
        }
        return (status, bytes, output)
    }

    let rt = KSPropertySet.rtAudio

    // MARK: BUFFER, BUFFER_WITH_NOTIFICATION

    /// The requested size reaches the miniport as it is (no page rounding); the
    /// client gets the miniport's ActualBufferSize and a mapping of its own.
    @Test func bufferPassesTheRequestUnroundedAndMapsItForTheClient() throws {
        let rig = try PortRig()
        let (pin, stream) = try rig.open()
        let buffer = try pin.buffer(requestedSize: 1000, notificationCount: 2).get()
        #expect(stream.requestedSizes == [1000])
        #expect((stream as? NotifyingTestStream)?.notificationCounts == [2])
        #expect(buffer.actualSize == 1000)
        #expect(!buffer.callMemoryBarrier)  // MmCached
        let mdl = try #require(stream.buffer?.mdl)
        #expect(rig.machine.memory.userMappingCount(of: mdl) == 1)
        #expect(mdl.mappedSystemVa == nil)  // the client's view is not a kernel mapping
        buffer.address.storeBytes(of: 0xBEEF, toByteOffset: 10, as: UInt16.self)
        #expect(rig.machine.memory.readPhysical(at: mdl.physicalAddress(ofPage: 0) + 10, count: 2) == [0xEF, 0xBE])
        // Once per pin.
        if case .failure(let s) = pin.buffer(requestedSize: 1000, notificationCount: 2) { #expect(s == .invalidDeviceRequest) } else { Issue.record("second buffer") }
        let report = pin.close()
        #expect(report.isClean, "\(report.leaks) \(report.failures)")
        #expect(stream.freed.count == 1 && stream.freed[0].size == 1000)
        #expect(rig.machine.memory.userMappingCount(of: mdl) == 0 && !mdl.isLive)
        #expect(rig.miniport.log.calls.contains("FreeBufferWithNotification(1000)"))
    }

    /// A SYSVAD-style miniport maps its own buffer (MapAllocatedPages); the client's
    /// mapping is a second, separate view: both see the same bytes.
    @Test func aMiniportThatMapsItsOwnBufferStillGetsTheClientAMappingOfItsOwn() throws {
        let rig = try PortRig()
        let (pin, stream) = try rig.open()
        stream.mapsItsBuffer = true
        let buffer = try pin.buffer(requestedSize: 4096, notificationCount: 2).get()
        let kernel = try #require(stream.kernelMapping)
        #expect(kernel != buffer.address)
        buffer.address.storeBytes(of: 0x5A, toByteOffset: 100, as: UInt8.self)
        #expect(kernel.load(fromByteOffset: 100, as: UInt8.self) == 0x5A)
        kernel.storeBytes(of: 0xA5, toByteOffset: 200, as: UInt8.self)
        #expect(buffer.address.load(fromByteOffset: 200, as: UInt8.self) == 0xA5)
        #expect(pin.close().isClean)
        #expect(rig.verifier.count == 0)
    }

    /// OffsetFromFirstPage moves the client's address into the page; write-combined memory asks for barriers.
    @Test func offsetFromFirstPageAndCallMemoryBarrier() throws {
        let rig = try PortRig()
        let (pin, stream) = try rig.open()
        stream.allocation = { port, requested in
            guard let mdl = port.allocatePagesForMdl(highAddress: .max, totalBytes: requested + 128) else { return .failure(.insufficientResources) }
            return .success(AudioBufferAllocation(mdl: mdl, actualSize: requested, offsetFromFirstPage: 128, cacheType: .writeCombined))
        }
        let buffer = try pin.buffer(requestedSize: 3840).get()
        #expect(buffer.callMemoryBarrier)
        buffer.address.storeBytes(of: 0x77, as: UInt8.self)
        let mdl = try #require(stream.buffer?.mdl)
        #expect(rig.machine.memory.readPhysical(at: mdl.physicalAddress(ofPage: 0) + 128, count: 1) == [0x77])
        #expect(rig.miniport.log.calls.contains("AllocateAudioBuffer(3840)"))
        #expect(pin.close().isClean)
    }

    @Test func bufferErrors() throws {
        let rig = try PortRig()
        let (pin, stream) = try rig.open()
        func status(_ r: Result<KSPin.Buffer, NTStatus>) -> NTStatus { if case .failure(let s) = r { s } else { .success } }
        #expect(status(pin.buffer(requestedSize: 0, notificationCount: 2)) == .invalidParameter)
        #expect(status(pin.buffer(requestedSize: 4096, notificationCount: 3)) == .invalidParameter)
        // BaseAddress must be NULL: the port offers no fixed address.
        let fixed = raw(pin, rt, KSPropertyRtAudio.buffer.rawValue, .get, inputSize: 40, outputSize: 16) {
            $0.storeBytes(of: UInt64(0x1000), toByteOffset: 24, as: UInt64.self)
            $0.storeBytes(of: UInt32(4096), toByteOffset: 32, as: UInt32.self)
        }
        #expect(fixed.0 == .invalidParameter)
        // The property structure too short for its fields; the output too small, or empty (asking the size).
        #expect(raw(pin, rt, KSPropertyRtAudio.buffer.rawValue, .get, inputSize: 32, outputSize: 16).0 == .invalidBufferSize)
        #expect(raw(pin, rt, KSPropertyRtAudio.bufferWithNotification.rawValue, .get, inputSize: 36, outputSize: 16).0 == .invalidBufferSize)
        #expect(raw(pin, rt, KSPropertyRtAudio.buffer.rawValue, .get, inputSize: 40, outputSize: 8).0 == .bufferTooSmall)
        let size = raw(pin, rt, KSPropertyRtAudio.buffer.rawValue, .get, inputSize: 40, outputSize: 0)
        #expect(size.0 == .bufferOverflow && size.1 == 16)
        #expect(raw(pin, rt, KSPropertyRtAudio.buffer.rawValue, .set, inputSize: 40, outputSize: 16).0 == .invalidDeviceRequest)
        // The miniport's refusal passes through.
        stream.allocation = { _, _ in .failure(.insufficientResources) }
        #expect(status(pin.buffer(requestedSize: 4096, notificationCount: 2)) == .insufficientResources)
        // Only in KSSTATE_STOP.
        stream.allocation = nil
        #expect(pin.setState(.acquire) == .success)
        #expect(status(pin.buffer(requestedSize: 4096)) == .invalidDeviceState)
        #expect(pin.close().isClean)
        #expect(stream.requestedSizes == [4096])
    }

    /// A miniport that claims more than its MDL holds (a partial allocation
    /// ignored) is refused: the port gives the buffer back and the verifier says why.
    @Test func aBufferLargerThanItsMdlIsRefused() throws {
        let rig = try PortRig()
        let (pin, stream) = try rig.open()
        stream.allocation = { port, requested in
            guard let mdl = port.allocatePagesForMdl(highAddress: .max, totalBytes: 4096) else { return .failure(.insufficientResources) }
            return .success(AudioBufferAllocation(mdl: mdl, actualSize: requested, cacheType: .cached))
        }
        if case .failure(let s) = pin.buffer(requestedSize: 8192, notificationCount: 2) { #expect(s == .insufficientResources) } else { Issue.record("accepted") }
        let finding = try #require(rig.verifier.violations(of: .bufferBeyondMdl).first)
        #expect(finding.ddi == "AllocateBufferWithNotification" && finding.stream == "pin 0 (render)")
        #expect(finding.detail.contains("ActualSize 8192 + OffsetFromFirstPage 0 exceeds the MDL's 4096 bytes"))
        #expect(stream.freed.count == 1)  // given back through FreeBufferWithNotification
        #expect(pin.close().isClean)
    }

    /// Without IMiniportWaveRTStreamNotification: plain BUFFER works, the
    /// notification properties say STATUS_NOT_SUPPORTED (the client polls).
    @Test func aStreamWithoutNotificationsAnswersNotSupported() throws {
        let rig = try PortRig { $0.kind = .plain }
        let (pin, _) = try rig.open()
        #expect(try pin.queryNotificationSupport().get() == false)
        if case .failure(let s) = pin.buffer(requestedSize: 4096, notificationCount: 2) { #expect(s == .notSupported) } else { Issue.record("accepted") }
        _ = try pin.buffer(requestedSize: 4096).get()
        let (handle, _) = rig.port.createEvent()
        #expect(pin.registerNotificationEvent(handle) == .notSupported)
        #expect(pin.close().isClean)
        #expect(rig.miniport.log.calls.contains("FreeAudioBuffer(4096)"))
    }

    // MARK: Events

    @Test func notificationEventsRegisterOnlyAfterABufferWithNotification() throws {
        let rig = try PortRig()
        let (pin, stream) = try rig.open()
        let notifying = try #require(stream as? NotifyingTestStream)
        #expect(try pin.queryNotificationSupport().get())
        let (handle, event) = rig.port.createEvent()
        #expect(pin.registerNotificationEvent(handle) == .deviceNotReady)      // no buffer yet
        _ = try pin.buffer(requestedSize: 4096).get()
        #expect(pin.registerNotificationEvent(handle) == .notSupported)        // a buffer without notification
        #expect(pin.close().isClean)

        let (pin2, stream2) = try rig.open()
        _ = try pin2.buffer(requestedSize: 4096, notificationCount: 1).get()
        #expect(pin2.registerNotificationEvent(0xDEAD) == .invalidHandle)
        #expect(pin2.registerNotificationEvent(handle) == .success)
        let second = try #require(stream2 as? NotifyingTestStream)
        #expect(second.events.count == 1 && second.events[0] === event)       // the handle's KEVENT
        let (other, _) = rig.port.createEvent()
        #expect(pin2.unregisterNotificationEvent(other) == .invalidParameter)  // never registered
        #expect(pin2.unregisterNotificationEvent(handle) == .success)
        #expect(second.events.isEmpty)
        #expect(pin2.registerNotificationEvent(handle) == .success)
        // Closing the pin unregisters what the client left registered.
        #expect(pin2.close().isClean)
        #expect(second.events.isEmpty)
        #expect(notifying.events.isEmpty)
    }

    // MARK: Registers

    /// POSITIONREGISTER: a device register the miniport mapped (here the sg
    /// device's ID register) is mapped for the client at an address of its own
    /// and read live through the device; once per pin.
    @Test func positionRegisterIsMappedForTheClientOncePerPin() throws {
        let rig = try PortRig()
        let (pin, stream) = try rig.open()
        let bar = rig.machine.withCurrent { mmMapIoSpace(0xFEB4_0000, 0x1000, .nonCached)! }
        stream.positionRegister = { r in
            r = KSRTAudioHWRegister(register: bar, width: 32, accuracy: 4)
            return .success
        }
        let mapped = try pin.positionRegister().get()
        #expect(mapped.description.register != bar)
        #expect(mapped.description.width == 32 && mapped.description.accuracy == 4)
        #expect(mapped.read() == 0x5753_4731)  // "WSG1", read through the device
        if case .failure(let s) = pin.positionRegister() { #expect(s == .invalidDeviceRequest) } else { Issue.record("mapped twice") }
        let size = raw(pin, rt, KSPropertyRtAudio.clockRegister.rawValue, .get, inputSize: 32, outputSize: 0)
        #expect(size.0 == .bufferOverflow && size.1 == 40)
        #expect(raw(pin, rt, KSPropertyRtAudio.clockRegister.rawValue, .get, inputSize: 24, outputSize: 40).0 == .invalidBufferSize)
        #expect(pin.close().isClean)
        rig.machine.withCurrent { mmUnmapIoSpace(bar, 0x1000) }
    }

    /// CLOCKREGISTER with every field; a driver variable (not a device register) is read as memory;
    /// STATUS_NOT_SUPPORTED passes through; a width other than 32 or 64 is refused.
    @Test func clockRegisterAndRegisterErrors() throws {
        let rig = try PortRig()
        let (pin, stream) = try rig.open()
        let variable = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
        defer { variable.deallocate() }
        variable.storeBytes(of: UInt64(0x1122_3344_5566_7788), as: UInt64.self)
        if case .failure(let s) = pin.clockRegister() { #expect(s == .notSupported) } else { Issue.record("no register") }
        stream.clockRegister = { r in
            r = KSRTAudioHWRegister(register: variable, width: 64, numerator: 24_000_000, denominator: 1, accuracy: 1)
            return .success
        }
        let clock = try pin.clockRegister().get()
        #expect(clock.description.numerator == 24_000_000 && clock.description.denominator == 1 && clock.description.width == 64)
        #expect(clock.read() == 0x1122_3344_5566_7788)
        stream.positionRegister = { r in
            r = KSRTAudioHWRegister(register: variable, width: 16)
            return .success
        }
        if case .failure(let s) = pin.positionRegister() { #expect(s == .unsuccessful) } else { Issue.record("16-bit register") }
        #expect(pin.close().isClean)
    }

    @Test func hwLatency() throws {
        let rig = try PortRig()
        let (pin, _) = try rig.open()
        #expect(try pin.hwLatency().get() == KSRTAudioHWLatency(fifoSize: 256, chipsetDelay: 10, codecDelay: 20))
        #expect(raw(pin, rt, KSPropertyRtAudio.hwLatency.rawValue, .get, outputSize: 8).0 == .bufferTooSmall)
        #expect(raw(pin, rt, KSPropertyRtAudio.hwLatency.rawValue, .set, outputSize: 12).0 == .invalidDeviceRequest)
        #expect(pin.close().isClean)
    }

    // MARK: Packets

    @Test func packetCountPresentationPositionAndSetWritePacket() throws {
        let rig = try PortRig { $0.kind = .packet }
        let (pin, s) = try rig.open()
        let stream = try #require(s as? PacketTestStream)
        #expect(pin.supportsPacketMode)
        stream.packetCount = 7
        #expect(try pin.packetCount().get() == 7)
        stream.packetStatus = .deviceNotReady
        if case .failure(let st) = pin.packetCount() { #expect(st == .deviceNotReady) } else { Issue.record("status lost") }
        stream.presentation = KSAudioPresentationPosition(positionInBlocks: 4800, qpcPosition: 123)
        #expect(try pin.presentationPosition().get() == KSAudioPresentationPosition(positionInBlocks: 4800, qpcPosition: 123))
        // SETWRITEPACKET: SET only; the values reach the miniport; its statuses come back.
        #expect(pin.setWritePacket(3, flags: KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM, eosPacketLength: 100) == .success)
        #expect(stream.writePackets.count == 1 && stream.writePackets[0] == (3, KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM, 100))
        for status in [NTStatus.dataLateError, .dataOverrun, .invalidDeviceState, .invalidParameter] {
            stream.writePacketStatus = { _, _, _ in status }
            #expect(pin.setWritePacket(9) == status)
        }
        #expect(raw(pin, rt, KSPropertyRtAudio.setWritePacket.rawValue, .get, outputSize: 12).0 == .invalidDeviceRequest)
        #expect(raw(pin, rt, KSPropertyRtAudio.setWritePacket.rawValue, .set, outputSize: 8).0 == .bufferTooSmall)
        #expect(raw(pin, rt, KSPropertyRtAudio.packetCount.rawValue, .get, outputSize: 0).1 == 4)
        #expect(pin.close().isClean)
        // A stream without IMiniportWaveRTOutputStream: STATUS_NOT_SUPPORTED.
        let plain = try PortRig()
        let (pin2, _) = try plain.open()
        #expect(!pin2.supportsPacketMode)
        if case .failure(let st) = pin2.packetCount() { #expect(st == .notSupported) } else { Issue.record("packet count") }
        if case .failure(let st) = pin2.presentationPosition() { #expect(st == .notSupported) } else { Issue.record("presentation") }
        #expect(pin2.setWritePacket(0) == .notSupported)
        if case .failure(let st) = pin2.getReadPacket() { #expect(st == .notSupported) } else { Issue.record("read packet") }
        #expect(pin2.close().isClean)
    }

    @Test func getReadPacketOnACaptureStream() throws {
        let rig = try PortRig { $0.kind = .capture }
        let (pin, s) = try rig.open(pin: 2)
        #expect(pin.isCapture && pin.supportsPacketMode)
        let stream = try #require(s as? CaptureTestStream)
        if case .failure(let st) = pin.getReadPacket() { #expect(st == .deviceNotReady) } else { Issue.record("no packet yet") }
        stream.readPacket = (5, 0, 987_654, true)
        let packet = try pin.getReadPacket().get()
        #expect(packet.packetNumber == 5 && packet.flags == 0 && packet.performanceCounterValue == 987_654 && packet.moreData)
        #expect(pin.close().isClean)
    }

    // MARK: Position, state, the rest

    /// KSPROPERTY_AUDIO_POSITION calls GetPosition (PASSIVE_LEVEL from the port) and returns its offsets.
    @Test func audioPositionAsksTheMiniport() throws {
        let rig = try PortRig()
        let (pin, stream) = try rig.open()
        stream.position = KSAudioPosition(playOffset: 1234, writeOffset: 1500)
        #expect(try pin.position().get() == KSAudioPosition(playOffset: 1234, writeOffset: 1500))
        stream.positionStatus = .deviceNotReady
        if case .failure(let st) = pin.position() { #expect(st == .deviceNotReady) } else { Issue.record("status lost") }
        #expect(raw(pin, KSPropertySet.audio, KSPROPERTY_AUDIO_POSITION, .set, outputSize: 16).0 == .invalidDeviceRequest)
        #expect(raw(pin, KSPropertySet.audio, KSPROPERTY_AUDIO_POSITION, .get, outputSize: 8).0 == .bufferTooSmall)
        let positions = zip(rig.miniport.log.calls, rig.miniport.log.irqls).filter { $0.0 == "GetPosition" }
        #expect(positions.count == 2 && positions.allSatisfy { $0.1 == Irql.passiveLevel })
        #expect(pin.close().isClean)
    }

    @Test func connectionStateAndUnknownRequests() throws {
        let rig = try PortRig()
        let (pin, _) = try rig.open()
        #expect(try pin.state().get() == .stop)
        #expect(pin.setState(.pause) == .success)
        #expect(try pin.state().get() == .pause)
        let bad = raw(pin, KSPropertySet.connection, KSPROPERTY_CONNECTION_STATE, .set, outputSize: 4) {
            $0.storeBytes(of: Int32(9), as: Int32.self)
        }
        #expect(bad.0 == .invalidParameter)
        #expect(raw(pin, KSPropertySet.connection, KSPROPERTY_CONNECTION_STATE, .get, outputSize: 0).1 == 4)
        #expect(raw(pin, KSPropertySet.connection, KSPROPERTY_CONNECTION_STATE, [.get, .set], outputSize: 4).0 == .invalidParameter)
        #expect(raw(pin, GUID("01234567-89AB-CDEF-0123-456789ABCDEF")!, 0, .get, outputSize: 4).0 == .notFound)
        #expect(raw(pin, rt, 99, .get, outputSize: 4).0 == .notFound)
        #expect(raw(pin, rt, KSPropertyRtAudio.getPositionFunction.rawValue, .get, outputSize: 8).0 == .notSupported)
        #expect(raw(pin, rt, KSPropertyRtAudio.packetVRegister.rawValue, .get, outputSize: 8).0 == .notSupported)
        // The KSPROPERTY in the input must be the one asked.
        var input = [UInt8](repeating: 0, count: 24), output = [UInt8](repeating: 0, count: 4)
        input.withUnsafeMutableBytes { KSProperty(set: rt, id: 8, flags: .get).store(to: $0.baseAddress!) }
        let mismatch = input.withUnsafeBytes { i in
            output.withUnsafeMutableBytes { pin.property(KSProperty(set: rt, id: 9, flags: .get), input: i, output: $0) }
        }
        #expect(mismatch.status == .invalidParameter)
        #expect(pin.close().isClean)
        // A closed pin answers nothing.
        if case .failure(let st) = pin.state() { #expect(st == .invalidDeviceState) } else { Issue.record("closed pin answered") }
    }
}
