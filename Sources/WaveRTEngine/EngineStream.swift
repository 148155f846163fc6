import Glibc
import Histogram
import Synchronization
import WaveRTDMA

/// One running WaveRT stream as the buffer engine sees it: a cyclic buffer
/// consumed by a programmed ``DMAController`` at exactly the sample rate.
///
/// The position is pure arithmetic on the timebase: frames elapsed in RUN =
/// accumulated + floor((now - runStart) × rate / 10⁹), exact and overflow-free
/// (``PositionMath``). Everything the stream reports derives from it:
/// - the **position register** (``readPositionRegister()``): frames × block align,
///   modulo the buffer, at the controller's burst granularity; lock-free, any thread;
/// - the **position word** (``positionRegister``): the same value, stored at every
///   engine wake-up, for clients that read a raw pointer;
/// - ``getPosition()``: PlayOffset (at the DAC: minus codec delay) and WriteOffset
///   (the DMA fetch position, at most one FIFO ahead of the register).
///
/// The engine thread moves the DMA up to register + FIFO at each wake-up, hands
/// the bytes to the sink, fires notifications at their exact deadlines, and
/// watches for glitches against what the client reported writing.
///
/// Threads: control calls (``setState(_:)``, registration, ``setWritePacket(packetNumber:flags:eosPacketLength:)``,
/// ``clientDidWrite(upTo:)``) may come from any thread and are serialised by a
/// control lock that the engine thread never takes. Position reads are lock-free.
public final class EngineStream: @unchecked Sendable {
    public enum Direction: Sendable, Hashable { case render, capture }

    public struct Configuration: Sendable {
        public var name: String
        public var format: StreamFormat
        public var direction: Direction
        /// Notifications per buffer cycle: 0 (none), 1 (end) or 2 (midpoint and end).
        public var notificationCount: Int
        /// `KSRTAUDIO_HWLATENCY.ChipsetDelay` and `CodecDelay`, in 100-ns units.
        public var chipsetDelay: UInt32
        public var codecDelay: UInt32
        /// `KSRTAUDIO_HWREGISTER.Width` of the position word: 32 or 64.
        public var positionRegisterWidth: Int
        /// Frames between DMA services (default: one packet when there are
        /// notifications, so the engine wakes only for them; a quarter of the
        /// buffer otherwise; at least the FIFO).
        public var serviceFrames: Int?

        public init(name: String = "stream", format: StreamFormat, direction: Direction = .render,
                    notificationCount: Int = 2, chipsetDelay: UInt32 = 0, codecDelay: UInt32 = 0,
                    positionRegisterWidth: Int = 32, serviceFrames: Int? = nil)
        {
            self.name = name
            self.format = format
            self.direction = direction
            self.notificationCount = notificationCount
            self.chipsetDelay = chipsetDelay
            self.codecDelay = codecDelay
            self.positionRegisterWidth = positionRegisterWidth
            self.serviceFrames = serviceFrames
        }
    }

    public let configuration: Configuration
    public let format: StreamFormat
    public let dma: DMAController
    public let timebase: any Timebase
    public let sink: (any AudioSink)?
    public let source: (any AudioSource)?

    /// Bytes and frames in one buffer cycle.
    public let bufferBytes: Int
    public let bufferFrames: Int
    public let fifoBytes: Int
    public let burstBytes: Int
    /// Bytes per packet (IMiniportWaveRTOutputStream): buffer / NotificationCount.
    public var packetBytes: Int { configuration.notificationCount > 0 ? bufferBytes / configuration.notificationCount : bufferBytes }
    let rate: UInt64
    let blockAlign: UInt64
    let serviceFrames: UInt64
    let codecDelayFrames: UInt64

    // Shared state.
    let runClock = RunClock()
    private let control = Mutex(())
    private let clientPosition = Atomic<UInt64>(0)     // linear bytes written (render) or read (capture)
    private let eosPosition = Atomic<UInt64>(.max)     // linear byte where the data ends (packet EOS)
    private let dmaPosition = Atomic<UInt64>(0)        // linear bytes the DMA has moved since STOP
    private let notifications = Atomic<UInt64>(0)
    private let glitchTotal = Atomic<UInt64>(0)
    private let glitchFrameTotal = Atomic<UInt64>(0)
    private let positionWord: UnsafeMutablePointer<Atomic<UInt64>>
    private let eventSlots: UnsafeMutablePointer<Atomic<UInt>>
    static let maxEvents = 8
    private var retiredEvents: [NotificationEvent] = []  // kept alive until deinit (the engine may still hold one)
    weak var engine: AudioEngine?

    let glitchRing = SPSCRing<Glitch>(capacity: 4096)
    // The glitch in progress, published for readers on other threads.
    private let openGlitchFlag = Atomic<Bool>(false)
    private let openGlitchKind = Atomic<UInt8>(0)
    private let openGlitchTime = Atomic<UInt64>(0)
    private let openGlitchPosition = Atomic<UInt64>(0)
    private let openGlitchFrames = Atomic<UInt64>(0)
    let latencyRing = SPSCRing<UInt64>(capacity: 1 << 16)
    private let slow = Mutex(SlowState())
    private struct SlowState {
        var glitches: [Glitch] = []
        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    }

    // Engine-thread state.
    private struct RealTime {
        var generation: UInt64 = 0
        var dmaLinear: UInt64 = 0
        var nextNotification: UInt64 = 1
        var sequence: UInt64 = 0
        var nextServiceFrame: UInt64 = 0
        var running = false
        var openGlitch: Glitch?
        var openGlitchEnd: UInt64 = 0
    }
    // Behind a pointer: the engine thread owns it, and pointer access skips the
    // dynamic exclusivity checks a class property would pay on every pass.
    private let rtStorage: UnsafeMutablePointer<RealTime>
    private var rt: RealTime {
        @inline(__always) _read { yield rtStorage.pointee }
        @inline(__always) _modify { yield &rtStorage.pointee }
    }
    private let scratch: UnsafeMutableRawPointer
    private let scratchBytes: Int

    public init(configuration: Configuration, dma: DMAController, timebase: any Timebase,
                sink: (any AudioSink)? = nil, source: (any AudioSource)? = nil) throws(EngineError)
    {
        let format = configuration.format
        let cycle = dma.cycleLength
        guard cycle > 0 else { throw .dmaNotProgrammed(stream: configuration.name) }
        guard cycle % format.blockAlign == 0 else {
            throw .bufferNotFrameAligned(stream: configuration.name, bytes: cycle, blockAlign: format.blockAlign)
        }
        guard (0...2).contains(configuration.notificationCount) else {
            throw .notificationCount(stream: configuration.name, count: configuration.notificationCount)
        }
        let frames = cycle / format.blockAlign
        guard configuration.notificationCount == 0 || frames % configuration.notificationCount == 0 else {
            throw .packetNotFrameAligned(stream: configuration.name, bufferFrames: frames, count: configuration.notificationCount)
        }
        guard configuration.positionRegisterWidth == 32 || configuration.positionRegisterWidth == 64 else {
            throw .registerWidth(stream: configuration.name, width: configuration.positionRegisterWidth)
        }
        self.configuration = configuration
        self.format = format
        self.dma = dma
        self.timebase = timebase
        self.sink = sink
        self.source = source
        bufferBytes = cycle
        bufferFrames = frames
        burstBytes = dma.profile.burstBytes
        fifoBytes = dma.profile.fifoFrames * format.blockAlign
        rate = UInt64(format.sampleRate)
        blockAlign = UInt64(format.blockAlign)
        let fifoFrames = dma.profile.fifoFrames
        let defaultService = configuration.notificationCount > 0 ? frames / configuration.notificationCount : frames / 4
        serviceFrames = UInt64(max(1, configuration.serviceFrames ?? max(fifoFrames, defaultService)))
        codecDelayFrames = PositionMath.frames(inNanoseconds: UInt64(configuration.codecDelay) * 100, rate: UInt64(format.sampleRate))
        scratchBytes = max(16 * 1024, (Int(serviceFrames) + fifoFrames) * format.blockAlign + dma.profile.burstBytes)
        scratch = .allocate(byteCount: scratchBytes, alignment: 64)
        positionWord = .allocate(capacity: 1)
        positionWord.initialize(to: Atomic(0))
        rtStorage = .allocate(capacity: 1)
        rtStorage.initialize(to: RealTime())
        eventSlots = .allocate(capacity: Self.maxEvents)
        for i in 0..<Self.maxEvents { (eventSlots + i).initialize(to: Atomic(0)) }
    }

    deinit {
        for i in 0..<Self.maxEvents {
            let bits = eventSlots[i].load(ordering: .relaxed)
            if bits != 0 { Unmanaged<NotificationEvent>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).release() }
        }
        eventSlots.deinitialize(count: Self.maxEvents)
        eventSlots.deallocate()
        positionWord.deinitialize(count: 1)
        positionWord.deallocate()
        rtStorage.deinitialize(count: 1)
        rtStorage.deallocate()
        scratch.deallocate()
    }

    public var name: String { configuration.name }

    // MARK: State (control path)

    public var state: KSState { runClock.read().state }

    /// `SetState`: moves one step along STOP <-> ACQUIRE <-> PAUSE <-> RUN.
    /// A jump over a neighbour is STATUS_INVALID_DEVICE_STATE; the same state is a no-op.
    @discardableResult
    public func setState(_ new: KSState) -> NTStatus {
        let status: NTStatus = control.withLock { _ in
            var snap = runClock.read()
            guard new != snap.state else { return .success }
            guard abs(new.rawValue - snap.state.rawValue) == 1 else { return .invalidDeviceState }
            let now = timebase.now
            switch (snap.state, new) {
            case (.pause, .run):
                snap.runStart = now
            case (.run, .pause):
                snap.accumulatedFrames = snap.frames(at: now, rate: rate)
            case (.acquire, .stop):
                engine?.quiesce()  // no engine pass may still be using the old run
                snap.accumulatedFrames = 0
                snap.generation += 1
                clientPosition.store(0, ordering: .releasing)
                eosPosition.store(.max, ordering: .releasing)
                dmaPosition.store(0, ordering: .releasing)
                positionWord.pointee.store(0, ordering: .releasing)
            default:
                break
            }
            snap.state = new
            runClock.write(snap)
            return .success
        }
        engine?.wake()
        return status
    }

    // MARK: Positions (any thread, lock-free)

    /// Frames elapsed in RUN since the last STOP, at `time` on the stream's timebase.
    @inline(__always)
    public func framesElapsed(at time: UInt64? = nil) -> UInt64 {
        runClock.read().frames(at: time ?? timebase.now, rate: rate)
    }

    /// The position register: frames × block align modulo the buffer, rounded
    /// down to the controller's burst (``positionRegisterAccuracy``). Never blocks.
    @inline(__always)
    public func readPositionRegister() -> UInt64 {
        registerValue(frames: framesElapsed())
    }

    @inline(__always)
    func registerValue(frames: UInt64) -> UInt64 {
        let bytes = frames &* blockAlign
        return (bytes - bytes % UInt64(burstBytes)) % UInt64(bufferBytes)
    }

    /// `KSRTAUDIO_HWREGISTER.Accuracy` of the position register, in bytes.
    public var positionRegisterAccuracy: Int { burstBytes }

    /// `KSPROPERTY_RTAUDIO_POSITIONREGISTER`: a word the engine updates at every
    /// wake-up with the register's value.
    public var positionRegister: HardwareRegister {
        HardwareRegister(register: UnsafeRawPointer(positionWord), width: configuration.positionRegisterWidth,
                         numerator: 1, denominator: 1, accuracy: burstBytes)
    }

    /// The value last stored in the position word.
    public var positionWordValue: UInt64 { positionWord.pointee.load(ordering: .acquiring) }

    /// `GetPosition` (KSAUDIO_POSITION): PlayOffset at the DAC (the position minus
    /// codec delay) and WriteOffset at the DMA fetch position.
    public func getPosition() -> AudioPosition {
        let frames = framesElapsed()
        let play = frames > codecDelayFrames ? (frames - codecDelayFrames) * blockAlign : 0
        let write = dmaPosition.load(ordering: .acquiring)
        return AudioPosition(playOffset: play % UInt64(bufferBytes), writeOffset: write % UInt64(bufferBytes))
    }

    /// Linear bytes the DMA has moved since STOP (never more than the register plus the FIFO).
    public var dmaBytesTransferred: UInt64 { dmaPosition.load(ordering: .acquiring) }

    /// `GetHWLatency`.
    public var hardwareLatency: HardwareLatency {
        HardwareLatency(fifoSize: fifoBytes, chipsetDelay: configuration.chipsetDelay, codecDelay: configuration.codecDelay)
    }

    // MARK: Client progress

    /// The client has written (render) or read (capture) the buffer up to this
    /// linear byte position since STOP. Glitches are judged against it.
    public func clientDidWrite(upTo linearBytes: UInt64) {
        clientPosition.store(linearBytes, ordering: .releasing)
    }

    /// The client's linear position as last reported.
    public var clientLinearPosition: UInt64 { clientPosition.load(ordering: .acquiring) }

    // MARK: Notifications

    /// `RegisterNotificationEvent`. The same event twice is STATUS_INVALID_PARAMETER;
    /// more than eight events, STATUS_INSUFFICIENT_RESOURCES.
    @discardableResult
    public func registerNotificationEvent(_ event: NotificationEvent) -> NTStatus {
        guard configuration.notificationCount > 0 else { return .notSupported }
        return control.withLock { _ in
            let bits = UInt(bitPattern: Unmanaged.passUnretained(event).toOpaque())
            var free: Int?
            for i in 0..<Self.maxEvents {
                let slot = eventSlots[i].load(ordering: .acquiring)
                if slot == bits { return .invalidParameter }
                if slot == 0 && free == nil { free = i }
            }
            guard let free else { return .insufficientResources }
            _ = Unmanaged.passRetained(event)
            eventSlots[free].store(bits, ordering: .releasing)
            return .success
        }
    }

    /// `UnregisterNotificationEvent`. An event that is not registered is STATUS_INVALID_PARAMETER.
    @discardableResult
    public func unregisterNotificationEvent(_ event: NotificationEvent) -> NTStatus {
        control.withLock { _ in
            let bits = UInt(bitPattern: Unmanaged.passUnretained(event).toOpaque())
            for i in 0..<Self.maxEvents where eventSlots[i].load(ordering: .acquiring) == bits {
                eventSlots[i].store(0, ordering: .releasing)
                // The engine may be signalling it right now: keep it alive with the stream.
                retiredEvents.append(event)
                Unmanaged.passUnretained(event).release()
                return .success
            }
            return .invalidParameter
        }
    }

    /// Notifications fired since the stream was created.
    public var notificationCount: UInt64 { notifications.load(ordering: .relaxed) }

    /// Notification latency (actual minus ideal time), in nanoseconds, of every
    /// notification so far.
    public func notificationLatency() -> Histogram<UInt64> {
        slow.withLock { s in
            latencyRing.drain { _ = s.latency.record($0) }
            return s.latency
        }
    }

    // MARK: Glitches

    /// Glitches so far, oldest first; the last one may still be in progress
    /// (the client is still not writing), with the frames affected so far.
    public var glitches: [Glitch] {
        let closed = slow.withLock { s in
            glitchRing.drain { s.glitches.append($0) }
            return s.glitches
        }
        guard openGlitchFlag.load(ordering: .acquiring) else { return closed }
        let open = Glitch(kind: Glitch.Kind(rawValue: openGlitchKind.load(ordering: .relaxed)) ?? .underrun,
                          time: openGlitchTime.load(ordering: .relaxed),
                          position: openGlitchPosition.load(ordering: .relaxed),
                          frames: openGlitchFrames.load(ordering: .relaxed))
        // It may have closed (and reached the ring, frames final) while we looked.
        let alreadyClosed = closed.last.map { $0.time == open.time && $0.position == open.position } ?? false
        return alreadyClosed ? closed : closed + [open]
    }
    /// Glitches counted (including any beyond the record ring's capacity).
    public var glitchCount: UInt64 { glitchTotal.load(ordering: .relaxed) }
    /// Frames affected by glitches.
    public var glitchFrames: UInt64 { glitchFrameTotal.load(ordering: .relaxed) }

    // MARK: Packets (IMiniportWaveRTOutputStream)

    /// `KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM`.
    public static let endOfStreamFlag: UInt32 = 0x200

    /// `GetPacketCount`: packets completely transferred by the DMA since STOP.
    /// Keeps counting at the nominal rate during underflow; 0 after STOP.
    public func getPacketCount() -> UInt64 {
        dmaPosition.load(ordering: .acquiring) / UInt64(packetBytes)
    }

    /// The packet the DMA is transferring now, or nil before the first byte moved.
    private func transferringPacket() -> UInt64? {
        let moved = dmaPosition.load(ordering: .acquiring)
        return moved == 0 ? nil : (moved - 1) / UInt64(packetBytes)
    }

    /// The next packet the client may write (what `GetWritePacket` would hand out).
    public func getWritePacket() -> UInt64 {
        transferringPacket().map { $0 + 1 } ?? 0
    }

    /// `SetWritePacket`: the client has written packet `packetNumber`.
    /// STATUS_DATA_LATE_ERROR when that packet has been or is being transferred,
    /// STATUS_DATA_OVERRUN when it is further ahead than the buffer holds,
    /// STATUS_INVALID_DEVICE_STATE after end of stream, STATUS_INVALID_PARAMETER
    /// for unknown flags or an EOS length longer than a packet.
    public func setWritePacket(packetNumber: UInt64, flags: UInt32, eosPacketLength: UInt32) -> NTStatus {
        let count = UInt64(max(1, configuration.notificationCount))
        guard flags & ~Self.endOfStreamFlag == 0 else { return .invalidParameter }
        let eos = flags & Self.endOfStreamFlag != 0
        if eos && Int(eosPacketLength) > packetBytes { return .invalidParameter }
        // Lock-free: the audio engine calls this from its notification handler, on
        // the engine thread, which must not wait on the control path's lock.
        guard eosPosition.load(ordering: .acquiring) == .max else { return .invalidDeviceState }
        let busy = transferringPacket()
        if let busy, packetNumber <= busy { return .dataLateError }
        let highest = busy.map { $0 + count - 1 } ?? (count - 1)
        guard packetNumber <= highest else { return .dataOverrun }
        let start = packetNumber * UInt64(packetBytes)
        let end = start + (eos ? UInt64(eosPacketLength) : UInt64(packetBytes))
        if eos {
            // Only the first end of stream counts; a racing second one sees the state it left.
            guard eosPosition.compareExchange(expected: .max, desired: end, ordering: .acquiringAndReleasing).exchanged
            else { return .invalidDeviceState }
        }
        var written = clientPosition.load(ordering: .acquiring)
        while end > written {
            let (exchanged, now) = clientPosition.compareExchange(expected: written, desired: end, ordering: .acquiringAndReleasing)
            if exchanged { break }
            written = now
        }
        return .success
    }

    /// Where the data ends, once the client has sent end of stream.
    public var endOfStreamPosition: UInt64? {
        let p = eosPosition.load(ordering: .acquiring)
        return p == .max ? nil : p
    }

    /// `GetOutputStreamPresentationPosition`: frames presented (at the DAC) and
    /// the time of the reading in 100-ns units.
    public func getOutputStreamPresentationPosition() -> PresentationPosition {
        let now = timebase.now
        let frames = framesElapsed(at: now)
        return PresentationPosition(positionInBlocks: frames > codecDelayFrames ? frames - codecDelayFrames : 0,
                                    qpcPosition: now / 100)
    }

    // MARK: Engine thread

    /// The next stream time at which the stream needs the engine, if running.
    func nextDeadline() -> UInt64? {
        let snap = runClock.read()
        guard snap.state == .run else { return nil }
        // Entering RUN: service at once, so the DMA fills the FIFO at the start.
        guard rt.running, rt.generation == snap.generation else { return snap.runStart }
        var frame = rt.nextServiceFrame
        if configuration.notificationCount > 0 {
            frame = min(frame, rt.nextNotification * UInt64(bufferFrames) / UInt64(configuration.notificationCount))
        }
        return snap.time(ofFrame: frame, rate: rate)
    }

    /// Does what is due at stream time `now`. Engine thread only: no locks, no allocation.
    func service(now: UInt64) {
        let snap = runClock.read()
        if snap.generation != rt.generation { rewind(to: snap.generation) }
        guard snap.state == .run else {
            if rt.running { leaveRun() }
            positionWord.pointee.store(registerValue(frames: snap.accumulatedFrames), ordering: .releasing)
            return
        }
        rt.running = true
        let frames = snap.frames(at: now, rate: rate)
        // The DMA keeps the FIFO full: it may fetch up to one FIFO past the register, in whole bursts.
        let limit = frames * blockAlign + UInt64(fifoBytes)
        let target = limit - limit % UInt64(burstBytes)
        while rt.dmaLinear < target {
            let n = Int(min(target - rt.dmaLinear, UInt64(scratchBytes)))
            transfer(n, now: now)
        }
        dmaPosition.store(rt.dmaLinear, ordering: .releasing)
        fireNotifications(through: frames, snap: snap, now: now)
        rt.nextServiceFrame = (frames / serviceFrames + 1) * serviceFrames
        positionWord.pointee.store(registerValue(frames: frames), ordering: .releasing)
    }

    @inline(__always)
    private func transfer(_ n: Int, now: UInt64) {
        let start = rt.dmaLinear
        let end = start + UInt64(n)
        let client = clientPosition.load(ordering: .acquiring)
        switch configuration.direction {
        case .render:
            _ = dma.read(into: scratch, count: n)
            let eos = eosPosition.load(ordering: .acquiring)
            if eos < end {
                // After end of stream the device plays silence, whatever the buffer holds.
                let from = eos > start ? Int(eos - start) : 0
                memset(scratch + from, 0, n - from)
            }
            let starvedFrom = max(start, client)
            let starvedTo = min(end, eos)
            noteGlitch(.underrun, from: starvedFrom, to: starvedTo, end: end, now: now)
            sink?.consume(UnsafeRawBufferPointer(start: scratch, count: n))
        case .capture:
            source?.produce(into: UnsafeMutableRawBufferPointer(start: scratch, count: n))
            _ = dma.write(from: scratch, count: n)
            // Overrun: the DMA overwrites bytes older than one buffer that the client has not read.
            let unreadFrom = client + UInt64(bufferBytes)
            noteGlitch(.overrun, from: max(start, unreadFrom), to: end, end: end, now: now)
        }
        rt.dmaLinear = end
    }

    /// Opens, extends or closes a glitch for the transfer that ends at `end`;
    /// [from, to) are its starved bytes (empty when none).
    @inline(__always)
    private func noteGlitch(_ kind: Glitch.Kind, from: UInt64, to: UInt64, end: UInt64, now: UInt64) {
        guard from < to else {
            closeGlitch()
            return
        }
        let frames = (to - from + blockAlign - 1) / blockAlign
        glitchFrameTotal.add(frames, ordering: .relaxed)
        if var open = rt.openGlitch, rt.openGlitchEnd == from {
            open.frames += frames
            rt.openGlitch = open
            openGlitchFrames.store(open.frames, ordering: .relaxed)
        } else {
            closeGlitch()
            rt.openGlitch = Glitch(kind: kind, time: now, position: from, frames: frames)
            glitchTotal.add(1, ordering: .relaxed)
            openGlitchKind.store(kind.rawValue, ordering: .relaxed)
            openGlitchTime.store(now, ordering: .relaxed)
            openGlitchPosition.store(from, ordering: .relaxed)
            openGlitchFrames.store(frames, ordering: .relaxed)
            openGlitchFlag.store(true, ordering: .releasing)
        }
        rt.openGlitchEnd = end
    }

    @inline(__always)
    private func closeGlitch() {
        if let open = rt.openGlitch {
            glitchRing.push(open)
            rt.openGlitch = nil
            openGlitchFlag.store(false, ordering: .releasing)
        }
    }

    @inline(__always)
    private func fireNotifications(through frames: UInt64, snap: RunClock.Snapshot, now: UInt64) {
        let count = UInt64(configuration.notificationCount)
        guard count > 0 else { return }
        while true {
            let frame = rt.nextNotification * UInt64(bufferFrames) / count
            guard frame <= frames else { return }
            let ideal = snap.time(ofFrame: frame, rate: rate)
            rt.sequence += 1
            let note = StreamNotification(sequence: rt.sequence, frame: frame, idealTime: ideal, actualTime: now)
            latencyRing.push(now &- ideal)
            for i in 0..<Self.maxEvents {
                let bits = eventSlots[i].load(ordering: .acquiring)
                guard bits != 0 else { continue }
                Unmanaged<NotificationEvent>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)
                    ._withUnsafeGuaranteedRef { $0.signal(note) }
            }
            notifications.add(1, ordering: .relaxed)
            rt.nextNotification += 1
        }
    }

    private func leaveRun() {
        rt.running = false
        closeGlitch()
    }

    /// After a STOP: back to the start of the buffer.
    private func rewind(to generation: UInt64) {
        rt.generation = generation
        rt.dmaLinear = 0
        rt.nextNotification = 1
        rt.sequence = 0
        rt.nextServiceFrame = 0
        closeGlitch()
        dma.reset()
    }
}

/// Why the engine refused a stream.
public enum EngineError: Error, Hashable, CustomStringConvertible {
    case dmaNotProgrammed(stream: String)
    case bufferNotFrameAligned(stream: String, bytes: Int, blockAlign: Int)
    case packetNotFrameAligned(stream: String, bufferFrames: Int, count: Int)
    case notificationCount(stream: String, count: Int)
    case registerWidth(stream: String, width: Int)
    case timebaseMismatch(stream: String)
    case tooManyStreams(limit: Int)
    case alreadyAdded(stream: String)
    case sink(stream: String, reason: String)

    public var description: String {
        switch self {
        case .dmaNotProgrammed(let s): "stream \(s): the DMA controller has no program"
        case .bufferNotFrameAligned(let s, let b, let a): "stream \(s): the \(b)-byte buffer is not a whole number of \(a)-byte frames"
        case .packetNotFrameAligned(let s, let f, let c): "stream \(s): \(f) frames do not split into \(c) equal packets"
        case .notificationCount(let s, let c): "stream \(s): NotificationCount \(c) is not 0, 1 or 2"
        case .registerWidth(let s, let w): "stream \(s): register width \(w) is not 32 or 64"
        case .timebaseMismatch(let s): "stream \(s) uses a different timebase than the engine"
        case .tooManyStreams(let limit): "the engine serves at most \(limit) streams"
        case .alreadyAdded(let s): "stream \(s) is already in the engine"
        case .sink(let s, let reason): "stream \(s): the sink could not be prepared: \(reason)"
        }
    }
}
