import Testing
import WaveRTEngine
import WaveRTHardware
import WaveRTMemory
import WaveRTTestSupport

/// Found by `wavert fuzz isa` (it ran out of file descriptors after about a
/// thousand machines): each 8237 channel held its device strongly and the
/// SB16 holds the 8237, so an ISA machine's SB16, 8237 and physical memory
/// (a memfd and its mapping) were never freed. The channel now holds the
/// device unretained, and the device unwires itself when it goes.
@Suite struct SB16TeardownRegressionTests {
    @Test func anISAMachineIsFreedWithItsMemory() {
        weak var sb: SoundBlaster16?
        weak var memory: PhysicalMemory?
        weak var isa: ISADMAController?
        do {
            let clock = VirtualClock()
            let scheduler = Scheduler(timebase: clock)
            let m = PhysicalMemory()
            let dma = ISADMAController(timebase: clock)
            let device = SoundBlaster16(memory: m, timebase: clock, passGuard: scheduler.passGuard, isa: dma)
            scheduler.add(device)
            scheduler.shutdown()
            (sb, memory, isa) = (device, m, dma)
            #expect(sb != nil && memory != nil && isa != nil)
        }
        #expect(sb == nil, "the SB16 outlived its machine")
        #expect(memory == nil, "the ISA machine's physical memory was never freed")
        #expect(isa == nil)
    }
}
