import WaveRTEngine
import WaveRTMemory

/// What `IMiniportWaveRT::GetDeviceDescription` fills in (`DEVICE_DESCRIPTION`):
/// how the adapter's DMA can address memory.
public struct DeviceDescription: Sendable, Hashable {
    /// `ScatterGather`: the DMA follows a list of pages.
    public var scatterGather: Bool
    /// `Dma32BitAddresses` / `Dma64BitAddresses`.
    public var dma32BitAddresses: Bool
    public var dma64BitAddresses: Bool
    /// `MaximumLength`: the largest transfer (buffer) in bytes.
    public var maximumLength: Int

    public init(scatterGather: Bool, dma32BitAddresses: Bool, dma64BitAddresses: Bool, maximumLength: Int) {
        self.scatterGather = scatterGather
        self.dma32BitAddresses = dma32BitAddresses
        self.dma64BitAddresses = dma64BitAddresses
        self.maximumLength = maximumLength
    }
}

/// What `AllocateAudioBuffer` / `AllocateBufferWithNotification` return through
/// their out-parameters: the MDL, the size actually usable, where the buffer
/// starts in the first page, and the caching the client's mapping must use.
public struct AudioBufferAllocation: @unchecked Sendable {
    public var mdl: MDL
    /// `ActualSize`: may be smaller than asked (a partial allocation) or rounded.
    public var actualSize: Int
    /// `OffsetFromFirstPage`.
    public var offsetFromFirstPage: Int
    /// `CacheType`.
    public var cacheType: MemoryCachingType

    public init(mdl: MDL, actualSize: Int, offsetFromFirstPage: Int, cacheType: MemoryCachingType) {
        self.mdl = mdl
        self.actualSize = actualSize
        self.offsetFromFirstPage = offsetFromFirstPage
        self.cacheType = cacheType
    }
}

/// `IMiniportWaveRT`: the miniport driver object the port drives.
public protocol MiniportWaveRT: AnyObject {
    /// `IMiniportWaveRT::Init`: the miniport gets its port (and through it, the
    /// emulated hardware). Called once, first.
    func initialize(port: SimulatedPortWaveRT) -> NTStatus
    /// `IMiniportWaveRT::NewStream`: a stream on `pin` for `format`, in KSSTATE_STOP
    /// with position 0. `portStream` is the port's IPortWaveRTStream for its buffers.
    func newStream(pin: Int, capture: Bool, format: StreamFormat,
                   portStream: SimulatedPortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus>
    /// `IMiniportWaveRT::GetDeviceDescription`.
    func getDeviceDescription() -> DeviceDescription
}

/// `IMiniportWaveRTStream`: one stream of a WaveRT miniport.
public protocol MiniportWaveRTStream: AnyObject {
    /// `SetFormat`: STATUS_NOT_SUPPORTED for a format the hardware cannot do.
    func setFormat(_ format: StreamFormat) -> NTStatus
    /// `SetState`: the port always steps through neighbouring states.
    func setState(_ state: KSState) -> NTStatus
    /// `GetPosition` (KSAUDIO_POSITION).
    func getPosition() -> Result<AudioPosition, NTStatus>
    /// `AllocateAudioBuffer`: a cyclic buffer of about `requestedSize` bytes.
    func allocateAudioBuffer(requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus>
    /// `FreeAudioBuffer`.
    func freeAudioBuffer(_ mdl: MDL, size: Int)
    /// `GetHWLatency` (KSRTAUDIO_HWLATENCY).
    func getHWLatency() -> HardwareLatency
    /// `GetPositionRegister` (KSRTAUDIO_HWREGISTER), or STATUS_NOT_SUPPORTED:
    /// the port then falls back to ``getPosition()``.
    func getPositionRegister() -> Result<HardwareRegister, NTStatus>
    /// `GetClockRegister`, or STATUS_NOT_SUPPORTED.
    func getClockRegister() -> Result<HardwareRegister, NTStatus>
}

/// `IMiniportWaveRTStreamNotification`: buffers with notification events.
public protocol MiniportWaveRTStreamNotification: MiniportWaveRTStream {
    /// `AllocateBufferWithNotification`: NotificationCount 1 (end of buffer) or 2 (midpoint and end).
    func allocateBufferWithNotification(notificationCount: Int, requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus>
    /// `FreeBufferWithNotification`.
    func freeBufferWithNotification(_ mdl: MDL, size: Int)
    /// `RegisterNotificationEvent`.
    func registerNotificationEvent(_ event: NotificationEvent) -> NTStatus
    /// `UnregisterNotificationEvent`.
    func unregisterNotificationEvent(_ event: NotificationEvent) -> NTStatus
}

/// `IMiniportWaveRTOutputStream`: packet mode (Windows 10 and later).
public protocol MiniportWaveRTOutputStream: MiniportWaveRTStreamNotification {
    /// The next packet number the client should write (the one after the packet in transfer).
    func getWritePacket() -> Result<UInt32, NTStatus>
    /// `SetWritePacket`: STATUS_DATA_LATE_ERROR, STATUS_DATA_OVERRUN, STATUS_INVALID_DEVICE_STATE as documented.
    func setWritePacket(packetNumber: UInt32, flags: UInt32, eosPacketLength: UInt32) -> NTStatus
    /// `GetPacketCount`: packets completely transferred since STOP.
    func getPacketCount() -> Result<UInt32, NTStatus>
    /// `GetOutputStreamPresentationPosition`.
    func getOutputStreamPresentationPosition() -> Result<PresentationPosition, NTStatus>
}
