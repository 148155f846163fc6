import Synchronization
import Testing
import WaveRTEngine
import WaveRTHardware
import WaveRTTestSupport

/// The PC/AT's two 8237s and their page registers, through port I/O on the
/// bus, as a driver programs them (Intel 8237A datasheet; the AT wiring).
@Suite struct ISADMAControllerTests {
    /// The device on a channel's DREQ line, reporting whatever transfer count the test sets.
    final class FakeDevice: ISADMAController.ISADMAChannelClient, @unchecked Sendable {
        let bytes = Atomic<UInt64>(0)
        func bytesTransferred(channel: Int, at time: UInt64) -> UInt64 { bytes.load(ordering: .acquiring) }
    }

    final class Rig {
        let clock = VirtualClock()
        let bus = IOBus()
        let dma: ISADMAController
        let device = FakeDevice()
        init() {
            dma = ISADMAController(timebase: clock)
            for (block, window) in dma.blocks { try! bus.attach(block, at: window) }
        }
        func out(_ port: UInt16, _ value: UInt8) { bus.writePort(port, width: .byte, value: UInt64(value)) }
        func inb(_ port: UInt16) -> UInt8 { UInt8(bus.readPort(port, width: .byte)) }
    }

    @Test func addressAndCountGoThroughTheFlipFlopLowByteFirst() {
        let rig = Rig()
        rig.out(0x0C, 0)        // clear the flip-flop
        rig.out(0x02, 0x34)     // channel 1 address, low
        rig.out(0x02, 0x12)     //                    high
        rig.out(0x03, 0xFF)     // channel 1 count, low
        rig.out(0x03, 0x0F)     //                  high
        rig.out(0x83, 0x05)     // channel 1 page
        let ch1 = rig.dma.channels[1]
        #expect(ch1.window.base == 0x05_1234 && ch1.window.length == 0x1000)  // count + 1 transfers of one byte
        #expect(ch1.transferBytes == 1 && ch1.wrapBoundary == 64 * 1024)
        rig.out(0x0C, 0)
        #expect(rig.inb(0x02) == 0x34 && rig.inb(0x02) == 0x12)
        #expect(rig.inb(0x03) == 0xFF && rig.inb(0x03) == 0x0F)
        // One flip-flop per controller, toggled by every address and count access:
        // a low-byte read of the address leaves the count's high byte next.
        rig.out(0x0C, 0)
        _ = rig.inb(0x02)
        #expect(rig.inb(0x03) == 0x0F)
        // A write that leaves the flip-flop high is undone by clearing it.
        rig.out(0x0C, 0)
        rig.out(0x02, 0x78)
        rig.out(0x0C, 0)
        rig.out(0x02, 0x9A)  // low byte again
        #expect(ch1.window.base == 0x05_129A)
        #expect(rig.inb(0x83) == 0x05)
        // Master clear resets the flip-flop (and masks every channel).
        rig.out(0x0C, 0)
        rig.out(0x02, 0x11)  // low byte: the flip-flop is now high
        rig.out(0x0D, 0)
        #expect(ch1.isMasked)
        rig.out(0x02, 0x22)  // low byte
        #expect(ch1.window.base == 0x05_1222)
    }

    /// Controller 2 moves words: its address register counts words (A16:A1), the
    /// page register gives A23:A17 and its bit 0 is ignored; counts are words − 1.
    @Test func sixteenBitChannelsCountWordsAndIgnorePageBitZero() {
        let rig = Rig()
        rig.out(0xD8, 0)       // controller 2's flip-flop
        rig.out(0xC4, 0x00)    // channel 5 address (words), low
        rig.out(0xC4, 0x80)    //                            high: word 0x8000 = byte 0x1_0000
        rig.out(0xC6, 0xFF)    // count: 256 words
        rig.out(0xC6, 0x00)
        rig.out(0x8B, 0x03)    // page 3: bit 0 ignored -> 0x02 << 16
        let ch5 = rig.dma.channels[5]
        #expect(ch5.window.base == 0x3_0000 && ch5.window.length == 512)
        #expect(ch5.transferBytes == 2 && ch5.wrapBoundary == 128 * 1024)
        #expect(rig.inb(0x8B) == 0x03)  // the page register itself keeps the bit
        // Odd ports of controller 2 are not decoded.
        rig.out(0xC5, 0x12)
        #expect(rig.dma.errors.count(.undecodedPort) == 1)
        // Controller 1's flip-flop is separate.
        rig.out(0x0C, 0)
        rig.out(0xD8, 0)
        rig.out(0xC4, 0x01)
        #expect(ch5.window.base == 0x3_0002)  // low byte 0x01: word 0x8001
    }

    @Test func masksSingleAllAndClear() {
        let rig = Rig()
        let ch = rig.dma.channels
        #expect((0..<8).allSatisfy { ch[$0].isMasked })  // masked from power-on
        rig.out(0x0A, 0x01)          // clear channel 1's mask
        #expect(!ch[1].isMasked && ch[0].isMasked)
        rig.out(0x0A, 0x04 | 0x01)   // set it
        #expect(ch[1].isMasked)
        rig.out(0xDC, 0)             // controller 2: clear all masks
        #expect((4..<8).allSatisfy { !ch[$0].isMasked } && ch[1].isMasked)
        rig.out(0xDE, 0b0101)        // controller 2: write all masks
        #expect(ch[4].isMasked && !ch[5].isMasked && ch[6].isMasked && !ch[7].isMasked)
        #expect(rig.inb(0xDE) & 0x0F == 0b0101)
        rig.out(0xD4, 0x04 | 0x01)   // single mask, channel 5
        #expect(ch[5].isMasked)
        rig.out(0xDA, 0)             // controller 2 master clear
        #expect((4..<8).allSatisfy { ch[$0].isMasked })
    }

    /// The current registers follow the device's transfers at the instant of the
    /// read; auto-initialise reloads them at terminal count, single-cycle stops
    /// there; the status register reports each new TC once.
    @Test func autoInitialiseReloadsAtTerminalCountAndStatusReportsIt() {
        let rig = Rig()
        let ch1 = rig.dma.channels[1]
        ch1.connect(rig.device)
        rig.out(0x0C, 0)
        rig.out(0x02, 0x00); rig.out(0x02, 0x10)   // base 0x1000
        rig.out(0x03, 99); rig.out(0x03, 0)        // 100 transfers
        rig.out(0x0B, 0x58 | 1)                     // single, auto-init, read from memory, channel 1
        rig.out(0x0A, 0x01)                         // unmask
        #expect(ch1.autoInitialise && ch1.isReadFromMemory && !ch1.isWriteToMemory)
        func current() -> (UInt16, UInt16) {
            rig.out(0x0C, 0)
            let a = UInt16(rig.inb(0x02)) | UInt16(rig.inb(0x02)) << 8
            let c = UInt16(rig.inb(0x03)) | UInt16(rig.inb(0x03)) << 8
            return (a, c)
        }
        #expect(current() == (0x1000, 99))
        rig.device.bytes.store(30, ordering: .releasing)
        #expect(current() == (0x1000 + 30, 99 - 30))
        #expect(rig.inb(0x08) & 0x02 == 0)          // no TC yet
        #expect(rig.inb(0x08) & 0x20 != 0)          // but channel 1 requests
        rig.device.bytes.store(250, ordering: .releasing)  // two laps and a half
        #expect(current() == (0x1000 + 50, 99 - 50))
        #expect(rig.inb(0x08) & 0x02 != 0)          // TC...
        #expect(rig.inb(0x08) & 0x02 == 0)          // ...cleared by the read
        rig.device.bytes.store(300, ordering: .releasing)
        #expect(current() == (0x1000, 99))          // reloaded from the base registers
        #expect(rig.inb(0x08) & 0x02 != 0)
        // Single-cycle: it stops at TC with the count rolled to 0xFFFF.
        rig.out(0x0B, 0x48 | 1)
        rig.device.bytes.store(250, ordering: .releasing)
        #expect(current() == (0x1000 + 100, 0xFFFF))
        // Address decrement (mode bit 5).
        rig.out(0x0B, 0x78 | 1)
        rig.device.bytes.store(30, ordering: .releasing)
        #expect(current() == (0x1000 - 30, 99 - 30))
    }

    /// The address counter is 16 bits: it wraps inside its page instead of
    /// carrying into the page register (64 KiB for bytes, 128 KiB for words).
    @Test func theAddressCounterWrapsInsideItsPage() {
        let rig = Rig()
        let ch5 = rig.dma.channels[5]
        ch5.connect(rig.device)
        rig.out(0xD8, 0)
        rig.out(0xC4, 0xF0); rig.out(0xC4, 0xFF)   // word 0xFFF0
        rig.out(0xC6, 0xFF); rig.out(0xC6, 0x00)   // 256 words
        rig.out(0xD6, 0x58 | 1)
        rig.device.bytes.store(0x20 * 2, ordering: .releasing)  // 0x20 words
        rig.out(0xD8, 0)
        let low = rig.inb(0xC4), high = rig.inb(0xC4)
        #expect(UInt16(high) << 8 | UInt16(low) == 0x0010)
    }

    @Test func modeMistakesAndBadAccessesAreCountedNotFatal() {
        let rig = Rig()
        rig.out(0x0B, 0x40 | 2)       // verify transfer on channel 2: moves no data
        #expect(rig.dma.errors.count(.verifyMode) == 1)
        rig.out(0xD6, 0xC0 | 1)       // cascade on channel 5
        #expect(rig.dma.errors.count(.cascadeTransfer) == 1)
        rig.out(0xD6, 0xC0 | 0)       // cascade on channel 4 is what the AT does
        #expect(rig.dma.errors.count(.cascadeTransfer) == 1)
        #expect(rig.bus.readPort(0x02, width: .word) == 0xFFFF)  // byte registers only
        rig.bus.writePort(0x02, width: .dword, value: 1)
        #expect(rig.dma.faults.badWidthCount == 2)
        #expect(rig.inb(0x300) == 0xFF)  // nothing there: a floating bus
        #expect(rig.bus.unclaimedPortAccesses == 1)
        #expect(rig.dma.errors.descriptions.contains { $0.contains("verify transfers") })
    }
}
