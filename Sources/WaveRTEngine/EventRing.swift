import Synchronization

/// A bounded multi-producer, single-consumer ring of plain records: how any
/// thread (a real-time one included) hands fixed-size records (verifier
/// findings, trace events) to a slow reader without locks or allocation.
///
/// Producers claim a slot with one atomic increment and publish it with a
/// per-slot sequence number (Dmitry Vyukov's bounded queue); when the ring is
/// full the record is dropped and counted, never waited for.
public final class EventRing<Element: BitwiseCopyable>: @unchecked Sendable {
    public let capacity: Int
    private let sequences: UnsafeMutablePointer<Atomic<Int>>
    private let storage: UnsafeMutablePointer<Element>
    private let enqueue = Atomic<Int>(0)
    private let dequeue = Atomic<Int>(0)
    private let dropped = Atomic<UInt64>(0)

    /// `capacity` is rounded up to a power of two.
    public init(capacity: Int) {
        var c = 2
        while c < capacity { c <<= 1 }
        self.capacity = c
        sequences = .allocate(capacity: c)
        for i in 0..<c { (sequences + i).initialize(to: Atomic(i)) }
        storage = .allocate(capacity: c)
    }

    deinit {
        sequences.deinitialize(count: capacity)
        sequences.deallocate()
        storage.deallocate()
    }

    /// Producer side, any thread: real-time safe. Returns false (and counts) when full.
    @discardableResult
    @inline(__always)
    public func push(_ value: Element) -> Bool {
        var position = enqueue.load(ordering: .relaxed)
        while true {
            let slot = position & (capacity - 1)
            let sequence = sequences[slot].load(ordering: .acquiring)
            let difference = sequence - position
            if difference == 0 {
                let (claimed, seen) = enqueue.compareExchange(expected: position, desired: position + 1, ordering: .relaxed)
                if claimed {
                    storage[slot] = value
                    sequences[slot].store(position + 1, ordering: .releasing)
                    return true
                }
                position = seen
            } else if difference < 0 {
                dropped.add(1, ordering: .relaxed)
                return false
            } else {
                position = enqueue.load(ordering: .relaxed)
            }
        }
    }

    /// Consumer side (one thread at a time): every record published so far, oldest first.
    public func drain(_ body: (Element) -> Void) {
        var position = dequeue.load(ordering: .relaxed)
        while true {
            let slot = position & (capacity - 1)
            guard sequences[slot].load(ordering: .acquiring) == position + 1 else { break }
            let value = storage[slot]
            sequences[slot].store(position + capacity, ordering: .releasing)
            position += 1
            body(value)
        }
        dequeue.store(position, ordering: .relaxed)
    }

    /// Records dropped because the ring was full.
    public var droppedCount: UInt64 { dropped.load(ordering: .relaxed) }
}
