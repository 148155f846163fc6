import Glibc
import Synchronization
import WaveRTEngine
import WaveRTHardware
import WaveRTKernel
import WaveRTMemory

/// One open pin of the WaveRT port: PortCls' pin object. To the miniport it
/// is the stream's `IPortWaveRTStream` (the buffer's memory, with the
/// verifier's order rules); to the client it answers KS property requests
/// (through ``KSPin``), routing them to the miniport's stream.
final class PortPin: PortWaveRTStream, @unchecked Sendable {
    unowned let port: WaveRTPort
    let pinID: Int
    let capture: Bool
    let format: KSDataFormat
    let id: UInt32
    private(set) var stream: (any MiniportWaveRTStream)?
    private(set) var notification: (any MiniportWaveRTStreamNotification)?
    private(set) var output: (any MiniportWaveRTOutputStream)?
    private(set) var input: (any MiniportWaveRTInputStream)?

    let state = Atomic<Int32>(KSState.stop.rawValue)
    private let open = Atomic<Bool>(true)
    private let control = Mutex<Void>(())   // serialises the slow property paths (buffer, state, registration)
    private let books = Mutex(Books())
    private var buffer: BufferState?
    private var registered: [KEvent] = []
    private var registerMapped: [Bool] = [false, false]  // position, clock: once per pin
    let mappedRegisters = Mutex<[UInt: MappedRegister]>([:])

    struct Books {
        var allocations: [ObjectIdentifier: (ddi: String, bytes: Int, mdl: MDL)] = [:]
        var mappings: [UInt: MDL] = [:]
    }

    struct BufferState {
        var allocation: AudioBufferAllocation
        var withNotification: Bool
        var notificationCount: Int
        var clientBase: UnsafeMutableRawPointer
    }

    init(port: WaveRTPort, pinID: Int, capture: Bool, format: KSDataFormat) {
        self.port = port
        self.pinID = pinID
        self.capture = capture
        self.format = format
        id = port.machine.newStreamID(name: "pin \(pinID) (\(capture ? "capture" : "render"))")
    }

    func attach(_ stream: any MiniportWaveRTStream) {
        self.stream = stream
        notification = stream as? any MiniportWaveRTStreamNotification
        output = stream as? any MiniportWaveRTOutputStream
        input = stream as? any MiniportWaveRTInputStream
    }

    /// NewStream failed: nothing to tear down but the book-keeping.
    func discard() { open.store(false, ordering: .releasing) }

    var memory: PhysicalMemory { port.machine.memory }
    var verifier: Verifier { port.machine.verifier }
    var currentState: KSState { KSState(rawValue: state.load(ordering: .acquiring)) ?? .stop }

    @inline(__always)
    func call<R>(_ ddi: StaticString, _ body: () -> R) -> R { port.call(ddi, stream: id, body) }

    // MARK: IPortWaveRTStream (the miniport's side; PASSIVE_LEVEL)

    func allocatePagesForMdl(highAddress: PhysicalAddress, totalBytes: Int) -> MDL? {
        let ddi = "IPortWaveRTStream::AllocatePagesForMdl"
        checkIrql(atMost: Irql.passiveLevel, "IPortWaveRTStream::AllocatePagesForMdl")
        let mdl = memory.allocatePages(ddi: ddi, lowAddress: 0, highAddress: highAddress, skipBytes: 0,
                                       totalBytes: totalBytes, cacheType: .cached, flags: [])
        if let mdl { books.withLock { $0.allocations[ObjectIdentifier(mdl)] = (ddi, mdl.byteCount, mdl) } }
        return mdl
    }

    func allocateContiguousPagesForMdl(lowAddress: PhysicalAddress, highAddress: PhysicalAddress, totalBytes: Int) -> MDL? {
        let ddi = "IPortWaveRTStream::AllocateContiguousPagesForMdl"
        checkIrql(atMost: Irql.passiveLevel, "IPortWaveRTStream::AllocateContiguousPagesForMdl")
        let mdl = memory.allocateContiguousPages(ddi: ddi, lowAddress: lowAddress, highAddress: highAddress, totalBytes: totalBytes)
        if let mdl { books.withLock { $0.allocations[ObjectIdentifier(mdl)] = (ddi, mdl.byteCount, mdl) } }
        return mdl
    }

    func mapAllocatedPages(_ mdl: MDL, cacheType: MemoryCachingType) -> UnsafeMutableRawPointer? {
        checkIrql(atMost: Irql.passiveLevel, "IPortWaveRTStream::MapAllocatedPages")
        let va = memory.mapPages(mdl, cacheType: cacheType, ddi: "IPortWaveRTStream::MapAllocatedPages")
        if let va { books.withLock { $0.mappings[UInt(bitPattern: va)] = mdl } }
        return va
    }

    func unmapAllocatedPages(_ baseAddress: UnsafeMutableRawPointer, mdl: MDL) {
        checkIrql(atMost: Irql.passiveLevel, "IPortWaveRTStream::UnmapAllocatedPages")
        let known = books.withLock { $0.mappings.removeValue(forKey: UInt(bitPattern: baseAddress)) }
        if known !== mdl { Verifier.record(.unmapWithoutMap, "IPortWaveRTStream::UnmapAllocatedPages") }
        memory.unmapPages(baseAddress, mdl: mdl, ddi: "IPortWaveRTStream::UnmapAllocatedPages")
    }

    func freePagesFromMdl(_ mdl: MDL) {
        checkIrql(atMost: Irql.passiveLevel, "IPortWaveRTStream::FreePagesFromMdl")
        if !mdl.isLive {
            Verifier.record(.doubleFree, "IPortWaveRTStream::FreePagesFromMdl")
        } else {
            if books.withLock({ $0.mappings.values.contains { $0 === mdl } }) {
                Verifier.record(.freeWhileMapped, "IPortWaveRTStream::FreePagesFromMdl")
            }
            if memory.isInUseByRunningDMA(mdl) {
                Verifier.record(.freeWhileDMARunning, "IPortWaveRTStream::FreePagesFromMdl")
            }
        }
        memory.freePages(mdl, ddi: "IPortWaveRTStream::FreePagesFromMdl")
        if !mdl.isLive {
            books.withLock { b in
                b.allocations[ObjectIdentifier(mdl)] = nil
                b.mappings = b.mappings.filter { $0.value !== mdl }
            }
        }
    }

    func getPhysicalPagesCount(_ mdl: MDL) -> Int {
        checkIrql(atMost: Irql.passiveLevel, "IPortWaveRTStream::GetPhysicalPagesCount")
        guard memory.checkLive(mdl, ddi: "IPortWaveRTStream::GetPhysicalPagesCount", outcome: "returned 0") else { return 0 }
        return MDL.addressAndSizeToSpanPages(byteOffset: mdl.byteOffset, size: mdl.byteCount, pageSize: mdl.pageSize)
    }

    func getPhysicalPageAddress(_ mdl: MDL, index: Int) -> PhysicalAddress {
        let ddi = "IPortWaveRTStream::GetPhysicalPageAddress"
        checkIrql(atMost: Irql.passiveLevel, "IPortWaveRTStream::GetPhysicalPageAddress")
        guard memory.checkLive(mdl, ddi: ddi, outcome: "returned physical address 0") else { return 0 }
        guard index >= 0 && index < mdl.pageFrameNumbers.count else {
            memory.diagnostics.report(Diagnostic(severity: .error, ddi: ddi, argument: "Index",
                                                 rule: "index \(index) is outside the MDL's \(mdl.pageFrameNumbers.count) pages",
                                                 outcome: "returned physical address 0"))
            return 0
        }
        return mdl.physicalAddress(ofPage: index)
    }

    // MARK: KS properties (the client's side)

    /// `IOCTL_KS_PROPERTY`: `input` holds the property structure (KSPROPERTY
    /// first), `output` the value. Returns the status and the bytes of `output` used.
    func handle(_ p: KSProperty, input: UnsafeRawBufferPointer, output: UnsafeMutableRawBufferPointer) -> (NTStatus, Int) {
        guard open.load(ordering: .acquiring), stream != nil else { return (.invalidDeviceState, 0) }
        let get = p.flags.contains(.get), set = p.flags.contains(.set)
        guard get != set else { return (.invalidParameter, 0) }
        if p.set == KSPropertySet.connection && p.id == KSPROPERTY_CONNECTION_STATE {
            guard output.count >= 4 else { return output.count == 0 ? (.bufferOverflow, 4) : (.bufferTooSmall, 4) }
            if get {
                output.storeBytes(of: state.load(ordering: .acquiring).littleEndian, as: Int32.self)
                return (.success, 4)
            }
            guard let target = KSState(rawValue: Int32(littleEndian: output.loadUnaligned(as: Int32.self))) else { return (.invalidParameter, 0) }
            return (transition(to: target), 0)
        }
        if p.set == KSPropertySet.audio && p.id == KSPROPERTY_AUDIO_POSITION {
            guard get else { return (.invalidDeviceRequest, 0) }
            guard output.count >= 16 else { return output.count == 0 ? (.bufferOverflow, 16) : (.bufferTooSmall, 16) }
            var position = KSAudioPosition()
            let status = call("IMiniportWaveRTStream::GetPosition") { stream!.getPosition(&position) }
            guard status.isSuccess else { return (status, 0) }
            if let trace = port.machine.trace {
                trace.record(.positionProperty, stream: id, at: port.machine.timebase.now, position.playOffset, position.writeOffset)
            }
            output.storeBytes(of: position.playOffset.littleEndian, toByteOffset: 0, as: UInt64.self)
            output.storeBytes(of: position.writeOffset.littleEndian, toByteOffset: 8, as: UInt64.self)
            return (.success, 16)
        }
        guard p.set == KSPropertySet.rtAudio, let id = KSPropertyRtAudio(rawValue: p.id) else { return (.notFound, 0) }
        // SETWRITEPACKET is the one SET; (UN)REGISTER take either; the rest are GET only.
        switch id {
        case .setWritePacket: guard set else { return (.invalidDeviceRequest, 0) }
        case .registerNotificationEvent, .unregisterNotificationEvent: break
        default: guard get else { return (.invalidDeviceRequest, 0) }
        }
        switch id {
        case .buffer, .bufferWithNotification:
            let minimum = id == .buffer ? 36 : 40
            guard input.count >= minimum else { return (.invalidBufferSize, 0) }
            guard output.count >= 16 else { return output.count == 0 ? (.bufferOverflow, 16) : (.bufferTooSmall, 16) }
            let base = input.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
            let requested = Int(UInt32(littleEndian: input.loadUnaligned(fromByteOffset: 32, as: UInt32.self)))
            let count = id == .buffer ? 0 : Int(UInt32(littleEndian: input.loadUnaligned(fromByteOffset: 36, as: UInt32.self)))
            guard base == 0 else { return (.invalidParameter, 0) }  // no fixed base address is offered
            let (status, result) = allocateBuffer(requested: requested, notificationCount: count)
            guard status.isSuccess, let result else { return (status, 0) }
            output.storeBytes(of: UInt64(UInt(bitPattern: result.clientBase)).littleEndian, toByteOffset: 0, as: UInt64.self)
            output.storeBytes(of: UInt32(result.allocation.actualSize).littleEndian, toByteOffset: 8, as: UInt32.self)
            output.storeBytes(of: Int32(result.allocation.cacheType == .writeCombined ? 1 : 0).littleEndian, toByteOffset: 12, as: Int32.self)
            return (.success, 16)
        case .registerNotificationEvent, .unregisterNotificationEvent:
            guard input.count >= 32 else { return (.invalidBufferSize, 0) }
            let handle = UInt64(littleEndian: input.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            return (registration(handle, register: id == .registerNotificationEvent), 0)
        case .queryNotificationSupport:
            guard output.count >= 4 else { return output.count == 0 ? (.bufferOverflow, 4) : (.bufferTooSmall, 4) }
            output.storeBytes(of: Int32(notification != nil ? 1 : 0), as: Int32.self)
            return (.success, 4)
        case .positionRegister, .clockRegister:
            guard input.count >= 32 else { return (.invalidBufferSize, 0) }
            guard output.count >= 40 else { return output.count == 0 ? (.bufferOverflow, 40) : (.bufferTooSmall, 40) }
            let (status, mapped) = mapRegister(clock: id == .clockRegister)
            guard status.isSuccess, let mapped else { return (status, 0) }
            let r = mapped.description
            output.storeBytes(of: UInt64(UInt(bitPattern: r.register)).littleEndian, toByteOffset: 0, as: UInt64.self)
            output.storeBytes(of: r.width.littleEndian, toByteOffset: 8, as: UInt32.self)
            output.storeBytes(of: r.numerator.littleEndian, toByteOffset: 16, as: UInt64.self)
            output.storeBytes(of: r.denominator.littleEndian, toByteOffset: 24, as: UInt64.self)
            output.storeBytes(of: r.accuracy.littleEndian, toByteOffset: 32, as: UInt32.self)
            return (.success, 40)
        case .hwLatency:
            guard output.count >= 12 else { return output.count == 0 ? (.bufferOverflow, 12) : (.bufferTooSmall, 12) }
            var latency = KSRTAudioHWLatency()
            call("IMiniportWaveRTStream::GetHWLatency") { stream!.getHWLatency(&latency) }
            output.storeBytes(of: latency.fifoSize.littleEndian, toByteOffset: 0, as: UInt32.self)
            output.storeBytes(of: latency.chipsetDelay.littleEndian, toByteOffset: 4, as: UInt32.self)
            output.storeBytes(of: latency.codecDelay.littleEndian, toByteOffset: 8, as: UInt32.self)
            return (.success, 12)
        case .packetCount:
            guard output.count >= 4 else { return output.count == 0 ? (.bufferOverflow, 4) : (.bufferTooSmall, 4) }
            guard let output_ = self.output else { return (.notSupported, 0) }
            var count: UInt32 = 0
            let status = call("IMiniportWaveRTOutputStream::GetPacketCount") { output_.getPacketCount(&count) }
            guard status.isSuccess else { return (status, 0) }
            output.storeBytes(of: count.littleEndian, as: UInt32.self)
            return (.success, 4)
        case .presentationPosition:
            guard output.count >= 16 else { return output.count == 0 ? (.bufferOverflow, 16) : (.bufferTooSmall, 16) }
            guard let output_ = self.output else { return (.notSupported, 0) }
            var position = KSAudioPresentationPosition()
            let status = call("IMiniportWaveRTOutputStream::GetOutputStreamPresentationPosition") {
                output_.getOutputStreamPresentationPosition(&position)
            }
            guard status.isSuccess else { return (status, 0) }
            output.storeBytes(of: position.positionInBlocks.littleEndian, toByteOffset: 0, as: UInt64.self)
            output.storeBytes(of: position.qpcPosition.littleEndian, toByteOffset: 8, as: UInt64.self)
            return (.success, 16)
        case .setWritePacket:
            guard output.count >= 12 else { return (.bufferTooSmall, 12) }
            guard let output_ = self.output else { return (.notSupported, 0) }
            let packet = UInt32(littleEndian: output.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
            let flags = UInt32(littleEndian: output.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let eos = UInt32(littleEndian: output.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
            return (call("IMiniportWaveRTOutputStream::SetWritePacket") { output_.setWritePacket(packetNumber: packet, flags: flags, eosPacketLength: eos) }, 0)
        case .getReadPacket:
            guard output.count >= 24 else { return output.count == 0 ? (.bufferOverflow, 24) : (.bufferTooSmall, 24) }
            guard let input_ = self.input else { return (.notSupported, 0) }
            var packet: UInt32 = 0, flags: UInt32 = 0, qpc: UInt64 = 0, more = false
            let status = call("IMiniportWaveRTInputStream::GetReadPacket") { input_.getReadPacket(&packet, &flags, &qpc, &more) }
            guard status.isSuccess else { return (status, 0) }
            output.storeBytes(of: packet.littleEndian, toByteOffset: 0, as: UInt32.self)
            output.storeBytes(of: flags.littleEndian, toByteOffset: 4, as: UInt32.self)
            output.storeBytes(of: qpc.littleEndian, toByteOffset: 8, as: UInt64.self)
            output.storeBytes(of: Int32(more ? 1 : 0).littleEndian, toByteOffset: 16, as: Int32.self)
            return (.success, 24)
        case .getPositionFunction, .packetVRegister:
            return (.notSupported, 0)
        }
    }

    // MARK: State

    /// KSPROPERTY_CONNECTION_STATE set: SetState through each neighbouring state,
    /// each timed against the verifier's budget (PcTimedWaveRtStreamSetState).
    func transition(to target: KSState) -> NTStatus {
        control.withLock { _ in
            var current = currentState
            while current != target {
                let next = KSState(rawValue: current.rawValue + (target > current ? 1 : -1))!
                let timebase = port.machine.timebase
                let trace = port.machine.trace
                let started = timebase.now
                trace?.record(.setStateBegin, stream: id, at: started, UInt64(current.rawValue), UInt64(next.rawValue))
                let status = call("IMiniportWaveRTStream::SetState") { stream!.setState(next) }
                let finished = timebase.now
                trace?.record(.setStateEnd, stream: id, at: finished, UInt64(next.rawValue), UInt64(UInt32(bitPattern: status.rawValue)))
                let took = finished &- started
                if took > verifier.setStateBudgetNanoseconds {
                    port.machine.withCurrent {
                        verifier.report(.setStateTimeout, ddi: "IMiniportWaveRTStream::SetState",
                                        detail: "\(current) -> \(next) took \(took / 1_000_000) ms; the budget is \(verifier.setStateBudgetNanoseconds / 1_000_000) ms",
                                        stream: id)
                    }
                }
                guard status.isSuccess else { return status }
                current = next
                state.store(next.rawValue, ordering: .releasing)
            }
            return .success
        }
    }

    // MARK: Buffer

    /// BUFFER / BUFFER_WITH_NOTIFICATION: the requested size goes to the miniport
    /// as it is; the miniport decides. The buffer is mapped for the client with a
    /// mapping of its own.
    private func allocateBuffer(requested: Int, notificationCount: Int) -> (NTStatus, BufferState?) {
        control.withLock { _ -> (NTStatus, BufferState?) in
            guard buffer == nil else { return (.invalidDeviceRequest, nil) }
            guard currentState == .stop else { return (.invalidDeviceState, nil) }
            guard requested > 0 else { return (.invalidParameter, nil) }
            let result: Result<AudioBufferAllocation, NTStatus>
            if notificationCount > 0 {
                guard let notification else { return (.notSupported, nil) }
                guard notificationCount <= 2 else { return (.invalidParameter, nil) }
                result = call("IMiniportWaveRTStreamNotification::AllocateBufferWithNotification") {
                    notification.allocateBufferWithNotification(notificationCount: notificationCount, requestedSize: requested)
                }
            } else {
                result = call("IMiniportWaveRTStream::AllocateAudioBuffer") { stream!.allocateAudioBuffer(requestedSize: requested) }
            }
            let allocation: AudioBufferAllocation
            switch result {
            case .success(let a): allocation = a
            case .failure(let s): return (s, nil)
            }
            func giveBack() { freeBuffer(allocation, withNotification: notificationCount > 0) }
            guard allocation.actualSize > 0, allocation.offsetFromFirstPage >= 0,
                  allocation.offsetFromFirstPage + allocation.actualSize <= allocation.mdl.byteCount else {
                port.machine.withCurrent {
                    verifier.report(.bufferBeyondMdl, ddi: notificationCount > 0 ? "AllocateBufferWithNotification" : "AllocateAudioBuffer",
                                    detail: "ActualSize \(allocation.actualSize) + OffsetFromFirstPage \(allocation.offsetFromFirstPage) exceeds the MDL's \(allocation.mdl.byteCount) bytes (was a partial allocation ignored?); the port refused the buffer",
                                    stream: id)
                }
                giveBack()
                return (.insufficientResources, nil)
            }
            guard let base = memory.mapLockedPagesForUser(allocation.mdl, cacheType: allocation.cacheType) else {
                giveBack()
                return (.insufficientResources, nil)
            }
            let b = BufferState(allocation: allocation, withNotification: notificationCount > 0, notificationCount: notificationCount,
                                clientBase: base + allocation.offsetFromFirstPage)
            buffer = b
            return (.success, b)
        }
    }

    private func freeBuffer(_ allocation: AudioBufferAllocation, withNotification: Bool) {
        if withNotification, let notification {
            call("IMiniportWaveRTStreamNotification::FreeBufferWithNotification") {
                notification.freeBufferWithNotification(allocation.mdl, size: allocation.actualSize)
            }
        } else {
            call("IMiniportWaveRTStream::FreeAudioBuffer") { stream!.freeAudioBuffer(allocation.mdl, size: allocation.actualSize) }
        }
    }

    var bufferInfo: (base: UnsafeMutableRawPointer, size: Int, notifications: Int, mdl: MDL, offset: Int)? {
        control.withLock { _ in buffer.map { ($0.clientBase, $0.allocation.actualSize, $0.notificationCount, $0.allocation.mdl, $0.allocation.offsetFromFirstPage) } }
    }

    // MARK: Events

    private func registration(_ handle: UInt64, register: Bool) -> NTStatus {
        control.withLock { _ in
            guard let notification else { return .notSupported }
            guard let buffer else { return .deviceNotReady }
            guard buffer.withNotification else { return .notSupported }
            guard let event = port.handles.event(handle) else { return .invalidHandle }
            if register {
                let status = call("IMiniportWaveRTStreamNotification::RegisterNotificationEvent") { notification.registerNotificationEvent(event) }
                if status.isSuccess {
                    registered.append(event)
                    event.traceStream.store(id, ordering: .relaxed)  // whoever sets it, it is this stream's
                }
                return status
            }
            guard let i = registered.firstIndex(where: { $0 === event }) else { return .invalidParameter }
            let status = call("IMiniportWaveRTStreamNotification::UnregisterNotificationEvent") { notification.unregisterNotificationEvent(event) }
            if status.isSuccess { registered.remove(at: i) }
            return status
        }
    }

    // MARK: Registers

    private func mapRegister(clock: Bool) -> (NTStatus, MappedRegister?) {
        control.withLock { _ in
            let which = clock ? 1 : 0
            guard !registerMapped[which] else { return (.invalidDeviceRequest, nil) }
            var r = KSRTAudioHWRegister()
            let status = clock ? call("IMiniportWaveRTStream::GetClockRegister") { stream!.getClockRegister(&r) }
                : call("IMiniportWaveRTStream::GetPositionRegister") { stream!.getPositionRegister(&r) }
            guard status.isSuccess else { return (status, nil) }
            guard r.width == 32 || r.width == 64, let kernel = r.register else { return (.unsuccessful, nil) }
            let target: MappedRegister.Target
            if let (block, offset) = port.machine.ioSpace.resolve(kernel) {
                target = .device(block, offset)
            } else {
                target = .memory(UnsafeRawPointer(kernel))  // a driver variable: the client reads the memory itself
            }
            guard let mapped = MappedRegister(target: target, described: r, trace: port.machine.trace.map { ($0, port.machine.timebase) },
                                              stream: id, kind: clock ? .clockRegister : .positionRegister)
            else { return (.insufficientResources, nil) }
            mappedRegisters.withLock { $0[UInt(bitPattern: mapped.description.register)] = mapped }
            registerMapped[which] = true
            return (.success, mapped)
        }
    }

    // MARK: Close

    /// Closing the pin: step down to STOP, unregister any events still
    /// registered, unmap the client's view, free the buffer through the
    /// miniport, drop the register mappings, release the stream, and check that
    /// nothing the miniport allocated for it is left.
    func close() -> PinTeardownReport {
        guard open.exchange(false, ordering: .acquiringAndReleasing) else { return PinTeardownReport(leaks: [], failures: []) }
        var failures: [String] = []
        let stepDown = transition(to: .stop)
        if !stepDown.isSuccess { failures.append("SetState down to KSSTATE_STOP failed with \(stepDown)") }
        control.withLock { _ in
            if let notification {
                for event in registered {
                    let s = call("IMiniportWaveRTStreamNotification::UnregisterNotificationEvent") { notification.unregisterNotificationEvent(event) }
                    if !s.isSuccess {
                        failures.append("UnregisterNotificationEvent failed with \(s)")
                        port.machine.withCurrent {
                            verifier.report(.leakedEvent, ddi: "UnregisterNotificationEvent", detail: "the miniport kept a registered event (\(s))", stream: id)
                        }
                    }
                }
            }
            registered.removeAll()
            if let b = buffer {
                memory.unmapLockedPagesForUser(b.clientBase - b.allocation.offsetFromFirstPage, mdl: b.allocation.mdl)
                freeBuffer(b.allocation, withNotification: b.withNotification)
                buffer = nil
            }
        }
        let maps = mappedRegisters.withLock { table -> [MappedRegister] in
            defer { table.removeAll() }
            return Array(table.values)
        }
        for mapped in maps { mapped.unmap() }
        stream = nil
        notification = nil
        output = nil
        input = nil
        var leaks: [String] = []
        port.machine.withCurrent {
            let b = books.withLock { $0 }
            for (_, a) in b.allocations {
                leaks.append("\(a.ddi): \(a.bytes) bytes not freed")
                verifier.report(.leakedPages, ddi: a.ddi, detail: leaks.last!, stream: id)
            }
            for (va, mdl) in b.mappings {
                leaks.append("IPortWaveRTStream::MapAllocatedPages: \(mdl.byteCount) bytes still mapped at 0x\(String(va, radix: 16))")
                verifier.report(.leakedMapping, ddi: "IPortWaveRTStream::UnmapAllocatedPages", detail: leaks.last!, stream: id)
            }
            var armed = 0
            port.machine.timers.forEach { t in if t.ownerStream == id && t.isArmed { armed += 1 } }
            if armed > 0 {
                leaks.append("\(armed) timer(s) of the stream still set after it closed")
                verifier.report(.leakedTimer, ddi: "KeCancelTimer / ExDeleteTimer", detail: leaks.last!, stream: id)
            }
            // A DPC still queued would run for a stream that is gone: take it out, and say so.
            let queued = port.machine.removeQueuedDpcs(ownedBy: id)
            if queued > 0 {
                leaks.append("\(queued) DPC(s) of the stream still queued after it closed")
                verifier.report(.leakedDpc, ddi: "KeRemoveQueueDpc / KeFlushQueuedDpcs", detail: leaks.last!, stream: id)
            }
        }
        port.pinClosed(pinID)
        return PinTeardownReport(leaks: leaks, failures: failures)
    }
}

/// What closing a pin found.
public struct PinTeardownReport: Sendable {
    /// Memory, mappings and timers the miniport left behind for the stream.
    public var leaks: [String]
    /// Teardown steps the miniport failed.
    public var failures: [String]
    public var isClean: Bool { leaks.isEmpty && failures.isEmpty }
}

/// A register mapped for a client (POSITIONREGISTER, CLOCKREGISTER): read live
/// from the client's own thread. A device register is read at the instant of
/// the read through the device; a driver variable is read as memory.
/// Stands in for a device in a ``MappedRegister`` that maps driver memory.
final class NoRegisters: RegisterBlock, @unchecked Sendable {
    static let shared = NoRegisters()
    let name = "none"
    let size = 0
    let faults = BusFaults()
    func read(offset: Int, width: AccessWidth) -> UInt64 { width.mask }
    func write(offset: Int, width: AccessWidth, value: UInt64) {}
}

public final class MappedRegister: @unchecked Sendable {
    enum Target {
        case device(any RegisterBlock, Int)
        case memory(UnsafeRawPointer)
    }
    let target: Target
    /// The KSRTAUDIO_HWREGISTER the client got: Register is the client's address of the register.
    public let description: KSRTAudioHWRegister
    private let reservation: UnsafeMutableRawPointer?
    // The target unpacked for reads: the device unowned (the target holds it), so a read
    // neither copies an enum payload nor counts references.
    private let block: any RegisterBlock
    private let isDevice: Bool
    private let offset: Int
    private let memory: UnsafeRawPointer?
    private let width: AccessWidth
    /// Reads are traced here when the machine traces (each read with its value).
    private let trace: TraceRecorder?
    private let timebase: (any Timebase)?
    private let traceStream: UInt32
    private let traceKind: TraceEventKind

    init?(target: Target, described: KSRTAudioHWRegister, trace: (TraceRecorder, any Timebase)? = nil, stream: UInt32 = 0,
          kind: TraceEventKind = .positionRegister)
    {
        self.target = target
        self.trace = trace?.0
        timebase = trace?.1
        traceStream = stream
        traceKind = kind
        width = described.width == 64 ? .qword : .dword
        switch target {
        case .device(let b, let o):
            block = b
            isDevice = true
            offset = o
            memory = nil
        case .memory(let p):
            block = NoRegisters.shared
            isDevice = false
            offset = 0
            memory = p
        }
        var r = described
        switch target {
        case .device(_, let offset):
            // The client's view of the page holding the register: an address of its own (no access rights).
            guard let page = mmap(nil, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0), page != MAP_FAILED else { return nil }
            reservation = page
            r.register = page + (offset & 0xFFF)
        case .memory(let p):
            reservation = nil
            r.register = UnsafeMutableRawPointer(mutating: p)
        }
        description = r
    }

    deinit { unmap() }

    private let unmapped = Atomic<Bool>(false)
    func unmap() {
        if !unmapped.exchange(true, ordering: .acquiringAndReleasing), let reservation { munmap(reservation, 4096) }
    }

    /// The register's value now (32 or 64 bits, as Width says).
    @inline(__always)
    public func read() -> UInt64 {
        let value = readValue()
        if let trace, let timebase { trace.record(traceKind, stream: traceStream, at: timebase.now, value) }
        return value
    }

    @inline(__always)
    private func readValue() -> UInt64 {
        if isDevice { return block.read(offset: offset, width: width) }
        guard let memory else { return 0 }
        return width == .qword
            ? UInt64(littleEndian: memory.loadUnaligned(as: UInt64.self))
            : UInt64(UInt32(littleEndian: memory.loadUnaligned(as: UInt32.self)))
    }
}
