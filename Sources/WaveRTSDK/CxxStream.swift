import CWaveRTSDK
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

/// A C++ miniport's stream (IMiniportWaveRTStream, and the companion
/// interfaces it answers QueryInterface for) as the port's Swift protocols.
///
/// The port finds the companions by casting (`as? any MiniportWaveRTOutputStream`),
/// so the object made is of the subclass whose conformances match the
/// interfaces the C++ object gave; every method is implemented here once.
class CxxStream: MiniportWaveRTStream, @unchecked Sendable {
    let context: BridgeContext
    let stream: UnsafeMutableRawPointer
    let notification: UnsafeMutableRawPointer?
    let output: UnsafeMutableRawPointer?
    let input: UnsafeMutableRawPointer?
    /// The KSDATAFORMAT NewStream got (PortCls keeps it for the pin's life).
    let format: UnsafeMutableRawBufferPointer

    required init(context: BridgeContext, stream: UnsafeMutableRawPointer, notification: UnsafeMutableRawPointer?,
                  output: UnsafeMutableRawPointer?, input: UnsafeMutableRawPointer?, format: UnsafeMutableRawBufferPointer)
    {
        self.context = context
        self.stream = stream
        self.notification = notification
        self.output = output
        self.input = input
        self.format = format
    }

    /// Asks the C++ stream which companion interfaces it has, and wraps it accordingly.
    static func make(context: BridgeContext, stream: UnsafeMutableRawPointer, format: UnsafeMutableRawBufferPointer) -> CxxStream {
        func query(_ iid: WrtGuid) -> UnsafeMutableRawPointer? {
            var id = iid
            var out: UnsafeMutableRawPointer?
            let status = NTStatus(rawValue: wrt_guarded_query_interface(context.instance, stream, &id, &out))
            context.checkCrash()
            return status.isSuccess ? out : nil
        }
        let n = query(InterfaceID.miniportWaveRTStreamNotification)
        let o = query(InterfaceID.miniportWaveRTOutputStream)
        let i = query(InterfaceID.miniportWaveRTInputStream)
        let type: CxxStream.Type = switch (n != nil, o != nil, i != nil) {
        case (false, false, false): CxxStream.self
        case (true, false, false): CxxStreamN.self
        case (true, true, false): CxxStreamNO.self
        case (true, false, true): CxxStreamNI.self
        case (true, true, true): CxxStreamNOI.self
        case (false, true, false): CxxStreamO.self
        case (false, false, true): CxxStreamI.self
        case (false, true, true): CxxStreamOI.self
        }
        return type.init(context: context, stream: stream, notification: n, output: o, input: i, format: format)
    }

    deinit {
        context.machine.withCurrent {
            for object in [input, output, notification, stream].compactMap({ $0 }) {
                _ = wrt_guarded_release(context.instance, CString.releaseStream, object)
            }
        }
        context.checkCrash()
        format.deallocate()
    }

    @inline(__always)
    private func status(_ raw: Int32) -> NTStatus {
        context.checkCrash()
        return NTStatus(rawValue: raw)
    }

    private func allocation(_ raw: Int32, _ a: WrtBufferAllocation) -> Result<AudioBufferAllocation, NTStatus> {
        let s = status(raw)
        guard s.isSuccess else { return .failure(s) }
        guard let mdl = context.mdl(at: a.mdl) else {
            // The buffer must come from IPortWaveRTStream or the Mm* DDIs.
            Verifier.record(.bufferBeyondMdl, "AllocateAudioBuffer")
            return .failure(.invalidParameter)
        }
        return .success(AudioBufferAllocation(mdl: mdl, actualSize: Int(a.actualSize), offsetFromFirstPage: Int(a.offsetFromFirstPage),
                                              cacheType: MemoryCachingType(rawValue: Int(a.cacheType)) ?? .cached))
    }

    private func structure(_ mdl: MDL?) -> UnsafeMutableRawPointer? { mdl.map { context.mdlStructure(for: $0) } }

    // MARK: IMiniportWaveRTStream

    func setFormat(_ dataFormat: KSDataFormat) -> NTStatus {
        let bytes = FormatCoding.encode(dataFormat)
        defer { bytes.deallocate() }
        return status(wrt_guarded_set_format(context.instance, stream, bytes.baseAddress))
    }

    func setState(_ state: KSState) -> NTStatus { status(wrt_guarded_set_state(context.instance, stream, state.rawValue)) }

    func getPosition(_ position: inout KSAudioPosition) -> NTStatus {
        var p = WrtAudioPosition()
        let s = status(wrt_guarded_get_position(context.instance, stream, &p))
        position = KSAudioPosition(playOffset: p.playOffset, writeOffset: p.writeOffset)
        return s
    }

    func allocateAudioBuffer(requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
        var a = WrtBufferAllocation()
        let raw = wrt_guarded_allocate_audio_buffer(context.instance, stream, UInt32(clamping: requestedSize), &a)
        return allocation(raw, a)
    }

    func freeAudioBuffer(_ mdl: MDL?, size: Int) {
        wrt_guarded_free_audio_buffer(context.instance, stream, structure(mdl), UInt32(clamping: size))
        context.checkCrash()
    }

    func getHWLatency(_ latency: inout KSRTAudioHWLatency) {
        var l = WrtHwLatency()
        wrt_guarded_get_hw_latency(context.instance, stream, &l)
        context.checkCrash()
        latency = KSRTAudioHWLatency(fifoSize: l.fifoSize, chipsetDelay: l.chipsetDelay, codecDelay: l.codecDelay)
    }

    func getPositionRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus {
        var r = WrtHwRegister()
        let s = status(wrt_guarded_get_position_register(context.instance, stream, &r))
        register = KSRTAudioHWRegister(register: r.reg, width: r.width, numerator: r.numerator, denominator: r.denominator, accuracy: r.accuracy)
        return s
    }

    func getClockRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus {
        var r = WrtHwRegister()
        let s = status(wrt_guarded_get_clock_register(context.instance, stream, &r))
        register = KSRTAudioHWRegister(register: r.reg, width: r.width, numerator: r.numerator, denominator: r.denominator, accuracy: r.accuracy)
        return s
    }

    // MARK: IMiniportWaveRTStreamNotification

    func allocateBufferWithNotification(notificationCount: Int, requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
        guard let notification else { return .failure(.notSupported) }
        var a = WrtBufferAllocation()
        let raw = wrt_guarded_allocate_buffer_with_notification(context.instance, notification, UInt32(clamping: notificationCount),
                                                                UInt32(clamping: requestedSize), &a)
        return allocation(raw, a)
    }

    func freeBufferWithNotification(_ mdl: MDL?, size: Int) {
        guard let notification else { return }
        wrt_guarded_free_buffer_with_notification(context.instance, notification, structure(mdl), UInt32(clamping: size))
        context.checkCrash()
    }

    func registerNotificationEvent(_ event: KEvent) -> NTStatus {
        guard let notification else { return .notSupported }
        return status(wrt_guarded_register_notification_event(context.instance, notification, context.eventStructure(for: event)))
    }

    func unregisterNotificationEvent(_ event: KEvent) -> NTStatus {
        guard let notification else { return .notSupported }
        return status(wrt_guarded_unregister_notification_event(context.instance, notification, context.eventStructure(for: event)))
    }

    // MARK: IMiniportWaveRTOutputStream

    func setWritePacket(packetNumber: UInt32, flags: UInt32, eosPacketLength: UInt32) -> NTStatus {
        guard let output else { return .notSupported }
        return status(wrt_guarded_set_write_packet(context.instance, output, packetNumber, flags, eosPacketLength))
    }

    func getOutputStreamPresentationPosition(_ position: inout KSAudioPresentationPosition) -> NTStatus {
        guard let output else { return .notSupported }
        var p = WrtPresentationPosition()
        let s = status(wrt_guarded_get_output_stream_presentation_position(context.instance, output, &p))
        position = KSAudioPresentationPosition(positionInBlocks: p.positionInBlocks, qpcPosition: p.qpcPosition)
        return s
    }

    func getPacketCount(_ packetCount: inout UInt32) -> NTStatus {
        guard let output else { return .notSupported }
        var n: UInt32 = 0
        let s = status(wrt_guarded_get_packet_count(context.instance, output, &n))
        packetCount = n
        return s
    }

    // MARK: IMiniportWaveRTInputStream

    func getReadPacket(_ packetNumber: inout UInt32, _ flags: inout UInt32, _ performanceCounterValue: inout UInt64, _ moreData: inout Bool) -> NTStatus {
        guard let input else { return .notSupported }
        var n: UInt32 = 0, f: UInt32 = 0, qpc: UInt64 = 0, more: Int32 = 0
        let s = status(wrt_guarded_get_read_packet(context.instance, input, &n, &f, &qpc, &more))
        packetNumber = n
        flags = f
        performanceCounterValue = qpc
        moreData = more != 0
        return s
    }
}

// The combinations of companion interfaces a stream may answer for.
final class CxxStreamN: CxxStream, MiniportWaveRTStreamNotification, @unchecked Sendable {}
final class CxxStreamNO: CxxStream, MiniportWaveRTStreamNotification, MiniportWaveRTOutputStream, @unchecked Sendable {}
final class CxxStreamNI: CxxStream, MiniportWaveRTStreamNotification, MiniportWaveRTInputStream, @unchecked Sendable {}
final class CxxStreamNOI: CxxStream, MiniportWaveRTStreamNotification, MiniportWaveRTOutputStream, MiniportWaveRTInputStream, @unchecked Sendable {}
final class CxxStreamO: CxxStream, MiniportWaveRTOutputStream, @unchecked Sendable {}
final class CxxStreamI: CxxStream, MiniportWaveRTInputStream, @unchecked Sendable {}
final class CxxStreamOI: CxxStream, MiniportWaveRTOutputStream, MiniportWaveRTInputStream, @unchecked Sendable {}
