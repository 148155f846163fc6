/// The page-frame database: which physical pages are free, indexed so that
/// allocation never scans every page.
///
/// A bitmap holds one bit per page frame (1 = free), 64 frames to a word. Over
/// the words sits a segment tree whose nodes keep, for the pages they cover, the
/// free run touching their low end (`prefix`), the one touching their high end
/// (`suffix`), the longest free run inside (`best`) and the free-page count. That
/// answers "the highest (or lowest) run of k free pages inside [lo, hi]", "the
/// next free page below p" and "the r-th free page" in O(log n) node visits,
/// which is what keeps a contiguous request on fragmented memory cheap and lets
/// a failing one fail fast (the root's `best` says no at once).
///
/// Frames outside RAM (holes, padding) are simply never free.
struct PageFrameDatabase {
    struct Node {
        var prefix: Int32
        var suffix: Int32
        var best: Int32
        var count: Int32
    }

    let pageCount: Int
    private var words: [UInt64]
    private var nodes: [Node]
    /// Index of the first leaf; a power of two. Node 1 is the root.
    private let leafBase: Int

    init(pageCount: Int) {
        precondition(pageCount > 0 && pageCount < Int(Int32.max), "page count out of range")
        self.pageCount = pageCount
        let wordCount = (pageCount + 63) / 64
        var base = 1
        while base < wordCount { base <<= 1 }
        leafBase = base
        words = Array(repeating: 0, count: base)
        nodes = Array(repeating: Node(prefix: 0, suffix: 0, best: 0, count: 0), count: 2 * base)
    }

    var freePageCount: Int { Int(nodes[1].count) }
    var longestFreeRun: Int { Int(nodes[1].best) }

    func isFree(_ page: Int) -> Bool {
        words[page >> 6] & (1 << UInt64(page & 63)) != 0
    }

    /// Whether every page of `range` is free.
    func isFree(_ range: Range<Int>) -> Bool {
        guard !range.isEmpty else { return true }
        guard range.lowerBound >= 0, range.upperBound <= pageCount else { return false }
        return findLowestRun(length: range.count, in: range.lowerBound...(range.upperBound - 1)) == range.lowerBound
    }

    /// Marks `range` free or used and refreshes the index above it.
    mutating func set(_ range: Range<Int>, free: Bool) {
        guard !range.isEmpty else { return }
        precondition(range.lowerBound >= 0 && range.upperBound <= pageCount)
        var page = range.lowerBound
        while page < range.upperBound {
            let w = page >> 6
            let first = page & 63
            let last = min(63, range.upperBound - 1 - (w << 6))
            let width = last - first + 1
            let mask: UInt64 = (width == 64 ? ~0 : ((1 << UInt64(width)) - 1)) << UInt64(first)
            if free { words[w] |= mask } else { words[w] &= ~mask }
            page = (w + 1) << 6
        }
        refresh(words: (range.lowerBound >> 6)...((range.upperBound - 1) >> 6))
    }

    /// Recomputes the leaves for `wordRange` and every ancestor, level by level.
    private mutating func refresh(words wordRange: ClosedRange<Int>) {
        for w in wordRange { nodes[leafBase + w] = Self.leaf(words[w]) }
        var lo = (leafBase + wordRange.lowerBound) >> 1
        var hi = (leafBase + wordRange.upperBound) >> 1
        var childLength = 64
        while lo >= 1 {
            for i in lo...hi {
                nodes[i] = Self.combine(nodes[2 * i], nodes[2 * i + 1], childLength: Int32(childLength))
            }
            if lo == 1 { break }
            lo >>= 1
            hi >>= 1
            childLength <<= 1
        }
    }

    private static func leaf(_ w: UInt64) -> Node {
        var longest: Int32 = 0
        var x = w
        while x != 0 {  // each step shortens every run of ones by one
            x &= x << 1
            longest += 1
        }
        return Node(
            prefix: Int32((~w).trailingZeroBitCount),
            suffix: Int32((~w).leadingZeroBitCount),
            best: longest,
            count: Int32(w.nonzeroBitCount))
    }

    private static func combine(_ l: Node, _ r: Node, childLength: Int32) -> Node {
        Node(
            prefix: l.prefix == childLength ? childLength + r.prefix : l.prefix,
            suffix: r.suffix == childLength ? childLength + l.suffix : r.suffix,
            best: max(l.best, r.best, l.suffix + r.prefix),
            count: l.count + r.count)
    }

    private func length(ofNode i: Int) -> Int {
        let level = Int.bitWidth - 1 - i.leadingZeroBitCount  // depth of node i
        return (leafBase >> level) * 64
    }

    // MARK: Runs

    /// The first page of the lowest run of `length` free pages inside `bounds`.
    func findLowestRun(length k: Int, in bounds: ClosedRange<Int>) -> Int? {
        guard k > 0, k <= Int(nodes[1].best), let b = clamp(bounds), b.count >= k else { return nil }
        var carry = 0
        return lowest(node: 1, start: 0, length: leafBase * 64, b.lowerBound, b.upperBound, k, &carry)
    }

    /// The first page of the highest run of `length` free pages inside `bounds`.
    func findHighestRun(length k: Int, in bounds: ClosedRange<Int>) -> Int? {
        guard k > 0, k <= Int(nodes[1].best), let b = clamp(bounds), b.count >= k else { return nil }
        var carry = 0
        return highest(node: 1, start: 0, length: leafBase * 64, b.lowerBound, b.upperBound, k, &carry)
    }

    private func clamp(_ bounds: ClosedRange<Int>) -> ClosedRange<Int>? {
        let lo = max(0, bounds.lowerBound)
        let hi = min(pageCount - 1, bounds.upperBound)
        return lo <= hi ? lo...hi : nil
    }

    /// `carry`: free pages immediately below `start` that lie inside [lo, hi].
    private func lowest(node: Int, start: Int, length: Int, _ lo: Int, _ hi: Int, _ k: Int, _ carry: inout Int) -> Int? {
        let end = start + length - 1
        if end < lo || start > hi { return nil }
        if start >= lo && end <= hi {
            let n = nodes[node]
            if carry + Int(n.prefix) >= k { return start - carry }
            if Int(n.best) < k {
                carry = Int(n.prefix) == length ? carry + length : Int(n.suffix)
                return nil
            }
        }
        if node >= leafBase {
            let w = words[node - leafBase]
            for page in max(lo, start)...min(hi, end) {
                if w & (1 << UInt64(page - start)) != 0 {
                    carry += 1
                    if carry >= k { return page - k + 1 }
                } else {
                    carry = 0
                }
            }
            return nil
        }
        let half = length / 2
        if let found = lowest(node: 2 * node, start: start, length: half, lo, hi, k, &carry) { return found }
        return lowest(node: 2 * node + 1, start: start + half, length: half, lo, hi, k, &carry)
    }

    /// `carry`: free pages immediately above `end` that lie inside [lo, hi].
    private func highest(node: Int, start: Int, length: Int, _ lo: Int, _ hi: Int, _ k: Int, _ carry: inout Int) -> Int? {
        let end = start + length - 1
        if end < lo || start > hi { return nil }
        if start >= lo && end <= hi {
            let n = nodes[node]
            if carry + Int(n.suffix) >= k { return end + carry - k + 1 }
            if Int(n.best) < k {
                carry = Int(n.suffix) == length ? carry + length : Int(n.prefix)
                return nil
            }
        }
        if node >= leafBase {
            let w = words[node - leafBase]
            for page in stride(from: min(hi, end), through: max(lo, start), by: -1) {
                if w & (1 << UInt64(page - start)) != 0 {
                    carry += 1
                    if carry >= k { return page }
                } else {
                    carry = 0
                }
            }
            return nil
        }
        let half = length / 2
        if let found = highest(node: 2 * node + 1, start: start + half, length: half, lo, hi, k, &carry) { return found }
        return highest(node: 2 * node, start: start, length: half, lo, hi, k, &carry)
    }

    /// A run of `length` free pages in `bounds` whose first page is a multiple of
    /// `alignment` and which does not cross a multiple of `boundary` (0: none);
    /// all in pages. The highest such run, or the lowest.
    func findAlignedRun(length k: Int, alignment a: Int, boundary: Int, in bounds: ClosedRange<Int>, highestFirst: Bool) -> Int? {
        guard k > 0, a > 0, boundary == 0 || k <= boundary else { return nil }
        func crosses(_ c: Int) -> Bool { boundary > 0 && c / boundary != (c + k - 1) / boundary }
        var lo = bounds.lowerBound
        var hi = bounds.upperBound
        // Each pass takes the next free run in the search direction and tries the
        // best aligned start inside it; the window shrinks strictly every pass.
        while lo <= hi {
            if highestFirst {
                guard let s = findHighestRun(length: k, in: lo...hi) else { return nil }
                var c = s - s % a
                if crosses(c) {
                    c = (c + k - 1) / boundary * boundary - k
                    c -= ((c % a) + a) % a
                }
                if c >= lo && !crosses(c) && isFree(c..<(c + k)) { return c }
                hi = c + k - 2
            } else {
                guard let s = findLowestRun(length: k, in: lo...hi) else { return nil }
                var c = (s + a - 1) / a * a
                if crosses(c) {
                    c = (c + k - 1) / boundary * boundary
                    c = (c + a - 1) / a * a
                }
                if c + k - 1 <= hi && !crosses(c) && isFree(c..<(c + k)) { return c }
                lo = max(s + 1, c)
            }
        }
        return nil
    }

    // MARK: Single pages

    /// Free pages in `bounds`, taken from the top down (or bottom up), at most `limit`.
    /// Calls `take` with maximal runs of adjacent pages, in the order found.
    func forEachFreeRun(in bounds: ClosedRange<Int>, highestFirst: Bool, limit: Int, _ take: (Range<Int>) -> Void) {
        guard limit > 0, let b = clamp(bounds) else { return }
        var remaining = limit
        var lo = b.lowerBound
        var hi = b.upperBound
        while remaining > 0 && lo <= hi {
            if highestFirst {
                guard let top = findHighestRun(length: 1, in: lo...hi) else { return }
                var bottom = top
                while bottom > lo && top - bottom + 1 < remaining && isFree(bottom - 1) { bottom -= 1 }
                take(bottom..<(top + 1))
                remaining -= top - bottom + 1
                hi = bottom - 1
            } else {
                guard let bottom = findLowestRun(length: 1, in: lo...hi) else { return }
                var top = bottom
                while top < hi && top - bottom + 1 < remaining && isFree(top + 1) { top += 1 }
                take(bottom..<(top + 1))
                remaining -= top - bottom + 1
                lo = top + 1
            }
        }
    }

    /// Number of free pages below `page`.
    func freeCount(below page: Int) -> Int {
        var total = 0
        var node = 1
        var start = 0
        var length = leafBase * 64
        let p = min(max(page, 0), leafBase * 64)
        while node < leafBase {
            let half = length / 2
            if p >= start + half {
                total += Int(nodes[2 * node].count)
                node = 2 * node + 1
                start += half
            } else {
                node = 2 * node
            }
            length = half
        }
        let w = words[node - leafBase]
        let bits = p - start
        if bits > 0 { total += (bits >= 64 ? w : w & ((1 << UInt64(bits)) - 1)).nonzeroBitCount }
        return total
    }

    func freeCount(in bounds: ClosedRange<Int>) -> Int {
        guard let b = clamp(bounds) else { return 0 }
        return freeCount(below: b.upperBound + 1) - freeCount(below: b.lowerBound)
    }

    /// The free page of rank `rank` (0-based) counting from page 0 upwards.
    func selectFree(rank: Int) -> Int? {
        guard rank >= 0, rank < freePageCount else { return nil }
        var r = rank
        var node = 1
        while node < leafBase {
            let left = Int(nodes[2 * node].count)
            if r < left { node = 2 * node } else { r -= left; node = 2 * node + 1 }
        }
        var w = words[node - leafBase]
        for _ in 0..<r { w &= w - 1 }  // drop the r lowest set bits
        return (node - leafBase) * 64 + w.trailingZeroBitCount
    }
}
