import WaveRTDMA
import WaveRTEngine
import WaveRTHardware
import WaveRTMemory

/// Random port I/O to the PC/AT's two 8237 DMA controllers (`ISADMAController`:
/// address and count through the flip-flop, page registers, mode, single and
/// all-channel masks, master clear) and the Sound Blaster 16 DSP
/// (`SoundBlaster16`: reset, commands 0x41/0x42 rate, 0xB0–0xCF transfers,
/// 0xD5/0xD6/0xD9, any byte; mixer; interrupt acknowledge), with buffers
/// below 16 MiB, counts that run past the 64/128 KiB page, freed buffers, and
/// the virtual clock moving. Checks: no crash; no copy outside allocated RAM;
/// every refused transfer counted.
public enum ISAFuzzer {
    static let dmaPorts: [UInt16] = Array(0x00...0x0F) + Array(0x81...0x8F) + Array(stride(from: 0xC0, through: 0xDE, by: 2))
    static let sbPorts: [UInt16] = Array(0x220...0x22F)

    public static func iteration(_ random: inout FuzzRandom) -> FuzzOutcome {
        var outcome = FuzzOutcome()
        let guest = GuestMemory(random: &random)
        let clock = VirtualClock(start: 1_000_000)
        let scheduler = Scheduler(timebase: clock)
        defer { scheduler.shutdown() }  // the clock holds the scheduler, which holds the device: let them go
        let bus = IOBus()
        let isa = ISADMAController(timebase: clock)
        for (block, window) in isa.blocks { try! bus.attach(block, at: window) }
        let profile: DMAProfile = random.bool() ? .isa8237_16bit : random.pick(DMAProfile.presets)
        let sb = SoundBlaster16(memory: guest.memory, timebase: clock, passGuard: scheduler.passGuard, isa: isa, profile: profile,
                                faithfulFaults: random.bool())
        try! bus.attach(sb, at: .ports(base: SoundBlaster16.basePort, length: sb.size))
        scheduler.add(sb)
        func out(_ port: UInt16, _ value: Int) { bus.writePort(port, width: .byte, value: UInt64(UInt8(truncatingIfNeeded: value))) }
        func dsp(_ bytes: Int...) { for b in bytes { out(0x22C, b) } }

        for _ in 0..<random.int(20...200) {
            switch random.int(0...9) {
            case 0, 1:  // a channel programmed as a driver would: mask, flip-flop, mode, address, count, page, unmask
                let channel = random.pick([1, 5, random.int(0...7)])
                let wide = channel >= 4
                let base = guest.address(&random, alignment: wide ? 2 : 1)
                let bytes = random.chance(3, in: 4) ? random.int(2...0x2_0000) : Int(random.edgy(bits: 18))
                let (mask, flip, mode, page) = wide ? (0xD4, 0xD8, 0xD6, ISAPorts.page[channel]) : (0x0A, 0x0C, 0x0B, ISAPorts.page[channel])
                let c = channel & 3
                out(UInt16(mask), 4 | c)
                out(UInt16(flip), 0)
                out(UInt16(mode), random.chance(3, in: 4) ? random.pick([0x58, 0x54, 0x48, 0x44, 0x50]) | c : Int(random.next() & 0xFF))
                let word = wide ? (base >> 1) & 0xFFFF : base & 0xFFFF
                let count = wide ? bytes / 2 - 1 : bytes - 1
                let addressPort = wide ? 0xC0 + 4 * c : 2 * c, countPort = addressPort + (wide ? 2 : 1)
                out(UInt16(addressPort), Int(word)); out(UInt16(addressPort), Int(word >> 8))
                out(UInt16(countPort), count); out(UInt16(countPort), count >> 8)
                out(page, Int(base >> 16) & (wide ? 0xFE : 0xFF))
                if random.chance(7, in: 8) { out(UInt16(mask), c) }
            case 2, 3:  // a DSP transfer: rate, then a 16-bit (or 8-bit, or any) command with its block length
                if random.bool() { out(0x226, 1); out(0x226, 0); _ = bus.readPort(0x22A, width: .byte) }
                let rate = random.chance(3, in: 4) ? random.pick([5000, 8000, 11_025, 22_050, 44_100]) : random.int(0...0xFFFF)
                dsp(random.pick([0x41, 0x42]), rate >> 8, rate)
                let command = random.chance(3, in: 4) ? random.pick([0xB6, 0xBE, 0xB0, 0xC6, 0xCE]) : random.int(0xB0...0xCF)
                let block = random.int(0...0xFFFF)
                dsp(command, random.pick([0x10, 0x30, 0x00, 0x20, random.int(0...255)]), block, block >> 8)
            case 4:  // the DSP's other commands, and any byte
                dsp(random.pick([0xD5, 0xD6, 0xD9, 0xD0, 0xD4, 0xDA, 0xD1, 0xD3, 0xE1, 0x40, random.int(0...255)]))
            case 5:  // any 8237 port, any value (mask-all, master clear, request, status reads)
                let port = random.pick(dmaPorts)
                if random.bool() { out(port, random.int(0...255)) } else { _ = bus.readPort(port, width: .byte) }
            case 6:  // any SB16 port; the interrupt acknowledges; the mixer
                let port = random.pick(sbPorts)
                if random.bool() { out(port, random.int(0...255)) } else { _ = bus.readPort(port, width: .byte) }
                if random.bool() { _ = bus.readPort(random.pick([0x22E, 0x22F]), width: .byte) }
                if random.bool() { out(0x224, random.pick([0x80, 0x81, 0x82, random.int(0...255)])); out(0x225, random.int(0...255)) }
            case 7:  // widths the ports do not take, ports nobody decodes
                let port = UInt16(truncatingIfNeeded: random.next())
                let width = random.pick([AccessWidth.byte, .word, .dword])
                if random.bool() { bus.writePort(port, width: width, value: random.next()) } else { _ = bus.readPort(port, width: width) }
            case 8:
                if random.bool() { guest.free(&random) } else { guest.allocate(&random) }
            default:
                clock.advance(by: UInt64(random.int(0...30_000_000)))
            }
            guest.keep(sb.playback.program?.dma)
            guest.keep(sb.recording.program?.dma)
        }
        clock.advance(by: UInt64(random.int(0...50_000_000)))
        guest.keep(sb.playback.program?.dma)
        guest.keep(sb.recording.program?.dma)
        guest.check(&outcome)
        outcome.count("guest errors", sb.errors.total + isa.errors.total)
        outcome.count("bus faults", sb.faults.total + isa.faults.total + bus.unclaimedPortAccesses)
        return outcome
    }
}

/// The AT's page register port of each 8237 channel.
enum ISAPorts {
    static let page: [UInt16] = [0x87, 0x83, 0x81, 0x82, 0x8F, 0x8B, 0x89, 0x8A]
}
