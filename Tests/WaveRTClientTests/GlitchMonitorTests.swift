import Testing
import WaveRTClient
import WaveRTDMA
import WaveRTEngine
import WaveRTHardware
import WaveRTMemory
import WaveRTTestSupport

/// The glitch monitor decides from the device's actual transfers and the
/// client's watermark, sample by sample: on time is never a glitch, one frame
/// late is exactly one glitch of one frame, at the right frame and time.
///
/// The device: a DMA engine over a 1920-byte buffer (480 frames, 48 kHz
/// stereo 16-bit) with no FIFO and 4-byte bursts, so frame n moves at exactly
/// T(n) = start + (n + 1) / 48000 s.
@Suite struct GlitchMonitorTests {
    final class Rig {
        let clock = VirtualClock(start: 1_000_000)
        let memory = PhysicalMemory()
        let scheduler: Scheduler
        let stream: DMAStream
        let monitor: GlitchMonitor
        let start: UInt64
        static let bufferBytes: UInt64 = 1920
        static let packetFrames: UInt64 = 240

        /// Runs the DMA engine's passes (what a device does for its engines).
        final class Engine: TimedWork, @unchecked Sendable {
            let stream: DMAStream
            init(_ stream: DMAStream) { self.stream = stream }
            func nextDeadline() -> UInt64? { stream.nextDeadline() }
            func service(now: UInt64) { stream.service(now: now) }
        }
        let engine: Engine

        init(capture: Bool) {
            scheduler = Scheduler(timebase: clock)
            let mdl = memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 4096)!
            let dma = DMAController(profile: .pcie64SG, memory: memory)
            try! dma.program(descriptors: [DMADescriptor(address: mdl.physicalAddress(ofPage: 0), length: Int(Self.bufferBytes))])
            stream = DMAStream(direction: capture ? .capture : .render, timebase: clock, passGuard: scheduler.passGuard,
                               source: capture ? PatternSource() : nil)
            stream.configure(rate: 48_000, blockAlign: 4, fifoBytes: 0, burstBytes: 4)
            stream.load(DMAStream.Program(dma: dma, schedule: DMAStream.InterruptSchedule(period: Self.bufferBytes, points: [960, 1920])))
            monitor = GlitchMonitor(mdl: mdl, offset: 0, size: Int(Self.bufferBytes), blockAlign: 4, capture: capture)
            stream.observer = monitor
            engine = Engine(stream)
            scheduler.add(engine)
            start = clock.now
        }

        /// When frame `n` moves.
        func T(_ n: UInt64) -> UInt64 { start + PositionMath.nanoseconds(untilFrames: n + 1, rate: 48_000) }

        func publish(_ watermark: UInt64, at time: UInt64) {
            clock.advance(to: time)
            monitor.publish(watermark, at: time)
        }

        func stop(at time: UInt64) {
            clock.advance(to: time)
            stream.stop(at: time)
            clock.advance(by: 1_000_000)
            monitor.finish()
        }
    }

    /// Render: the client pre-fills the buffer, then writes each 240-frame packet
    /// at `lateness` ns after the instant the device fetches the packet's first frame
    /// (the last moment it may: 0 is exactly on time), except packet `latePacket`.
    func render(latePacket: UInt64? = nil, lateness: UInt64 = 1) -> Rig {
        let rig = Rig(capture: false)
        rig.monitor.publish(Rig.bufferBytes, at: rig.start)
        rig.stream.start(at: rig.start)
        for k: UInt64 in 1...40 {  // 40 packets: 20 laps of the buffer
            // Packet k covers frames [480 + 240(k-1), 480 + 240k); the device needs its first at T(240(k+1)).
            let due = rig.T(Rig.packetFrames * (k + 1))
            rig.publish(Rig.bufferBytes + 960 * k, at: due + (k == latePacket ? lateness : 0))
        }
        rig.stop(at: rig.T(Rig.packetFrames * 42 - 120))  // mid-packet, before the client's last write runs out
        return rig
    }

    @Test func aRenderClientExactlyOnTimeHasNoGlitch() {
        let rig = render()
        #expect(rig.monitor.glitchCount == 0, "\(rig.monitor.glitches)")
        #expect(rig.monitor.glitchedFrameCount == 0 && rig.monitor.prematureJudgements == 0)
    }

    @Test func aRenderClientOneNanosecondLateForOneFrameIsExactlyOneGlitchOfOneFrame() throws {
        let rig = render(latePacket: 5)
        #expect(rig.monitor.glitchCount == 1)
        let glitch = try #require(rig.monitor.glitches.first)
        #expect(glitch.kind == .underrun)
        #expect(glitch.frame == 480 + 240 * 4 && glitch.frames == 1)
        #expect(glitch.time == rig.T(1440))
        #expect(rig.monitor.glitchedFrameCount == 1)
    }

    /// Late by the duration of ten frames: ten frames glitch, one glitch.
    @Test func aRenderClientTenFramesLateIsOneGlitchOfTenFrames() throws {
        let rig = render(latePacket: 7, lateness: PositionMath.nanoseconds(untilFrames: 10, rate: 48_000) - 1)
        let glitch = try #require(rig.monitor.glitches.first)
        #expect(rig.monitor.glitchCount == 1)
        #expect(glitch.kind == .underrun && glitch.frame == 1920 && glitch.frames == 10)
    }

    /// Packet mode end of stream: past the announced end the device plays the
    /// driver's silence, which is no glitch; a late frame before it still is one.
    @Test func nothingPastEndOfStreamIsJudged() throws {
        let rig = Rig(capture: false)
        rig.monitor.publish(Rig.bufferBytes, at: rig.start)
        rig.stream.start(at: rig.start)
        rig.publish(Rig.bufferBytes + 960, at: rig.T(480) + 1)  // frame 480 one nanosecond late
        rig.monitor.endOfStream(at: Rig.bufferBytes + 960 - 100)  // the data ends 100 bytes before the watermark
        rig.stop(at: rig.T(3000))  // many laps later, nothing more written
        #expect(rig.monitor.glitchCount == 1)
        let glitch = try #require(rig.monitor.glitches.first)
        #expect(glitch.kind == .underrun && glitch.frame == 480 && glitch.frames == 1)
    }

    /// A client that writes a whole lap early overwrites frames the device has not fetched yet.
    @Test func aRenderClientALapEarlyOverwrites() throws {
        let rig = Rig(capture: false)
        rig.monitor.publish(Rig.bufferBytes, at: rig.start)
        rig.stream.start(at: rig.start)
        // Before frame 100 is fetched, the client has written a lap and 400 bytes ahead of it.
        rig.publish(Rig.bufferBytes + 400 + 400, at: rig.T(99))
        rig.stop(at: rig.T(250))
        let glitch = try #require(rig.monitor.glitches.first)
        #expect(glitch.kind == .overwrite && glitch.frame == 100 && glitch.frames == 100)
    }

    /// Capture, overrun: the client reads each packet (publishing its read
    /// watermark) no later than the device starts writing over it; one frame late once.
    func capture(latePacket: UInt64? = nil) -> Rig {
        let rig = Rig(capture: true)
        rig.monitor.publish(0, at: rig.start)
        rig.stream.start(at: rig.start)
        for k: UInt64 in 1...40 {
            // Read up to 240k frames before frame 480 + 240(k-1) is written over the first of them.
            let due = rig.T(480 + Rig.packetFrames * (k - 1))
            rig.publish(960 * k, at: due + (k == latePacket ? 1 : 0))
        }
        rig.stop(at: rig.T(480 + Rig.packetFrames * 40 - 120))
        return rig
    }

    @Test func aCaptureClientOnTimeHasNoOverrun() {
        let rig = capture()
        #expect(rig.monitor.glitchCount == 0, "\(rig.monitor.glitches)")
    }

    @Test func aCaptureClientOneNanosecondLateOnceIsOneOverrunOfOneFrame() throws {
        let rig = capture(latePacket: 9)
        #expect(rig.monitor.glitchCount == 1)
        let glitch = try #require(rig.monitor.glitches.first)
        #expect(glitch.kind == .overrun && glitch.frame == 480 + 240 * 8 && glitch.frames == 1)
        #expect(glitch.time == rig.T(480 + 240 * 8))
    }

    /// Capture, early read: reading a frame the device has not written yet.
    @Test func aCaptureClientReadingOneFrameEarlyIsOneEarlyRead() throws {
        let rig = Rig(capture: true)
        rig.monitor.publish(0, at: rig.start)
        rig.stream.start(at: rig.start)
        rig.clock.advance(to: rig.T(239))  // frame 239 is written now: the first packet is complete
        #expect(rig.monitor.checkRead(from: 0, to: 960, at: rig.T(239)) == 0)
        rig.monitor.publish(960, at: rig.T(239))
        rig.clock.advance(to: rig.T(479) - 1)
        #expect(rig.monitor.checkRead(from: 960, to: 1920, at: rig.T(479) - 1) == 1)  // frame 479 is not written until T(479)
        rig.stop(at: rig.T(500))
        let early = rig.monitor.glitches.filter { $0.kind == .earlyRead }
        #expect(early.count == 1)
        #expect(early.first?.frame == 479 && early.first?.frames == 1 && early.first?.time == rig.T(479) - 1)
        #expect(rig.monitor.glitchCount == 1)
    }
}
