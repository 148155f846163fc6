import Synchronization
import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine

@Suite struct NotificationAndGlitchTests {
    // Two notifications per cycle (midpoint and end), each at the exact nanosecond its frame elapses.
    @Test func twoNotificationsPerCycleAtExactTimes() throws {
        let f = try EngineFixture(bufferFrames: 480)  // 10 ms at 48 kHz, packets of 5 ms
        f.startEventDrivenClient()
        f.run()
        let start = f.clock.now
        f.advance(seconds: 1)
        let notes = f.notes.withLock { $0 }
        #expect(notes.count == 200)
        #expect(f.stream.notificationCount == 200)
        #expect(f.event.signalCount == 200)
        for (i, n) in notes.enumerated() {
            #expect(n.sequence == UInt64(i + 1))
            #expect(n.frame == UInt64(240 * (i + 1)))
            #expect(n.idealTime == start + UInt64(i + 1) * 5_000_000)
            #expect(n.actualTime == n.idealTime)
        }
        let latency = f.stream.notificationLatency()
        #expect(latency.totalCount == 200 && latency.max == 0)
    }

    @Test func notificationDeadlinesThatAreNotWholeNanoseconds() throws {
        // 44.1 kHz, 441-frame packets: 10 ms exactly; 147-frame packets: 3.3333... ms.
        let format = try StreamFormat(sampleRate: 44_100, channels: 2, sampleFormat: .int16)
        let f = try EngineFixture(format: format, bufferFrames: 294, notificationCount: 2)
        f.startEventDrivenClient()
        f.run()
        let start = f.clock.now
        f.advance(seconds: 0.1)
        let notes = f.notes.withLock { $0 }
        #expect(notes.count == 30)
        for (i, n) in notes.enumerated() {
            let frame = UInt64(147 * (i + 1))
            #expect(n.idealTime == start + PositionMath.nanoseconds(untilFrames: frame, rate: 44_100))
            #expect(n.actualTime == n.idealTime)
        }
    }

    @Test func oneNotificationPerCycle() throws {
        let f = try EngineFixture(bufferFrames: 480, notificationCount: 1)
        f.startEventDrivenClient()
        f.run()
        f.advance(seconds: 0.5)
        #expect(f.stream.notificationCount == 50)
    }

    @Test func registrationFollowsTheDDI() throws {
        let f = try EngineFixture()
        let a = NotificationEvent(), b = NotificationEvent()
        #expect(f.stream.registerNotificationEvent(a) == .success)
        #expect(f.stream.registerNotificationEvent(a) == .invalidParameter)
        #expect(f.stream.registerNotificationEvent(b) == .success)
        f.write(from: 0, to: 1_920)
        f.run()
        f.advance(seconds: 0.02)
        #expect(a.signalCount == 4 && b.signalCount == 4)
        #expect(f.stream.unregisterNotificationEvent(a) == .success)
        #expect(f.stream.unregisterNotificationEvent(a) == .invalidParameter)
        f.advance(seconds: 0.02)
        #expect(a.signalCount == 4 && b.signalCount == 8)
        // A thread can wait on the event too (each wait consumes one signal).
        #expect(b.wait(until: 1))
        let none = try EngineFixture(notificationCount: 0)
        #expect(none.stream.registerNotificationEvent(NotificationEvent()) == .notSupported)
    }

    // The client keeps up: the sink receives exactly what it wrote, across many wrap-arounds, no glitch.
    @Test func keepingUpGivesNoGlitchAndExactBytes() throws {
        let f = try EngineFixture(bufferFrames: 480)
        f.startEventDrivenClient()
        f.run()
        f.advance(seconds: 2)
        #expect(f.stream.glitchCount == 0)
        #expect(f.stream.fifoBytes == 128)
        #expect(f.sink.count == 2 * 192_000 + 128)  // two seconds plus the FIFO the DMA keeps full
        #expect(f.sink.bytes == f.expectedRamp)
        #expect(f.stream.dmaBytesTransferred == UInt64(f.sink.count))
    }

    // The client stops writing: the DMA reads a region not written since its previous cycle.
    @Test func clientThatStopsWritingGlitches() throws {
        let f = try EngineFixture(bufferFrames: 480)
        f.stopWritingAt = 100 * 960  // writes through packet 99, then nothing
        f.startEventDrivenClient()
        f.run()
        f.advance(seconds: 1)
        #expect(f.stream.glitchCount == 1)
        #expect(f.stream.glitches.count == 1)  // still in progress
        f.stop()
        f.advance(seconds: 0.01)  // the engine closes it on its next pass
        let glitch = try #require(f.stream.glitches.first)
        #expect(f.stream.glitches.count == 1)
        #expect(glitch.kind == .underrun)
        #expect(glitch.position == 96_000)
        #expect(glitch.frames == f.stream.glitchFrames)
        // Starved from byte 96 000 to the end of the run (1 s + FIFO = 192 128 bytes).
        #expect(glitch.frames == (192_128 - 96_000) / 4)
        // The DMA (one 128-byte FIFO ahead) passes byte 96 000 at 499.3 ms; the engine's
        // next pass, the 100th notification at exactly 500 ms, is where it starves.
        #expect(glitch.time == 1_000_000 + 500_000_000)
    }

    @Test func aLateClientGlitchesOnceAndRecovers() throws {
        let f = try EngineFixture(bufferFrames: 480)
        f.write(from: 0, to: 1_920)
        f.run()
        f.advance(seconds: 0.0125)  // 600 frames: past the first cycle with nothing new written
        f.write(from: 1_920, to: 40_000)
        f.advance(seconds: 0.1)
        #expect(f.stream.glitchCount == 1)
        f.stop()
        #expect(f.stream.glitches.count == 1)
        #expect(f.stream.glitches[0].position == 1_920)
    }

    @Test func severalStreamsAtDifferentRatesInOneEngine() throws {
        let clock = VirtualClock()
        let memory = PhysicalMemory()
        let port = SimulatedPortWaveRTStream(memory: memory)
        let engine = AudioEngine(timebase: clock)
        var streams: [(EngineStream, NotificationEvent, Int)] = []
        for (rate, frames) in [(44_100, 882), (48_000, 480), (96_000, 1_920), (8_000, 160), (192_000, 1_536)] {
            let format = try StreamFormat(sampleRate: rate, channels: 2, sampleFormat: .int16)
            let mdl = try #require(port.allocatePagesForMdl(highAddress: .max, totalBytes: frames * 4))
            let dma = DMAController(profile: .pcie64SG, memory: memory)
            try dma.program(descriptors: [DMADescriptor](mdl: mdl, port: port, length: frames * 4), buffer: mdl)
            let stream = try EngineStream(configuration: .init(name: "\(rate)", format: format, notificationCount: 2),
                                          dma: dma, timebase: clock, sink: NullSink())
            try engine.add(stream)
            let event = NotificationEvent()
            #expect(stream.registerNotificationEvent(event) == .success)
            for s in [KSState.acquire, .pause, .run] { stream.setState(s) }
            streams.append((stream, event, rate))
        }
        clock.advance(by: 3_000_000_000)
        for (stream, event, rate) in streams {
            #expect(stream.framesElapsed() == UInt64(3 * rate))
            #expect(event.signalCount == UInt64(3 * rate / (stream.bufferFrames / 2)))
            #expect(stream.notificationLatency().max == 0)
            let limit = UInt64(3 * rate * 4 + stream.fifoBytes)
            #expect(stream.dmaBytesTransferred == limit - limit % 64)
        }
    }
}
