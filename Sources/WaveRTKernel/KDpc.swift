import CWaveRTShim
import Synchronization
import WaveRTEngine

/// `KDPC`: a deferred procedure call. Create one and initialise it with
/// ``keInitializeDpc(_:_:_:)``; ``keInsertQueueDpc(_:_:_:)`` queues it for the
/// machine's processor, which runs it at DISPATCH_LEVEL after the ISRs of the
/// current pass. At most one instance is ever queued.
public final class KDpc: @unchecked Sendable {
    /// `KDEFERRED_ROUTINE(Dpc, DeferredContext, SystemArgument1, SystemArgument2)`.
    public typealias DeferredRoutine = (KDpc, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void

    enum State: UInt8 { case idle = 0, queued = 1, removedButLinked = 2 }

    private(set) var routine: DeferredRoutine?
    private(set) var context: UnsafeMutableRawPointer?
    let state = Atomic<UInt8>(State.idle.rawValue)
    let next = Atomic<UInt>(0)
    private let argument1 = Atomic<UInt>(0)
    private let argument2 = Atomic<UInt>(0)
    private(set) var machine: Machine?
    private(set) var ownerStream: UInt32 = 0
    private let runs = Atomic<UInt64>(0)

    public init() {}

    /// Times the routine ran.
    public var runCount: UInt64 { runs.load(ordering: .relaxed) }
    /// Whether it is queued now.
    public var isQueued: Bool { state.load(ordering: .acquiring) == State.queued.rawValue }

    func setUp(_ routine: @escaping DeferredRoutine, _ context: UnsafeMutableRawPointer?, machine: Machine?) {
        self.routine = routine
        self.context = context
        self.machine = machine
        ownerStream = wrt_stream_get()
    }

    func setArguments(_ a: UnsafeMutableRawPointer?, _ b: UnsafeMutableRawPointer?) {
        argument1.store(UInt(bitPattern: a), ordering: .relaxed)
        argument2.store(UInt(bitPattern: b), ordering: .relaxed)
    }

    /// On the processor, for each DPC popped from the queue.
    func runIfQueued() {
        if state.compareExchange(expected: State.removedButLinked.rawValue, desired: State.idle.rawValue, ordering: .acquiringAndReleasing).exchanged {
            return  // KeRemoveQueueDpc took it out
        }
        guard state.compareExchange(expected: State.queued.rawValue, desired: State.idle.rawValue, ordering: .acquiringAndReleasing).exchanged,
              let routine else { return }
        let a = UnsafeMutableRawPointer(bitPattern: argument1.load(ordering: .relaxed))
        let b = UnsafeMutableRawPointer(bitPattern: argument2.load(ordering: .relaxed))
        runs.add(1, ordering: .relaxed)
        let trace = machine?.trace
        if let trace, let machine { trace.record(.dpcBegin, stream: ownerStream, at: machine.timebase.now) }
        Machine.callout(at: Irql.dispatchLevel, stream: ownerStream, "DPC") { routine(self, context, a, b) }
        if let trace, let machine { trace.record(.dpcEnd, stream: ownerStream, at: machine.timebase.now) }
    }
}

/// `KeInitializeDpc(Dpc, DeferredRoutine, DeferredContext)`: binds the DPC to
/// the calling thread's machine. Any IRQL.
public func keInitializeDpc(_ dpc: KDpc, _ routine: @escaping KDpc.DeferredRoutine, _ context: UnsafeMutableRawPointer? = nil) {
    dpc.setUp(routine, context, machine: Machine.current)
}

/// `KeInsertQueueDpc(Dpc, SystemArgument1, SystemArgument2)`: TRUE when it
/// queued the DPC, FALSE when it was already queued (nothing changes then).
/// Any IRQL.
@discardableResult
public func keInsertQueueDpc(_ dpc: KDpc, _ argument1: UnsafeMutableRawPointer? = nil, _ argument2: UnsafeMutableRawPointer? = nil) -> Bool {
    guard let machine = dpc.machine, dpc.routine != nil else {
        Verifier.record(.objectNotInitialized, "KeInsertQueueDpc")
        return false
    }
    while true {
        let s = dpc.state.load(ordering: .acquiring)
        switch KDpc.State(rawValue: s)! {
        case .queued:
            if let trace = machine.trace { trace.record(.dpcQueued, stream: dpc.ownerStream, at: machine.timebase.now, 0) }
            return false
        case .removedButLinked:
            // Still in the queue's list: queue it again in place.
            dpc.setArguments(argument1, argument2)
            if dpc.state.compareExchange(expected: s, desired: KDpc.State.queued.rawValue, ordering: .acquiringAndReleasing).exchanged {
                if let trace = machine.trace { trace.record(.dpcQueued, stream: dpc.ownerStream, at: machine.timebase.now, 1) }
                return true
            }
        case .idle:
            dpc.setArguments(argument1, argument2)
            if dpc.state.compareExchange(expected: s, desired: KDpc.State.queued.rawValue, ordering: .acquiringAndReleasing).exchanged {
                if let trace = machine.trace { trace.record(.dpcQueued, stream: dpc.ownerStream, at: machine.timebase.now, 1) }
                machine.enqueue(dpc)
                return true
            }
        }
    }
}

/// `KeRemoveQueueDpc(Dpc)`: TRUE when the DPC was queued (it will not run).
@discardableResult
public func keRemoveQueueDpc(_ dpc: KDpc) -> Bool {
    dpc.state.compareExchange(expected: KDpc.State.queued.rawValue, desired: KDpc.State.removedButLinked.rawValue,
                              ordering: .acquiringAndReleasing).exchanged
}

/// `KeFlushQueuedDpcs()`: returns once every DPC queued before the call has
/// run (on a virtual clock, by running them now). PASSIVE_LEVEL.
public func keFlushQueuedDpcs() {
    checkIrql(atMost: Irql.passiveLevel, "KeFlushQueuedDpcs")
    guard let machine = Machine.current else { return }
    switch machine.timebase.hostClock {
    case .virtual(let clock):
        if machine.hasQueuedDpcs { clock.advance(by: 0) }
    case .monotonic:
        var spins = 0
        while machine.hasQueuedDpcs && spins < 100_000 {
            machine.scheduler.wake()
            _ = sched_yield()
            spins += 1
        }
        machine.scheduler.quiesce()
    }
}

import Glibc
