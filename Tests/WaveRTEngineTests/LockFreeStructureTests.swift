import Foundation
import Synchronization
import Testing
import WaveRTEngine

/// The lock-free pieces the real-time path relies on: the seqlock, the slot
/// table, the rings. Each under the concurrency it is built for.
@Suite struct LockFreeStructureTests {
    struct Pair: BitwiseCopyable, Equatable {
        var a: UInt64
        var b: UInt64
        var c: UInt32
    }

    /// A reader on another thread never sees a torn value (all three fields
    /// written together) and never goes backwards, while a writer publishes
    /// as fast as it can.
    @Test func seqlockReadersNeverSeeATornValue() {
        let lock = Seqlock(Pair(a: 0, b: 0, c: 0))
        let done = Atomic<Bool>(false)
        let finished = Atomic<Bool>(false)
        let torn = Atomic<Int>(0)
        let backwards = Atomic<Int>(0)
        let reads = Atomic<Int>(0)
        Thread.detachNewThread {
            var last: UInt64 = 0
            while !done.load(ordering: .acquiring) {
                guard let v = lock.read() else { continue }
                if v.b != v.a &* 3 || v.c != UInt32(truncatingIfNeeded: v.a) { torn.add(1, ordering: .relaxed) }
                if v.a < last { backwards.add(1, ordering: .relaxed) }
                last = v.a
                reads.add(1, ordering: .relaxed)
            }
            finished.store(true, ordering: .releasing)
        }
        while reads.load(ordering: .relaxed) == 0 {}
        var i: UInt64 = 0
        while reads.load(ordering: .relaxed) < 200_000 || i < 200_000 {
            i += 1
            lock.write(Pair(a: i, b: i &* 3, c: UInt32(truncatingIfNeeded: i)))
        }
        done.store(true, ordering: .releasing)
        while !finished.load(ordering: .acquiring) {}
        #expect(torn.load(ordering: .relaxed) == 0)
        #expect(backwards.load(ordering: .relaxed) == 0)
        #expect(lock.read() == Pair(a: i, b: i &* 3, c: UInt32(truncatingIfNeeded: i)))
        // update() is read-modify-write over the writer's own copy.
        lock.update { $0.a += 1 }
        #expect(lock.writerValue.a == i + 1 && lock.read()?.a == i + 1)
    }

    final class Box: @unchecked Sendable {
        let value: Int
        init(_ value: Int) { self.value = value }
    }

    @Test func slotTableInsertsRemovesAndReusesSlots() {
        let guardian = PassGuard()
        let table = SlotTable<Box>(capacity: 3, passGuard: guardian)
        let a = Box(1), b = Box(2), c = Box(3), d = Box(4)
        #expect(table.insert(a) == 0)
        #expect(table.insert(b) == 1)
        #expect(table.insert(c) == 2)
        #expect(table.insert(d) == nil)  // full
        #expect(table.contains(b))
        #expect(table.remove(b))
        #expect(!table.remove(b))
        #expect(!table.contains(b))
        #expect(table.insert(d) == 1)  // the freed slot
        var seen: [Int] = []
        table.forEach { seen.append($0.value) }
        #expect(seen == [1, 4, 3])
        #expect(table.elements.map(\.value) == [1, 4, 3])
    }

    /// Removing inside a pass defers the release until no pass can hold the element.
    @Test func slotTableKeepsRemovedElementsAliveUntilThePassEnds() {
        let guardian = PassGuard()
        let table = SlotTable<Box>(capacity: 4, passGuard: guardian)
        weak var weakBox: Box?
        do {
            let box = Box(7)
            weakBox = box
            table.insert(box)
        }
        #expect(weakBox != nil)  // the table holds it
        guardian.enter()
        #expect(guardian.isCurrentThreadInPass && PassGuard.isInAnyPass)
        table.forEach { box in table.remove(box) }
        #expect(weakBox != nil)  // removed inside the pass: not released yet
        guardian.exit()
        table.reclaim()
        #expect(weakBox == nil)
        #expect(guardian.waitForQuiescence())
    }

    @Test func spscRingKeepsOrderAndCountsDrops() {
        let ring = SPSCRing<UInt64>(capacity: 5)
        #expect(ring.capacity == 8)
        for i in 0..<10 { ring.push(UInt64(i)) }
        #expect(ring.count == 8 && ring.dropped == 2)
        var out: [UInt64] = []
        ring.drain { out.append($0) }
        #expect(out == Array(0..<8))
        #expect(ring.count == 0)
        // Wraps around its storage many times with a producer on another thread.
        let total = 100_000
        let finished = Atomic<Bool>(false)
        Thread.detachNewThread {
            var i = 0
            while i < total { if ring.push(UInt64(i)) { i += 1 } }
            finished.store(true, ordering: .releasing)
        }
        var received: [UInt64] = []
        while received.count < total { ring.drain { received.append($0) } }
        while !finished.load(ordering: .acquiring) {}
        #expect(received == (0..<total).map(UInt64.init))
    }

    /// Many producers, one consumer: every record arrives once, each producer's in order.
    @Test func eventRingTakesRecordsFromManyThreads() {
        let ring = EventRing<UInt64>(capacity: 1 << 16)
        let producers = 4, each = 10_000
        let done = Atomic<Int>(0)
        for p in 0..<producers {
            Thread.detachNewThread {
                for i in 0..<each { ring.push(UInt64(p) << 32 | UInt64(i)) }
                done.add(1, ordering: .releasing)
            }
        }
        while done.load(ordering: .acquiring) < producers {}
        var last = [Int](repeating: -1, count: producers)
        var count = 0, outOfOrder = 0
        ring.drain { v in
            let p = Int(v >> 32), i = Int(v & 0xFFFF_FFFF)
            if i != last[p] + 1 { outOfOrder += 1 }
            last[p] = i
            count += 1
        }
        #expect(count == producers * each && outOfOrder == 0)
        #expect(ring.droppedCount == 0)
        // Full: dropped and counted, never waited for.
        let small = EventRing<UInt8>(capacity: 3)
        #expect(small.capacity == 4)
        for _ in 0..<6 { small.push(1) }
        #expect(small.droppedCount == 2)
    }
}
