import Testing
import WaveRTDMA
import WaveRTEngine
import WaveRTHardware
import WaveRTMemory
import WaveRTTestSupport

/// The SB16 DSP driven through its ports and the 8237's channel 5, on the
/// virtual clock: rates, block sizes, auto-initialise, the IRQ at each block
/// end and its acknowledgement (Creative's programming guide; the reference's §2).
@Suite struct SoundBlaster16Tests {
    final class Rig {
        let clock = VirtualClock(start: 1_000_000)
        let memory = PhysicalMemory()
        let scheduler: Scheduler
        let bus = IOBus()
        let dma: ISADMAController
        let sb: SoundBlaster16
        let speaker = GrowingSink()
        let microphone = PatternSource()

        init(faithfulFaults: Bool = false) {
            scheduler = Scheduler(timebase: clock)
            dma = ISADMAController(timebase: clock)
            for (block, window) in dma.blocks { try! bus.attach(block, at: window) }
            sb = SoundBlaster16(memory: memory, timebase: clock, passGuard: scheduler.passGuard, isa: dma,
                                faithfulFaults: faithfulFaults, sink: speaker, source: microphone)
            try! bus.attach(sb, at: .ports(base: SoundBlaster16.basePort, length: sb.size))
            scheduler.add(sb)
        }

        func out(_ port: UInt16, _ value: UInt8) { bus.writePort(port, width: .byte, value: UInt64(value)) }
        func inb(_ port: UInt16) -> UInt8 { UInt8(bus.readPort(port, width: .byte)) }
        func dsp(_ bytes: UInt8...) { for b in bytes { out(0x22C, b) } }
        var irqStatus: UInt8 {
            out(0x224, 0x82)
            return inb(0x225)
        }

        /// Channel 5 over `bytes` at `base` (inside one 128 KiB page), the mode byte given.
        func programChannel5(base: UInt64, bytes: Int, mode: UInt8 = 0x58 | 1) {
            out(0xD4, 0x04 | 1)
            out(0xD8, 0)
            out(0xD6, mode)
            out(0x8B, UInt8(truncatingIfNeeded: base >> 16) & 0xFE)
            let word = (base >> 1) & 0xFFFF, count = bytes / 2 - 1
            out(0xC4, UInt8(truncatingIfNeeded: word)); out(0xC4, UInt8(truncatingIfNeeded: word >> 8))
            out(0xC6, UInt8(truncatingIfNeeded: count)); out(0xC6, UInt8(truncatingIfNeeded: count >> 8))
            out(0xD4, 1)
        }

        /// The 8237's current count of channel 5, in words, read through the flip-flop.
        func currentCount() -> UInt16 {
            out(0xD8, 0)
            let low = inb(0xC6), high = inb(0xC6)
            return UInt16(high) << 8 | UInt16(low)
        }

        /// A buffer of `bytes` at 0x2_0000 filled with the pattern.
        func buffer(_ bytes: Int) -> [UInt8] {
            let pages = UInt64((bytes + 4095) / 4096)
            let mdl = memory.allocateContiguousPages(ddi: "test", lowAddress: 0x2_0000, highAddress: PhysicalAddress(0x2_0000 + pages * 4096 - 1),
                                                     totalBytes: bytes)!
            precondition(mdl.physicalAddress(ofPage: 0) == 0x2_0000)
            let data = PatternSource.bytes(count: bytes)
            memory.writePhysical(at: 0x2_0000, bytes: data)
            return data
        }
    }

    // 44.1 kHz stereo, a block of 441 frames (882 samples, 1764 bytes) = 10 ms; the buffer holds 4 blocks.
    static let blockBytes = 1764
    static let bufferBytes = 4 * blockBytes

    func startPlayback(_ rig: Rig, command: UInt8 = 0xB6) {
        rig.dsp(0x41, 0xAC, 0x44)                  // 44100 Hz
        rig.dsp(command, 0x30, 0x71, 0x03)         // 16-bit, signed stereo, 882 samples - 1 = 0x371
    }

    @Test func resetAnswersAAAndTheVersionIs405() {
        let rig = Rig()
        rig.out(0x226, 1)
        rig.out(0x226, 0)
        #expect(rig.inb(0x22E) & 0x80 != 0)  // data ready
        #expect(rig.inb(0x22A) == 0xAA)
        #expect(rig.inb(0x22E) & 0x80 == 0)
        rig.dsp(0xE1)
        #expect(rig.inb(0x22A) == 4 && rig.inb(0x22A) == 5)
        #expect(rig.inb(0x22C) & 0x80 == 0)  // the write buffer is ready
        rig.out(0x224, 0x80)
        #expect(rig.inb(0x225) == 0x02)      // IRQ 5
        rig.out(0x224, 0x81)
        #expect(rig.inb(0x225) == 0x22)      // DMA 1 and 5
    }

    @Test func anIRQAtEachBlockEndStaysUntilTheStatusPortIsRead() throws {
        let rig = Rig()
        let data = rig.buffer(Self.bufferBytes)
        rig.programChannel5(base: 0x2_0000, bytes: Self.bufferBytes)
        let start = rig.clock.now
        startPlayback(rig)
        #expect(rig.speaker.formats == [try StreamFormat(sampleRate: 44_100, channels: 2, sampleFormat: .int16)])
        let block = PositionMath.nanoseconds(untilFrames: 441, rate: 44_100)
        #expect(block == 10_000_000)
        // The 8237's count follows the DSP at the instant of the read: 5 ms = 220 frames = 440 words.
        rig.clock.advance(to: start + 5_000_000)
        #expect(rig.currentCount() == UInt16(Self.bufferBytes / 2 - 1 - 440))
        rig.clock.advance(to: start + block - 1)
        #expect(!rig.sb.interruptLine.isAsserted)
        rig.clock.advance(to: start + block)
        #expect(rig.sb.interruptLine.isAsserted)
        #expect(rig.irqStatus == 0x02)  // the 16-bit IRQ
        // Level-triggered: it stays up; the 8-bit acknowledge (0x22E) does not drop it...
        rig.clock.advance(by: 1_000_000)
        _ = rig.inb(0x22E)
        #expect(rig.sb.interruptLine.isAsserted)
        // ...reading 0x22F does.
        _ = rig.inb(0x22F)
        #expect(!rig.sb.interruptLine.isAsserted && rig.irqStatus == 0)
        // Auto-initialise: a block end every 10 ms, and the buffer again after each lap.
        var irqs = 1
        for k in 2...8 {
            rig.clock.advance(to: start + UInt64(k) * block - 1)
            #expect(!rig.sb.interruptLine.isAsserted)
            rig.clock.advance(to: start + UInt64(k) * block)
            if rig.sb.interruptLine.isAsserted { irqs += 1 }
            _ = rig.inb(0x22F)
        }
        #expect(irqs == 8)
        #expect(firstDifference(rig.speaker.bytes, data + data) == nil)  // two laps, byte for byte
        // The 8237 reports terminal count once per lap (status bit 1 of controller 2 = channel 5).
        #expect(rig.inb(0xD0) & 0x02 != 0)
        #expect(rig.inb(0xD0) & 0x02 == 0)
        #expect(rig.sb.errors.total == 0, "\(rig.sb.errors.descriptions) \(rig.sb.lastProgramError ?? "")")
    }

    @Test func singleCycleStopsAfterOneBlock() {
        let rig = Rig()
        let data = rig.buffer(Self.bufferBytes)
        rig.programChannel5(base: 0x2_0000, bytes: Self.bufferBytes, mode: 0x48 | 1)
        startPlayback(rig, command: 0xB2)  // 16-bit output, FIFO, no auto-initialise
        rig.clock.advance(by: 50_000_000)
        #expect(rig.sb.interruptLine.isAsserted)
        _ = rig.inb(0x22F)
        rig.clock.advance(by: 50_000_000)
        #expect(!rig.sb.interruptLine.isAsserted)
        #expect(firstDifference(rig.speaker.bytes, Array(data.prefix(Self.blockBytes))) == nil)
    }

    @Test func pauseFreezesTheCountAndContinueResumesFromThere() {
        let rig = Rig()
        _ = rig.buffer(Self.bufferBytes)
        rig.programChannel5(base: 0x2_0000, bytes: Self.bufferBytes)
        let start = rig.clock.now
        startPlayback(rig)
        rig.clock.advance(to: start + 5_000_000)
        rig.dsp(0xD5)                                       // pause at frame 220
        let frozen = rig.currentCount()
        rig.clock.advance(by: 20_000_000)
        #expect(rig.currentCount() == frozen)
        #expect(!rig.sb.interruptLine.isAsserted)           // no block end while paused
        let resumed = rig.clock.now
        rig.dsp(0xD6)
        let due = resumed + PositionMath.nanoseconds(untilFrames: 441 - 220, rate: 44_100)
        rig.clock.advance(to: due - 1)
        #expect(!rig.sb.interruptLine.isAsserted)
        rig.clock.advance(to: due)
        #expect(rig.sb.interruptLine.isAsserted)
    }

    /// 0xD9 leaves auto-initialise: the block in progress is the last.
    @Test func exitAutoInitialiseStopsAtTheEndOfTheCurrentBlock() {
        let rig = Rig()
        let data = rig.buffer(Self.bufferBytes)
        rig.programChannel5(base: 0x2_0000, bytes: Self.bufferBytes)
        let start = rig.clock.now
        startPlayback(rig)
        rig.clock.advance(to: start + 15_000_000)
        _ = rig.inb(0x22F)
        rig.dsp(0xD9)
        rig.clock.advance(to: start + 20_000_000)
        #expect(rig.sb.interruptLine.isAsserted)
        _ = rig.inb(0x22F)
        rig.clock.advance(by: 100_000_000)
        #expect(!rig.sb.interruptLine.isAsserted)
        #expect(firstDifference(rig.speaker.bytes, Array(data.prefix(2 * Self.blockBytes))) == nil)
    }

    /// Recording: the DSP's samples land in memory through the 8237's write transfers, wrapping.
    @Test func recordingWritesTheMicrophoneIntoTheBuffer() {
        let rig = Rig()
        _ = rig.buffer(Self.bufferBytes)
        rig.programChannel5(base: 0x2_0000, bytes: Self.bufferBytes, mode: 0x54 | 1)  // auto-init, write to memory
        let start = rig.clock.now
        rig.dsp(0x42, 0xAC, 0x44)
        rig.dsp(0xBE, 0x30, 0x71, 0x03)  // 16-bit input, auto-initialise
        rig.clock.advance(to: start + 40_000_000)  // one lap
        #expect(firstDifference(rig.memory.readPhysical(at: 0x2_0000, count: Self.bufferBytes), PatternSource.bytes(count: Self.bufferBytes)) == nil)
        #expect(rig.sb.interruptLine.isAsserted)
        rig.clock.advance(to: start + 50_000_000)  // the first block again
        let lap2 = PatternSource.bytes(from: UInt64(Self.bufferBytes), count: Self.blockBytes)
        #expect(firstDifference(rig.memory.readPhysical(at: 0x2_0000, count: Self.blockBytes), lap2) == nil)
        #expect(rig.microphone.formats.first?.sampleRate == 44_100)
        #expect(rig.sb.errors.total == 0)
    }

    /// A window that crosses its 128 KiB page: refused and named; with faithful
    /// faults the silicon's behaviour, the address wrapping to the page's start.
    @Test func aWindowAcrossThe128KiBPageWrapsAsTheSiliconDoes() throws {
        func play(faithful: Bool) throws -> Rig {
            let rig = Rig(faithfulFaults: faithful)
            for (address, byte) in [(0x3_F000 as UInt64, 0xAA as UInt8), (0x2_0000, 0x55), (0x4_0000, 0x77)] {
                _ = try #require(rig.memory.allocateContiguousPages(ddi: "test", lowAddress: PhysicalAddress(address),
                                                                    highAddress: PhysicalAddress(address + 0xFFF), totalBytes: 4096))
                rig.memory.writePhysical(at: PhysicalAddress(address), bytes: [UInt8](repeating: byte, count: 4096))
            }
            rig.programChannel5(base: 0x3_F000, bytes: 8192, mode: 0x48 | 1)
            rig.dsp(0x41, 0x56, 0x22)               // 22050 Hz
            rig.dsp(0xB2, 0x10, 0xFF, 0x0F)         // mono, 4096 samples
            rig.clock.advance(by: 200_000_000)
            return rig
        }
        let strict = try play(faithful: false)
        #expect(strict.sb.errors.count(.programRefused) == 1)
        #expect(strict.sb.lastProgramError?.contains("crosses a 128 KiB boundary") == true)
        #expect(strict.speaker.bytes.isEmpty && !strict.sb.interruptLine.isAsserted)
        let faithful = try play(faithful: true)
        let played = faithful.speaker.bytes
        #expect(played.count == 8192)
        #expect(played.prefix(4096).allSatisfy { $0 == 0xAA })
        #expect(played.suffix(4096).allSatisfy { $0 == 0x55 })  // 0x4_0000 became 0x2_0000
        #expect(faithful.sb.playback.program?.dma.faultRecords.first?.kind == .boundaryWrapped)
    }

    @Test func mistakesAreCountedAndNamed() throws {
        let rig = Rig()
        _ = rig.buffer(Self.bufferBytes)
        rig.programChannel5(base: 0x2_0000, bytes: Self.bufferBytes)  // read from memory
        rig.out(0xD4, 0x04 | 1)                                          // ...but masked
        rig.dsp(0x41, 0xBB, 0x80)                                        // 48000 Hz: above the DSP's 44100
        #expect(rig.sb.errors.count(.rateOutOfRange) == 1 && rig.sb.errors.lastDetail(.rateOutOfRange) == 48_000)
        rig.dsp(0xB6, 0x30, 0x71, 0x03)
        #expect(rig.sb.errors.count(.channelMasked) == 1)
        #expect(rig.speaker.formats.first?.sampleRate == 44_100)         // clamped
        rig.dsp(0xBE, 0x30, 0x71, 0x03)                                  // input on a read-from-memory channel
        #expect(rig.sb.errors.count(.channelDirection) == 1)
        rig.dsp(0xB6, 0x20, 0x71, 0x03)                                  // unsigned 16-bit
        #expect(rig.sb.errors.count(.unsignedSixteenBit) == 1)
        rig.dsp(0xC6, 0x00, 0x10, 0x00)                                  // 8-bit transfer
        #expect(rig.sb.errors.count(.eightBitNotModelled) == 1)
        rig.dsp(0x99)
        #expect(rig.sb.errors.count(.unknownCommand) == 1 && rig.sb.errors.lastDetail(.unknownCommand) == 0x99)
        rig.out(0x22A, 1)
        #expect(rig.sb.errors.count(.readOnlyWrite) == 1)
        #expect(rig.bus.readPort(0x22E, width: .word) == 0xFFFF)
        #expect(rig.sb.faults.badWidthCount == 1)
        #expect(rig.sb.errors.descriptions.contains { $0.hasPrefix("sb16: sample rate outside") })
    }
}
