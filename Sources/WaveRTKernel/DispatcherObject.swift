import CWaveRTShim
import Glibc
import Synchronization
import WaveRTEngine

/// What KEVENT and KTIMER share: a signal state that threads wait on
/// (`DISPATCHER_HEADER`). A notification object stays signalled until
/// cleared and releases every waiter; a synchronization object releases one
/// waiter and resets itself. Signalling is lock-free and real-time safe (an
/// atomic exchange, and a futex wake only when someone waits).
public class DispatcherObject: @unchecked Sendable {
    /// `EVENT_TYPE` / `TIMER_TYPE`.
    public enum Kind: Sendable, Hashable {
        case notification, synchronization
    }

    let word: UnsafeMutablePointer<UInt32>  // futex word: 0 not signalled, 1 signalled
    private let waiters = Atomic<Int>(0)
    var kind: Kind = .notification
    var initialized = false

    init() {
        word = .allocate(capacity: 1)
        word.initialize(to: 0)
    }

    deinit { word.deallocate() }

    /// Signals; returns the previous state (0 or 1).
    @inline(__always)
    func signal() -> Int32 {
        guard wrt_atomic_cas_u32(word, 0, 1) != 0 else { return 1 }  // already signalled: nothing counts
        if waiters.load(ordering: .sequentiallyConsistent) > 0 {
            _ = wrt_futex_wake(word, kind == .notification ? Int32.max : 1)
        }
        return 0
    }

    /// Clears; returns the previous state.
    @inline(__always)
    func clear() -> Int32 {
        wrt_atomic_cas_u32(word, 1, 0) != 0 ? 1 : 0
    }

    @inline(__always)
    var isSignalled: Bool { wrt_atomic_load_u32(word) != 0 }

    /// Takes the signal as a satisfied wait would: a synchronization object resets.
    @inline(__always)
    func consume() -> Bool {
        switch kind {
        case .notification: isSignalled
        case .synchronization: wrt_atomic_cas_u32(word, 1, 0) != 0
        }
    }

    /// Blocks on the monotonic clock until signalled or `deadline` (0: none).
    func blockingWait(until deadline: UInt64) -> Bool {
        while true {
            if consume() { return true }
            if deadline != 0 && wrt_monotonic_ns() >= deadline { return false }
            waiters.add(1, ordering: .sequentiallyConsistent)
            if !isSignalled { _ = wrt_futex_wait_until(word, 0, deadline) }
            waiters.subtract(1, ordering: .sequentiallyConsistent)
        }
    }
}

/// `KEVENT`. Create one and call ``keInitializeEvent(_:type:state:)`` before
/// use, as a driver does with the structure it allocates.
public final class KEvent: DispatcherObject, @unchecked Sendable {
    public typealias EventType = DispatcherObject.Kind
    private let sets = Atomic<UInt64>(0)
    /// The stream whose notification event this is (the port sets it when the
    /// miniport registers it), for traces; 0: the stream of the caller of KeSetEvent.
    package let traceStream = Atomic<UInt32>(0)
    override public init() { super.init() }

    /// KeSetEvent calls so far (a figure for tests; the event itself never counts).
    public var setCount: UInt64 { sets.load(ordering: .relaxed) }
    func noteSet() { sets.add(1, ordering: .relaxed) }
}

/// `KeInitializeEvent(Event, Type, State)`: any IRQL.
public func keInitializeEvent(_ event: KEvent, type: KEvent.EventType, state: Bool) {
    event.kind = type
    _ = state ? event.signal() : event.clear()
    event.initialized = true
}

/// `KeSetEvent(Event, Increment, Wait)`: signals and returns the previous
/// state (nonzero if it was already signalled). A KEVENT does not count:
/// setting it twice before a wait releases the waiter once. IRQL ≤
/// DISPATCH_LEVEL (≤ APC_LEVEL when Wait is TRUE).
@inline(__always)
@discardableResult
public func keSetEvent(_ event: KEvent, increment: Int32 = 0, wait: Bool = false) -> Int32 {
    checkIrql(atMost: wait ? Irql.apcLevel : Irql.dispatchLevel, "KeSetEvent")
    if !event.initialized { Verifier.record(.objectNotInitialized, "KeSetEvent") }
    event.noteSet()
    let previous = event.signal()
    let owner = event.traceStream.load(ordering: .relaxed)
    Machine.trace(.eventSet, stream: owner != 0 ? owner : wrt_stream_get(), UInt64(previous))
    return previous
}

/// `KeClearEvent(Event)`: ≤ DISPATCH_LEVEL.
public func keClearEvent(_ event: KEvent) {
    checkIrql(atMost: Irql.dispatchLevel, "KeClearEvent")
    _ = event.clear()
}

/// `KeResetEvent(Event)`: clears and returns the previous state. ≤ DISPATCH_LEVEL.
@discardableResult
public func keResetEvent(_ event: KEvent) -> Int32 {
    checkIrql(atMost: Irql.dispatchLevel, "KeResetEvent")
    return event.clear()
}

/// `KeReadStateEvent(Event)`: 1 when signalled. Any IRQL.
public func keReadStateEvent(_ event: KEvent) -> Int32 { event.isSignalled ? 1 : 0 }

/// `KeWaitForSingleObject(Object, Executive, KernelMode, FALSE, Timeout)` on an
/// event or a timer. `timeout` is in 100-ns units, negative for relative, 0
/// to poll, nil to wait forever. STATUS_SUCCESS when the object was (or
/// became) signalled, STATUS_TIMEOUT otherwise.
///
/// On a virtual clock the wait advances the clock, event by event, until the
/// object is signalled or the timeout passes (an infinite wait with nothing
/// left to happen returns STATUS_TIMEOUT rather than hang). A nonzero
/// timeout at DISPATCH_LEVEL or above is a verifier violation and returns at once.
public func keWaitForSingleObject(_ object: DispatcherObject, timeout: Int64?) -> NTStatus {
    // The IRQL rule is the caller's, whatever the object's state: a wait that may
    // block (no timeout, or a nonzero one) needs IRQL <= APC_LEVEL.
    if timeout != 0 && wrt_irql_get() >= Irql.dispatchLevel {
        Verifier.record(.waitAtDispatch, "KeWaitForSingleObject")
        return object.consume() ? .success : .timeout
    }
    if object.consume() { return .success }
    if timeout == 0 { return .timeout }
    let timebase = Machine.current?.timebase ?? MonotonicTimebase.shared
    let now = timebase.now
    let deadline: UInt64? = timeout.map { t in
        t < 0 ? now &+ UInt64(-t) * 100 : UInt64(t) * 100
    }
    switch timebase.hostClock {
    case .virtual(let clock):
        while !object.consume() {
            let limit = deadline ?? .max
            guard clock.now < limit, clock.step(limit: limit) else { return .timeout }
        }
        return .success
    case .monotonic:
        let hostDeadline = deadline.map { timebase.hostTime(for: $0) } ?? 0
        return object.blockingWait(until: hostDeadline) ? .success : .timeout
    }
}
