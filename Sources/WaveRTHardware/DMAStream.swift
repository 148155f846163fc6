import Glibc
import Synchronization
import WaveRTDMA
import WaveRTEngine
import WaveRTMemory

/// The part every emulated audio DMA engine shares: an HD Audio stream
/// descriptor, a channel of the generic bus master, the 8237 channel an
/// SB16 DSP drives. It turns the engine's run state and the timebase into
/// positions, interrupt-point crossings and data movement; the device around
/// it turns those into register values and interrupt lines.
///
/// **Positions are pure arithmetic on the timebase.** While running, the link
/// (the DAC or ADC side) moves `floor(elapsed × rate / 10⁹)` frames; the DMA
/// fetch position of a render engine leads it by the FIFO, in whole bursts
/// (the engine keeps its FIFO full), and a capture engine writes a burst to
/// memory once its FIFO holds one. A register read at any instant computes
/// these from ``timing`` and the clock, lock-free, so it sees the device as
/// it is at that instant, never as it was at the last pass.
///
/// **Interrupt points** are offsets in the DMA program's cycle (the end of a
/// BDL entry with IOC, a DSP block end). The engine reports each crossing,
/// with its exact time, to ``onInterruptPoint`` during a pass: render when
/// the fetch passes the point (HD Audio output raises IOC when the last byte
/// is fetched into the FIFO), capture when the write-back does.
///
/// **Data** moves in passes: at each one the engine copies, through its
/// ``DMAController``, everything due up to the fetch (render) or write-back
/// (capture) position, and hands it to the sink or takes it from the source.
///
/// **Threads.** ``start(at:)``, ``stop(at:)``, ``reset()`` and ``load(_:)``
/// are register-write paths (any thread; writers serialise on ``timing``);
/// position reads are lock-free from any thread; ``nextDeadline()`` and
/// ``service(now:)`` run on the processor's pass, which alone touches the
/// transfer cursor. A new program is published atomically and the old one is
/// released only once no pass can still be using it.
public final class DMAStream: @unchecked Sendable {
    public enum Direction: Sendable, Hashable { case render, capture }

    /// What a register write sets and every reader needs, published as one value.
    public struct Timing: BitwiseCopyable, Sendable, Equatable {
        /// The link is moving (RUN set and not blocked by stream synchronisation).
        public var running = false
        /// The FIFO has been filled since the last reset (a render engine prefetches on its first RUN).
        public var primed = false
        /// When the FIFO was filled: before it, a render engine has moved nothing.
        public var primeTime: UInt64 = 0
        /// When the current running interval began.
        public var startTime: UInt64 = 0
        /// Link bytes (linear since the last reset) at `startTime`; the frozen position when stopped.
        public var startBytes: UInt64 = 0
        /// After a stop, RUN reads 1 until this time (the engine stops at the next frame boundary).
        public var stopCompleteTime: UInt64 = 0
        public var rate: UInt64 = 48_000
        public var blockAlign: UInt64 = 4
        public var fifoBytes: UInt64 = 0
        public var burstBytes: UInt64 = 1
        /// Bumped by every reset: the pass rewinds its cursors when it sees a new one.
        public var generation: UInt64 = 0
    }

    /// Where the interrupt points lie: offsets in (0, `period`] of the DMA cycle.
    public struct InterruptSchedule: Sendable, Hashable {
        public var period: UInt64
        public var points: [UInt64]
        public init(period: UInt64, points: [UInt64]) {
            self.period = period
            self.points = points.filter { $0 > 0 && $0 <= period }.sorted()
        }
        public static let none = InterruptSchedule(period: 1, points: [])
    }

    /// A loaded program: the data mover and where its interrupts fall.
    public final class Program: @unchecked Sendable {
        public let dma: DMAController
        public let schedule: InterruptSchedule
        /// The schedule's points and period where the pass reads them without copying an array.
        let points: UnsafeMutableBufferPointer<UInt64>
        let period: UInt64
        public init(dma: DMAController, schedule: InterruptSchedule) {
            self.dma = dma
            self.schedule = schedule
            points = .allocate(capacity: schedule.points.count)
            _ = points.initialize(from: schedule.points)
            period = schedule.period
        }
        deinit { points.deallocate() }
    }

    public let direction: Direction
    public let timing: Seqlock<Timing>
    private let timebase: any Timebase
    private let passGuard: PassGuard
    private let programSlot = Atomic<UInt>(0)
    /// Set by start, cleared by reset: whether RUN may read 1 (a fast path for idle engines' registers).
    private let started = Atomic<Bool>(false)
    private let retired = Mutex<[Unmanaged<Program>]>([])

    /// Where render data goes and capture data comes from.
    public let sink: (any AudioSink)?
    public let source: (any AudioSource)?

    /// Called during a pass when the engine crosses interrupt point `index` of
    /// its schedule, with the exact time of the crossing. Set once, before the engine runs.
    public var onInterruptPoint: (@Sendable (_ index: Int, _ time: UInt64) -> Void)? {
        get { hooks.pointee.onInterruptPoint }
        set { hooks.pointee.onInterruptPoint = newValue }
    }
    /// Called during a pass when a transfer met memory it may not touch (the
    /// FIFO runs dry or overflows: FIFOE on HD Audio). Set once, before the engine runs.
    public var onTransferFault: (@Sendable (_ time: UInt64) -> Void)? {
        get { hooks.pointee.onTransferFault }
        set { hooks.pointee.onTransferFault = newValue }
    }
    /// Told of every transfer (glitch monitors, traces). Set once, before the engine runs.
    public var observer: (any DMAStreamObserver)? {
        get { hooks.pointee.observer }
        set { hooks.pointee.observer = newValue }
    }
    /// Where the engine records its transfers and interrupt points for a trace
    /// (the machine's recorder; nil: not tracing). Set once, before the engine runs.
    public var trace: TraceRecorder? {
        get { hooks.pointee.trace }
        set { hooks.pointee.trace = newValue }
    }
    /// The set-once hooks, behind a pointer: the pass reads them without exclusivity checks.
    private struct Hooks {
        var onInterruptPoint: (@Sendable (_ index: Int, _ time: UInt64) -> Void)?
        var onTransferFault: (@Sendable (_ time: UInt64) -> Void)?
        var observer: (any DMAStreamObserver)?
        var trace: TraceRecorder?
    }
    /// The stream whose driver call last started the engine (a trace's track; 0: none yet).
    private let traceStream = Atomic<UInt32>(0)
    private let hooks: UnsafeMutablePointer<Hooks> = {
        let p = UnsafeMutablePointer<Hooks>.allocate(capacity: 1)
        p.initialize(to: Hooks())
        return p
    }()

    /// Wakes the processor that services this engine (set once, when its device is attached).
    public func setWakeHandler(_ wake: @escaping @Sendable () -> Void) {
        wakeBox.pointee?.release()
        wakeBox.pointee = .passRetained(WakeBox(wake))
    }
    final class WakeBox: @unchecked Sendable {
        let call: @Sendable () -> Void
        init(_ call: @escaping @Sendable () -> Void) { self.call = call }
    }
    private let wakeBox: UnsafeMutablePointer<Unmanaged<WakeBox>?> = {
        let p = UnsafeMutablePointer<Unmanaged<WakeBox>?>.allocate(capacity: 1)
        p.initialize(to: nil)
        return p
    }()
    /// The deadline moved earlier: a sleeping processor must look again.
    @inline(__always)
    private func wakeProcessor() { wakeBox.pointee?._withUnsafeGuaranteedRef { $0.call() } }

    /// How often a running engine without interrupt points due moves its data.
    public var dataIntervalNanoseconds: UInt64 {
        get { dataInterval.load(ordering: .relaxed) }
        set { dataInterval.store(newValue, ordering: .relaxed) }
    }
    private let dataInterval = Atomic<UInt64>(10_000_000)

    // Pass-owned state, behind a pointer (no exclusivity checks on the real-time path).
    private struct Pass {
        var generation: UInt64 = .max
        var programBits: UInt = 0
        var moved: UInt64 = 0
        var pointIndex = 0
        var pointLap: UInt64 = 0
        var lastService: UInt64 = 0
        var faults: UInt64 = 0
        var lastTiming = Timing()
        /// nextDeadline's last answer, valid while neither the timing nor the pass state changed.
        var cachedDeadline: UInt64? = nil
        var cachedVersion: UInt64 = .max
        var cachedProgramBits: UInt = 0
        /// The timing version the last service saw.
        var servicedVersion: UInt64 = .max
    }
    private let pass: UnsafeMutablePointer<Pass>
    /// The linear DMA position of the next interrupt point (.max: none), for
    /// register reads on other threads that must see a crossing the pass has
    /// not processed yet.
    private let nextPoint = Atomic<UInt64>(.max)
    private let scratch: UnsafeMutableRawPointer
    private let scratchBytes = 64 * 1024

    public init(direction: Direction, timebase: any Timebase, passGuard: PassGuard,
                sink: (any AudioSink)? = nil, source: (any AudioSource)? = nil)
    {
        self.direction = direction
        self.timebase = timebase
        self.passGuard = passGuard
        self.sink = sink
        self.source = source
        timing = Seqlock(Timing())
        pass = .allocate(capacity: 1)
        pass.initialize(to: Pass())
        scratch = .allocate(byteCount: scratchBytes, alignment: 64)
    }

    deinit {
        hooks.deinitialize(count: 1)
        hooks.deallocate()
        wakeBox.pointee?.release()
        wakeBox.deallocate()
        let bits = programSlot.load(ordering: .relaxed)
        if bits != 0 { Unmanaged<Program>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).release() }
        for u in retired.withLock({ $0 }) { u.release() }
        pass.deinitialize(count: 1)
        pass.deallocate()
        scratch.deallocate()
    }

    // MARK: Register-write paths

    /// Publishes a new program (a BDL read at RUN, an 8237 reprogrammed). The
    /// pass adopts it at its next service, continuing at the current position
    /// unless a reset came in between. The old program is released once no
    /// pass can be using it (at once from the control path; later when this is
    /// called from inside a pass).
    public func load(_ program: Program?) {
        program?.dma.isRunning = currentTiming().running
        let bits = program.map { UInt(bitPattern: Unmanaged.passRetained($0).toOpaque()) } ?? 0
        let old = programSlot.exchange(bits, ordering: .acquiringAndReleasing)
        wakeProcessor()
        guard old != 0 else { return }
        let u = Unmanaged<Program>.fromOpaque(UnsafeRawPointer(bitPattern: old)!)
        if !passGuard.isCurrentThreadInPass && passGuard.waitForQuiescence() {
            u.release()
            for r in retired.withLock({ list in defer { list.removeAll() }; return list }) { r.release() }
        } else {
            retired.withLock { $0.append(u) }
        }
    }

    /// Whether a program is loaded (lock-free, any thread).
    @inline(__always)
    public var hasProgram: Bool { programSlot.load(ordering: .acquiring) != 0 }

    /// Whether the engine has been started since its last reset (it may move or read RUN = 1).
    @inline(__always)
    public var hasStarted: Bool { started.load(ordering: .acquiring) }

    /// The program the engine runs (the last one loaded).
    public var program: Program? {
        let bits = programSlot.load(ordering: .acquiring)
        return bits == 0 ? nil : Unmanaged<Program>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).takeUnretainedValue()
    }

    /// Sets the format the link runs at (frames per second, bytes per frame),
    /// the FIFO and the burst. Takes effect at the next start.
    public func configure(rate: Int, blockAlign: Int, fifoBytes: Int, burstBytes: Int) {
        timing.update { t in
            t.rate = UInt64(max(1, rate))
            t.blockAlign = UInt64(max(1, blockAlign))
            t.fifoBytes = UInt64(max(0, fifoBytes))
            t.burstBytes = UInt64(max(1, burstBytes))
        }
    }

    /// The link starts moving at `time` (RUN set, or stream synchronisation released).
    public func start(at time: UInt64) {
        // A driver starts an engine from a call made for a stream (SetState, or its DPC): the trace's track.
        let caller = TraceRecorder.streamOfCallingThread
        if caller != 0 { traceStream.store(caller, ordering: .relaxed) }
        started.store(true, ordering: .releasing)
        program?.dma.isRunning = true
        timing.update { t in
            guard !t.running else { return }
            t.running = true
            if !t.primed {
                t.primed = true
                t.primeTime = time
            }
            t.startTime = time
        }
        wakeProcessor()
    }

    /// The link stops at `time`: the position freezes at the frame reached, and
    /// RUN reads 1 until the next frame boundary.
    public func stop(at time: UInt64) {
        program?.dma.isRunning = false
        timing.update { t in
            guard t.running else { return }
            let frames = time > t.startTime ? PositionMath.frames(inNanoseconds: time - t.startTime, rate: t.rate) : 0
            t.startBytes += frames * t.blockAlign
            let next = PositionMath.nanoseconds(untilFrames: frames + 1, rate: t.rate)
            t.stopCompleteTime = next > .max - t.startTime ? .max : t.startTime + next
            t.running = false
        }
    }

    /// Back to position 0 with an empty FIFO (a stream or controller reset).
    public func reset() {
        nextPoint.store(.max, ordering: .releasing)
        started.store(false, ordering: .releasing)
        timing.update { t in
            t.running = false
            t.primed = false
            t.startBytes = 0
            t.stopCompleteTime = 0
            t.generation &+= 1
        }
    }

    // MARK: Positions (any thread, lock-free)

    /// The published timing (the writer's last value if a read had to give up).
    @inline(__always)
    public func currentTiming() -> Timing { timing.read() ?? pass.pointee.lastTiming }

    /// Link bytes since the last reset at `time`: what LPIB counts (modulo the cyclic buffer).
    @inline(__always)
    public static func linkBytes(_ t: Timing, at time: UInt64) -> UInt64 {
        guard t.running, time > t.startTime else { return t.startBytes }
        return t.startBytes &+ PositionMath.frames(inNanoseconds: time - t.startTime, rate: t.rate) &* t.blockAlign
    }

    /// Bytes the DMA has moved between memory and the FIFO since the last reset, at `time`.
    @inline(__always)
    public func dmaBytes(_ t: Timing, at time: UInt64) -> UInt64 {
        let link = Self.linkBytes(t, at: time)
        switch direction {
        case .render:
            guard t.primed, time >= t.primeTime else { return 0 }
            let f = link &+ t.fifoBytes
            return f - f % t.burstBytes
        case .capture:
            return link - link % t.burstBytes
        }
    }

    /// Whether RUN still reads 1 at `time` (running, or stopping at the end of the current frame).
    @inline(__always)
    public static func isActive(_ t: Timing, at time: UInt64) -> Bool {
        t.running || time < t.stopCompleteTime
    }

    /// The first time at which the DMA position reaches linear byte `target`
    /// (nil when it will not while the timing holds: stopped, or already past).
    public func time(whenDMAReaches target: UInt64, _ t: Timing) -> UInt64? {
        // Render: floor((link + fifo) / burst) * burst >= target  <=>  link >= ceil(target / burst) * burst - fifo.
        // Capture: floor(link / burst) * burst >= target          <=>  link >= ceil(target / burst) * burst.
        let b = t.burstBytes
        let rounded = (target / b + (target % b == 0 ? 0 : 1)) * b
        var linkNeeded: UInt64
        switch direction {
        case .render:
            guard t.primed || t.running else { return nil }
            linkNeeded = rounded > t.fifoBytes ? rounded - t.fifoBytes : 0
        case .capture:
            linkNeeded = rounded
        }
        if linkNeeded <= t.startBytes { return t.running ? t.startTime : nil }
        guard t.running else { return nil }
        linkNeeded -= t.startBytes
        let frames = linkNeeded / t.blockAlign + (linkNeeded % t.blockAlign == 0 ? 0 : 1)
        let ns = PositionMath.nanoseconds(untilFrames: frames, rate: t.rate)
        return ns > .max - t.startTime ? .max : t.startTime + ns
    }

    // MARK: The pass (processor thread)

    /// When the engine next has work: an interrupt point to cross, data to move, or nothing (stopped and drained).
    public func nextDeadline() -> UInt64? {
        let bits = programSlot.load(ordering: .acquiring)
        guard bits != 0 else { return nil }
        let version = timing.version
        if pass.pointee.cachedVersion == version && pass.pointee.cachedProgramBits == bits { return pass.pointee.cachedDeadline }
        let p = pass.pointee
        let t = currentTiming()
        if t.generation != p.generation || bits != p.programBits { return Deadline.now }
        guard t.primed || t.running else { return cache(nil, version, bits) }
        if !t.running {
            // Stopped: drain what was due up to the frozen position, then nothing.
            return dmaBytes(t, at: t.startTime) > p.moved ? Deadline.now : cache(nil, version, bits)
        }
        var deadline = max(t.startTime, p.lastService) &+ dataIntervalNanoseconds
        if p.moved == 0 && p.lastService < t.startTime { deadline = t.startTime }  // prime the FIFO at once
        Unmanaged<Program>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)._withUnsafeGuaranteedRef { program in
            if program.points.count > 0 {
                let point = p.pointLap &* program.period &+ program.points[p.pointIndex]
                if let due = time(whenDMAReaches: point, t) { deadline = min(deadline, due) }
            }
        }
        return cache(deadline, version, bits)
    }

    @inline(__always)
    private func cache(_ deadline: UInt64?, _ version: UInt64, _ bits: UInt) -> UInt64? {
        pass.pointee.cachedDeadline = deadline
        pass.pointee.cachedVersion = version
        pass.pointee.cachedProgramBits = bits
        return deadline
    }

    /// Moves the data due at `now` and reports the interrupt points crossed.
    /// Allocation-free and lock-free.
    public func service(now: UInt64) {
        let bits = programSlot.load(ordering: .acquiring)
        guard bits != 0 else { return }
        // Already serviced at this instant with this timing and program: nothing new is due.
        let version = timing.version
        if pass.pointee.lastService == now && pass.pointee.servicedVersion == version && pass.pointee.programBits == bits { return }
        Unmanaged<Program>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)._withUnsafeGuaranteedRef { program in
            let t = currentTiming()
            pass.pointee.lastTiming = t
            if t.generation != pass.pointee.generation {
                pass.pointee.generation = t.generation
                pass.pointee.programBits = bits
                pass.pointee.moved = 0
                pass.pointee.pointIndex = 0
                pass.pointee.pointLap = 0
                program.dma.reset()
                nextPoint.store(.max, ordering: .releasing)
            } else if bits != pass.pointee.programBits {
                // A program reloaded without a reset (a BDL read again at RUN): carry on where we are.
                pass.pointee.programBits = bits
                adoptPosition(program)
            }
            let points = program.points, period = program.period
            let target = dmaBytes(t, at: now)
            while pass.pointee.moved < target {
                var next = target
                var crossing: UInt64?
                if points.count > 0 {
                    let point = pass.pointee.pointLap &* period &+ points[pass.pointee.pointIndex]
                    if point <= target {
                        next = max(point, pass.pointee.moved)
                        crossing = point
                    }
                }
                move(program.dma, count: next - pass.pointee.moved, at: now)
                if let point = crossing {
                    let when = time(whenDMAReaches: point, t) ?? now
                    if let trace = hooks.pointee.trace {
                        trace.record(.interruptPoint, stream: traceStream.load(ordering: .relaxed), at: min(when, now),
                                     UInt64(pass.pointee.pointIndex), point)
                    }
                    hooks.pointee.onInterruptPoint?(pass.pointee.pointIndex, min(when, now))
                    pass.pointee.pointIndex += 1
                    if pass.pointee.pointIndex == points.count {
                        pass.pointee.pointIndex = 0
                        pass.pointee.pointLap += 1
                    }
                }
            }
            publishNextPoint(program)
            let faults = program.dma.useAfterFreeCount &+ program.dma.unallocatedCount
            if faults != pass.pointee.faults {
                pass.pointee.faults = faults
                hooks.pointee.onTransferFault?(now)
            }
            pass.pointee.lastService = now
            pass.pointee.servicedVersion = version
            pass.pointee.cachedVersion = .max  // the pass state moved: recompute the deadline
        }
    }

    private func publishNextPoint(_ program: Program) {
        let value = program.points.count == 0 ? UInt64.max
            : pass.pointee.pointLap &* program.period &+ program.points[pass.pointee.pointIndex]
        nextPoint.store(value, ordering: .releasing)
    }

    /// When the DMA crossed the next interrupt point the pass has not processed
    /// yet, if it has by `time`: how a status register read between passes sees
    /// an interrupt cause the hardware would already show.
    @inline(__always)
    public func unprocessedCrossing(at time: UInt64) -> UInt64? {
        unprocessedCrossing(at: time, currentTiming())
    }

    /// As ``unprocessedCrossing(at:)``, with the timing the caller already read.
    @inline(__always)
    public func unprocessedCrossing(at time: UInt64, _ t: Timing) -> UInt64? {
        let point = nextPoint.load(ordering: .acquiring)
        guard point != .max else { return nil }
        guard dmaBytes(t, at: time) >= point, let when = self.time(whenDMAReaches: point, t) else { return nil }
        return when
    }

    /// Linear bytes the DMA has moved since the last reset (pass-owned; a figure for reports).
    public var bytesMoved: UInt64 { pass.pointee.moved }

    private func adoptPosition(_ program: Program) {
        let moved = pass.pointee.moved
        let cycle = UInt64(max(1, program.dma.cycleLength))
        program.dma.seek(toCycleOffset: Int(moved % cycle))
        let s = program.schedule
        guard !s.points.isEmpty else { return }
        var lap = moved / s.period
        let inLap = moved % s.period
        var index = s.points.firstIndex { $0 > inLap } ?? s.points.count
        if index == s.points.count {
            index = 0
            lap += 1
        }
        pass.pointee.pointIndex = index
        pass.pointee.pointLap = lap
    }

    @inline(__always)
    private func move(_ dma: DMAController, count: UInt64, at now: UInt64) {
        if let trace = hooks.pointee.trace, count > 0 {
            trace.record(direction == .render ? .dmaFetch : .dmaWrite, stream: traceStream.load(ordering: .relaxed), at: now,
                         pass.pointee.moved, count)
        }
        var remaining = Int(count)
        while remaining > 0 {
            let n = min(remaining, scratchBytes)
            let start = pass.pointee.moved
            switch direction {
            case .render:
                _ = dma.read(into: scratch, count: n)
                hooks.pointee.observer?.transferred(self, linearStart: start, bytes: n, at: now, data: UnsafeRawBufferPointer(start: scratch, count: n))
                sink?.consume(UnsafeRawBufferPointer(start: scratch, count: n))
            case .capture:
                if let source { source.produce(into: UnsafeMutableRawBufferPointer(start: scratch, count: n)) } else { memset(scratch, 0, n) }
                _ = dma.write(from: scratch, count: n)
                hooks.pointee.observer?.transferred(self, linearStart: start, bytes: n, at: now, data: UnsafeRawBufferPointer(start: scratch, count: n))
            }
            pass.pointee.moved = start + UInt64(n)
            remaining -= n
        }
    }
}

/// Told of every block a ``DMAStream`` moves, on the processor's pass: what a
/// glitch monitor or a trace needs. Must not block, lock or allocate.
public protocol DMAStreamObserver: AnyObject, Sendable {
    /// `bytes` bytes starting at linear DMA position `linearStart` (since the
    /// engine's last reset) moved at pass time `now`; `data` is what moved.
    func transferred(_ stream: DMAStream, linearStart: UInt64, bytes: Int, at now: UInt64, data: UnsafeRawBufferPointer)
}
