import WaveRTDMA
import WaveRTEngine
import WaveRTMemory

/// A stream as the port and the audio engine hold it: the miniport's stream,
/// the port's `IPortWaveRTStream`, the cyclic buffer mapped for the client and
/// the notification event. ``close()`` takes it down and checks for leaks.
public final class PortStream: @unchecked Sendable {
    public let port: SimulatedPortWaveRT
    public let miniportStream: any MiniportWaveRTStream
    public let portStream: SimulatedPortWaveRTStream
    public let request: StreamRequest
    public let allocation: AudioBufferAllocation
    /// The client's view of the buffer: the mapping plus `OffsetFromFirstPage`.
    public let buffer: UnsafeMutableRawPointer
    /// Bytes in the cyclic buffer (the miniport's ActualSize).
    public let bufferBytes: Int
    /// The event the port registered (nil without notifications). Its handler
    /// forwards to ``onNotification``.
    public private(set) var event: NotificationEvent?
    /// Called on the engine thread at each notification (the client sets it).
    public var onNotification: (@Sendable (StreamNotification) -> Void)?
    /// The position register, when the miniport has one (else nil: the port uses GetPosition).
    public let positionRegister: HardwareRegister?
    public private(set) var state: KSState = .stop
    private var mapping: UnsafeMutableRawPointer?
    private var closed = false

    init(port: SimulatedPortWaveRT, miniportStream: any MiniportWaveRTStream,
         portStream: SimulatedPortWaveRTStream, request: StreamRequest) throws(PortError)
    {
        self.port = port
        self.miniportStream = miniportStream
        self.portStream = portStream
        self.request = request
        let pageSize = port.device.memory.pageSize
        // PortCls asks for whole pages.
        let asked = (request.bufferBytes + pageSize - 1) / pageSize * pageSize
        let result: Result<AudioBufferAllocation, NTStatus>
        let ddi: String
        if request.notificationCount > 0 {
            guard let notifying = miniportStream as? any MiniportWaveRTStreamNotification else {
                throw .miniport(ddi: "IMiniportWaveRTStreamNotification (QueryInterface)", status: .notSupported)
            }
            ddi = "IMiniportWaveRTStreamNotification::AllocateBufferWithNotification"
            result = notifying.allocateBufferWithNotification(notificationCount: request.notificationCount, requestedSize: asked)
        } else {
            ddi = "IMiniportWaveRTStream::AllocateAudioBuffer"
            result = miniportStream.allocateAudioBuffer(requestedSize: asked)
        }
        let allocation: AudioBufferAllocation
        switch result {
        case .success(let a): allocation = a
        case .failure(let status): throw .miniport(ddi: ddi, status: status)
        }
        self.allocation = allocation
        bufferBytes = allocation.actualSize
        let packets = max(1, request.notificationCount)
        func giveBack() {
            if request.notificationCount > 0, let n = miniportStream as? any MiniportWaveRTStreamNotification {
                n.freeBufferWithNotification(allocation.mdl, size: allocation.actualSize)
            } else {
                miniportStream.freeAudioBuffer(allocation.mdl, size: allocation.actualSize)
            }
        }
        // A buffer larger than its MDL: the client would write past the pages (an
        // ignored partial allocation). Windows would corrupt memory; the port refuses.
        guard allocation.offsetFromFirstPage + allocation.actualSize <= allocation.mdl.byteCount else {
            port.device.report(ddi: ddi, argument: "ActualSize",
                               rule: "ActualSize \(allocation.actualSize) + OffsetFromFirstPage \(allocation.offsetFromFirstPage) exceeds the MDL's \(allocation.mdl.byteCount) bytes (was a partial allocation ignored?)",
                               outcome: "the stream was not opened")
            giveBack()
            throw .bufferBeyondMDL(actual: allocation.actualSize, offset: allocation.offsetFromFirstPage, mdlBytes: allocation.mdl.byteCount)
        }
        // The documented rounding is fine; a buffer the format cannot use is not.
        guard allocation.actualSize >= request.minimumBufferBytes else {
            giveBack()
            throw .bufferTooSmall(actual: allocation.actualSize, minimum: request.minimumBufferBytes)
        }
        guard allocation.actualSize % (request.format.blockAlign * packets) == 0 else {
            giveBack()
            throw .bufferNotUsable(actual: allocation.actualSize, blockAlign: request.format.blockAlign, notificationCount: packets)
        }
        guard let va = portStream.mapAllocatedPages(allocation.mdl, cacheType: allocation.cacheType) else {
            giveBack()
            throw .mapFailed
        }
        mapping = va
        buffer = va + allocation.offsetFromFirstPage
        positionRegister = try? miniportStream.getPositionRegister().get()

        if request.notificationCount > 0, let notifying = miniportStream as? any MiniportWaveRTStreamNotification {
            let event = NotificationEvent(name: "port") { [weak self] note in self?.onNotification?(note) }
            let status = notifying.registerNotificationEvent(event)
            guard status.isSuccess else {
                portStream.unmapAllocatedPages(va, mdl: allocation.mdl)
                mapping = nil
                giveBack()
                throw .miniport(ddi: "IMiniportWaveRTStreamNotification::RegisterNotificationEvent", status: status)
            }
            self.event = event
        }
    }

    /// The hardware stream the miniport started, for the client's progress reports and for reports.
    public var hardware: EngineStream? { port.device.hardwareStream(for: portStream) }

    // MARK: State

    /// Steps through the neighbouring states to `target`, as the port does.
    public func transition(to target: KSState) throws(PortError) {
        while state != target {
            let next = KSState(rawValue: state.rawValue + (target > state ? 1 : -1))!
            let status = miniportStream.setState(next)
            guard status.isSuccess else { throw .stateChange(from: state, to: next, status: status) }
            state = next
        }
    }

    public func run() throws(PortError) { try transition(to: .run) }
    public func pause() throws(PortError) { try transition(to: .pause) }
    public func stop() throws(PortError) { try transition(to: .stop) }

    /// `GetPosition` (KSAUDIO_POSITION: PlayOffset and WriteOffset). Clients that
    /// want the cheaper register read ``positionRegister`` when the miniport has one.
    public func currentPosition() -> AudioPosition? {
        try? miniportStream.getPosition().get()
    }

    // MARK: Teardown

    /// What teardown found.
    public struct TeardownReport: Sendable {
        /// Allocations and mappings the miniport made through the port and did not release.
        public var leaks: [SimulatedPortWaveRTStream.Outstanding]
        /// Statuses of teardown steps that failed.
        public var failures: [String]
        public var isClean: Bool { leaks.isEmpty && failures.isEmpty }
    }

    /// Back down to STOP, unregister the event, unmap and free the buffer, and
    /// check that nothing the miniport allocated through the port is left.
    @discardableResult
    public func close() -> TeardownReport {
        guard !closed else { return TeardownReport(leaks: [], failures: []) }
        closed = true
        var failures: [String] = []
        do { try stop() } catch { failures.append("\(error)") }
        if let event, let notifying = miniportStream as? any MiniportWaveRTStreamNotification {
            let status = notifying.unregisterNotificationEvent(event)
            if !status.isSuccess { failures.append("UnregisterNotificationEvent: \(status)") }
        }
        if let mapping {
            portStream.unmapAllocatedPages(mapping, mdl: allocation.mdl)
            self.mapping = nil
        }
        if request.notificationCount > 0, let notifying = miniportStream as? any MiniportWaveRTStreamNotification {
            notifying.freeBufferWithNotification(allocation.mdl, size: allocation.actualSize)
        } else {
            miniportStream.freeAudioBuffer(allocation.mdl, size: allocation.actualSize)
        }
        let leaks = portStream.outstanding
        for leak in leaks {
            port.device.report(ddi: leak.ddi, rule: "\(leak.bytes) bytes were not released by the miniport at teardown",
                               outcome: "reported as a leak")
        }
        return TeardownReport(leaks: leaks, failures: failures)
    }
}
