import CWaveRTShim
import Synchronization
import WaveRTEngine
import WaveRTHardware

/// An interrupt connection with its synchronisation: the kernel object behind
/// PortCls' `IInterruptSync` (PcNewInterruptSync creates one in the port
/// layer from a resource list). ISRs registered with
/// ``registerServiceRoutine(_:context:first:)`` run on the processor, at the
/// line's DIRQL and under the connection's spin lock, whenever the line is
/// asserted; ``callSynchronizedRoutine(_:context:)`` runs a routine under the
/// same lock at the same IRQL from any thread.
public final class InterruptSync: @unchecked Sendable {
    /// `INTERRUPTSYNCMODE`.
    public enum Mode: Int, Sendable, Hashable {
        /// `InterruptSyncModeNormal`: ISRs in order until one returns STATUS_SUCCESS.
        case normal = 0
        /// `InterruptSyncModeAll`: each ISR once, whatever they return.
        case all = 1
        /// `InterruptSyncModeRepeat`: passes over all ISRs until none returns STATUS_SUCCESS.
        case `repeat` = 2
    }

    /// `PINTERRUPTSYNCROUTINE`: `NTSTATUS (*)(PINTERRUPTSYNC, PVOID)`.
    public typealias Routine = (InterruptSync, UnsafeMutableRawPointer?) -> NTStatus

    struct Registration {
        var routine: Routine
        var context: UnsafeMutableRawPointer?
    }

    public let line: InterruptLine
    public let irql: KIRQL
    public let mode: Mode
    let machine: Machine
    private let lock = KSpinLock()
    /// Registered before Connect, read by every dispatch: behind a pointer (no exclusivity checks on the ISR path).
    private let routineList: UnsafeMutablePointer<[Registration]> = {
        let p = UnsafeMutablePointer<[Registration]>.allocate(capacity: 1)
        p.initialize(to: [])
        return p
    }()
    private var routines: [Registration] {
        get { routineList.pointee }
        set { routineList.pointee = newValue }
    }
    private let connected = Atomic<Bool>(false)
    private let masked = Atomic<Bool>(false)
    private let claimed = Atomic<UInt64>(0)
    private let unclaimed = Atomic<UInt64>(0)
    let ownerStream: UInt32

    public init(machine: Machine, line: InterruptLine, irql: KIRQL = Irql.deviceLevel, mode: Mode) {
        self.machine = machine
        self.line = line
        self.irql = irql
        self.mode = mode
        ownerStream = wrt_stream_get()
    }

    deinit {
        routineList.deinitialize(count: 1)
        routineList.deallocate()
    }

    public var isConnected: Bool { connected.load(ordering: .acquiring) }
    /// Masked by the kernel after an interrupt storm.
    public var isMasked: Bool { masked.load(ordering: .acquiring) }
    /// Interrupts an ISR claimed, and ones none did.
    public var claimedCount: UInt64 { claimed.load(ordering: .relaxed) }
    public var unclaimedCount: UInt64 { unclaimed.load(ordering: .relaxed) }

    func mask() { masked.store(true, ordering: .releasing) }

    /// `IInterruptSync::RegisterServiceRoutine(Routine, DynamicContext, First)`: PASSIVE_LEVEL, before Connect.
    public func registerServiceRoutine(_ routine: @escaping Routine, context: UnsafeMutableRawPointer?, first: Bool) -> NTStatus {
        checkIrql(atMost: Irql.passiveLevel, "IInterruptSync::RegisterServiceRoutine")
        guard !isConnected else {
            Verifier.record(.callOrder, "IInterruptSync::RegisterServiceRoutine")
            return .invalidDeviceState
        }
        let r = Registration(routine: routine, context: context)
        if first { routines.insert(r, at: 0) } else { routines.append(r) }
        return .success
    }

    /// `IInterruptSync::Connect`: PASSIVE_LEVEL. STATUS_INVALID_DEVICE_STATE with no ISR registered or when connected.
    public func connect() -> NTStatus {
        checkIrql(atMost: Irql.passiveLevel, "IInterruptSync::Connect")
        guard !routines.isEmpty, !isConnected else { return .invalidDeviceState }
        let scheduler = machine.scheduler
        line.setWakeHandler { [unowned scheduler] in if !scheduler.isCurrentThread { scheduler.wake() } }
        connected.store(true, ordering: .releasing)
        machine.interrupts.insert(self)
        machine.scheduler.wake()
        return .success
    }

    /// `IInterruptSync::Disconnect`: PASSIVE_LEVEL. When it returns no ISR of this connection is running.
    public func disconnect() {
        checkIrql(atMost: Irql.passiveLevel, "IInterruptSync::Disconnect")
        guard connected.exchange(false, ordering: .acquiringAndReleasing) else { return }
        machine.interrupts.remove(self)
    }

    /// `IInterruptSync::CallSynchronizedRoutine(Routine, DynamicContext)`:
    /// runs `routine` at the interrupt's DIRQL holding its spin lock, so it
    /// never overlaps an ISR. ≤ DIRQL.
    public func callSynchronizedRoutine(_ routine: Routine, context: UnsafeMutableRawPointer?) -> NTStatus {
        checkIrql(atMost: irql, "IInterruptSync::CallSynchronizedRoutine")
        let old = wrt_irql_get()
        wrt_irql_set(irql)
        lock.acquire()
        let status = routine(self, context)
        lock.release("IInterruptSync::CallSynchronizedRoutine")
        wrt_irql_set(old)
        return status
    }

    /// On the processor: one round of the ISRs, per the mode.
    func dispatch() {
        var anyClaimed = false
        let trace = machine.trace
        if let trace { trace.record(.isrBegin, stream: ownerStream, at: machine.timebase.now) }
        defer { if let trace { trace.record(.isrEnd, stream: ownerStream, at: machine.timebase.now, anyClaimed ? 1 : 0) } }
        Machine.callout(at: irql, stream: ownerStream, "ISR") {
            lock.acquire()
            switch mode {
            case .normal:
                for r in routines where r.routine(self, r.context).isSuccess {
                    anyClaimed = true
                    break
                }
            case .all:
                for r in routines where r.routine(self, r.context).isSuccess { anyClaimed = true }
            case .repeat:
                var passes = 0
                while passes < 32 {
                    var any = false
                    for r in routines where r.routine(self, r.context).isSuccess { any = true }
                    if !any { break }
                    anyClaimed = true
                    passes += 1
                }
            }
            lock.release("ISR")
        }
        if anyClaimed { claimed.add(1, ordering: .relaxed) } else { unclaimed.add(1, ordering: .relaxed) }
    }
}
