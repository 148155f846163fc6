import Synchronization

/// A value one writer publishes and any number of threads read without locks:
/// the project's one sequence lock.
///
/// It keeps four copies of the value. A write fills the copy after the current
/// one and then advances the sequence number; a reader loads the sequence,
/// copies that slot word by word, and checks that fewer than four writes
/// completed meanwhile (only then could the writer have come back round to the
/// slot it was copying). So a reader never waits for a write in progress: a
/// real-time reader preempting a lower-priority writer mid-update reads the
/// previous value at once instead of spinning on an odd sequence number (the
/// priority inversion a classic seqlock has by construction). A read retries
/// only when three writes complete during one copy, and gives up after
/// ``maximumRetries`` (``read()`` then returns nil; callers keep their last value).
///
/// Words are copied with relaxed atomic loads and stores and ordered by
/// fences, so the protocol is free of data races in the C11/Swift memory model
/// (ThreadSanitizer agrees). `Value` must be plain data (no references).
///
/// Writers must be serialised by the caller (one control path, or ``update(_:)``
/// which serialises writers itself with a short spin-then-yield gate that no
/// reader ever takes).
public final class Seqlock<Value: BitwiseCopyable>: @unchecked Sendable {
    @inlinable public static var maximumRetries: Int { 8 }
    @inlinable static var slots: UInt64 { 4 }

    @usableFromInline let sequence = Atomic<UInt64>(0)
    @usableFromInline let words: UnsafeMutablePointer<Atomic<UInt64>>
    @usableFromInline let wordCount: Int
    @usableFromInline let writerGate = Atomic<Bool>(false)
    /// The writer's own copy of the latest value (touched by writers only).
    @usableFromInline var latest: Value
    @usableFromInline let retries = Atomic<UInt64>(0)

    public init(_ initial: Value) {
        wordCount = max(1, (MemoryLayout<Value>.size + 7) / 8)
        words = .allocate(capacity: wordCount * Int(Self.slots))
        for i in 0..<(wordCount * Int(Self.slots)) { (words + i).initialize(to: Atomic(0)) }
        latest = initial
        store(initial, slot: 0)
    }

    deinit {
        words.deinitialize(count: wordCount * Int(Self.slots))
        words.deallocate()
    }

    /// Publishes `value`. Callers serialise writes (or use ``update(_:)``).
    @inlinable
    public func write(_ value: Value) {
        latest = value
        let next = sequence.load(ordering: .relaxed) &+ 1
        // Orders the previous publication before this write's stores: a reader
        // that sees any of them also sees a sequence number that makes it retry.
        atomicMemoryFence(ordering: .releasing)
        store(value, slot: Int(next % Self.slots))
        sequence.store(next, ordering: .releasing)
    }

    /// Read-modify-write by any number of writers, serialised by a gate that
    /// readers never touch. Not for real-time threads when another thread may
    /// write at the same time (the gate spins, then yields, while another writer holds it).
    @inlinable @discardableResult
    public func update<R>(_ body: (inout Value) -> R) -> R {
        var spins = 0
        while !writerGate.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            spins += 1
            if spins > 64 { sched_yieldCompat() }
        }
        var value = latest
        let result = body(&value)
        write(value)
        writerGate.store(false, ordering: .releasing)
        return result
    }

    /// The value the last write published, or nil after ``maximumRetries``
    /// failed attempts (each failure means three writes completed during one copy).
    @inlinable @inline(__always)
    public func read() -> Value? {
        for _ in 0...Self.maximumRetries {
            let s = sequence.load(ordering: .acquiring)
            let value = load(slot: Int(s % Self.slots))
            atomicMemoryFence(ordering: .acquiring)
            if sequence.load(ordering: .relaxed) &- s < Self.slots - 1 { return value }
            retries.add(1, ordering: .relaxed)
        }
        return nil
    }

    /// Bumped by every write: equal versions mean the same value (for caches of derived results).
    @inlinable public var version: UInt64 { sequence.load(ordering: .acquiring) }

    /// Reads that had to be retried so far (a figure for tests and reports).
    public var retryCount: UInt64 { retries.load(ordering: .relaxed) }

    /// The writer's view of the latest value (writers only).
    @inlinable public var writerValue: Value { latest }

    @inlinable @inline(__always)
    func store(_ value: Value, slot: Int) {
        var v = value
        withUnsafeBytes(of: &v) { raw in
            let base = words + slot * wordCount
            var i = 0
            while i < wordCount {
                let remaining = raw.count - i * 8
                var w: UInt64 = 0
                if remaining >= 8 {
                    w = raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                } else {
                    for b in 0..<remaining { w |= UInt64(raw[i * 8 + b]) << (8 * UInt64(b)) }
                }
                base[i].store(w, ordering: .relaxed)
                i += 1
            }
        }
    }

    @inlinable @inline(__always)
    func load(slot: Int) -> Value {
        // A constant size once specialised, so the buffer is a plain stack slot (no size check, no heap).
        withUnsafeTemporaryAllocation(byteCount: max(8, (MemoryLayout<Value>.size + 7) & ~7), alignment: 8) { raw in
            let n = max(1, (MemoryLayout<Value>.size + 7) / 8)  // = wordCount
            let destination = raw.baseAddress!.assumingMemoryBound(to: UInt64.self)
            let base = words + slot * n
            for i in 0..<n { destination[i] = base[i].load(ordering: .relaxed) }
            return UnsafeRawPointer(destination).loadUnaligned(as: Value.self)
        }
    }
}

#if canImport(Glibc)
import Glibc
@inlinable @inline(__always) func sched_yieldCompat() { _ = sched_yield() }
#else
@inlinable @inline(__always) func sched_yieldCompat() {}
#endif
