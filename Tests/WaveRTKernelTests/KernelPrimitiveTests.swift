import Synchronization
import Testing
import WaveRTEngine
import WaveRTHardware
import WaveRTKernel
import WaveRTMemory
import WaveRTTestSupport

/// WDM semantics of the kernel primitives, exact on the virtual clock.
@Suite struct KernelPrimitiveTests {
    final class Counter: @unchecked Sendable {
        let value = Atomic<Int>(0)
        var times: [UInt64] = []
    }

    @Test func keSetEventReturnsThePreviousStateAndNeverCounts() {
        let machine = Machine(timebase: VirtualClock())
        machine.withCurrent {
            let event = KEvent()
            keInitializeEvent(event, type: .synchronization, state: false)
            #expect(keSetEvent(event) == 0)
            #expect(keSetEvent(event) == 1)  // already set: no count
            #expect(keWaitForSingleObject(event, timeout: 0) == .success)
            #expect(keWaitForSingleObject(event, timeout: 0) == .timeout)  // one wait consumed it: set twice, released once
            let notification = KEvent()
            keInitializeEvent(notification, type: .notification, state: true)
            #expect(keWaitForSingleObject(notification, timeout: 0) == .success)
            #expect(keReadStateEvent(notification) == 1)  // a notification event stays set
            #expect(keResetEvent(notification) == 1)
            #expect(keReadStateEvent(notification) == 0)
        }
    }

    @Test func aDpcIsNeverQueuedTwiceAndRunsAtDispatchLevel() {
        let clock = VirtualClock()
        let machine = Machine(timebase: clock)
        let seen = Counter()
        let dpc = KDpc()
        machine.withCurrent {
            keInitializeDpc(dpc, { _, _, _, _ in
                seen.value.add(1, ordering: .relaxed)
                #expect(keGetCurrentIrql() == Irql.dispatchLevel)
            })
            #expect(keInsertQueueDpc(dpc))
            #expect(!keInsertQueueDpc(dpc))  // already queued: FALSE, nothing changes
        }
        clock.advance(by: 1)
        #expect(seen.value.load(ordering: .relaxed) == 1)
        machine.withCurrent {
            #expect(keInsertQueueDpc(dpc))
            #expect(keRemoveQueueDpc(dpc))
            #expect(!keRemoveQueueDpc(dpc))
        }
        clock.advance(by: 1)
        #expect(seen.value.load(ordering: .relaxed) == 1)  // removed: it did not run
        machine.withCurrent { #expect(keInsertQueueDpc(dpc)) }
        clock.advance(by: 1)
        #expect(seen.value.load(ordering: .relaxed) == 2)
    }

    @Test func ordinaryTimersExpireOnTheDefaultTickAndHighResolutionOnesRaiseIt() {
        let clock = VirtualClock()
        let machine = Machine(timebase: clock)
        let fired = Counter()
        let timer = KTimer()
        let dpc = KDpc()
        machine.withCurrent {
            keInitializeDpc(dpc, { _, _, _, _ in fired.times.append(clock.now) })
            keInitializeTimer(timer)
            keSetTimerEx(timer, dueTime: -10_000 * 10, period: 10, dpc: dpc)  // 10 ms, every 10 ms
        }
        clock.advance(to: 60_000_000)
        // A 10 ms period on a 15.625 ms tick: each expiry waits for the next tick boundary (never early).
        // At most one expiry per tick: 64 a second instead of 100, as on Windows without a raised resolution.
        #expect(fired.times == [15_625_000, 31_250_000, 46_875_000])
        // A high-resolution EX_TIMER raises the tick to 1 ms while it is set.
        let high = Counter()
        var exTimer: ExTimer?
        machine.withCurrent {
            exTimer = exAllocateTimer({ _, _ in high.times.append(clock.now) }, nil, attributes: EX_TIMER_HIGH_RESOLUTION)
            exSetTimer(exTimer!, dueTime: -10_000, period: 10_000)  // 1 ms
            keCancelTimer(timer)
            fired.times.removeAll()
            keSetTimerEx(timer, dueTime: -10_000 * 10, period: 0, dpc: dpc)
        }
        clock.advance(by: 20_000_000)
        #expect(high.times.count == 20)
        #expect(fired.times == [70_000_000])  // on a 1 ms tick now
        machine.withCurrent { exDeleteTimer(exTimer!, cancel: true, wait: false) }
        #expect(machine.currentTickNanoseconds == Machine.standardTickNanoseconds)
    }

    @Test func aPassiveLevelCallAtDispatchIsAVerifierFinding() {
        let machine = Machine(timebase: VirtualClock())
        machine.withCurrent {
            let lock = KSpinLock()
            keInitializeSpinLock(lock)
            let old = keAcquireSpinLock(lock)
            #expect(keGetCurrentIrql() == Irql.dispatchLevel)
            _ = mmAllocatePagesForMdl(0, .max, 0, 4096).map { mmFreePagesFromMdl($0) }
            keReleaseSpinLock(lock, old)
            #expect(keGetCurrentIrql() == Irql.passiveLevel)
        }
        let found = machine.verifier.violations(of: .irqlTooHigh)
        #expect(found.count == 1)
        #expect(found.first?.ddi == "MmAllocatePagesForMdl")
        #expect(found.first?.irql == "DISPATCH_LEVEL")
    }

    /// A device whose line is asserted while a flag is set.
    final class Source: InterruptSource, @unchecked Sendable {
        let pending = Atomic<Bool>(false)
        let line = InterruptLine(name: "test")
        init() { line.drive(from: self) }
        var interruptLevel: Bool { pending.load(ordering: .acquiring) }
    }

    @Test func levelTriggeredInterruptsRunTheISRUntilAcknowledgedAndStormsAreMasked() {
        let clock = VirtualClock()
        let machine = Machine(timebase: clock)
        let source = Source()
        let calls = Counter()
        let sync = InterruptSync(machine: machine, line: source.line, mode: .normal)
        machine.withCurrent {
            let registered = sync.registerServiceRoutine({ _, _ in
                calls.value.add(1, ordering: .relaxed)
                calls.times.append(UInt64(keGetCurrentIrql()))
                source.pending.store(false, ordering: .releasing)  // acknowledge the cause
                return .success
            }, context: nil, first: false)
            #expect(registered == .success)
            #expect(sync.connect() == .success)
        }
        source.pending.store(true, ordering: .releasing)
        source.line.signal()
        clock.advance(by: 1)
        #expect(calls.value.load(ordering: .relaxed) == 1)
        #expect(calls.times == [UInt64(Irql.deviceLevel)])
        #expect(sync.claimedCount == 1)
        // An ISR that never acknowledges: the line stays high; the kernel masks it and reports.
        let storm = Source()
        let deaf = InterruptSync(machine: machine, line: storm.line, mode: .normal)
        machine.withCurrent {
            _ = deaf.registerServiceRoutine({ _, _ in .unsuccessful }, context: nil, first: false)
            _ = deaf.connect()
        }
        storm.pending.store(true, ordering: .releasing)
        storm.line.signal()
        clock.advance(by: 1)
        #expect(deaf.isMasked)
        #expect(machine.verifier.violations(of: .interruptStorm).count == 1)
        machine.withCurrent {
            sync.disconnect()
            deaf.disconnect()
        }
    }

    @Test func stallsInsideAPassMoveOnlyTheStallingThreadsTime() {
        let clock = VirtualClock()
        let machine = Machine(timebase: clock)
        let seen = Counter()
        let dpc = KDpc()
        machine.withCurrent {
            keInitializeDpc(dpc, { _, _, _, _ in
                let before = clock.now
                keStallExecutionProcessor(20)
                seen.times.append(clock.now - before)
            })
            keInsertQueueDpc(dpc)
        }
        clock.advance(by: 5)
        #expect(seen.times == [20_000])
        #expect(clock.now == 5)  // global time did not move under the pass
        // Outside a pass a stall advances the clock.
        machine.withCurrent { keStallExecutionProcessor(30) }
        #expect(clock.now == 30_005)
    }

    @Test func poolIsZeroedTrackedByTagAndChecksFrees() {
        let machine = Machine(timebase: VirtualClock())
        machine.withCurrent {
            let tag: UInt32 = 0x5452_5657  // 'WVRT'
            let p = exAllocatePool2([.nonPaged], 64, tag)!
            #expect(UnsafeRawBufferPointer(start: p, count: 64).allSatisfy { $0 == 0 })
            #expect(machine.pool.outstandingByTag == ["WVRT": 64])
            exFreePoolWithTag(p, 0x1234_5678)
            #expect(machine.verifier.violations(of: .poolTagMismatch).count == 1)
            exFreePool(p)  // freed already
            #expect(machine.verifier.violations(of: .doubleFree).count == 1)
            #expect(machine.pool.outstanding.isEmpty)
        }
    }
}
