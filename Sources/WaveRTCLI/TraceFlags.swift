import ArgumentParser
import WaveRTEngine
import WaveRTRunner

/// `--trace PATH.json` and its ring, shared by `play`, `record` and `timing`.
struct TraceFlags: ParsableArguments {
    @Option(help: "Write a Chrome/Perfetto trace of the run here (open it in ui.perfetto.dev or chrome://tracing).")
    var trace: String?
    @Option(name: .customLong("trace-events"),
            help: "Records the trace keeps (rounded up to a power of two; default 262144, 10 MiB, preallocated).")
    var traceEvents: Int?
    @Option(name: .customLong("trace-overflow"),
            help: "When the trace's ring is full: drop-oldest (keep the last records, the default) or drop-newest (keep the first).")
    var traceOverflow: String?

    /// What the flags ask for, checked (nil: no trace).
    func options() throws -> TraceOptions? {
        guard let trace else {
            if traceEvents != nil || traceOverflow != nil { throw ValidationError("--trace-events and --trace-overflow need --trace PATH.json") }
            return nil
        }
        guard !trace.isEmpty else { throw ValidationError("--trace needs a path for the JSON trace") }
        var options = TraceOptions(path: trace)
        if let n = traceEvents {
            guard (16...(1 << 26)).contains(n) else { throw ValidationError("--trace-events must be 16 to 67108864; got \(n)") }
            options.capacity = n
        }
        if let o = traceOverflow {
            guard let overflow = TraceRecorder.Overflow(rawValue: o) else {
                throw ValidationError("--trace-overflow must be drop-oldest or drop-newest; got '\(o)'")
            }
            options.overflow = overflow
        }
        return options
    }
}
