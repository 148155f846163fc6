import WaveRTExamples

/// What a load run puts on the machine: `streams` example miniports in real
/// time (the system clock), each its own emulated machine, port and client as
/// `wavert play` makes them, cycling through `examples`; `hogThreads` busy
/// threads at normal priority beside them; and, for the whole measured window,
/// plain timer threads (one pinned to each CPU) at the clients' priority measuring their own wake-up
/// latency (the baseline the notification latency is judged against).
public struct LoadConfiguration: Sendable, Hashable {
    public let streams: Int
    public let examples: [String]
    public let hogThreads: Int
    /// The measured window, after `warmupSeconds` of running.
    public let seconds: Double
    public let warmupSeconds: Double
    /// The baseline threads' sleep period and SCHED_FIFO priority (the client's: 65).
    public let baselinePeriodNanoseconds: UInt64
    public let baselinePriority: Int32

    /// The examples whose notifications the DMA's IOC raises (hda, isa, simple)
    /// and sysvad, whose 1 ms timer DPC signals them (see ``LoadReport``).
    public static let mixedExamples = ["hda", "isa", "simple", "sysvad"]

    /// - Throws: ``LoadError/configuration(_:)`` naming the argument: `streams` 1...256,
    ///   `examples` non-empty and each one `wavert examples` lists, `hogThreads` 0...64,
    ///   `seconds` 0.1...3600, `warmupSeconds` 0...60, a period of 100 µs...100 ms, a priority 1...99.
    public init(streams: Int = 64, examples: [String] = LoadConfiguration.mixedExamples, hogThreads: Int = 2, seconds: Double = 60,
                warmupSeconds: Double = 1, baselinePeriodNanoseconds: UInt64 = 1_000_000, baselinePriority: Int32 = 65) throws(LoadError)
    {
        guard (1...256).contains(streams) else { throw .configuration("streams must be 1 to 256; got \(streams)") }
        guard !examples.isEmpty else { throw .configuration("examples must name at least one example miniport") }
        for name in examples where ExampleMiniport.named(name) == nil {
            throw .configuration("examples: no example miniport '\(name)'; 'wavert examples' lists them")
        }
        guard (0...64).contains(hogThreads) else { throw .configuration("hogThreads must be 0 to 64; got \(hogThreads)") }
        guard seconds.isFinite, (0.1...3600).contains(seconds) else { throw .configuration("seconds must be 0.1 to 3600; got \(seconds)") }
        guard warmupSeconds.isFinite, (0...60).contains(warmupSeconds) else {
            throw .configuration("warmupSeconds must be 0 to 60; got \(warmupSeconds)")
        }
        guard (100_000...100_000_000).contains(baselinePeriodNanoseconds) else {
            throw .configuration("baselinePeriodNanoseconds must be 100 µs to 100 ms; got \(baselinePeriodNanoseconds)")
        }
        guard (1...99).contains(baselinePriority) else { throw .configuration("baselinePriority must be 1 to 99; got \(baselinePriority)") }
        self.streams = streams
        self.examples = examples
        self.hogThreads = hogThreads
        self.seconds = seconds
        self.warmupSeconds = warmupSeconds
        self.baselinePeriodNanoseconds = baselinePeriodNanoseconds
        self.baselinePriority = baselinePriority
    }

    /// The example stream `index` runs.
    public func example(forStream index: Int) -> String { examples[index % examples.count] }
}

/// Why a load run could not be made.
public enum LoadError: Error, Hashable, CustomStringConvertible {
    case configuration(String)
    /// Stream `index` (its example) could not be opened or started.
    case stream(index: Int, example: String, reason: String)

    public var description: String {
        switch self {
        case .configuration(let why): "load: \(why)"
        case .stream(let index, let example, let reason): "load: stream \(index) (\(example)) could not run: \(reason)"
        }
    }
}
