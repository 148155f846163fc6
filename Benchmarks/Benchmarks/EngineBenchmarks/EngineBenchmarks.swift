// Benchmarks of the cyclic buffer engine: virtual-clock throughput, position
// register reads, and the engine thread's CPU in real time. See ../../README.md
// for what each measures and its goal.
import Benchmark
import Glibc
import WaveRT

// MARK: Rig: streams with an event-driven client

let bufferFrames = 480  // 10 ms at 48 kHz
let streamFormat = StreamFormat.cd48k  // 48 kHz, 16-bit, stereo: 192,000 B/s

@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// An event-driven client: at each notification (runs on the engine thread, or
/// inside `VirtualClock.advance`) it writes the next packet through the mapped
/// buffer and reports it. No allocation, no lock.
final class PacketClient: @unchecked Sendable {
    let buffer: UnsafeMutableRawPointer
    let bufferBytes: UInt64
    let packetBytes: UInt64
    /// Linear bytes written since STOP. Touched by the notifying thread only once running.
    private(set) var written: UInt64 = 0
    unowned(unsafe) let stream: EngineStream

    init(stream: EngineStream, buffer: UnsafeMutableRawPointer) {
        self.stream = stream
        self.buffer = buffer
        bufferBytes = UInt64(stream.bufferBytes)
        packetBytes = UInt64(stream.packetBytes)
    }

    /// Writes `bytes` at the current linear position (never crossing the end of
    /// the buffer: packets divide it) and reports the new position.
    @inline(__always)
    func write(_ bytes: UInt64) {
        let offset = Int(written % bufferBytes)
        memset(buffer + offset, Int32(truncatingIfNeeded: written / packetBytes) | 1, Int(bytes))
        written += bytes
        stream.clientDidWrite(upTo: written)
    }

    /// Pre-fills the whole buffer (before RUN) and registers the notification handler.
    func start() {
        write(bufferBytes)
        let event = NotificationEvent(name: "client") { [self] _ in write(packetBytes) }
        let status = stream.registerNotificationEvent(event)
        precondition(status == .success, "registerNotificationEvent: \(status)")
    }
}

/// One engine with `streamCount` 10 ms render streams (.cd48k, two notifications
/// per buffer, NullSink), each over its own MDL, mapping and pcie64-sg controller,
/// each with a ``PacketClient``, all in RUN.
final class EngineRig: @unchecked Sendable {
    let memory = PhysicalMemory()
    let port: SimulatedPortWaveRTStream
    let engine: AudioEngine
    let virtualClock: VirtualClock?
    var streams: [EngineStream] = []
    var clients: [PacketClient] = []
    var sinks: [NullSink] = []
    /// The engine thread's CPU clock (monotonic clock only, once a stream is added).
    var cpuClock: ThreadCPUClock?
    private var buffers: [(MDL, UnsafeMutableRawPointer)] = []

    /// - Parameter clock: a virtual clock, or nil for the monotonic clock (and the real-time engine thread).
    init(streamCount: Int, clock: VirtualClock?) {
        port = SimulatedPortWaveRTStream(memory: memory)
        virtualClock = clock
        engine = clock.map { AudioEngine(timebase: $0) } ?? AudioEngine()
        let bytes = bufferFrames * streamFormat.blockAlign
        for i in 0..<streamCount {
            guard let mdl = port.allocatePagesForMdl(highAddress: .max, totalBytes: bytes),
                  let va = port.mapAllocatedPages(mdl, cacheType: .writeCombined)
            else { fatalError("stream \(i): could not allocate and map the cyclic buffer") }
            buffers.append((mdl, va))
            let dma = DMAController(profile: .pcie64SG, memory: memory)
            do {
                try dma.program(descriptors: [DMADescriptor](mdl: mdl, port: port, length: bytes), buffer: mdl)
                let sink = NullSink()
                let stream = try EngineStream(
                    configuration: .init(name: "stream \(i)", format: streamFormat, notificationCount: 2),
                    dma: dma, timebase: engine.timebase, sink: sink)
                let client = PacketClient(stream: stream, buffer: va)
                client.start()
                try engine.add(stream)
                streams.append(stream)
                clients.append(client)
                sinks.append(sink)
            } catch {
                fatalError("stream \(i): \(error)")
            }
        }
        if let tid = engine.realTimeStatus?.tid { cpuClock = ThreadCPUClock(tid: tid) }
        for stream in streams {
            for state in [KSState.acquire, .pause, .run] {
                let status = stream.setState(state)
                precondition(status == .success, "\(stream.name): setState(\(state)): \(status)")
            }
        }
    }

    /// Fails loudly on any glitch, or if the streams did not actually move their data.
    func check(_ name: String) {
        for (i, stream) in streams.enumerated() {
            if stream.glitchCount != 0 {
                fatalError("\(name): \(stream.name) glitched \(stream.glitchCount) times (\(stream.glitchFrames) frames): \(stream.glitches.prefix(3))")
            }
            let played = stream.framesElapsed() * UInt64(streamFormat.blockAlign)
            let moved = sinks[i].bytesConsumed
            if moved < played || stream.clientLinearPosition < moved {
                fatalError("\(name): \(stream.name): \(played) bytes due, \(moved) through the DMA, client at \(stream.clientLinearPosition)")
            }
        }
    }

    var glitchCount: UInt64 { streams.reduce(0) { $0 + $1.glitchCount } }

    func tearDown() {
        engine.shutdown()
        for stream in streams {
            for state in [KSState.pause, .acquire, .stop] { stream.setState(state) }
            engine.remove(stream)
        }
        for (mdl, va) in buffers {
            port.unmapAllocatedPages(va, mdl: mdl)
            port.freePagesFromMdl(mdl)
        }
        precondition(port.outstanding.isEmpty, "leaked \(port.outstanding)")
    }
}

// MARK: Engine thread CPU time

/// CPU time of one thread of this process, in nanoseconds: the first field of
/// /proc/self/task/TID/schedstat (sum_exec_runtime), which counts every
/// nanosecond the thread ran, not clock ticks.
final class ThreadCPUClock: @unchecked Sendable {
    let tid: Int32
    private let path: [CChar]

    init(tid: Int32) {
        self.tid = tid
        path = Array("/proc/self/task/\(tid)/schedstat".utf8CString)
        _ = read()  // fail now, not mid-measurement, if the file is missing
    }

    /// Reads the counter without allocating (the path is built up front, the
    /// text buffer is on the stack), so it does not disturb mallocCountTotal.
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

// MARK: Benchmarks

let realTimeFactor = BenchmarkMetric.custom("x real time (all streams)", polarity: .prefersLarger, useScalingFactor: false)
let cpuPerStream = BenchmarkMetric.custom("engine CPU per stream (ppm of a core)", polarity: .prefersSmaller, useScalingFactor: false)
let cpuTotal = BenchmarkMetric.custom("engine CPU total (ppm of a core)", polarity: .prefersSmaller, useScalingFactor: false)
let passesPerSecond = BenchmarkMetric.custom("engine passes per s", polarity: .prefersSmaller, useScalingFactor: false)
let glitches = BenchmarkMetric.custom("glitches", polarity: .prefersSmaller, useScalingFactor: false)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(10),
        maxIterations: 10
    )

    // (a) Virtual-clock throughput: one iteration is `streamTime` of stream time
    //     for every stream of the engine, run through VirtualClock.advance.
    let hour: UInt64 = 3_600_000_000_000
    for (streamCount, streamTime, iterations) in [(1, hour, 10), (8, hour, 5), (64, hour / 6, 5)] {
        let label = streamTime == hour ? "1 hour" : "\(streamTime / 60_000_000_000) min"
        let name = "Virtual-clock throughput, \(streamCount) stream\(streamCount == 1 ? "" : "s"), \(label) 48 kHz 16-bit stereo"
        var rig: EngineRig?
        Benchmark(name, configuration: .init(
            metrics: [.wallClock, .mallocCountTotal, realTimeFactor],
            timeUnits: .milliseconds, units: [realTimeFactor: .count], warmupIterations: 1,
            maxDuration: .seconds(60), maxIterations: iterations)
        ) { (benchmark: Benchmark, rig: EngineRig) in
            let clock = rig.virtualClock!
            let start = monotonicNanoseconds()
            clock.advance(by: streamTime)
            let wall = monotonicNanoseconds() - start
            benchmark.stopMeasurement()
            rig.check(name)
            benchmark.measurement(realTimeFactor, Int(Double(streamTime) * Double(streamCount) / Double(wall)))
        } setup: { () -> EngineRig in
            let r = EngineRig(streamCount: streamCount, clock: VirtualClock(start: 1_000_000))
            rig = r
            return r
        } teardown: {
            rig?.check(name)
            rig?.tearDown()
            rig = nil
        }
    }

    // (b) Position register reads: 1000 calls per iteration (scalingFactor .kilo),
    //     on a stream in RUN with no engine. On the monotonic timebase each read
    //     includes a clock_gettime (vDSO); on a virtual clock, an atomic load.
    for virtual in [false, true] {
        let name = "Position register read" + (virtual ? " (virtual clock)" : "")
        var rig: EngineRig?
        Benchmark(name, configuration: .init(
            metrics: [.wallClock, .throughput, .mallocCountTotal],
            timeUnits: .nanoseconds, warmupIterations: 10, scalingFactor: .kilo,
            maxDuration: .seconds(2), maxIterations: 100_000)
        ) { (benchmark: Benchmark, stream: EngineStream) in
            for _ in benchmark.scaledIterations {
                blackHole(stream.readPositionRegister())
            }
        } setup: { () -> EngineStream in
            // A stream that is never added to an engine: reads need none.
            let clock: VirtualClock? = virtual ? VirtualClock(start: 1_000_000) : nil
            let r = EngineRig(streamCount: 0, clock: clock)
            let bytes = bufferFrames * streamFormat.blockAlign
            guard let mdl = r.port.allocatePagesForMdl(highAddress: .max, totalBytes: bytes) else { fatalError("no MDL") }
            let dma = DMAController(profile: .pcie64SG, memory: r.memory)
            let stream: EngineStream
            do {
                try dma.program(descriptors: [DMADescriptor](mdl: mdl, port: r.port, length: bytes), buffer: mdl)
                stream = try EngineStream(configuration: .init(format: streamFormat), dma: dma, timebase: r.engine.timebase,
                                          sink: NullSink())
            } catch {
                fatalError("\(name): \(error)")
            }
            for state in [KSState.acquire, .pause, .run] { stream.setState(state) }
            // Make the register non-trivial on the virtual clock too.
            clock?.advance(by: 1_234_567)
            r.streams = [stream]
            rig = r
            return stream
        } teardown: {
            rig = nil
        }
    }

    // (c) The engine thread's CPU time in real time (monotonic clock, real-time
    //     thread): each iteration sleeps 2 s while the engine serves the streams,
    //     and reads the thread's CPU time from /proc/self/task/TID/schedstat.
    //     Wall clock is just the 2 s; the custom metrics are the result.
    for streamCount in [1, 8] {
        let name = "Engine CPU in real time, \(streamCount) stream\(streamCount == 1 ? "" : "s") 48 kHz 16-bit stereo"
        var rig: EngineRig?
        Benchmark(name, configuration: .init(
            metrics: [.wallClock, .mallocCountTotal, cpuPerStream, cpuTotal, passesPerSecond, glitches],
            timeUnits: .milliseconds,
            units: [cpuPerStream: .count, cpuTotal: .count, passesPerSecond: .count, glitches: .count],
            warmupIterations: 1,
            maxDuration: .seconds(60), maxIterations: 5)
        ) { (benchmark: Benchmark, rig: EngineRig) in
            guard let cpuClock = rig.cpuClock else { fatalError("\(name): no engine thread") }
            let glitchesBefore = rig.glitchCount
            let passesBefore = rig.engine.passCount
            let cpuBefore = cpuClock.read()
            let start = monotonicNanoseconds()
            sleepNanoseconds(2_000_000_000)
            let cpu = cpuClock.read() - cpuBefore
            let wall = monotonicNanoseconds() - start
            let passes = rig.engine.passCount - passesBefore
            benchmark.stopMeasurement()
            let ppm = Double(cpu) * 1e6 / Double(wall)
            benchmark.measurement(cpuTotal, Int(ppm))
            benchmark.measurement(cpuPerStream, Int(ppm / Double(streamCount)))
            benchmark.measurement(passesPerSecond, Int(Double(passes) * 1e9 / Double(wall)))
            benchmark.measurement(glitches, Int(rig.glitchCount - glitchesBefore))
        } setup: { () -> EngineRig in
            let r = EngineRig(streamCount: streamCount, clock: nil)
            if let status = r.engine.realTimeStatus {
                let fifo = status.fifoPriority.map { "SCHED_FIFO \($0)" } ?? "SCHED_OTHER (SCHED_FIFO refused: errno \(status.fifoError))"
                note("\(name): engine thread tid \(status.tid), \(fifo), timer slack \(status.timerSlackSet ? "1 ns" : "not set")")
            }
            rig = r
            return r
        } teardown: {
            if let r = rig {
                let total = r.glitchCount
                if total != 0 { note("\(name): \(total) glitches in real time (client or engine late)") }
                r.tearDown()
            }
            rig = nil
        }
    }
}
