import WaveRTDMA
import WaveRTEngine
import WaveRTMemory
import WaveRTPort

/// What every example's `IMiniportWaveRT` does the same way: keep its port at
/// Init, and open render streams of its `Stream` type on pin 0. An example
/// subclasses it and says what its DMA can address (``getDeviceDescription()``).
open class ExampleMiniportDriver<Stream: ExampleStream>: MiniportWaveRT, @unchecked Sendable {
    public private(set) var port: SimulatedPortWaveRT?

    public init() {}

    /// `IMiniportWaveRT::Init`.
    public func initialize(port: SimulatedPortWaveRT) -> NTStatus {
        self.port = port
        return .success
    }

    /// `IMiniportWaveRT::GetDeviceDescription`: override with the adapter's DMA abilities.
    open func getDeviceDescription() -> DeviceDescription {
        DeviceDescription(scatterGather: false, dma32BitAddresses: true, dma64BitAddresses: false, maximumLength: 0)
    }

    /// `IMiniportWaveRT::NewStream`: one render pin.
    public func newStream(pin: Int, capture: Bool, format: StreamFormat,
                          portStream: SimulatedPortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus>
    {
        guard let port else { return .failure(.deviceNotReady) }  // NewStream before Init
        guard pin == 0, !capture else { return .failure(.notSupported) }
        return .success(Stream(port: port, portStream: portStream, capture: capture, format: format))
    }
}

/// What every example miniport stream shares: once the buffer is allocated and
/// the DMA programmed, the emulated hardware (an ``EngineStream``: the stream
/// descriptor's run bit, position, interrupts and packet counter) answers
/// SetState, GetPosition, the registers, notifications and packets.
///
/// Each example subclasses it and writes the part that differs between real
/// drivers: how the buffer is allocated (``allocateBuffer(requestedSize:notificationCount:)``)
/// and how the DMA is programmed (``program(_:with:notificationCount:)``).
open class ExampleStream: MiniportWaveRTOutputStream, @unchecked Sendable {
    public let port: SimulatedPortWaveRT
    public let portStream: SimulatedPortWaveRTStream
    public let capture: Bool
    public private(set) var format: StreamFormat
    public private(set) var hardware: EngineStream?
    private var softwareState: KSState = .stop

    /// The example's name, for diagnostics ("hda: ...").
    open var exampleName: String { "example" }
    /// Codec delay in 100-ns units (KSRTAUDIO_HWLATENCY.CodecDelay).
    open var codecDelay: UInt32 { 0 }
    /// Whether the hardware has a position register a client may map.
    open var hasPositionRegister: Bool { true }
    /// Whether the stream does packet mode (IMiniportWaveRTOutputStream).
    open var supportsPackets: Bool { false }

    public required init(port: SimulatedPortWaveRT, portStream: SimulatedPortWaveRTStream, capture: Bool, format: StreamFormat) {
        self.port = port
        self.portStream = portStream
        self.capture = capture
        self.format = format
    }

    /// The device-specific allocation. Return the buffer, or a status.
    open func allocateBuffer(requestedSize: Int, notificationCount: Int) -> Result<AudioBufferAllocation, NTStatus> {
        .failure(.notSupported)
    }

    /// The device-specific DMA programming (a descriptor list, or a base and a length).
    open func program(_ dma: DMAController, with buffer: AudioBufferAllocation, notificationCount: Int) throws(DMAProgramError) {}

    // MARK: IMiniportWaveRTStream

    public func setFormat(_ format: StreamFormat) -> NTStatus {
        guard hardware == nil else { return .invalidDeviceState }  // the buffer was sized for the old one
        self.format = format
        return .success
    }

    public func setState(_ state: KSState) -> NTStatus {
        guard let hardware else {
            // No buffer yet: nothing runs, but the state machine still holds.
            guard abs(state.rawValue - softwareState.rawValue) <= 1 else { return .invalidDeviceState }
            guard state <= .acquire else { return .invalidDeviceState }
            softwareState = state
            return .success
        }
        return hardware.setState(state)
    }

    open func getPosition() -> Result<AudioPosition, NTStatus> {
        guard let hardware else { return .success(AudioPosition(playOffset: 0, writeOffset: 0)) }
        return .success(hardware.getPosition())
    }

    public func allocateAudioBuffer(requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
        allocate(requestedSize: requestedSize, notificationCount: 0)
    }

    public func freeAudioBuffer(_ mdl: MDL, size: Int) { release(mdl) }

    public func getHWLatency() -> HardwareLatency {
        hardware?.hardwareLatency
            ?? HardwareLatency(fifoSize: port.device.dmaProfile.fifoFrames * format.blockAlign, chipsetDelay: 0, codecDelay: codecDelay)
    }

    public func getPositionRegister() -> Result<HardwareRegister, NTStatus> {
        guard hasPositionRegister, let hardware else { return .failure(.notSupported) }
        return .success(hardware.positionRegister)
    }

    public func getClockRegister() -> Result<HardwareRegister, NTStatus> { .failure(.notSupported) }

    // MARK: IMiniportWaveRTStreamNotification

    public func allocateBufferWithNotification(notificationCount: Int, requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
        guard notificationCount == 1 || notificationCount == 2 else { return .failure(.invalidParameter) }
        return allocate(requestedSize: requestedSize, notificationCount: notificationCount)
    }

    public func freeBufferWithNotification(_ mdl: MDL, size: Int) { release(mdl) }

    public func registerNotificationEvent(_ event: NotificationEvent) -> NTStatus {
        hardware?.registerNotificationEvent(event) ?? .invalidDeviceState
    }

    public func unregisterNotificationEvent(_ event: NotificationEvent) -> NTStatus {
        hardware?.unregisterNotificationEvent(event) ?? .invalidDeviceState
    }

    // MARK: IMiniportWaveRTOutputStream

    public func getWritePacket() -> Result<UInt32, NTStatus> {
        guard supportsPackets, let hardware else { return .failure(.notSupported) }
        return .success(UInt32(truncatingIfNeeded: hardware.getWritePacket()))
    }

    public func setWritePacket(packetNumber: UInt32, flags: UInt32, eosPacketLength: UInt32) -> NTStatus {
        guard supportsPackets, let hardware else { return .notSupported }
        return hardware.setWritePacket(packetNumber: UInt64(packetNumber), flags: flags, eosPacketLength: eosPacketLength)
    }

    public func getPacketCount() -> Result<UInt32, NTStatus> {
        guard supportsPackets, let hardware else { return .failure(.notSupported) }
        return .success(UInt32(truncatingIfNeeded: hardware.getPacketCount()))
    }

    public func getOutputStreamPresentationPosition() -> Result<PresentationPosition, NTStatus> {
        guard supportsPackets, let hardware else { return .failure(.notSupported) }
        return .success(hardware.getOutputStreamPresentationPosition())
    }

    // MARK: Shared plumbing

    private func allocate(requestedSize: Int, notificationCount: Int) -> Result<AudioBufferAllocation, NTStatus> {
        guard hardware == nil, softwareState == .stop else { return .failure(.invalidDeviceState) }
        let buffer: AudioBufferAllocation
        switch allocateBuffer(requestedSize: requestedSize, notificationCount: notificationCount) {
        case .success(let b): buffer = b
        case .failure(let status): return .failure(status)
        }
        let dma = port.device.makeDMAController()
        do {
            try program(dma, with: buffer, notificationCount: notificationCount)
        } catch {
            port.device.report(ddi: "\(exampleName): DMA programming", rule: "\(error)",
                               outcome: "the buffer was freed and the allocation failed with STATUS_INSUFFICIENT_RESOURCES")
            portStream.freePagesFromMdl(buffer.mdl)
            return .failure(.insufficientResources)
        }
        let configuration = EngineStream.Configuration(
            name: exampleName, format: format, direction: capture ? .capture : .render,
            notificationCount: notificationCount, codecDelay: codecDelay)
        do {
            hardware = try port.device.attachHardwareStream(for: portStream, configuration: configuration, dma: dma)
        } catch {
            port.device.report(ddi: "\(exampleName): hardware stream", rule: "\(error)", outcome: "allocation failed")
            portStream.freePagesFromMdl(buffer.mdl)
            return .failure(.insufficientResources)
        }
        return .success(buffer)
    }

    private func release(_ mdl: MDL) {
        if hardware != nil {
            port.device.detachHardwareStream(for: portStream)  // stop the DMA before the pages go
            hardware = nil
        }
        portStream.freePagesFromMdl(mdl)
    }

    /// Bytes usable for a cyclic buffer out of `available`: whole packets (one
    /// per notification), each a multiple of ``packetGranule(_:)``. Zero when
    /// not one such packet fits (``reportNoWholePacket(_:notificationCount:granule:ddi:)`` says why).
    public func usableSize(_ available: Int, notificationCount: Int, granule: Int = 1) -> Int {
        let unit = packetGranule(granule) * max(1, notificationCount)
        return available / unit * unit
    }

    /// The unit a packet is made of: the least common multiple of the frame size
    /// (`nBlockAlign`), the DMA controller's segment alignment (a descriptor
    /// starts at every packet boundary) and `granule` (a further rule of the
    /// hardware, such as HD Audio's 128-byte buffers). 6-byte frames on a
    /// 4-byte-aligned controller make 12-byte units, not 6.
    public func packetGranule(_ granule: Int = 1) -> Int {
        lcm(lcm(format.blockAlign, max(1, granule)), max(1, port.device.dmaProfile.segmentAlignment))
    }

    /// Leaves the diagnostic for a buffer too small for one packet of the format.
    public func reportNoWholePacket(_ available: Int, notificationCount: Int, granule: Int = 1, ddi: String) {
        let packets = max(1, notificationCount)
        let unit = packetGranule(granule)
        port.device.report(ddi: "\(exampleName): \(ddi)", argument: "RequestedSize",
                           rule: "\(available) bytes hold no \(packets) packet\(packets > 1 ? "s" : "") of whole \(format.blockAlign)-byte frames (\(format)) "
                               + "aligned to \(lcm(max(1, granule), max(1, port.device.dmaProfile.segmentAlignment))) bytes (a packet is a multiple of \(unit) bytes)",
                           outcome: "the allocation failed with STATUS_INSUFFICIENT_RESOURCES; ask for a longer buffer")
    }

    private func lcm(_ a: Int, _ b: Int) -> Int {
        var (x, y) = (a, b)
        while y != 0 { (x, y) = (y, x % y) }
        return a / x * b
    }
}
