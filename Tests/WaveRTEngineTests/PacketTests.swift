import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine

/// IMiniportWaveRTOutputStream: packets of buffer / NotificationCount bytes.
@Suite struct PacketTests {
    let eos = EngineStream.endOfStreamFlag

    @Test func lateOverrunAndAcceptedPackets() throws {
        let f = try EngineFixture(bufferFrames: 480)  // packets of 240 frames = 960 bytes
        let s = f.stream
        #expect(s.packetBytes == 960)
        // Before RUN: both packets of the buffer may be written, not a third.
        #expect(s.getWritePacket() == 0)
        #expect(s.setWritePacket(packetNumber: 0, flags: 0, eosPacketLength: 0) == .success)
        #expect(s.setWritePacket(packetNumber: 1, flags: 0, eosPacketLength: 0) == .success)
        #expect(s.setWritePacket(packetNumber: 2, flags: 0, eosPacketLength: 0) == .dataOverrun)
        f.run()
        f.clock.advance(by: 1_000_000)  // 48 frames: the DMA is in packet 0
        #expect(s.getPacketCount() == 0)
        #expect(s.getWritePacket() == 1)
        #expect(s.setWritePacket(packetNumber: 0, flags: 0, eosPacketLength: 0) == .dataLateError)
        #expect(s.setWritePacket(packetNumber: 2, flags: 0, eosPacketLength: 0) == .dataOverrun)
        f.clock.advance(by: 4_000_000)  // 5 ms: packet 0 done
        #expect(s.getPacketCount() == 1)
        #expect(s.setWritePacket(packetNumber: 1, flags: 0, eosPacketLength: 0) == .dataLateError)
        #expect(s.setWritePacket(packetNumber: 2, flags: 0, eosPacketLength: 0) == .success)
        #expect(s.setWritePacket(packetNumber: 3, flags: 0x1, eosPacketLength: 0) == .invalidParameter)
        #expect(s.setWritePacket(packetNumber: 3, flags: eos, eosPacketLength: 961) == .invalidParameter)
    }

    @Test func endOfStreamPlaysSilenceAfterItAndRefusesMorePackets() throws {
        let f = try EngineFixture(bufferFrames: 480)
        let s = f.stream
        f.write(from: 0, to: 1_920)  // the ramp in both packets
        #expect(s.setWritePacket(packetNumber: 0, flags: 0, eosPacketLength: 0) == .success)
        #expect(s.setWritePacket(packetNumber: 1, flags: eos, eosPacketLength: 100) == .success)
        #expect(s.endOfStreamPosition == 1_060)
        #expect(s.setWritePacket(packetNumber: 2, flags: 0, eosPacketLength: 0) == .invalidDeviceState)
        f.run()
        f.advance(seconds: 0.1)
        let bytes = f.sink.bytes
        #expect(Array(bytes.prefix(1_060)) == (0..<UInt64(1_060)).map(EngineFixture.ramp))
        #expect(bytes.dropFirst(1_060).allSatisfy { $0 == 0 })
        #expect(s.glitchCount == 0)  // silence after EOS is not a glitch
        // The packet counter keeps moving at the nominal rate after the data ends.
        #expect(s.getPacketCount() == UInt64((4_800 * 4 + 128) / 960))
        f.stop()
        #expect(s.getPacketCount() == 0)
        #expect(s.endOfStreamPosition == nil)
        #expect(s.setWritePacket(packetNumber: 0, flags: 0, eosPacketLength: 0) == .success)
    }

    @Test func packetCounterKeepsTheNominalRateDuringUnderflow() throws {
        let f = try EngineFixture(bufferFrames: 480)
        f.run()  // nothing ever written
        var previous: UInt64 = 0
        for step in 1...20 {
            f.clock.advance(by: 50_000_000)
            let count = f.stream.getPacketCount()
            #expect(count == (UInt64(step) * 2_400 * 4 + 128) / 960)
            #expect(count > previous)
            previous = count
        }
        #expect(f.stream.glitchCount == 1)
    }

    @Test func presentationPosition() throws {
        let f = try EngineFixture(bufferFrames: 480, codecDelay: 5_000)  // 0.5 ms = 24 frames
        f.run()
        f.clock.advance(by: 10_000_000)
        let p = f.stream.getOutputStreamPresentationPosition()
        #expect(p.positionInBlocks == 480 - 24)
        #expect(p.qpcPosition == f.clock.now / 100)
    }
}
