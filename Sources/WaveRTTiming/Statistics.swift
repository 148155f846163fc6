import Histogram

/// Exact percentiles of nanosecond values: a count per distinct value, so a
/// virtual-clock run's figures are exact (a histogram with three significant
/// digits would report 10.67 ms intervals to within 8 µs). Past 100,000
/// distinct values (a long system-clock run) values are kept to a coarser
/// quantum, ten times coarser each time.
struct Distribution {
    private(set) var counts: [Int64: UInt64] = [:]
    private(set) var quantum: Int64 = 1
    private(set) var total: UInt64 = 0
    private(set) var minimum: Int64 = .max
    private(set) var maximum: Int64 = .min
    private(set) var sum: Double = 0

    mutating func record(_ value: Int64) {
        counts[Self.floorDiv(value, quantum), default: 0] += 1
        total += 1
        minimum = Swift.min(minimum, value)
        maximum = Swift.max(maximum, value)
        sum += Double(value)
        if counts.count > 100_000 { coarsen() }
    }

    private mutating func coarsen() {
        let factor: Int64 = 10
        var coarser: [Int64: UInt64] = [:]
        for (k, c) in counts { coarser[Self.floorDiv(k, factor), default: 0] += c }
        counts = coarser
        quantum *= factor
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    var isEmpty: Bool { total == 0 }
    var mean: Double? { total == 0 ? nil : sum / Double(total) }

    /// Nearest-rank percentile: the smallest value with at least p % of the values at or below it.
    func percentile(_ p: Double) -> Int64? {
        guard total > 0 else { return nil }
        if p >= 100 { return maximum }
        let rank = Swift.max(1, UInt64((p / 100 * Double(total)).rounded(.up)))
        var seen: UInt64 = 0
        for key in counts.keys.sorted() {
            seen += counts[key]!
            if seen >= rank { return Swift.max(minimum, Swift.min(maximum, key * quantum)) }
        }
        return maximum
    }

    /// (value, count) pairs, smallest value first.
    var sortedValues: [(value: Int64, count: UInt64)] {
        counts.keys.sorted().map { ($0 * quantum, counts[$0]!) }
    }
}

extension Histogram<UInt64> {
    /// (value, count) pairs of what was recorded.
    var sortedValues: [(value: Int64, count: UInt64)] {
        recordedValues().map { (Int64($0.value), UInt64($0.count)) }
    }
}

/// Least squares of y against x with one common slope and, when `groups` is
/// given, an intercept per group (the runs between STOPs: each restarts the
/// position at 0, so each is its own line). Centred per group: x may be ~10¹⁴
/// ns while y is a few bytes.
struct LinearFit {
    let slope: Double
    /// Mean of y over all points.
    let meanY: Double
    /// Residuals' root mean square and largest magnitude.
    let residualRMS: Double
    let residualMax: Double
    /// Per group: its points' mean x and y, and how many there are.
    let groupMeans: [Int: (x: Double, y: Double, n: Double)]

    init?(x: [Double], y: [Double], groups: [Int]? = nil) {
        let n = x.count
        guard n >= 2, y.count == n, groups.map({ $0.count == n }) ?? true else { return nil }
        let group = groups ?? [Int](repeating: 0, count: n)
        var sums: [Int: (x: Double, y: Double, n: Double)] = [:]
        for i in 0..<n {
            let s = sums[group[i], default: (0, 0, 0)]
            sums[group[i]] = (s.x + x[i], s.y + y[i], s.n + 1)
        }
        let means = sums.mapValues { (x: $0.x / $0.n, y: $0.y / $0.n, n: $0.n) }
        var sxx = 0.0, sxy = 0.0
        for i in 0..<n {
            let m = means[group[i]]!
            let dx = x[i] - m.x
            sxx += dx * dx
            sxy += dx * (y[i] - m.y)
        }
        guard sxx > 0 else { return nil }
        let b = sxy / sxx + 0.0
        var ss = 0.0, worst = 0.0
        for i in 0..<n {
            let m = means[group[i]]!
            let r = y[i] - (m.y + b * (x[i] - m.x))
            ss += r * r
            worst = Swift.max(worst, abs(r))
        }
        slope = b
        meanY = y.reduce(0, +) / Double(n)
        residualRMS = (ss / Double(n)).squareRoot()
        residualMax = worst
        groupMeans = means
    }

    /// The fitted line of `group` at `x` (its intercept there).
    func value(group: Int, at x: Double) -> Double? {
        groupMeans[group].map { $0.y + slope * (x - $0.x) }
    }
}

/// Least-squares slope of y against x, one point at a time (Welford's
/// co-moments: stable for millions of points far from the origin).
struct StreamingFit {
    private(set) var count = 0
    private var meanX = 0.0, meanY = 0.0, sxx = 0.0, sxy = 0.0

    mutating func add(x: Double, y: Double) {
        count += 1
        let dx = x - meanX
        meanX += dx / Double(count)
        meanY += (y - meanY) / Double(count)
        sxx += dx * (x - meanX)
        sxy += dx * (y - meanY)
    }

    var slope: Double? { count >= 2 && sxx > 0 ? sxy / sxx + 0.0 : nil }
}

func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
    var (x, y) = (a, b)
    while y != 0 { (x, y) = (y, x % y) }
    return x
}
