import Synchronization

/// A fixed list of objects, filled on the control path before use, that hot
/// paths iterate without reference counting: each element is lent to the
/// body at +0 for the duration of the call. A device's stream descriptors or
/// channels, iterated several times per processor pass, are the use.
///
/// The list owns its elements (retained once when appended, released when the
/// list goes). It never shrinks, so a borrowed element outlives every call.
public final class ObjectList<Element: AnyObject>: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<Unmanaged<Element>>
    public let capacity: Int
    /// Atomic only so reading it is free of exclusivity checks; it changes on the control path alone.
    @usableFromInline let storedCount = Atomic<Int>(0)

    public init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: max(1, capacity))
    }

    deinit {
        for i in 0..<storedCount.load(ordering: .relaxed) { base[i].release() }
        base.deallocate()
    }

    /// Adds `element` (control path, before any pass iterates the list).
    public func append(_ element: Element) {
        let n = storedCount.load(ordering: .relaxed)
        precondition(n < capacity, "ObjectList is full (\(capacity))")
        base[n] = .passRetained(element)
        storedCount.store(n + 1, ordering: .releasing)
    }

    @inlinable public var count: Int { storedCount.load(ordering: .acquiring) }

    /// Calls `body` with element `index`, borrowed.
    @inlinable @inline(__always)
    public func with<R>(_ index: Int, _ body: (Element) -> R) -> R {
        base[index]._withUnsafeGuaranteedRef(body)
    }

    /// Calls `body` with each element in order, borrowed.
    @inlinable @inline(__always)
    public func forEach(_ body: (Element) -> Void) {
        let n = storedCount.load(ordering: .acquiring)
        var i = 0
        while i < n {
            base[i]._withUnsafeGuaranteedRef(body)
            i += 1
        }
    }

    /// The elements, retained (control path).
    public var elements: [Element] { (0..<count).map { base[$0].takeUnretainedValue() } }
}
