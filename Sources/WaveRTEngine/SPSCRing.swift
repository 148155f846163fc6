import Synchronization

/// A fixed-capacity single-producer, single-consumer ring of plain values: how
/// the engine thread hands records (glitches, latencies) to slow readers
/// without locks or allocation. When full, new values are dropped and counted.
public final class SPSCRing<Element: BitwiseCopyable>: @unchecked Sendable {
    public let capacity: Int
    private let storage: UnsafeMutablePointer<Element>
    private let head = Atomic<Int>(0)  // next slot to read; written by the consumer
    private let tail = Atomic<Int>(0)  // next slot to write; written by the producer
    private let droppedCount = Atomic<Int>(0)

    /// `capacity` is rounded up to a power of two.
    public init(capacity: Int) {
        var c = 1
        while c < max(2, capacity) { c <<= 1 }
        self.capacity = c
        storage = .allocate(capacity: c)
    }

    deinit { storage.deallocate() }

    /// Producer side: real-time safe. Returns false (and counts) when full.
    @inline(__always)
    @discardableResult
    public func push(_ value: Element) -> Bool {
        let t = tail.load(ordering: .relaxed)
        if t - head.load(ordering: .acquiring) == capacity {
            droppedCount.add(1, ordering: .relaxed)
            return false
        }
        storage[t & (capacity - 1)] = value
        tail.store(t + 1, ordering: .releasing)
        return true
    }

    /// Consumer side: takes every value available now, oldest first.
    public func drain(_ body: (Element) -> Void) {
        var h = head.load(ordering: .relaxed)
        let t = tail.load(ordering: .acquiring)
        while h < t {
            body(storage[h & (capacity - 1)])
            h += 1
        }
        head.store(h, ordering: .releasing)
    }

    public var count: Int { tail.load(ordering: .acquiring) - head.load(ordering: .acquiring) }
    /// Values dropped because the ring was full.
    public var dropped: Int { droppedCount.load(ordering: .relaxed) }
}
