/// Percentiles of a set of latencies, exact: from the sorted samples
/// (nearest rank: the smallest sample at or above the fraction of them).
public struct LatencySummary: Sendable, Codable, Hashable {
    public var count: Int
    public var p50: UInt64
    public var p99: UInt64
    public var p999: UInt64
    public var max: UInt64

    /// nil when there are no samples.
    public init?(_ samples: [UInt64]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        func rank(_ q: Double) -> UInt64 {
            let r = Int((q * Double(sorted.count)).rounded(.up))
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, r - 1))]
        }
        count = sorted.count
        p50 = rank(0.5)
        p99 = rank(0.99)
        p999 = rank(0.999)
        max = sorted[sorted.count - 1]
    }
}
