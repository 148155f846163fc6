import Foundation
import Testing
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTHardware
import WaveRTKernel
import WaveRTPort
import WaveRTTestSupport

/// The WaveRT semantics a driver owns, checked on the `hda` example through
/// the port alone (no client): notifications at the exact IOC instants, the
/// position rules of STOP, PAUSE and RUN, packet mode. What the old engine
/// tested of itself now lives in the driver, so it is tested there.
@Suite struct HDAStreamSemanticsTests {
    final class Rig {
        let clock: VirtualClock
        let machine: Machine
        let adapter: Adapter
        let port: WaveRTPort
        let pin: KSPin
        let buffer: KSPin.Buffer
        let event: KEvent
        let format: StreamFormat

        init(format: StreamFormat = .cd48k, requestedBytes: Int = 3840, timebase: (any Timebase)? = nil, clock: VirtualClock = VirtualClock(start: 1_000_000)) throws {
            self.clock = clock
            self.format = format
            machine = Machine(timebase: timebase ?? clock)
            adapter = try Adapter(kind: .hda, machine: machine)
            port = try WaveRTPort(miniport: HDAMiniport(), adapter: adapter)
            pin = try port.createPin(0, dataFormat: KSDataFormat(format)).get()
            buffer = try pin.buffer(requestedSize: requestedBytes, notificationCount: 2).get()
            let (handle, event) = port.createEvent()
            self.event = event
            guard pin.registerNotificationEvent(handle).isSuccess else { throw NTStatus.unsuccessful }
        }

        func close() {
            #expect(pin.close().isClean)
            #expect(port.close().isEmpty)
            adapter.shutdown()
            machine.shutdown()
            #expect(machine.verifier.violations.isEmpty, "\(machine.verifier.violations)")
        }
    }

    /// IOC k is raised when the DMA has fetched packet k's last byte: LPIB plus the
    /// FIFO (FIFOS + 1 = 192 bytes, fetched in 128-byte bursts) reaches 1920 k,
    /// i.e. at frame 480 k − 48. The ISR, the DPC and KeSetEvent follow at that instant.
    @Test func notificationsComeAtTheExactInstantsOfTheIOC() throws {
        let rig = try Rig()
        #expect(rig.buffer.actualSize == 3840)
        #expect(rig.pin.setState(.run) == .success)
        let start = rig.clock.now
        for k: UInt64 in 1...6 {
            let due = start + PositionMath.nanoseconds(untilFrames: 480 * k - 48, rate: 48_000)
            rig.clock.advance(to: due - 1)
            #expect(rig.event.setCount == k - 1, "before IOC \(k)")
            rig.clock.advance(to: due)
            #expect(rig.event.setCount == k, "at IOC \(k)")
        }
        // A KEVENT does not count: six signals, nobody waited, one wait satisfied.
        rig.machine.withCurrent {
            #expect(keWaitForSingleObject(rig.event, timeout: 0) == .success)
            #expect(keWaitForSingleObject(rig.event, timeout: 0) == .timeout)
        }
        // Two a 20 ms buffer (960 frames): 100 in a second, and no more than the IOCs: it never counts.
        rig.clock.advance(to: start + 1_000_000_000)
        #expect(rig.event.setCount == 100)
        #expect(rig.machine.dpcCount == 100 && rig.machine.isrCount == 100)
        rig.close()
    }

    /// 44.1 kHz, 448-frame packets: the instants are not whole nanoseconds, and
    /// the exact formula keeps them from drifting over a minute.
    @Test func notificationInstantsAt44100HzDoNotDrift() throws {
        let format = try StreamFormat(sampleRate: 44_100, channels: 2, sampleFormat: .int16)
        let rig = try Rig(format: format, requestedBytes: 3528)
        #expect(rig.buffer.actualSize == 2 * 1792)  // packets rounded up to 128-byte multiples
        #expect(rig.pin.setState(.run) == .success)
        let start = rig.clock.now
        let k: UInt64 = 5_906  // about a minute of packets
        let due = start + PositionMath.nanoseconds(untilFrames: 448 * k - 48, rate: 44_100)
        rig.clock.advance(to: due - 1)
        #expect(rig.event.setCount == k - 1)
        rig.clock.advance(to: due)
        #expect(rig.event.setCount == k)
        rig.close()
    }

    /// The driver refuses RUN without a buffer: the port stops at PAUSE and says so.
    @Test func runWithoutABufferIsRefusedByTheDriver() throws {
        let machine = Machine(timebase: VirtualClock())
        let adapter = try Adapter(kind: .hda, machine: machine)
        let port = try WaveRTPort(miniport: HDAMiniport(), adapter: adapter)
        let pin = try port.createPin(0, dataFormat: KSDataFormat(.cd48k)).get()
        #expect(try pin.position().get() == KSAudioPosition(playOffset: 0, writeOffset: 0))
        #expect(pin.setState(.run) == .invalidDeviceState)
        #expect(try pin.state().get() == .pause)
        if case .failure(let s) = pin.packetCount() { #expect(s == .notSupported) } else { Issue.record("packets without a buffer") }
        #expect(pin.close().isClean)
        #expect(port.close().isEmpty)
        adapter.shutdown()
        machine.shutdown()
    }

    /// KSAUDIO_POSITION (§4): 0 after NewStream and after STOP; frozen by
    /// RUN→PAUSE; RUN resumes from there; offsets wrap at the buffer size.
    @Test func positionRulesOfStopPauseAndRun() throws {
        let rig = try Rig()
        func play() -> UInt64 { (try? rig.pin.position().get().playOffset) ?? .max }
        #expect(play() == 0)
        #expect(rig.pin.setState(.run) == .success)
        rig.clock.advance(by: 102_000_000)                    // 4896 frames
        #expect(play() == 4896 * 4 % 3840)
        #expect(try rig.pin.position().get().writeOffset == (4896 * 4 + 192) % 3840)
        #expect(rig.pin.setState(.pause) == .success)
        let frozen = play()
        rig.clock.advance(by: 50_000_000)
        #expect(play() == frozen)
        #expect(rig.pin.setState(.acquire) == .success)
        #expect(play() == frozen)
        #expect(rig.pin.setState(.run) == .success)
        rig.clock.advance(by: 10_000_000)                     // 480 frames more
        #expect(play() == (frozen + 1920) % 3840)
        #expect(rig.pin.setState(.stop) == .success)
        #expect(play() == 0)
        rig.clock.advance(by: 20_000_000)
        #expect(play() == 0)
        #expect(rig.pin.setState(.run) == .success)           // from the start of the buffer again
        rig.clock.advance(by: 1_000_000)
        #expect(play() == 48 * 4)
        rig.close()
    }

    /// IMiniportWaveRTOutputStream as the `hda` driver implements it (the WDK's
    /// SetWritePacket rules; the packet count 1-based and reset on STOP; counting
    /// at the nominal rate whether or not the client writes).
    @Test func packetModeRules() throws {
        let rig = try Rig()
        let pin = rig.pin
        #expect(pin.supportsPacketMode)
        // Stopped: packet 0 is next; the buffer holds packets 0 and 1.
        #expect(try pin.packetCount().get() == 0)
        #expect(pin.setWritePacket(0) == .success)
        #expect(pin.setWritePacket(1) == .success)
        #expect(pin.setWritePacket(2) == .dataOverrun)
        #expect(pin.setState(.run) == .success)
        rig.clock.advance(by: 1_000_000)                      // packet 0 transferring
        #expect(try pin.packetCount().get() == 0)
        #expect(pin.setWritePacket(0) == .dataLateError)
        #expect(pin.setWritePacket(2) == .dataOverrun)
        rig.clock.advance(by: 9_000_000)                      // packet 0 fetched: count 1
        #expect(try pin.packetCount().get() == 1)
        #expect(pin.setWritePacket(1) == .dataLateError)
        #expect(pin.setWritePacket(2) == .success)
        #expect(pin.setWritePacket(3) == .dataOverrun)        // packet 1 still occupies the other half
        #expect(pin.setWritePacket(2, flags: 0x1) == .invalidParameter)
        #expect(pin.setWritePacket(2, flags: KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM, eosPacketLength: 1921) == .invalidParameter)
        #expect(pin.setWritePacket(2, flags: KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM, eosPacketLength: 100) == .success)
        #expect(pin.setWritePacket(3) == .invalidDeviceState)  // after end of stream
        // The count keeps the nominal rate without writes: (LPIB + FIFO) / packet.
        let start = rig.clock.now - 10_000_000
        for ms: UInt64 in [100, 250, 500] {
            rig.clock.advance(to: start + ms * 1_000_000)
            let frames = PositionMath.frames(inNanoseconds: ms * 1_000_000, rate: 48_000)
            #expect(try pin.packetCount().get() == UInt32((frames * 4 + 192) / 1920))
            let p = try pin.presentationPosition().get()
            #expect(p.positionInBlocks == frames && p.qpcPosition == rig.clock.now / 100)
        }
        // STOP: back to packet 0, end of stream forgotten.
        #expect(pin.setState(.stop) == .success)
        #expect(try pin.packetCount().get() == 0)
        #expect(pin.setWritePacket(0) == .success)
        rig.close()
    }

    /// The machine on a device timebase: a simulated card whose crystal runs
    /// ±300 ppm off reports its consumption every period, with jitter; the
    /// stream's position follows the card, not the host clock, without drift.
    @Test(arguments: [300.0, -300.0])
    func theStreamFollowsADriftingCard(ppm: Double) throws {
        let host = VirtualClock(start: 1_000_000)
        let device = DeviceTimebase(host: host, nominalRate: 48_000, periodFrames: 480)
        let start = host.now  // the card starts counting when the timebase starts following it
        let rig = try Rig(timebase: device, clock: host)  // (the driver's Init stalls 0.55 ms: the clock moves)
        #expect(rig.pin.setState(.run) == .success)
        let running = device.now
        let cardRate = 48_000 * (1 + ppm * 1e-6)
        var seed: UInt64 = 9
        var consumed: UInt64 = 0
        var worst = 0.0
        for period in 1...(30 * 100) {  // 30 s of card periods
            consumed += 480
            let ideal = Double(consumed) / cardRate * 1e9
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let jitter = Double(Int64(seed >> 45) - (1 << 18)) / Double(1 << 18) * 200_000  // ±200 µs
            host.advance(to: start + UInt64(max(0, ideal + jitter)))
            device.report(framesConsumed: consumed, atHostTime: host.now)
            if period > 10 * 100 {
                // The card's frames now against the stream's (stream time is card frames at the nominal rate).
                let card = Double(host.now - start) / 1e9 * cardRate
                let stream = Double(device.now) * 48_000 / 1e9
                worst = max(worst, abs(stream - card))
            }
        }
        #expect(worst < 4, "worst error \(worst) frames")
        #expect(abs((device.estimatedRateRatio - 1) * 1e6 - ppm) < 20)
        // Notifications kept the card's pace, at their device-time instants: IOC k at frame 480 k − 48 of the stream.
        let streamFrames = PositionMath.frames(inNanoseconds: device.now - running, rate: 48_000)
        #expect(rig.event.setCount == (streamFrames + 48) / 480, "\(rig.event.setCount) events for \(streamFrames) frames")
        let lpib = try rig.pin.position().get().playOffset
        #expect(lpib == streamFrames * 4 % 3840)
        rig.close()
    }
}
