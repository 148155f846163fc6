import WaveRTDMA
import WaveRTEngine
import WaveRTMemory

/// The emulated RAM a device fuzzer programs against: a small PC-like map
/// (RAM 0–640 KiB and 1–32 MiB; a hole between, nothing above), a few live
/// MDLs to put buffers and lists in, the DMA access audit switched on, and
/// every DMA program the devices loaded (kept, so their fault counts survive
/// the device dropping them).
final class GuestMemory {
    static let map = try! PhysicalMemoryMap(ramRanges: [
        .init(start: 0, end: 0xA_0000), .init(start: 0x10_0000, end: 0x200_0000),
    ])
    let memory: PhysicalMemory
    var mdls: [MDL] = []
    private var programs: [ObjectIdentifier: DMAController] = [:]

    init(random: inout FuzzRandom) {
        memory = try! PhysicalMemory(map: Self.map, placement: .random(seed: random.next()))
        memory.dmaAudit.isEnabled = true
        for _ in 0..<random.int(1...4) { allocate(&random) }
    }

    /// An MDL of 1–16 pages, sometimes below 16 MiB and physically contiguous (what the 8237 needs).
    func allocate(_ random: inout FuzzRandom) {
        let bytes = random.int(1...16) * memory.pageSize - (random.bool() ? 0 : random.int(0...100))
        let mdl = random.bool()
            ? memory.allocatePagesForMdlEx(lowAddress: 0, highAddress: 0xFF_FFFF, skipBytes: 0, totalBytes: bytes,
                                           cacheType: .cached, flags: [.requireContiguousChunks])
            : memory.allocatePagesForMdl(lowAddress: 0, highAddress: .init(UInt64.max), skipBytes: 0, totalBytes: bytes)
        if let mdl { mdls.append(mdl) }
    }

    /// Frees a random MDL (perhaps while a device still runs from it: a use after free).
    func free(_ random: inout FuzzRandom) {
        guard !mdls.isEmpty else { return }
        memory.freePagesFromMdl(mdls.remove(at: random.int(0...(mdls.count - 1))))
    }

    /// An address a driver might program: inside a live MDL (aligned or not), a
    /// freed or never-allocated page, the hole, past the end, above 4 GiB, or anything.
    func address(_ random: inout FuzzRandom, alignment: UInt64 = 1) -> UInt64 {
        switch random.int(0...9) {
        case 0...4 where !mdls.isEmpty:
            let mdl = random.pick(mdls)
            let page = mdl.physicalAddress(ofPage: random.int(0...(mdl.pageFrameNumbers.count - 1))).rawValue
            let offset = UInt64(random.int(0...(memory.pageSize - 1)))
            return random.chance(3, in: 4) ? page + offset / alignment * alignment : page + offset
        case 5: return 0xA_0000 + UInt64(random.int(0...0x5_FFFF))                 // the VGA/BIOS hole
        case 6: return Self.map.end.rawValue - UInt64(random.int(0...64))          // straddling the end
        case 7: return UInt64(random.int(0...0x1FF_FFFF))                          // anywhere in RAM, maybe free
        case 8: return (UInt64(random.int(1...0xFFFF)) << 32) | UInt64(random.int(0...0x1FF_FFFF))  // above 4 GiB
        default: return random.edgy()
        }
    }

    /// A `bytes`-long spot inside one page of a live MDL, at `alignment` (where a driver puts a list), if any MDL is live.
    func placement(_ random: inout FuzzRandom, bytes: Int, alignment: Int) -> UInt64? {
        guard !mdls.isEmpty, bytes <= memory.pageSize else { return nil }
        let mdl = random.pick(mdls)
        let slots = (memory.pageSize - bytes) / alignment
        return mdl.physicalAddress(ofPage: random.int(0...(mdl.pageFrameNumbers.count - 1))).rawValue + UInt64(random.int(0...slots) * alignment)
    }

    /// Bytes written where a driver could (a driver writes through its mapping, so only
    /// into allocated pages; a list "placed" anywhere else is simply not there).
    func write(_ bytes: [UInt8], at address: UInt64) {
        let ps = UInt64(memory.pageSize)
        let (end, overflow) = address.addingReportingOverflow(UInt64(bytes.count))
        guard !overflow, !bytes.isEmpty else { return }
        var page = address / ps
        while page * ps < end {
            guard memory.isAllocated(PhysicalAddress(page * ps)) else { return }
            page += 1
        }
        memory.writePhysical(at: PhysicalAddress(address), bytes: bytes)
    }

    /// A scatter list (HD Audio BDL or sg table: 64-bit address, 32-bit length, 32-bit flags with IOC in bit 0)
    /// of `count` entries: mostly pieces of live MDLs, some anywhere, with random lengths.
    /// With `wellFormed`, every entry is an aligned piece of a live MDL's page that fits in it.
    func descriptorList(_ random: inout FuzzRandom, count: Int, alignment: UInt64, wellFormed: Bool = false) -> (bytes: [UInt8], total: UInt64) {
        var out: [UInt8] = []
        var total: UInt64 = 0
        for _ in 0..<count {
            var address = address(&random, alignment: alignment)
            var length: UInt32 = switch random.int(0...5) {
            case 0: 0
            case 1: UInt32(truncatingIfNeeded: random.edgy(bits: 32))
            case 2: UInt32(random.int(1...0x2_0000))
            default: UInt32(random.int(1...32) * 128)
            }
            if wellFormed, !mdls.isEmpty {
                let mdl = random.pick(mdls)
                let units = memory.pageSize / 128
                let first = random.int(0...(units - 1))
                address = mdl.physicalAddress(ofPage: random.int(0...(mdl.pageFrameNumbers.count - 1))).rawValue + UInt64(first * 128)
                length = UInt32(128 * random.int(1...(units - first)))
            }
            total &+= UInt64(length)
            let flags = UInt32(truncatingIfNeeded: random.chance(1, in: 8) ? random.next() : (random.bool() ? 1 : 0))
            out += withUnsafeBytes(of: address.littleEndian) { Array($0) }
            out += withUnsafeBytes(of: length.littleEndian) { Array($0) }
            out += withUnsafeBytes(of: flags.littleEndian) { Array($0) }
        }
        return (out, total)
    }

    /// Keeps a program a device loaded (called after every step).
    func keep(_ controller: DMAController?) {
        if let controller { programs[ObjectIdentifier(controller)] = controller }
    }

    /// The invariants every device fuzzer checks: no copy outside allocated RAM,
    /// and every transfer refused was counted as a fault by its DMA program.
    func check(_ outcome: inout FuzzOutcome) {
        let audit = memory.dmaAudit
        if let violation = audit.violationSummary { outcome.fail(violation) }
        let faultEvents = programs.values.reduce(UInt64(0)) { $0 + $1.faultEventCount }
        if audit.refusedCount > faultEvents {
            outcome.fail("\(audit.refusedCount) DMA transfers were refused but only \(faultEvents) were counted as faults")
        }
        outcome.count("dma copies checked", audit.accessCount)
        outcome.count("dma bytes checked", audit.accessBytes)
        outcome.count("dma transfers refused", audit.refusedCount)
        outcome.count("dma fault events", faultEvents)
        outcome.count("dma programs", UInt64(programs.count))
    }
}

/// A 32-bit register value: random, a few bits, or one of the values a driver writes.
func registerValue(_ random: inout FuzzRandom, common: [UInt64]) -> UInt64 {
    random.chance(1, in: 3) ? random.pick(common) : random.edgy()
}
