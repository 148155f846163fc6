import Synchronization
import WaveRTEngine
import WaveRTHardware
import WaveRTKernel
import WaveRTMemory
import WaveRTPort
import WaveRTTestSupport

/// A miniport made to be inspected and to misbehave on request: it keeps the
/// `IPortWaveRTStream` the port gives each stream (so tests can use the port's
/// memory services as a driver does), records every call the port makes with
/// the IRQL it came at, and lets a test decide each answer.
final class TestMiniport: MiniportWaveRT, @unchecked Sendable {
    /// What kind of stream NewStream makes.
    enum StreamKind { case plain, notifying, packet, capture }

    var kind: StreamKind = .notifying
    var renderRanges = [KSDataRangeAudio(maximumChannels: 2, bitsPerSample: 16...16, sampleFrequency: 44_100...48_000)]
    var captureRanges = [KSDataRangeAudio(maximumChannels: 2, bitsPerSample: 16...16, sampleFrequency: 44_100...48_000)]
    /// DataRangeIntersection's answer (nil: STATUS_NOT_IMPLEMENTED, the default handler decides).
    var intersection: ((KSDataRangeAudio, KSDataRangeAudio) -> Result<KSDataFormat, NTStatus>)?
    /// NewStream's check of the values (SYSVAD's IsFormatSupported): nil accepts.
    var newStreamStatus: ((KSDataFormat) -> NTStatus?)?
    /// Run inside Init (pool allocations, interrupts, timers a test wants left behind).
    var onInitialize: ((TestMiniport, ResourceList) -> Void)?
    /// Run inside NewStream with the new stream (its DPCs, timers and interrupts belong to the stream).
    var onNewStream: ((TestStream) -> Void)?

    private(set) var port: (any PortWaveRT)?
    private(set) var streams: [TestStream] = []
    let log = CallLog()

    func initialize(unknownAdapter: AnyObject?, resourceList: ResourceList, port: any PortWaveRT) -> NTStatus {
        log.note("Init")
        self.port = port
        onInitialize?(self, resourceList)
        return .success
    }

    func getDescription() -> Result<PCFilterDescriptor, NTStatus> {
        func pin(_ ranges: [KSDataRangeAudio], _ flow: KSPinDataFlow, streaming: Bool) -> PCPinDescriptor {
            PCPinDescriptor(maxGlobalInstanceCount: streaming ? 1 : 0, maxFilterInstanceCount: streaming ? 1 : 0, minFilterInstanceCount: 0,
                            ksPinDescriptor: KSPinDescriptor(dataRanges: streaming ? ranges : [], dataFlow: flow,
                                                             communication: streaming ? .sink : .bridge))
        }
        return .success(PCFilterDescriptor(pins: [pin(renderRanges, .in, streaming: true), pin([], .out, streaming: false),
                                                  pin(captureRanges, .out, streaming: true), pin([], .in, streaming: false)]))
    }

    func dataRangeIntersection(pinId: Int, clientDataRange: KSDataRangeAudio, myDataRange: KSDataRangeAudio) -> Result<KSDataFormat, NTStatus> {
        log.note("DataRangeIntersection")
        return intersection?(clientDataRange, myDataRange) ?? .failure(.notImplemented)
    }

    func getDeviceDescription(_ description: inout DeviceDescription) -> NTStatus {
        description.scatterGather = true
        description.dma64BitAddresses = true
        return .success
    }

    func newStream(pin: Int, capture: Bool, dataFormat: KSDataFormat, portStream: any PortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus> {
        log.note("NewStream(\(pin))")
        if let status = newStreamStatus?(dataFormat) { return .failure(status) }
        let stream: TestStream = switch kind {
        case .plain: TestStream(portStream: portStream, format: dataFormat, log: log)
        case .notifying: NotifyingTestStream(portStream: portStream, format: dataFormat, log: log)
        case .packet: PacketTestStream(portStream: portStream, format: dataFormat, log: log)
        case .capture: CaptureTestStream(portStream: portStream, format: dataFormat, log: log)
        }
        streams.append(stream)
        onNewStream?(stream)
        return .success(stream)
    }
}

/// Calls into the miniport, in order, each with the IRQL it came at.
final class CallLog: @unchecked Sendable {
    private let entries = Mutex<[(call: String, irql: KIRQL)]>([])
    func note(_ call: String) { entries.withLock { $0.append((call, keGetCurrentIrql())) } }
    var calls: [String] { entries.withLock { $0.map(\.call) } }
    var irqls: [KIRQL] { entries.withLock { $0.map(\.irql) } }
    func calls(startingWith prefix: String) -> [String] { calls.filter { $0.hasPrefix(prefix) } }
}

/// `IMiniportWaveRTStream` with every answer up to the test.
class TestStream: MiniportWaveRTStream, @unchecked Sendable {
    let portStream: any PortWaveRTStream
    let format: KSDataFormat
    let log: CallLog
    var state = KSState.stop

    /// How the buffer is made from the request (default: AllocatePagesForMdl of exactly what was asked).
    var allocation: ((any PortWaveRTStream, Int) -> Result<AudioBufferAllocation, NTStatus>)?
    private(set) var requestedSizes: [Int] = []
    private(set) var buffer: AudioBufferAllocation?
    /// The miniport's own kernel mapping of its buffer (SYSVAD maps it).
    private(set) var kernelMapping: UnsafeMutableRawPointer?
    var mapsItsBuffer = false
    private(set) var freed: [(mdl: MDL?, size: Int)] = []

    var setStateStatus: ((KSState) -> NTStatus)?
    var onSetState: ((KSState) -> Void)?
    var position = KSAudioPosition(playOffset: 0, writeOffset: 0)
    var positionStatus = NTStatus.success
    var latency = KSRTAudioHWLatency(fifoSize: 256, chipsetDelay: 10, codecDelay: 20)
    var positionRegister: (inout KSRTAudioHWRegister) -> NTStatus = { _ in .notSupported }
    var clockRegister: (inout KSRTAudioHWRegister) -> NTStatus = { _ in .notSupported }

    init(portStream: any PortWaveRTStream, format: KSDataFormat, log: CallLog) {
        self.portStream = portStream
        self.format = format
        self.log = log
    }

    func setFormat(_ dataFormat: KSDataFormat) -> NTStatus {
        log.note("SetFormat")
        return .notSupported
    }

    func setState(_ new: KSState) -> NTStatus {
        log.note("SetState(\(new))")
        onSetState?(new)
        let status = setStateStatus?(new) ?? .success
        if status.isSuccess { state = new }
        return status
    }

    func getPosition(_ position: inout KSAudioPosition) -> NTStatus {
        log.note("GetPosition")
        position = self.position
        return positionStatus
    }

    func allocate(_ requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
        requestedSizes.append(requestedSize)
        let result = allocation?(portStream, requestedSize) ?? {
            guard let mdl = portStream.allocatePagesForMdl(highAddress: .max, totalBytes: requestedSize) else { return .failure(.insufficientResources) }
            return .success(AudioBufferAllocation(mdl: mdl, actualSize: requestedSize, cacheType: .cached))
        }()
        if case .success(let a) = result {
            buffer = a
            if mapsItsBuffer { kernelMapping = portStream.mapAllocatedPages(a.mdl, cacheType: .cached) }
        }
        return result
    }

    func allocateAudioBuffer(requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
        log.note("AllocateAudioBuffer(\(requestedSize))")
        return allocate(requestedSize)
    }

    func release(_ mdl: MDL?, size: Int) {
        freed.append((mdl, size))
        guard let mdl else { return }
        if let kernelMapping { portStream.unmapAllocatedPages(kernelMapping, mdl: mdl) }
        kernelMapping = nil
        portStream.freePagesFromMdl(mdl)
        buffer = nil
    }

    func freeAudioBuffer(_ mdl: MDL?, size: Int) {
        log.note("FreeAudioBuffer(\(size))")
        release(mdl, size: size)
    }

    func getHWLatency(_ latency: inout KSRTAudioHWLatency) {
        log.note("GetHWLatency")
        latency = self.latency
    }

    func getPositionRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus {
        log.note("GetPositionRegister")
        return positionRegister(&register)
    }

    func getClockRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus {
        log.note("GetClockRegister")
        return clockRegister(&register)
    }
}

/// With `IMiniportWaveRTStreamNotification`.
class NotifyingTestStream: TestStream, MiniportWaveRTStreamNotification, @unchecked Sendable {
    private(set) var events: [KEvent] = []
    private(set) var notificationCounts: [Int] = []
    var unregisterStatus = NTStatus.success

    func allocateBufferWithNotification(notificationCount: Int, requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
        log.note("AllocateBufferWithNotification(\(notificationCount), \(requestedSize))")
        notificationCounts.append(notificationCount)
        return allocate(requestedSize)
    }

    func freeBufferWithNotification(_ mdl: MDL?, size: Int) {
        log.note("FreeBufferWithNotification(\(size))")
        release(mdl, size: size)
    }

    func registerNotificationEvent(_ event: KEvent) -> NTStatus {
        log.note("RegisterNotificationEvent")
        events.append(event)
        return .success
    }

    func unregisterNotificationEvent(_ event: KEvent) -> NTStatus {
        log.note("UnregisterNotificationEvent")
        guard unregisterStatus.isSuccess else { return unregisterStatus }
        events.removeAll { $0 === event }
        return .success
    }
}

/// With `IMiniportWaveRTOutputStream` (packet mode).
final class PacketTestStream: NotifyingTestStream, MiniportWaveRTOutputStream, @unchecked Sendable {
    var packetCount: UInt32 = 0
    var packetStatus = NTStatus.success
    var writePacketStatus: (UInt32, UInt32, UInt32) -> NTStatus = { _, _, _ in .success }
    private(set) var writePackets: [(UInt32, UInt32, UInt32)] = []
    var presentation = KSAudioPresentationPosition(positionInBlocks: 0, qpcPosition: 0)

    func setWritePacket(packetNumber: UInt32, flags: UInt32, eosPacketLength: UInt32) -> NTStatus {
        log.note("SetWritePacket(\(packetNumber))")
        writePackets.append((packetNumber, flags, eosPacketLength))
        return writePacketStatus(packetNumber, flags, eosPacketLength)
    }

    func getOutputStreamPresentationPosition(_ position: inout KSAudioPresentationPosition) -> NTStatus {
        log.note("GetOutputStreamPresentationPosition")
        position = presentation
        return .success
    }

    func getPacketCount(_ packetCount: inout UInt32) -> NTStatus {
        log.note("GetPacketCount")
        packetCount = self.packetCount
        return packetStatus
    }
}

/// With `IMiniportWaveRTInputStream` (packet-mode capture).
final class CaptureTestStream: NotifyingTestStream, MiniportWaveRTInputStream, @unchecked Sendable {
    var readPacket: (UInt32, UInt32, UInt64, Bool)?

    func getReadPacket(_ packetNumber: inout UInt32, _ flags: inout UInt32, _ performanceCounterValue: inout UInt64,
                       _ moreData: inout Bool) -> NTStatus
    {
        log.note("GetReadPacket")
        guard let p = readPacket else { return .deviceNotReady }
        (packetNumber, flags, performanceCounterValue, moreData) = p
        return .success
    }
}

/// An emulated machine with an adapter and the port on a test miniport.
final class PortRig {
    let clock: VirtualClock
    let machine: Machine
    let adapter: Adapter
    let miniport: TestMiniport
    let port: WaveRTPort

    init(miniport: TestMiniport = TestMiniport(), memory: PhysicalMemory = PhysicalMemory(), kind: HardwareKind = .sg,
         configure: (TestMiniport) -> Void = { _ in }) throws
    {
        clock = VirtualClock(start: 1_000_000)
        machine = Machine(timebase: clock, memory: memory)
        adapter = try Adapter(kind: kind, machine: machine)
        self.miniport = miniport
        configure(miniport)
        port = try WaveRTPort(miniport: miniport, adapter: adapter)
    }

    /// Pin 0 (render) in `format`, and its stream.
    func open(_ format: StreamFormat = .cd48k, pin id: Int = 0) throws -> (KSPin, TestStream) {
        let pin = try port.createPin(id, dataFormat: KSDataFormat(format)).get()
        return (pin, miniport.streams.last!)
    }

    var verifier: Verifier { machine.verifier }
}

/// A level-triggered line the test raises and an ISR lowers.
final class TestLine: InterruptSource, @unchecked Sendable {
    let pending = Atomic<Bool>(false)
    let line = InterruptLine(name: "test")
    init() { line.drive(from: self) }
    var interruptLevel: Bool { pending.load(ordering: .acquiring) }
    func raise() {
        pending.store(true, ordering: .releasing)
        line.signal()
    }
}
