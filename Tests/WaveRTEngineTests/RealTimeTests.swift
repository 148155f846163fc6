import Synchronization
import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine

/// The same engine on the monotonic clock. Real time is measured, not timed:
/// assertions are on counts, on the stream tracking the clock, and on ratios to
/// this machine's own timer latency measured in the same run.
@Suite(.serialized) struct RealTimeTests {
    @Test func aShortRealTimeRunTracksTheClock() throws {
        let baseline = TimerBaseline.measure(duration: 300_000_000, period: 5_000_000)

        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: 1_920))
        let dma = DMAController(profile: .pcie64SG, memory: memory)
        try dma.program(descriptors: [DMADescriptor](mdl: mdl, port: port, length: 1_920), buffer: mdl)
        let engine = AudioEngine()
        let sink = NullSink()
        let stream = try EngineStream(configuration: .init(format: .cd48k, notificationCount: 2),
                                      dma: dma, timebase: engine.timebase, sink: sink)
        try engine.add(stream)
        let event = NotificationEvent()
        #expect(stream.registerNotificationEvent(event) == .success)
        for s in [KSState.acquire, .pause, .run] { stream.setState(s) }
        let start = engine.timebase.now
        // A client thread waiting on the event, as the audio engine's would.
        let woken = Atomic<Int>(0)
        for _ in 0..<100 {
            if event.wait(until: MonotonicTimebase.shared.now + 1_000_000_000) { woken.add(1, ordering: .relaxed) }
        }
        let elapsed = engine.timebase.now - start
        let frames = stream.framesElapsed()
        for s in [KSState.pause, .acquire, .stop] { stream.setState(s) }
        engine.remove(stream)
        engine.shutdown()

        #expect(woken.load(ordering: .relaxed) == 100)
        // Positions come from the clock: between two reads bracketing the run.
        #expect(frames >= PositionMath.frames(inNanoseconds: elapsed, rate: 48_000) - 48 * 50)
        let expected = Int(elapsed / 5_000_000)
        #expect(abs(Int(stream.notificationCount) - expected) <= 2, "fired \(stream.notificationCount), expected \(expected)")
        #expect(sink.bytesConsumed >= UInt64(expected) * 960)

        let latency = stream.notificationLatency()
        let status = try #require(engine.realTimeStatus)
        print("""
            real-time run: \(stream.notificationCount) notifications in \(Double(elapsed) / 1e9) s, \
            SCHED_FIFO \(status.fifoPriority.map(String.init) ?? "refused (errno \(status.fifoError))"), \
            timer slack set: \(status.timerSlackSet)
            notification latency p50 \(latency.valueAtPercentile(50) / 1000) us, p99 \(latency.valueAtPercentile(99) / 1000) us, max \(latency.max / 1000) us
            timer baseline       p50 \(baseline.valueAtPercentile(50) / 1000) us, p99 \(baseline.valueAtPercentile(99) / 1000) us, max \(baseline.max / 1000) us
            """)
        // Generous: the engine's wake-ups may cost some work on top of the bare timer,
        // but not an order of magnitude (floors of 20/100 us keep near-zero baselines meaningful).
        #expect(Double(latency.valueAtPercentile(50)) <= 10 * Double(max(baseline.valueAtPercentile(50), 20_000)))
        #expect(Double(latency.valueAtPercentile(99)) <= 10 * Double(max(baseline.valueAtPercentile(99), 100_000)))
    }
}
