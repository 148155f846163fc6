import CWaveRTShim
import Glibc
import Synchronization

/// Brackets the passes of one scheduler, so the control path can tell when
/// no pass still holds something it removed (a quiescent-state counter, as in
/// RCU): the epoch is odd while a pass runs.
public final class PassGuard: @unchecked Sendable {
    private let epoch = Atomic<UInt64>(0)

    public init() {}

    /// Starts a pass on the calling thread.
    @inline(__always)
    public func enter() {
        epoch.add(1, ordering: .sequentiallyConsistent)
        wrt_pass_set(Unmanaged.passUnretained(self).toOpaque())
    }

    /// Ends the pass.
    @inline(__always)
    public func exit() {
        wrt_pass_set(nil)
        epoch.add(1, ordering: .sequentiallyConsistent)
    }

    /// Whether the calling thread is inside one of this guard's passes.
    public var isCurrentThreadInPass: Bool {
        wrt_pass_get() == UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque())
    }

    /// Whether any thread is inside a pass of any guard (the caller is on a scheduler's thread).
    public static var isInAnyPass: Bool { wrt_pass_get() != nil }

    /// Waits until every pass that was running when this was called has ended.
    /// Returns at once when none was, or when called from inside a pass of this
    /// guard (which would wait for itself). Gives up after `timeout`
    /// nanoseconds of yielding and returns false (the caller must then not free
    /// what it removed).
    @discardableResult
    public func waitForQuiescence(timeout: UInt64 = 2_000_000_000) -> Bool {
        if isCurrentThreadInPass { return false }
        let seen = epoch.load(ordering: .sequentiallyConsistent)
        guard seen & 1 == 1 else { return true }
        let start = wrt_monotonic_ns()
        while epoch.load(ordering: .sequentiallyConsistent) == seen {
            if wrt_monotonic_ns() - start > timeout { return false }
            _ = sched_yield()
        }
        return true
    }
}

/// A fixed-capacity set of references that one scheduler's passes iterate
/// without locks or reference counting, while the control path inserts and
/// removes: the project's one slot table (scheduler work items, kernel timers,
/// interrupt connections, register mappings).
///
/// Slots hold retained references as raw bits. ``remove(_:)`` clears the slot
/// at once; the reference is released only once no pass that could have read
/// it is still running (``PassGuard``), immediately when called from the
/// control path, or at the next control-path call when removed from inside a
/// pass (releasing, which may free, is not for real-time threads).
public final class SlotTable<Element: AnyObject>: @unchecked Sendable {
    public let capacity: Int
    public let passGuard: PassGuard
    private let slots: UnsafeMutablePointer<Atomic<UInt>>
    /// One past the highest slot ever used: iteration stops there.
    private let highWater = Atomic<Int>(0)
    private let control = Mutex<[UInt]>([])  // bits of references removed inside a pass, not yet released

    public init(capacity: Int, passGuard: PassGuard) {
        precondition(capacity > 0)
        self.capacity = capacity
        self.passGuard = passGuard
        slots = .allocate(capacity: capacity)
        for i in 0..<capacity { (slots + i).initialize(to: Atomic(0)) }
    }

    deinit {
        for i in 0..<capacity {
            let bits = slots[i].load(ordering: .relaxed)
            if bits != 0 { Unmanaged<Element>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).release() }
        }
        for bits in control.withLock({ $0 }) { Self.release(bits) }
        slots.deinitialize(count: capacity)
        slots.deallocate()
    }

    /// Adds `element` (retained); returns its slot, or nil when the table is full.
    /// The same element twice takes two slots: callers check ``contains(_:)`` first if that matters.
    @discardableResult
    public func insert(_ element: Element) -> Int? {
        let bits = UInt(bitPattern: Unmanaged.passRetained(element).toOpaque())
        let slot: Int? = control.withLock { retired in
            reclaimLocked(&retired)
            for i in 0..<capacity where slots[i].load(ordering: .relaxed) == 0 {
                slots[i].store(bits, ordering: .sequentiallyConsistent)
                if i >= highWater.load(ordering: .relaxed) { highWater.store(i + 1, ordering: .sequentiallyConsistent) }
                return i
            }
            return nil
        }
        if slot == nil { Unmanaged<Element>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).release() }
        return slot
    }

    /// Removes `element` (every slot holding it); returns whether it was there.
    @discardableResult
    public func remove(_ element: Element) -> Bool {
        let bits = UInt(bitPattern: Unmanaged.passUnretained(element).toOpaque())
        let removed: [UInt] = control.withLock { _ in
            var out: [UInt] = []
            for i in 0..<highWater.load(ordering: .relaxed) where slots[i].load(ordering: .relaxed) == bits {
                slots[i].store(0, ordering: .sequentiallyConsistent)
                out.append(bits)
            }
            return out
        }
        guard !removed.isEmpty else { return false }
        if passGuard.isCurrentThreadInPass || !passGuard.waitForQuiescence() {
            control.withLock { $0.append(contentsOf: removed) }
        } else {
            for b in removed { Self.release(b) }
        }
        return true
    }

    /// Releases what was removed from inside passes, once no pass can hold it.
    public func reclaim() {
        guard !passGuard.isCurrentThreadInPass else { return }
        control.withLock { reclaimLocked(&$0) }
    }

    private func reclaimLocked(_ retired: inout [UInt]) {
        guard !retired.isEmpty, !passGuard.isCurrentThreadInPass, passGuard.waitForQuiescence() else { return }
        for b in retired { Self.release(b) }
        retired.removeAll()
    }

    private static func release(_ bits: UInt) {
        Unmanaged<Element>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!).release()
    }

    public func contains(_ element: Element) -> Bool {
        let bits = UInt(bitPattern: Unmanaged.passUnretained(element).toOpaque())
        for i in 0..<highWater.load(ordering: .acquiring) where slots[i].load(ordering: .acquiring) == bits { return true }
        return false
    }

    /// The elements now present, for the control path.
    public var elements: [Element] {
        control.withLock { _ in
            var out: [Element] = []
            forEach { out.append($0) }
            return out
        }
    }

    /// Calls `body` with each element, in slot order, without retaining it:
    /// lock-free, allocation-free. Inside a pass of ``passGuard`` (or on the
    /// control path, which holds the elements alive itself).
    @inline(__always)
    public func forEach(_ body: (Element) -> Void) {
        let n = highWater.load(ordering: .acquiring)
        var i = 0
        while i < n {
            let bits = slots[i].load(ordering: .acquiring)
            if bits != 0 {
                Unmanaged<Element>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)._withUnsafeGuaranteedRef(body)
            }
            i += 1
        }
    }
}
