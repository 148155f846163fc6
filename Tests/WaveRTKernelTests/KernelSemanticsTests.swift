import Foundation
import Synchronization
import Testing
import WaveRTEngine
import WaveRTHardware
import WaveRTKernel
import WaveRTMemory
import WaveRTTestSupport

/// More WDM semantics (KernelPrimitiveTests has the first ones): KEVENT types
/// and waits, the ISR → DPC order, the system tick with each resolution,
/// interrupt sync modes, spin locks and the IRQL rules, the verifier's findings.
@Suite struct KernelSemanticsTests {
    typealias Source = KernelPrimitiveTests.Source

    final class Log: @unchecked Sendable {
        var entries: [String] = []
        var times: [UInt64] = []
    }

    // MARK: KEVENT

    /// On the virtual clock a wait moves time, event by event, until the object
    /// is signalled (here by a timer's DPC) or the timeout passes.
    @Test func waitsOnTheVirtualClockAdvanceItUntilSignalledOrTimedOut() {
        let clock = VirtualClock(start: 1_000_000)
        let machine = Machine(timebase: clock, timerResolution: .high)
        machine.withCurrent {
            let event = KEvent(), timer = KTimer(), dpc = KDpc()
            keInitializeEvent(event, type: .notification, state: false)
            keInitializeDpc(dpc, { _, _, _, _ in keSetEvent(event) })
            keInitializeTimer(timer)
            keSetTimer(timer, dueTime: -70_000, dpc: dpc)  // 7 ms
            #expect(keWaitForSingleObject(event, timeout: -30_000) == .timeout)  // 3 ms
            #expect(clock.now == 4_000_000)
            #expect(keWaitForSingleObject(event, timeout: nil) == .success)
            #expect(clock.now == 8_000_000)
            // The timer object itself is signalled on expiry (a notification timer stays so).
            #expect(keWaitForSingleObject(timer, timeout: 0) == .success)
            #expect(keReadStateTimer(timer))
            // An infinite wait with nothing left to happen returns rather than hang.
            let never = KEvent()
            keInitializeEvent(never, type: .synchronization, state: false)
            #expect(keWaitForSingleObject(never, timeout: nil) == .timeout)
        }
    }

    /// Notification events release every waiter and stay set; synchronization
    /// events release one waiter and reset themselves (real threads, monotonic clock).
    @Test(.timeLimit(.minutes(1)))
    func notificationReleasesAllWaitersSynchronizationReleasesOne() {
        for type in [KEvent.EventType.notification, .synchronization] {
            let event = KEvent()
            keInitializeEvent(event, type: type, state: false)
            let released = Atomic<Int>(0), finished = Atomic<Int>(0), waiting = Atomic<Int>(0)
            for _ in 0..<3 {
                Thread.detachNewThread {
                    waiting.add(1, ordering: .relaxed)
                    if keWaitForSingleObject(event, timeout: -3_000_000) == .success { released.add(1, ordering: .relaxed) }  // 300 ms
                    finished.add(1, ordering: .releasing)
                }
            }
            while waiting.load(ordering: .relaxed) < 3 {}
            usleep(20_000)
            #expect(keSetEvent(event) == 0)
            while finished.load(ordering: .acquiring) < 3 { usleep(1_000) }
            let n = released.load(ordering: .relaxed)
            #expect(n == (type == .notification ? 3 : 1), "\(type): \(n) waiters released")
            #expect(keReadStateEvent(event) == (type == .notification ? 1 : 0))
        }
    }

    @Test func clearAndResetAndTheSetCount() {
        let machine = Machine(timebase: VirtualClock())
        machine.withCurrent {
            let event = KEvent()
            keInitializeEvent(event, type: .notification, state: true)
            #expect(keSetEvent(event) == 1)          // already set
            keClearEvent(event)
            #expect(keReadStateEvent(event) == 0)
            #expect(keResetEvent(event) == 0)        // was not set
            #expect(keSetEvent(event) == 0)
            #expect(event.setCount == 2)             // calls made; the event itself holds one bit
        }
    }

    // MARK: ISR, DPC

    /// The ISR runs at the line's DIRQL and queues a DPC; the DPC runs after it,
    /// in the same processor pass, at DISPATCH_LEVEL, with the arguments given.
    /// DPCs queued during one pass run in the order they were queued.
    @Test func theDpcRunsAtDispatchLevelAfterTheISRInTheSamePass() {
        let clock = VirtualClock()
        let machine = Machine(timebase: clock)
        let source = Source()
        let log = Log()
        let first = KDpc(), second = KDpc()
        let sync = InterruptSync(machine: machine, line: source.line, mode: .normal)
        machine.withCurrent {
            keInitializeDpc(first, { _, context, a, b in
                log.entries.append("DPC1 irql \(keGetCurrentIrql()) args \(UInt(bitPattern: a)),\(UInt(bitPattern: b)) ctx \(UInt(bitPattern: context))")
                log.times.append(clock.now)
            }, UnsafeMutableRawPointer(bitPattern: 0x77))
            keInitializeDpc(second, { _, _, _, _ in log.entries.append("DPC2") })
            _ = sync.registerServiceRoutine({ _, _ in
                log.entries.append("ISR irql \(keGetCurrentIrql())")
                source.pending.store(false, ordering: .releasing)
                keInsertQueueDpc(first, UnsafeMutableRawPointer(bitPattern: 1), UnsafeMutableRawPointer(bitPattern: 2))
                keInsertQueueDpc(second)
                keInsertQueueDpc(first)  // already queued: nothing changes
                return .success
            }, context: nil, first: false)
            #expect(sync.connect() == .success)
        }
        clock.advance(to: 5_000)
        source.pending.store(true, ordering: .releasing)
        source.line.signal()
        clock.advance(by: 1)
        #expect(log.entries == ["ISR irql \(Irql.deviceLevel)", "DPC1 irql \(Irql.dispatchLevel) args 1,2 ctx 119", "DPC2"])
        #expect(log.times == [5_000])  // no time passed between the interrupt and its DPC
        #expect(first.runCount == 1 && second.runCount == 1 && !first.isQueued)
        #expect(machine.isrCount == 1 && machine.dpcCount == 2)
        machine.withCurrent { sync.disconnect() }
    }

    /// KeFlushQueuedDpcs returns once the DPCs queued before it have run.
    @Test func flushRunsTheQueuedDpcs() {
        let machine = Machine(timebase: VirtualClock())
        let dpc = KDpc()
        let log = Log()
        machine.withCurrent {
            keInitializeDpc(dpc, { _, _, _, _ in log.entries.append("ran") })
            keInsertQueueDpc(dpc)
            #expect(log.entries.isEmpty)
            keFlushQueuedDpcs()
            #expect(log.entries == ["ran"])
        }
    }

    // MARK: Interrupt sync

    /// Three ISRs on one line, in each INTERRUPTSYNCMODE.
    @Test(arguments: [InterruptSync.Mode.normal, .all, .repeat])
    func interruptSyncModes(_ mode: InterruptSync.Mode) {
        let clock = VirtualClock()
        let machine = Machine(timebase: clock)
        let source = Source()
        let log = Log()
        let sync = InterruptSync(machine: machine, line: source.line, mode: mode)
        let budget = Atomic<Int>(3)  // ISR "b" claims this many times in a row
        machine.withCurrent {
            _ = sync.registerServiceRoutine({ _, _ in log.entries.append("b"); return budget.subtract(1, ordering: .relaxed).newValue >= 0 ? .success : .unsuccessful },
                                            context: nil, first: false)
            _ = sync.registerServiceRoutine({ _, _ in
                log.entries.append("c")
                source.pending.store(false, ordering: .releasing)  // the one that acknowledges the device
                return .success
            }, context: nil, first: false)
            _ = sync.registerServiceRoutine({ _, _ in log.entries.append("a"); return .unsuccessful }, context: nil, first: true)
            #expect(sync.connect() == .success)
            #expect(sync.connect() == .invalidDeviceState)  // connected already
            // Registering after Connect is out of order.
            #expect(sync.registerServiceRoutine({ _, _ in .success }, context: nil, first: false) == .invalidDeviceState)
        }
        #expect(machine.verifier.violations(of: .callOrder).count == 1)
        source.pending.store(true, ordering: .releasing)
        source.line.signal()
        clock.advance(by: 1)
        switch mode {
        case .normal:
            // Until one claims: a (no), b (yes); c not called, so the line stays up and the round repeats.
            #expect(log.entries.starts(with: ["a", "b", "a", "b", "a", "b", "a", "b", "c"]))
        case .all:
            #expect(log.entries == ["a", "b", "c"])  // each once; c acknowledged it
        case .repeat:
            // Passes over all of them until none claims: b claims three times, c twice (then the line is down but c still claims).
            #expect(log.entries.prefix(6) == ["a", "b", "c", "a", "b", "c"])
            #expect(log.entries.count % 3 == 0)
        }
        // Interrupts taken with a claim: normal mode takes the still-asserted line four times
        // (b claims three, then c acknowledges); all and repeat take it once.
        #expect(sync.claimedCount == (mode == .normal ? 4 : 1) && sync.unclaimedCount == 0 && !source.line.isAsserted)
        machine.withCurrent { sync.disconnect() }
        #expect(!sync.isConnected)
    }

    /// CallSynchronizedRoutine runs at the interrupt's DIRQL under its lock, from any thread.
    @Test func callSynchronizedRoutineRunsAtDIRQL() {
        let machine = Machine(timebase: VirtualClock())
        let source = Source()
        let sync = InterruptSync(machine: machine, line: source.line, irql: 7, mode: .normal)
        machine.withCurrent {
            var seen: KIRQL = 0
            let status = withUnsafeMutablePointer(to: &seen) { p in
                sync.callSynchronizedRoutine({ _, context in
                    context!.assumingMemoryBound(to: KIRQL.self).pointee = keGetCurrentIrql()
                    return .success
                }, context: UnsafeMutableRawPointer(p))
            }
            #expect(status == .success && seen == 7)
            #expect(keGetCurrentIrql() == Irql.passiveLevel)
            #expect(sync.connect() == .invalidDeviceState)  // no ISR registered
        }
    }

    // MARK: Timers and the system tick

    /// With TimerResolution.high the tick is 1 ms throughout: an ordinary 10 ms
    /// periodic timer fires every 10 ms exactly.
    @Test func aRaisedResolutionMakesOrdinaryTimersFireOnTime() {
        let clock = VirtualClock()
        let machine = Machine(timebase: clock, timerResolution: .high)
        #expect(machine.currentTickNanoseconds == Machine.highResolutionTickNanoseconds)
        let log = Log()
        let timer = KTimer(), dpc = KDpc()
        machine.withCurrent {
            keInitializeDpc(dpc, { _, _, _, _ in log.times.append(clock.now) })
            keInitializeTimer(timer)
            #expect(!keSetTimerEx(timer, dueTime: -100_000, period: 10, dpc: dpc))
        }
        clock.advance(to: 45_000_000)
        #expect(log.times == [10_000_000, 20_000_000, 30_000_000, 40_000_000])
        #expect(timer.expirationCount == 4)
        machine.withCurrent { #expect(keCancelTimer(timer)) }  // TRUE: it was set
        clock.advance(to: 100_000_000)
        #expect(log.times.count == 4)
    }

    /// The default 15.625 ms tick: a 1 ms EX_TIMER without EX_TIMER_HIGH_RESOLUTION
    /// expires at most once per tick (64 a second, not 1000), on tick boundaries.
    @Test func theDefaultTickCoalescesOrdinaryTimers() {
        let clock = VirtualClock()
        let machine = Machine(timebase: clock)
        let log = Log()
        var timer: ExTimer?
        machine.withCurrent {
            timer = exAllocateTimer({ _, _ in log.times.append(clock.now) }, nil, attributes: 0)
            #expect(!exSetTimer(timer!, dueTime: -10_000, period: 10_000))
        }
        clock.advance(to: 1_000_000_000)
        #expect(log.times.count == 64)
        #expect(log.times.allSatisfy { $0 % Machine.standardTickNanoseconds == 0 })
        #expect(machine.currentTickNanoseconds == Machine.standardTickNanoseconds)
        machine.withCurrent {
            #expect(exSetTimer(timer!, dueTime: -10_000, period: 0))   // TRUE: it cancelled the pending set
            #expect(exCancelTimer(timer!))
            #expect(!exCancelTimer(timer!))
            #expect(!exDeleteTimer(timer!, cancel: true, wait: true))
        }
    }

    /// KeSetTimerEx on a set timer re-arms it (TRUE); a due time in the past fires at the next tick;
    /// an absolute due time counts from the clock's origin.
    @Test func timerReArmingAndAbsoluteDueTimes() {
        let clock = VirtualClock(start: 20_000_000)
        let machine = Machine(timebase: clock)
        let log = Log()
        let timer = KTimer(), dpc = KDpc()
        machine.withCurrent {
            keInitializeDpc(dpc, { _, _, a, b in
                // The DPC's system arguments hold the expiry time in 100-ns units, low and high parts.
                log.times.append(UInt64(UInt(bitPattern: a)) | UInt64(UInt(bitPattern: b)) << 32)
            })
            keInitializeTimerEx(timer, type: .synchronization)
            #expect(!keSetTimer(timer, dueTime: -1_000_000, dpc: dpc))     // 100 ms
            #expect(keSetTimer(timer, dueTime: 400_000, dpc: dpc))         // absolute 40 ms: re-armed
        }
        clock.advance(to: 200_000_000)
        // 40 ms lies between ticks 31.25 and 46.875 ms: it fires at 46.875 ms, never early.
        #expect(log.times == [468_750])
        // A synchronization timer resets when a wait takes it.
        machine.withCurrent {
            #expect(keWaitForSingleObject(timer, timeout: 0) == .success)
            #expect(keWaitForSingleObject(timer, timeout: 0) == .timeout)
        }
    }

    @Test func deletingAnArmedTimerWithoutCancelIsAFinding() {
        let machine = Machine(timebase: VirtualClock())
        machine.withCurrent {
            let timer = exAllocateTimer(nil, nil, attributes: EX_TIMER_HIGH_RESOLUTION)!
            exSetTimer(timer, dueTime: -10_000_000, period: 0)
            #expect(machine.currentTickNanoseconds == Machine.highResolutionTickNanoseconds)
            #expect(!exDeleteTimer(timer, cancel: false, wait: false))
            #expect(machine.currentTickNanoseconds == Machine.standardTickNanoseconds)
            #expect(!exSetTimer(timer, dueTime: -10, period: 0))  // deleted
        }
        #expect(machine.verifier.violations(of: .deleteWhileArmed).count == 1)
        #expect(machine.verifier.violations(of: .objectNotInitialized).first?.ddi == "ExSetTimer")
    }

    // MARK: Spin locks and IRQL

    @Test func spinLocksRaiseToDispatchAndRestore() {
        let machine = Machine(timebase: VirtualClock())
        machine.withCurrent {
            let a = KSpinLock(), b = KSpinLock()
            keInitializeSpinLock(a)
            keInitializeSpinLock(b)
            let old = keAcquireSpinLock(a)
            #expect(old == Irql.passiveLevel && keGetCurrentIrql() == Irql.dispatchLevel)
            let inner = keAcquireSpinLock(b)  // nested: already at DISPATCH
            #expect(inner == Irql.dispatchLevel)
            keReleaseSpinLock(b, inner)
            #expect(keGetCurrentIrql() == Irql.dispatchLevel)
            keReleaseSpinLock(a, old)
            #expect(keGetCurrentIrql() == Irql.passiveLevel)
            // The ...AtDpcLevel forms need DISPATCH_LEVEL already.
            let raised = keRaiseIrql(Irql.dispatchLevel)
            keAcquireSpinLockAtDpcLevel(a)
            keReleaseSpinLockFromDpcLevel(a)
            keLowerIrql(raised)
            #expect(machine.verifier.count == 0)
            keAcquireSpinLockAtDpcLevel(a)  // at PASSIVE_LEVEL
            keReleaseSpinLockFromDpcLevel(a)
            #expect(machine.verifier.violations(of: .irqlNotDispatch).map(\.ddi) == ["KeAcquireSpinLockAtDpcLevel", "KeReleaseSpinLockFromDpcLevel"])
            keReleaseSpinLock(b, Irql.passiveLevel)  // not held
            #expect(machine.verifier.violations(of: .spinLockNotOwned).count == 1)
        }
    }

    /// Each IRQL rule, broken once: the finding names the rule, the DDI, the
    /// IRQL, the stream ("-": no stream current) and the time since the machine started.
    @Test func irqlViolationsAreRecordedWithRuleDDIIrqlStreamAndTime() {
        let clock = VirtualClock(start: 5_000_000)
        let machine = Machine(timebase: clock)
        let source = Source()
        let sync = InterruptSync(machine: machine, line: source.line, mode: .normal)
        let event = KEvent(), stray = KEvent(), dpc = KDpc(), lock = KSpinLock()
        machine.withCurrent {
            keInitializeEvent(event, type: .synchronization, state: false)
            keInitializeSpinLock(lock)
            _ = sync.registerServiceRoutine({ _, _ in
                source.pending.store(false, ordering: .releasing)
                keSetEvent(event)  // DISPATCH_LEVEL at most; an ISR runs at DIRQL
                return .success
            }, context: nil, first: false)
            _ = sync.connect()
            keInitializeDpc(dpc, { _, _, _, _ in
                _ = keWaitForSingleObject(event, timeout: -10_000)  // a wait with a timeout at DISPATCH_LEVEL
                _ = keAcquireSpinLock(lock)                          // returns holding it: IRQL not restored
            })
        }
        clock.advance(to: 7_000_000)
        source.pending.store(true, ordering: .releasing)
        source.line.signal()
        clock.advance(by: 1)
        machine.withCurrent {
            keInsertQueueDpc(dpc)
            let old = keRaiseIrql(Irql.dispatchLevel)
            _ = keRaiseIrql(Irql.passiveLevel)     // raising to a lower level (it does lower: PASSIVE_LEVEL now)
            keLowerIrql(old)
            keStallExecutionProcessor(100)         // more than 50 µs
            keSetEvent(stray)                      // never initialised
        }
        clock.advance(by: 1)
        keInitializeSpinLock(lock)
        let v = machine.verifier
        let isr = try? #require(v.violations(of: .irqlTooHigh).first)
        #expect(isr?.ddi == "KeSetEvent" && isr?.irql == "DIRQL (5)" && isr?.stream == "-" && isr?.time == 2_000_000)
        #expect(isr?.detail.contains("maximum is DISPATCH_LEVEL") == true)
        #expect(v.violations(of: .waitAtDispatch).first?.irql == "DISPATCH_LEVEL")
        #expect(v.violations(of: .irqlLeak).first?.ddi == "DPC")
        #expect(v.violations(of: .irqlNotGreaterOrEqual).first?.ddi == "KeRaiseIrql")
        #expect(v.violations(of: .irqlNotLessOrEqual).isEmpty)  // lowering to the same level is fine
        #expect(v.violations(of: .stallTooLong).first?.detail.contains("stalled 100 µs") == true)
        #expect(v.violations(of: .objectNotInitialized).first?.ddi == "KeSetEvent")
        #expect(v.violations.allSatisfy { !$0.rule.isEmpty && !$0.ddi.isEmpty && !$0.irql.isEmpty && !$0.stream.isEmpty })
        #expect(v.violations.first?.description.contains("KeSetEvent at DIRQL (5), stream -, t=0.002000000 s") == true)
        machine.withCurrent {
            keLowerIrql(Irql.dispatchLevel)  // above the current PASSIVE_LEVEL: lowering upwards
            keLowerIrql(Irql.passiveLevel)
            sync.disconnect()
        }
        #expect(v.violations(of: .irqlNotLessOrEqual).count == 1)
    }

    // MARK: Time, registers, ports

    @Test func performanceCounterRunsAt10MHzOnTheMachinesClock() {
        let clock = VirtualClock(start: 1_234_567_800)
        let machine = Machine(timebase: clock)
        machine.withCurrent {
            var frequency: UInt64 = 0
            let t = keQueryPerformanceCounter(&frequency)
            #expect(frequency == 10_000_000 && t == 12_345_678)
            clock.advance(by: 1_000_000_000)
            #expect(keQueryPerformanceCounter() == 22_345_678)
            #expect(keQueryInterruptTime() == 22_345_678)
        }
    }

    /// A scratch register block on the bus, for MMIO and port I/O.
    final class Scratch: RegisterBlock, @unchecked Sendable {
        let name = "scratch"
        let size = 0x100
        let faults = BusFaults()
        let value = Atomic<UInt64>(0)
        func read(offset: Int, width: AccessWidth) -> UInt64 {
            guard offset == 0x10 else { faults.unknownRead(offset: offset, width: width); return width.mask }
            return value.load(ordering: .acquiring) & width.mask
        }
        func write(offset: Int, width: AccessWidth, value v: UInt64) {
            guard offset == 0x10 else { return faults.unknownWrite(offset: offset, width: width) }
            value.store(v, ordering: .releasing)
        }
    }

    @Test func mmioMappingsAndPortsReachTheDevice() throws {
        let machine = Machine(timebase: VirtualClock())
        let device = Scratch(), ports = Scratch()
        try machine.bus.attach(device, at: .memory(base: 0xFED0_0000, length: device.size))
        try machine.bus.attach(ports, at: .ports(base: 0x300, length: ports.size))
        #expect(throws: BusError.self) { try machine.bus.attach(Scratch(), at: .ports(base: 0x380, length: 0x100)) }
        machine.withCurrent {
            #expect(mmMapIoSpace(0xFED0_0080, 0x100, .nonCached) == nil)  // runs past the device
            let va = mmMapIoSpace(0xFED0_0000, 0x100, .nonCached)!
            writeRegisterUlong(va + 0x10, 0xCAFE_F00D)
            #expect(readRegisterUlong(va + 0x10) == 0xCAFE_F00D)
            #expect(readRegisterUshort(va + 0x10) == 0xF00D)
            #expect(device.value.load(ordering: .acquiring) == 0xCAFE_F00D)
            #expect(machine.ioSpace.liveMappings == 1)
            mmUnmapIoSpace(va, 0x100)
            #expect(machine.ioSpace.liveMappings == 0)
            #expect(readRegisterUlong(va + 0x10) == 0xFFFF_FFFF)  // unmapped now: all ones, and a finding
            mmUnmapIoSpace(va, 0x100)
            writePortUchar(portAddress(0x310), 0x5A)
            #expect(readPortUchar(portAddress(0x310)) == 0x5A)
            #expect(readPortUchar(portAddress(0x500)) == 0xFF)      // nothing decodes it
        }
        #expect(machine.verifier.violations(of: .unmappedRegister).first?.ddi == "READ_REGISTER_ULONG")
        #expect(machine.verifier.violations(of: .unmapWithoutMap).first?.ddi == "MmUnmapIoSpace")
        #expect(machine.bus.unclaimedPortAccesses == 1)
    }
}
