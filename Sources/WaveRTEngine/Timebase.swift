import CWaveRTShim
import Synchronization

/// Where time comes from. Every timing decision goes through one: device
/// positions are computed from ``now``, and a scheduler sleeps until
/// ``hostTime(for:)`` of its next deadline on the host clock.
///
/// Times are nanoseconds (UInt64), from an arbitrary origin.
public protocol Timebase: AnyObject, Sendable {
    /// The current time on this timebase (stream time). Lock-free, callable from any thread.
    var now: UInt64 { get }
    /// The clock a scheduler sleeps on: the monotonic clock or a virtual clock.
    var hostClock: HostClock { get }
    /// The host-clock time at which this timebase will read `time`.
    func hostTime(for time: UInt64) -> UInt64
}

/// The clock that wakes a scheduler.
public enum HostClock: Sendable {
    /// CLOCK_MONOTONIC: a real-time thread sleeps to absolute deadlines on it.
    case monotonic
    /// A virtual clock: whoever calls ``VirtualClock/advance(to:)`` runs the work.
    case virtual(VirtualClock)
}

/// Work done at moments of a timebase: a device's DMA and interrupts, the
/// kernel's interrupts, DPCs and timers, a client's wake-ups.
public protocol TimedWork: AnyObject, Sendable {
    /// The earliest time on the timebase at which this work has something to
    /// do, or nil when nothing is scheduled. A time at or before now means "due".
    /// Must only report work that ``service(now:)`` will actually do, so that
    /// servicing it moves the deadline on.
    func nextDeadline() -> UInt64?
    /// Does what is due at `now` (on the scheduler's thread).
    func service(now: UInt64)
    /// Gives the work a way to wake its scheduler when its deadline moves
    /// earlier from another thread (a stream started by a register write), so
    /// a sleeping real-time thread re-reads the deadline at once. Called when
    /// the work is added to a processor; the default ignores it.
    func setWakeHandler(_ wake: @escaping @Sendable () -> Void)
}

extension TimedWork {
    public func setWakeHandler(_ wake: @escaping @Sendable () -> Void) {}
}

/// Deadlines with a meaning of their own.
public enum Deadline {
    /// "Due now, whatever now is": earlier than any time. Work must not return
    /// a fresh reading of the clock for that: on a clock that moves, the reading
    /// is later than the `now` its scheduler compares it with, and never due.
    @inlinable public static var now: UInt64 { 0 }
}

/// Real time: CLOCK_MONOTONIC (Swift's SuspendingClock on Linux; ContinuousClock
/// is CLOCK_BOOTTIME there, which keeps counting through suspend).
public final class MonotonicTimebase: Timebase {
    public static let shared = MonotonicTimebase()
    public init() {}
    public var now: UInt64 { wrt_monotonic_ns() }
    public var hostClock: HostClock { .monotonic }
    public func hostTime(for time: UInt64) -> UInt64 { time }
}

/// Virtual time for deterministic tests, in the manner of SwiftNIO's
/// `EmbeddedEventLoop.advanceTime(by:)`: time stands still until a test calls
/// ``advance(by:)`` or ``advance(to:)``, which services the attached work at
/// each of its deadlines, in time order and, at one instant, in the order the
/// work was attached. The code that runs is the code real time runs; only the
/// waiting is skipped, so hours of stream time pass in seconds and every
/// position and latency is exact.
///
/// Nothing is serviced except at a deadline: a register read between two
/// events computes what the hardware shows at that instant, exactly as it
/// would on the monotonic clock.
///
/// A stall inside a pass (``stall(nanoseconds:)``, what KeStallExecutionProcessor
/// does) cannot move global time, which would reorder events; it advances the
/// stalling thread's own view of ``now`` until the pass ends, so a driver that
/// polls a register with stalls in between sees the device progress. Outside a
/// pass, a stall advances the clock.
///
/// Advance from one thread at a time. ``now`` is lock-free from anywhere.
public final class VirtualClock: Timebase, @unchecked Sendable {
    private let current: Atomic<UInt64>
    /// Held strongly until detached: a weak reference would give every attached
    /// object a side table, and every retain of it the slow path.
    private let clients = Mutex<[any TimedWork]>([])
    private let livelocks = Atomic<UInt64>(0)

    /// Passes at one instant after which ``advance(to:)`` declares a livelock
    /// (some work keeps reporting itself due) and moves on.
    public static let maximumPassesPerInstant = 1_000_000

    public init(start: UInt64 = 0) { current = Atomic(start) }

    @inline(__always)
    public var now: UInt64 {
        current.load(ordering: .acquiring) &+ wrt_vclock_stall_get(Unmanaged.passUnretained(self).toOpaque())
    }
    public var hostClock: HostClock { .virtual(self) }
    public func hostTime(for time: UInt64) -> UInt64 { time }

    /// Adds `work` after everything attached so far (which is the order work
    /// due at the same instant is serviced in). The clock holds it until
    /// ``detach(_:)``.
    public func attach(_ work: any TimedWork) {
        clients.withLock { list in
            if !list.contains(where: { $0 === work }) { list.append(work) }
        }
    }

    public func detach(_ work: any TimedWork) {
        clients.withLock { $0.removeAll { $0 === work } }
    }

    /// Moves time forward by `nanoseconds`, servicing every deadline on the way.
    public func advance(by nanoseconds: UInt64) {
        advance(to: current.load(ordering: .acquiring) + nanoseconds)
    }

    /// Moves time forward by `duration`.
    public func advance(by duration: Duration) {
        advance(by: UInt64(duration.nanoseconds))
    }

    /// Whether the calling thread is inside ``advance(to:)`` of this clock.
    public var isAdvancingOnCurrentThread: Bool {
        wrt_vclock_get() == UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque())
    }

    /// Moves time to `target`, stopping at each deadline on the way (the
    /// earliest first) and servicing the work due there. Called from inside a
    /// pass (a driver waiting at DISPATCH_LEVEL, say) it does nothing: time
    /// cannot move under the pass that is running.
    public func advance(to target: UInt64) {
        guard !isAdvancingOnCurrentThread else { return }
        let attached = clients.withLock { $0 }
        wrt_vclock_set(Unmanaged.passUnretained(self).toOpaque())
        defer { wrt_vclock_set(nil) }
        attached.withUnsafeBufferPointer { works in
            var known: UInt64? = nil
            while serviceNextInstant(works, limit: target, knownEarliest: &known) {}
        }
        if target > current.load(ordering: .relaxed) { current.store(target, ordering: .releasing) }
    }

    /// Services the next instant at which work is due, if it is at or before
    /// `limit`, and returns true; otherwise moves time to `limit` and returns
    /// false. What a wait on the virtual clock does, one event at a time.
    @discardableResult
    public func step(limit: UInt64) -> Bool {
        guard !isAdvancingOnCurrentThread else { return false }
        let attached = clients.withLock { $0 }
        wrt_vclock_set(Unmanaged.passUnretained(self).toOpaque())
        defer { wrt_vclock_set(nil) }
        if serviceNextInstant(attached, limit: limit) { return true }
        if limit > current.load(ordering: .relaxed) && limit != .max { current.store(limit, ordering: .releasing) }
        return false
    }

    /// Finds the earliest deadline at or before `limit`, moves time there and
    /// services everything due at that instant (until nothing more is).
    private func serviceNextInstant(_ attached: [any TimedWork], limit: UInt64) -> Bool {
        var known: UInt64? = nil
        return attached.withUnsafeBufferPointer { serviceNextInstant($0, limit: limit, knownEarliest: &known) }
    }

    /// - Parameter knownEarliest: the earliest deadline the previous call's last round saw
    ///   (every work was asked after the last service), so it need not be asked again; updated for the next call.
    private func serviceNextInstant(_ attached: UnsafeBufferPointer<any TimedWork>, limit: UInt64, knownEarliest: inout UInt64?) -> Bool {
        var earliest = UInt64.max
        if let known = knownEarliest {
            earliest = known
        } else {
            for i in attached.indices {
                if let d = attached[i].nextDeadline(), d < earliest { earliest = d }
            }
        }
        knownEarliest = nil
        guard earliest <= limit else { return false }
        let t = max(earliest, current.load(ordering: .relaxed))
        current.store(t, ordering: .releasing)
        var passes = 0
        // Work due at t is serviced in order; then each is asked again, until none is due at t.
        while true {
            var serviced = false
            var next = UInt64.max
            for i in attached.indices {
                guard let d = attached[i].nextDeadline() else { continue }
                if d <= t {
                    attached[i].service(now: t)
                    wrt_vclock_stall_reset()
                    serviced = true
                } else if d < next {
                    next = d
                }
            }
            guard serviced else {
                knownEarliest = next  // nothing ran since these were asked
                return true
            }
            passes += 1
            if passes >= Self.maximumPassesPerInstant {
                livelocks.add(1, ordering: .relaxed)
                return false  // give up on this instant rather than spin forever
            }
        }
    }

    /// Times ``advance(to:)`` gave up on an instant because work kept reporting itself due.
    public var livelockCount: UInt64 { livelocks.load(ordering: .relaxed) }

    /// KeStallExecutionProcessor on this clock: inside a pass, the calling
    /// thread's view of time moves on by `nanoseconds` until the pass ends;
    /// outside one, the clock advances.
    public func stall(nanoseconds: UInt64) {
        if isAdvancingOnCurrentThread {
            wrt_vclock_stall_add(nanoseconds)
        } else {
            advance(by: nanoseconds)
        }
    }
}

extension Duration {
    /// Whole nanoseconds, truncated; negative durations give 0.
    public var nanoseconds: Int64 {
        let (s, attoseconds) = components
        guard s >= 0 else { return 0 }
        return s * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
