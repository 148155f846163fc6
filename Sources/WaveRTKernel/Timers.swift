import CWaveRTShim
import Synchronization
import WaveRTEngine

/// What KTIMER and EX_TIMER share: a due time and a period on the machine's
/// timebase, set from any thread and expired by the processor on a system
/// timer tick (never early). Registered with its machine while it exists
/// (KTIMER) or until ExDeleteTimer (EX_TIMER).
public class TimerObject: DispatcherObject, @unchecked Sendable {
    let due = Atomic<UInt64>(.max)      // .max: not set
    let period = Atomic<UInt64>(0)      // nanoseconds; 0: one-shot
    private(set) var highResolution = false
    private(set) var machine: Machine?
    package var ownerStream: UInt32 = 0
    private let expirations = Atomic<UInt64>(0)

    override init() { super.init() }

    func bind(to machine: Machine?, highResolution: Bool) {
        self.machine = machine
        self.highResolution = highResolution
        ownerStream = wrt_stream_get()
        initialized = true
        if let machine, !machine.timers.contains(self) { machine.timers.insert(self) }
    }

    package var isArmed: Bool { due.load(ordering: .acquiring) != .max }
    /// Times the timer expired.
    public var expirationCount: UInt64 { expirations.load(ordering: .relaxed) }

    /// Sets the due time (nanoseconds on the timebase) and period; TRUE when it was already set.
    func arm(due time: UInt64, period: UInt64) -> Bool {
        self.period.store(period, ordering: .relaxed)
        let was = due.exchange(time, ordering: .acquiringAndReleasing)
        if let machine, let trace = machine.trace { trace.record(.timerSet, stream: ownerStream, at: machine.timebase.now, time, period) }
        if let machine, !machine.scheduler.isCurrentThread { machine.scheduler.wake() }
        return was != .max
    }

    func disarm() -> Bool {
        let was = due.exchange(.max, ordering: .acquiringAndReleasing) != .max
        if was, let machine, let trace = machine.trace { trace.record(.timerCancel, stream: ownerStream, at: machine.timebase.now, 1) }
        return was
    }

    /// When it expires with a system tick of `tick` ns: the first tick boundary at or after the due time.
    @inline(__always)
    func expiry(tick: UInt64) -> UInt64? {
        let d = due.load(ordering: .acquiring)
        guard d != .max else { return nil }
        let r = d % tick
        return r == 0 ? d : d &+ (tick - r)
    }

    /// On the processor: expires the timer if its tick has come.
    @inline(__always)
    func expireIfDue(now: UInt64, tick: UInt64) {
        let d = due.load(ordering: .acquiring)
        guard d != .max, let e = expiry(tick: tick), e <= now else { return }
        let p = period.load(ordering: .relaxed)
        // Periodic: the next due time on the period's grid, skipping periods already past.
        let next = p == 0 ? UInt64.max : d &+ ((now - d) / p + 1) * p
        guard due.compareExchange(expected: d, desired: next, ordering: .acquiringAndReleasing).exchanged else { return }
        expirations.add(1, ordering: .relaxed)
        if let machine, let trace = machine.trace { trace.record(.timerExpired, stream: ownerStream, at: now, d, e) }
        expired(at: e)
    }

    func expired(at time: UInt64) {}
}

/// `KTIMER`. Create one, initialise it with ``keInitializeTimer(_:)`` or
/// ``keInitializeTimerEx(_:type:)``, set it with ``keSetTimerEx(_:dueTime:period:dpc:)``.
/// On expiry it is signalled and its DPC (if any) queued, with the expiry
/// time's low and high 32 bits as the system arguments.
public final class KTimer: TimerObject, @unchecked Sendable {
    private(set) var dpc: KDpc?
    override public init() { super.init() }

    func setDpc(_ dpc: KDpc?) { self.dpc = dpc }

    override func expired(at time: UInt64) {
        _ = signal()
        if let dpc {
            let hundreds = time / 100
            _ = keInsertQueueDpc(dpc, UnsafeMutableRawPointer(bitPattern: UInt(hundreds & 0xFFFF_FFFF)),
                                 UnsafeMutableRawPointer(bitPattern: UInt(hundreds >> 32)))
        }
    }
}

/// Converts a KeSetTimer / ExSetTimer due time (100-ns units; negative:
/// relative, positive: absolute on the machine's clock) to timebase nanoseconds.
func timebaseTime(ofDueTime value: Int64, machine: Machine?) -> UInt64 {
    let now = machine?.timebase.now ?? 0
    if value < 0 { return now &+ value.magnitude &* 100 }
    return max(now, UInt64(value) &* 100)
}

/// `KeInitializeTimer(Timer)`: a notification timer. ≤ DISPATCH_LEVEL.
public func keInitializeTimer(_ timer: KTimer) { keInitializeTimerEx(timer, type: .notification) }

/// `KeInitializeTimerEx(Timer, Type)`. ≤ DISPATCH_LEVEL.
public func keInitializeTimerEx(_ timer: KTimer, type: DispatcherObject.Kind) {
    checkIrql(atMost: Irql.dispatchLevel, "KeInitializeTimerEx")
    timer.kind = type
    _ = timer.clear()
    timer.bind(to: Machine.current, highResolution: false)
}

/// `KeSetTimer(Timer, DueTime, Dpc)`: a one-shot timer. TRUE when it was already set. ≤ DISPATCH_LEVEL.
@discardableResult
public func keSetTimer(_ timer: KTimer, dueTime: Int64, dpc: KDpc? = nil) -> Bool {
    keSetTimerEx(timer, dueTime: dueTime, period: 0, dpc: dpc)
}

/// `KeSetTimerEx(Timer, DueTime, Period, Dpc)`: `period` in milliseconds (0:
/// one-shot). Clears the signal state; TRUE when the timer was already set
/// (it is cancelled and set again). ≤ DISPATCH_LEVEL.
@discardableResult
public func keSetTimerEx(_ timer: KTimer, dueTime: Int64, period: Int32, dpc: KDpc?) -> Bool {
    checkIrql(atMost: Irql.dispatchLevel, "KeSetTimerEx")
    guard timer.initialized, let machine = timer.machine else {
        Verifier.record(.objectNotInitialized, "KeSetTimerEx")
        return false
    }
    _ = timer.clear()
    timer.setDpc(dpc)
    return timer.arm(due: timebaseTime(ofDueTime: dueTime, machine: machine), period: UInt64(max(0, period)) * 1_000_000)
}

/// `KeCancelTimer(Timer)`: TRUE when the timer was set. ≤ DISPATCH_LEVEL.
@discardableResult
public func keCancelTimer(_ timer: KTimer) -> Bool {
    checkIrql(atMost: Irql.dispatchLevel, "KeCancelTimer")
    return timer.disarm()
}

/// `KeReadStateTimer(Timer)`.
public func keReadStateTimer(_ timer: KTimer) -> Bool { timer.isSignalled }

/// `EX_TIMER` (what ExAllocateTimer returns, `PEX_TIMER`): a timer whose
/// callback runs at DISPATCH_LEVEL on expiry. With `EX_TIMER_HIGH_RESOLUTION`
/// it raises the system timer to 1 ms ticks while it is set.
public final class ExTimer: TimerObject, @unchecked Sendable {
    /// `EXT_CALLBACK(Timer, Context)`.
    public typealias Callback = (ExTimer, UnsafeMutableRawPointer?) -> Void
    let callback: Callback?
    let context: UnsafeMutableRawPointer?
    private(set) var deleted = false

    init(callback: Callback?, context: UnsafeMutableRawPointer?) {
        self.callback = callback
        self.context = context
        super.init()
    }

    func markDeleted() { deleted = true }

    override func expired(at time: UInt64) {
        _ = signal()
        guard let callback else { return }
        Machine.callout(at: Irql.dispatchLevel, stream: ownerStream, "ExTimer callback") { callback(self, context) }
    }
}

/// `EX_TIMER_HIGH_RESOLUTION`.
public let EX_TIMER_HIGH_RESOLUTION: UInt32 = 0x4
/// `EX_TIMER_NO_WAKE`.
public let EX_TIMER_NO_WAKE: UInt32 = 0x8

/// `ExAllocateTimer(Callback, CallbackContext, Attributes)`. ≤ DISPATCH_LEVEL.
public func exAllocateTimer(_ callback: ExTimer.Callback?, _ context: UnsafeMutableRawPointer?, attributes: UInt32) -> ExTimer? {
    checkIrql(atMost: Irql.dispatchLevel, "ExAllocateTimer")
    let timer = ExTimer(callback: callback, context: context)
    timer.kind = .notification
    timer.bind(to: Machine.current, highResolution: attributes & EX_TIMER_HIGH_RESOLUTION != 0)
    return timer
}

/// `ExSetTimer(Timer, DueTime, Period, Parameters)`: `period` in 100-ns
/// units (0: one-shot). TRUE when it cancelled a pending set. ≤ DISPATCH_LEVEL.
@discardableResult
public func exSetTimer(_ timer: ExTimer, dueTime: Int64, period: Int64) -> Bool {
    checkIrql(atMost: Irql.dispatchLevel, "ExSetTimer")
    guard !timer.deleted, let machine = timer.machine else {
        Verifier.record(.objectNotInitialized, "ExSetTimer")
        return false
    }
    _ = timer.clear()
    return timer.arm(due: timebaseTime(ofDueTime: dueTime, machine: machine), period: UInt64(max(0, period)) * 100)
}

/// `ExCancelTimer(Timer, Parameters)`: TRUE when it was set. ≤ DISPATCH_LEVEL.
@discardableResult
public func exCancelTimer(_ timer: ExTimer) -> Bool {
    checkIrql(atMost: Irql.dispatchLevel, "ExCancelTimer")
    return timer.disarm()
}

/// `ExDeleteTimer(Timer, Cancel, Wait, Parameters)`: TRUE when `cancel` cancelled
/// a pending set. Deleting a set timer without `cancel` is a verifier
/// violation (it is cancelled anyway). With `wait` (≤ APC_LEVEL) it returns once
/// no callback is running.
@discardableResult
public func exDeleteTimer(_ timer: ExTimer, cancel: Bool, wait: Bool) -> Bool {
    checkIrql(atMost: wait ? Irql.apcLevel : Irql.dispatchLevel, "ExDeleteTimer")
    let wasSet = timer.disarm()
    if wasSet && !cancel { Verifier.record(.deleteWhileArmed, "ExDeleteTimer") }
    timer.markDeleted()
    if let machine = timer.machine { machine.timers.remove(timer) }
    return cancel && wasSet
}
