import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine

/// Position exactness, the Windows position rules, the three faces of the position.
@Suite struct PositionTests {
    @Test func positionMathIsExactAndDoesNotOverflow() {
        // 24 hours at 44.1 kHz.
        let day: UInt64 = 86_400 * 1_000_000_000
        #expect(PositionMath.frames(inNanoseconds: day, rate: 44_100) == 86_400 * 44_100)
        // floor(t × rate) at awkward instants.
        for t: UInt64 in [1, 22_675, 22_676, 999_999_999, 1_000_000_001, day - 1] {
            let exact = (t * 44_100) / 1_000_000_000  // fits: t × 44100 < 2^64 for these t
            #expect(PositionMath.frames(inNanoseconds: t, rate: 44_100) == exact)
        }
        // Ten years at 768 kHz: the 64-bit product would have overflowed after 6.6 hours.
        let tenYears: UInt64 = 3_652 * 86_400 * 1_000_000_000 + 12 * 3_600 * 1_000_000_000
        #expect(PositionMath.frames(inNanoseconds: tenYears, rate: 768_000) == 315_576_000 * 768_000)
        // The inverse: the first nanosecond at which a frame has elapsed.
        for f: UInt64 in [1, 2, 44_099, 44_100, 315_576_000 * 768_000] {
            for rate: UInt64 in [44_100, 48_000, 768_000] {
                let t = PositionMath.nanoseconds(untilFrames: f, rate: rate)
                #expect(PositionMath.frames(inNanoseconds: t, rate: rate) == f)
                #expect(PositionMath.frames(inNanoseconds: t - 1, rate: rate) == f - 1)
            }
        }
    }

    @Test func twentyFourHoursOfVirtualTimeGivesExactlyFloorOfTTimesRate() throws {
        let format = try StreamFormat(sampleRate: 44_100, channels: 2, sampleFormat: .int16)
        let f = try EngineFixture(format: format, bufferFrames: 441, notificationCount: 0)
        f.engine.remove(f.stream)  // positions need only the clock; skip a day of DMA traffic
        f.run()
        let start = f.clock.now
        for step: UInt64 in [1, 22_675, 3_600_000_000_000, 86_400_000_000_000 - 3_600_000_022_676] {
            f.clock.advance(by: step)
            let t = f.clock.now - start
            #expect(f.stream.framesElapsed() == PositionMath.frames(inNanoseconds: t, rate: 44_100))
        }
        #expect(f.clock.now - start == 86_400_000_000_000)
        #expect(f.stream.framesElapsed() == 86_400 * 44_100)
    }

    @Test func tenYearsAt768kHzThroughAStream() throws {
        let format = try StreamFormat(sampleRate: 768_000, channels: 2, sampleFormat: .int32)
        let f = try EngineFixture(format: format, bufferFrames: 7_680, notificationCount: 0)
        f.engine.remove(f.stream)
        f.run()
        f.clock.advance(by: 315_576_000 * 1_000_000_000)
        #expect(f.stream.framesElapsed() == 315_576_000 * 768_000)
        let bytes = UInt64(315_576_000) * 768_000 * 8
        #expect(f.stream.readPositionRegister() == (bytes - bytes % 64) % UInt64(f.stream.bufferBytes))
    }

    // wavetest: in STOP the position is 0; in PAUSE it is constant; RUN resumes where it stopped.
    @Test func stopPauseRunRules() throws {
        let f = try EngineFixture()
        f.startEventDrivenClient()
        #expect(f.stream.setState(.run) == .invalidDeviceState)  // STOP -> RUN skips two states
        #expect(f.stream.setState(.pause) == .invalidDeviceState)
        f.run()
        f.advance(seconds: 0.1)
        #expect(f.stream.framesElapsed() == 4_800)
        #expect(f.stream.setState(.pause) == .success)
        let frozen = f.stream.readPositionRegister()
        f.advance(seconds: 0.05)
        #expect(f.stream.framesElapsed() == 4_800)
        #expect(f.stream.readPositionRegister() == frozen)
        #expect(f.stream.setState(.acquire) == .success)
        f.advance(seconds: 0.05)
        #expect(f.stream.framesElapsed() == 4_800)
        #expect(f.stream.setState(.pause) == .success)
        #expect(f.stream.setState(.run) == .success)
        f.advance(seconds: 0.1)
        #expect(f.stream.framesElapsed() == 9_600)
        #expect(f.stream.readPositionRegister() == UInt64(9_600 * 4 % 1_920))
        f.stop()
        #expect(f.stream.framesElapsed() == 0)
        #expect(f.stream.readPositionRegister() == 0)
        #expect(f.stream.getPosition() == AudioPosition(playOffset: 0, writeOffset: 0))
        #expect(f.stream.getPacketCount() == 0)
        #expect(f.stream.positionWordValue == 0)
        f.advance(seconds: 0.1)
        #expect(f.stream.framesElapsed() == 0)
    }

    @Test func registerWordAndGetPosition() throws {
        // HD Audio: 128-byte bursts, 64-frame FIFO; a codec delay of 1 ms.
        let f = try EngineFixture(bufferFrames: 960, profile: .hda, codecDelay: 10_000)
        f.startEventDrivenClient()
        f.run()
        #expect(f.stream.positionRegisterAccuracy == 128)
        #expect(f.stream.hardwareLatency == HardwareLatency(fifoSize: 256, chipsetDelay: 0, codecDelay: 10_000))
        f.clock.advance(by: 12_345_678)  // 592.59 frames: not a burst or frame boundary
        let frames = f.stream.framesElapsed()
        #expect(frames == 592)
        #expect(f.stream.readPositionRegister() == UInt64((592 * 4) / 128 * 128))
        // The word is what the engine stored at its last wake-up (a deadline at or before now).
        #expect(f.stream.positionWordValue <= f.stream.readPositionRegister())
        #expect(f.stream.positionWordValue % 128 == 0)
        let position = f.stream.getPosition()
        #expect(position.playOffset == UInt64((592 - 48) * 4))       // 1 ms of codec delay = 48 frames
        #expect(position.writeOffset == f.stream.dmaBytesTransferred % 3_840)
        #expect(f.stream.dmaBytesTransferred <= 592 * 4 + 256)         // never more than one FIFO ahead
        #expect(f.stream.dmaBytesTransferred >= 592 * 4)
        let register = f.stream.positionRegister
        #expect(register.width == 32 && register.accuracy == 128)
        #expect(register.register.load(as: UInt64.self) == f.stream.positionWordValue)
    }
}
