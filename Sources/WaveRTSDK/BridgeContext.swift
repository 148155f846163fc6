import CWaveRTSDK
import CWaveRTShim
import Glibc
import Synchronization
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

/// The host's state for one C++ miniport instance: the emulator's kernel
/// objects behind the KEVENT, KDPC, KTIMER and KSPIN_LOCK structures the
/// driver embeds, the WDK-layout MDLs it sees for the emulator's MDLs, the
/// KEVENT structures the port's events are handed over as, and the crash
/// state the guard fills (`WrtInstance`).
///
/// A DDI the miniport calls finds its context through the innermost crash
/// guard of the calling thread (`wrt_sdk_current_context`): every line of
/// miniport code runs inside one, and the lookup takes no lock.
///
/// Objects live until the context goes (after the miniport and its streams
/// are released), as a driver's structures may be reused. The closures the
/// emulator's DPCs, timers and ISRs call hold the context weakly: one the
/// driver left behind finds it gone (or dead: guarded calls return at once).
final class BridgeContext: @unchecked Sendable {
    enum ObjectKind: UInt64 { case event = 1, dpc = 2, timer = 3 }

    let machine: Machine
    let instance: UnsafeMutablePointer<WrtInstance>
    /// The adapter the miniport drives: what a bug check stops.
    weak var adapter: Adapter?
    private let state = Mutex(State())
    /// Where the first crash is reported (once, on the thread that crashed).
    var monitor: CxxMiniportMonitor?
    private let crashReported = Atomic<Bool>(false)

    struct State {
        /// Every object the context keeps alive, by address.
        var objects: [UInt: Kept] = [:]
        var mdlStructs: [UInt: MdlMirror] = [:]
        var mdlByObject: [ObjectIdentifier: MdlMirror] = [:]
        var eventStructs: [ObjectIdentifier: UnsafeMutableRawPointer] = [:]
        var hostObjects = 0
    }

    /// A WDK-layout MDL (48 bytes and the PFN array) kept in step with an emulator MDL.
    final class MdlMirror: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
        let mdl: MDL
        /// The driver gave it back with ExFreePool after MmFreePagesFromMdl.
        var freedByDriver = false
        init(_ mdl: MDL) {
            self.mdl = mdl
            pointer = UnsafeMutableRawPointer.allocate(byteCount: 48 + 8 * max(1, mdl.pageFrameNumbers.count), alignment: 16)
        }
        deinit { pointer.deallocate() }

        func sync() {
            let p = pointer
            p.storeBytes(of: 0, toByteOffset: 0, as: UInt64.self)  // Next
            p.storeBytes(of: Int16(truncatingIfNeeded: 48 + 8 * mdl.pageFrameNumbers.count), toByteOffset: 8, as: Int16.self)
            p.storeBytes(of: Int16(bitPattern: mdl.mdlFlags.rawValue), toByteOffset: 10, as: Int16.self)
            p.storeBytes(of: 0, toByteOffset: 12, as: UInt32.self)
            p.storeBytes(of: 0, toByteOffset: 16, as: UInt64.self)  // Process
            p.storeBytes(of: UInt64(UInt(bitPattern: mdl.mappedSystemVa)), toByteOffset: 24, as: UInt64.self)
            p.storeBytes(of: UInt64(mdl.startVa), toByteOffset: 32, as: UInt64.self)
            p.storeBytes(of: UInt32(truncatingIfNeeded: mdl.byteCount), toByteOffset: 40, as: UInt32.self)
            p.storeBytes(of: UInt32(truncatingIfNeeded: mdl.byteOffset), toByteOffset: 44, as: UInt32.self)
            for (i, pfn) in mdl.pageFrameNumbers.enumerated() { p.storeBytes(of: pfn, toByteOffset: 48 + 8 * i, as: UInt64.self) }
        }
    }

    /// The miniport library's path (its frames are the crash report's).
    let library: String

    init(machine: Machine, runtime: UnsafePointer<WrtRuntime>, library: String, adapter: Adapter?) {
        self.machine = machine
        self.library = library
        self.adapter = adapter
        instance = .allocate(capacity: 1)
        instance.initialize(to: WrtInstance())
        instance.pointee.runtime = runtime
        instance.pointee.context = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        let s = state.withLock { $0 }
        for (_, block) in s.eventStructs { block.deallocate() }
        instance.deinitialize(count: 1)
        instance.deallocate()
    }

    /// The context of the miniport whose code the calling thread runs (borrowed).
    @inline(__always)
    static func withCurrent<R>(_ body: (BridgeContext) -> R) -> R? {
        guard let p = wrt_sdk_current_context() else { return nil }
        return Unmanaged<BridgeContext>.fromOpaque(p)._withUnsafeGuaranteedRef(body)
    }

    var isCrashed: Bool { instance.pointee.crashed != 0 && instance.pointee.crash.signal != 0 }

    /// No more calls into the miniport (it was released; its library stays loaded).
    func retire() {
        instance.pointee.crashed = 1
        // A timer the driver left set must not call into it again (its closures hold the context weakly).
        let kept = state.withLock { Array($0.objects.values) }
        for case let timer as KTimer in kept.map(\.object) { _ = keCancelTimerQuietly(timer) }
        for case let timer as ExTimer in kept.map(\.object) { _ = exCancelTimerQuietly(timer) }
    }

    /// After each guarded call: the first crash is reported once, and the machine stops as on a bug check.
    @inline(__always)
    func checkCrash() {
        guard instance.pointee.crashed != 0, instance.pointee.crash.signal != 0, !crashReported.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let report = CxxCrashReport(instance.pointee.crash, library: library)
        machine.withCurrent { dbgPrint(report.description) }
        // KeBugCheck: the machine stops. The devices stop moving data (the WAV ends here), the run finishes as usual.
        adapter?.shutdown()
        monitor?.record(report)
    }

    // MARK: Kernel objects in the driver's structures

    /// Binds (or re-initialises) the object behind the structure at `p`.
    func bind<T: AnyObject>(_ p: UnsafeMutableRawPointer, kind: ObjectKind, make: () -> T) -> T {
        let magic = WRT_OBJECT_MAGIC ^ kind.rawValue
        if p.load(fromByteOffset: Int(WRT_OBJECT_MAGIC_OFFSET), as: UInt64.self) == magic {
            // Only an object this context made (a stale structure may hold anything).
            let bits = p.load(fromByteOffset: Int(WRT_OBJECT_SLOT_OFFSET), as: UInt.self)
            if let existing = state.withLock({ $0.objects[bits] })?.object as? T { return existing }
        }
        let object = make()
        retain(object)
        p.storeBytes(of: UInt(bitPattern: Unmanaged.passUnretained(object).toOpaque()), toByteOffset: Int(WRT_OBJECT_SLOT_OFFSET), as: UInt.self)
        p.storeBytes(of: magic, toByteOffset: Int(WRT_OBJECT_MAGIC_OFFSET), as: UInt64.self)
        return object
    }

    /// Keeps `object` alive as long as the context.
    func retain(_ object: AnyObject) {
        let kept = Kept(object)
        let key = UInt(bitPattern: Unmanaged.passUnretained(object).toOpaque())
        state.withLock { $0.objects[key] = kept }
    }

    /// The object behind a structure the driver initialised, or nil (a verifier finding) when it did not.
    @inline(__always)
    static func object<T: AnyObject>(_ p: UnsafeRawPointer?, kind: ObjectKind, as _: T.Type, _ ddi: StaticString) -> Unmanaged<T>? {
        guard let p, p.load(fromByteOffset: Int(WRT_OBJECT_MAGIC_OFFSET), as: UInt64.self) == WRT_OBJECT_MAGIC ^ kind.rawValue,
              let raw = UnsafeRawPointer(bitPattern: p.load(fromByteOffset: Int(WRT_OBJECT_SLOT_OFFSET), as: UInt.self)) else {
            Verifier.record(.objectNotInitialized, ddi)
            return nil
        }
        return Unmanaged<T>.fromOpaque(raw)
    }

    /// The dispatcher object (event or timer) behind a structure, for waits.
    static func dispatcherObject(_ p: UnsafeRawPointer?, _ ddi: StaticString) -> Unmanaged<DispatcherObject>? {
        guard let p else { return nil }
        let magic = p.load(fromByteOffset: Int(WRT_OBJECT_MAGIC_OFFSET), as: UInt64.self)
        guard magic == WRT_OBJECT_MAGIC ^ ObjectKind.event.rawValue || magic == WRT_OBJECT_MAGIC ^ ObjectKind.timer.rawValue,
              let raw = UnsafeRawPointer(bitPattern: p.load(fromByteOffset: Int(WRT_OBJECT_SLOT_OFFSET), as: UInt.self)) else {
            Verifier.record(.objectNotInitialized, ddi)
            return nil
        }
        return Unmanaged<DispatcherObject>.fromOpaque(raw)
    }

    /// The KEVENT structure the miniport is handed for a port event (the same one each time).
    func eventStructure(for event: KEvent) -> UnsafeMutableRawPointer {
        state.withLock { s in
            if let p = s.eventStructs[ObjectIdentifier(event)] { return p }
            let p = UnsafeMutableRawPointer.allocate(byteCount: 24, alignment: 8)
            p.initializeMemory(as: UInt8.self, repeating: 0, count: 24)
            p.storeBytes(of: 1, as: UInt8.self)  // EventSynchronizationObject: the client's events auto-reset
            p.storeBytes(of: 6, toByteOffset: 2, as: UInt8.self)  // Size in LONGs
            p.storeBytes(of: UInt(bitPattern: Unmanaged.passUnretained(event).toOpaque()), toByteOffset: Int(WRT_OBJECT_SLOT_OFFSET), as: UInt.self)
            p.storeBytes(of: WRT_OBJECT_MAGIC ^ ObjectKind.event.rawValue, toByteOffset: Int(WRT_OBJECT_MAGIC_OFFSET), as: UInt64.self)
            s.eventStructs[ObjectIdentifier(event)] = p
            s.objects[UInt(bitPattern: Unmanaged.passUnretained(event).toOpaque())] = Kept(event)
            return p
        }
    }

    // MARK: MDLs

    /// The WDK-layout MDL for `mdl` (made on first sight), in step with it.
    func mdlStructure(for mdl: MDL) -> UnsafeMutableRawPointer {
        let mirror = state.withLock { s -> MdlMirror in
            if let m = s.mdlByObject[ObjectIdentifier(mdl)] { return m }
            let m = MdlMirror(mdl)
            s.mdlByObject[ObjectIdentifier(mdl)] = m
            s.mdlStructs[UInt(bitPattern: m.pointer)] = m
            return m
        }
        mirror.sync()
        return mirror.pointer
    }

    /// The emulator's MDL behind a structure the miniport passes, or nil for one it did not get from the emulator.
    func mdl(at p: UnsafeMutableRawPointer?) -> MDL? {
        guard let p else { return nil }
        return state.withLock { $0.mdlStructs[UInt(bitPattern: p)]?.mdl }
    }

    /// Brings a structure up to date after a call that changed its MDL (a mapping, a free).
    func sync(_ mdl: MDL) {
        state.withLock { $0.mdlByObject[ObjectIdentifier(mdl)] }?.sync()
    }

    /// ExFreePool on an MDL structure (as the WDK wants after MmFreePagesFromMdl): true when it was one.
    func releaseMdlStructure(_ p: UnsafeMutableRawPointer) -> Bool {
        state.withLock { s in
            guard let m = s.mdlStructs[UInt(bitPattern: p)] else { return false }
            m.freedByDriver = true
            return true
        }
    }

    // MARK: Host objects handed to the runtime

    /// A handle the runtime keeps for one of the emulator's objects (released with releaseHostObject).
    func handle(_ object: AnyObject) -> UnsafeMutableRawPointer {
        state.withLock { $0.hostObjects += 1 }
        return Unmanaged.passRetained(HostObject(object, context: self)).toOpaque()
    }

    func handleReleased() { state.withLock { $0.hostObjects -= 1 } }
}

/// An object the context keeps alive.
final class Kept: @unchecked Sendable {
    let object: AnyObject
    init(_ object: AnyObject) { self.object = object }
}

/// An object of the emulator the runtime holds a handle to.
final class HostObject: @unchecked Sendable {
    let object: AnyObject
    unowned(unsafe) let context: BridgeContext
    init(_ object: AnyObject, context: BridgeContext) {
        self.object = object
        self.context = context
    }
}

private func keCancelTimerQuietly(_ timer: KTimer) -> Bool {
    let old = wrt_irql_get()
    wrt_irql_set(0)
    defer { wrt_irql_set(old) }
    return keCancelTimer(timer)
}

private func exCancelTimerQuietly(_ timer: ExTimer) -> Bool {
    let old = wrt_irql_get()
    wrt_irql_set(0)
    defer { wrt_irql_set(old) }
    return exCancelTimer(timer)
}
