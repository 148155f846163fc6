import Synchronization
import WaveRTEngine
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

/// `sysvad`: the stream logic of Microsoft's SYSVAD sample
/// (`audio/sysvad/EndpointsCommon/minwavertstream.cpp`) transliterated, line
/// by line where it matters: it has no hardware position, so it reports the
/// position and signals notifications from a 1 ms high-resolution EX_TIMER
/// with integer-millisecond arithmetic. The data itself flows through the
/// generic scatter-gather device (programmed as `simple` does, without
/// interrupts), so it is audible.
///
/// Its known flaws are SYSVAD's, on purpose, for the timing suite to catch:
/// - the position moves in 1 ms steps (48 frames at 48 kHz);
/// - the notification interval is the buffer's duration in whole ms divided,
///   again in whole ms, by NotificationCount: 256 frames at 48 kHz with 2
///   notifications is 5.33 ms → 5 → 2 ms instead of 2.67 ms, so events and
///   the packet counter run 33 % fast;
/// - the buffer is rounded *down* to whole frames (it may be smaller than asked),
///   and it maps the buffer for itself (MapAllocatedPages, MmCached).
/// The render pin takes what SYSVAD's speaker takes: 2 channels, 16 bits,
/// 24–96 kHz.
public final class SysvadMiniport: SimpleMiniport, @unchecked Sendable {
    override public var renderRanges: [KSDataRangeAudio] {
        [KSDataRangeAudio(maximumChannels: 2, bitsPerSample: 16...16, sampleFrequency: 24_000...96_000)]
    }
    override public var captureRanges: [KSDataRangeAudio] { [] }

    override public func isFormatSupported(pin: Int, _ format: KSDataFormat) -> Bool {
        super.isFormatSupported(pin: pin, format) && format.waveFormat.channels == 2
    }

    override public func makeStream(capture: Bool, format: StreamFormat, portStream: any PortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus> {
        let stream = SysvadStream(miniport: self, channel: 0, format: format, portStream: portStream)
        guard stream.timer != nil else { return .failure(.insufficientResources) }
        return .success(attach(stream))
    }
}

/// SYSVAD's CMiniportWaveRTStream (render).
public final class SysvadStream: SimpleStream, MiniportWaveRTOutputStream, @unchecked Sendable {
    private static let hnsPerMillisecond: UInt64 = 10_000
    let lock = KSpinLock()
    private(set) var timer: ExTimer?
    private var notificationList: [KEvent] = []
    private var notificationIntervalMs: UInt32 = 0
    private var dmaBufferSize: UInt32 = 0
    private var dmaBuffer: UnsafeMutableRawPointer?
    private var dmaMovementRate: UInt32
    private var playPosition: UInt64 = 0
    private var writePosition: UInt64 = 0
    private var linearPosition: UInt64 = 0
    private var presentationPosition: UInt64 = 0
    private var packetCounter: Int64 = 0
    private var dmaTimeStamp: UInt64 = 0
    private var lastDPCTimeStamp: UInt64 = 0
    private var hnsElapsedTimeCarryForward: UInt64 = 0
    private var hnsDPCTimeCarryForward: UInt64 = 0
    private var byteDisplacementCarryForward: UInt32 = 0
    private var performanceFrequency: UInt64 = 0
    private var currentWritePosition: UInt32 = 0
    private var lastOsWritePacket: UInt32 = .max
    private var eosReceived = false
    private var lastBufferRendered = false
    private var ksState = KSState.stop

    override public init(miniport: SimpleMiniport, channel: Int, format: StreamFormat, portStream: any PortWaveRTStream) {
        dmaMovementRate = UInt32(format.bytesPerSecond)
        super.init(miniport: miniport, channel: channel, format: format, portStream: portStream)
        keInitializeSpinLock(lock)
        timer = exAllocateTimer({ [unowned(unsafe) self] _, _ in self.timerNotifyRT() }, nil, attributes: EX_TIMER_HIGH_RESOLUTION)
    }

    deinit {
        if let timer { exDeleteTimer(timer, cancel: true, wait: true) }
        keFlushQueuedDpcs()
    }

    /// KSCONVERT_PERFORMANCE_TIME: ticks to 100-ns units, floor(T × 10⁷ / F).
    private func hns(_ qpc: UInt64) -> UInt64 {
        max(1, performanceFrequency).dividingFullWidth(qpc.multipliedFullWidth(by: 10_000_000)).quotient
    }

    // MARK: Buffers (cpp:528-605, 785-840)

    override public func allocateBufferWithNotification(notificationCount: Int, requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
        var requested = requestedSize
        guard requested != 0, requested >= format.blockAlign else { return .failure(.unsuccessful) }
        guard notificationCount != 0, requested % notificationCount == 0 else { return .failure(.invalidParameter) }
        requested -= requested % format.blockAlign
        guard let mdl = portStream.allocatePagesForMdl(highAddress: 0xFFFF_FFFF, totalBytes: requested) else { return .failure(.unsuccessful) }
        dmaBuffer = portStream.mapAllocatedPages(mdl, cacheType: .cached)
        dmaBufferSize = UInt32(requested)
        let bufferDurationMs = UInt32(truncatingIfNeeded: requested &* 1000) / dmaMovementRate
        notificationIntervalMs = bufferDurationMs / UInt32(notificationCount)
        return adopt(mdl, size: requested, notifications: notificationCount, ioc: false)
            .map { AudioBufferAllocation(mdl: $0.mdl, actualSize: $0.actualSize, offsetFromFirstPage: 0, cacheType: .cached) }
    }

    override public func allocateAudioBuffer(requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
        var requested = requestedSize
        guard requested != 0, requested >= format.blockAlign else { return .failure(.unsuccessful) }
        requested -= requested % format.blockAlign
        guard let mdl = portStream.allocatePagesForMdl(highAddress: 0xFFFF_FFFF, totalBytes: requested) else { return .failure(.unsuccessful) }
        dmaBuffer = portStream.mapAllocatedPages(mdl, cacheType: .cached)
        dmaBufferSize = UInt32(requested)
        return adopt(mdl, size: requested, notifications: 0, ioc: false)
            .map { AudioBufferAllocation(mdl: $0.mdl, actualSize: $0.actualSize, offsetFromFirstPage: 0, cacheType: .cached) }
    }

    override public func freeBufferWithNotification(_ mdl: MDL?, size: Int) { release() }
    override public func freeAudioBuffer(_ mdl: MDL?, size: Int) { release() }

    private func release() {
        if let mdl = buffer, let dmaBuffer { portStream.unmapAllocatedPages(dmaBuffer, mdl: mdl) }
        dmaBuffer = nil
        dmaBufferSize = 0
        free()
        notificationCount = 0
    }

    override public func getHWLatency(_ latency: inout KSRTAudioHWLatency) { latency = KSRTAudioHWLatency() }
    override public func getPositionRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus { .notImplemented }
    override public func getClockRegister(_ register: inout KSRTAudioHWRegister) -> NTStatus { .notImplemented }

    // MARK: SetState (cpp:1148-1372)

    override public func setState(_ new: KSState) -> NTStatus {
        _ = super.setState(new)  // the device: RUN, stop, reset
        switch new {
        case .stop:
            let irql = keAcquireSpinLock(lock)
            packetCounter = 0
            playPosition = 0
            writePosition = 0
            linearPosition = 0
            presentationPosition = 0
            currentWritePosition = 0
            lastOsWritePacket = .max
            eosReceived = false
            lastBufferRendered = false
            keReleaseSpinLock(lock, irql)
        case .pause:
            if ksState > .pause {
                if notificationIntervalMs > 0, let timer {
                    exCancelTimer(timer)
                    keFlushQueuedDpcs()
                    let now = hns(keQueryPerformanceCounter(&performanceFrequency))
                    if lastDPCTimeStamp > 0 { hnsDPCTimeCarryForward = now &- lastDPCTimeStamp &+ hnsDPCTimeCarryForward }
                }
                let irql = keAcquireSpinLock(lock)
                updatePosition(keQueryPerformanceCounter())
                keReleaseSpinLock(lock, irql)
            }
        case .run:
            let now = hns(keQueryPerformanceCounter(&performanceFrequency))
            lastDPCTimeStamp = now
            dmaTimeStamp = now
            if notificationIntervalMs > 0, let timer {
                exSetTimer(timer, dueTime: -Int64(Self.hnsPerMillisecond), period: Int64(Self.hnsPerMillisecond))
            }
        case .acquire:
            break
        }
        ksState = new
        return .success
    }

    // MARK: UpdatePosition (cpp:1397-1493): under the lock

    private func updatePosition(_ qpc: UInt64) {
        let now = hns(qpc)
        let elapsed = now &- dmaTimeStamp &+ hnsElapsedTimeCarryForward
        let ms = UInt32(truncatingIfNeeded: elapsed) / 10_000
        hnsElapsedTimeCarryForward = elapsed % 10_000
        let product = dmaMovementRate &* ms &+ byteDisplacementCarryForward
        var displacement = product / 1000
        byteDisplacementCarryForward = product % 1000
        presentationPosition &+= UInt64(displacement)
        let size = UInt64(max(1, dmaBufferSize))
        if eosReceived {
            if writePosition <= UInt64(currentWritePosition) {
                displacement = min(displacement, currentWritePosition &- UInt32(writePosition))
            } else if (writePosition + UInt64(displacement)) % size < writePosition,
                      (writePosition + UInt64(displacement)) % size > UInt64(currentWritePosition) {
                displacement &-= UInt32((writePosition + UInt64(displacement)) % size) &- currentWritePosition
            }
        }
        if eosReceived && !lastBufferRendered && (writePosition + UInt64(displacement)) % size == UInt64(currentWritePosition) {
            lastBufferRendered = true
        }
        writePosition = (writePosition + UInt64(displacement)) % size
        playPosition = writePosition
        linearPosition &+= UInt64(displacement)
        dmaTimeStamp = now
    }

    // MARK: TimerNotifyRT (cpp:1729-1854): every ~1 ms at DISPATCH_LEVEL while running

    private func timerNotifyRT() {
        keAcquireSpinLockAtDpcLevel(lock)
        defer { keReleaseSpinLockFromDpcLevel(lock) }
        let qpc = keQueryPerformanceCounter(&performanceFrequency)
        let now = hns(qpc)
        var bufferCompleted = false
        let ms = UInt32(truncatingIfNeeded: now &- lastDPCTimeStamp &+ hnsDPCTimeCarryForward) / 10_000
        if ms >= notificationIntervalMs {
            hnsDPCTimeCarryForward = now &- lastDPCTimeStamp &+ hnsDPCTimeCarryForward &- UInt64(notificationIntervalMs) * 10_000
            lastDPCTimeStamp = now
            bufferCompleted = true
        }
        guard bufferCompleted || eosReceived else { return }
        updatePosition(qpc)
        if !eosReceived { packetCounter += 1 }
        guard ksState == .run else { return }
        if !notificationList.isEmpty && (bufferCompleted || lastBufferRendered) {
            for event in notificationList { keSetEvent(event) }
        }
        if lastBufferRendered, let timer { exCancelTimer(timer) }
    }

    // MARK: Positions and events

    override public func getPosition(_ position: inout KSAudioPosition) -> NTStatus {
        let irql = keAcquireSpinLock(lock)
        if ksState == .run { updatePosition(keQueryPerformanceCounter()) }
        position = KSAudioPosition(playOffset: playPosition, writeOffset: writePosition)
        keReleaseSpinLock(lock, irql)
        return .success
    }

    override public func registerNotificationEvent(_ event: KEvent) -> NTStatus {
        if notificationList.contains(where: { $0 === event }) { return .unsuccessful }
        notificationList.append(event)
        return .success
    }

    override public func unregisterNotificationEvent(_ event: KEvent) -> NTStatus {
        guard let i = notificationList.firstIndex(where: { $0 === event }) else { return .notFound }
        notificationList.remove(at: i)
        return .success
    }

    // MARK: Packets (cpp:1005-1145)

    public func getPacketCount(_ packetCount: inout UInt32) -> NTStatus {
        guard notificationCount != 0 else { return .notSupported }
        let irql = keAcquireSpinLock(lock)
        if ksState == .run { updatePosition(keQueryPerformanceCounter()) }
        packetCount = UInt32(truncatingIfNeeded: packetCounter)
        keReleaseSpinLock(lock, irql)
        return .success
    }

    public func setWritePacket(packetNumber: UInt32, flags: UInt32, eosPacketLength: UInt32) -> NTStatus {
        guard notificationCount != 0 else { return .notSupported }
        let old = lastOsWritePacket
        guard !eosReceived else { return .invalidDeviceState }
        let irql = keAcquireSpinLock(lock)
        let current = packetCounter
        keReleaseSpinLock(lock, irql)
        // If not running, the current packet has not started transferring: the OS writes that one.
        let expected = UInt32(truncatingIfNeeded: current) &+ (ksState == .run ? 1 : 0)
        let delta = Int32(bitPattern: packetNumber &- expected)
        if delta < 0 { return .dataLateError }
        if delta > 0 { return .dataOverrun }
        let packetSize = dmaBufferSize / UInt32(notificationCount)
        var wp = (packetNumber % UInt32(notificationCount)) * packetSize
        var status = NTStatus.success
        if flags & KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM != 0 {
            if eosPacketLength > packetSize { return .invalidParameter }
            lastOsWritePacket = packetNumber
            wp += eosPacketLength
            status = setCurrentWritePosition(wp)
            if status.isSuccess { eosReceived = true }
        } else {
            lastOsWritePacket = packetNumber
            status = setCurrentWritePosition(wp)
        }
        if !status.isSuccess { lastOsWritePacket = old }
        return status
    }

    private func setCurrentWritePosition(_ wp: UInt32) -> NTStatus {
        guard !eosReceived, wp <= dmaBufferSize else { return .invalidDeviceRequest }
        currentWritePosition = wp
        return .success
    }

    public func getOutputStreamPresentationPosition(_ position: inout KSAudioPresentationPosition) -> NTStatus {
        guard notificationCount != 0 else { return .notSupported }
        let irql = keAcquireSpinLock(lock)
        let qpc = keQueryPerformanceCounter()
        if ksState == .run { updatePosition(qpc) }
        position = KSAudioPresentationPosition(positionInBlocks: presentationPosition * UInt64(format.sampleRate) / UInt64(dmaMovementRate),
                                               qpcPosition: qpc)
        keReleaseSpinLock(lock, irql)
        return .success
    }
}
