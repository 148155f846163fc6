import CWaveRTShim

/// `KIRQL`: an interrupt request level.
public typealias KIRQL = UInt8

/// The IRQL values of x64 Windows (ReactOS xdk `ke.h`): device interrupts
/// (DIRQL) lie between DISPATCH_LEVEL and CLOCK_LEVEL.
public enum Irql {
    public static let passiveLevel: KIRQL = 0
    public static let apcLevel: KIRQL = 1
    public static let dispatchLevel: KIRQL = 2
    /// The DIRQL the emulated interrupt controller gives a line: above DISPATCH, below CLOCK.
    public static let deviceLevel: KIRQL = 5
    public static let clockLevel: KIRQL = 13
    public static let ipiLevel: KIRQL = 14
    public static let highLevel: KIRQL = 15

    public static func name(_ irql: KIRQL) -> String {
        switch irql {
        case passiveLevel: "PASSIVE_LEVEL"
        case apcLevel: "APC_LEVEL"
        case dispatchLevel: "DISPATCH_LEVEL"
        case highLevel: "HIGH_LEVEL"
        case clockLevel: "CLOCK_LEVEL"
        default: irql > dispatchLevel && irql < clockLevel ? "DIRQL (\(irql))" : "IRQL \(irql)"
        }
    }
}

/// `KeGetCurrentIrql`: the calling thread's IRQL. Every thread starts at
/// PASSIVE_LEVEL; the emulated processor raises it around ISRs, DPCs and
/// timer callbacks, and spin locks raise it to DISPATCH_LEVEL.
@inline(__always)
public func keGetCurrentIrql() -> KIRQL { wrt_irql_get() }

/// `KeRaiseIrql(NewIrql, &OldIrql)`: returns the old IRQL. Raising to a lower
/// level is a verifier violation (Windows bug-checks IRQL_NOT_GREATER_OR_EQUAL).
@inline(__always)
public func keRaiseIrql(_ newIrql: KIRQL) -> KIRQL {
    let old = wrt_irql_get()
    if newIrql < old { Verifier.record(.irqlNotGreaterOrEqual, "KeRaiseIrql", detail: UInt64(newIrql)) }
    wrt_irql_set(newIrql)
    return old
}

/// `KeLowerIrql(NewIrql)`. Lowering to a higher level is a verifier violation.
@inline(__always)
public func keLowerIrql(_ newIrql: KIRQL) {
    if newIrql > wrt_irql_get() { Verifier.record(.irqlNotLessOrEqual, "KeLowerIrql", detail: UInt64(newIrql)) }
    wrt_irql_set(newIrql)
}

/// The checks every DDI makes on entry: the caller's IRQL against the DDI's
/// documented maximum (and, for PASSIVE_LEVEL DDIs, no spin lock held).
/// Returns false after recording a violation; the DDI then does what it safely can.
@inline(__always)
@discardableResult
public func checkIrql(atMost maximum: KIRQL, _ ddi: StaticString) -> Bool {
    let irql = wrt_irql_get()
    if irql > maximum {
        Verifier.record(.irqlTooHigh, ddi, detail: UInt64(maximum))
        return false
    }
    if maximum < Irql.dispatchLevel && wrt_spinlocks_get() > 0 {
        Verifier.record(.spinLockHeld, ddi, detail: UInt64(wrt_spinlocks_get()))
        return false
    }
    return true
}

/// For the `...AtDpcLevel` DDIs: the caller must already be at DISPATCH_LEVEL.
@inline(__always)
@discardableResult
public func checkIrql(exactly required: KIRQL, _ ddi: StaticString) -> Bool {
    guard wrt_irql_get() == required else {
        Verifier.record(.irqlNotDispatch, ddi, detail: UInt64(required))
        return false
    }
    return true
}
