import CWaveRTShim
import Synchronization
import WaveRTHardware
import WaveRTKernel
import WaveRTMemory

/// The simulated PortCls WaveRT port (`IPortWaveRT` and its filter): it
/// initialises a miniport on an adapter, answers format questions, and opens
/// pins (`KsCreatePin`) whose KS properties it routes to the miniport's
/// streams as PortCls does. Clients talk only to the port: properties, the
/// buffer mapping it makes for them, their events, mapped registers.
///
/// ```swift
/// let machine = Machine(timebase: VirtualClock())
/// let adapter = try Adapter(kind: .hda, machine: machine)
/// let port = try WaveRTPort(miniport: HDAMiniport(), adapter: adapter)
/// let pin = try port.createPin(0, dataFormat: KSDataFormat(.cd48k)).get()
/// ```
///
/// Every call into the miniport goes through one gate: it runs at
/// PASSIVE_LEVEL with the machine and the stream current on the calling
/// thread, so kernel DDIs the miniport calls find them, and records the DDI
/// crossed (for crash reports).
public final class WaveRTPort: PortWaveRT, @unchecked Sendable {
    public let machine: Machine
    public let adapter: Adapter
    /// The miniport (nil once the port has closed and released it).
    public private(set) var miniportObject: (any MiniportWaveRT)?
    var miniport: any MiniportWaveRT { miniportObject! }
    public private(set) var filter = PCFilterDescriptor(pins: [])
    public private(set) var deviceDescription = DeviceDescription()
    let handles = HandleTable()
    private let pins = Mutex<[Int: Int]>([:])  // pin id -> instances open
    private var closed = false

    public init(miniport: any MiniportWaveRT, adapter: Adapter) throws(PortError) {
        self.machine = adapter.machine
        self.adapter = adapter
        miniportObject = miniport
        let status = call("IMiniportWaveRT::Init") {
            miniport.initialize(unknownAdapter: adapter, resourceList: adapter.resources, port: self)
        }
        guard status.isSuccess else { throw .miniport(ddi: "IMiniportWaveRT::Init", status: status) }
        switch call("IMiniport::GetDescription", { miniport.getDescription() }) {
        case .success(let f): filter = f
        case .failure(let s): throw .miniport(ddi: "IMiniport::GetDescription", status: s)
        }
        var description = DeviceDescription()
        let d = call("IMiniportWaveRT::GetDeviceDescription") { miniport.getDeviceDescription(&description) }
        if d.isSuccess { deviceDescription = description }
    }

    /// Calls into the miniport as PortCls does (see the type's documentation).
    @inline(__always)
    func call<R>(_ ddi: StaticString, stream: UInt32 = 0, _ body: () -> R) -> R {
        machine.withCurrent {
            let previousStream = wrt_stream_get()
            let previousDDI = wrt_ddi_get()
            wrt_stream_set(stream)
            ddi.withUTF8Buffer { wrt_ddi_set(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }
            defer {
                wrt_stream_set(previousStream)
                wrt_ddi_set(previousDDI)
            }
            if wrt_irql_get() != Irql.passiveLevel || wrt_spinlocks_get() != 0 {
                Verifier.record(.irqlLeak, ddi, detail: UInt64(Irql.passiveLevel))
                wrt_irql_set(Irql.passiveLevel)
                wrt_spinlocks_set(0)
            }
            return body()
        }
    }

    // MARK: Formats

    /// The format to open `pin` with for a client that can take `clientRange`:
    /// each of the pin's ranges in turn goes to the miniport's DataRangeIntersection,
    /// and to PortCls' default handler when it answers STATUS_NOT_IMPLEMENTED.
    public func dataIntersection(pin: Int, clientRange: KSDataRangeAudio) -> Result<KSDataFormat, NTStatus> {
        guard pin >= 0 && pin < filter.pins.count else { return .failure(.invalidParameter) }
        for range in filter.pins[pin].ksPinDescriptor.dataRanges where range.majorFormat == clientRange.majorFormat || range.majorFormat == .null {
            switch call("IMiniport::DataRangeIntersection", { miniport.dataRangeIntersection(pinId: pin, clientDataRange: clientRange, myDataRange: range) }) {
            case .success(let format): return .success(format)
            case .failure(let s) where s == .notImplemented:
                if let format = defaultDataIntersection(client: clientRange, pin: range) { return .success(format) }
            case .failure: continue
            }
        }
        return .failure(.noMatch)
    }

    // MARK: Pins

    /// `KsCreatePin`: checks what Windows checks at pin creation (a streaming
    /// pin; the GUID triple of one of its data ranges, as KsValidateConnectRequest
    /// does; its instance limit), then asks the miniport's NewStream, which checks
    /// the values. The stream starts in KSSTATE_STOP.
    public func createPin(_ pin: Int, dataFormat: KSDataFormat) -> Result<KSPin, NTStatus> {
        guard !closed, pin >= 0 && pin < filter.pins.count else { return .failure(.invalidParameter) }
        let descriptor = filter.pins[pin]
        guard descriptor.isStreaming else { return .failure(.invalidDeviceRequest) }
        guard descriptor.ksPinDescriptor.dataRanges.contains(where: { $0.matchesGUIDs(of: dataFormat) }) else { return .failure(.noMatch) }
        let admitted = pins.withLock { open -> Bool in
            let n = open[pin, default: 0]
            guard descriptor.maxFilterInstanceCount <= 0 || n < descriptor.maxFilterInstanceCount else { return false }
            open[pin] = n + 1
            return true
        }
        guard admitted else { return .failure(.insufficientResources) }
        let capture = descriptor.ksPinDescriptor.dataFlow == .out
        let portPin = PortPin(port: self, pinID: pin, capture: capture, format: dataFormat)
        let result = call("IMiniportWaveRT::NewStream", stream: portPin.id) {
            miniport.newStream(pin: pin, capture: capture, dataFormat: dataFormat, portStream: portPin)
        }
        switch result {
        case .success(let stream):
            portPin.attach(stream)
            return .success(KSPin(portPin))
        case .failure(let status):
            pins.withLock { $0[pin, default: 1] -= 1 }
            portPin.discard()
            return .failure(status)
        }
    }

    func pinClosed(_ pin: Int) { pins.withLock { $0[pin, default: 1] -= 1 } }

    /// The client's `CreateEvent`: a user-mode event, as a handle the
    /// notification properties take, and the object to wait on.
    public func createEvent() -> (handle: UInt64, event: KEvent) {
        let event = KEvent()
        keInitializeEvent(event, type: .synchronization, state: false)
        return (handles.insert(event), event)
    }

    /// `CloseHandle` for an event handle.
    public func closeHandle(_ handle: UInt64) { handles.remove(handle) }

    // MARK: Unload

    /// Releases the miniport (the adapter's device is being removed; its pins
    /// must be closed first) and reports
    /// what the driver left behind on the machine: pool, interrupt connections,
    /// timers still set, DPCs still queued (taken out, so they never run),
    /// register mappings. Each is also a verifier finding.
    @discardableResult
    public func close() -> [String] {
        guard !closed else { return [] }
        closed = true
        var leaks: [String] = []
        machine.withCurrent {
            miniportObject = nil  // the driver's destructor runs here: disconnect, unmap, free
            machine.timers.reclaim()
            var connected = 0
            machine.interrupts.forEach { if $0.isConnected { connected += 1 } }
            if connected > 0 {
                leaks.append("\(connected) interrupt connection(s) still connected (IInterruptSync::Disconnect not called)")
                machine.verifier.report(.leakedInterrupt, ddi: "IInterruptSync::Disconnect", detail: leaks.last!, stream: 0)
            }
            for (tag, bytes) in machine.pool.outstandingByTag.sorted(by: { $0.key < $1.key }) {
                leaks.append("pool tag '\(tag)': \(bytes) bytes not freed")
                machine.verifier.report(.leakedPool, ddi: "ExFreePoolWithTag", detail: leaks.last!, stream: 0)
            }
            // The driver's own timers and DPCs (the streams' were checked when their pins closed).
            var armed = 0
            machine.timers.forEach { t in if t.ownerStream == 0 && t.isArmed { armed += 1 } }
            if armed > 0 {
                leaks.append("\(armed) timer(s) of the driver still set when it unloaded")
                machine.verifier.report(.leakedTimer, ddi: "KeCancelTimer / ExDeleteTimer", detail: leaks.last!, stream: 0)
            }
            let queued = machine.removeQueuedDpcs(ownedBy: nil)
            if queued > 0 {
                leaks.append("\(queued) DPC(s) still queued when the driver unloaded")
                machine.verifier.report(.leakedDpc, ddi: "KeRemoveQueueDpc / KeFlushQueuedDpcs", detail: leaks.last!, stream: 0)
            }
            let mappings = machine.ioSpace.liveMappings
            if mappings > 0 {
                leaks.append("\(mappings) MmMapIoSpace mapping(s) not unmapped")
                machine.verifier.report(.leakedMapping, ddi: "MmUnmapIoSpace", detail: leaks.last!, stream: 0)
            }
        }
        return leaks
    }
}

/// User-mode handles the client hands the port (`HANDLE` in the property
/// structures), resolved as `ObReferenceObjectByHandle` would.
final class HandleTable: @unchecked Sendable {
    private let objects = Mutex<[UInt64: KEvent]>([:])
    private let next = Atomic<UInt64>(0x100)

    func insert(_ event: KEvent) -> UInt64 {
        let h = next.add(4, ordering: .relaxed).newValue
        objects.withLock { $0[h] = event }
        return h
    }
    func remove(_ handle: UInt64) { _ = objects.withLock { $0.removeValue(forKey: handle) } }
    func event(_ handle: UInt64) -> KEvent? { objects.withLock { $0[handle] } }
}

/// Why the port could not do what was asked.
public enum PortError: Error, Hashable, CustomStringConvertible {
    case miniport(ddi: String, status: NTStatus)

    public var description: String {
        switch self {
        case .miniport(let ddi, let status): "\(ddi) failed with \(status)"
        }
    }
}
