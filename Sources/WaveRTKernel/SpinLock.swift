import CWaveRTShim
import Glibc
import Synchronization

/// `KSPIN_LOCK`. Acquiring raises to DISPATCH_LEVEL, as on Windows. Nothing
/// can stop the host scheduler from preempting the holder, so a waiter spins
/// a while and then yields (counted as contention) instead of spinning without bound.
public final class KSpinLock: @unchecked Sendable {
    let held = Atomic<Bool>(false)
    let owner = Atomic<Int32>(0)
    private let contention = Atomic<UInt64>(0)
    public init() {}

    /// Acquisitions that had to wait.
    public var contentionCount: UInt64 { contention.load(ordering: .relaxed) }

    @inline(__always)
    func acquire() {
        var spins = 0
        while held.exchange(true, ordering: .acquiring) {
            if spins == 0 { contention.add(1, ordering: .relaxed) }
            spins += 1
            if spins > 128 { _ = sched_yield() }
        }
        owner.store(wrt_gettid(), ordering: .relaxed)
        wrt_spinlocks_set(wrt_spinlocks_get() + 1)
    }

    @inline(__always)
    func release(_ ddi: StaticString) {
        if !held.load(ordering: .relaxed) || owner.load(ordering: .relaxed) != wrt_gettid() {
            Verifier.record(.spinLockNotOwned, ddi)
        }
        owner.store(0, ordering: .relaxed)
        held.store(false, ordering: .releasing)
        let n = wrt_spinlocks_get()
        wrt_spinlocks_set(n > 0 ? n - 1 : 0)
    }
}

/// `KeInitializeSpinLock(SpinLock)`.
public func keInitializeSpinLock(_ lock: KSpinLock) {
    lock.held.store(false, ordering: .releasing)
}

/// `KeAcquireSpinLock(SpinLock, &OldIrql)`: raises to DISPATCH_LEVEL and
/// returns the old IRQL. ≤ DISPATCH_LEVEL.
@inline(__always)
public func keAcquireSpinLock(_ lock: KSpinLock) -> KIRQL {
    checkIrql(atMost: Irql.dispatchLevel, "KeAcquireSpinLock")
    let old = wrt_irql_get()
    wrt_irql_set(max(old, Irql.dispatchLevel))
    lock.acquire()
    return old
}

/// `KeReleaseSpinLock(SpinLock, NewIrql)`.
@inline(__always)
public func keReleaseSpinLock(_ lock: KSpinLock, _ newIrql: KIRQL) {
    lock.release("KeReleaseSpinLock")
    wrt_irql_set(newIrql)
}

/// `KeAcquireSpinLockAtDpcLevel(SpinLock)`: the caller is at DISPATCH_LEVEL already.
@inline(__always)
public func keAcquireSpinLockAtDpcLevel(_ lock: KSpinLock) {
    checkIrql(exactly: Irql.dispatchLevel, "KeAcquireSpinLockAtDpcLevel")
    lock.acquire()
}

/// `KeReleaseSpinLockFromDpcLevel(SpinLock)`.
@inline(__always)
public func keReleaseSpinLockFromDpcLevel(_ lock: KSpinLock) {
    checkIrql(exactly: Irql.dispatchLevel, "KeReleaseSpinLockFromDpcLevel")
    lock.release("KeReleaseSpinLockFromDpcLevel")
}
