import CWaveRTShim
import Glibc
import Synchronization
import WaveRTEngine
import WaveRTKernel
import WaveRTPort

/// How the client is woken.
public enum ClientMode: Sendable, Hashable, Codable {
    /// On the notification event: write (or read) what the position says is free (or ready).
    case event
    /// Every `periodNanoseconds`: read the position and write ahead (the fallback when
    /// the stream has no notifications, and the ACX "1 packet" mode).
    case timer(periodNanoseconds: UInt64)
    /// On the event: GetPacketCount, then SetWritePacket for each packet the
    /// buffer has room for (capture: GetReadPacket until no more data).
    case packet
}

/// The Windows audio engine's side of one stream, talking only to the port:
/// KS properties, the buffer mapping the port made for it, its event, and the
/// registers the port mapped. It never touches the hardware.
///
/// **Opening** (``init(port:pin:...)``): notification support is queried; a
/// buffer with notification when the stream can notify (else a plain buffer,
/// and the client falls back to timer mode); a buffer smaller than asked fails
/// stream creation, as WASAPI does; the event is registered; the position
/// register is mapped when there is one (else KSPROPERTY_AUDIO_POSITION).
///
/// **Render** keeps the buffer full: at each wake it reads the position (the
/// byte at the DAC) and writes up to one buffer past it, never over bytes the
/// device may not have fetched yet. In packet mode it pre-rolls a buffer of
/// packets before RUN, then on each event reads the packet count and announces
/// each packet it writes with SetWritePacket; a late packet is still written
/// (its lateness is the glitch monitor's to judge) and the client carries on.
/// When the source ends it sends end of stream (packet mode) or silence.
///
/// **Capture** reads what the device has written: up to the record position
/// less the FIFO, or packet by packet with GetReadPacket, into the recorder.
///
/// **Waking**: on the virtual clock the client is stepped by the clock right
/// after the machine at each instant (``attach(to:)``); on the system clock it
/// runs on a real-time thread of its own that waits on its event (or sleeps
/// to its period), as the engine's audio thread does. An event wait times out
/// after 1.5 packets; the client then services the buffer from the position
/// anyway and counts the timeout. Each wake first brings the emulated DMA up
/// to the present (``Machine/synchronizeDevices()``), so the client never
/// writes over a byte the hardware would already have fetched. An
/// ``observer`` sees each wake as the client does (the timing suite's probe).
///
/// **State**: ``start(scheduler:)``, ``pause()``, ``resume()`` and ``stop()``
/// ask for the KSSTATE changes through the port, as the engine does, and time
/// each request (``lastRunRequest``, ``lastPauseRequest``); knowing when the
/// stream runs, the client counts the laps a late wake missed from the time
/// since its last read.
public final class AudioEngineClient: TimedWork, @unchecked Sendable {
    public let port: WaveRTPort
    public let pin: KSPin
    public let mode: ClientMode
    public let format: StreamFormat
    public let capture: Bool
    public let buffer: KSPin.Buffer
    public let notificationCount: Int
    public let packetBytes: Int
    public let monitor: GlitchMonitor?
    let source: (any SampleSource)?
    let recorder: (any AudioSink)?
    let event: (handle: UInt64, event: KEvent)?
    /// The position register the client mapped (KSPROPERTY_RTAUDIO_POSITIONREGISTER),
    /// nil when the stream has none and the client reads KSPROPERTY_AUDIO_POSITION.
    /// A pin maps it once in its lifetime, so an instrument on the client's side
    /// (a timing probe) reads this same mapping.
    public let positionRegister: MappedRegister?
    let fifoBytes: UInt64
    private let timebase: any Timebase
    /// The machine's trace recorder (nil: not tracing) and this stream's number on it.
    private let trace: TraceRecorder?
    private let traceStream: UInt32

    /// Client-thread state (the thread, or the clock's stepping, owns it), behind a pointer:
    /// the wake path reads and writes it without exclusivity checks.
    private struct State {
        var watermark: UInt64 = 0         // bytes written (read) since the stream started
        var deviceLinear: UInt64 = 0      // the device position, unwrapped
        var lastOffset: UInt64 = 0
        var lastRan: UInt64 = 0           // the stream's RUN time (``RunClock``) at the last position read
        var runClock = RunClock()         // the last consistent reading of ``runClock``
        var packetsSignalled: UInt64 = 0  // notifications since the start: packets the DMA has at least fetched
        var nextPacket: UInt64 = 0
        var sourceEnd: UInt64 = .max
        var eosSent = false
        var nextWake: UInt64 = .max
        var lastService: UInt64 = 0
    }
    private let state: UnsafeMutablePointer<State> = {
        let p = UnsafeMutablePointer<State>.allocate(capacity: 1)
        p.initialize(to: State())
        return p
    }()
    /// The client thread's own; every change is also published to ``watermarkPublished`` for other threads.
    private var watermark: UInt64 {
        get { state.pointee.watermark }
        set {
            state.pointee.watermark = newValue
            watermarkPublished.store(newValue, ordering: .releasing)
        }
    }
    /// ``watermark`` as other threads may read it (a session's report while the client still runs).
    private let watermarkPublished = Atomic<UInt64>(0)
    private var deviceLinear: UInt64 { get { state.pointee.deviceLinear } set { state.pointee.deviceLinear = newValue } }
    private var lastOffset: UInt64 { get { state.pointee.lastOffset } set { state.pointee.lastOffset = newValue } }
    private var lastRan: UInt64 { get { state.pointee.lastRan } set { state.pointee.lastRan = newValue } }
    private var packetsSignalled: UInt64 { get { state.pointee.packetsSignalled } set { state.pointee.packetsSignalled = newValue } }
    private var nextPacket: UInt64 { get { state.pointee.nextPacket } set { state.pointee.nextPacket = newValue } }
    private var sourceEnd: UInt64 { get { state.pointee.sourceEnd } set { state.pointee.sourceEnd = newValue } }
    private var eosSent: Bool { get { state.pointee.eosSent } set { state.pointee.eosSent = newValue } }
    private var nextWake: UInt64 { get { state.pointee.nextWake } set { state.pointee.nextWake = newValue } }
    private var lastService: UInt64 { get { state.pointee.lastService } set { state.pointee.lastService = newValue } }

    private let wakes = Atomic<UInt64>(0)
    private let timeouts = Atomic<UInt64>(0)
    private let lateWrites = Atomic<UInt64>(0)
    private let packetErrors = Atomic<UInt64>(0)
    private let lastPacketStatus = Atomic<Int32>(0)
    private let running = Atomic<Bool>(false)
    private let endOfData = Atomic<UInt64>(.max)
    private let playedPosition = Atomic<UInt64>(0)
    private var thread: RealTimeThread?
    /// How the client's real-time thread fared (SCHED_FIFO, tid), while it runs on the monotonic clock.
    public var threadStatus: RealTimeThread.Status? { thread?.status }
    private var scheduler: Scheduler?
    private var started = false
    private var runRequest: ClosedRange<UInt64>?
    private var pauseRequest: ClosedRange<UInt64>?
    /// How long the stream has run since the client started it: the control
    /// path writes it at RUN and PAUSE, the client thread reads it.
    private let runClock = Seqlock(RunClock())

    /// Told of each wake as the client sees it (see ``AudioEngineClientObserver``).
    /// Set before ``start(scheduler:)``; not changed while the client runs.
    public var observer: (any AudioEngineClientObserver)?

    /// Opens the stream's buffer the way the audio engine does.
    /// - Parameters:
    ///   - requestedBytes: the buffer asked for (whole frames; whole packets when notifying).
    ///   - source: what a render client plays. `recorder`: where a capture client puts what it reads.
    public init(port: WaveRTPort, pin: KSPin, mode: ClientMode, requestedBytes: Int, notificationCount: Int,
                source: (any SampleSource)? = nil, recorder: (any AudioSink)? = nil, monitorGlitches: Bool = true) throws(ClientError)
    {
        self.port = port
        self.pin = pin
        self.format = pin.dataFormat.streamFormat!
        capture = pin.isCapture
        self.source = source
        self.recorder = recorder
        source?.prepare(format: format)
        timebase = port.machine.timebase
        trace = port.machine.trace
        traceStream = pin.streamID
        let notifying = notificationCount > 0 && (try? pin.queryNotificationSupport().get()) == true
        let result = notifying ? pin.buffer(requestedSize: requestedBytes, notificationCount: notificationCount)
            : pin.buffer(requestedSize: requestedBytes)
        guard case .success(let b) = result else {
            if case .failure(let s) = result { throw .buffer(status: s, requested: requestedBytes) }
            throw .buffer(status: .unsuccessful, requested: requestedBytes)
        }
        // WASAPI does not use a buffer smaller than it asked for: stream creation fails.
        guard b.actualSize >= requestedBytes else { throw .bufferSmallerThanAsked(actual: b.actualSize, requested: requestedBytes) }
        guard b.actualSize % format.blockAlign == 0 else { throw .bufferNotWholeFrames(actual: b.actualSize, blockAlign: format.blockAlign) }
        buffer = b
        self.notificationCount = notifying ? notificationCount : 0
        packetBytes = b.actualSize / max(1, self.notificationCount)
        let packetDuration = UInt64(packetBytes / format.blockAlign) * 1_000_000_000 / UInt64(format.sampleRate)
        if !notifying {
            self.mode = .timer(periodNanoseconds: { if case .timer(let p) = mode { return p }; return max(1_000_000, packetDuration / 2) }())
        } else if mode == .packet && !pin.supportsPacketMode {
            self.mode = .event  // the stream has no packet interface: plain events
        } else {
            self.mode = mode
        }
        if notifying {
            let e = port.createEvent()
            let s = pin.registerNotificationEvent(e.handle)
            guard s.isSuccess else { throw .registration(status: s) }
            event = e
        } else {
            event = nil
        }
        positionRegister = try? pin.positionRegister().get()
        fifoBytes = UInt64((try? pin.hwLatency().get())?.fifoSize ?? 0)
        if monitorGlitches, let pages = pin.bufferPages {
            let m = GlitchMonitor(mdl: pages.mdl, offset: pages.offset, size: pages.size, blockAlign: format.blockAlign, capture: capture,
                                  trace: trace, stream: traceStream)
            port.adapter.dmaObservers.add(m)
            monitor = m
        } else {
            monitor = nil
        }
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// Figures.
    public var wakeCount: UInt64 { wakes.load(ordering: .relaxed) }
    public var eventTimeoutCount: UInt64 { timeouts.load(ordering: .relaxed) }
    /// SetWritePacket refusals (late, overrun) and writes that began behind the device.
    public var lateWriteCount: UInt64 { lateWrites.load(ordering: .relaxed) }
    public var packetErrorCount: UInt64 { packetErrors.load(ordering: .relaxed) }
    public var lastPacketError: NTStatus? {
        let raw = lastPacketStatus.load(ordering: .relaxed)
        return raw == 0 ? nil : NTStatus(rawValue: raw)
    }
    /// Bytes written (render) or read (capture) since the stream started.
    /// Any thread (the client's thread may be writing meanwhile).
    public var bytesTransferred: UInt64 { watermarkPublished.load(ordering: .acquiring) }
    /// The device position (render: the byte at the DAC; capture: the record
    /// position) in bytes since the start, as the client last read it.
    public var devicePositionBytes: UInt64 { playedPosition.load(ordering: .acquiring) }
    /// The timebase times just before and just after the client's last
    /// KSPROPERTY_CONNECTION_STATE request for RUN (the device started inside it),
    /// and for PAUSE (the position froze inside it).
    public var lastRunRequest: ClosedRange<UInt64>? { runRequest }
    public var lastPauseRequest: ClosedRange<UInt64>? { pauseRequest }
    /// Where the source ended (bytes since the start), once it has.
    public var endOfDataPosition: UInt64? {
        let e = endOfData.load(ordering: .acquiring)
        return e == .max ? nil : e
    }

    private var packetDurationNanoseconds: UInt64 {
        UInt64(packetBytes / format.blockAlign) * 1_000_000_000 / UInt64(format.sampleRate)
    }

    // MARK: Running

    /// Pre-rolls (render) and runs the stream: KSSTATE_RUN through the port,
    /// then the client starts waking.
    public func start(scheduler clientScheduler: Scheduler? = nil) throws(ClientError) {
        watermark = 0
        deviceLinear = 0
        playedPosition.store(0, ordering: .releasing)
        lastOffset = 0
        lastRan = 0
        state.pointee.runClock = RunClock()
        packetsSignalled = 0
        nextPacket = 0
        eosSent = false
        // A restart after STOP: positions begin again at 0, and so does the monitor's reckoning.
        if started, let monitor {
            monitor.reset()
            port.adapter.dmaObservers.add(monitor)
        }
        started = true
        // A notification the last run raised after the client stopped waiting is not one of this run's packets.
        if let event { keClearEvent(event.event) }
        if !capture { preroll() }
        // A new reckoning from STOP, published before the client's thread can read it (stop() left the epoch even).
        let stopped = runClock.writerValue.epoch & ~1
        runClock.write(RunClock(epoch: stopped, start: 0, completed: 0))
        running.store(true, ordering: .releasing)
        lastService = timebase.now
        scheduleNext(after: lastService)
        if case .monotonic = timebase.hostClock {
            // The thread first: its start-up must not eat into the pre-rolled buffer once the device runs.
            thread = RealTimeThread(configuration: .init(fifoPriority: 65, name: "wavert-client")) { [unowned self] t in self.run(on: t) }
        }
        let before = timebase.now
        let status = pin.setState(.run)
        runRequest = before...max(before, timebase.now)
        runClock.write(RunClock(epoch: stopped &+ 1, start: before, completed: 0))
        guard status.isSuccess else {
            runClock.write(RunClock(epoch: stopped &+ 2, start: 0, completed: 0))
            running.store(false, ordering: .releasing)
            if let thread {
                thread.requestStop()
                if let event { _ = keSetEvent(event.event) }
                thread.join()
                self.thread = nil
            }
            throw .state(.run, status)
        }
        if case .virtual(let clock) = timebase.hostClock { clock.attach(self) }
    }

    /// KSSTATE_PAUSE from RUN, as the audio engine pauses its stream: the
    /// position freezes and the client keeps its place (it keeps waking, and
    /// finds nothing to do).
    @discardableResult
    public func pause() -> NTStatus {
        let run = runClock.writerValue
        guard run.isRunning else { return .success }
        // Before the request: a read while the position freezes must not count time as movement.
        runClock.write(run.paused(at: timebase.now))
        // The DMA catches up first: the glitch monitor judges what it moved with the timing it moved it under.
        port.machine.synchronizeDevices()
        let before = timebase.now
        let status = pin.setState(.pause)
        pauseRequest = before...max(before, timebase.now)
        if !status.isSuccess { runClock.write(RunClock(epoch: run.epoch &+ 2, start: run.start, completed: run.completed)) }
        return status
    }

    /// KSSTATE_RUN from PAUSE: the position moves on from where it froze.
    @discardableResult
    public func resume() -> NTStatus {
        guard running.load(ordering: .acquiring), !runClock.writerValue.isRunning else { return .success }
        let before = timebase.now
        let status = pin.setState(.run)
        runRequest = before...max(before, timebase.now)
        if status.isSuccess {
            let run = runClock.writerValue
            runClock.write(RunClock(epoch: run.epoch &+ 1, start: before, completed: run.completed))
        }
        return status
    }

    /// Stops waking, steps the stream down to STOP through the port, and lets
    /// the monitor judge what remains.
    @discardableResult
    public func stop() -> NTStatus {
        if runClock.writerValue.isRunning { runClock.write(runClock.writerValue.paused(at: timebase.now)) }
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return .success }
        if let thread {
            thread.requestStop()
            if let event { _ = keSetEvent(event.event) }
            thread.join()
            self.thread = nil
        }
        if case .virtual(let clock) = timebase.hostClock { clock.detach(self) }
        // What the DMA moved up to the pause is moved before the monitor is detached and judges what remains.
        port.machine.synchronizeDevices()
        let status = pin.setState(.pause)
        port.machine.synchronizeDevices()
        monitor.map { m in
            // Detached first: once remove returns no pass is in the monitor, and none will
            // call it, so judging what remains cannot race a transfer.
            port.adapter.dmaObservers.remove(m)
            m.finish()
        }
        let down = pin.setState(.stop)
        return status.isSuccess ? down : status
    }

    /// Unregisters the event, detaches the monitor (the pin's close does the rest).
    public func close() {
        _ = stop()
        if let event {
            pin.unregisterNotificationEvent(event.handle)
            port.closeHandle(event.handle)
        }
        if let monitor { port.adapter.dmaObservers.remove(monitor) }
    }

    /// Whether the client waits on its event (event and packet modes) rather than a period.
    private var waitsOnEvent: Bool {
        if case .timer = mode { return false }
        return event != nil
    }

    /// The system clock: the client's own real-time thread, waiting on the event
    /// (with a timeout of 1.5 packets) or sleeping to its period.
    private func run(on thread: RealTimeThread) {
        port.machine.withCurrent {
            while !thread.shouldStop {
                var signalled = false
                if waitsOnEvent, let event {
                    let timeout = max(1, Int64(packetDurationNanoseconds * 3 / 2 / 100))
                    let waited = keWaitForSingleObject(event.event, timeout: -timeout)
                    if thread.shouldStop { break }
                    if waited == .timeout { timeouts.add(1, ordering: .relaxed) } else { signalled = true }
                } else {
                    _ = wrt_sleep_until_monotonic_ns(timebase.hostTime(for: nextWake))
                    if thread.shouldStop { break }
                }
                step(now: timebase.now, signalled: signalled)
            }
        }
    }

    // MARK: TimedWork (the virtual clock)

    /// On the clock's host time (the machine's timebase may follow a card: a ``DeviceTimebase``).
    public func nextDeadline() -> UInt64? {
        guard running.load(ordering: .acquiring) else { return nil }
        if waitsOnEvent, let event, keReadStateEvent(event.event) != 0 { return Deadline.now }
        return nextWake == .max ? nil : timebase.hostTime(for: nextWake)
    }

    public func service(now hostNow: UInt64) {
        guard running.load(ordering: .acquiring) else { return }
        var signalled = false
        if waitsOnEvent, let event {
            if keWaitForSingleObject(event.event, timeout: 0) == .success {
                signalled = true
            } else {
                timeouts.add(1, ordering: .relaxed)  // woken by the timeout, not the event
            }
        }
        step(now: timebase.now, signalled: signalled)
    }

    private func scheduleNext(after now: UInt64) {
        switch mode {
        case .timer(let period): nextWake = now + period
        case .event, .packet: nextWake = now + packetDurationNanoseconds * 3 / 2
        }
    }

    // MARK: One wake

    /// What the client does at each wake: tell the observer, write (or read)
    /// what it can, then publish its watermark for the glitch monitor.
    func step(now: UInt64, signalled: Bool) {
        trace?.record(.clientWakeBegin, stream: traceStream, at: now, signalled ? 1 : 0)
        defer { trace?.record(.clientWakeEnd, stream: traceStream, at: timebase.now) }
        wakes.add(1, ordering: .relaxed)
        if signalled { packetsSignalled += 1 }
        observer?.clientWoke(self, at: now, signalled: signalled)
        // The emulated DMA catches up first: what the hardware fetched by now is fetched before we write.
        port.machine.synchronizeDevices()
        port.machine.withCurrent {
            if capture {
                if mode == .packet { readPackets(now: now) } else { readAvailable(now: now) }
            } else {
                if mode == .packet {
                    writePackets()
                    _ = devicePosition()  // the engine's clock: where the device is, for whoever asks
                } else {
                    writeAvailable()
                }
                monitor?.publish(watermark, at: timebase.now)
            }
        }
        lastService = now
        scheduleNext(after: now)
    }

    /// The device position (render: the byte at the DAC; capture: the record
    /// position), unwrapped into bytes since the start. The offset says where
    /// in the buffer the device is, not how many laps it made since the last
    /// read: when the client was kept from running for more than half a buffer
    /// (a busy machine, one notification per buffer), the time the stream ran
    /// since says how many whole laps to add, so one late wake costs a glitch
    /// and not every lap after it.
    private func devicePosition() -> UInt64? {
        let size = UInt64(buffer.actualSize)
        let offset: UInt64
        if let positionRegister {
            offset = positionRegister.read() % size
        } else {
            guard case .success(let p) = pin.position() else { return nil }
            offset = p.playOffset % size
        }
        var delta = (offset &+ size &- lastOffset) % size
        let now = timebase.now
        // How long the stream ran since the last read, whatever RUNs and PAUSEs came between
        // (a late wake must not lose the laps of a RUN that ended before it).
        if let run = runClock.read() { state.pointee.runClock = run }
        let ranTotal = state.pointee.runClock.ran(at: now)
        let ran = ranTotal > lastRan ? ranTotal - lastRan : 0
        if ran > 0 {
            let expected = PositionMath.frames(inNanoseconds: ran, rate: UInt64(format.sampleRate)) * UInt64(format.blockAlign)
            if expected > delta + size / 2 { delta += (expected - delta + size / 2) / size * size }
        }
        lastRan = ranTotal
        deviceLinear &+= delta
        lastOffset = offset
        playedPosition.store(deviceLinear, ordering: .releasing)
        return deviceLinear
    }

    private func writeAvailable() {
        guard let position = devicePosition() else { return }
        // The position was read after the DMA last caught up, and on a running
        // clock the device has moved on since: the DMA catches up again, so every
        // byte up to the position is fetched before the client writes over it.
        port.machine.synchronizeDevices()
        // Up to one buffer past what the device has surely fetched: the DAC's byte, or the end of
        // the last packet a notification announced (each one is a packet fetched; KEVENTs that
        // coalesced only make this count low). Never over a byte the device has not fetched: with
        // one notification per buffer, the position alone would leave the FIFO's bytes unwritten each lap.
        let fetched = max(position, packetsSignalled * UInt64(packetBytes))
        let target = fetched + UInt64(buffer.actualSize)
        guard target > watermark else { return }
        if watermark < position { lateWrites.add(1, ordering: .relaxed) }
        fill(upTo: target - (target - watermark) % UInt64(format.blockAlign))
    }

    /// Before RUN the engine fills one buffer. In packet mode only packet 0 is
    /// announced (a stopped stream accepts SetWritePacket(0) alone: SYSVAD's
    /// rule, and ACX's pre-roll); the rest of the buffer is written with it,
    /// and the first event's count asks for packet N.
    private func preroll() {
        if mode == .packet {
            writeNextPacket(count: 0)
            if !eosSent {
                fill(upTo: UInt64(buffer.actualSize))
                nextPacket = UInt64(max(1, notificationCount))
            }
        } else {
            fill(upTo: UInt64(buffer.actualSize))
        }
        monitor?.publish(watermark, at: timebase.now)
    }

    /// Writes the source into the buffer up to `target` (silence once the source ended).
    private func fill(upTo target: UInt64) {
        let size = UInt64(buffer.actualSize)
        let blockAlign = format.blockAlign
        let from = watermark
        defer { if let trace, watermark > from { trace.record(.clientWrite, stream: traceStream, at: timebase.now, from, watermark) } }
        while watermark < target {
            let offset = Int(watermark % size)
            let bytes = Int(min(target - watermark, size - UInt64(offset)))
            let frames = bytes / blockAlign
            guard frames > 0 else { break }
            let got = sourceEnd == .max ? (source?.read(frames: frames, into: buffer.address + offset, format: format) ?? 0) : 0
            if got < frames {
                if sourceEnd == .max {
                    sourceEnd = watermark + UInt64(got * blockAlign)
                    endOfData.store(sourceEnd, ordering: .releasing)
                }
                memset(buffer.address + offset + got * blockAlign, 0, (frames - got) * blockAlign)
            }
            watermark += UInt64(frames * blockAlign)
        }
        if buffer.callMemoryBarrier { atomicMemoryFence(ordering: .sequentiallyConsistent) }  // write-combined memory
    }

    /// Packet mode: the packet count, then every packet the buffer has room for.
    private func writePackets() {
        guard !eosSent, case .success(let count32) = pin.packetCount() else { return }
        // Packet numbers are 32 bits; the count since STOP is this run's.
        let count = (nextPacket & ~0xFFFF_FFFF) | UInt64(count32)
        while !eosSent && nextPacket < count + UInt64(notificationCount) {
            writeNextPacket(count: count)
        }
    }

    private func writeNextPacket(count: UInt64) {
        let packet = nextPacket
        let start = watermark
        fill(upTo: (packet + 1) * UInt64(packetBytes))
        let eos = sourceEnd != .max
        let status = pin.setWritePacket(UInt32(truncatingIfNeeded: packet), flags: eos ? KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM : 0,
                                        eosPacketLength: eos ? UInt32(max(0, Int(sourceEnd) - Int(start))) : 0)
        if !status.isSuccess {
            packetErrors.add(1, ordering: .relaxed)
            lastPacketStatus.store(status.rawValue, ordering: .relaxed)
            if status == .dataLateError { lateWrites.add(1, ordering: .relaxed) }
        }
        if eos {
            eosSent = true
            monitor?.endOfStream(at: sourceEnd)  // what the device plays past it is the driver's silence
        }
        nextPacket = packet + 1
    }

    /// Capture: read what the device has written, up to the record position less its FIFO.
    private func readAvailable(now: UInt64) {
        guard let position = devicePosition() else { return }
        let available = position > fifoBytes ? position - fifoBytes : 0
        let target = available - available % UInt64(format.blockAlign)
        guard target > watermark else {
            monitor?.publish(watermark, at: now)
            return
        }
        read(upTo: min(target, watermark + UInt64(buffer.actualSize)), at: now)
    }

    /// Capture, packet mode: GetReadPacket until no more data.
    private func readPackets(now: UInt64) {
        while case .success(let packet) = pin.getReadPacket() {
            let start = UInt64(packet.packetNumber) * UInt64(packetBytes)
            if start > watermark { watermark = start }  // packets the driver skipped are lost
            read(upTo: start + UInt64(packetBytes), at: now)
            if !packet.moreData { break }
        }
        monitor?.publish(watermark, at: max(now, timebase.now))  // not before the reads above
    }

    private func read(upTo target: UInt64, at wake: UInt64) {
        let size = UInt64(buffer.actualSize)
        // The position was read after the wake (and after the DMA last caught
        // up): on a running clock the device has recorded more since. The DMA
        // catches up again, so every byte up to the position is in memory, and
        // the read happens, and is judged, at a time the position was true.
        port.machine.synchronizeDevices()
        let now = max(wake, timebase.now)
        let from = watermark
        defer { if let trace, watermark > from { trace.record(.clientRead, stream: traceStream, at: now, from, watermark) } }
        monitor?.checkRead(from: watermark, to: target, at: now)
        while watermark < target {
            let offset = Int(watermark % size)
            let bytes = Int(min(target - watermark, size - UInt64(offset)))
            recorder?.consume(UnsafeRawBufferPointer(start: buffer.address + offset, count: bytes))
            watermark += UInt64(bytes)
        }
        monitor?.publish(watermark, at: now)
    }
}

/// Sees what the client sees when it wakes: an instrument on the audio
/// engine's side of the stream (the timing suite's probe), never the device.
///
/// Called on the client's thread (on a virtual clock, the thread advancing
/// it), at the start of each wake, before the client touches the buffer: so
/// it must not block, lock or allocate.
public protocol AudioEngineClientObserver: AnyObject, Sendable {
    /// The client woke at `time` on the stream's timebase: `signalled` when
    /// its wait on the notification event was satisfied (the event had been
    /// set), false when the wait timed out or a timer-mode period elapsed.
    func clientWoke(_ client: AudioEngineClient, at time: UInt64, signalled: Bool)
}

/// Why the client could not open or run its stream.
public enum ClientError: Error, Hashable, CustomStringConvertible {
    case buffer(status: NTStatus, requested: Int)
    case bufferSmallerThanAsked(actual: Int, requested: Int)
    case bufferNotWholeFrames(actual: Int, blockAlign: Int)
    case registration(status: NTStatus)
    case state(KSState, NTStatus)

    public var description: String {
        switch self {
        case .buffer(let s, let r): "the buffer request (\(r) bytes) failed with \(s)"
        case .bufferSmallerThanAsked(let a, let r):
            "the miniport's buffer of \(a) bytes is smaller than the \(r) bytes asked for; WASAPI does not use such a buffer (stream creation fails)"
        case .bufferNotWholeFrames(let a, let b): "the miniport's buffer of \(a) bytes is not a whole number of \(b)-byte frames"
        case .registration(let s): "KSPROPERTY_RTAUDIO_REGISTER_NOTIFICATION_EVENT failed with \(s)"
        case .state(let state, let s): "KSPROPERTY_CONNECTION_STATE \(state) failed with \(s)"
        }
    }
}

/// The client's reckoning of how long its stream has run since it started
/// it: RUN time of the runs that ended (PAUSE or STOP) plus the current one's.
/// What the position offset cannot say (how many whole laps the device made
/// while the client was kept from reading it) the time run says.
struct RunClock: BitwiseCopyable {
    /// Bumped at each RUN and each PAUSE the client asks for; odd while the stream runs.
    var epoch: UInt64 = 0
    /// When the current RUN was asked for (the device moved on from then).
    var start: UInt64 = 0
    /// Nanoseconds of the runs that ended.
    var completed: UInt64 = 0

    var isRunning: Bool { epoch & 1 == 1 }

    /// Nanoseconds run by `time`.
    func ran(at time: UInt64) -> UInt64 { completed &+ (isRunning && time > start ? time - start : 0) }

    /// This run ended at `time`.
    func paused(at time: UInt64) -> RunClock { RunClock(epoch: epoch &+ 1, start: start, completed: ran(at: time)) }
}
