import Foundation
import WaveRTMemory

/// A seeded fuzzer's random source: SplitMix64, so a seed replays the same
/// inputs on every machine. Helpers bias choices toward the interesting edges.
public struct FuzzRandom: Sendable {
    private var generator: SplitMix64
    public init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    public mutating func next() -> UInt64 { generator.next() }
    /// A value in `range` (uniform).
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) &+ 1
        return span == 0 ? Int(truncatingIfNeeded: next()) : range.lowerBound + Int(next() % span)
    }
    public mutating func chance(_ numerator: Int, in denominator: Int) -> Bool { int(0...(denominator - 1)) < numerator }
    public mutating func bool() -> Bool { next() & 1 == 1 }
    public mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
    /// A 64-bit value: uniform, or a small number, a power of two (±1), all ones, or zero.
    public mutating func edgy(bits: Int = 64) -> UInt64 {
        let mask: UInt64 = bits >= 64 ? .max : (1 << UInt64(bits)) - 1
        switch int(0...5) {
        case 0: return 0
        case 1: return UInt64(int(0...16)) & mask
        case 2: return mask
        case 3:
            let p = UInt64(1) << UInt64(int(0...(bits - 1)))
            return (pick([p, p &- 1, p &+ 1])) & mask
        default: return next() & mask
        }
    }
    public mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

/// One iteration's result: the invariants it broke (empty: clean) and what it exercised.
public struct FuzzOutcome: Sendable {
    public var problems: [String] = []
    public var counters: [String: UInt64] = [:]
    public init() {}
    public mutating func fail(_ message: String) { problems.append(message) }
    public mutating func count(_ name: String, _ n: UInt64 = 1) { counters[name, default: 0] &+= n }
}

/// A problem found, with the seed that replays it: `wavert fuzz TARGET --seed S --iterations 1`.
public struct FuzzFailure: Sendable, CustomStringConvertible {
    public var iterationSeed: UInt64
    public var message: String
    public var description: String { "seed \(iterationSeed): \(message)" }
}

/// What a fuzzing run did: iterations, time, failures, and the counters summed.
public struct FuzzReport: Sendable, CustomStringConvertible {
    public var target: String
    public var seed: UInt64
    public var iterations = 0
    public var seconds = 0.0
    public var failures: [FuzzFailure] = []
    public var counters: [String: UInt64] = [:]

    public var description: String {
        let tally = counters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        var text = "fuzz \(target): seed \(seed), \(iterations) iterations in \(String(format: "%.1f", seconds)) s, "
            + (failures.isEmpty ? "clean" : "\(failures.count) FAILED")
        if !tally.isEmpty { text += "\n  exercised: \(tally)" }
        for f in failures.prefix(20) { text += "\n  FAIL \(f)\n    replay: wavert fuzz \(target) --seed \(f.iterationSeed) --iterations 1" }
        return text
    }
}

/// Runs a fuzzer's iterations until the budget runs out. Iteration `i` uses
/// seed `seed + i·φ` (iteration 0 uses `seed` itself), so a failing
/// iteration's seed, given back with one iteration, replays exactly that case.
public enum Fuzzer {
    public static func iterationSeed(_ seed: UInt64, _ i: Int) -> UInt64 { seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15 }

    /// - Parameters:
    ///   - iterations: at most this many (nil: no limit); `seconds`: at most this long (nil: no limit).
    ///   - progress: called with the seed before each iteration (to leave a trace if the host dies).
    public static func run(target: String, seed: UInt64, iterations: Int?, seconds: Double?,
                           progress: ((UInt64) -> Void)? = nil, iteration: (inout FuzzRandom) -> FuzzOutcome) -> FuzzReport
    {
        precondition(iterations != nil || seconds != nil, "a fuzzing run needs an iteration or a time budget")
        var report = FuzzReport(target: target, seed: seed)
        let start = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        var i = 0
        while iterations.map({ i < $0 }) ?? true, seconds.map({ elapsed() < $0 }) ?? true {
            let s = iterationSeed(seed, i)
            progress?(s)
            var random = FuzzRandom(seed: s)
            let outcome = iteration(&random)
            for p in outcome.problems { report.failures.append(FuzzFailure(iterationSeed: s, message: p)) }
            for (k, v) in outcome.counters { report.counters[k, default: 0] &+= v }
            i += 1
        }
        report.iterations = i
        report.seconds = elapsed()
        return report
    }
}
