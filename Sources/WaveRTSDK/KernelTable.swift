import CWaveRTSDK
import CWaveRTShim
import Glibc
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

// The host's half of the ABI (WrtKernel): each entry is the WDM DDI or port
// method of the same name, implemented by the emulator's Swift DDI, which
// checks the IRQL rule and reports misuse to the verifier. Entries note the
// DDI for crash reports (the last DDI the miniport called) and find the
// miniport's BridgeContext through the crash guard when they need it.

@inline(__always)
private func enter(_ ddi: StaticString) {
    ddi.withUTF8Buffer { wrt_sdk_ddi_enter(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) }
}

@inline(__always)
private func bool(_ b: Bool) -> UInt8 { b ? 1 : 0 }

@inline(__always)
private func hostObject<T>(_ handle: UnsafeMutableRawPointer?, as _: T.Type) -> T? {
    guard let handle else { return nil }
    return Unmanaged<HostObject>.fromOpaque(handle)._withUnsafeGuaranteedRef { $0.object as? T }
}

@inline(__always)
private func withContext<R>(_ fallback: R, _ body: (BridgeContext) -> R) -> R {
    BridgeContext.withCurrent(body) ?? fallback
}

/// A register address as the Swift DDIs take it; NULL becomes an address no mapping covers.
@inline(__always)
private func register(_ p: UnsafeRawPointer?) -> UnsafeRawPointer { p ?? UnsafeRawPointer(bitPattern: 1)! }

private func cacheType(_ raw: Int32) -> MemoryCachingType { MemoryCachingType(rawValue: Int(raw)) ?? .cached }

/// KeStallExecutionProcessor's limit and KeWaitForSingleObject's: nothing here may block the emulated processor for long.
private func entryTimeout(_ timeout: UnsafePointer<Int64>?) -> Int64? { timeout?.pointee }

enum KernelTable {
    /// The one table every loaded library is attached to.
    nonisolated(unsafe) static let shared: UnsafeMutablePointer<WrtKernel> = {
        let t = UnsafeMutablePointer<WrtKernel>.allocate(capacity: 1)
        t.initialize(to: WrtKernel())
        fill(t)
        return t
    }()

    // swiftlint:disable:next function_body_length
    private static func fill(_ t: UnsafeMutablePointer<WrtKernel>) {
        t.pointee.abiVersion = WRT_ABI_VERSION
        t.pointee.size = UInt32(MemoryLayout<WrtKernel>.size)

        // IRQL
        t.pointee.getCurrentIrql = { keGetCurrentIrql() }
        t.pointee.raiseIrql = { enter("KeRaiseIrql"); defer { wrt_sdk_ddi_leave() }; return keRaiseIrql($0) }
        t.pointee.lowerIrql = { enter("KeLowerIrql"); defer { wrt_sdk_ddi_leave() }; keLowerIrql($0) }

        // KEVENT
        t.pointee.initializeEvent = { p, type, state in
            enter("KeInitializeEvent"); defer { wrt_sdk_ddi_leave() }
            guard let p else { return }
            withContext(()) { c in
                let event = c.bind(p, kind: .event) { KEvent() }
                keInitializeEvent(event, type: type == 0 ? .notification : .synchronization, state: state != 0)
            }
        }
        t.pointee.setEvent = { p, increment, wait in
            enter("KeSetEvent"); defer { wrt_sdk_ddi_leave() }
            return BridgeContext.object(p, kind: .event, as: KEvent.self, "KeSetEvent")?
                ._withUnsafeGuaranteedRef { keSetEvent($0, increment: increment, wait: wait != 0) } ?? 0
        }
        t.pointee.clearEvent = { p in
            enter("KeClearEvent"); defer { wrt_sdk_ddi_leave() }
            BridgeContext.object(p, kind: .event, as: KEvent.self, "KeClearEvent")?._withUnsafeGuaranteedRef { keClearEvent($0) }
        }
        t.pointee.resetEvent = { p in
            enter("KeResetEvent"); defer { wrt_sdk_ddi_leave() }
            return BridgeContext.object(p, kind: .event, as: KEvent.self, "KeResetEvent")?._withUnsafeGuaranteedRef { keResetEvent($0) } ?? 0
        }
        t.pointee.readStateEvent = { p in
            enter("KeReadStateEvent"); defer { wrt_sdk_ddi_leave() }
            return BridgeContext.object(p, kind: .event, as: KEvent.self, "KeReadStateEvent")?._withUnsafeGuaranteedRef { keReadStateEvent($0) } ?? 0
        }
        t.pointee.waitForSingleObject = { p, timeout in
            enter("KeWaitForSingleObject"); defer { wrt_sdk_ddi_leave() }
            guard let object = BridgeContext.dispatcherObject(p, "KeWaitForSingleObject") else { return NTStatus.invalidParameter.rawValue }
            return object._withUnsafeGuaranteedRef { keWaitForSingleObject($0, timeout: entryTimeout(timeout)) }.rawValue
        }

        // KDPC
        t.pointee.initializeDpc = { p, routine, context in
            enter("KeInitializeDpc"); defer { wrt_sdk_ddi_leave() }
            guard let p, let routine else { return Verifier.record(.objectNotInitialized, "KeInitializeDpc") }
            withContext(()) { c in
                let dpc = c.bind(p, kind: .dpc) { KDpc() }
                // Weak: a DPC the machine still holds must not keep the miniport's context (and with it the machine) alive.
                keInitializeDpc(dpc, { [weak c] _, deferredContext, argument1, argument2 in
                    guard let c else { return }
                    wrt_guarded_call_dpc(c.instance, routine, p, deferredContext, argument1, argument2)
                    c.checkCrash()
                }, context)
            }
        }
        t.pointee.insertQueueDpc = { p, a, b in
            enter("KeInsertQueueDpc"); defer { wrt_sdk_ddi_leave() }
            return bool(BridgeContext.object(p, kind: .dpc, as: KDpc.self, "KeInsertQueueDpc")?._withUnsafeGuaranteedRef { keInsertQueueDpc($0, a, b) } ?? false)
        }
        t.pointee.removeQueueDpc = { p in
            enter("KeRemoveQueueDpc"); defer { wrt_sdk_ddi_leave() }
            return bool(BridgeContext.object(p, kind: .dpc, as: KDpc.self, "KeRemoveQueueDpc")?._withUnsafeGuaranteedRef { keRemoveQueueDpc($0) } ?? false)
        }
        t.pointee.flushQueuedDpcs = { enter("KeFlushQueuedDpcs"); defer { wrt_sdk_ddi_leave() }; keFlushQueuedDpcs() }

        // KTIMER
        t.pointee.initializeTimerEx = { p, type in
            enter("KeInitializeTimerEx"); defer { wrt_sdk_ddi_leave() }
            guard let p else { return }
            withContext(()) { c in
                let timer = c.bind(p, kind: .timer) { KTimer() }
                keInitializeTimerEx(timer, type: type == 0 ? .notification : .synchronization)
            }
        }
        t.pointee.setTimerEx = { p, dueTime, period, dpcPointer in
            enter("KeSetTimerEx"); defer { wrt_sdk_ddi_leave() }
            guard let timer = BridgeContext.object(p, kind: .timer, as: KTimer.self, "KeSetTimerEx") else { return 0 }
            let dpc = dpcPointer.flatMap { BridgeContext.object($0, kind: .dpc, as: KDpc.self, "KeSetTimerEx")?.takeUnretainedValue() }
            return bool(timer._withUnsafeGuaranteedRef { keSetTimerEx($0, dueTime: dueTime, period: period, dpc: dpc) })
        }
        t.pointee.cancelTimer = { p in
            enter("KeCancelTimer"); defer { wrt_sdk_ddi_leave() }
            return bool(BridgeContext.object(p, kind: .timer, as: KTimer.self, "KeCancelTimer")?._withUnsafeGuaranteedRef { keCancelTimer($0) } ?? false)
        }
        t.pointee.readStateTimer = { p in
            enter("KeReadStateTimer"); defer { wrt_sdk_ddi_leave() }
            return bool(BridgeContext.object(p, kind: .timer, as: KTimer.self, "KeReadStateTimer")?._withUnsafeGuaranteedRef { keReadStateTimer($0) } ?? false)
        }

        // EX_TIMER: the PEX_TIMER is the emulator's ExTimer itself (kept alive by the context).
        t.pointee.allocateTimer = { callback, context, attributes in
            enter("ExAllocateTimer"); defer { wrt_sdk_ddi_leave() }
            return withContext(nil) { c -> UnsafeMutableRawPointer? in
                let routine: ExTimer.Callback? = callback.map { callback in
                    { [weak c] timer, callbackContext in
                        guard let c else { return }
                        wrt_guarded_call_timer_callback(c.instance, callback, Unmanaged.passUnretained(timer).toOpaque(), callbackContext)
                        c.checkCrash()
                    }
                }
                guard let timer = exAllocateTimer(routine, context, attributes: attributes) else { return nil }
                c.retain(timer)
                return Unmanaged.passUnretained(timer).toOpaque()
            }
        }
        t.pointee.setExTimer = { p, dueTime, period in
            enter("ExSetTimer"); defer { wrt_sdk_ddi_leave() }
            guard let p else { Verifier.record(.objectNotInitialized, "ExSetTimer"); return 0 }
            return bool(Unmanaged<ExTimer>.fromOpaque(p)._withUnsafeGuaranteedRef { exSetTimer($0, dueTime: dueTime, period: period) })
        }
        t.pointee.cancelExTimer = { p in
            enter("ExCancelTimer"); defer { wrt_sdk_ddi_leave() }
            guard let p else { Verifier.record(.objectNotInitialized, "ExCancelTimer"); return 0 }
            return bool(Unmanaged<ExTimer>.fromOpaque(p)._withUnsafeGuaranteedRef { exCancelTimer($0) })
        }
        t.pointee.deleteExTimer = { p, cancel, wait in
            enter("ExDeleteTimer"); defer { wrt_sdk_ddi_leave() }
            guard let p else { Verifier.record(.objectNotInitialized, "ExDeleteTimer"); return 0 }
            return bool(Unmanaged<ExTimer>.fromOpaque(p)._withUnsafeGuaranteedRef { exDeleteTimer($0, cancel: cancel != 0, wait: wait != 0) })
        }

        // KSPIN_LOCK
        t.pointee.initializeSpinLock = { p in
            enter("KeInitializeSpinLock"); defer { wrt_sdk_ddi_leave() }
            guard let p else { return }
            _ = SpinLockWord.make(p)
        }
        t.pointee.acquireSpinLockRaiseToDpc = { p in
            enter("KeAcquireSpinLock"); defer { wrt_sdk_ddi_leave() }
            guard let lock = SpinLockWord.lock(p) else { return keGetCurrentIrql() }
            return lock._withUnsafeGuaranteedRef { keAcquireSpinLock($0) }
        }
        t.pointee.releaseSpinLock = { p, irql in
            enter("KeReleaseSpinLock"); defer { wrt_sdk_ddi_leave() }
            SpinLockWord.lock(p)?._withUnsafeGuaranteedRef { keReleaseSpinLock($0, irql) }
        }
        t.pointee.acquireSpinLockAtDpcLevel = { p in
            enter("KeAcquireSpinLockAtDpcLevel"); defer { wrt_sdk_ddi_leave() }
            SpinLockWord.lock(p)?._withUnsafeGuaranteedRef { keAcquireSpinLockAtDpcLevel($0) }
        }
        t.pointee.releaseSpinLockFromDpcLevel = { p in
            enter("KeReleaseSpinLockFromDpcLevel"); defer { wrt_sdk_ddi_leave() }
            SpinLockWord.lock(p)?._withUnsafeGuaranteedRef { keReleaseSpinLockFromDpcLevel($0) }
        }

        // Time
        t.pointee.queryPerformanceCounter = { frequency in
            var f: UInt64 = 0
            let counter = keQueryPerformanceCounter(&f)
            frequency?.pointee = Int64(f)
            return Int64(bitPattern: counter)
        }
        t.pointee.queryInterruptTime = { keQueryInterruptTime() }
        t.pointee.stallExecutionProcessor = { enter("KeStallExecutionProcessor"); defer { wrt_sdk_ddi_leave() }; keStallExecutionProcessor($0) }

        // Pool
        t.pointee.allocatePool2 = { flags, bytes, tag in
            enter("ExAllocatePool2"); defer { wrt_sdk_ddi_leave() }
            return exAllocatePool2(PoolFlags(rawValue: flags), Int(bytes), tag)
        }
        t.pointee.allocatePoolWithTag = { type, bytes, tag in
            enter("ExAllocatePoolWithTag"); defer { wrt_sdk_ddi_leave() }
            return exAllocatePoolWithTag(PoolType(rawValue: Int(type)) ?? .nonPagedPool, Int(bytes), tag)
        }
        t.pointee.freePoolWithTag = { p, tag in
            enter("ExFreePoolWithTag"); defer { wrt_sdk_ddi_leave() }
            guard let p else { return }
            if withContext(false, { $0.releaseMdlStructure(p) }) { return }
            exFreePoolWithTag(p, tag)
        }
        t.pointee.freePool = { p in
            enter("ExFreePool"); defer { wrt_sdk_ddi_leave() }
            guard let p else { return }
            if withContext(false, { $0.releaseMdlStructure(p) }) { return }
            exFreePool(p)
        }

        // Memory manager
        t.pointee.allocateContiguousMemorySpecifyCache = { bytes, lowest, highest, boundary, cache in
            enter("MmAllocateContiguousMemorySpecifyCache"); defer { wrt_sdk_ddi_leave() }
            return mmAllocateContiguousMemorySpecifyCache(Int(bytes), PhysicalAddress(lowest), PhysicalAddress(highest), PhysicalAddress(boundary),
                                                          cacheType(cache))
        }
        t.pointee.allocateContiguousMemory = { bytes, highest in
            enter("MmAllocateContiguousMemory"); defer { wrt_sdk_ddi_leave() }
            return mmAllocateContiguousMemory(Int(bytes), PhysicalAddress(highest))
        }
        t.pointee.freeContiguousMemory = { p in
            enter("MmFreeContiguousMemory"); defer { wrt_sdk_ddi_leave() }
            if let p { mmFreeContiguousMemory(p) }
        }
        t.pointee.getPhysicalAddress = { p in
            enter("MmGetPhysicalAddress"); defer { wrt_sdk_ddi_leave() }
            guard let p else { return 0 }
            return mmGetPhysicalAddress(p).rawValue
        }
        t.pointee.allocatePagesForMdlEx = { low, high, skip, total, cache, flags, extended in
            enter("MmAllocatePagesForMdlEx"); defer { wrt_sdk_ddi_leave() }
            return withContext(nil) { c -> UnsafeMutableRawPointer? in
                let mdl = extended != 0
                    ? mmAllocatePagesForMdlEx(PhysicalAddress(low), PhysicalAddress(high), skip, Int(total), cacheType(cache), AllocatePagesFlags(rawValue: flags))
                    : mmAllocatePagesForMdl(PhysicalAddress(low), PhysicalAddress(high), skip, Int(total))
                return mdl.map { c.mdlStructure(for: $0) }
            }
        }
        t.pointee.freePagesFromMdl = { p in
            enter("MmFreePagesFromMdl"); defer { wrt_sdk_ddi_leave() }
            withContext(()) { c in
                guard let mdl = c.mdl(at: p) else { return Verifier.record(.badPoolFree, "MmFreePagesFromMdl", detail: UInt64(UInt(bitPattern: p))) }
                mmFreePagesFromMdl(mdl)
                c.sync(mdl)
            }
        }
        t.pointee.mapLockedPagesSpecifyCache = { p, _, cache in
            enter("MmMapLockedPagesSpecifyCache"); defer { wrt_sdk_ddi_leave() }
            return withContext(nil) { c -> UnsafeMutableRawPointer? in
                guard let mdl = c.mdl(at: p) else { return nil }
                let va = mmMapLockedPagesSpecifyCache(mdl, cacheType(cache))
                c.sync(mdl)
                return va
            }
        }
        t.pointee.unmapLockedPages = { base, p in
            enter("MmUnmapLockedPages"); defer { wrt_sdk_ddi_leave() }
            withContext(()) { c in
                guard let base, let mdl = c.mdl(at: p) else { return Verifier.record(.unmapWithoutMap, "MmUnmapLockedPages") }
                mmUnmapLockedPages(base, mdl)
                c.sync(mdl)
            }
        }
        t.pointee.mapIoSpace = { physical, bytes, cache in
            enter("MmMapIoSpace"); defer { wrt_sdk_ddi_leave() }
            return mmMapIoSpace(PhysicalAddress(physical), Int(bytes), cacheType(cache))
        }
        t.pointee.mapIoSpaceEx = { physical, bytes, protect in
            enter("MmMapIoSpaceEx"); defer { wrt_sdk_ddi_leave() }
            return mmMapIoSpaceEx(PhysicalAddress(physical), Int(bytes), protect)
        }
        t.pointee.unmapIoSpace = { base, bytes in
            enter("MmUnmapIoSpace"); defer { wrt_sdk_ddi_leave() }
            guard let base else { return Verifier.record(.unmapWithoutMap, "MmUnmapIoSpace") }
            mmUnmapIoSpace(base, Int(bytes))
        }

        // Registers and ports
        // A NULL register is an unmapped one (all ones read, the write dropped, a verifier finding), as any other.
        t.pointee.readRegisterUchar = { enter("READ_REGISTER_UCHAR"); defer { wrt_sdk_ddi_leave() }; return readRegisterUchar(register($0)) }
        t.pointee.readRegisterUshort = { enter("READ_REGISTER_USHORT"); defer { wrt_sdk_ddi_leave() }; return readRegisterUshort(register($0)) }
        t.pointee.readRegisterUlong = { enter("READ_REGISTER_ULONG"); defer { wrt_sdk_ddi_leave() }; return readRegisterUlong(register($0)) }
        t.pointee.readRegisterUlong64 = { enter("READ_REGISTER_ULONG64"); defer { wrt_sdk_ddi_leave() }; return readRegisterUlong64(register($0)) }
        t.pointee.writeRegisterUchar = { enter("WRITE_REGISTER_UCHAR"); defer { wrt_sdk_ddi_leave() }; writeRegisterUchar(register($0), $1) }
        t.pointee.writeRegisterUshort = { enter("WRITE_REGISTER_USHORT"); defer { wrt_sdk_ddi_leave() }; writeRegisterUshort(register($0), $1) }
        t.pointee.writeRegisterUlong = { enter("WRITE_REGISTER_ULONG"); defer { wrt_sdk_ddi_leave() }; writeRegisterUlong(register($0), $1) }
        t.pointee.writeRegisterUlong64 = { enter("WRITE_REGISTER_ULONG64"); defer { wrt_sdk_ddi_leave() }; writeRegisterUlong64(register($0), $1) }
        t.pointee.readPortUchar = { enter("READ_PORT_UCHAR"); defer { wrt_sdk_ddi_leave() }; return readPortUchar($0) }
        t.pointee.readPortUshort = { enter("READ_PORT_USHORT"); defer { wrt_sdk_ddi_leave() }; return readPortUshort($0) }
        t.pointee.readPortUlong = { enter("READ_PORT_ULONG"); defer { wrt_sdk_ddi_leave() }; return readPortUlong($0) }
        t.pointee.writePortUchar = { enter("WRITE_PORT_UCHAR"); defer { wrt_sdk_ddi_leave() }; writePortUchar($0, $1) }
        t.pointee.writePortUshort = { enter("WRITE_PORT_USHORT"); defer { wrt_sdk_ddi_leave() }; writePortUshort($0, $1) }
        t.pointee.writePortUlong = { enter("WRITE_PORT_ULONG"); defer { wrt_sdk_ddi_leave() }; writePortUlong($0, $1) }

        // Objects: the emulator's objects are reference-counted by Swift; a NULL object is the driver's bug.
        t.pointee.referenceObject = { p in if p == nil { Verifier.record(.objectNotInitialized, "ObfReferenceObject") } }
        t.pointee.dereferenceObject = { p in if p == nil { Verifier.record(.objectNotInitialized, "ObfDereferenceObject") } }

        // Debugging
        t.pointee.debugPrint = { _, _, text in
            guard let text else { return }
            var line = String(cString: text)
            while line.hasSuffix("\n") || line.hasSuffix("\r") { line.removeLast() }
            dbgPrint(line)
        }
        t.pointee.assertionFailed = { expression, file, line, message in
            let text = "ASSERT(\(expression.map { String(cString: $0) } ?? "?")) failed at \(file.map { String(cString: $0) } ?? "?"):\(line)"
                + (message.map { ": " + String(cString: $0) } ?? "")
            text.withCString { wrt_sdk_note_assertion($0) }
            dbgPrint("*** Assertion failed: " + text)
        }
        t.pointee.pagedCode = { function in
            let irql = keGetCurrentIrql()
            guard irql > Irql.apcLevel, let machine = Machine.current else { return }
            let name = function.map { String(cString: $0) } ?? "?"
            machine.verifier.report(.irqlTooHigh, ddi: "PAGED_CODE", detail: "\(name) is pageable code (PAGED_CODE) and ran at \(Irql.name(irql)); its maximum is APC_LEVEL")
        }

        // IPortWaveRTStream
        t.pointee.portStreamAllocatePagesForMdl = { host, high, total in
            guard let stream = hostObject(host, as: (any PortWaveRTStream).self) else { return nil }
            return withContext(nil) { c in stream.allocatePagesForMdl(highAddress: PhysicalAddress(high), totalBytes: Int(total)).map { c.mdlStructure(for: $0) } }
        }
        t.pointee.portStreamAllocateContiguousPagesForMdl = { host, low, high, total in
            guard let stream = hostObject(host, as: (any PortWaveRTStream).self) else { return nil }
            return withContext(nil) { c in
                stream.allocateContiguousPagesForMdl(lowAddress: PhysicalAddress(low), highAddress: PhysicalAddress(high), totalBytes: Int(total))
                    .map { c.mdlStructure(for: $0) }
            }
        }
        t.pointee.portStreamMapAllocatedPages = { host, p, cache in
            guard let stream = hostObject(host, as: (any PortWaveRTStream).self) else { return nil }
            return withContext(nil) { c -> UnsafeMutableRawPointer? in
                guard let mdl = c.mdl(at: p) else { return nil }
                let va = stream.mapAllocatedPages(mdl, cacheType: cacheType(cache))
                c.sync(mdl)
                return va
            }
        }
        t.pointee.portStreamUnmapAllocatedPages = { host, base, p in
            guard let stream = hostObject(host, as: (any PortWaveRTStream).self) else { return }
            withContext(()) { c in
                guard let base, let mdl = c.mdl(at: p) else { return Verifier.record(.unmapWithoutMap, "IPortWaveRTStream::UnmapAllocatedPages") }
                stream.unmapAllocatedPages(base, mdl: mdl)
                c.sync(mdl)
            }
        }
        t.pointee.portStreamFreePagesFromMdl = { host, p in
            guard let stream = hostObject(host, as: (any PortWaveRTStream).self) else { return }
            withContext(()) { c in
                guard let mdl = c.mdl(at: p) else { return Verifier.record(.doubleFree, "IPortWaveRTStream::FreePagesFromMdl") }
                stream.freePagesFromMdl(mdl)
                c.sync(mdl)
            }
        }
        t.pointee.portStreamGetPhysicalPagesCount = { host, p in
            guard let stream = hostObject(host, as: (any PortWaveRTStream).self) else { return 0 }
            return withContext(0) { c in c.mdl(at: p).map { UInt32(truncatingIfNeeded: stream.getPhysicalPagesCount($0)) } ?? 0 }
        }
        t.pointee.portStreamGetPhysicalPageAddress = { host, p, index in
            guard let stream = hostObject(host, as: (any PortWaveRTStream).self) else { return 0 }
            return withContext(0) { c in c.mdl(at: p).map { stream.getPhysicalPageAddress($0, index: Int(index)).rawValue } ?? 0 }
        }

        // PcNewInterruptSync and IInterruptSync
        t.pointee.newInterruptSync = { host, index, mode, out in
            enter("PcNewInterruptSync"); defer { wrt_sdk_ddi_leave() }
            guard let list = hostObject(host, as: ResourceList.self), let out else { return NTStatus.invalidParameter.rawValue }
            // INTERRUPTSYNCMODE: InterruptSyncModeNormal = 1, All, Repeat.
            guard let m = InterruptSync.Mode(rawValue: Int(mode) - 1) else { return NTStatus.invalidParameter.rawValue }
            return withContext(NTStatus.deviceNotReady.rawValue) { c in
                switch pcNewInterruptSync(resourceList: list, resourceIndex: Int(index), mode: m) {
                case .success(let sync):
                    out.pointee = c.handle(sync)
                    return NTStatus.success.rawValue
                case .failure(let s):
                    return s.rawValue
                }
            }
        }
        t.pointee.interruptSyncCallSynchronizedRoutine = { host, routine, shim, context in
            enter("IInterruptSync::CallSynchronizedRoutine"); defer { wrt_sdk_ddi_leave() }
            guard let sync = hostObject(host, as: InterruptSync.self), let routine else { return NTStatus.invalidParameter.rawValue }
            return withContext(NTStatus.deviceNotReady.rawValue) { c in
                let status = sync.callSynchronizedRoutine({ _, routineContext in
                    NTStatus(rawValue: wrt_guarded_call_interrupt_routine(c.instance, CString.synchronizedRoutine, routine, shim, routineContext))
                }, context: context)
                c.checkCrash()
                return status.rawValue
            }
        }
        t.pointee.interruptSyncConnect = { host in
            enter("IInterruptSync::Connect"); defer { wrt_sdk_ddi_leave() }
            return hostObject(host, as: InterruptSync.self)?.connect().rawValue ?? NTStatus.invalidParameter.rawValue
        }
        t.pointee.interruptSyncDisconnect = { host in
            enter("IInterruptSync::Disconnect"); defer { wrt_sdk_ddi_leave() }
            hostObject(host, as: InterruptSync.self)?.disconnect()
        }
        t.pointee.interruptSyncRegisterServiceRoutine = { host, routine, shim, context, first in
            enter("IInterruptSync::RegisterServiceRoutine"); defer { wrt_sdk_ddi_leave() }
            guard let sync = hostObject(host, as: InterruptSync.self), let routine else { return NTStatus.invalidParameter.rawValue }
            return withContext(NTStatus.deviceNotReady.rawValue) { c in
                sync.registerServiceRoutine({ [weak c] _, routineContext in
                    guard let c else { return .unsuccessful }
                    let status = wrt_guarded_call_interrupt_routine(c.instance, CString.serviceRoutine, routine, shim, routineContext)
                    c.checkCrash()
                    return NTStatus(rawValue: status)
                }, context: context, first: first != 0).rawValue
            }
        }

        t.pointee.releaseHostObject = { host in
            guard let host else { return }
            let object = Unmanaged<HostObject>.fromOpaque(host)
            object._withUnsafeGuaranteedRef { $0.context.handleReleased() }
            object.release()
        }
    }
}

/// Static C strings for the guard's entry names.
enum CString {
    nonisolated(unsafe) static let serviceRoutine = pointer("PINTERRUPTSYNCROUTINE (ISR)")
    nonisolated(unsafe) static let synchronizedRoutine = pointer("PINTERRUPTSYNCROUTINE (CallSynchronizedRoutine)")
    nonisolated(unsafe) static let releaseMiniport = pointer("IUnknown::Release (miniport)")
    nonisolated(unsafe) static let releaseStream = pointer("IUnknown::Release (stream)")

    static func pointer(_ s: StaticString) -> UnsafePointer<CChar> {
        UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
    }
}

/// A KSPIN_LOCK word: the emulator's lock's address with WRT_SPINLOCK_TAG in bits 63:48.
enum SpinLockWord {
    static let tagShift: UInt = 48
    static let tag = UInt(WRT_SPINLOCK_TAG) << tagShift

    /// KeInitializeSpinLock: a new lock, bound to the word.
    static func make(_ p: UnsafeMutablePointer<UInt>) -> Unmanaged<KSpinLock>? {
        withContext(nil) { c -> Unmanaged<KSpinLock>? in
            let lock = KSpinLock()
            keInitializeSpinLock(lock)
            c.retain(lock)
            let word = UInt(bitPattern: Unmanaged.passUnretained(lock).toOpaque()) | tag
            wrt_atomic_store_word(p, word)
            return Unmanaged.passUnretained(lock)
        }
    }

    /// The lock behind a word. A word that was never initialised (zero, as
    /// ExAllocatePool2 leaves it, or anything else) gets a lock on first use,
    /// as a zeroed KSPIN_LOCK works on Windows.
    @inline(__always)
    static func lock(_ p: UnsafeMutablePointer<UInt>?) -> Unmanaged<KSpinLock>? {
        guard let p else { return nil }
        let word = wrt_atomic_load_word(p)
        if word & (0xFFFF << tagShift) == tag, let raw = UnsafeRawPointer(bitPattern: word & ~(0xFFFF << tagShift)) {
            return Unmanaged<KSpinLock>.fromOpaque(raw)
        }
        return withContext(nil) { c -> Unmanaged<KSpinLock>? in
            let lock = KSpinLock()
            keInitializeSpinLock(lock)
            let mine = UInt(bitPattern: Unmanaged.passUnretained(lock).toOpaque()) | tag
            if wrt_atomic_cas_word(p, word, mine) != 0 {
                c.retain(lock)
                return Unmanaged.passUnretained(lock)
            }
            let other = wrt_atomic_load_word(p)  // another thread bound one first
            return UnsafeRawPointer(bitPattern: other & ~(0xFFFF << tagShift)).map { Unmanaged<KSpinLock>.fromOpaque($0) }
        }
    }
}
