import Foundation
import Synchronization
import Testing
@testable import WaveRTEngine

/// A real-time reader of a ``Seqlock`` whose writer (a lower-priority
/// register-write path) is preempted mid-update: the reader must not wait
/// for it. These reach inside the lock (`@testable`) to leave a write half
/// done, which no public call can do.
@Suite struct SeqlockPreemptionTests {
    struct Wide: BitwiseCopyable, Equatable {
        var a: UInt64, b: UInt64, c: UInt64, d: UInt64
        init(_ x: UInt64) { (a, b, c, d) = (x, x &* 3, x &* 5, x &* 7) }
        var isWhole: Bool { b == a &* 3 && c == a &* 5 && d == a &* 7 }
    }

    /// The writer stopped after copying half of its new value into the next
    /// slot, before publishing the sequence: every read returns the previous
    /// value on its first try (no retry counted), however many reads come.
    @Test func readerIgnoresAWriterStoppedMidCopy() {
        let lock = Seqlock(Wide(1))
        lock.write(Wide(2))
        let next = lock.sequence.load(ordering: .relaxed) &+ 1
        let slot = Int(next % Seqlock<Wide>.slots)
        let half = Wide(3)
        // What write() does up to its preemption point: two of the four words stored.
        withUnsafeBytes(of: half) { raw in
            for i in 0..<2 { lock.words[slot * lock.wordCount + i].store(raw.load(fromByteOffset: i * 8, as: UInt64.self), ordering: .relaxed) }
        }
        for _ in 0..<10_000 { #expect(lock.read() == Wide(2)) }
        #expect(lock.retryCount == 0)
        // The writer resumes: the rest of the copy, then the sequence.
        lock.store(half, slot: slot)
        lock.sequence.store(next, ordering: .releasing)
        #expect(lock.read() == Wide(3))
        #expect(lock.retryCount == 0)
    }

    /// The writer stopped after storing the whole next slot but before
    /// bumping the sequence (the other preemption point): the same.
    @Test func readerIgnoresAWriterStoppedBeforePublishing() {
        let lock = Seqlock(Wide(7))
        let next = lock.sequence.load(ordering: .relaxed) &+ 1
        lock.store(Wide(8), slot: Int(next % Seqlock<Wide>.slots))
        #expect(lock.read() == Wide(7))
        #expect(lock.retryCount == 0)
    }

    /// Against a writer that never pauses, each read ends within
    /// `maximumRetries + 1` attempts with a whole value or nil, never a torn
    /// one. One reader, so the retry counter's growth over one read is that
    /// read's own retries.
    @Test(.timeLimit(.minutes(1)))
    func readsAreBoundedAgainstAWriterThatNeverStops() {
        let lock = Seqlock(Wide(0))
        let stop = Atomic<Bool>(false)
        let stopped = Atomic<Bool>(false)
        Thread.detachNewThread {
            var i: UInt64 = 0
            while !stop.load(ordering: .relaxed) {
                i &+= 1
                lock.write(Wide(i))
            }
            stopped.store(true, ordering: .releasing)
        }
        var worst: UInt64 = 0, torn = 0, gaveUp = 0
        for _ in 0..<300_000 {
            let before = lock.retryCount
            let v = lock.read()
            worst = max(worst, lock.retryCount - before)
            if let v { if !v.isWhole { torn += 1 } } else { gaveUp += 1 }
        }
        stop.store(true, ordering: .relaxed)
        while !stopped.load(ordering: .acquiring) { sched_yield() }
        #expect(torn == 0)
        #expect(worst <= UInt64(Seqlock<Wide>.maximumRetries + 1), "a read retried \(worst) times")
        // A read that gave up retried exactly its whole budget.
        if gaveUp > 0 { #expect(worst == UInt64(Seqlock<Wide>.maximumRetries + 1)) }
    }
}
