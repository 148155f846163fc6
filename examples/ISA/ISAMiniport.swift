import Synchronization
import WaveRTEngine
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

/// `isa`: a WaveRT miniport for a Sound Blaster 16 on the ISA bus, through
/// port I/O only: the DSP at its base port (resource port 0), the 8237's
/// second controller and page registers, IRQ 5 and DMA channel 5 (16-bit).
///
/// - Init resets the DSP (write 1 then 0 to base+6, wait for 0xAA at base+0xA)
///   and checks its version (0xE1: 4.xx), then connects the ISR.
/// - The buffer must be physically contiguous below 16 MiB inside one 128 KiB
///   page (the 8237's 16-bit channels cannot carry into the page register):
///   AllocateContiguousPagesForMdl window by window from the top; on
///   fragmented memory it halves the size and says so, down to 4 KiB.
/// - The 8237 channel runs auto-initialise over the whole buffer; the DSP
///   (0xB6: 16-bit, auto-initialise) raises IRQ 5 at the end of each block of
///   one packet; the ISR reads mixer register 0x82 and acknowledges the
///   16-bit IRQ by reading base+0xF.
/// - GetPosition reads the 8237's current count through the flip-flop. There
///   is no memory-mapped position register (STATUS_NOT_SUPPORTED): clients use
///   KSPROPERTY_AUDIO_POSITION.
/// - 16-bit PCM, mono or stereo, 5000–44100 Hz: what the DSP plays.
public final class ISAMiniport: ExampleMiniportDriver, @unchecked Sendable {
    var base: UInt16 = 0x220
    var interrupt: InterruptSync?
    let dpc = KDpc()
    private let active = Atomic<UInt>(0)  // the running stream (unretained), for the DPC
    /// The 8237's byte-pointer flip-flop is one per controller: each sequence that
    /// clears it and reads or writes a 16-bit register in two bytes holds this.
    let flipFlop = KSpinLock()

    override public init() {
        super.init()
        keInitializeSpinLock(flipFlop)
    }

    static let smallestBuffer = 4096
    static let window = 128 * 1024
    static let highestAddress: UInt64 = 0xFF_FFFF

    override public var renderRanges: [KSDataRangeAudio] {
        [KSDataRangeAudio(maximumChannels: 2, bitsPerSample: 16...16, sampleFrequency: 5_000...44_100)]
    }
    override public var captureRanges: [KSDataRangeAudio] { renderRanges }

    override public var deviceDescription: DeviceDescription {
        var d = DeviceDescription()
        d.master = false
        d.interfaceType = 1  // Isa
        d.maximumLength = UInt32(Self.window)
        return d
    }

    func port(_ offset: UInt16) -> UnsafeRawPointer? { portAddress(base + offset) }

    /// Writes a byte to the DSP once its write buffer is ready (base+0xC bit 7 clear).
    func dspWrite(_ value: UInt8) {
        var polls = 0
        while readPortUchar(port(0xC)) & 0x80 != 0 && polls < 1000 {
            keStallExecutionProcessor(1)
            polls += 1
        }
        writePortUchar(port(0xC), value)
    }

    /// Reads a byte from the DSP once one is ready (base+0xE bit 7 set); nil after 100 µs.
    func dspRead() -> UInt8? {
        var polls = 0
        while readPortUchar(port(0xE)) & 0x80 == 0 {
            guard polls < 100 else { return nil }
            keStallExecutionProcessor(1)
            polls += 1
        }
        return readPortUchar(port(0xA))
    }

    override public func initialize(unknownAdapter: AnyObject?, resourceList: ResourceList, port: any PortWaveRT) -> NTStatus {
        guard let dsp = resourceList.findTranslatedEntry(.port, 0) else { return .deviceNotReady }
        base = UInt16(dsp.start.rawValue)
        // DSP reset: 1, at least 3 µs, 0, then 0xAA.
        writePortUchar(self.port(0x6), 1)
        keStallExecutionProcessor(3)
        writePortUchar(self.port(0x6), 0)
        guard dspRead() == 0xAA else { return .deviceNotReady }
        dspWrite(0xE1)
        guard let major = dspRead(), dspRead() != nil, major >= 4 else { return .deviceNotReady }  // DSP 4.xx: an SB16
        keInitializeDpc(dpc, { [unowned(unsafe) self] _, _, _, _ in self.deferredProcedure() })
        switch pcNewInterruptSync(resourceList: resourceList, resourceIndex: 0, mode: .normal) {
        case .success(let sync): interrupt = sync
        case .failure(let s): return s
        }
        guard interrupt!.registerServiceRoutine({ [unowned(unsafe) self] _, _ in self.serviceInterrupt() }, context: nil, first: false).isSuccess,
              interrupt!.connect().isSuccess else { return .insufficientResources }
        return super.initialize(unknownAdapter: unknownAdapter, resourceList: resourceList, port: port)
    }

    deinit { interrupt?.disconnect() }

    override public func makeStream(capture: Bool, format: StreamFormat, portStream: any PortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus> {
        .success(ISAStream(miniport: self, capture: capture, format: format, portStream: portStream))
    }

    func setActive(_ stream: ISAStream?) {
        active.store(stream.map { UInt(bitPattern: Unmanaged.passUnretained($0).toOpaque()) } ?? 0, ordering: .releasing)
    }

    /// The ISR: is it the 16-bit DMA interrupt? Acknowledge it and defer the work.
    func serviceInterrupt() -> NTStatus {
        writePortUchar(port(0x4), 0x82)
        let status = readPortUchar(port(0x5))
        guard status & 0x2 != 0 else { return .unsuccessful }
        _ = readPortUchar(port(0xF))  // acknowledges the 16-bit IRQ: the line drops
        keInsertQueueDpc(dpc)
        return .success
    }

    func deferredProcedure() {
        let bits = active.load(ordering: .acquiring)
        guard bits != 0 else { return }
        Unmanaged<ISAStream>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)._withUnsafeGuaranteedRef { $0.blockDone() }
    }
}

/// One stream of the `isa` miniport.
public final class ISAStream: MiniportWaveRTStreamNotification, @unchecked Sendable {
    unowned let miniport: ISAMiniport
    let capture: Bool
    let format: StreamFormat
    let portStream: any PortWaveRTStream
    let events = NotificationEventList()
    private var buffer: MDL?
    private var bufferBytes = 0
    private var notificationCount = 0
    private var started = false
    private var state = KSState.stop

    init(miniport: ISAMiniport, capture: Bool, format: StreamFormat, portStream: any PortWaveRTStream) {
        self.miniport = miniport
        self.capture = capture
        self.format = format
        self.portStream = portStream
    }

    deinit {
        miniport.setActive(nil)
        keFlushQueuedDpcs()
        miniport.streamClosed(capture: capture)
    }

    // MARK: Buffer

    public func allocateBufferWithNotification(notificationCount: Int, requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
        guard notificationCount == 1 || notificationCount == 2 else { return .failure(.invalidParameter) }
        return allocate(requestedSize, notifications: notificationCount)
    }

    public func allocateAudioBuffer(requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
        allocate(requestedSize, notifications: 0)
    }

    private func allocate(_ requested: Int, notifications: Int) -> Result<AudioBufferAllocation, NTStatus> {
        guard buffer == nil, state == .stop else { return .failure(.invalidDeviceState) }
        let unit = format.blockAlign * max(1, notifications)
        let wanted = max(ISAMiniport.smallestBuffer, (requested + unit - 1) / unit * unit)
        guard wanted <= ISAMiniport.window else { return .failure(.invalidParameter) }
        var size = wanted
        while size >= ISAMiniport.smallestBuffer {
            if let mdl = allocateInsideOneWindow(size) {
                if size < wanted {
                    dbgPrint("isa: no \(wanted) contiguous bytes below 16 MiB inside one 128 KiB page; using \(size)")
                }
                buffer = mdl
                bufferBytes = size / unit * unit
                notificationCount = notifications
                programDMA()
                return .success(AudioBufferAllocation(mdl: mdl, actualSize: bufferBytes, offsetFromFirstPage: 0, cacheType: .nonCached))
            }
            size /= 2
        }
        dbgPrint("isa: not even \(ISAMiniport.smallestBuffer) contiguous bytes below 16 MiB inside one 128 KiB page")
        return .failure(.insufficientResources)
    }

    /// Each 128 KiB-aligned window below 16 MiB, highest first: a buffer inside one cannot cross the page.
    private func allocateInsideOneWindow(_ size: Int) -> MDL? {
        var low = ISAMiniport.highestAddress + 1 - UInt64(ISAMiniport.window)
        while true {
            if let mdl = portStream.allocateContiguousPagesForMdl(lowAddress: PhysicalAddress(low),
                                                                  highAddress: PhysicalAddress(low + UInt64(ISAMiniport.window) - 1),
                                                                  totalBytes: size) { return mdl }
            if low == 0 { return nil }
            low -= UInt64(ISAMiniport.window)
        }
    }

    /// Channel 5: masked, flip-flop cleared, mode, page, word address and word count, unmasked.
    private func programDMA() {
        guard let buffer else { return }
        let physical = portStream.getPhysicalPageAddress(buffer, index: 0).rawValue
        let words = bufferBytes / 2 - 1
        let irql = keAcquireSpinLock(miniport.flipFlop)
        defer { keReleaseSpinLock(miniport.flipFlop, irql) }
        writePortUchar(portAddress(0xD4), 0x04 | 1)               // mask channel 5
        writePortUchar(portAddress(0xD8), 0)                       // clear the flip-flop
        writePortUchar(portAddress(0xD6), (capture ? 0x54 : 0x58) | 1)  // single, auto-initialise, write/read, channel 5
        writePortUchar(portAddress(0x8B), UInt8(truncatingIfNeeded: physical >> 16) & 0xFE)
        writePortUchar(portAddress(0xC4), UInt8(truncatingIfNeeded: physical >> 1))
        writePortUchar(portAddress(0xC4), UInt8(truncatingIfNeeded: physical >> 9))
        writePortUchar(portAddress(0xC6), UInt8(truncatingIfNeeded: words))
        writePortUchar(portAddress(0xC6), UInt8(truncatingIfNeeded: words >> 8))
        writePortUchar(portAddress(0xD4), 1)                       // unmask channel 5
    }

    public func freeBufferWithNotification(_ mdl: MDL?, size: Int) { free() }
    public func freeAudioBuffer(_ mdl: MDL?, size: Int) { free() }

    private func free() {
        writePortUchar(portAddress(0xD4), 0x04 | 1)  // mask the channel before the pages go
        if let buffer { portStream.freePagesFromMdl(buffer) }
        buffer = nil
    }

    // MARK: State

    public func setFormat(_ dataFormat: KSDataFormat) -> NTStatus { .notSupported }

    public func setState(_ new: KSState) -> NTStatus {
        switch (state, new) {
        case (.pause, .run):
            guard buffer != nil else { return .invalidDeviceState }
            miniport.setActive(self)
            if started {
                miniport.dspWrite(0xD6)  // continue 16-bit DMA
            } else {
                let rate = UInt16(format.sampleRate)
                miniport.dspWrite(capture ? 0x42 : 0x41)
                miniport.dspWrite(UInt8(rate >> 8))
                miniport.dspWrite(UInt8(rate & 0xFF))
                // One IRQ per packet: the DSP block is one packet (samples of every channel, minus 1).
                let block = (bufferBytes / max(1, notificationCount)) / 2 - 1
                miniport.dspWrite(capture ? 0xBE : 0xB6)
                miniport.dspWrite(format.channels == 2 ? 0x30 : 0x10)  // signed, stereo or mono
                miniport.dspWrite(UInt8(block & 0xFF))
                miniport.dspWrite(UInt8(block >> 8))
                started = true
            }
        case (.run, .pause):
            miniport.dspWrite(0xD5)  // pause 16-bit DMA
        case (.acquire, .stop):
            if started {
                miniport.dspWrite(0xD5)
                miniport.dspWrite(0xD9)  // leave auto-initialise
                started = false
            }
            miniport.setActive(nil)
            if buffer != nil { programDMA() }  // the channel starts again from the buffer's start
        default:
            break
        }
        state = new
        return .success
    }

    /// The 8237's current count, through the flip-flop: words left before terminal count.
    public func getPosition(_ position: inout KSAudioPosition) -> NTStatus {
        guard bufferBytes > 0 else {
            position = KSAudioPosition()
            return .success
        }
        // GetPosition may run on several threads at once (PASSIVE or DISPATCH_LEVEL): the flip-flop is shared.
        let irql = keAcquireSpinLock(miniport.flipFlop)
        writePortUchar(portAddress(0xD8), 0)
        let low = UInt16(readPortUchar(portAddress(0xC6)))
        let high = UInt16(readPortUchar(portAddress(0xC6)))
        keReleaseSpinLock(miniport.flipFlop, irql)
        // Words left before terminal count (0xFFFF + 1 wraps to 0: at terminal count, the buffer's start).
        let remaining = min((Int(high << 8 | low) + 1) & 0xFFFF, bufferBytes / 2)
        let offset = UInt64((bufferBytes - remaining * 2) % bufferBytes)
        position = KSAudioPosition(playOffset: offset, writeOffset: offset)
        return .success
    }

    public func getHWLatency(_ latency: inout KSRTAudioHWLatency) { latency = KSRTAudioHWLatency(fifoSize: 2) }
    public func getPositionRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus { .notSupported }
    public func getClockRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus { .notSupported }

    // MARK: Notifications

    public func registerNotificationEvent(_ event: KEvent) -> NTStatus {
        guard notificationCount > 0 else { return .notSupported }
        return events.register(event)
    }
    public func unregisterNotificationEvent(_ event: KEvent) -> NTStatus { events.unregister(event) }

    /// A DSP block (one packet) ended.
    func blockDone() { events.signalAll() }
}
