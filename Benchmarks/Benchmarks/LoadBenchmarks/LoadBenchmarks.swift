// The load requirement of issue 14: 64 streams of mixed examples (hda, isa,
// simple, sysvad; each its own machine, port and client) in real time on the
// system clock, two busy threads at normal priority beside them, for 60 s.
// Goal: 0 glitches, and the IOC-to-client-wake p99 at most 2x the p99 of a
// plain timer thread per CPU at the clients' priority measuring its own wake latency
// in the same window. See ../../README.md. The run is WaveRTLoad's LoadRun,
// the same one Tests/WaveRTLoadTests runs for 5 s.
import Benchmark
import Glibc
import WaveRT

/// A line on standard error (the benchmark tool keeps standard output for itself).
func note(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
}

let glitchCount = BenchmarkMetric.custom("glitches", polarity: .prefersSmaller, useScalingFactor: false)
let glitchesAfterStalls = BenchmarkMetric.custom("glitches after host stalls", polarity: .prefersSmaller, useScalingFactor: false)
let latencyP99 = BenchmarkMetric.custom("IOC to client wake p99 (µs)", polarity: .prefersSmaller, useScalingFactor: false)
let sysvadP99 = BenchmarkMetric.custom("sysvad timer-driven wake p99 (µs)", polarity: .prefersSmaller, useScalingFactor: false)
let baselineP99 = BenchmarkMetric.custom("timer baseline p99 (µs)", polarity: .prefersSmaller, useScalingFactor: false)
let latencyRatio = BenchmarkMetric.custom("p99 ratio to baseline (x1000)", polarity: .prefersSmaller, useScalingFactor: false)
let processCPU = BenchmarkMetric.custom("process CPU (millicores)", polarity: .prefersSmaller, useScalingFactor: false)
let hogCPU = BenchmarkMetric.custom("hog CPU (millicores)", polarity: .prefersLarger, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    let name = "Load, 64 mixed streams, 2 hog threads, 60 s"
    Benchmark(name, configuration: .init(
        metrics: [.wallClock, glitchCount, glitchesAfterStalls, latencyP99, sysvadP99, baselineP99, latencyRatio, processCPU, hogCPU],
        timeUnits: .seconds,
        units: [glitchCount: .count, glitchesAfterStalls: .count, latencyP99: .count, sysvadP99: .count, baselineP99: .count, latencyRatio: .count,
                processCPU: .count, hogCPU: .count],
        warmupIterations: 0, maxDuration: .seconds(300), maxIterations: 1)
    ) { benchmark in
        let report: LoadReport
        do {
            report = try LoadRun.run(try LoadConfiguration(streams: 64, examples: LoadConfiguration.mixedExamples, hogThreads: 2,
                                                           seconds: 60, warmupSeconds: 1))
        } catch {
            fatalError("\(name): \(error)")
        }
        benchmark.stopMeasurement()
        note("\(name): \(report.summary)")
        for event in report.glitchEvents { note("  glitch: \(event)") }
        for (example, s) in report.perExample.sorted(by: { $0.key < $1.key }) {
            note("  \(example): p50 \(s.p50 / 1000) µs, p99 \(s.p99 / 1000) µs, max \(s.max / 1000) µs over \(s.count) wakes")
        }
        benchmark.measurement(glitchCount, Int(report.glitches))
        benchmark.measurement(glitchesAfterStalls, Int(report.glitchesAfterHostStalls))
        benchmark.measurement(latencyP99, Int((report.iocDriven?.p99 ?? 0) / 1000))
        benchmark.measurement(sysvadP99, Int((report.timerDriven?.p99 ?? 0) / 1000))
        benchmark.measurement(baselineP99, Int(report.baselineP99 / 1000))
        benchmark.measurement(latencyRatio, Int(1000 * (report.p99Ratio ?? 0)))
        benchmark.measurement(processCPU, Int(1000 * report.processCores))
        benchmark.measurement(hogCPU, Int(1000 * report.hogCores))
        if report.verifierFindings > 0 || report.leaks > 0 {
            fatalError("\(name): verifier \(report.verifierFindings) findings, \(report.leaks) leaks")
        }
    }
}
