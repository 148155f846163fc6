import CWaveRTShim
import Synchronization
import WaveRTEngine

/// The audio rules of Driver Verifier that the emulator checks, reported
/// instead of bug-checked (the run finishes; the CLI then exits non-zero).
public enum VerifierRule: UInt16, CaseIterable, Sendable, Codable, BitwiseCopyable, CustomStringConvertible {
    case irqlTooHigh = 1, spinLockHeld, irqlNotDispatch, irqlNotGreaterOrEqual, irqlNotLessOrEqual, irqlLeak
    case objectNotInitialized, waitAtDispatch, stallTooLong, interruptStorm, spinLockNotOwned
    case unmapWithoutMap, freeWhileMapped, doubleFree, freeWhileDMARunning
    case leakedPages, leakedMapping, leakedPool, leakedEvent, leakedTimer, leakedDpc, leakedInterrupt
    case poolTagMismatch, badPoolFree, setStateTimeout, callOrder, unmappedRegister, deleteWhileArmed, bufferBeyondMdl
    /// MmMapIoSpace of a range no device's register window holds whole (Windows would map whatever
    /// is there; the emulator maps only devices' registers, so it returns NULL and says why).
    case mapIoSpaceOutsideDevice

    /// The rule's name in reports (Driver Verifier style).
    public var description: String {
        switch self {
        case .irqlTooHigh: "IrqlTooHigh"
        case .spinLockHeld: "PassiveLevelWithSpinLock"
        case .irqlNotDispatch: "IrqlNotDispatchLevel"
        case .irqlNotGreaterOrEqual: "IrqlNotGreaterOrEqual"
        case .irqlNotLessOrEqual: "IrqlNotLessOrEqual"
        case .irqlLeak: "IrqlNotRestored"
        case .objectNotInitialized: "ObjectNotInitialized"
        case .waitAtDispatch: "WaitAtDispatchLevel"
        case .stallTooLong: "StallTooLong"
        case .interruptStorm: "InterruptNotAcknowledged"
        case .spinLockNotOwned: "SpinLockReleaseNotOwned"
        case .unmapWithoutMap: "UnmapWithoutMap"
        case .freeWhileMapped: "FreeBeforeUnmap"
        case .doubleFree: "DoubleFree"
        case .freeWhileDMARunning: "FreeWhileDmaRunning"
        case .leakedPages: "LeakedPages"
        case .leakedMapping: "LeakedMapping"
        case .leakedPool: "LeakedPool"
        case .leakedEvent: "LeakedNotificationEvent"
        case .leakedTimer: "LeakedTimer"
        case .leakedDpc: "LeakedDpc"
        case .leakedInterrupt: "LeakedInterruptConnection"
        case .poolTagMismatch: "PoolTagMismatch"
        case .badPoolFree: "BadPoolFree"
        case .setStateTimeout: "PcTimedWaveRtStreamSetState"
        case .callOrder: "CallOrder"
        case .unmappedRegister: "UnmappedRegisterAccess"
        case .deleteWhileArmed: "TimerDeletedWhileArmed"
        case .bufferBeyondMdl: "BufferLargerThanMdl"
        case .mapIoSpaceOutsideDevice: "MapIoSpaceOutsideDevice"
        }
    }
}

/// One finding, as tests query it and reports print it (`verifier: [{rule, ddi, irql, detail}]`).
public struct VerifierViolation: Sendable, Hashable, Codable, CustomStringConvertible {
    public var rule: String
    public var ddi: String
    public var irql: String
    /// The stream the call was made for ("-" when the kernel could not tell).
    public var stream: String
    /// Nanoseconds on the machine's timebase since the machine started.
    public var time: UInt64
    public var detail: String

    public var description: String {
        "\(rule): \(ddi) at \(irql), stream \(stream), t=\(time / 1_000_000_000).\(String(1_000_000_000 + time % 1_000_000_000).dropFirst()) s: \(detail)"
    }
}

/// The verifier of one emulated machine. Real-time threads record findings
/// as fixed-size records in a lock-free ring (``record(_:_:detail:)``); the
/// text is made when someone reads ``violations``.
public final class Verifier: @unchecked Sendable {
    struct Record: BitwiseCopyable {
        var rule: VerifierRule
        var ddi: StaticString
        var irql: KIRQL
        var stream: UInt32
        var time: UInt64
        var detail: UInt64
    }

    private let ring = EventRing<Record>(capacity: 4096)
    private let found = Mutex<[VerifierViolation]>([])
    private let streams = Mutex<[UInt32: String]>([0: "-"])
    private let timebase: any Timebase
    private let origin: UInt64
    private let total = Atomic<UInt64>(0)
    /// The longest a `SetState` may take (PcTimedWaveRtStreamSetState; the WDK
    /// documents no figure, so this is the project's default): 1 second.
    public var setStateBudgetNanoseconds: UInt64 = 1_000_000_000

    /// Findings made with no machine current on the thread (a DDI called outside any emulated machine).
    public static let unattached = Verifier(timebase: MonotonicTimebase.shared)

    public init(timebase: any Timebase) {
        self.timebase = timebase
        origin = timebase.now
    }

    /// Names a stream number for reports (the port numbers its streams).
    public func name(stream id: UInt32, _ name: String) { streams.withLock { $0[id] = name } }

    /// Records a finding on the current machine's verifier. Real-time safe.
    @inline(__always)
    public static func record(_ rule: VerifierRule, _ ddi: StaticString, detail: UInt64 = 0) {
        (Machine.current?.verifier ?? unattached).record(rule, ddi, detail: detail)
    }

    /// Records a finding. Real-time safe: a fixed-size record in a lock-free ring.
    @inline(__always)
    public func record(_ rule: VerifierRule, _ ddi: StaticString, detail: UInt64 = 0) {
        total.add(1, ordering: .relaxed)
        ring.push(Record(rule: rule, ddi: ddi, irql: wrt_irql_get(), stream: wrt_stream_get(), time: timebase.now, detail: detail))
    }

    /// Records a finding with words of its own (control path only: it locks and allocates).
    public func report(_ rule: VerifierRule, ddi: String, detail: String, stream: UInt32? = nil) {
        total.add(1, ordering: .relaxed)
        let name = streams.withLock { $0[stream ?? wrt_stream_get()] ?? "#\(stream ?? wrt_stream_get())" }
        let v = VerifierViolation(rule: rule.description, ddi: ddi, irql: Irql.name(wrt_irql_get()), stream: name,
                                  time: timebase.now &- origin, detail: detail)
        drainRing()
        found.withLock { $0.append(v) }
    }

    /// Every finding so far, oldest first.
    public var violations: [VerifierViolation] {
        drainRing()
        return found.withLock { $0 }
    }

    /// Findings so far (including any the ring had to drop).
    public var count: UInt64 { total.load(ordering: .relaxed) }

    /// Findings of one rule.
    public func violations(of rule: VerifierRule) -> [VerifierViolation] { violations.filter { $0.rule == rule.description } }

    private func drainRing() {
        found.withLock { list in
            let names = streams.withLock { $0 }
            ring.drain { r in
                list.append(VerifierViolation(rule: r.rule.description, ddi: "\(r.ddi)", irql: Irql.name(r.irql),
                                              stream: names[r.stream] ?? "#\(r.stream)", time: r.time &- origin,
                                              detail: Self.explain(r)))
            }
        }
    }

    static func explain(_ r: Record) -> String {
        switch r.rule {
        case .irqlTooHigh: "called at \(Irql.name(r.irql)); its maximum is \(Irql.name(KIRQL(truncatingIfNeeded: r.detail)))"
        case .spinLockHeld: "a PASSIVE_LEVEL DDI called while holding \(r.detail) spin lock(s)"
        case .irqlNotDispatch: "must be called at \(Irql.name(KIRQL(truncatingIfNeeded: r.detail))); was called at \(Irql.name(r.irql))"
        case .irqlNotGreaterOrEqual: "asked to raise to \(Irql.name(KIRQL(truncatingIfNeeded: r.detail))), below the current \(Irql.name(r.irql))"
        case .irqlNotLessOrEqual: "asked to lower to \(Irql.name(KIRQL(truncatingIfNeeded: r.detail))), above the current \(Irql.name(r.irql))"
        case .irqlLeak: "returned to the kernel at \(Irql.name(r.irql)) (or holding a spin lock); it was entered at \(Irql.name(KIRQL(truncatingIfNeeded: r.detail)))"
        case .objectNotInitialized: "the object was used before its KeInitialize*/ExAllocate* call"
        case .waitAtDispatch: "waits with a nonzero timeout are allowed only below DISPATCH_LEVEL (returned STATUS_TIMEOUT at once)"
        case .stallTooLong: "stalled \(r.detail) µs; the WDK limits KeStallExecutionProcessor to 50 µs"
        case .interruptStorm: "the level-triggered line stayed asserted after \(r.detail) rounds of ISRs: no ISR acknowledged the cause (line masked)"
        case .spinLockNotOwned: "released a spin lock the thread does not hold"
        case .poolTagMismatch: "freed with tag 0x\(String(r.detail, radix: 16)), not the tag it was allocated with"
        case .badPoolFree: "freed 0x\(String(r.detail, radix: 16)), which the pool did not allocate (passed to free())"
        case .unmappedRegister: "register access at 0x\(String(r.detail, radix: 16)), which no MmMapIoSpace mapping covers (read all ones)"
        case .mapIoSpaceOutsideDevice: "PhysicalAddress 0x\(String(r.detail, radix: 16)) and NumberOfBytes: no device's register window holds the whole range; returned NULL"
        case .deleteWhileArmed: "deleted while armed without asking ExDeleteTimer to cancel"
        default: "detail 0x\(String(r.detail, radix: 16))"
        }
    }
}
