import Testing
import WaveRTDMA
import WaveRTEngine
import WaveRTHardware
import WaveRTMemory
import WaveRTTestSupport

/// HD Audio register semantics from the Intel datasheets, driven the way a
/// driver drives them, on the virtual clock.
@Suite struct HDAControllerTests {
    /// A controller on a virtual clock with a buffer and a BDL in emulated memory.
    final class Rig {
        let clock = VirtualClock()
        let memory = PhysicalMemory()
        let scheduler: Scheduler
        let hda: HDAController
        let sink = GrowingSink()
        let buffer: MDL
        let bdl: MDL

        init(bufferBytes: Int = 3840, entries: Int = 2, ioc: [Bool] = [true, true], format: HDAStreamFormat = .encode(sampleRate: 48_000, bitsPerSample: 16, channels: 2)!) {
            scheduler = Scheduler(timebase: clock)
            hda = HDAController(memory: memory, timebase: clock, passGuard: scheduler.passGuard, makeSink: { [sink] _ in sink })
            scheduler.add(hda)
            buffer = memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: bufferBytes)!
            bdl = memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 4096)!
            // A recognisable pattern in the buffer.
            let bytes = (0..<bufferBytes).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
            var offset = 0
            for page in buffer.pageFrameNumbers {
                let n = min(4096, bufferBytes - offset)
                guard n > 0 else { break }
                memory.writePhysical(at: PhysicalAddress(page * 4096), bytes: Array(bytes[offset..<(offset + n)]))
                offset += n
            }
            // BDL: `entries` equal entries (the buffer is one page here unless larger).
            var list: [UInt8] = []
            let length = bufferBytes / entries
            for i in 0..<entries {
                let address = physical(i * length)
                list += withUnsafeBytes(of: address.littleEndian) { Array($0) }
                list += withUnsafeBytes(of: UInt32(length).littleEndian) { Array($0) }
                list += withUnsafeBytes(of: UInt32(ioc[i] ? 1 : 0).littleEndian) { Array($0) }
            }
            memory.writePhysical(at: PhysicalAddress(bdl.pageFrameNumbers[0] * 4096), bytes: list)
            // Out of reset.
            w32(HDARegister.gctl, 1)
            let sd = output
            w32(sd + HDARegister.sdCBL, UInt32(bufferBytes))
            w16(sd + HDARegister.sdLVI, UInt16(entries - 1))
            w16(sd + HDARegister.sdFMT, format.raw)
            w32(sd + HDARegister.sdBDPL, UInt32(bdl.pageFrameNumbers[0] * 4096))
            w32(sd + HDARegister.sdBDPU, 0)
            w32(HDARegister.intctl, HDARegister.intctlGIE | 1 << 4)
        }

        func physical(_ offset: Int) -> UInt64 { buffer.pageFrameNumbers[offset / 4096] * 4096 + UInt64(offset % 4096) }
        /// The first output descriptor (after 4 inputs).
        var output: Int { HDARegister.streamBase + 4 * HDARegister.streamStride }
        func r32(_ o: Int) -> UInt32 { UInt32(hda.read(offset: o, width: .dword)) }
        func r16(_ o: Int) -> UInt16 { UInt16(hda.read(offset: o, width: .word)) }
        func r8(_ o: Int) -> UInt8 { UInt8(hda.read(offset: o, width: .byte)) }
        func w32(_ o: Int, _ v: UInt32) { hda.write(offset: o, width: .dword, value: UInt64(v)) }
        func w16(_ o: Int, _ v: UInt16) { hda.write(offset: o, width: .word, value: UInt64(v)) }
        func w8(_ o: Int, _ v: UInt8) { hda.write(offset: o, width: .byte, value: UInt64(v)) }
        func run(_ tag: UInt32 = 1) { w32(output, HDARegister.ctlRUN | HDARegister.ctlIOCE | tag << 20) }
    }

    @Test func globalRegistersReadAsTheDatasheetSays() {
        let rig = Rig()
        #expect(rig.r16(HDARegister.gcap) == 0x4400)  // 4 out, 4 in, 0 bidirectional, no 64OK (32-bit profile)
        #expect(rig.r8(HDARegister.vmaj) == 1 && rig.r8(HDARegister.vmin) == 0)
        #expect(rig.r32(HDARegister.gctl) & 1 == 1)
        // CRST = 0: the controller is in reset, the wall clock stops, writes are ignored.
        rig.w32(HDARegister.gctl, 0)
        #expect(rig.r32(HDARegister.gctl) & 1 == 0)
        #expect(rig.r32(HDARegister.walclk) == 0)
        rig.w32(HDARegister.intctl, 0x8000_0001)
        #expect(rig.r32(HDARegister.intctl) == 0)
        #expect(rig.hda.errors.count(.writeInControllerReset) == 1)
    }

    @Test func wallClockCounts24MHzFromLeavingResetAndWraps() {
        let rig = Rig()
        let start = rig.clock.now
        rig.clock.advance(by: TestTime.us(1000))
        #expect(rig.r32(HDARegister.walclk) == 24_000)
        #expect(rig.r32(HDARegister.aliasPage + HDARegister.walclk) == 24_000)
        // 2^32 ticks at 24 MHz = 178.956970666 s: after that it wraps to 0.
        rig.clock.advance(to: start + 178_956_970_667)
        #expect(rig.r32(HDARegister.walclk) < 24)
    }

    @Test func streamResetHandshakeReadsBackAndClearsEveryRegister() {
        let rig = Rig()
        let sd = rig.output
        rig.w8(sd, UInt8(HDARegister.ctlSRST))
        #expect(rig.r8(sd) & 1 == 1)  // SRST reads 1 at once
        #expect(rig.r32(sd + HDARegister.sdCBL) == 0 && rig.r16(sd + HDARegister.sdLVI) == 0 && rig.r32(sd + HDARegister.sdBDPL) == 0)
        rig.w8(sd, 0)
        #expect(rig.r8(sd) & 1 == 0)
    }

    @Test func runMovesTheBufferIntoTheSinkAndRaisesIOCAtTheFetchOfEachEntryEnd() throws {
        let rig = Rig()
        let sd = rig.output
        rig.run()
        #expect(rig.r8(sd) & UInt8(HDARegister.ctlRUN) != 0)
        #expect(rig.r8(sd + 3) & HDARegister.stsFIFORDY != 0)
        // Entry 0 ends at byte 1920; the FIFO is 192 bytes (FIFOS 0xBF), fetched in 128-byte bursts:
        // fetch = floor((LPIB + 192) / 128) * 128 reaches 1920 when LPIB = 1728 = frame 432, at 432/48000 s.
        #expect(rig.r16(sd + HDARegister.sdFIFOS) == 0xBF)
        let ioc = PositionMath.nanoseconds(untilFrames: 432, rate: 48_000)
        rig.clock.advance(to: ioc - 1)
        #expect(rig.r8(sd + 3) & HDARegister.stsBCIS == 0)
        #expect(!rig.hda.interruptLine.isAsserted)
        rig.clock.advance(to: ioc)
        #expect(rig.r8(sd + 3) & HDARegister.stsBCIS != 0)
        #expect(rig.hda.interruptLine.isAsserted)
        #expect(rig.r32(HDARegister.intsts) == HDARegister.intstsGIS | 1 << 4)
        #expect(rig.r32(sd + HDARegister.sdLPIB) == 1728)
        // The line stays asserted until the ISR writes 1 to BCIS (level-triggered).
        rig.clock.advance(by: TestTime.us(100))
        #expect(rig.hda.interruptLine.isAsserted)
        rig.w8(sd + 3, HDARegister.stsBCIS)
        #expect(!rig.hda.interruptLine.isAsserted)
        #expect(rig.r8(sd + 3) & HDARegister.stsBCIS == 0)
        // Two laps later: LPIB wraps at CBL, and the sink got the buffer twice, byte for byte.
        rig.clock.advance(to: PositionMath.nanoseconds(untilFrames: 2 * 960 + 100, rate: 48_000))
        #expect(rig.r32(sd + HDARegister.sdLPIB) == 400)
        let expected = (0..<3840).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let got = rig.sink.bytes
        #expect(got.count >= 2 * 3840)
        #expect(Array(got.prefix(3840)) == expected)
        #expect(Array(got[3840..<7680]) == expected)
        #expect(rig.sink.formats == [try StreamFormat(sampleRate: 48_000, channels: 2, sampleFormat: .int16)])
    }

    @Test func lpibReadBetweenEventsShowsTheInstantNotTheLastPass() {
        let rig = Rig()
        rig.run()
        rig.clock.advance(by: TestTime.us(1))
        let before = rig.scheduler.passCount
        // No event between 1 µs and 3 ms except the IOC at 9.33 ms: reading at 3 ms computes the position.
        rig.clock.advance(to: 3_000_000)
        #expect(rig.scheduler.passCount == before + 0 || rig.scheduler.passCount == before + 1)
        #expect(rig.r32(rig.output + HDARegister.sdLPIB) == 144 * 4)
        #expect(rig.r32(HDARegister.aliasPage + 0x84 + 0x20 * 4) == 144 * 4)
    }

    @Test func clearingRunStopsAtTheNextFrameAndKeepsLPIBForTheResume() {
        let rig = Rig()
        let sd = rig.output
        rig.run()
        rig.clock.advance(to: 1_010_000)  // 48.48 frames
        rig.w8(sd, UInt8(HDARegister.ctlIOCE))  // RUN = 0
        // RUN reads 1 until the engine stops at the end of frame 48 (1.020833 ms).
        #expect(rig.r8(sd) & UInt8(HDARegister.ctlRUN) != 0)
        rig.clock.advance(to: 1_020_834)
        #expect(rig.r8(sd) & UInt8(HDARegister.ctlRUN) == 0)
        #expect(rig.r32(sd + HDARegister.sdLPIB) == 48 * 4)
        rig.clock.advance(by: TestTime.ms(5))
        #expect(rig.r32(sd + HDARegister.sdLPIB) == 48 * 4)
        rig.run()
        rig.clock.advance(by: PositionMath.nanoseconds(untilFrames: 10, rate: 48_000))
        #expect(rig.r32(sd + HDARegister.sdLPIB) == 58 * 4)
    }

    @Test func statusIsWriteOneToClearInsideADwordControlWrite() {
        let rig = Rig()
        let sd = rig.output
        rig.run()
        rig.clock.advance(to: 10_000_000)
        #expect(rig.r8(sd + 3) & HDARegister.stsBCIS != 0)
        // A dword write of CTL with 0 in the STS byte leaves BCIS alone...
        rig.w32(sd, rig.r32(sd) & 0x00FF_FFFF)
        #expect(rig.r8(sd + 3) & HDARegister.stsBCIS != 0)
        // ...and with BCIS set in it clears it.
        rig.w32(sd, (rig.r32(sd) & 0x00FF_FFFF) | UInt32(HDARegister.stsBCIS) << 24)
        #expect(rig.r8(sd + 3) & HDARegister.stsBCIS == 0)
    }

    @Test func interruptEnablesGateTheLineButNotTheStatus() {
        let rig = Rig()
        let sd = rig.output
        rig.w32(HDARegister.intctl, 0)  // GIE off
        rig.run()
        rig.clock.advance(to: 10_000_000)
        #expect(rig.r8(sd + 3) & HDARegister.stsBCIS != 0)
        #expect(!rig.hda.interruptLine.isAsserted)
        rig.w32(HDARegister.intctl, HDARegister.intctlGIE | 1 << 4)
        #expect(rig.hda.interruptLine.isAsserted)
    }

    @Test func aBDLWithOneEntryOrOutsideRAMIsADescriptorError() {
        let rig = Rig()
        let sd = rig.output
        rig.w16(sd + HDARegister.sdLVI, 0)
        rig.w32(sd, HDARegister.ctlRUN | HDARegister.ctlDEIE | 1 << 20)
        #expect(rig.r8(sd + 3) & HDARegister.stsDESE != 0)
        #expect(rig.r8(sd) & UInt8(HDARegister.ctlRUN) == 0)
        #expect(rig.hda.errors.count(.lviBelowOne) == 1)
        #expect(rig.hda.interruptLine.isAsserted)  // DEIE · DESE, SIE and GIE set
        rig.w8(sd + 3, HDARegister.stsDESE)
        rig.w16(sd + HDARegister.sdLVI, 1)
        rig.w32(sd + HDARegister.sdBDPL, 0xC000_0000)  // the PCI hole
        rig.run()
        #expect(rig.hda.errors.count(.bdlNotFetchable) == 1)
        #expect(rig.r8(sd + 3) & HDARegister.stsDESE != 0)
    }

    @Test func wrongFormatIsHeardAtTheRateFMTSays() throws {
        let fmt = HDAStreamFormat.encode(sampleRate: 44_100, bitsPerSample: 16, channels: 2)!
        let rig = Rig(format: fmt)
        rig.run()
        rig.clock.advance(to: 1_000_000_000)
        #expect(rig.sink.formats.first?.sampleRate == 44_100)
        #expect(DMAStream.linkBytes(rig.hda.descriptors[4].dma.currentTiming(), at: rig.clock.now) == 44_100 * 4)
    }

    @Test func unknownOffsetsAndBadWidthsAreCountedNotFatal() {
        let rig = Rig()
        #expect(rig.hda.read(offset: 0x3FFC, width: .dword) == 0xFFFF_FFFF)
        #expect(rig.hda.read(offset: 0x81, width: .dword) == 0xFFFF_FFFF)  // unaligned
        #expect(rig.hda.read(offset: 0x80, width: .qword) == UInt64.max)
        rig.hda.write(offset: 0x5000, width: .dword, value: 1)
        #expect(rig.hda.faults.unknownReadCount == 1 && rig.hda.faults.badWidthCount == 2 && rig.hda.faults.unknownWriteCount == 1)
    }
}
