import CWaveRTShim
import Glibc
import Synchronization

/// The cyclic buffer engine: one thread of work serving every running stream
/// (not a thread per stream).
///
/// Each pass moves the DMA transfers that are due into each stream's sink,
/// updates the position words, fires the notifications that are due and runs
/// the timers that are due; then the engine sleeps until the earliest next
/// deadline. Deadlines are exact (a notification's is the first nanosecond at
/// which its frame has elapsed), never rounded to a tick.
///
/// Who runs the passes depends on the timebase's host clock:
/// - monotonic: a real-time thread that sleeps to absolute deadlines
///   (`FUTEX_WAIT_BITSET` on CLOCK_MONOTONIC, so control calls can wake it early),
///   with its timer slack lowered to 1 ns and SCHED_FIFO when the system grants it;
/// - virtual: whoever calls ``VirtualClock/advance(to:)``, synchronously, at each deadline.
public final class AudioEngine: VirtualClockClient, @unchecked Sendable {
    public let timebase: any Timebase
    public static let streamCapacity = 256
    public static let timerCapacity = 64

    private let streamSlots: UnsafeMutablePointer<Atomic<UInt>>
    private let timerSlots: UnsafeMutablePointer<Atomic<UInt>>
    private let inPass = Atomic<Bool>(false)
    /// One past the highest slot ever used: passes scan no further.
    private let streamSlotsInUse = Atomic<Int>(0)
    private let timerSlotsInUse = Atomic<Int>(0)
    private let lastServiced = Atomic<UInt64>(0)
    private let passes = Atomic<UInt64>(0)
    private let wakeWord: UnsafeMutablePointer<UInt32>
    private let control = Mutex(ControlState())
    private struct ControlState {
        var streams: [ObjectIdentifier: EngineStream] = [:]
        var timers: [ObjectIdentifier: EngineTimer] = [:]
        var retiredTimers: [EngineTimer] = []
    }

    private let realTime: RealTimeThreadConfiguration
    private var thread: RealTimeThread?
    /// Wake-up lateness of the real-time thread (actual minus planned), nanoseconds.
    public let wakeLatencyRing = SPSCRing<UInt64>(capacity: 1 << 16)

    /// - Parameter realTime: how the real-time thread asks for priority (monotonic host clock only).
    public init(timebase: any Timebase = MonotonicTimebase.shared, realTime: RealTimeThreadConfiguration = .init()) {
        self.timebase = timebase
        self.realTime = realTime
        streamSlots = .allocate(capacity: Self.streamCapacity)
        for i in 0..<Self.streamCapacity { (streamSlots + i).initialize(to: Atomic(0)) }
        timerSlots = .allocate(capacity: Self.timerCapacity)
        for i in 0..<Self.timerCapacity { (timerSlots + i).initialize(to: Atomic(0)) }
        wakeWord = .allocate(capacity: 1)
        wakeWord.initialize(to: 0)
        if case .virtual(let clock) = timebase.hostClock { clock.attach(self) }
    }

    deinit {
        shutdown()
        streamSlots.deinitialize(count: Self.streamCapacity)
        streamSlots.deallocate()
        timerSlots.deinitialize(count: Self.timerCapacity)
        timerSlots.deallocate()
        wakeWord.deallocate()
    }

    // MARK: Streams and timers (control path)

    /// Adds a stream: prepares its sink or source and starts its DMA controller.
    /// The stream stays in whatever KSSTATE it is in; the engine serves it from its next pass.
    public func add(_ stream: EngineStream) throws(EngineError) {
        guard stream.timebase === timebase else { throw .timebaseMismatch(stream: stream.name) }
        do {
            try stream.sink?.prepare(format: stream.format)
            try stream.source?.prepare(format: stream.format)
        } catch {
            throw .sink(stream: stream.name, reason: "\(error)")
        }
        let result: EngineError? = control.withLock { c in
            if c.streams[ObjectIdentifier(stream)] != nil { return .alreadyAdded(stream: stream.name) }
            guard let slot = (0..<Self.streamCapacity).first(where: { streamSlots[$0].load(ordering: .relaxed) == 0 }) else {
                return .tooManyStreams(limit: Self.streamCapacity)
            }
            c.streams[ObjectIdentifier(stream)] = stream
            stream.engine = self
            stream.dma.start()
            streamSlots[slot].store(UInt(bitPattern: Unmanaged.passUnretained(stream).toOpaque()), ordering: .sequentiallyConsistent)
            if slot >= streamSlotsInUse.load(ordering: .relaxed) { streamSlotsInUse.store(slot + 1, ordering: .sequentiallyConsistent) }
            return nil
        }
        if let result { throw result }
        startThreadIfNeeded()
        wake()
    }

    /// Removes a stream; when this returns the engine no longer touches it.
    public func remove(_ stream: EngineStream) {
        let removed = control.withLock { c -> Bool in
            guard c.streams.removeValue(forKey: ObjectIdentifier(stream)) != nil else { return false }
            let bits = UInt(bitPattern: Unmanaged.passUnretained(stream).toOpaque())
            for i in 0..<Self.streamCapacity where streamSlots[i].load(ordering: .relaxed) == bits {
                streamSlots[i].store(0, ordering: .sequentiallyConsistent)
            }
            return true
        }
        guard removed else { return }
        quiesce()
        stream.dma.stop()
        stream.engine = nil
        stream.sink?.finish()
        stream.source?.finish()
    }

    public var streams: [EngineStream] { control.withLock { Array($0.streams.values) } }

    /// Runs `handler` on the engine thread every `interval` nanoseconds of stream
    /// time, first at `start` (default: now + interval). What a timer-driven client uses.
    @discardableResult
    public func schedule(every interval: UInt64, startingAt start: UInt64? = nil,
                         _ handler: @escaping @Sendable (UInt64) -> Void) -> EngineTimer
    {
        let timer = EngineTimer(interval: max(1, interval), first: start ?? (timebase.now + interval), handler: handler)
        control.withLock { c in
            guard let slot = (0..<Self.timerCapacity).first(where: { timerSlots[$0].load(ordering: .relaxed) == 0 }) else {
                preconditionFailure("more than \(Self.timerCapacity) engine timers")
            }
            c.timers[ObjectIdentifier(timer)] = timer
            timerSlots[slot].store(UInt(bitPattern: Unmanaged.passUnretained(timer).toOpaque()), ordering: .sequentiallyConsistent)
            if slot >= timerSlotsInUse.load(ordering: .relaxed) { timerSlotsInUse.store(slot + 1, ordering: .sequentiallyConsistent) }
        }
        startThreadIfNeeded()
        wake()
        return timer
    }

    public func cancel(_ timer: EngineTimer) {
        control.withLock { c in
            guard c.timers.removeValue(forKey: ObjectIdentifier(timer)) != nil else { return }
            let bits = UInt(bitPattern: Unmanaged.passUnretained(timer).toOpaque())
            for i in 0..<Self.timerCapacity where timerSlots[i].load(ordering: .relaxed) == bits {
                timerSlots[i].store(0, ordering: .sequentiallyConsistent)
            }
            c.retiredTimers.append(timer)  // a pass in flight may still hold it
        }
        quiesce()
        control.withLock { $0.retiredTimers.removeAll() }
    }

    /// Waits until no pass is in flight (a pass that starts later sees the current slots).
    /// Must not be called from the engine thread itself (a handler): it returns at once there.
    func quiesce() {
        if RealTimeThread.isCurrentEngineThread { return }
        if case .virtual = timebase.hostClock { return }
        while inPass.load(ordering: .sequentiallyConsistent) { sched_yield() }
    }

    /// Makes the real-time thread recompute its next deadline now.
    func wake() {
        _ = wrt_atomic_fetch_add_u32(wakeWord, 1)
        _ = wrt_futex_wake(wakeWord, 1)
    }

    // MARK: Passes (engine thread)

    /// The earliest host-clock deadline of any stream or timer.
    public func nextDeadline() -> UInt64? {
        var earliest: UInt64?
        forEachStream { s in
            if let d = s.nextDeadline(), d < (earliest ?? .max) { earliest = d }
        }
        forEachTimer { t in
            if t.next < (earliest ?? .max) { earliest = t.next }
        }
        guard let earliest else { return nil }
        // Never the past: a deadline already serviced would spin the caller.
        return max(timebase.hostTime(for: earliest), lastServiced.load(ordering: .relaxed) + 1)
    }

    /// One pass at host time `time`.
    public func service(hostTime time: UInt64) {
        inPass.store(true, ordering: .sequentiallyConsistent)
        let now = timebase.now
        forEachStream { $0.service(now: now) }
        forEachTimer { t in
            if t.next <= now {
                t.handler(now)
                // Keep the timer's grid; skip ticks that are already past.
                t.next += ((now - t.next) / t.interval + 1) * t.interval
            }
        }
        lastServiced.store(time, ordering: .relaxed)
        passes.add(1, ordering: .relaxed)
        inPass.store(false, ordering: .sequentiallyConsistent)
    }

    /// Passes made so far.
    public var passCount: UInt64 { passes.load(ordering: .relaxed) }

    @inline(__always)
    private func forEachStream(_ body: (EngineStream) -> Void) {
        for i in 0..<streamSlotsInUse.load(ordering: .sequentiallyConsistent) {
            let bits = streamSlots[i].load(ordering: .sequentiallyConsistent)
            if bits == 0 { continue }
            Unmanaged<EngineStream>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)._withUnsafeGuaranteedRef(body)
        }
    }

    @inline(__always)
    private func forEachTimer(_ body: (EngineTimer) -> Void) {
        for i in 0..<timerSlotsInUse.load(ordering: .sequentiallyConsistent) {
            let bits = timerSlots[i].load(ordering: .sequentiallyConsistent)
            if bits == 0 { continue }
            Unmanaged<EngineTimer>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)._withUnsafeGuaranteedRef(body)
        }
    }

    // MARK: The real-time thread

    /// How the real-time thread fared: whether SCHED_FIFO and the timer slack took.
    /// Kept after ``shutdown()`` for reports.
    public private(set) var realTimeStatus: RealTimeThread.Status?

    private func startThreadIfNeeded() {
        guard case .monotonic = timebase.hostClock else { return }
        control.withLock { _ in
            guard thread == nil else { return }
            let t = RealTimeThread(configuration: realTime) { [unowned self] thread in self.run(on: thread) }
            thread = t
            realTimeStatus = t.status
        }
    }

    private func run(on thread: RealTimeThread) {
        while !thread.shouldStop {
            let token = wrt_atomic_load_u32(wakeWord)
            let planned = nextDeadline()
            let now = wrt_monotonic_ns()
            if let planned, planned <= now {
                service(hostTime: now)
                wakeLatencyRing.push(now - planned)
                continue
            }
            // Sleep to the absolute deadline, at most 100 ms (a control call wakes us sooner).
            let deadline = min(planned ?? .max, now + 100_000_000)
            _ = wrt_futex_wait_until(wakeWord, token, deadline)
        }
    }

    /// Stops the real-time thread (if any). Streams stay where they are.
    public func shutdown() {
        let t: RealTimeThread? = control.withLock { _ in
            let t = thread
            thread = nil
            return t
        }
        if let t {
            t.requestStop()
            wake()
            t.join()
        }
    }
}

/// A periodic callback on the engine thread.
public final class EngineTimer: @unchecked Sendable {
    public let interval: UInt64
    let handler: @Sendable (UInt64) -> Void
    var next: UInt64  // engine thread only

    init(interval: UInt64, first: UInt64, handler: @escaping @Sendable (UInt64) -> Void) {
        self.interval = interval
        self.next = first
        self.handler = handler
    }
}
