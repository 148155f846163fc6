import Glibc
import Synchronization
import WaveRTEngine
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

/// One stream of the `hda` miniport on stream descriptor `descriptor`.
///
/// - The buffer: pages from AllocatePagesForMdl below 4 GiB (anywhere when
///   GCAP.64OK), sized up to whole packets of 128-byte multiples (BDL entries
///   start 128-byte aligned), never below what the client asked for. Mapped
///   for the driver too, write-combined (to silence what follows end of stream).
/// - The BDL: one entry per page, cut where each packet ends, with IOC there
///   (no IOC at all for a timer-driven client), in a page of its own from
///   AllocateContiguousPagesForMdl; CBL = the buffer, LVI = entries − 1.
/// - SetState: RUN sets SDnCTL.RUN|IOCE and SIE; leaving RUN clears RUN and
///   waits until it reads 0 (LPIB is kept: PAUSE freezes the position); STOP
///   resets the descriptor (SRST) and programs it again, so LPIB is 0.
/// - GetPosition reads LPIB (PlayOffset) and adds the FIFO for WriteOffset;
///   GetPositionRegister hands out LPIB's alias in the page at 0x2000,
///   GetClockRegister the wall clock's (24 MHz).
/// - Packets: the DPC unwraps LPIB into a linear count; a packet is done once
///   its last byte is fetched (LPIB + FIFO), so interrupts may come late or
///   together and no packet is lost. Capture counts what the DMA has written
///   (the DMA position buffer).
open class HDAStream: MiniportWaveRTStreamNotification, MiniportWaveRTOutputStream, MiniportWaveRTInputStream, @unchecked Sendable {
    unowned let miniport: HDAMiniport
    let descriptor: Int
    let capture: Bool
    let format: StreamFormat
    let portStream: any PortWaveRTStream
    let fmt: UInt16
    let events = NotificationEventList()
    private let pending = Atomic<UInt8>(0)
    private let state = Atomic<Int32>(KSState.stop.rawValue)

    // The buffer and its BDL (set by Allocate*, cleared by Free*).
    private var buffer: MDL?
    private var bufferMapping: UnsafeMutableRawPointer?
    private(set) var bufferBytes = 0
    private var notificationCount = 0
    private var bdl: MDL?
    private var bdlMapping: UnsafeMutableRawPointer?
    private var bdlEntries = 0
    private(set) var tracker: PacketTracker?
    private(set) var fifoBytes = 0
    private var silencedUpTo: UInt64 = 0
    private var lastReadPacket: UInt64 = .max

    public required init(miniport: HDAMiniport, descriptor: Int, capture: Bool, format: StreamFormat, portStream: any PortWaveRTStream) {
        self.miniport = miniport
        self.descriptor = descriptor
        self.capture = capture
        self.format = format
        self.portStream = portStream
        fmt = HDA.format(rate: format.sampleRate, bits: format.sampleFormat.bits, channels: format.channels)!
    }

    /// Whether BDL entries that end a packet carry IOC (they must, for notifications).
    open var setsInterruptOnCompletion: Bool { true }
    /// The SDnFMT value programmed: the stream's format.
    open var formatRegister: UInt16 { fmt }

    deinit {
        miniport.setStream(nil, at: descriptor)
        keFlushQueuedDpcs()
        miniport.streamClosed(capture: capture)
    }

    func reg(_ offset: Int) -> UnsafeMutableRawPointer { miniport.register(HDA.SD0 + HDA.SDStride * descriptor + offset) }

    // MARK: Buffer

    public func allocateBufferWithNotification(notificationCount: Int, requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
        guard notificationCount == 1 || notificationCount == 2 else { return .failure(.invalidParameter) }
        return allocate(requestedSize, notifications: notificationCount)
    }

    public func allocateAudioBuffer(requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
        allocate(requestedSize, notifications: 0)
    }

    private func allocate(_ requested: Int, notifications: Int) -> Result<AudioBufferAllocation, NTStatus> {
        guard buffer == nil, KSState(rawValue: state.load(ordering: .acquiring)) == .stop, requested > 0 else {
            return .failure(.invalidDeviceState)
        }
        // Whole packets of whole frames, each a multiple of 128 bytes, at least what was asked.
        let packets = max(1, notifications)
        let unit = lcm(format.blockAlign, HDA.BufferAlignment)
        // One packet is split into two BDL entries (the controller needs at least two), so it holds two units.
        let packet = max((requested / packets + unit - 1) / unit * unit, packets == 1 ? 2 * unit : unit)
        var size = packet * packets
        let highest: PhysicalAddress = miniport.addresses64 ? .max : 0xFFFF_FFFF
        guard let mdl = portStream.allocatePagesForMdl(highAddress: highest, totalBytes: size) else { return .failure(.insufficientResources) }
        if mdl.byteCount < size {
            // A partial allocation: use whole packets of what we got (the client decides whether that is enough).
            size = mdl.byteCount / (unit * packets) * (unit * packets)
            guard size > 0 else {
                portStream.freePagesFromMdl(mdl)
                return .failure(.insufficientResources)
            }
        }
        guard let bdlMdl = portStream.allocateContiguousPagesForMdl(lowAddress: 0, highAddress: highest, totalBytes: 4096),
              let bdlVA = portStream.mapAllocatedPages(bdlMdl, cacheType: .nonCached),
              let bufferVA = portStream.mapAllocatedPages(mdl, cacheType: .writeCombined) else {
            portStream.freePagesFromMdl(mdl)
            return .failure(.insufficientResources)
        }
        buffer = mdl
        bufferMapping = bufferVA
        bufferBytes = size
        notificationCount = notifications
        bdl = bdlMdl
        bdlMapping = bdlVA
        guard writeBDL(packetBytes: size / packets, ioc: notifications > 0 && setsInterruptOnCompletion) else {
            free()
            return .failure(.insufficientResources)
        }
        let sizes = readRegisterUshort(reg(HDA.SDFIFOS))
        fifoBytes = Int(sizes) + 1
        tracker = PacketTracker(bufferBytes: size, notificationCount: packets, fetchAheadBytes: capture ? 0 : fifoBytes,
                                bytesPerSecond: format.bytesPerSecond)
        program()
        return .success(AudioBufferAllocation(mdl: mdl, actualSize: size, offsetFromFirstPage: 0, cacheType: .writeCombined))
    }

    /// One entry per page of the buffer, cut at each packet end (IOC there).
    private func writeBDL(packetBytes: Int, ioc: Bool) -> Bool {
        guard let mdl = buffer, let table = bdlMapping else { return false }
        var offset = 0
        var entries = 0
        while offset < bufferBytes {
            let page = offset / 4096
            let address = portStream.getPhysicalPageAddress(mdl, index: page).rawValue + UInt64(offset % 4096)
            let packetEnd = (offset / packetBytes + 1) * packetBytes
            let length = min(4096 - offset % 4096, packetEnd - offset)
            guard entries < HDA.BDLMaxEntries else { return false }
            let e = table + entries * HDA.BDLEntryBytes
            e.storeBytes(of: address.littleEndian, toByteOffset: 0, as: UInt64.self)
            e.storeBytes(of: UInt32(length).littleEndian, toByteOffset: 8, as: UInt32.self)
            e.storeBytes(of: UInt32(ioc && offset + length == packetEnd ? 1 : 0).littleEndian, toByteOffset: 12, as: UInt32.self)
            offset += length
            entries += 1
        }
        // The controller needs at least two entries.
        if entries == 1 {
            let length = UInt32(littleEndian: table.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
            let half = length / 2 / UInt32(HDA.BufferAlignment) * UInt32(HDA.BufferAlignment)
            guard half > 0 else { return false }
            let address = UInt64(littleEndian: table.loadUnaligned(as: UInt64.self))
            table.storeBytes(of: half.littleEndian, toByteOffset: 8, as: UInt32.self)
            let flags = table.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
            table.storeBytes(of: UInt32(0), toByteOffset: 12, as: UInt32.self)
            let second = table + HDA.BDLEntryBytes
            second.storeBytes(of: (address + UInt64(half)).littleEndian, toByteOffset: 0, as: UInt64.self)
            second.storeBytes(of: (length - half).littleEndian, toByteOffset: 8, as: UInt32.self)
            second.storeBytes(of: flags, toByteOffset: 12, as: UInt32.self)
            entries = 2
        }
        bdlEntries = entries
        return true
    }

    /// SRST handshake, then the stream's registers: tag, CBL, LVI, FMT, BDL address.
    private func program() {
        resetDescriptor()
        guard let bdl else { return }
        let ctl = reg(HDA.SDCTL)
        writeRegisterUlong(ctl, UInt32(descriptor + 1) << 20)  // stream tag n + 1 (0 is reserved)
        writeRegisterUlong(reg(HDA.SDCBL), UInt32(bufferBytes))
        writeRegisterUshort(reg(HDA.SDLVI), UInt16(bdlEntries - 1))
        writeRegisterUshort(reg(HDA.SDFMT), formatRegister)
        let address = portStream.getPhysicalPageAddress(bdl, index: 0).rawValue
        writeRegisterUlong(reg(HDA.SDBDPL), UInt32(truncatingIfNeeded: address))
        writeRegisterUlong(reg(HDA.SDBDPU), UInt32(truncatingIfNeeded: address >> 32))
    }

    /// SDnCTL.SRST: set it, wait until it reads 1, clear it, wait until it reads 0.
    private func resetDescriptor() {
        let ctl = reg(HDA.SDCTL)
        writeRegisterUchar(ctl, readRegisterUchar(ctl) & ~(HDA.RUN | HDA.IOCE | HDA.FEIE | HDA.DEIE))
        writeRegisterUchar(reg(HDA.SDSTS), HDA.BCIS | HDA.FIFOE | HDA.DESE)
        for target in [HDA.SRST, 0] {
            writeRegisterUchar(ctl, target)
            var polls = 0
            while readRegisterUchar(ctl) & HDA.SRST != target && polls < 300 {
                keStallExecutionProcessor(3)
                polls += 1
            }
        }
    }

    public func freeBufferWithNotification(_ mdl: MDL?, size: Int) { free() }
    public func freeAudioBuffer(_ mdl: MDL?, size: Int) { free() }

    private func free() {
        resetDescriptor()
        writeRegisterUlong(reg(HDA.SDBDPL), 0)
        writeRegisterUlong(reg(HDA.SDBDPU), 0)
        if let bdl {
            if let bdlMapping { portStream.unmapAllocatedPages(bdlMapping, mdl: bdl) }
            portStream.freePagesFromMdl(bdl)
        }
        if let buffer {
            if let bufferMapping { portStream.unmapAllocatedPages(bufferMapping, mdl: buffer) }
            portStream.freePagesFromMdl(buffer)
        }
        bdl = nil
        bdlMapping = nil
        buffer = nil
        bufferMapping = nil
        tracker = nil
    }

    // MARK: State

    public func setFormat(_ dataFormat: KSDataFormat) -> NTStatus { .notSupported }

    public func setState(_ new: KSState) -> NTStatus {
        let old = KSState(rawValue: state.load(ordering: .acquiring)) ?? .stop
        let ctl = reg(HDA.SDCTL)
        switch (old, new) {
        case (.pause, .run):
            guard buffer != nil else { return .invalidDeviceState }
            miniport.enableStreamInterrupt(descriptor, true)
            tracker?.setRunning(true)
            let enables: UInt8 = notificationCount > 0 ? HDA.IOCE | HDA.FEIE | HDA.DEIE : HDA.FEIE | HDA.DEIE
            writeRegisterUchar(ctl, readRegisterUchar(ctl) | HDA.RUN | enables)
        case (.run, .pause):
            writeRegisterUchar(ctl, readRegisterUchar(ctl) & ~HDA.RUN)
            // The engine stops at the end of the current frame; RUN reads 1 until then.
            var polls = 0
            while readRegisterUchar(ctl) & HDA.RUN != 0 && polls < 100 {
                keStallExecutionProcessor(10)
                polls += 1
            }
            tracker?.update(register: UInt64(readRegisterUlong(reg(HDA.SDLPIB))))
            tracker?.setRunning(false)
            miniport.enableStreamInterrupt(descriptor, false)
        case (.acquire, .stop):
            // Back to position 0: the descriptor is reset and programmed again.
            if buffer != nil { program() }
            tracker?.reset()
            silencedUpTo = 0
            lastReadPacket = .max
        default:
            break
        }
        state.store(new.rawValue, ordering: .releasing)
        return .success
    }

    // MARK: Positions

    open func getPosition(_ position: inout KSAudioPosition) -> NTStatus {
        guard bufferBytes > 0 else {
            position = KSAudioPosition()
            return .success
        }
        let lpib = UInt64(readRegisterUlong(reg(HDA.SDLPIB)))
        position.playOffset = lpib
        position.writeOffset = capture ? lpib : (lpib + UInt64(fifoBytes)) % UInt64(bufferBytes)
        return .success
    }

    public func getHWLatency(_ latency: inout KSRTAudioHWLatency) {
        latency = KSRTAudioHWLatency(fifoSize: UInt32(Int(readRegisterUshort(reg(HDA.SDFIFOS))) + 1), chipsetDelay: 0, codecDelay: 0)
    }

    public func getPositionRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus {
        register = KSRTAudioHWRegister(register: miniport.register(HDA.ALIAS + HDA.SD0 + HDA.SDStride * descriptor + HDA.SDLPIB),
                                       width: 32, numerator: 0, denominator: 0, accuracy: UInt32(format.blockAlign))
        return .success
    }

    public func getClockRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus {
        register = KSRTAudioHWRegister(register: miniport.register(HDA.ALIAS + HDA.WALCLK), width: 32,
                                       numerator: HDA.WallClockHz, denominator: 1, accuracy: 1)
        return .success
    }

    // MARK: Notifications

    public func registerNotificationEvent(_ event: KEvent) -> NTStatus {
        guard notificationCount > 0 else { return .notSupported }
        return events.register(event)
    }

    public func unregisterNotificationEvent(_ event: KEvent) -> NTStatus { events.unregister(event) }

    /// From the ISR: the causes it acknowledged.
    func noteInterrupt(_ causes: UInt8) { pending.bitwiseOr(causes, ordering: .acquiringAndReleasing) }

    /// From the DPC: bring the linear position up to date, silence what lies
    /// past end of stream, and signal the events for a completed buffer.
    func deferredProcedure() {
        let causes = pending.exchange(0, ordering: .acquiringAndReleasing)
        guard causes != 0, let tracker else { return }
        let linear = tracker.update(register: UInt64(readRegisterUlong(reg(HDA.SDLPIB))))
        if let end = tracker.endOfStreamPosition, let mapping = bufferMapping {
            silenceAfterEndOfStream(end, fetched: linear + UInt64(fifoBytes), mapping)
        }
        if causes & HDA.BCIS != 0 { events.signalAll() }
    }

    /// After end of stream the hardware keeps playing the buffer: zero each
    /// part behind the fetch position as it passes, so what follows is silence.
    private func silenceAfterEndOfStream(_ end: UInt64, fetched: UInt64, _ mapping: UnsafeMutableRawPointer) {
        let size = UInt64(bufferBytes)
        // [end, fetched + size) holds what was written before end of stream and already played.
        var from = max(silencedUpTo, end)
        let to = min(fetched + size, end + size)
        while from < to {
            let offset = Int(from % size)
            let n = Int(min(to - from, size - UInt64(offset)))
            memset(mapping + offset, 0, n)
            from += UInt64(n)
        }
        silencedUpTo = from
    }

    // MARK: Packets (IMiniportWaveRTOutputStream / IMiniportWaveRTInputStream)

    private func livePacketCount() -> UInt64 {
        guard let tracker else { return 0 }
        return tracker.packetCount(atLinear: tracker.peek(register: UInt64(readRegisterUlong(reg(HDA.SDLPIB)))))
    }

    public func getPacketCount(_ packetCount: inout UInt32) -> NTStatus {
        guard notificationCount > 0, !capture else { return .notSupported }
        packetCount = UInt32(truncatingIfNeeded: livePacketCount())
        return .success
    }

    public func setWritePacket(packetNumber: UInt32, flags: UInt32, eosPacketLength: UInt32) -> NTStatus {
        guard notificationCount > 0, !capture, let tracker else { return .notSupported }
        return tracker.setWritePacket(packetNumber, flags: flags, eosPacketLength: eosPacketLength, count: livePacketCount())
    }

    public func getOutputStreamPresentationPosition(_ position: inout KSAudioPresentationPosition) -> NTStatus {
        guard notificationCount > 0, !capture, let tracker else { return .notSupported }
        let qpc = keQueryPerformanceCounter()
        let linear = tracker.peek(register: UInt64(readRegisterUlong(reg(HDA.SDLPIB))))
        position = KSAudioPresentationPosition(positionInBlocks: linear / UInt64(format.blockAlign), qpcPosition: qpc)
        return .success
    }

    /// The next packet the DMA has written and the client has not read, with
    /// the performance counter at its first sample. Packets overwritten before
    /// being read are skipped.
    public func getReadPacket(_ packetNumber: inout UInt32, _ flags: inout UInt32, _ performanceCounterValue: inout UInt64,
                              _ moreData: inout Bool) -> NTStatus
    {
        guard notificationCount > 0, capture, let tracker else { return .notSupported }
        var frequency: UInt64 = 0
        let qpc = keQueryPerformanceCounter(&frequency)
        let link = tracker.peek(register: UInt64(readRegisterUlong(reg(HDA.SDLPIB))))
        // The DMA writes whole 128-byte bursts behind the link: what is in memory is LPIB rounded down to one
        // (at a packet's IOC, the whole packet; a bound of LPIB − 127 would report it a packet late).
        let written = link - link % UInt64(HDA.BufferAlignment)
        let completed = written / tracker.packetBytes
        var next = lastReadPacket == .max ? 0 : lastReadPacket + 1
        guard next < completed else { return .deviceNotReady }
        if completed - next > tracker.packets - 1 { next = completed - (tracker.packets - 1) }
        lastReadPacket = next
        packetNumber = UInt32(truncatingIfNeeded: next)
        flags = 0
        let bytesSinceStart = link - next * tracker.packetBytes
        let ticks = bytesSinceStart * frequency / UInt64(format.bytesPerSecond)
        performanceCounterValue = qpc >= ticks ? qpc - ticks : 0
        moreData = next + 1 < completed
        return .success
    }
}
