// Benchmarks of the register path: an example miniport driving its emulated
// hardware through the kernel and the port, the audio engine's client on the
// other side. Virtual-clock throughput, live register reads, and the real-time
// figures (processor CPU per stream, IOC-to-client latency against the timer
// baseline). See ../../README.md for what each measures and its goal.
import Benchmark
import Glibc
import WaveRT

// MARK: Rig: one example miniport, end to end

@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// A line on standard error (the benchmark tool keeps standard output for itself).
func note(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
}

func sleepNanoseconds(_ ns: UInt64) {
    var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// The CPU time a thread has used, in nanoseconds, from
/// /proc/self/task/TID/schedstat (sum_exec_runtime): every nanosecond it ran.
final class ThreadCPUClock: @unchecked Sendable {
    let tid: Int32
    private let path: [CChar]

    init(tid: Int32) {
        self.tid = tid
        path = Array("/proc/self/task/\(tid)/schedstat".utf8CString)
        _ = read()
    }

    /// Reads the counter without allocating.
    func read() -> UInt64 {
        let fd = path.withUnsafeBufferPointer { open($0.baseAddress!, O_RDONLY) }
        precondition(fd >= 0, "cannot open /proc/self/task/\(tid)/schedstat: errno \(errno)")
        defer { close(fd) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { text in
            let n = Glibc.read(fd, text.baseAddress!, text.count)
            precondition(n > 0, "cannot read /proc/self/task/\(tid)/schedstat")
            var value: UInt64 = 0
            for byte in text[0..<n] {
                guard byte >= 48 && byte <= 57 else { break }
                value = value * 10 + UInt64(byte - 48)
            }
            return value
        }
    }
}

/// An example miniport in a session with a tone source and a null speaker: the
/// default configuration `wavert play --example NAME` uses, or `bufferFrames`.
final class ExampleRig: @unchecked Sendable {
    let session: MiniportSession
    let clock: VirtualClock?

    init(_ name: String, bufferFrames: Int? = nil, virtual: Bool, monitorGlitches: Bool = true,
         observer: (any AudioEngineClientObserver)? = nil) {
        guard let example = ExampleMiniport.named(name) else { fatalError("no example \(name)") }
        var setup = example.streamSetup(format: example.format, bufferMilliseconds: Double(example.bufferMilliseconds))
        if let bufferFrames { setup.bufferFrames = bufferFrames }
        clock = virtual ? VirtualClock() : nil
        do {
            session = try MiniportSession(miniport: example.make(), setup: setup, timebase: clock ?? MonotonicTimebase.shared,
                                          source: ToneGenerator(frequency: 440, levelDBFS: -12), speaker: NullSink(),
                                          monitorGlitches: monitorGlitches)
            session.client.observer = observer
            try session.start()
        } catch {
            fatalError("\(name): \(error)")
        }
    }

    /// Takes the session down; fails loudly on a glitch or a finding.
    func finish(_ benchmarkName: String) {
        let report = session.finish()
        if report.glitchCount != 0 || !report.verifier.isEmpty || !report.leaks.isEmpty {
            fatalError("\(benchmarkName): \(report.glitchCount) glitches, verifier \(report.verifier), leaks \(report.leaks)")
        }
    }
}

/// Records each signalled wake of a client (its time on the timebase), allocation-free.
final class WakeRecorder: AudioEngineClientObserver, @unchecked Sendable {
    let times: UnsafeMutablePointer<UInt64>
    let capacity: Int
    private(set) var count = 0
    init(capacity: Int) {
        self.capacity = capacity
        times = .allocate(capacity: capacity)
    }
    deinit { times.deallocate() }
    func clientWoke(_ client: AudioEngineClient, at time: UInt64, signalled: Bool) {
        if signalled && count < capacity {
            times[count] = time
            count += 1
        }
    }
}

// MARK: Metrics

let realTimeFactor = BenchmarkMetric.custom("x real time", polarity: .prefersLarger, useScalingFactor: false)
let nanosecondsPerPacket = BenchmarkMetric.custom("ns per packet", polarity: .prefersSmaller, useScalingFactor: false)
let processorCPU = BenchmarkMetric.custom("processor thread CPU (ppm of a core)", polarity: .prefersSmaller, useScalingFactor: false)
let clientCPU = BenchmarkMetric.custom("client thread CPU (ppm of a core)", polarity: .prefersSmaller, useScalingFactor: false)
let latencyP99 = BenchmarkMetric.custom("IOC to client wake p99 (µs)", polarity: .prefersSmaller, useScalingFactor: false)
let baselineP99 = BenchmarkMetric.custom("timer baseline p99 (µs)", polarity: .prefersSmaller, useScalingFactor: false)
let latencyRatio = BenchmarkMetric.custom("p99 ratio to baseline (x1000)", polarity: .prefersSmaller, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(10),
        maxIterations: 10
    )

    // (a) Virtual-clock throughput through the register path: `hda` (10 ms
    //     buffer, 2 notifications, packet mode: an IOC, ISR, DPC, KeSetEvent,
    //     client wake, GetPacketCount and SetWritePacket every 5 ms), and the
    //     other examples. One iteration advances the clock by `streamTime`.
    let hour: UInt64 = 3_600_000_000_000
    for (name, streamTime, iterations) in [("hda", 24 * hour, 1), ("hda", hour, 5), ("isa", hour, 5), ("simple", hour, 5), ("sysvad", hour, 5)] {
        let label = streamTime == hour ? "1 hour" : "24 hours"
        let benchmarkName = "Virtual clock, \(name), \(label)"
        var rig: ExampleRig?
        Benchmark(benchmarkName, configuration: .init(
            metrics: [.wallClock, .mallocCountTotal, realTimeFactor, nanosecondsPerPacket],
            timeUnits: .milliseconds, units: [realTimeFactor: .count, nanosecondsPerPacket: .count],
            warmupIterations: 0, maxDuration: .seconds(600), maxIterations: iterations)
        ) { (benchmark: Benchmark, rig: ExampleRig) in
            let clock = rig.clock!
            let wakesBefore = rig.session.client.wakeCount
            let start = monotonicNanoseconds()
            clock.advance(by: streamTime)
            let wall = monotonicNanoseconds() - start
            benchmark.stopMeasurement()
            let packets = max(1, rig.session.client.wakeCount - wakesBefore)
            benchmark.measurement(realTimeFactor, Int(Double(streamTime) / Double(wall)))
            benchmark.measurement(nanosecondsPerPacket, Int(wall / packets))
        } setup: { () -> ExampleRig in
            let r = ExampleRig(name, virtual: true)
            rig = r
            return r
        } teardown: {
            rig?.finish(benchmarkName)
            rig = nil
        }
    }

    // (b) Live position reads from the client's side, 1000 per iteration: the
    //     LPIB the port mapped for the client (one clock_gettime and the
    //     register's arithmetic) and KSPROPERTY_AUDIO_POSITION (the port's
    //     property handler calling the miniport's GetPosition, which reads LPIB).
    for property in [false, true] {
        let benchmarkName = property ? "KSPROPERTY_AUDIO_POSITION, hda, system clock" : "LPIB read through the client's mapping, hda, system clock"
        var rig: ExampleRig?
        Benchmark(benchmarkName, configuration: .init(
            metrics: [.wallClock, .throughput, .mallocCountTotal],
            timeUnits: .nanoseconds, warmupIterations: 10, scalingFactor: .kilo,
            maxDuration: .seconds(2), maxIterations: 100_000)
        ) { (benchmark: Benchmark, rig: ExampleRig) in
            if property {
                let pin = rig.session.pin
                for _ in benchmark.scaledIterations { blackHole(pin.position()) }
            } else {
                guard let register = rig.session.client.positionRegister else { fatalError("hda maps no position register") }
                for _ in benchmark.scaledIterations { blackHole(register.read()) }
            }
        } setup: { () -> ExampleRig in
            let r = ExampleRig("hda", virtual: false)
            rig = r
            return r
        } teardown: {
            rig?.finish(benchmarkName)
            rig = nil
        }
    }

    // (c) Real time: one hda stream on the system clock for 2 s per iteration.
    //     The processor's and the client's thread CPU (schedstat), and the
    //     latency from each IOC (the instant the DMA fetched the end of a
    //     packet, from the device's own timing) to the client's wake, against
    //     this machine's timer baseline measured just before.
    for bufferFrames in [480, 256] {
        let benchmarkName = "Real time, hda, \(bufferFrames)-frame buffer, 2 notifications"
        var rig: ExampleRig?
        var wakes: WakeRecorder?
        Benchmark(benchmarkName, configuration: .init(
            metrics: [.wallClock, .mallocCountTotal, processorCPU, clientCPU, latencyP99, baselineP99, latencyRatio],
            timeUnits: .milliseconds,
            units: [processorCPU: .count, clientCPU: .count, latencyP99: .count, baselineP99: .count, latencyRatio: .count],
            warmupIterations: 0, maxDuration: .seconds(60), maxIterations: 3)
        ) { (benchmark: Benchmark, rig: ExampleRig) in
            let baseline = TimerBaseline.measure(duration: 1_000_000_000, configuration: .init(fifoPriority: 65, name: "baseline"))
            guard let processor = rig.session.machine.scheduler.realTimeStatus?.tid,
                  let client = rig.session.client.threadStatus?.tid else { fatalError("\(benchmarkName): no real-time threads") }
            let processorClock = ThreadCPUClock(tid: processor), clientClock = ThreadCPUClock(tid: client)
            let recorder = wakes!
            let first = recorder.count
            let p0 = processorClock.read(), c0 = clientClock.read(), start = monotonicNanoseconds()
            sleepNanoseconds(2_000_000_000)
            let p1 = processorClock.read(), c1 = clientClock.read(), wall = monotonicNanoseconds() - start
            benchmark.stopMeasurement()
            // Latency: each signalled wake against the last IOC at or before it.
            guard let dma = rig.session.adapter.dmaStreams.first(where: { $0.hasStarted }) else { fatalError("no running DMA") }
            let timing = dma.currentTiming()
            let packet = UInt64(rig.session.client.packetBytes)
            var latencies: [UInt64] = []
            var k: UInt64 = 1
            for i in first..<recorder.count {
                let w = recorder.times[i]
                while let next = dma.time(whenDMAReaches: (k + 1) * packet, timing), next <= w { k += 1 }
                if let ioc = dma.time(whenDMAReaches: k * packet, timing), ioc <= w { latencies.append(w - ioc) }
            }
            latencies.sort()
            let p99 = latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
            let base = UInt64(baseline.valueAtPercentile(99))
            benchmark.measurement(processorCPU, Int(Double(p1 - p0) * 1e6 / Double(wall)))
            benchmark.measurement(clientCPU, Int(Double(c1 - c0) * 1e6 / Double(wall)))
            benchmark.measurement(latencyP99, Int(p99 / 1000))
            benchmark.measurement(baselineP99, Int(base / 1000))
            benchmark.measurement(latencyRatio, base == 0 ? 0 : Int(1000 * p99 / base))
        } setup: { () -> ExampleRig in
            let recorder = WakeRecorder(capacity: 1 << 20)
            wakes = recorder
            let r = ExampleRig("hda", bufferFrames: bufferFrames, virtual: false, observer: recorder)
            rig = r
            return r
        } teardown: {
            rig?.finish(benchmarkName)
            rig = nil
            wakes = nil
        }
    }
}
