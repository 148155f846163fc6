import WaveRTKernel
import WaveRTMemory

/// The client's handle to an open pin (what `KsCreatePin` returns): it can
/// only send KS property requests, read the registers the port mapped for it,
/// and close. Everything goes through ``property(_:input:output:)``, as
/// `DeviceIoControl(IOCTL_KS_PROPERTY)` would; the typed methods build the
/// structures on the stack (nothing is allocated) and call it.
public final class KSPin: @unchecked Sendable {
    let pin: PortPin

    init(_ pin: PortPin) { self.pin = pin }

    /// The port's number for the stream (verifier reports name it).
    public var streamID: UInt32 { pin.id }
    public var isCapture: Bool { pin.capture }
    public var dataFormat: KSDataFormat { pin.format }
    public var machine: Machine { pin.port.machine }

    /// `IOCTL_KS_PROPERTY`: `input` holds the property structure, KSPROPERTY
    /// first (its Set, Id and Flags must match `property`); `output` holds the
    /// value (read for SET, written for GET). Returns the status and the bytes of
    /// `output` used (the size needed, with STATUS_BUFFER_OVERFLOW, when `output` is empty).
    public func property(_ property: KSProperty, input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) -> (status: NTStatus, bytes: Int) {
        guard input.count >= KSProperty.size else { return (.invalidBufferSize, 0) }
        guard KSProperty.load(from: input.baseAddress!) == property else { return (.invalidParameter, 0) }
        return pin.handle(property, input: input, output: output)
    }

    /// Sends `property` with a property structure of `inputSize` bytes whose
    /// tail `fill` writes, and an output of `Output` size that `read` decodes.
    @inline(__always)
    private func request<T>(_ set: GUID, _ id: UInt32, _ flags: KSPropertyFlags, inputSize: Int = KSProperty.size, outputSize: Int,
                            fill: (UnsafeMutableRawPointer) -> Void = { _ in }, prepare: (UnsafeMutableRawPointer) -> Void = { _ in },
                            read: (UnsafeRawPointer, Int) -> T) -> Result<T, NTStatus>
    {
        withUnsafeTemporaryAllocation(byteCount: inputSize + max(outputSize, 1), alignment: 8) { buffer in
            let base = buffer.baseAddress!
            base.initializeMemory(as: UInt8.self, repeating: 0, count: buffer.count)
            let p = KSProperty(set: set, id: id, flags: flags)
            p.store(to: base)
            fill(base)
            let out = base + inputSize
            prepare(out)
            let (status, bytes) = pin.handle(p, input: UnsafeRawBufferPointer(start: base, count: inputSize),
                                             output: UnsafeMutableRawBufferPointer(start: out, count: outputSize))
            return status.isSuccess ? .success(read(out, bytes)) : .failure(status)
        }
    }

    // MARK: KSPROPERTY_CONNECTION_STATE

    /// Set: the port steps the miniport through each neighbouring state.
    @discardableResult
    public func setState(_ state: KSState) -> NTStatus {
        switch request(KSPropertySet.connection, KSPROPERTY_CONNECTION_STATE, .set, outputSize: 4,
                       prepare: { $0.storeBytes(of: state.rawValue.littleEndian, as: Int32.self) }, read: { _, _ in () }) {
        case .success: .success
        case .failure(let s): s
        }
    }

    public func state() -> Result<KSState, NTStatus> {
        request(KSPropertySet.connection, KSPROPERTY_CONNECTION_STATE, .get, outputSize: 4) { p, _ in
            KSState(rawValue: Int32(littleEndian: p.loadUnaligned(as: Int32.self))) ?? .stop
        }
    }

    // MARK: KSPROPSETID_RtAudio

    /// What BUFFER / BUFFER_WITH_NOTIFICATION return (`KSRTAUDIO_BUFFER`).
    public struct Buffer: @unchecked Sendable {
        /// `BufferAddress`: the client's mapping of the cyclic buffer.
        public var address: UnsafeMutableRawPointer
        /// `ActualBufferSize`.
        public var actualSize: Int
        /// `CallMemoryBarrier`: TRUE for write-combined memory.
        public var callMemoryBarrier: Bool
    }

    /// KSPROPERTY_RTAUDIO_BUFFER (`notificationCount` nil) or
    /// KSPROPERTY_RTAUDIO_BUFFER_WITH_NOTIFICATION.
    public func buffer(requestedSize: Int, notificationCount: Int? = nil) -> Result<Buffer, NTStatus> {
        let id: KSPropertyRtAudio = notificationCount == nil ? .buffer : .bufferWithNotification
        return request(KSPropertySet.rtAudio, id.rawValue, .get, inputSize: 40, outputSize: 16, fill: { p in
            p.storeBytes(of: UInt64(0), toByteOffset: 24, as: UInt64.self)  // BaseAddress = NULL
            p.storeBytes(of: UInt32(truncatingIfNeeded: requestedSize).littleEndian, toByteOffset: 32, as: UInt32.self)
            p.storeBytes(of: UInt32(notificationCount ?? 0).littleEndian, toByteOffset: 36, as: UInt32.self)
        }) { out, _ in
            Buffer(address: UnsafeMutableRawPointer(bitPattern: UInt(UInt64(littleEndian: out.loadUnaligned(as: UInt64.self))))!,
                   actualSize: Int(UInt32(littleEndian: out.loadUnaligned(fromByteOffset: 8, as: UInt32.self))),
                   callMemoryBarrier: Int32(littleEndian: out.loadUnaligned(fromByteOffset: 12, as: Int32.self)) != 0)
        }
    }

    public func queryNotificationSupport() -> Result<Bool, NTStatus> {
        request(KSPropertySet.rtAudio, KSPropertyRtAudio.queryNotificationSupport.rawValue, .get, outputSize: 4) { p, _ in
            p.loadUnaligned(as: Int32.self) != 0
        }
    }

    @discardableResult
    public func registerNotificationEvent(_ handle: UInt64) -> NTStatus { eventRequest(.registerNotificationEvent, handle) }
    @discardableResult
    public func unregisterNotificationEvent(_ handle: UInt64) -> NTStatus { eventRequest(.unregisterNotificationEvent, handle) }

    private func eventRequest(_ id: KSPropertyRtAudio, _ handle: UInt64) -> NTStatus {
        switch request(KSPropertySet.rtAudio, id.rawValue, .get, inputSize: 32, outputSize: 0,
                       fill: { $0.storeBytes(of: handle.littleEndian, toByteOffset: 24, as: UInt64.self) }, read: { _, _ in () }) {
        case .success: .success
        case .failure(let s): s
        }
    }

    /// KSPROPERTY_RTAUDIO_POSITIONREGISTER: the mapped register, read live. STATUS_NOT_SUPPORTED without one.
    public func positionRegister() -> Result<MappedRegister, NTStatus> { mappedRegister(.positionRegister) }
    /// KSPROPERTY_RTAUDIO_CLOCKREGISTER.
    public func clockRegister() -> Result<MappedRegister, NTStatus> { mappedRegister(.clockRegister) }

    private func mappedRegister(_ id: KSPropertyRtAudio) -> Result<MappedRegister, NTStatus> {
        let result = request(KSPropertySet.rtAudio, id.rawValue, .get, inputSize: 32, outputSize: 40) { out, _ in
            UInt(UInt64(littleEndian: out.loadUnaligned(as: UInt64.self)))
        }
        return result.flatMap { address in
            pin.mappedRegisters.withLock { $0[address] }.map { .success($0) } ?? .failure(.unsuccessful)
        }
    }

    public func hwLatency() -> Result<KSRTAudioHWLatency, NTStatus> {
        request(KSPropertySet.rtAudio, KSPropertyRtAudio.hwLatency.rawValue, .get, outputSize: 12) { p, _ in
            KSRTAudioHWLatency(fifoSize: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)),
                               chipsetDelay: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
                               codecDelay: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        }
    }

    @inline(__always)
    public func packetCount() -> Result<UInt32, NTStatus> {
        request(KSPropertySet.rtAudio, KSPropertyRtAudio.packetCount.rawValue, .get, outputSize: 4) { p, _ in
            UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))
        }
    }

    public func presentationPosition() -> Result<KSAudioPresentationPosition, NTStatus> {
        request(KSPropertySet.rtAudio, KSPropertyRtAudio.presentationPosition.rawValue, .get, outputSize: 16) { p, _ in
            KSAudioPresentationPosition(positionInBlocks: UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)),
                                        qpcPosition: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
    }

    @inline(__always)
    @discardableResult
    public func setWritePacket(_ packetNumber: UInt32, flags: UInt32 = 0, eosPacketLength: UInt32 = 0) -> NTStatus {
        switch request(KSPropertySet.rtAudio, KSPropertyRtAudio.setWritePacket.rawValue, .set, outputSize: 12, prepare: { p in
            p.storeBytes(of: packetNumber.littleEndian, toByteOffset: 0, as: UInt32.self)
            p.storeBytes(of: flags.littleEndian, toByteOffset: 4, as: UInt32.self)
            p.storeBytes(of: eosPacketLength.littleEndian, toByteOffset: 8, as: UInt32.self)
        }, read: { _, _ in () }) {
        case .success: .success
        case .failure(let s): s
        }
    }

    /// `KSRTAUDIO_GETREADPACKET_INFO`.
    public struct ReadPacket: Sendable, Hashable {
        public var packetNumber: UInt32
        public var flags: UInt32
        public var performanceCounterValue: UInt64
        public var moreData: Bool
    }

    public func getReadPacket() -> Result<ReadPacket, NTStatus> {
        request(KSPropertySet.rtAudio, KSPropertyRtAudio.getReadPacket.rawValue, .get, outputSize: 24) { p, _ in
            ReadPacket(packetNumber: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)),
                       flags: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
                       performanceCounterValue: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                       moreData: p.loadUnaligned(fromByteOffset: 16, as: Int32.self) != 0)
        }
    }

    /// Whether the stream does packet mode, as a client finds out: PACKETCOUNT
    /// (render) or GETREADPACKET (capture) is anything but STATUS_NOT_SUPPORTED.
    public var supportsPacketMode: Bool {
        if isCapture {
            if case .failure(let s) = getReadPacket(), s == .notSupported { return false }
            return true
        }
        if case .failure(let s) = packetCount(), s == .notSupported { return false }
        return true
    }

    // MARK: KSPROPERTY_AUDIO_POSITION

    @inline(__always)
    public func position() -> Result<KSAudioPosition, NTStatus> {
        request(KSPropertySet.audio, KSPROPERTY_AUDIO_POSITION, .get, outputSize: 16) { p, _ in
            KSAudioPosition(playOffset: UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)),
                            writeOffset: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
    }

    // MARK: Close

    /// `CloseHandle` on the pin (see ``PinTeardownReport``).
    @discardableResult
    public func close() -> PinTeardownReport { pin.close() }

    /// For instruments that watch the device (the glitch monitor): the buffer's
    /// MDL and where the buffer starts in it. Not a client facility.
    public var bufferPages: (mdl: MDL, offset: Int, size: Int)? { pin.bufferInfo.map { ($0.mdl, $0.offset, $0.size) } }
}
