import WaveRTDMA
import WaveRTEngine
import WaveRTHardware
import WaveRTMemory

/// Random MMIO programming of the HD Audio controller (`HDAController`): GCTL,
/// INTCTL, SSYNC, DPLBASE/DPUBASE and every stream descriptor register
/// (SDnCTL with SRST and RUN, CBL, LVI, FMT, BDPL/BDPU), at every width and at
/// offsets it does not decode, with BDLs written at random into emulated
/// memory, buffers freed under a running stream, and the virtual clock moving.
/// Checks: no crash; the audit saw no copy outside allocated RAM; every refused
/// transfer counted; a RUN that ends in a descriptor error (DESE) counted as a guest error.
public enum HDAFuzzer {
    static let commonOffsets: [Int] = [0x00, 0x02, 0x04, 0x08, 0x0C, 0x0E, 0x10, 0x20, 0x24, 0x30, 0x38, 0x70, 0x74, 0x2030]

    public static func iteration(_ random: inout FuzzRandom) -> FuzzOutcome {
        var outcome = FuzzOutcome()
        let guest = GuestMemory(random: &random)
        let clock = VirtualClock(start: 1_000_000)
        let scheduler = Scheduler(timebase: clock)
        defer { scheduler.shutdown() }  // the clock holds the scheduler, which holds the device: let them go
        let inputs = random.int(1...4), outputs = random.int(1...4)
        let profile: DMAProfile = random.chance(3, in: 4) ? .hda : random.pick(DMAProfile.presets)
        let hda = HDAController(memory: guest.memory, timebase: clock, passGuard: scheduler.passGuard, profile: profile,
                                faithfulFaults: random.bool(), inputStreams: inputs, outputStreams: outputs)
        scheduler.add(hda)
        let streams = inputs + outputs
        func w(_ offset: Int, _ width: AccessWidth, _ value: UInt64) { hda.write(offset: offset, width: width, value: value) }
        if random.chance(7, in: 8) { w(HDARegister.gctl, .dword, 1) }  // out of reset, mostly

        for _ in 0..<random.int(20...200) {
            let sd = HDARegister.streamBase + HDARegister.streamStride * random.int(0...(streams - 1))
            switch random.int(0...11) {
            case 0:  // a BDL somewhere in memory
                let list = guest.descriptorList(&random, count: random.int(1...8), alignment: 128)
                guest.write(list.bytes, at: guest.address(&random, alignment: 128))
            case 1, 2:  // a descriptor programmed as a driver would, with a random BDL
                let count = random.int(1...6)
                let wellFormed = random.bool()
                let list = guest.descriptorList(&random, count: count, alignment: 128, wellFormed: wellFormed)
                let at = (wellFormed ? guest.placement(&random, bytes: count * 16, alignment: 128) : nil) ?? guest.address(&random, alignment: 128)
                guest.write(list.bytes, at: at)
                w(sd + HDARegister.sdCTL, .byte, 1)
                w(sd + HDARegister.sdCTL, .byte, 0)
                w(sd + HDARegister.sdCBL, .dword, random.chance(3, in: 4) ? list.total & 0xFFFF_FFFF : random.edgy(bits: 32))
                w(sd + HDARegister.sdLVI, .word, UInt64(random.chance(3, in: 4) ? count - 1 : random.int(0...255)))
                let fmt = random.chance(3, in: 4) ? UInt64(HDAStreamFormat.encode(sampleRate: random.pick([8000, 44_100, 48_000, 96_000, 192_000]),
                    bitsPerSample: random.pick([8, 16, 20, 24, 32]), channels: random.int(1...8))?.raw ?? 0x11) : random.edgy(bits: 16)
                w(sd + HDARegister.sdFMT, .word, fmt)
                w(sd + HDARegister.sdBDPL, .dword, at & 0xFFFF_FFFF)
                w(sd + HDARegister.sdBDPU, .dword, at >> 32)
                let tag = UInt64(random.int(0...15)) << 20
                run(hda, sd, value: tag | 0x1E, random: &random, outcome: &outcome)
            case 3:  // RUN, stop, SRST: the control register alone
                let value = registerValue(&random, common: [0, 1, 2, 0x1E, 0x10_001E, 0x10_0002, 0x1C]) & 0xFF_FFFF
                if value & 2 != 0 { run(hda, sd, value: value, random: &random, outcome: &outcome) } else { w(sd, .dword, value) }
            case 4:  // any descriptor register, any width
                let width = random.pick([AccessWidth.byte, .word, .dword, .qword])
                w(sd + random.int(0...0x1F), width, registerValue(&random, common: [0, 1, 0xFF, 0x1C]))
            case 5:  // global registers
                let offset = random.pick(commonOffsets)
                w(offset, random.pick([.byte, .word, .dword]), registerValue(&random, common: [0, 1, 0xC000_00FF, 0x8000_0000]))
            case 6:  // the DMA position buffer, enabled, anywhere
                let at = guest.address(&random, alignment: 128)
                w(HDARegister.dpubase, .dword, at >> 32)
                w(HDARegister.dplbase, .dword, (at & 0xFFFF_FFFF) | (random.chance(3, in: 4) ? 1 : 0))
            case 7:  // anywhere in (and past) the BAR
                let offset = random.chance(1, in: 4) ? Int(truncatingIfNeeded: random.edgy(bits: 63)) : random.int(0...(HDARegister.barSize + 64))
                if random.bool() { w(offset, random.pick([.byte, .word, .dword, .qword]), random.next()) }
                else { _ = hda.read(offset: offset, width: random.pick([.byte, .word, .dword, .qword])) }
            case 8:  // reads a driver makes: LPIB, STS, INTSTS, WALCLK (and the alias page)
                _ = hda.read(offset: sd + random.pick([0, 3, 4, 8, 0xC, 0x10, 0x12, 0x18]), width: .dword)
                _ = hda.read(offset: random.pick([0x24, 0x30, 0x2030, 0x2084 + 0x20 * random.int(0...(streams - 1))]), width: .dword)
            case 9:  // buffers come and go, some under a running stream
                if random.bool() { guest.free(&random) } else { guest.allocate(&random) }
            case 10:  // controller reset and back
                w(HDARegister.gctl, .dword, random.bool() ? 0 : 1)
            default:
                clock.advance(by: UInt64(random.int(0...20_000_000)))
            }
            for d in hda.descriptors { guest.keep(d.dma.program?.dma) }
        }
        clock.advance(by: UInt64(random.int(0...50_000_000)))
        for d in hda.descriptors { guest.keep(d.dma.program?.dma) }
        guest.check(&outcome)
        outcome.count("guest errors", hda.errors.total)
        outcome.count("bus faults", hda.faults.total)
        return outcome
    }

    /// Writes SDnCTL with RUN; a descriptor error (DESE newly set) must have been counted.
    static func run(_ hda: HDAController, _ sd: Int, value: UInt64, random: inout FuzzRandom, outcome: inout FuzzOutcome) {
        let before = hda.errors.total
        let stsBefore = hda.read(offset: sd + HDARegister.sdSTS, width: .byte)
        hda.write(offset: sd, width: random.bool() ? .dword : .word, value: value)
        let sts = hda.read(offset: sd + HDARegister.sdSTS, width: .byte)
        if sts & UInt64(HDARegister.stsDESE) != 0, stsBefore & UInt64(HDARegister.stsDESE) == 0, hda.errors.total == before {
            outcome.fail("SDnCTL RUN (0x\(String(value, radix: 16))) at +0x\(String(sd, radix: 16)) raised DESE without counting a guest error")
        }
        outcome.count("RUN writes")
    }
}
