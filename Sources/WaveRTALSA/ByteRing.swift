import CWaveRTShim
import Glibc
import Synchronization

/// A single-producer, single-consumer ring of bytes: the engine thread writes
/// what the DMA read, the ALSA writer thread takes it. No locks, no allocation
/// after init; the consumer sleeps on a futex the producer bumps.
public final class ByteRing: @unchecked Sendable {
    public let capacity: Int
    private let storage: UnsafeMutableRawPointer
    private let head = Atomic<Int>(0)  // bytes consumed, ever
    private let tail = Atomic<Int>(0)  // bytes produced, ever
    private let word: UnsafeMutablePointer<UInt32>

    /// `capacity` is rounded up to a power of two.
    public init(capacity: Int) {
        var c = 1
        while c < max(64, capacity) { c <<= 1 }
        self.capacity = c
        storage = .allocate(byteCount: c, alignment: 64)
        word = .allocate(capacity: 1)
        word.initialize(to: 0)
    }

    deinit {
        storage.deallocate()
        word.deallocate()
    }

    /// Producer: copies as much of `bytes` as fits; returns how much did.
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer) -> Int {
        let t = tail.load(ordering: .relaxed)
        let n = min(bytes.count, capacity - (t - head.load(ordering: .acquiring)))
        guard n > 0, let src = bytes.baseAddress else { return 0 }
        let at = t & (capacity - 1)
        let first = min(n, capacity - at)
        (storage + at).copyMemory(from: src, byteCount: first)
        if first < n { storage.copyMemory(from: src + first, byteCount: n - first) }
        tail.store(t + n, ordering: .releasing)
        _ = wrt_atomic_fetch_add_u32(word, 1)
        _ = wrt_futex_wake(word, 1)
        return n
    }

    /// Bytes waiting for the consumer.
    public var readable: Int { tail.load(ordering: .acquiring) - head.load(ordering: .relaxed) }

    /// Consumer: the longest contiguous readable run, at most `limit` bytes.
    public func peek(limit: Int) -> UnsafeRawBufferPointer {
        let h = head.load(ordering: .relaxed)
        let n = min(limit, tail.load(ordering: .acquiring) - h, capacity - (h & (capacity - 1)))
        return UnsafeRawBufferPointer(start: storage + (h & (capacity - 1)), count: max(0, n))
    }

    /// Consumer: releases `count` bytes (read or dropped).
    public func consume(_ count: Int) {
        head.store(head.load(ordering: .relaxed) + count, ordering: .releasing)
    }

    /// Consumer: sleeps until at least `minimum` bytes are readable (re-checking
    /// at each write) or the absolute monotonic deadline passes.
    public func wait(forAtLeast minimum: Int = 1, until deadline: UInt64) {
        while readable < minimum {
            let token = wrt_atomic_load_u32(word)
            if readable >= minimum { return }
            if wrt_futex_wait_until(word, token, deadline) == ETIMEDOUT { return }
        }
    }

    /// Wakes a waiting consumer (to stop it).
    public func wake() {
        _ = wrt_atomic_fetch_add_u32(word, 1)
        _ = wrt_futex_wake(word, 1)
    }
}
