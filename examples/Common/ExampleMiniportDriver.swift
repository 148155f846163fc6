import WaveRTKernel
import WaveRTPort

/// What the example miniport drivers share, the way SYSVAD's `CMiniportWaveRT`
/// is shared by its endpoints: the filter's pins and data ranges, the format
/// check NewStream makes (`IsFormatSupported`), and stream accounting. A
/// driver subclasses it, says what its hardware plays (``renderRanges``,
/// ``captureRanges``), sets its hardware up in ``initialize(unknownAdapter:resourceList:port:)``
/// and makes its streams in ``makeStream(capture:format:portStream:)``.
///
/// Pins: 0 render (sink, data in), 1 its bridge; 2 capture (sink, data out) and
/// 3 its bridge when the hardware records.
open class ExampleMiniportDriver: MiniportWaveRT, @unchecked Sendable {
    public private(set) var port: (any PortWaveRT)?
    public private(set) var resources: ResourceList?
    /// Streams open per pin (the pins allow one each).
    private var open = [0, 0, 0, 0]

    public init() {}

    /// The formats the hardware renders (empty: no render pin).
    open var renderRanges: [KSDataRangeAudio] { [] }
    /// The formats it records (empty: no capture pin).
    open var captureRanges: [KSDataRangeAudio] { [] }
    /// What the DMA can address (`DEVICE_DESCRIPTION`).
    open var deviceDescription: DeviceDescription { DeviceDescription() }

    /// `IMiniportWaveRT::Init`: keep the port and the resources; subclasses map
    /// their registers and connect their interrupt, then call this.
    open func initialize(unknownAdapter: AnyObject?, resourceList: ResourceList, port: any PortWaveRT) -> NTStatus {
        self.port = port
        resources = resourceList
        return .success
    }

    public func getDescription() -> Result<PCFilterDescriptor, NTStatus> {
        var pins: [PCPinDescriptor] = []
        func add(_ ranges: [KSDataRangeAudio], flow: KSPinDataFlow) {
            pins.append(PCPinDescriptor(maxGlobalInstanceCount: 1, maxFilterInstanceCount: 1, minFilterInstanceCount: 0,
                                        ksPinDescriptor: KSPinDescriptor(dataRanges: ranges, dataFlow: flow, communication: .sink)))
            pins.append(PCPinDescriptor(maxGlobalInstanceCount: 0, maxFilterInstanceCount: 0, minFilterInstanceCount: 0,
                                        ksPinDescriptor: KSPinDescriptor(dataRanges: [], dataFlow: flow == .in ? .out : .in, communication: .none)))
        }
        add(renderRanges, flow: .in)
        if !captureRanges.isEmpty { add(captureRanges, flow: .out) }
        return .success(PCFilterDescriptor(pins: pins, nodeCount: 1, connectionCount: 2))
    }

    public func getDeviceDescription(_ description: inout DeviceDescription) -> NTStatus {
        description = deviceDescription
        return .success
    }

    /// `IsFormatSupported`: one of the pin's ranges holds the format, and its
    /// fields agree with each other (nBlockAlign, nAvgBytesPerSec).
    open func isFormatSupported(pin: Int, _ format: KSDataFormat) -> Bool {
        let ranges = pin == 0 ? renderRanges : pin == 2 ? captureRanges : []
        guard format.streamFormat != nil else { return false }
        return ranges.contains { $0.contains(format) }
    }

    public func newStream(pin: Int, capture: Bool, dataFormat: KSDataFormat,
                          portStream: any PortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus>
    {
        guard port != nil else { return .failure(.deviceNotReady) }  // NewStream before Init
        guard pin == 0 || (pin == 2 && !captureRanges.isEmpty), capture == (pin == 2) else { return .failure(.notSupported) }
        guard open[pin] == 0 else { return .failure(.insufficientResources) }
        guard isFormatSupported(pin: pin, dataFormat), let format = dataFormat.streamFormat else { return .failure(.noMatch) }
        let result = makeStream(capture: capture, format: format, portStream: portStream)
        if case .success = result { open[pin] += 1 }
        return result
    }

    /// A stream was closed (its deinit tells the driver).
    public func streamClosed(capture: Bool) { open[capture ? 2 : 0] = max(0, open[capture ? 2 : 0] - 1) }

    /// Makes the stream object: where the hardware-specific work starts.
    open func makeStream(capture: Bool, format: StreamFormat, portStream: any PortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus> {
        .failure(.notSupported)
    }
}

import WaveRTEngine
