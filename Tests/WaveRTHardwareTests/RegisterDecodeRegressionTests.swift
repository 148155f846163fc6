import Testing
import WaveRTEngine
import WaveRTHardware
import WaveRTMemory
import WaveRTTestSupport

/// Found by `wavert fuzz hda`: an MMIO access at an offset near Int.max made
/// the BAR bounds check (`offset + width <= size`) overflow and trap the host.
/// Such an access is now an unknown read or write, counted, as any other.
@Suite struct RegisterDecodeRegressionTests {
    @Test func hdaAccessAtAHugeOffsetIsCountedNotATrap() {
        let clock = VirtualClock()
        let scheduler = Scheduler(timebase: clock)
        let hda = HDAController(memory: PhysicalMemory(), timebase: clock, passGuard: scheduler.passGuard)
        hda.write(offset: Int.max - 1, width: .dword, value: 1)
        #expect(hda.read(offset: Int.max, width: .word) == 0xFFFF)
        #expect(hda.read(offset: Int.min, width: .byte) == 0xFF)
        #expect(hda.faults.unknownWriteCount == 1 && hda.faults.unknownReadCount == 2)
        #expect(hda.faults.summary?.contains("+0x\(String(Int.min, radix: 16))") == true)
    }
}
