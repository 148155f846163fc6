import CWaveRTShim
import Glibc
import Synchronization
import WaveRTEngine
import WaveRTHardware
import WaveRTMemory

/// One emulated computer: physical memory, the buses its devices sit on, one
/// processor, and the kernel state a miniport touches (DPC queue, timers,
/// connected interrupts, pool, verifier).
///
/// **The processor** is a ``Scheduler`` whose only work item is the machine.
/// Each pass, at a moment of the timebase:
/// 1. the devices do what is due (DMA, status bits, interrupt causes);
/// 2. each connected interrupt whose line is asserted is taken: its ISRs run
///    at the line's DIRQL under its spin lock, until the line drops;
/// 3. queued DPCs run at DISPATCH_LEVEL, in the order they were queued;
/// 4. timers due at the current system tick expire (KTIMER: signalled and its
///    DPC queued; EX_TIMER: its callback at DISPATCH_LEVEL);
/// and 2–4 repeat until nothing more is pending. On the monotonic clock that
/// is a real-time thread ("wavert-cpu"); on a ``VirtualClock`` it is the
/// thread advancing the clock, at exactly each deadline.
///
/// **The system timer** ticks every 15.625 ms (ordinary timers expire on tick
/// boundaries, never early), or every millisecond while a high-resolution
/// timer is set (`EX_TIMER_HIGH_RESOLUTION`), or always, with
/// ``TimerResolution/high`` (a raised resolution, timeBeginPeriod(1)-style).
///
/// **Context.** Kernel DDIs are free functions, as in the WDK; they find
/// their machine through the calling thread (``current``), which the
/// processor's passes and the port's calls into a miniport set
/// (``withCurrent(_:)``).
public final class Machine: TimedWork, @unchecked Sendable {
    /// The system timer's resolution for a run.
    public enum TimerResolution: String, Sendable, CaseIterable, Codable {
        /// 15.625 ms ticks, 1 ms while a high-resolution timer is set.
        case standard = "default"
        /// 1 ms ticks throughout.
        case high
    }

    public static let standardTickNanoseconds: UInt64 = 15_625_000
    public static let highResolutionTickNanoseconds: UInt64 = 1_000_000
    /// `KeQueryPerformanceCounter`'s frequency: fixed at boot, the same on every processor (10 MHz).
    public static let performanceFrequency: UInt64 = 10_000_000

    public let timebase: any Timebase
    public let memory: PhysicalMemory
    public let bus = IOBus()
    public let scheduler: Scheduler
    public let verifier: Verifier
    public let pool: Pool
    public let ioSpace = IoSpace()
    public let timerResolution: TimerResolution
    /// Where the kernel, the devices, the port and the client record what they
    /// do for a trace (nil: not tracing; each emitter then pays a load and a branch).
    public let trace: TraceRecorder?
    /// Interrupt rounds per line and pass after which a line nobody acknowledges is masked.
    public static let stormLimit = 64

    package let interrupts: SlotTable<InterruptSync>
    package let timers: SlotTable<TimerObject>
    private let devices: SlotTable<DeviceBox>
    /// Serialises device passes: the processor's, and ``synchronizeDevices()`` from another thread.
    private let deviceLock = Mutex<Void>(())

    /// Runs `body` holding ``deviceLock``, telling ThreadSanitizer that the
    /// lock orders the device passes (Swift's Mutex is invisible to it: see
    /// `wrt_tsan_acquire` in CWaveRTShim). A call into an empty C function
    /// outside TSan builds.
    @inline(__always)
    private func withDeviceLock<R>(_ body: () -> R) -> R {
        deviceLock.withLock { _ in
            let token = UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque())
            wrt_tsan_acquire(token)
            defer { wrt_tsan_release(token) }
            return body()
        }
    }
    private let dpcHead = Atomic<UInt>(0)
    private let dpcsRun = Atomic<UInt64>(0)
    private let isrsRun = Atomic<UInt64>(0)
    private let streams = Atomic<UInt32>(0)

    final class DeviceBox: @unchecked Sendable {
        let work: any TimedWork
        init(_ work: any TimedWork) { self.work = work }
    }

    public init(timebase: any Timebase, memory: PhysicalMemory = PhysicalMemory(), timerResolution: TimerResolution = .standard,
                realTime: RealTimeThreadConfiguration = .init(fifoPriority: 70, name: "wavert-cpu"), trace: TraceRecorder? = nil)
    {
        self.timebase = timebase
        self.memory = memory
        self.timerResolution = timerResolution
        self.trace = trace
        scheduler = Scheduler(timebase: timebase, realTime: realTime)
        verifier = Verifier(timebase: timebase)
        pool = Pool()
        interrupts = SlotTable(capacity: 32, passGuard: scheduler.passGuard)
        timers = SlotTable(capacity: 256, passGuard: scheduler.passGuard)
        devices = SlotTable(capacity: 16, passGuard: scheduler.passGuard)
        scheduler.add(self)
    }

    deinit { scheduler.shutdown() }

    /// The pass guard of the processor: what device programs and kernel
    /// objects wait on before they free what a pass may still hold.
    public var passGuard: PassGuard { scheduler.passGuard }

    /// Adds a device's timed work (its DMA engines) to the processor.
    public func attach(device: any TimedWork) {
        device.setWakeHandler { [unowned(unsafe) scheduler] in if !scheduler.isCurrentThread { scheduler.wake() } }
        devices.insert(DeviceBox(device))
        scheduler.wake()
    }

    public func detach(device: any TimedWork) {
        let boxes = devices.elements.filter { $0.work === device }  // held until no pass can use them
        for box in boxes { devices.remove(box) }
        withDeviceLock {}  // a synchronizeDevices() that saw the slot has finished
        withExtendedLifetime(boxes) {}
    }

    /// Brings every device's DMA up to the present, from any thread.
    ///
    /// A deliberate emulation artifact: an emulated bus master moves bytes in
    /// bursts at the processor's passes (every few milliseconds when nothing
    /// else is due), not continuously as silicon does. So that code touching a
    /// DMA buffer from outside the processor (the audio engine's client, a
    /// test writing through the port's mapping) never overwrites a byte the
    /// hardware would already have fetched, it calls this first: every
    /// transfer due by now happens now, in order. Interrupt causes it raises
    /// are taken at the processor's next pass. Allocation-free; the lock it
    /// takes is shared only with the processor's device pass.
    public func synchronizeDevices() {
        let now = timebase.now
        withDeviceLock { devices.forEach { box in box.work.service(now: now) } }
        // A cause raised here is the processor's to take: end its sleep.
        if !scheduler.isCurrentThread && anyLineAsserted { scheduler.wake() }
    }

    /// A driver wrote a device register. From outside the processor (a
    /// SetState setting RUN, say) that may have given a device a deadline
    /// earlier than the one the processor sleeps to: it recomputes it now.
    @inline(__always)
    func registerWritten() {
        if !scheduler.isCurrentThread { scheduler.wake() }
    }

    /// Stops the processor thread. Kernel objects stay as they are.
    /// The processor lets go of the machine too (its work list held it), so a
    /// machine nothing else references is freed.
    public func shutdown() {
        scheduler.shutdown()
        scheduler.remove(self)
    }

    /// A new number for a stream, for verifier reports (the port names it).
    public func newStreamID(name: String) -> UInt32 {
        let id = streams.add(1, ordering: .relaxed).newValue
        verifier.name(stream: id, name)
        trace?.name(stream: id, name)
        return id
    }

    // MARK: Context

    /// The machine whose code the calling thread is running, if any.
    public static var current: Machine? {
        guard let p = wrt_machine_get() else { return nil }
        return Unmanaged<Machine>.fromOpaque(p).takeUnretainedValue()
    }

    /// Calls `body` with the current machine, borrowed (no reference counting:
    /// the register and port accessors' path), or returns nil when there is none.
    @inline(__always)
    public static func withCurrentBorrowed<R>(_ body: (Machine) -> R) -> R? {
        guard let p = wrt_machine_get() else { return nil }
        return Unmanaged<Machine>.fromOpaque(p)._withUnsafeGuaranteedRef(body)
    }

    /// Records `kind` on the current machine's trace, if it has one, at the
    /// calling thread's time: a TLS load and a branch when not tracing.
    @inline(__always)
    static func trace(_ kind: TraceEventKind, stream: UInt32, _ a: UInt64 = 0, _ b: UInt64 = 0) {
        guard let p = wrt_machine_get() else { return }
        Unmanaged<Machine>.fromOpaque(p)._withUnsafeGuaranteedRef { m in
            if let t = m.trace { t.record(kind, stream: stream, at: m.timebase.now, a, b) }
        }
    }

    /// Runs `body` with this machine current on the calling thread (restoring what was before).
    @inline(__always)
    public func withCurrent<R>(_ body: () throws -> R) rethrows -> R {
        let previous = wrt_machine_get()
        wrt_machine_set(Unmanaged.passUnretained(self).toOpaque())
        defer { wrt_machine_set(previous) }
        return try body()
    }

    // MARK: Debug output

    private let debugLines = Mutex<[String]>([])
    func appendDebugOutput(_ line: String) { debugLines.withLock { $0.append(line) } }
    /// What drivers printed with DbgPrint, oldest first.
    public var debugOutput: [String] { debugLines.withLock { $0 } }

    // MARK: Figures

    public var dpcCount: UInt64 { dpcsRun.load(ordering: .relaxed) }
    public var isrCount: UInt64 { isrsRun.load(ordering: .relaxed) }

    /// The tick the system timer has now.
    public var currentTickNanoseconds: UInt64 {
        if timerResolution == .high { return Self.highResolutionTickNanoseconds }
        var high = false
        timers.forEach { t in if t.highResolution && t.isArmed { high = true } }
        return high ? Self.highResolutionTickNanoseconds : Self.standardTickNanoseconds
    }

    // MARK: DPC queue (lock-free, any thread)

    /// Queues `dpc` (KeInsertQueueDpc's second half). Wakes the processor when called from another thread.
    func enqueue(_ dpc: KDpc) {
        push(UInt(bitPattern: Unmanaged.passRetained(dpc).toOpaque()))
        if !scheduler.isCurrentThread { scheduler.wake() }
    }

    /// Pushes a retained DPC onto the queue's stack.
    private func push(_ bits: UInt) {
        let dpc = Unmanaged<KDpc>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).takeUnretainedValue()
        var head = dpcHead.load(ordering: .relaxed)
        repeat {
            dpc.next.store(head, ordering: .relaxed)
            let (done, seen) = dpcHead.compareExchange(expected: head, desired: bits, ordering: .acquiringAndReleasing)
            if done { break }
            head = seen
        } while true
    }

    /// Takes the queued DPCs set up for stream `stream` (nil: every one) out of
    /// the queue without running them, as KeRemoveQueueDpc does, and returns how
    /// many were still queued: the teardown check that no DPC runs for a stream
    /// (or a driver) that is gone. The others stay queued. Control path.
    package func removeQueuedDpcs(ownedBy stream: UInt32?) -> Int {
        var node = dpcHead.exchange(0, ordering: .acquiringAndReleasing)
        var kept: [UInt] = []
        var removed = 0
        while node != 0 {
            let unmanaged = Unmanaged<KDpc>.fromOpaque(UnsafeRawPointer(bitPattern: node)!)
            let dpc = unmanaged.takeUnretainedValue()
            let next = dpc.next.load(ordering: .relaxed)
            if stream == nil || dpc.ownerStream == stream {
                if dpc.state.compareExchange(expected: KDpc.State.queued.rawValue, desired: KDpc.State.idle.rawValue,
                                             ordering: .acquiringAndReleasing).exchanged {
                    removed += 1
                } else {
                    _ = dpc.state.compareExchange(expected: KDpc.State.removedButLinked.rawValue, desired: KDpc.State.idle.rawValue,
                                                  ordering: .acquiringAndReleasing)
                }
                unmanaged.release()
            } else {
                kept.append(node)
            }
            node = next
        }
        for bits in kept.reversed() { push(bits) }  // back in the order they were queued
        return removed
    }

    var hasQueuedDpcs: Bool { dpcHead.load(ordering: .acquiring) != 0 }

    // MARK: TimedWork: the processor's pass

    public func nextDeadline() -> UInt64? {
        var earliest: UInt64?
        if hasQueuedDpcs { return Deadline.now }
        var asserted = false
        interrupts.forEach { i in if i.isConnected && !i.isMasked && i.line.isAsserted { asserted = true } }
        if asserted { return Deadline.now }
        withDeviceLock {
            devices.forEach { box in
                if let d = box.work.nextDeadline(), d < (earliest ?? .max) { earliest = d }
            }
        }
        let tick = currentTickNanoseconds
        timers.forEach { t in
            if let e = t.expiry(tick: tick), e < (earliest ?? .max) { earliest = e }
        }
        return earliest
    }

    public func service(now: UInt64) {
        withCurrent {
            // Every device, due or not: its DMA catches up to now before any kernel code runs.
            withDeviceLock { devices.forEach { box in box.work.service(now: now) } }
            var rounds = 0
            repeat {
                takeInterrupts()
                runDpcs()
                expireTimers(now: now)
                runDpcs()
                rounds += 1
            } while (hasQueuedDpcs || anyLineAsserted) && rounds < 1000
        }
    }

    private var anyLineAsserted: Bool {
        var asserted = false
        interrupts.forEach { i in if i.isConnected && !i.isMasked && i.line.isAsserted { asserted = true } }
        return asserted
    }

    private func takeInterrupts() {
        interrupts.forEach { sync in
            guard sync.isConnected, !sync.isMasked else { return }
            var rounds = 0
            while sync.line.isAsserted {
                if rounds == Self.stormLimit {
                    sync.mask()
                    Verifier.record(.interruptStorm, "ISR", detail: UInt64(rounds))
                    break
                }
                sync.dispatch()
                isrsRun.add(1, ordering: .relaxed)
                rounds += 1
            }
        }
    }

    private func runDpcs() {
        var guardCount = 0
        while true {
            let top = dpcHead.exchange(0, ordering: .acquiringAndReleasing)
            guard top != 0 else { return }
            // The stack holds the newest first: reverse it so DPCs run in the order queued.
            var reversed: UInt = 0
            var node = top
            while node != 0 {
                let dpc = Unmanaged<KDpc>.fromOpaque(UnsafeRawPointer(bitPattern: node)!).takeUnretainedValue()
                let next = dpc.next.load(ordering: .relaxed)
                dpc.next.store(reversed, ordering: .relaxed)
                reversed = node
                node = next
            }
            node = reversed
            while node != 0 {
                let unmanaged = Unmanaged<KDpc>.fromOpaque(UnsafeRawPointer(bitPattern: node)!)
                let dpc = unmanaged.takeUnretainedValue()
                node = dpc.next.load(ordering: .relaxed)
                dpc.runIfQueued()
                dpcsRun.add(1, ordering: .relaxed)
                unmanaged.release()
            }
            guardCount += 1
            if guardCount > 10_000 { return }
        }
    }

    private func expireTimers(now: UInt64) {
        let tick = currentTickNanoseconds
        timers.forEach { t in t.expireIfDue(now: now, tick: tick) }
    }

    /// Runs kernel code the way the processor runs a callback: at `irql`, with
    /// the stream `stream` current, checking that the callee returns at the
    /// IRQL it was called at with no spin lock held.
    @inline(__always)
    static func callout(at irql: KIRQL, stream: UInt32, _ ddi: StaticString, _ body: () -> Void) {
        let previousIrql = wrt_irql_get()
        let previousStream = wrt_stream_get()
        let previousDDI = wrt_ddi_get()
        wrt_irql_set(irql)
        wrt_stream_set(stream)
        ddi.withUTF8Buffer { wrt_ddi_set(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }
        body()
        if wrt_irql_get() != irql || wrt_spinlocks_get() != 0 {
            Verifier.record(.irqlLeak, ddi, detail: UInt64(irql))
            wrt_spinlocks_set(0)
        }
        wrt_irql_set(previousIrql)
        wrt_stream_set(previousStream)
        wrt_ddi_set(previousDDI)
    }
}
