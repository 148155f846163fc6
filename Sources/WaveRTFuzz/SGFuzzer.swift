import WaveRTDMA
import WaveRTEngine
import WaveRTHardware
import WaveRTMemory

/// Random MMIO programming of the generic scatter-gather bus master
/// (`GenericBusMaster`, "sg": per channel CTL with RUN/IE/RESET/EIE, STS,
/// DESCLO/DESCHI, DESCCOUNT, FORMAT; global ID, CAPS, INTSTS), with descriptor
/// tables written at random into emulated memory, buffers freed under a
/// running channel, and the virtual clock moving. Checks as ``HDAFuzzer``:
/// no crash, no copy outside allocated RAM, every refused transfer counted,
/// and a RUN refused with STS.ERR counted as a guest error.
public enum SGFuzzer {
    enum R {
        static func ch(_ n: Int) -> Int { GenericBusMaster.channelBase + GenericBusMaster.channelStride * n }
        static let CTL = 0x00, STS = 0x04, DESCLO = 0x08, DESCHI = 0x0C, DESCCOUNT = 0x10, FORMAT = 0x14
        static let ERR: UInt64 = 2
    }

    public static func iteration(_ random: inout FuzzRandom) -> FuzzOutcome {
        var outcome = FuzzOutcome()
        let guest = GuestMemory(random: &random)
        let clock = VirtualClock(start: 1_000_000)
        let scheduler = Scheduler(timebase: clock)
        defer { scheduler.shutdown() }  // the clock holds the scheduler, which holds the device: let them go
        let profile: DMAProfile = random.bool() ? random.pick([.pcie64SG, .pci32SG]) : random.pick(DMAProfile.presets)
        let sg = GenericBusMaster(memory: guest.memory, timebase: clock, passGuard: scheduler.passGuard, profile: profile,
                                  faithfulFaults: random.bool(), coarsePosition: random.bool())
        scheduler.add(sg)
        func w(_ offset: Int, _ value: UInt64, _ width: AccessWidth = .dword) { sg.write(offset: offset, width: width, value: value) }

        for _ in 0..<random.int(20...200) {
            let c = R.ch(random.int(0...1))
            switch random.int(0...8) {
            case 0, 1, 2:  // a channel programmed as a driver would, with a random table
                let count = random.int(1...8)
                let wellFormed = random.bool()
                let table = guest.descriptorList(&random, count: count, alignment: 16, wellFormed: wellFormed)
                let at = (wellFormed ? guest.placement(&random, bytes: count * 16, alignment: 16) : nil) ?? guest.address(&random, alignment: 16)
                guest.write(table.bytes, at: at)
                w(c + R.CTL, 4)
                w(c + R.DESCLO, at & 0xFFFF_FFFF)
                w(c + R.DESCHI, at >> 32)
                w(c + R.DESCCOUNT, random.chance(3, in: 4) ? UInt64(count) : random.edgy(bits: 32))
                let format = random.chance(3, in: 4)
                    ? UInt64(GenericBusMaster.Channel.encode(random.pick([.cd48k, try! StreamFormat(sampleRate: 96_000, channels: 8, sampleFormat: .int32),
                                                                          try! StreamFormat(sampleRate: 44_100, channels: 1, sampleFormat: .float32)])))
                    : random.edgy(bits: 32)
                w(c + R.FORMAT, format)
                run(sg, c, value: random.pick([1, 3, 11, 9]), outcome: &outcome)
            case 3:
                let value = registerValue(&random, common: [0, 1, 3, 4, 8, 11])
                if value & 1 != 0 && value & 4 == 0 { run(sg, c, value: value & 0xFFFF_FFFF, outcome: &outcome) } else { w(c + R.CTL, value & 0xFFFF_FFFF) }
            case 4:  // any offset, any width, read or write
                let offset = random.chance(1, in: 4) ? Int(truncatingIfNeeded: random.edgy(bits: 63)) : random.int(0...(sg.size + 64))
                let width = random.pick([AccessWidth.byte, .word, .dword, .qword])
                if random.bool() { sg.write(offset: offset, width: width, value: random.next()) } else { _ = sg.read(offset: offset, width: width) }
            case 5:  // status acknowledges and position reads
                w(c + R.STS, registerValue(&random, common: [1, 2, 3]) & 0xFFFF_FFFF)
                _ = sg.read(offset: c + random.pick([0x18, 0x1C, 0x20, 0x04]), width: .dword)
                _ = sg.read(offset: 0x08, width: .dword)
            case 6:
                if random.bool() { guest.free(&random) } else { guest.allocate(&random) }
            default:
                clock.advance(by: UInt64(random.int(0...20_000_000)))
            }
            for ch in sg.channels { guest.keep(ch.dma.program?.dma) }
        }
        clock.advance(by: UInt64(random.int(0...50_000_000)))
        for ch in sg.channels { guest.keep(ch.dma.program?.dma) }
        guest.check(&outcome)
        outcome.count("guest errors", sg.errors.total)
        outcome.count("bus faults", sg.faults.total)
        return outcome
    }

    /// Writes CTL with RUN; a refusal (ERR newly set) must have been counted.
    static func run(_ sg: GenericBusMaster, _ c: Int, value: UInt64, outcome: inout FuzzOutcome) {
        let before = sg.errors.total
        let stsBefore = sg.read(offset: c + R.STS, width: .dword)
        sg.write(offset: c + R.CTL, width: .dword, value: value)
        let sts = sg.read(offset: c + R.STS, width: .dword)
        if sts & R.ERR != 0, stsBefore & R.ERR == 0, sg.errors.total == before {
            outcome.fail("sg CTL RUN (0x\(String(value, radix: 16))) at +0x\(String(c, radix: 16)) set ERR without counting a guest error")
        }
        outcome.count("RUN writes")
    }
}
