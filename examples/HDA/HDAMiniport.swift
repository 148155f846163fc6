import Synchronization
import WaveRTEngine
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

/// `hda`: a WaveRT miniport for an Intel HD Audio controller, driving its
/// registers directly.
///
/// - Init maps BAR0 (memory resource 0) with MmMapIoSpace, takes the
///   controller out of reset (GCTL.CRST, polled, then the 521 µs the link
///   needs), reads GCAP for the stream descriptors and 64-bit addressing, sets
///   INTCTL.GIE, and connects its ISR to interrupt resource 0 with PcNewInterruptSync.
/// - The ISR reads INTSTS, acknowledges each stream's SDnSTS (write 1 to
///   clear), notes the causes for the stream, and queues the DPC; the DPC
///   lets each stream signal its events and count its packets.
/// - Streams get a descriptor of their direction; their buffers are
///   described to the controller by a BDL the driver writes (see ``HDAStream``).
/// - Render and capture: 16-bit or 32-bit samples (HD Audio puts 20- and
///   24-bit samples in 32-bit containers, so packed 24-bit is not accepted),
///   1 to 8 channels, any rate SDnFMT can express from 8 kHz to 192 kHz.
open class HDAMiniport: ExampleMiniportDriver, @unchecked Sendable {
    var registers: UnsafeMutableRawPointer?
    var barLength = 0
    var interrupt: InterruptSync?
    let dpc = KDpc()
    var inputStreams = 0
    var outputStreams = 0
    var addresses64 = false
    /// Streams by descriptor index, unretained (a stream takes itself out when
    /// it goes), changed only inside CallSynchronizedRoutine so the ISR never
    /// sees a half-made table.
    var streams: [Unmanaged<HDAStream>?] = Array(repeating: nil, count: 30)
    private let intctlLock = KSpinLock()

    override public init() {
        super.init()
        keInitializeSpinLock(intctlLock)
    }

    override public var renderRanges: [KSDataRangeAudio] {
        [KSDataRangeAudio(maximumChannels: 8, bitsPerSample: 16...16, sampleFrequency: 8_000...192_000),
         KSDataRangeAudio(maximumChannels: 8, bitsPerSample: 32...32, sampleFrequency: 8_000...192_000)]
    }
    override public var captureRanges: [KSDataRangeAudio] { renderRanges }

    override public var deviceDescription: DeviceDescription {
        var d = DeviceDescription()
        d.scatterGather = true
        d.dma32BitAddresses = true
        d.dma64BitAddresses = addresses64
        d.maximumLength = UInt32(HDA.BDLMaxEntries * 4096)
        return d
    }

    override public func isFormatSupported(pin: Int, _ format: KSDataFormat) -> Bool {
        guard super.isFormatSupported(pin: pin, format), let f = format.streamFormat, f.sampleFormat != .float32 else { return false }
        return HDA.format(rate: f.sampleRate, bits: f.sampleFormat.bits, channels: f.channels) != nil
    }

    func register(_ offset: Int) -> UnsafeMutableRawPointer { registers! + offset }

    override public func initialize(unknownAdapter: AnyObject?, resourceList: ResourceList, port: any PortWaveRT) -> NTStatus {
        guard let bar = resourceList.findTranslatedEntry(.memory, 0) else { return .deviceNotReady }
        guard let va = mmMapIoSpace(bar.start, Int(bar.length), .nonCached) else { return .insufficientResources }
        registers = va
        barLength = Int(bar.length)
        // Out of reset: CRST = 1, wait until it reads back, then let the codecs initialise (≥ 521 µs).
        writeRegisterUlong(register(HDA.GCTL), readRegisterUlong(register(HDA.GCTL)) | HDA.CRST)
        var polls = 0
        while readRegisterUlong(register(HDA.GCTL)) & HDA.CRST == 0 && polls < 100 {
            keStallExecutionProcessor(10)
            polls += 1
        }
        guard readRegisterUlong(register(HDA.GCTL)) & HDA.CRST != 0 else { return .deviceNotReady }
        for _ in 0..<11 { keStallExecutionProcessor(50) }
        let gcap = readRegisterUshort(register(HDA.GCAP))
        outputStreams = Int(gcap >> 12) & 0xF
        inputStreams = Int(gcap >> 8) & 0xF
        addresses64 = gcap & 1 != 0
        keInitializeDpc(dpc, { [unowned(unsafe) self] _, _, _, _ in self.deferredProcedure() })
        switch pcNewInterruptSync(resourceList: resourceList, resourceIndex: 0, mode: .normal) {
        case .success(let sync): interrupt = sync
        case .failure(let s): return s
        }
        guard interrupt!.registerServiceRoutine({ [unowned(unsafe) self] _, _ in self.serviceInterrupt() }, context: nil, first: false).isSuccess,
              interrupt!.connect().isSuccess else { return .insufficientResources }
        writeRegisterUlong(register(HDA.INTCTL), HDA.GIE)
        return super.initialize(unknownAdapter: unknownAdapter, resourceList: resourceList, port: port)
    }

    deinit {
        dpcSnapshot.deallocate()
        interrupt?.disconnect()
        if let registers {
            writeRegisterUlong(registers + HDA.INTCTL, 0)
            mmUnmapIoSpace(registers, barLength)
        }
    }

    /// The stream class this driver makes.
    open var streamType: HDAStream.Type { HDAStream.self }

    override public func makeStream(capture: Bool, format: StreamFormat, portStream: any PortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus> {
        // Inputs come first in the descriptor numbering, then outputs.
        let range = capture ? 0..<inputStreams : inputStreams..<(inputStreams + outputStreams)
        guard let index = range.first(where: { streams[$0] == nil }) else { return .failure(.insufficientResources) }
        let stream = streamType.init(miniport: self, descriptor: index, capture: capture, format: format, portStream: portStream)
        setStream(stream, at: index)
        return .success(stream)
    }

    /// Puts a stream in the table the ISR reads, synchronised with it.
    func setStream(_ stream: HDAStream?, at index: Int) {
        let entry = stream.map { Unmanaged.passUnretained($0) }
        withUnsafeMutablePointer(to: &streams) { table in
            _ = interrupt?.callSynchronizedRoutine({ _, _ in
                table.pointee[index] = entry
                return .success
            }, context: nil)
        }
    }

    /// Enables or disables descriptor `index`'s interrupt in INTCTL.
    func enableStreamInterrupt(_ index: Int, _ on: Bool) {
        let irql = keAcquireSpinLock(intctlLock)
        let value = readRegisterUlong(register(HDA.INTCTL))
        writeRegisterUlong(register(HDA.INTCTL), on ? value | 1 << UInt32(index) : value & ~(1 << UInt32(index)))
        keReleaseSpinLock(intctlLock, irql)
    }

    // MARK: Interrupt path

    /// The ISR (DIRQL): acknowledge each stream's causes and defer the work.
    func serviceInterrupt() -> NTStatus {
        let status = readRegisterUlong(register(HDA.INTSTS))
        guard status != 0, status != 0xFFFF_FFFF else { return .unsuccessful }  // not ours
        for index in 0..<(inputStreams + outputStreams) where status & (1 << UInt32(index)) != 0 {
            let sts = register(HDA.SD0 + HDA.SDStride * index + HDA.SDSTS)
            let causes = readRegisterUchar(sts) & (HDA.BCIS | HDA.FIFOE | HDA.DESE)
            writeRegisterUchar(sts, causes)  // write 1 to clear: the line drops
            streams[index]?._withUnsafeGuaranteedRef { $0.noteInterrupt(causes) }
        }
        keInsertQueueDpc(dpc)
        return .success
    }

    /// The DPC (DISPATCH_LEVEL): takes a snapshot of the stream table under the
    /// interrupt's lock (streams leave it only there, and are kept alive until
    /// KeFlushQueuedDpcs returns), then lets each stream do its work.
    func deferredProcedure() {
        let snapshot = dpcSnapshot
        var count = 0
        withUnsafeMutablePointer(to: &count) { n in
            _ = interrupt?.callSynchronizedRoutine({ [unowned(unsafe) self] _, _ in
                for case let stream? in streams {
                    snapshot[n.pointee] = stream
                    n.pointee += 1
                }
                return .success
            }, context: nil)
        }
        for i in 0..<count { snapshot[i]._withUnsafeGuaranteedRef { $0.deferredProcedure() } }
    }
    private let dpcSnapshot = UnsafeMutablePointer<Unmanaged<HDAStream>>.allocate(capacity: 30)
}
