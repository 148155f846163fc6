import Glibc
import Synchronization
import WaveRTDMA
import WaveRTEngine
import WaveRTMemory

/// An Intel High Definition Audio controller: the register map of the Intel
/// ICH/PCH datasheets (GCAP, GCTL, INTCTL/INTSTS, WALCLK, SSYNC, the DMA
/// position buffer, and stream descriptors at 0x80 + 0x20·n, inputs first),
/// its stream DMA engines and its interrupt line. No codec link is emulated:
/// an output descriptor with a non-zero stream tag plays into its sink, an
/// input descriptor records from its source.
///
/// Behaviour follows the datasheets where QEMU departs from them
/// (`WaveRTHardware.docc/HDAudio.md` lists each choice with its source):
/// - SRST resets every descriptor register and reads back at once; RUN reads 1
///   until the engine has stopped at the end of the current frame.
/// - LPIB counts link bytes, wraps at CBL, and is kept across RUN 1→0→1; only
///   SRST and CRST zero it. An output engine's fetch leads it by the FIFO
///   (FIFOS+1 bytes) in bursts, and IOC is raised when the last byte of an IOC
///   entry is fetched into the FIFO (input: written to memory).
/// - SIS(n) = BCIS·IOCE + FIFOE·FEIE + DESE·DEIE; the line is
///   GIE · Σ SIS(n)·SIE(n), level-triggered; STS is write-1-to-clear, also
///   inside a 32-bit write of CTL.
/// - The page at 0x2000 mirrors only WALCLK (0x2030) and the LPIBs
///   (0x2084 + 0x20·n), so it can be mapped for a client.
/// - The BDL is read from emulated memory at RUN 0→1 and checked against the
///   DMA profile (128-byte aligned addresses, at least 2 entries); a BDL that
///   cannot be fetched or a program the profile refuses sets DESE and stops
///   the stream, as a fetch error does.
/// - The position buffer (DPBE) is written at every pass of a running engine
///   and before each BCIS, not every frame (a documented simplification).
public final class HDAController: RegisterBlock, InterruptSource, TimedWork, @unchecked Sendable {
    /// How the controller was misprogrammed (each counted, with the last value).
    public enum GuestError: Int, CaseIterable, CustomStringConvertible, Sendable {
        case writeInControllerReset, resetWhileRunning, runWithoutCRST, lviBelowOne, cblZero, badFormat
        case bdlNotFetchable, dmaProgramRefused, cblMismatch, streamTagZero, writeWhileRunning, readOnlyWrite
        case sinkFormatRefused, positionBufferNotRAM

        public var description: String {
            switch self {
            case .writeInControllerReset: "register written while GCTL.CRST = 0 (controller in reset): ignored"
            case .resetWhileRunning: "SDnCTL.SRST set while RUN was 1 (RUN must be cleared and read back 0 first)"
            case .runWithoutCRST: "SDnCTL.RUN set while the controller is in reset"
            case .lviBelowOne: "RUN with SDnLVI < 1 (the BDL needs at least 2 entries): descriptor error"
            case .cblZero: "RUN with SDnCBL = 0: descriptor error"
            case .badFormat: "RUN with a reserved SDnFMT encoding: descriptor error"
            case .bdlNotFetchable: "the BDL at SDnBDPL/BDPU is not allocated RAM: descriptor error (DESE)"
            case .dmaProgramRefused: "the BDL breaks the DMA profile's rules: descriptor error (DESE)"
            case .cblMismatch: "SDnCBL differs from the sum of the BDL lengths (LPIB wraps at CBL, the DMA at the BDL end)"
            case .streamTagZero: "RUN with stream tag 0 (reserved): nothing reaches the codec"
            case .writeWhileRunning: "CBL, LVI, FMT or BDPL/BDPU written while RUN = 1: used only at the next RUN"
            case .readOnlyWrite: "write to a read-only register"
            case .sinkFormatRefused: "the sink could not take the programmed format"
            case .positionBufferNotRAM: "DPLBASE/DPUBASE (DPBE set) points at memory that is not allocated RAM: position not written"
            }
        }
    }

    public let name = "hda"
    public let size = HDARegister.barSize
    public let faults = BusFaults()
    public let errors = GuestErrors<GuestError>(device: "hda")
    public let interruptLine = InterruptLine(name: "hda")
    public let profile: DMAProfile
    public let faithfulFaults: Bool
    public let memory: PhysicalMemory
    public let timebase: any Timebase
    public let inputStreamCount: Int
    public let outputStreamCount: Int
    /// SD0…SDn, inputs first (control path: a copy of the list).
    public var descriptors: [HDAStreamDescriptor] { streams.elements }
    /// The descriptors, iterated by the passes and register accesses without reference counting.
    let streams: ObjectList<HDAStreamDescriptor>
    /// The last DMA program the controller refused, in words (control path).
    public var lastProgramError: String? { programError.withLock { $0 } }

    let passGuard: PassGuard
    private let gctl = Atomic<UInt32>(0)
    private let intctl = Atomic<UInt32>(0)
    private let ssync = Atomic<UInt32>(0)
    private let dplbase = Atomic<UInt32>(0)
    private let dpubase = Atomic<UInt32>(0)
    private let wakeen = Atomic<UInt16>(0)
    private let statests = Atomic<UInt16>(0)
    private let wallClockBase = Atomic<UInt64>(0)
    private let programError = Mutex<String?>(nil)
    /// Bit n: SIS(n) from the causes passes and writes have processed (the line's inputs), kept
    /// by each descriptor so the line's level is one load, not a scan of every descriptor.
    let causeMask = Atomic<UInt32>(0)
    /// Bit n: descriptor n's engine has started since its last reset (only those can show a
    /// crossing no pass has processed yet, or RUN and FIFORDY).
    let startedMask = Atomic<UInt32>(0)

    /// - Parameters:
    ///   - profile: the stream DMA engines' limits (GCAP.64OK says whether `addressBits` is 64).
    ///   - makeSink: the speaker behind output descriptor `n` (nil: discard).
    ///   - makeSource: the microphone behind input descriptor `n` (nil: silence).
    public init(memory: PhysicalMemory, timebase: any Timebase, passGuard: PassGuard, profile: DMAProfile = .hda,
                faithfulFaults: Bool = false, inputStreams: Int = 4, outputStreams: Int = 4,
                makeSink: (Int) -> (any AudioSink)? = { _ in nil }, makeSource: (Int) -> (any AudioSource)? = { _ in nil })
    {
        precondition((1...15).contains(inputStreams) && (1...15).contains(outputStreams) && inputStreams + outputStreams <= 30)
        self.memory = memory
        self.timebase = timebase
        self.passGuard = passGuard
        self.profile = profile
        self.faithfulFaults = faithfulFaults
        inputStreamCount = inputStreams
        outputStreamCount = outputStreams
        streams = ObjectList(capacity: inputStreams + outputStreams)
        for n in 0..<(inputStreams + outputStreams) {
            let input = n < inputStreams
            streams.append(HDAStreamDescriptor(index: n, input: input, controller: self,
                                               sink: input ? nil : makeSink(n), source: input ? makeSource(n) : nil))
        }
        interruptLine.drive(from: self)
    }

    // MARK: RegisterBlock

    public func read(offset: Int, width: AccessWidth) -> UInt64 {
        guard let (dwordOffset, lane) = decode(offset, width, write: false) else { return width.mask }
        guard let dword = readDword(dwordOffset) else {
            faults.unknownRead(offset: offset, width: width)
            return width.mask
        }
        return (UInt64(dword) >> UInt64(8 * lane)) & width.mask
    }

    public func write(offset: Int, width: AccessWidth, value: UInt64) {
        guard let (dwordOffset, lane) = decode(offset, width, write: true) else { return }
        let lanes = UInt32(truncatingIfNeeded: width.mask << UInt64(8 * lane))
        let shifted = UInt32(truncatingIfNeeded: (value & width.mask) << UInt64(8 * lane))
        if !writeDword(dwordOffset, shifted, lanes) { faults.unknownWrite(offset: offset, width: width) }
    }

    /// Naturally aligned 8/16/32-bit accesses inside the BAR; anything else is counted and ignored.
    private func decode(_ offset: Int, _ width: AccessWidth, write: Bool) -> (Int, Int)? {
        guard offset >= 0, offset <= size - width.rawValue else {
            write ? faults.unknownWrite(offset: offset, width: width) : faults.unknownRead(offset: offset, width: width)
            return nil
        }
        guard width != .qword, offset % width.rawValue == 0 else {
            faults.badWidth(offset: offset, width: width)
            return nil
        }
        return (offset & ~3, offset & 3)
    }

    var inReset: Bool { gctl.load(ordering: .acquiring) & HDARegister.gctlCRST == 0 }

    private func readDword(_ offset: Int) -> UInt32? {
        let now = timebase.now
        switch offset {
        case 0x00:
            let gcap = UInt32(outputStreamCount) << 12 | UInt32(inputStreamCount) << 8 | (profile.addressBits >= 64 ? 1 : 0)
            return gcap | 0x00 << 16 | 0x01 << 24  // VMIN 0, VMAJ 1
        case 0x04: return 0x003C | 0x001D << 16  // OUTPAY, INPAY
        case 0x08: return gctl.load(ordering: .acquiring)
        case 0x0C: return UInt32(wakeen.load(ordering: .relaxed)) | UInt32(statests.load(ordering: .relaxed)) << 16
        case 0x10: return 0  // GSTS
        case 0x18: return 0  // OUTSTRMPAY / INSTRMPAY
        case 0x20: return intctl.load(ordering: .acquiring)
        case 0x24: return interruptStatus(at: now)
        case 0x30: return wallClock(at: now)
        case 0x38: return ssync.load(ordering: .acquiring)
        case 0x70: return dplbase.load(ordering: .relaxed)
        case 0x74: return profile.addressBits >= 64 ? dpubase.load(ordering: .relaxed) : 0
        case HDARegister.streamBase..<(HDARegister.streamBase + streams.count * HDARegister.streamStride):
            return streams.with((offset - HDARegister.streamBase) / HDARegister.streamStride) {
                $0.readDword((offset - HDARegister.streamBase) % HDARegister.streamStride, at: now)
            }
        case HDARegister.aliasPage..<(HDARegister.aliasPage + 0x1000):
            return readAlias(offset - HDARegister.aliasPage, at: now)
        default:
            return nil
        }
    }

    /// The alias page: WALCLK and the LPIBs only; everything else in the page reads 0.
    private func readAlias(_ offset: Int, at now: UInt64) -> UInt32 {
        if offset == HDARegister.walclk { return wallClock(at: now) }
        let first = HDARegister.streamBase + HDARegister.sdLPIB
        if offset >= first, (offset - first) % HDARegister.streamStride == 0 {
            let n = (offset - first) / HDARegister.streamStride
            if n < streams.count { return streams.with(n) { $0.lpib(at: now) } }
        }
        return 0
    }

    private func writeDword(_ offset: Int, _ value: UInt32, _ lanes: UInt32) -> Bool {
        if offset == 0x08 {
            writeGCTL(merge(gctl.load(ordering: .relaxed), value, lanes))
            return true
        }
        if inReset {
            errors.note(.writeInControllerReset, UInt64(offset))
            return true
        }
        switch offset {
        case 0x00, 0x04, 0x10, 0x18, 0x30:
            errors.note(.readOnlyWrite, UInt64(offset))
        case 0x0C:
            if lanes & 0xFFFF != 0 { wakeen.store(UInt16(truncatingIfNeeded: merge(UInt32(wakeen.load(ordering: .relaxed)), value, lanes) & 0x7FFF), ordering: .relaxed) }
            if lanes & 0xFFFF_0000 != 0 { statests.bitwiseAnd(~UInt16(truncatingIfNeeded: (value & lanes) >> 16), ordering: .relaxed) }
        case 0x20:
            intctl.store(merge(intctl.load(ordering: .relaxed), value, lanes) & 0xC000_00FF, ordering: .releasing)
            interruptLine.signal()
        case 0x24:
            break  // INTSTS: the causes are cleared in SDnSTS; drivers may write it harmlessly
        case 0x38:
            writeSSYNC(merge(ssync.load(ordering: .relaxed), value, lanes) & ((1 << UInt32(streams.count)) - 1))
        case 0x70:
            dplbase.store(merge(dplbase.load(ordering: .relaxed), value, lanes) & 0xFFFF_FF81, ordering: .releasing)
        case 0x74:
            dpubase.store(merge(dpubase.load(ordering: .relaxed), value, lanes), ordering: .releasing)
        case HDARegister.streamBase..<(HDARegister.streamBase + streams.count * HDARegister.streamStride):
            return streams.with((offset - HDARegister.streamBase) / HDARegister.streamStride) {
                $0.writeDword((offset - HDARegister.streamBase) % HDARegister.streamStride, value, lanes)
            }
        default:
            return false
        }
        return true
    }

    @inline(__always)
    func merge(_ old: UInt32, _ value: UInt32, _ lanes: UInt32) -> UInt32 { (old & ~lanes) | (value & lanes) }

    // MARK: Global behaviour

    private func writeGCTL(_ value: UInt32) {
        let old = gctl.exchange(value & 0x103, ordering: .acquiringAndReleasing)
        let wasOut = old & HDARegister.gctlCRST != 0
        let nowOut = value & HDARegister.gctlCRST != 0
        if wasOut && !nowOut {
            controllerReset()
        } else if !wasOut && nowOut {
            wallClockBase.store(timebase.now, ordering: .releasing)
            statests.store(0x1, ordering: .relaxed)  // codec 0 reports itself after the link comes out of reset
        }
    }

    /// CRST = 0: every state machine, FIFO and register back to its reset value; the wall clock stops.
    private func controllerReset() {
        streams.forEach { $0.reset() }
        intctl.store(0, ordering: .releasing)
        ssync.store(0, ordering: .releasing)
        dplbase.store(0, ordering: .releasing)
        dpubase.store(0, ordering: .releasing)
        wakeen.store(0, ordering: .relaxed)
        statests.store(0, ordering: .relaxed)
    }

    private func writeSSYNC(_ value: UInt32) {
        let old = ssync.exchange(value, ordering: .acquiringAndReleasing)
        let now = timebase.now
        streams.forEach { d in
            let bit = UInt32(1) << UInt32(d.index)
            guard (old ^ value) & bit != 0, d.runRequested else { return }
            if value & bit == 0 { d.startEngine(at: now) } else { d.dma.stop(at: now) }
        }
    }

    func isSynchronising(_ index: Int) -> Bool { ssync.load(ordering: .acquiring) & (1 << UInt32(index)) != 0 }

    /// WALCLK: 24 MHz since the controller last left reset, 32 bits; 0 in reset.
    func wallClock(at now: UInt64) -> UInt32 {
        guard !inReset else { return 0 }
        let base = wallClockBase.load(ordering: .acquiring)
        return UInt32(truncatingIfNeeded: PositionMath.frames(inNanoseconds: now &- base, rate: HDARegister.wallClockHz))
    }

    /// INTSTS: SIS(n) per descriptor, GIS if any (independent of the enables in INTCTL).
    func interruptStatus(at now: UInt64) -> UInt32 {
        var value = causeMask.load(ordering: .acquiring)
        var started = startedMask.load(ordering: .acquiring) & ~value
        while started != 0 {
            let n = started.trailingZeroBitCount
            started &= started - 1
            if streams.with(n, { $0.streamInterruptStatus(at: now) }) { value |= 1 << UInt32(n) }
        }
        return value == 0 ? 0 : value | HDARegister.intstsGIS
    }

    /// GIE · Σ SIS(n)·SIE(n), from the causes the passes have processed.
    public var interruptLevel: Bool {
        let ic = intctl.load(ordering: .acquiring)
        return ic & HDARegister.intctlGIE != 0 && ic & causeMask.load(ordering: .acquiring) & 0x3FFF_FFFF != 0
    }

    /// DPLBASE.DPBE: the controller writes the DMA position buffer.
    var positionBufferEnabled: Bool { dplbase.load(ordering: .relaxed) & HDARegister.dplbaseDPBE != 0 }

    /// The DMA position buffer entry of descriptor `n`, when DPBE is set.
    func writePositionBuffer(_ index: Int, _ value: UInt32) {
        let low = dplbase.load(ordering: .acquiring)
        guard low & HDARegister.dplbaseDPBE != 0 else { return }
        let high = profile.addressBits >= 64 ? UInt64(dpubase.load(ordering: .relaxed)) : 0
        let address = PhysicalAddress((high << 32 | UInt64(low & ~0x7F)) &+ UInt64(8 * index))
        guard memory.map.isRAM(address), memory.owner(of: address) != .freePage,
              address.rawValue % UInt64(memory.pageSize) + 4 <= UInt64(memory.pageSize) else {
            errors.note(.positionBufferNotRAM, address.rawValue)
            return
        }
        memory.dmaAudit.access(address.rawValue, count: 4, write: true)
        (memory.physicalView + Int(address.rawValue)).storeBytes(of: value.littleEndian, as: UInt32.self)
    }

    func noteProgramError(_ error: DMAProgramError) {
        errors.note(.dmaProgramRefused)
        programError.withLock { $0 = error.description }
    }

    // MARK: TimedWork (the processor's pass)

    public func setWakeHandler(_ wake: @escaping @Sendable () -> Void) {
        streams.forEach { $0.dma.setWakeHandler(wake) }
    }

    public func nextDeadline() -> UInt64? {
        // Only engines started since their last reset have anything to do.
        var earliest: UInt64?
        var started = startedMask.load(ordering: .acquiring)
        while started != 0 {
            let n = started.trailingZeroBitCount
            started &= started - 1
            if let t = streams.with(n, { $0.dma.nextDeadline() }), t < (earliest ?? .max) { earliest = t }
        }
        return earliest
    }

    public func service(now: UInt64) {
        var started = startedMask.load(ordering: .acquiring)
        while started != 0 {
            let n = started.trailingZeroBitCount
            started &= started - 1
            streams.with(n) { $0.service(now: now) }
        }
        interruptLine.signal()
    }
}

/// One stream descriptor (SDn) of an ``HDAController``.
public final class HDAStreamDescriptor: @unchecked Sendable {
    public let index: Int
    public let isInput: Bool
    unowned(unsafe) let controller: HDAController
    let ctl = Atomic<UInt32>(0)
    let sts = Atomic<UInt8>(0)
    let cbl = Atomic<UInt32>(0)
    let lvi = Atomic<UInt16>(0)
    let fmt = Atomic<UInt16>(0)
    let bdpl = Atomic<UInt32>(0)
    let bdpu = Atomic<UInt32>(0)
    /// The time of the last write-1-to-clear of BCIS: crossings up to it count as seen.
    private let bcisAcknowledged = Atomic<UInt64>(0)
    private let gate: LinkGate
    public let dma: DMAStream

    init(index: Int, input: Bool, controller: HDAController, sink: (any AudioSink)?, source: (any AudioSource)?) {
        self.index = index
        isInput = input
        self.controller = controller
        gate = LinkGate(sink: sink, source: source)
        dma = DMAStream(direction: input ? .capture : .render, timebase: controller.timebase, passGuard: controller.passGuard,
                        sink: input ? nil : gate, source: input ? gate : nil)
        dma.onInterruptPoint = { [unowned(unsafe) self] _, time in self.interruptOnCompletion(at: time) }
        dma.onTransferFault = { [unowned(unsafe) self] _ in
            _ = self.sts.bitwiseOr(HDARegister.stsFIFOE, ordering: .acquiringAndReleasing)
            self.refreshCause()
        }
    }

    private var bit: UInt32 { 1 << UInt32(index) }

    /// Keeps the controller's cause mask equal to SIS(n) of the processed causes after STS or
    /// CTL changed. Writers on different threads may interleave: each re-reads after writing
    /// and writes again until what it wrote is what it sees, so the last word is always right.
    func refreshCause() {
        var want: Bool
        repeat {
            want = streamInterruptStatus(at: nil)
            if want { controller.causeMask.bitwiseOr(bit, ordering: .acquiringAndReleasing) }
            else { controller.causeMask.bitwiseAnd(~bit, ordering: .acquiringAndReleasing) }
        } while streamInterruptStatus(at: nil) != want
    }

    /// Starts the engine (RUN set, or stream synchronisation released).
    func startEngine(at now: UInt64) {
        controller.startedMask.bitwiseOr(bit, ordering: .acquiringAndReleasing)
        dma.start(at: now)
    }

    /// The sink or source behind this descriptor.
    public var sink: (any AudioSink)? { gate.sink }
    public var source: (any AudioSource)? { gate.source }

    var runRequested: Bool { ctl.load(ordering: .acquiring) & HDARegister.ctlRUN != 0 }
    var format: HDAStreamFormat { HDAStreamFormat(raw: fmt.load(ordering: .acquiring)) }
    var streamTag: UInt32 { (ctl.load(ordering: .acquiring) >> HDARegister.ctlStreamTagShift) & 0xF }

    /// FIFOS (bytes − 1): output 192 bytes (256 for 20/24-bit), input 120 (160 for 20/24-bit).
    var fifoSizeRegister: UInt16 {
        let wide = (2...3).contains(format.bitsCode)
        return isInput ? (wide ? 0x9F : 0x77) : (wide ? 0xFF : 0xBF)
    }

    // MARK: Reads

    func readDword(_ offset: Int, at now: UInt64) -> UInt32? {
        switch offset {
        case 0x00:
            let t = dma.currentTiming()
            return controlRegister(at: now, t) | UInt32(status(at: now, t)) << 24
        case 0x04: return lpib(at: now)
        case 0x08: return cbl.load(ordering: .relaxed)
        case 0x0C: return UInt32(lvi.load(ordering: .relaxed)) | 0x0004 << 16  // FIFOW: 32 bytes
        case 0x10: return UInt32(fifoSizeRegister) | UInt32(fmt.load(ordering: .relaxed)) << 16
        case 0x18: return bdpl.load(ordering: .relaxed)
        case 0x1C: return controller.profile.addressBits >= 64 ? bdpu.load(ordering: .relaxed) : 0
        default: return nil
        }
    }

    /// CTL as written, with RUN reading 1 until the engine has actually stopped.
    func controlRegister(at now: UInt64, _ t: DMAStream.Timing) -> UInt32 {
        var value = ctl.load(ordering: .acquiring)
        if DMAStream.isActive(t, at: now) { value |= HDARegister.ctlRUN }
        return value
    }

    /// STS: the causes set by passes, BCIS for a crossing no pass has processed
    /// yet, and FIFORDY while the engine runs.
    func status(at now: UInt64) -> UInt8 {
        dma.hasStarted ? status(at: now, dma.currentTiming()) : sts.load(ordering: .acquiring)
    }

    func status(at now: UInt64, _ t: DMAStream.Timing) -> UInt8 {
        var value = sts.load(ordering: .acquiring)
        guard dma.hasStarted else { return value }
        if let crossed = dma.unprocessedCrossing(at: now, t), crossed > bcisAcknowledged.load(ordering: .acquiring) {
            value |= HDARegister.stsBCIS
        }
        if DMAStream.isActive(t, at: now) { value |= HDARegister.stsFIFORDY }
        return value
    }

    /// LPIB: link bytes modulo CBL.
    func lpib(at now: UInt64) -> UInt32 {
        let length = UInt64(cbl.load(ordering: .relaxed))
        guard length > 0 else { return 0 }
        return UInt32(truncatingIfNeeded: DMAStream.linkBytes(dma.currentTiming(), at: now) % length)
    }

    /// SIS(n) = BCIS·IOCE + FIFOE·FEIE + DESE·DEIE (`now` nil: processed causes only, for the line).
    func streamInterruptStatus(at now: UInt64?) -> Bool {
        let c = ctl.load(ordering: .acquiring)
        let s = now.map(status(at:)) ?? sts.load(ordering: .acquiring)
        return (s & HDARegister.stsBCIS != 0 && c & HDARegister.ctlIOCE != 0)
            || (s & HDARegister.stsFIFOE != 0 && c & HDARegister.ctlFEIE != 0)
            || (s & HDARegister.stsDESE != 0 && c & HDARegister.ctlDEIE != 0)
    }

    // MARK: Writes

    func writeDword(_ offset: Int, _ value: UInt32, _ lanes: UInt32) -> Bool {
        switch offset {
        case 0x00:
            if lanes & 0x00FF_FFFF != 0 { writeCTL(value & 0x00FF_FFFF, lanes: lanes & 0x00FF_FFFF) }
            if lanes & 0xFF00_0000 != 0 { writeSTS(UInt8(truncatingIfNeeded: value >> 24)) }
        case 0x04:
            controller.errors.note(.readOnlyWrite, UInt64(0x80 + 0x20 * index + 4))
        case 0x08:
            noteIfRunning()
            cbl.store(controller.merge(cbl.load(ordering: .relaxed), value, lanes), ordering: .releasing)
        case 0x0C:
            if lanes & 0xFFFF != 0 {
                noteIfRunning()
                lvi.store(UInt16(truncatingIfNeeded: controller.merge(UInt32(lvi.load(ordering: .relaxed)), value, lanes) & 0xFF), ordering: .releasing)
            }
            // FIFOW: the default (32 bytes) is the only watermark modelled; writes are accepted and ignored.
        case 0x10:
            if lanes & 0xFFFF_0000 != 0 {
                noteIfRunning()
                let merged = controller.merge(UInt32(fmt.load(ordering: .relaxed)) << 16, value, lanes) >> 16
                fmt.store(UInt16(truncatingIfNeeded: merged) & 0x7F7F, ordering: .releasing)
            }
            // FIFOS is read-only here (its value follows FMT).
        case 0x18:
            noteIfRunning()
            bdpl.store(controller.merge(bdpl.load(ordering: .relaxed), value, lanes) & 0xFFFF_FF80, ordering: .releasing)
        case 0x1C:
            noteIfRunning()
            bdpu.store(controller.merge(bdpu.load(ordering: .relaxed), value, lanes), ordering: .releasing)
        default:
            return false
        }
        return true
    }

    private func noteIfRunning() {
        if runRequested { controller.errors.note(.writeWhileRunning, UInt64(index)) }
    }

    /// STS: write 1 to clear BCIS, FIFOE, DESE.
    private func writeSTS(_ value: UInt8) {
        let clear = value & (HDARegister.stsBCIS | HDARegister.stsFIFOE | HDARegister.stsDESE)
        guard clear != 0 else { return }
        if clear & HDARegister.stsBCIS != 0 { bcisAcknowledged.store(controller.timebase.now, ordering: .releasing) }
        sts.bitwiseAnd(~clear, ordering: .acquiringAndReleasing)
        refreshCause()
    }

    private func writeCTL(_ value: UInt32, lanes: UInt32) {
        // Compare-exchange so that concurrent writers each see the transition they made.
        var old = ctl.load(ordering: .acquiring)
        var new: UInt32
        repeat {
            new = controller.merge(old, value, lanes)
            if isInput { new &= ~HDARegister.ctlDIR }
            let (done, seen) = ctl.compareExchange(expected: old, desired: new, ordering: .acquiringAndReleasing)
            if done { break }
            old = seen
        } while true
        let now = controller.timebase.now
        let wasReset = old & HDARegister.ctlSRST != 0
        if new & HDARegister.ctlSRST != 0 {
            if !wasReset {
                if old & HDARegister.ctlRUN != 0 || DMAStream.isActive(dma.currentTiming(), at: now) {
                    controller.errors.note(.resetWhileRunning, UInt64(index))
                }
                reset()
                ctl.store(HDARegister.ctlSRST, ordering: .releasing)
            }
            return
        }
        let runBefore = old & HDARegister.ctlRUN != 0 && !wasReset
        let runAfter = new & HDARegister.ctlRUN != 0
        if !runBefore && runAfter {
            startRun(at: now)
        } else if runBefore && !runAfter {
            dma.stop(at: now)
        }
        refreshCause()
        controller.interruptLine.signal()
    }

    /// SRST (and CRST): every register but SRST to its reset value, the engine rewound, the FIFO emptied.
    func reset() {
        dma.stop(at: controller.timebase.now)
        dma.reset()
        dma.load(nil)
        ctl.store(0, ordering: .releasing)
        sts.store(0, ordering: .releasing)
        cbl.store(0, ordering: .releasing)
        lvi.store(0, ordering: .releasing)
        fmt.store(0, ordering: .releasing)
        bdpl.store(0, ordering: .releasing)
        bdpu.store(0, ordering: .releasing)
        bcisAcknowledged.store(0, ordering: .releasing)
        controller.startedMask.bitwiseAnd(~bit, ordering: .acquiringAndReleasing)
        refreshCause()
    }

    /// RUN 0→1: fetch and check the BDL, load the DMA program, start the link
    /// (unless SSYNC holds it). A BDL that cannot be used is a descriptor error.
    private func startRun(at now: UInt64) {
        guard !controller.inReset else {
            controller.errors.note(.runWithoutCRST, UInt64(index))
            return descriptorError()
        }
        let entries = Int(lvi.load(ordering: .acquiring)) + 1
        guard entries >= 2 else {
            controller.errors.note(.lviBelowOne, UInt64(entries - 1))
            return descriptorError()
        }
        let length = UInt64(cbl.load(ordering: .acquiring))
        guard length > 0 else {
            controller.errors.note(.cblZero)
            return descriptorError()
        }
        let f = format
        guard f.isValid, let streamFormat = f.streamFormat else {
            controller.errors.note(.badFormat, UInt64(f.raw))
            return descriptorError()
        }
        let high = controller.profile.addressBits >= 64 ? UInt64(bdpu.load(ordering: .acquiring)) : 0
        let base = high << 32 | UInt64(bdpl.load(ordering: .acquiring))
        guard let list = fetchBDL(at: base, entries: entries) else {
            controller.errors.note(.bdlNotFetchable, base)
            return descriptorError()
        }
        let dmaController = DMAController(profile: controller.profile, memory: controller.memory,
                                          faithfulFaults: controller.faithfulFaults)
        do {
            try dmaController.program(descriptors: list)
        } catch {
            controller.noteProgramError(error)
            return descriptorError()
        }
        var points: [UInt64] = []
        var sum: UInt64 = 0
        for d in list {
            sum += UInt64(d.length)
            if d.interruptOnCompletion { points.append(sum) }
        }
        if sum != length { controller.errors.note(.cblMismatch, length) }
        let tag = streamTag
        if tag == 0 { controller.errors.note(.streamTagZero, UInt64(index)) }
        gate.connected.store(tag != 0, ordering: .releasing)
        do { try gate.prepare(streamFormat) } catch { controller.errors.note(.sinkFormatRefused, UInt64(f.raw)) }
        dma.configure(rate: streamFormat.sampleRate, blockAlign: f.blockAlign, fifoBytes: Int(fifoSizeRegister) + 1,
                      burstBytes: controller.profile.burstBytes)
        dma.load(DMAStream.Program(dma: dmaController, schedule: DMAStream.InterruptSchedule(period: sum, points: points)))
        if !controller.isSynchronising(index) { startEngine(at: now) }
    }

    /// DESE: the stream stops and RUN clears; DEIE makes it an interrupt.
    private func descriptorError() {
        ctl.bitwiseAnd(~HDARegister.ctlRUN, ordering: .acquiringAndReleasing)
        _ = sts.bitwiseOr(HDARegister.stsDESE, ordering: .acquiringAndReleasing)
        refreshCause()
        controller.interruptLine.signal()
    }

    /// Reads LVI+1 BDL entries from emulated memory; nil when any byte of the list is not allocated RAM.
    private func fetchBDL(at base: UInt64, entries: Int) -> [DMADescriptor]? {
        let memory = controller.memory
        let bytes = entries * HDARegister.bdlEntrySize
        let (end, overflow) = base.addingReportingOverflow(UInt64(bytes))
        guard !overflow, end <= memory.map.end.rawValue else { return nil }
        var page = base / UInt64(memory.pageSize)
        while page * UInt64(memory.pageSize) < end {
            let address = PhysicalAddress(page * UInt64(memory.pageSize))
            guard memory.map.isRAM(address), memory.owner(of: address) != .freePage else { return nil }
            page += 1
        }
        memory.dmaAudit.access(base, count: bytes, write: false)
        let raw = UnsafeRawPointer(memory.physicalView + Int(base))
        return (0..<entries).map { i in
            let e = raw + i * HDARegister.bdlEntrySize
            let address = UInt64(littleEndian: e.loadUnaligned(as: UInt64.self))
            let length = UInt32(littleEndian: e.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
            let flags = UInt32(littleEndian: e.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
            return DMADescriptor(address: PhysicalAddress(address), length: Int(length), interruptOnCompletion: flags & 1 != 0)
        }
    }

    // MARK: Pass

    private func interruptOnCompletion(at time: UInt64) {
        controller.writePositionBuffer(index, lpib(at: time))
        // A W1C that came after the crossing has already acknowledged it.
        guard time > bcisAcknowledged.load(ordering: .acquiring) else { return }
        _ = sts.bitwiseOr(HDARegister.stsBCIS, ordering: .acquiringAndReleasing)
        refreshCause()
    }

    func service(now: UInt64) {
        guard dma.hasProgram else { return }
        dma.service(now: now)
        if controller.positionBufferEnabled, dma.currentTiming().running { controller.writePositionBuffer(index, lpib(at: now)) }
    }
}

/// Between a descriptor and its codec: bytes pass only while the stream tag
/// names a stream (tag 0 is reserved: nothing reaches the converter). Tells
/// the sink or source the format the descriptor's FMT programs.
final class LinkGate: AudioSink, AudioSource, @unchecked Sendable {
    let sink: (any AudioSink)?
    let source: (any AudioSource)?
    let connected = Atomic<Bool>(false)
    private let prepared = Mutex<StreamFormat?>(nil)

    init(sink: (any AudioSink)?, source: (any AudioSource)?) {
        self.sink = sink
        self.source = source
    }

    func prepare(_ format: StreamFormat) throws {
        try prepared.withLock { current in
            guard current != format else { return }
            try sink?.prepare(format: format)
            try source?.prepare(format: format)
            current = format
        }
    }

    func prepare(format: StreamFormat) throws { try prepare(format) }

    func consume(_ bytes: UnsafeRawBufferPointer) {
        if connected.load(ordering: .relaxed) { sink?.consume(bytes) }
    }

    func produce(into buffer: UnsafeMutableRawBufferPointer) {
        if connected.load(ordering: .relaxed), let source {
            source.produce(into: buffer)
        } else if let base = buffer.baseAddress {
            memset(base, 0, buffer.count)
        }
    }

    func finish() {
        sink?.finish()
        source?.finish()
    }
}
