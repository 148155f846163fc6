import CWaveRTSDK
import Glibc
import Synchronization
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

/// A WaveRT miniport written in C++ against the SDK's portcls.h, loaded from
/// its shared library: to the port it is a ``MiniportWaveRT`` like any Swift
/// one, so ``MiniportSession`` and the timing suite run it unchanged.
///
/// ```swift
/// let miniport = try CxxMiniport.load(path: "minwavert.so")          // hardware: what the library declares, or hda
/// let monitor = miniport.monitor                                      // outlives the miniport: the crash, if any
/// let session = try MiniportSession(miniport: miniport, setup: StreamSetup(hardware: miniport.hardware, ...), ...)
/// ```
/// (`--miniport LIB.so` on `wavert play`, `record`, `timing` and `soak` is this
/// call, with `--hardware` passed as `hardware:`.)
///
/// The port owns the miniport, as PortCls does: the C++ object is released
/// when the port lets go of this object at unload, and the port then checks
/// for what the driver left behind. Keep ``monitor`` rather than the
/// miniport itself past the session: a reference held elsewhere keeps the C++
/// object alive past the port's leak checks, which then report its pool,
/// interrupt connection and register mapping as leaked.
///
/// The C++ object is created (WaveRTCreateMiniport) when the port calls
/// Init, with the emulated machine running, and released when the port lets
/// go of this object. Every call into it goes through the crash guard: if
/// the miniport crashes, ``crash`` describes it, the machine stops as on a bug
/// check, and from then on every call fails with STATUS_INTERNAL_ERROR
/// without entering the miniport, so the run finishes and reports.
public final class CxxMiniport: MiniportWaveRT, @unchecked Sendable {
    public let library: CxxMiniportLibrary
    /// The hardware the miniport drives (the adapter a session must build).
    public let hardware: HardwareKind
    /// What happens to the miniport that outlives it (its crash).
    public let monitor: CxxMiniportMonitor
    private var context: BridgeContext?
    private var miniport: UnsafeMutableRawPointer?
    /// Each pin's data ranges and the miniport's own KSDATARANGE behind each.
    private var pinRanges: [[(range: KSDataRangeAudio, original: UnsafeRawPointer?)]] = []

    init(library: CxxMiniportLibrary, hardware: HardwareKind, monitor: CxxMiniportMonitor) {
        self.library = library
        self.hardware = hardware
        self.monitor = monitor
    }

    /// Loads the library at `path` and makes a miniport from it. `hardware`
    /// overrides what its WaveRTMiniportHardware() says; the default is `hda`.
    /// `monitor` receives its crash, if any (a new one by default).
    public static func load(path: String, hardware: HardwareKind? = nil,
                            monitor: CxxMiniportMonitor = CxxMiniportMonitor()) throws(CxxMiniportError) -> CxxMiniport {
        try CxxMiniportLibrary.open(path: path).makeMiniport(hardware: hardware, monitor: monitor)
    }

    /// The first crash of the miniport, if it crashed.
    public var crash: CxxCrashReport? { monitor.crash }

    deinit {
        guard let context else { return }
        if let miniport { context.machine.withCurrent { _ = wrt_guarded_release(context.instance, CString.releaseMiniport, miniport) } }
        context.checkCrash()
        context.retire()
    }

    var instance: UnsafeMutablePointer<WrtInstance>? { context?.instance }

    // MARK: IMiniportWaveRT

    public func initialize(unknownAdapter: AnyObject?, resourceList: ResourceList, port: any PortWaveRT) -> NTStatus {
        guard context == nil else { return .invalidDeviceState }
        let c = BridgeContext(machine: port.machine, runtime: library.runtime, library: library.path, adapter: unknownAdapter as? Adapter)
        c.monitor = monitor
        context = c
        var object: UnsafeMutableRawPointer?
        let created = NTStatus(rawValue: wrt_guarded_create_miniport(c.instance, PoolFlags.nonPaged.rawValue, &object))
        c.checkCrash()
        guard created.isSuccess, let object else { return created.isSuccess ? .unsuccessful : created }
        miniport = object
        let resources = resourceList.descriptors.map { d in
            WrtResource(type: d.type.rawValue, shareDisposition: d.shareDisposition, flags: d.flags, length: d.length, start: d.start.rawValue,
                        level: d.level, vector: d.vector, affinity: d.affinity, channel: d.channel, reserved: 0)
        }
        let status = resources.withUnsafeBufferPointer { b in
            wrt_guarded_init(c.instance, object, b.baseAddress, UInt32(b.count), c.handle(resourceList))
        }
        c.checkCrash()
        return NTStatus(rawValue: status)
    }

    public func getDescription() -> Result<PCFilterDescriptor, NTStatus> {
        guard let context, let miniport else { return .failure(.deviceNotReady) }
        final class Collector {
            var pins: [WrtPinInfo] = []
            var ranges: [[WrtRangeInfo]] = []
        }
        let collector = Collector()
        var filter = WrtFilterInfo()
        let status = NTStatus(rawValue: wrt_guarded_get_description(context.instance, miniport, Unmanaged.passUnretained(collector).toOpaque(), &filter,
            { ctx, _, pin in
                let c = Unmanaged<Collector>.fromOpaque(ctx!).takeUnretainedValue()
                c.pins.append(pin!.pointee)
                c.ranges.append([])
            },
            { ctx, _, range in
                let c = Unmanaged<Collector>.fromOpaque(ctx!).takeUnretainedValue()
                c.ranges[c.ranges.count - 1].append(range!.pointee)
            }))
        context.checkCrash()
        guard status.isSuccess else { return .failure(status) }
        pinRanges = collector.ranges.map { $0.map { (FormatCoding.range($0), $0.original) } }
        let pins = zip(collector.pins, pinRanges).map { pin, ranges in
            PCPinDescriptor(maxGlobalInstanceCount: Int(pin.maxGlobalInstanceCount), maxFilterInstanceCount: Int(pin.maxFilterInstanceCount),
                            minFilterInstanceCount: Int(pin.minFilterInstanceCount),
                            ksPinDescriptor: KSPinDescriptor(dataRanges: ranges.map(\.range), dataFlow: KSPinDataFlow(rawValue: pin.dataFlow) ?? .in,
                                                             communication: KSPinCommunication(rawValue: pin.communication) ?? .none,
                                                             category: pin.hasCategory != 0 ? FormatCoding.guid(pin.category) : .null))
        }
        return .success(PCFilterDescriptor(version: filter.version, pins: pins, nodeCount: Int(filter.nodeCount),
                                           connectionCount: Int(filter.connectionCount)))
    }

    public func dataRangeIntersection(pinId: Int, clientDataRange: KSDataRangeAudio, myDataRange: KSDataRangeAudio) -> Result<KSDataFormat, NTStatus> {
        guard let context, let miniport, pinId >= 0, pinId < pinRanges.count,
              let mine = pinRanges[pinId].first(where: { $0.range == myDataRange })?.original else { return .failure(.notImplemented) }
        let client = FormatCoding.encode(clientDataRange)
        defer { client.deallocate() }
        var capacity = 256
        for _ in 0..<2 {
            let out = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
            defer { out.deallocate() }
            var length: UInt32 = 0
            let status = NTStatus(rawValue: wrt_guarded_data_range_intersection(context.instance, miniport, UInt32(pinId), client.baseAddress, mine,
                                                                                  UInt32(capacity), out.baseAddress, &length))
            context.checkCrash()
            if status == .bufferOverflow && Int(length) > capacity {
                capacity = Int(length)
                continue
            }
            guard status.isSuccess else { return .failure(status) }
            guard let format = FormatCoding.decode(out.baseAddress!, length: Int(length)) else { return .failure(.invalidParameter) }
            return .success(format)
        }
        return .failure(.bufferTooSmall)
    }

    public func newStream(pin: Int, capture: Bool, dataFormat: KSDataFormat, portStream: any PortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus> {
        guard let context, let miniport else { return .failure(.deviceNotReady) }
        let format = FormatCoding.encode(dataFormat)
        var stream: UnsafeMutableRawPointer?
        let status = NTStatus(rawValue: wrt_guarded_new_stream(context.instance, miniport, context.handle(portStream as AnyObject), UInt32(pin),
                                                               capture ? 1 : 0, format.baseAddress, &stream))
        context.checkCrash()
        guard status.isSuccess, let stream else {
            format.deallocate()
            return .failure(status.isSuccess ? .unsuccessful : status)
        }
        return .success(CxxStream.make(context: context, stream: stream, format: format))
    }

    public func getDeviceDescription(_ description: inout DeviceDescription) -> NTStatus {
        guard let context, let miniport else { return .deviceNotReady }
        var d = WrtDeviceDescription()
        let status = NTStatus(rawValue: wrt_guarded_get_device_description(context.instance, miniport, &d))
        context.checkCrash()
        guard status.isSuccess else { return status }
        description.version = d.version
        description.master = d.master != 0
        description.scatterGather = d.scatterGather != 0
        description.dma32BitAddresses = d.dma32BitAddresses != 0
        description.dma64BitAddresses = d.dma64BitAddresses != 0
        description.interfaceType = d.interfaceType
        description.maximumLength = d.maximumLength
        return status
    }
}

/// A miniport's crash, kept apart from the miniport so that whoever runs it
/// can read it after the port released the miniport.
public final class CxxMiniportMonitor: @unchecked Sendable {
    private let lock = Mutex<CxxCrashReport?>(nil)
    /// Called once, on the thread that crashed, after the machine stopped.
    public var onCrash: ((CxxCrashReport) -> Void)?

    public init() {}

    /// The miniport's first crash, if it crashed.
    public var crash: CxxCrashReport? { lock.withLock { $0 } }

    func record(_ report: CxxCrashReport) {
        lock.withLock { $0 = report }
        onCrash?(report)
    }
}
