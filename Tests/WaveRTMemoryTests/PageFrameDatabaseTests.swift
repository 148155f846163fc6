import Testing
@testable import WaveRTMemory

/// The free-run index against a brute-force model over random page states.
@Suite struct PageFrameDatabaseTests {
    struct Model {
        var free: [Bool]
        func runs(_ k: Int, _ lo: Int, _ hi: Int) -> [Int] {
            guard k > 0, lo <= hi, hi - k + 1 >= lo else { return [] }
            return (max(0, lo)...max(0, hi - k + 1)).filter { s in s + k - 1 <= hi && (s..<(s + k)).allSatisfy { free[$0] } }
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func queriesMatchBruteForce(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let n = 1000 + Int(rng.next() % 3000)
        var db = PageFrameDatabase(pageCount: n)
        var model = Model(free: Array(repeating: false, count: n))
        for _ in 0..<300 {
            let a = Int(rng.next() % UInt64(n))
            let len = 1 + Int(rng.next() % 200)
            let r = a..<min(n, a + len)
            let free = rng.next() % 3 != 0
            db.set(r, free: free)
            for p in r { model.free[p] = free }
        }
        #expect(db.freePageCount == model.free.filter { $0 }.count)
        var longest = 0, run = 0
        for f in model.free { run = f ? run + 1 : 0; longest = max(longest, run) }
        #expect(db.longestFreeRun == longest)
        for _ in 0..<300 {
            let lo = Int(rng.next() % UInt64(n))
            let hi = min(n - 1, lo + Int(rng.next() % UInt64(n)))
            let k = 1 + Int(rng.next() % 40)
            let expected = model.runs(k, lo, hi)
            #expect(db.findLowestRun(length: k, in: lo...hi) == expected.first)
            #expect(db.findHighestRun(length: k, in: lo...hi) == expected.last)
            let align = [1, 2, 4, 16][Int(rng.next() % 4)]
            let boundary = [0, 32, 64][Int(rng.next() % 3)]
            let aligned = expected.filter { $0 % align == 0 && (boundary == 0 || $0 / boundary == ($0 + k - 1) / boundary) }
            #expect(db.findAlignedRun(length: k, alignment: align, boundary: boundary, in: lo...hi, highestFirst: false) == aligned.first)
            #expect(db.findAlignedRun(length: k, alignment: align, boundary: boundary, in: lo...hi, highestFirst: true) == aligned.last)
            #expect(db.freeCount(in: lo...hi) == (lo...hi).filter { model.free[$0] }.count)
        }
        let freePages = model.free.indices.filter { model.free[$0] }
        for rank in stride(from: 0, to: freePages.count, by: max(1, freePages.count / 50)) {
            #expect(db.selectFree(rank: rank) == freePages[rank])
        }
        var collected: [Int] = []
        db.forEachFreeRun(in: 0...(n - 1), highestFirst: true, limit: 100) { collected.append(contentsOf: $0) }
        #expect(collected.sorted() == Array(freePages.suffix(100)))
    }
}
