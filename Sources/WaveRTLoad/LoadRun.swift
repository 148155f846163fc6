import CWaveRTShim
import Glibc
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTHardware
import WaveRTRunner

/// Many example streams in real time with a CPU hog beside them, their
/// notification latency against a timer baseline measured in the same window
/// (see ``LoadReport``). Shared by the load benchmark (64 streams, 60 s) and
/// the ratio test (shorter).
public enum LoadRun {
    /// Opens every stream (each its own machine, port and client, as `wavert play`
    /// makes them, with a sink that discards), starts the hog, runs the warm-up,
    /// then measures for the configured window while the baseline threads (one per CPU) run.
    public static func run(_ configuration: LoadConfiguration) throws(LoadError) -> LoadReport {
        var streams: [Stream] = []
        defer { for s in streams { s.session.finish() } }  // on an error part-way
        for i in 0..<configuration.streams {
            streams.append(try Stream(index: i, example: configuration.example(forStream: i), seconds: configuration.seconds))
        }
        for s in streams {
            do { try s.session.start() } catch {
                throw .stream(index: s.index, example: s.example, reason: error.description)
            }
        }
        let hog = CPUHog(threads: configuration.hogThreads)
        sleep(nanoseconds: UInt64(configuration.warmupSeconds * 1e9))
        let windowStart = MonotonicTimebase.shared.now
        for s in streams { s.wakes.keep(from: windowStart) }
        let cpu0 = ThreadCPU.processNanoseconds(), hog0 = hog.tids.compactMap(ThreadCPU.nanoseconds).reduce(0, +)
        // The baseline runs on this thread's behalf for the whole window, beside the streams.
        let (baseline, stalls) = TimerBaseline.measureRecordingStalls(
            duration: UInt64(configuration.seconds * 1e9), period: configuration.baselinePeriodNanoseconds,
            threshold: LoadReport.hostStallNanoseconds,
            configuration: .init(fifoPriority: configuration.baselinePriority, name: "wavert-baseline"))
        let wall = MonotonicTimebase.shared.now - windowStart
        let cpu1 = ThreadCPU.processNanoseconds(), hog1 = hog.tids.compactMap(ThreadCPU.nanoseconds).reduce(0, +)
        let hogRounds = hog.progress
        hog.stop()

        var ioc: [UInt64] = [], timer: [UInt64] = [], perExample: [String: [UInt64]] = [:]
        var notMeasured: UInt64 = 0
        var fifo = true
        var fifoError: Int32 = 0
        for s in streams {
            for status in [s.session.machine.scheduler.realTimeStatus, s.session.client.threadStatus] {
                if status?.fifoPriority == nil {
                    fifo = false
                    fifoError = status?.fifoError ?? 0
                }
            }
            let (latencies, missed) = s.latencies(until: windowStart + wall)
            notMeasured += missed
            perExample[s.example, default: []] += latencies
            if s.example == "sysvad" { timer += latencies } else { ioc += latencies }
        }
        var glitches: UInt64 = 0, afterStalls: UInt64 = 0, outside: UInt64 = 0, verifier = 0, leaks = 0
        var glitchesPerExample: [String: UInt64] = [:]
        var glitchEvents: [String] = []
        for s in streams {
            let report = s.session.finish()
            glitches += report.glitchCount
            glitchesPerExample[s.example, default: 0] += report.glitchCount
            // The client could keep up unless the machine stalled within a buffer before the glitch.
            let buffer = UInt64(s.session.client.buffer.actualSize / s.session.setup.format.blockAlign) * 1_000_000_000
                / UInt64(s.session.setup.format.sampleRate)
            for g in report.glitches {
                // Only the measured window has a stall record to judge by (the warm-up and the wind-down do not).
                let inWindow = g.time >= windowStart && g.time <= windowStart + wall
                let stalled = inWindow && stalls.contains { $0.end >= g.time &- buffer && $0.deadline <= g.time }
                if !inWindow { outside += 1 } else if stalled { afterStalls += 1 }
                guard glitchEvents.count < 20 else { continue }
                let at = Double(Int64(bitPattern: g.time &- windowStart)) / 1e9
                glitchEvents.append("stream \(s.index) (\(s.example)): \(g.kind) of \(g.frames) frames at frame \(g.frame), \(at) s from the window's start"
                    + (!inWindow ? " (outside the window)" : stalled ? " (after a host stall)" : ""))
            }
            verifier += report.verifier.count
            leaks += report.leaks.count
        }
        streams = []
        let iocSummary = LatencySummary(ioc)
        let base = UInt64(baseline.valueAtPercentile(99))
        let hogCores = Double(hog1 >= hog0 ? hog1 - hog0 : 0) / Double(wall)
        let processCores = Double(cpu1 - cpu0) / Double(wall)
        return LoadReport(
            streams: configuration.streams,
            examples: Dictionary((0..<configuration.streams).map { (configuration.example(forStream: $0), 1) }, uniquingKeysWith: +),
            hogThreads: configuration.hogThreads, seconds: Double(wall) / 1e9, glitches: glitches, glitchesPerExample: glitchesPerExample, glitchesAfterHostStalls: afterStalls, glitchesOutsideWindow: outside,
            hostStalls: stalls.count, longestHostStall: stalls.map(\.lateness).max() ?? 0, glitchEvents: glitchEvents, verifierFindings: verifier, leaks: leaks,
            iocDriven: iocSummary, timerDriven: LatencySummary(timer), perExample: perExample.compactMapValues(LatencySummary.init),
            baselineP50: UInt64(baseline.valueAtPercentile(50)), baselineP99: base, baselineMax: UInt64(baseline.max),
            baselineSamples: UInt64(baseline.totalCount),
            p99Ratio: iocSummary.flatMap { base == 0 ? nil : Double($0.p99) / Double(base) },
            wakesNotMeasured: notMeasured, processCores: processCores, hogCores: hogCores, hogRounds: hogRounds,
            streamCores: max(0, processCores - hogCores), fifoGranted: fifo, fifoError: fifoError)
    }

    static func sleep(nanoseconds ns: UInt64) {
        let until = wrt_monotonic_ns() + ns
        while wrt_monotonic_ns() < until { _ = wrt_sleep_until_monotonic_ns(until) }
    }

    /// One example stream on the system clock, its client's wakes logged.
    final class Stream {
        let index: Int
        let example: String
        let session: MiniportSession
        let wakes: WakeLog

        init(index: Int, example name: String, seconds: Double) throws(LoadError) {
            self.index = index
            example = name
            guard let ex = ExampleMiniport.named(name) else { throw .stream(index: index, example: name, reason: "no such example") }
            let setup = ex.streamSetup(format: ex.format, bufferMilliseconds: Double(ex.bufferMilliseconds))
            // Every notification of the window, with room to spare (a packet is at least 1 ms).
            wakes = WakeLog(capacity: Int(seconds * 1000) + 1000)
            do {
                session = try MiniportSession(miniport: ex.make(), setup: setup, timebase: MonotonicTimebase.shared,
                                              source: ToneGenerator(frequency: 440, levelDBFS: -12), speaker: NullSink())
            } catch {
                throw .stream(index: index, example: name, reason: error.description)
            }
            session.client.observer = wakes
        }

        /// Each logged wake's time since the last IOC (packet boundary fetched) at or before it.
        func latencies(until end: UInt64) -> (latencies: [UInt64], notMeasured: UInt64) {
            guard let dma = session.adapter.dmaStreams.first(where: { $0.hasStarted }) else {
                return ([], UInt64(wakes.count) + wakes.dropped)
            }
            let timing = dma.currentTiming()
            let packet = UInt64(session.client.packetBytes)
            var out: [UInt64] = []
            out.reserveCapacity(wakes.count)
            var k: UInt64 = 1
            var missed = wakes.dropped
            for i in 0..<wakes.count {
                let w = wakes[i]
                guard w <= end else { break }
                while let next = dma.time(whenDMAReaches: (k + 1) * packet, timing), next <= w { k += 1 }
                if let ioc = dma.time(whenDMAReaches: k * packet, timing), ioc <= w { out.append(w - ioc) } else { missed += 1 }
            }
            return (out, missed)
        }
    }
}
