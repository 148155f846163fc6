import Synchronization
import WaveRTEngine
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

/// The `sg` device's registers (the project's own bus master; its
/// documentation is the device's, `GenericBusMaster`).
enum SG {
    static let CAPS = 0x04, INTSTS = 0x08
    static func channel(_ n: Int) -> Int { 0x40 + 0x40 * n }
    static let CTL = 0x00, STS = 0x04, DESCLO = 0x08, DESCHI = 0x0C, DESCCOUNT = 0x10, FORMAT = 0x14
    static let POSITION = 0x18, LENGTH = 0x1C, FIFOSIZE = 0x20
    static let RUN: UInt32 = 1, IE: UInt32 = 2, RESET: UInt32 = 4, EIE: UInt32 = 8
    static let IOC: UInt32 = 1, ERR: UInt32 = 2
    static let descriptorBytes = 16
    static let alignment = 4

    /// FORMAT: rate 19:0, channels − 1 25:20, sample format 28:26 (S16, S24 packed, S32, F32).
    static func format(_ f: StreamFormat) -> UInt32 {
        let code: UInt32 = switch f.sampleFormat {
        case .int16: 0
        case .int24: 1
        case .int32: 2
        case .float32: 3
        }
        return UInt32(f.sampleRate) | UInt32(f.channels - 1) << 20 | code << 26
    }
}

/// `simple`: the smallest honest WaveRT miniport, for the generic
/// scatter-gather bus master. It reads CAPS for the addresses the device can
/// reach and allocates its pages below that (AllocatePagesForMdl up to
/// MAXULONG64 on a 64-bit device): one descriptor per page,
/// IOC where each packet ends, the interrupt's DPC signals the events.
/// Every format the emulator carries: 16-, 24- and 32-bit integer and 32-bit
/// float, 1 to 32 channels, 8 kHz to 384 kHz.
open class SimpleMiniport: ExampleMiniportDriver, @unchecked Sendable {
    var registers: UnsafeMutableRawPointer?
    var barLength = 0
    var interrupt: InterruptSync?
    let dpc = KDpc()
    /// CAPS bit 0: descriptors may hold 64-bit addresses.
    var addresses64 = false
    private let channels = UnsafeMutablePointer<Atomic<UInt>>.allocate(capacity: 2)  // streams by channel (unretained)

    override public init() {
        for i in 0..<2 { (channels + i).initialize(to: Atomic(0)) }
        super.init()
    }

    override open var renderRanges: [KSDataRangeAudio] {
        [KSDataRangeAudio(maximumChannels: 32, bitsPerSample: 16...32, sampleFrequency: 8_000...384_000),
         KSDataRangeAudio(subFormat: KSDataFormatGUID.subtypeIEEEFloat, maximumChannels: 32, bitsPerSample: 32...32,
                          sampleFrequency: 8_000...384_000)]
    }
    override open var captureRanges: [KSDataRangeAudio] { renderRanges }

    override public var deviceDescription: DeviceDescription {
        var d = DeviceDescription()
        d.scatterGather = true
        d.dma32BitAddresses = true
        d.dma64BitAddresses = true
        d.maximumLength = 1 << 24
        return d
    }

    func register(_ offset: Int) -> UnsafeMutableRawPointer { registers! + offset }

    override public func initialize(unknownAdapter: AnyObject?, resourceList: ResourceList, port: any PortWaveRT) -> NTStatus {
        guard let bar = resourceList.findTranslatedEntry(.memory, 0),
              let va = mmMapIoSpace(bar.start, Int(bar.length), .nonCached) else { return .deviceNotReady }
        registers = va
        barLength = Int(bar.length)
        addresses64 = readRegisterUlong(register(SG.CAPS)) & 1 != 0
        keInitializeDpc(dpc, { [unowned(unsafe) self] _, _, _, _ in self.deferredProcedure() })
        switch pcNewInterruptSync(resourceList: resourceList, resourceIndex: 0, mode: .normal) {
        case .success(let sync): interrupt = sync
        case .failure(let s): return s
        }
        guard interrupt!.registerServiceRoutine({ [unowned(unsafe) self] _, _ in self.serviceInterrupt() }, context: nil, first: false).isSuccess,
              interrupt!.connect().isSuccess else { return .insufficientResources }
        return super.initialize(unknownAdapter: unknownAdapter, resourceList: resourceList, port: port)
    }

    deinit {
        interrupt?.disconnect()
        if let registers { mmUnmapIoSpace(registers, barLength) }
        channels.deinitialize(count: 2)
        channels.deallocate()
    }

    override open func makeStream(capture: Bool, format: StreamFormat, portStream: any PortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus> {
        let stream = SimpleStream(miniport: self, channel: capture ? 1 : 0, format: format, portStream: portStream)
        return .success(attach(stream))
    }

    /// Puts a stream in the table its channel's interrupts are routed by.
    public func attach(_ stream: SimpleStream) -> SimpleStream {
        channels[stream.channel].store(UInt(bitPattern: Unmanaged.passUnretained(stream).toOpaque()), ordering: .releasing)
        return stream
    }

    func forget(_ channel: Int) { channels[channel].store(0, ordering: .releasing) }

    /// The ISR: which channels interrupt; acknowledge them; defer.
    func serviceInterrupt() -> NTStatus {
        let pending = readRegisterUlong(register(SG.INTSTS))
        guard pending & 3 != 0 else { return .unsuccessful }
        for n in 0..<2 where pending & (1 << UInt32(n)) != 0 {
            let sts = register(SG.channel(n) + SG.STS)
            let causes = readRegisterUlong(sts) & (SG.IOC | SG.ERR)
            writeRegisterUlong(sts, causes)
            stream(n)?._withUnsafeGuaranteedRef { $0.noteInterrupt(causes) }
        }
        keInsertQueueDpc(dpc)
        return .success
    }

    private func stream(_ n: Int) -> Unmanaged<SimpleStream>? {
        let bits = channels[n].load(ordering: .acquiring)
        return bits == 0 ? nil : Unmanaged<SimpleStream>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)
    }

    func deferredProcedure() {
        for n in 0..<2 { stream(n)?._withUnsafeGuaranteedRef { $0.deferredProcedure() } }
    }
}

/// One stream of the `simple` miniport on channel 0 (render) or 1 (capture).
open class SimpleStream: MiniportWaveRTStreamNotification, @unchecked Sendable {
    unowned let miniport: SimpleMiniport
    let channel: Int
    let format: StreamFormat
    let portStream: any PortWaveRTStream
    let events = NotificationEventList()
    private let pending = Atomic<UInt32>(0)
    var buffer: MDL?
    var bufferBytes = 0
    var notificationCount = 0
    private var table: MDL?
    private var tableMapping: UnsafeMutableRawPointer?
    private var entries = 0
    var state = KSState.stop

    public init(miniport: SimpleMiniport, channel: Int, format: StreamFormat, portStream: any PortWaveRTStream) {
        self.miniport = miniport
        self.channel = channel
        self.format = format
        self.portStream = portStream
    }

    deinit {
        miniport.forget(channel)
        keFlushQueuedDpcs()
        miniport.streamClosed(capture: channel == 1)
    }

    func reg(_ offset: Int) -> UnsafeMutableRawPointer { miniport.register(SG.channel(channel) + offset) }

    // MARK: Buffer

    open func allocateBufferWithNotification(notificationCount: Int, requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
        guard notificationCount == 1 || notificationCount == 2 else { return .failure(.invalidParameter) }
        return allocate(requestedSize, notifications: notificationCount)
    }

    open func allocateAudioBuffer(requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
        allocate(requestedSize, notifications: 0)
    }

    /// The highest address the device's descriptors can hold (CAPS bit 0).
    open var highestAddress: PhysicalAddress { miniport.addresses64 ? .max : 0xFFFF_FFFF }

    /// Whole packets of whole frames, each a multiple of the DMA's 4-byte alignment, at least what was
    /// asked, and each at least twice the FIFO: the device fetches that far ahead of the DAC, so a
    /// smaller packet leaves a client woken at its notification nothing it could still write in time.
    func bufferSize(_ requested: Int, notifications: Int) -> Int {
        let packets = max(1, notifications)
        let unit = lcm(format.blockAlign, SG.alignment)
        // FIFOSIZE follows FORMAT while the channel is stopped.
        writeRegisterUlong(reg(SG.FORMAT), SG.format(format))
        let fifo = Int(readRegisterUlong(reg(SG.FIFOSIZE)))
        let packet = max(requested / packets, 2 * fifo)
        return (packet + unit - 1) / unit * unit * packets
    }

    open func allocate(_ requested: Int, notifications: Int) -> Result<AudioBufferAllocation, NTStatus> {
        guard buffer == nil, state == .stop, requested > 0 else { return .failure(.invalidDeviceState) }
        var size = bufferSize(requested, notifications: notifications)
        guard let mdl = portStream.allocatePagesForMdl(highAddress: highestAddress, totalBytes: size) else { return .failure(.insufficientResources) }
        if mdl.byteCount < size {
            // AllocatePagesForMdl may return less than asked: use whole packets of what we got.
            let unit = lcm(format.blockAlign, SG.alignment) * max(1, notifications)
            size = mdl.byteCount / unit * unit
            guard size > 0 else {
                portStream.freePagesFromMdl(mdl)
                return .failure(.insufficientResources)
            }
        }
        return adopt(mdl, size: size, notifications: notifications, ioc: notifications > 0)
    }

    /// Describes `mdl`'s first `size` bytes to the device and programs the channel.
    func adopt(_ mdl: MDL, size: Int, notifications: Int, ioc: Bool) -> Result<AudioBufferAllocation, NTStatus> {
        buffer = mdl
        bufferBytes = size
        notificationCount = notifications
        guard writeTable(ioc: ioc) else {
            free()
            return .failure(.insufficientResources)
        }
        program()
        return .success(AudioBufferAllocation(mdl: mdl, actualSize: size, offsetFromFirstPage: 0, cacheType: .cached))
    }

    /// One descriptor per page, cut where each packet ends (IOC there), in a contiguous table.
    func writeTable(ioc: Bool) -> Bool {
        guard let mdl = buffer else { return false }
        let packet = bufferBytes / max(1, notificationCount)
        // One entry per page the buffer spans plus one per packet cut: sized from the bytes the
        // loop describes, not from the MDL (a driver that overstates its buffer, as buggy-partial
        // does, must not write past its table as well).
        let maximum = (bufferBytes + 4095) / 4096 + max(1, notificationCount)
        guard let t = portStream.allocateContiguousPagesForMdl(lowAddress: 0, highAddress: miniport.addresses64 ? .max : 0xFFFF_FFFF,
                                                               totalBytes: maximum * SG.descriptorBytes),
              let va = portStream.mapAllocatedPages(t, cacheType: .nonCached) else { return false }
        table = t
        tableMapping = va
        var offset = 0
        entries = 0
        while offset < bufferBytes {
            let address = portStream.getPhysicalPageAddress(mdl, index: offset / 4096).rawValue + UInt64(offset % 4096)
            let packetEnd = (offset / packet + 1) * packet
            let length = min(4096 - offset % 4096, packetEnd - offset)
            let e = va + entries * SG.descriptorBytes
            e.storeBytes(of: address.littleEndian, toByteOffset: 0, as: UInt64.self)
            e.storeBytes(of: UInt32(length).littleEndian, toByteOffset: 8, as: UInt32.self)
            e.storeBytes(of: UInt32(ioc && offset + length == packetEnd ? 1 : 0).littleEndian, toByteOffset: 12, as: UInt32.self)
            offset += length
            entries += 1
        }
        return true
    }

    /// RESET, then the table's address and count and the format.
    func program() {
        writeRegisterUlong(reg(SG.CTL), SG.RESET)
        guard let table else { return }
        let address = portStream.getPhysicalPageAddress(table, index: 0).rawValue
        writeRegisterUlong(reg(SG.DESCLO), UInt32(truncatingIfNeeded: address))
        writeRegisterUlong(reg(SG.DESCHI), UInt32(truncatingIfNeeded: address >> 32))
        writeRegisterUlong(reg(SG.DESCCOUNT), UInt32(entries))
        writeRegisterUlong(reg(SG.FORMAT), SG.format(format))
    }

    open func freeBufferWithNotification(_ mdl: MDL?, size: Int) { free() }
    open func freeAudioBuffer(_ mdl: MDL?, size: Int) { free() }

    func free() {
        writeRegisterUlong(reg(SG.CTL), SG.RESET)
        if let table {
            if let tableMapping { portStream.unmapAllocatedPages(tableMapping, mdl: table) }
            portStream.freePagesFromMdl(table)
        }
        if let buffer { portStream.freePagesFromMdl(buffer) }
        table = nil
        tableMapping = nil
        buffer = nil
    }

    // MARK: State

    open func setFormat(_ dataFormat: KSDataFormat) -> NTStatus { .notSupported }

    open func setState(_ new: KSState) -> NTStatus {
        switch (state, new) {
        case (.pause, .run):
            guard buffer != nil else { return .invalidDeviceState }
            writeRegisterUlong(reg(SG.CTL), SG.RUN | SG.IE | SG.EIE)
        case (.run, .pause):
            writeRegisterUlong(reg(SG.CTL), SG.IE | SG.EIE)
        case (.acquire, .stop):
            if buffer != nil { program() }  // RESET: position 0
        default:
            break
        }
        state = new
        return .success
    }

    // MARK: Positions

    open func getPosition(_ position: inout KSAudioPosition) -> NTStatus {
        guard bufferBytes > 0 else {
            position = KSAudioPosition()
            return .success
        }
        let play = UInt64(readRegisterUlong(reg(SG.POSITION)))
        let fifo = UInt64(readRegisterUlong(reg(SG.FIFOSIZE)))
        position = KSAudioPosition(playOffset: play, writeOffset: channel == 1 ? play : (play + fifo) % UInt64(bufferBytes))
        return .success
    }

    open func getHWLatency(_ latency: inout KSRTAudioHWLatency) {
        latency = KSRTAudioHWLatency(fifoSize: readRegisterUlong(reg(SG.FIFOSIZE)))
    }

    open func getPositionRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus {
        register = KSRTAudioHWRegister(register: reg(SG.POSITION), width: 32, accuracy: UInt32(format.blockAlign))
        return .success
    }

    open func getClockRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus { .notSupported }

    // MARK: Notifications

    open func registerNotificationEvent(_ event: KEvent) -> NTStatus {
        guard notificationCount > 0 else { return .notSupported }
        return events.register(event)
    }
    open func unregisterNotificationEvent(_ event: KEvent) -> NTStatus { events.unregister(event) }

    func noteInterrupt(_ causes: UInt32) { pending.bitwiseOr(causes, ordering: .acquiringAndReleasing) }

    open func deferredProcedure() {
        if pending.exchange(0, ordering: .acquiringAndReleasing) & SG.IOC != 0 { events.signalAll() }
    }
}

func lcm(_ a: Int, _ b: Int) -> Int {
    var (x, y) = (a, b)
    while y != 0 { (x, y) = (y, x % y) }
    return a / x * b
}
