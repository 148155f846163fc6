import Synchronization
import Testing
import WaveRTEngine
import WaveRTKernel
import WaveRTMemory
import WaveRTPort
import WaveRTTestSupport

/// The verifier's audio rules, each broken by a small miniport that breaks it.
/// Every finding names the rule, the DDI, the IRQL, the stream and the time.
@Suite struct VerifierRuleTests {
    /// Calls a PASSIVE_LEVEL IPortWaveRTStream method where it must not: the
    /// finding is IrqlTooHigh at the caller's IRQL, on the stream the DPC, ISR or
    /// timer was set up for.
    @Test func anIPortWaveRTStreamCallFromADpcIsReported() throws {
        let dpc = KDpc()
        let rig = try PortRig {
            $0.onNewStream = { stream in
                keInitializeDpc(dpc, { [unowned stream] _, _, _, _ in _ = stream.portStream.allocatePagesForMdl(highAddress: .max, totalBytes: 4096) })
            }
        }
        let (pin, _) = try rig.open()
        rig.clock.advance(to: 3_000_000)
        rig.machine.withCurrent { keInsertQueueDpc(dpc) }
        rig.clock.advance(by: 1)  // the DPC runs at the processor's next pass, at 3 ms
        let f = try #require(rig.verifier.violations(of: .irqlTooHigh).first)
        #expect(f.ddi == "IPortWaveRTStream::AllocatePagesForMdl" && f.irql == "DISPATCH_LEVEL")
        #expect(f.stream == "pin 0 (render)" && f.time == 2_000_000)
        #expect(f.detail == "called at DISPATCH_LEVEL; its maximum is PASSIVE_LEVEL")
        // The page it got anyway is the stream's leak at close.
        #expect(pin.close().leaks == ["IPortWaveRTStream::AllocatePagesForMdl: 4096 bytes not freed"])
    }

    @Test func anIPortWaveRTStreamCallFromAnISRIsReported() throws {
        let device = TestLine()
        var sync: InterruptSync?
        let rig = try PortRig()
        rig.miniport.onNewStream = { stream in
            sync = InterruptSync(machine: rig.machine, line: device.line, mode: .normal)
            _ = sync!.registerServiceRoutine({ [unowned stream] _, _ in
                device.pending.store(false, ordering: .releasing)
                if let mdl = stream.buffer?.mdl { _ = stream.portStream.getPhysicalPagesCount(mdl) }
                return .success
            }, context: nil, first: false)
            _ = sync!.connect()
        }
        let (pin, _) = try rig.open()
        _ = try pin.buffer(requestedSize: 4096, notificationCount: 2).get()
        device.raise()
        rig.clock.advance(by: 1)
        let f = try #require(rig.verifier.violations(of: .irqlTooHigh).first)
        #expect(f.ddi == "IPortWaveRTStream::GetPhysicalPagesCount" && f.irql == "DIRQL (5)" && f.stream == "pin 0 (render)")
        rig.machine.withCurrent { sync?.disconnect() }
        #expect(pin.close().isClean)
    }

    @Test func anIPortWaveRTStreamCallFromATimerCallbackIsReported() throws {
        var timer: ExTimer?
        let rig = try PortRig()
        rig.miniport.onNewStream = { stream in
            timer = exAllocateTimer({ [unowned stream] _, _ in _ = stream.portStream.mapAllocatedPages(stream.buffer!.mdl, cacheType: .cached) },
                                    nil, attributes: EX_TIMER_HIGH_RESOLUTION)
        }
        let (pin, _) = try rig.open()
        _ = try pin.buffer(requestedSize: 4096, notificationCount: 2).get()
        rig.machine.withCurrent { exSetTimer(timer!, dueTime: -10_000, period: 0) }
        rig.clock.advance(by: 2_000_000)
        let f = try #require(rig.verifier.violations(of: .irqlTooHigh).first)
        #expect(f.ddi == "IPortWaveRTStream::MapAllocatedPages" && f.irql == "DISPATCH_LEVEL" && f.stream == "pin 0 (render)")
        rig.machine.withCurrent { exDeleteTimer(timer!, cancel: true, wait: true) }
        _ = pin.close()
    }

    /// With a spin lock held the caller is at DISPATCH_LEVEL: the same rule.
    @Test func anIPortWaveRTStreamCallWithASpinLockHeldIsReported() throws {
        let rig = try PortRig()
        let (pin, stream) = try rig.open()
        let lock = KSpinLock()
        keInitializeSpinLock(lock)
        stream.onSetState = { [unowned stream] _ in
            let irql = keAcquireSpinLock(lock)
            if let mdl = stream.portStream.allocatePagesForMdl(highAddress: .max, totalBytes: 4096) { stream.portStream.freePagesFromMdl(mdl) }
            keReleaseSpinLock(lock, irql)
        }
        #expect(pin.setState(.acquire) == .success)
        let findings = rig.verifier.violations(of: .irqlTooHigh)
        #expect(findings.map(\.ddi) == ["IPortWaveRTStream::AllocatePagesForMdl", "IPortWaveRTStream::FreePagesFromMdl"])
        #expect(findings.allSatisfy { $0.irql == "DISPATCH_LEVEL" && $0.stream == "pin 0 (render)" })
        stream.onSetState = nil
        _ = pin.close()
    }

    /// A miniport that returns to the port at a raised IRQL (it forgot to release a lock).
    @Test func returningToThePortAtARaisedIrqlIsReported() throws {
        let rig = try PortRig()
        let (pin, stream) = try rig.open()
        let lock = KSpinLock()
        keInitializeSpinLock(lock)
        stream.onSetState = { _ in _ = keAcquireSpinLock(lock) }
        #expect(pin.setState(.acquire) == .success)
        stream.onSetState = nil
        #expect(pin.setState(.pause) == .success)  // the next call into the miniport finds it
        #expect(rig.verifier.violations(of: .irqlLeak).first?.ddi == "IMiniportWaveRTStream::SetState")
        #expect(keGetCurrentIrql() == Irql.passiveLevel)  // the port put it back
        _ = pin.close()
    }

    // MARK: Leaks at teardown

    /// Pool the miniport allocated and never freed, an interrupt it never
    /// disconnected, register mappings it never unmapped: named when the port unloads it.
    @Test func poolInterruptsAndRegisterMappingsLeftAtUnload() throws {
        var sync: InterruptSync?
        let rig = try PortRig {
            $0.onInitialize = { miniport, resources in
                _ = exAllocatePool2(.nonPaged, 256, 0x7473_6554)  // 'Test'
                _ = mmMapIoSpace(0xFEB4_0000, 0x1000, .nonCached)
                switch pcNewInterruptSync(resourceList: resources, resourceIndex: 0, mode: .normal) {
                case .success(let s): sync = s
                case .failure: break
                }
                _ = sync?.registerServiceRoutine({ _, _ in .unsuccessful }, context: nil, first: false)
                _ = sync?.connect()
            }
        }
        #expect(sync?.isConnected == true)
        let leaks = rig.port.close()
        #expect(leaks.contains("pool tag 'Test': 256 bytes not freed"))
        #expect(leaks.contains("1 interrupt connection(s) still connected (IInterruptSync::Disconnect not called)"))
        #expect(leaks.contains("1 MmMapIoSpace mapping(s) not unmapped"))
        #expect(rig.verifier.violations(of: .leakedPool).first?.ddi == "ExFreePoolWithTag")
        #expect(rig.verifier.violations(of: .leakedInterrupt).count == 1)
        #expect(rig.verifier.violations(of: .leakedMapping).count == 1)
        rig.machine.withCurrent { sync?.disconnect() }
    }

    /// An event the miniport keeps after the port asked it to let go.
    @Test func aRegisteredEventTheMiniportKeepsIsALeak() throws {
        let rig = try PortRig()
        let (pin, s) = try rig.open()
        let stream = try #require(s as? NotifyingTestStream)
        _ = try pin.buffer(requestedSize: 4096, notificationCount: 2).get()
        let (handle, _) = rig.port.createEvent()
        #expect(pin.registerNotificationEvent(handle) == .success)
        stream.unregisterStatus = .unsuccessful
        let report = pin.close()
        #expect(report.failures == ["UnregisterNotificationEvent failed with STATUS_UNSUCCESSFUL (0xC0000001)"])
        let f = try #require(rig.verifier.violations(of: .leakedEvent).first)
        #expect(f.stream == "pin 0 (render)" && f.ddi == "UnregisterNotificationEvent")
    }

    /// A timer of the stream still set when the pin closes.
    @Test func aTimerLeftSetIsALeak() throws {
        var timer: ExTimer?
        let rig = try PortRig()
        rig.miniport.onNewStream = { _ in
            timer = exAllocateTimer({ _, _ in }, nil, attributes: EX_TIMER_HIGH_RESOLUTION)
            exSetTimer(timer!, dueTime: -10_000, period: 10_000)
        }
        let (pin, _) = try rig.open()
        rig.clock.advance(by: 5_000_000)
        let report = pin.close()
        #expect(report.leaks == ["1 timer(s) of the stream still set after it closed"])
        #expect(rig.verifier.violations(of: .leakedTimer).first?.stream == "pin 0 (render)")
        rig.machine.withCurrent { exDeleteTimer(timer!, cancel: true, wait: true) }
    }

    /// A timer the driver set in Init and left set when it unloads.
    @Test func aDriverTimerLeftSetAtUnloadIsALeak() throws {
        var timer: ExTimer?
        let rig = try PortRig {
            $0.onInitialize = { _, _ in
                timer = exAllocateTimer({ _, _ in }, nil, attributes: 0)
                exSetTimer(timer!, dueTime: -1_000_000, period: 1_000_000)
            }
        }
        let leaks = rig.port.close()
        #expect(leaks.contains { $0.contains("timer") })
        #expect(rig.verifier.violations(of: .leakedTimer).count == 1)
        rig.machine.withCurrent { exDeleteTimer(timer!, cancel: true, wait: true) }
    }

    /// A DPC still queued when the stream goes: it would run on a freed stream.
    @Test func aDpcQueuedAtCloseIsALeakAndDoesNotRun() throws {
        let dpc = KDpc()
        let ran = Atomic<Int>(0)
        let rig = try PortRig {
            $0.onNewStream = { _ in keInitializeDpc(dpc, { _, _, _, _ in ran.add(1, ordering: .relaxed) }) }
        }
        let (pin, stream) = try rig.open()
        stream.onSetState = { new in if new == .stop { keInsertQueueDpc(dpc) } }
        #expect(pin.setState(.acquire) == .success)
        let report = pin.close()  // SetState(STOP) queues it; nothing runs the processor before the close ends
        #expect(report.leaks == ["1 DPC(s) of the stream still queued after it closed"])
        let f = try #require(rig.verifier.violations(of: .leakedDpc).first)
        #expect(f.stream == "pin 0 (render)" && f.ddi == "KeRemoveQueueDpc / KeFlushQueuedDpcs")
        rig.clock.advance(by: 1_000_000)
        #expect(ran.load(ordering: .relaxed) == 0)  // taken out of the queue: it does not run on a closed stream
    }
}
