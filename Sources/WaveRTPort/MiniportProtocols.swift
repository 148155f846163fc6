import WaveRTKernel
import WaveRTMemory

// The PortCls interfaces between the port and a WaveRT miniport, as Swift
// protocols. Method names are the DDIs' in lowerCamelCase; results are
// NTSTATUS, and out-parameters are `inout` or a Result. QueryInterface is a
// cast (`as? any MiniportWaveRTOutputStream`). The port calls every method at
// PASSIVE_LEVEL except GetPosition, which may come at DISPATCH_LEVEL.

/// What `AllocateAudioBuffer` / `AllocateBufferWithNotification` return
/// through their out-parameters.
public struct AudioBufferAllocation: @unchecked Sendable {
    /// `AudioBufferMdl`.
    public var mdl: MDL
    /// `ActualSize`: the miniport's choice (rounded to its hardware, or less when memory ran short).
    public var actualSize: Int
    /// `OffsetFromFirstPage`: where the buffer starts in the MDL's first page.
    public var offsetFromFirstPage: Int
    /// `CacheType`: the caching the client's mapping must use (MmWriteCombined for HD Audio).
    public var cacheType: MemoryCachingType

    public init(mdl: MDL, actualSize: Int, offsetFromFirstPage: Int = 0, cacheType: MemoryCachingType) {
        self.mdl = mdl
        self.actualSize = actualSize
        self.offsetFromFirstPage = offsetFromFirstPage
        self.cacheType = cacheType
    }
}

/// `IPortWaveRT` as a miniport sees its port (Init's Port argument).
public protocol PortWaveRT: AnyObject {
    /// The machine the port runs on (what a driver reaches through its device object).
    var machine: Machine { get }
}

/// `IPortWaveRTStream`: the port's services to one miniport stream: the audio
/// buffer's memory. Every method is PASSIVE_LEVEL.
public protocol PortWaveRTStream: AnyObject {
    /// `AllocatePagesForMdl(HighAddress, TotalBytes)`: whole pages anywhere in
    /// [0, HighAddress], not necessarily contiguous, locked but unmapped, maybe
    /// fewer than asked (check the MDL's byte count); nil when none could be had.
    func allocatePagesForMdl(highAddress: PhysicalAddress, totalBytes: Int) -> MDL?
    /// `AllocateContiguousPagesForMdl(LowAddress, HighAddress, TotalBytes)`: all or nothing.
    func allocateContiguousPagesForMdl(lowAddress: PhysicalAddress, highAddress: PhysicalAddress, totalBytes: Int) -> MDL?
    /// `MapAllocatedPages(MemoryDescriptorList, CacheType)`: a kernel mapping for the miniport's own use.
    func mapAllocatedPages(_ mdl: MDL, cacheType: MemoryCachingType) -> UnsafeMutableRawPointer?
    /// `UnmapAllocatedPages(BaseAddress, MemoryDescriptorList)`: before the free.
    func unmapAllocatedPages(_ baseAddress: UnsafeMutableRawPointer, mdl: MDL)
    /// `FreePagesFromMdl(MemoryDescriptorList)`: the pages and the MDL.
    func freePagesFromMdl(_ mdl: MDL)
    /// `GetPhysicalPagesCount(MemoryDescriptorList)`.
    func getPhysicalPagesCount(_ mdl: MDL) -> Int
    /// `GetPhysicalPageAddress(MemoryDescriptorList, Index)`.
    func getPhysicalPageAddress(_ mdl: MDL, index: Int) -> PhysicalAddress
}

/// `IMiniport` + `IMiniportWaveRT`: the miniport driver object.
public protocol MiniportWaveRT: AnyObject {
    /// `IMiniportWaveRT::Init(UnknownAdapter, ResourceList, Port)`.
    func initialize(unknownAdapter: AnyObject?, resourceList: ResourceList, port: any PortWaveRT) -> NTStatus
    /// `IMiniport::GetDescription(&OutFilterDescriptor)`.
    func getDescription() -> Result<PCFilterDescriptor, NTStatus>
    /// `IMiniport::DataRangeIntersection`: the format to use where `clientDataRange`
    /// and `myDataRange` meet; STATUS_NO_MATCH; or STATUS_NOT_IMPLEMENTED to let
    /// the port's default handler decide.
    func dataRangeIntersection(pinId: Int, clientDataRange: KSDataRangeAudio, myDataRange: KSDataRangeAudio) -> Result<KSDataFormat, NTStatus>
    /// `IMiniportWaveRT::NewStream(&Stream, NULL, NonPagedPool, Pin, Capture, DataFormat)`:
    /// a stream in KSSTATE_STOP with position 0. `portStream` is the port's IPortWaveRTStream for it.
    func newStream(pin: Int, capture: Bool, dataFormat: KSDataFormat, portStream: any PortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus>
    /// `IMiniportWaveRT::GetDeviceDescription(&DeviceDescription)`.
    func getDeviceDescription(_ description: inout DeviceDescription) -> NTStatus
}

extension MiniportWaveRT {
    /// By default, the port's handler decides (STATUS_NOT_IMPLEMENTED).
    public func dataRangeIntersection(pinId: Int, clientDataRange: KSDataRangeAudio, myDataRange: KSDataRangeAudio) -> Result<KSDataFormat, NTStatus> {
        .failure(.notImplemented)
    }
}

/// `IMiniportWaveRTStream`.
public protocol MiniportWaveRTStream: AnyObject {
    /// `SetFormat(DataFormat)`.
    func setFormat(_ dataFormat: KSDataFormat) -> NTStatus
    /// `SetState(State)`: the port steps through neighbouring states.
    func setState(_ state: KSState) -> NTStatus
    /// `GetPosition(&Position)` (PASSIVE_LEVEL or DISPATCH_LEVEL).
    func getPosition(_ position: inout KSAudioPosition) -> NTStatus
    /// `AllocateAudioBuffer(RequestedSize, &AudioBufferMdl, &ActualSize, &OffsetFromFirstPage, &CacheType)`.
    func allocateAudioBuffer(requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus>
    /// `FreeAudioBuffer(AudioBufferMdl, BufferSize)`.
    func freeAudioBuffer(_ mdl: MDL?, size: Int)
    /// `GetHWLatency(&hwLatency)`.
    func getHWLatency(_ latency: inout KSRTAudioHWLatency)
    /// `GetPositionRegister(&Register)`: STATUS_NOT_SUPPORTED when the hardware has none.
    func getPositionRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus
    /// `GetClockRegister(&Register)`: STATUS_NOT_SUPPORTED when the hardware has none.
    func getClockRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus
}

/// `IMiniportWaveRTStreamNotification` (derives from IMiniportWaveRTStream).
public protocol MiniportWaveRTStreamNotification: MiniportWaveRTStream {
    /// `AllocateBufferWithNotification(NotificationCount, RequestedSize, ...)`.
    func allocateBufferWithNotification(notificationCount: Int, requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus>
    /// `FreeBufferWithNotification(Mdl, BufferSize)`.
    func freeBufferWithNotification(_ mdl: MDL?, size: Int)
    /// `RegisterNotificationEvent(NotificationEvent)`.
    func registerNotificationEvent(_ event: KEvent) -> NTStatus
    /// `UnregisterNotificationEvent(NotificationEvent)`.
    func unregisterNotificationEvent(_ event: KEvent) -> NTStatus
}

/// `IMiniportWaveRTOutputStream` (packet mode, Windows 10; derives from IUnknown).
public protocol MiniportWaveRTOutputStream: AnyObject {
    /// `SetWritePacket(PacketNumber, Flags, EosPacketLength)`: STATUS_DATA_LATE_ERROR,
    /// STATUS_DATA_OVERRUN, STATUS_INVALID_DEVICE_STATE, STATUS_INVALID_PARAMETER as documented.
    func setWritePacket(packetNumber: UInt32, flags: UInt32, eosPacketLength: UInt32) -> NTStatus
    /// `GetOutputStreamPresentationPosition(&Position)`.
    func getOutputStreamPresentationPosition(_ position: inout KSAudioPresentationPosition) -> NTStatus
    /// `GetPacketCount(&PacketCount)`: the 1-based count of packets completely transferred; 0 in STOP.
    func getPacketCount(_ packetCount: inout UInt32) -> NTStatus
}

/// `IMiniportWaveRTInputStream` (packet mode capture).
public protocol MiniportWaveRTInputStream: AnyObject {
    /// `GetReadPacket(&PacketNumber, &Flags, &PerformanceCounterValue, &MoreData)`:
    /// STATUS_DEVICE_NOT_READY when no new packet is available.
    func getReadPacket(_ packetNumber: inout UInt32, _ flags: inout UInt32, _ performanceCounterValue: inout UInt64,
                       _ moreData: inout Bool) -> NTStatus
}
