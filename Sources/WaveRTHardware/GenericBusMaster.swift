import Glibc
import Synchronization
import WaveRTDMA
import WaveRTEngine
import WaveRTMemory

/// `sg`: a generic PCI bus-master audio device with a scatter-gather
/// descriptor table, defined by this project (there is no silicon to be
/// faithful to; the register set is what most such devices have). Two
/// channels: 0 renders, 1 captures. BAR0 is 4 KiB; all registers are 32-bit.
///
/// | Offset | Name | Access | Meaning |
/// |---|---|---|---|
/// | 0x00 | ID | RO | 0x5753_4731 ("WSG1") |
/// | 0x04 | CAPS | RO | bit 0: 64-bit descriptor addresses; 15:8 channels (2); 31:16 most descriptors per table |
/// | 0x08 | INTSTS | RO | bit n: channel n requests an interrupt |
/// | 0x40 + 0x40·n | CTL | RW | bit 0 RUN, 1 IE (interrupt on IOC), 2 RESET (write 1: reset the channel; reads 0), 3 EIE (interrupt on error) |
/// | +0x04 | STS | W1C | bit 0 IOC (a descriptor with IOC completed), 1 ERR (descriptor table refused), 2 ACTIVE (RO) |
/// | +0x08 / +0x0C | DESCBASE lo/hi | RW | physical address of the descriptor table (16-byte aligned) |
/// | +0x10 | DESCCOUNT | RW | descriptors in the table (1 … CAPS limit) |
/// | +0x14 | FORMAT | RW | 19:0 frames per second, 25:20 channels − 1, 28:26 sample format (0 S16, 1 S24 packed, 2 S32, 3 F32) |
/// | +0x18 | POSITION | RO | byte offset in the buffer of the next frame on the DAC/ADC side |
/// | +0x1C | LENGTH | RO | bytes in one pass over the table (latched at RUN) |
/// | +0x20 | FIFOSIZE | RO | bytes the channel fetches ahead of POSITION (follows FORMAT) |
///
/// A descriptor is 16 bytes: 64-bit address, 32-bit length, 32-bit flags
/// (bit 0 IOC). The table is read at RUN 0→1 and checked against the DMA
/// profile; a table that cannot be read or used sets ERR and the channel does
/// not run. POSITION is kept across RUN 1→0→1 and zeroed by RESET. The line
/// is Σ (STS.IOC·CTL.IE + STS.ERR·CTL.EIE), level-triggered.
///
/// With `coarsePosition` the device updates POSITION only when a descriptor
/// with IOC completes, as cheap hardware does: what a timing test must catch.
public final class GenericBusMaster: RegisterBlock, InterruptSource, TimedWork, @unchecked Sendable {
    public enum GuestError: Int, CaseIterable, CustomStringConvertible, Sendable {
        case badFormat, tableNotReadable, countOutOfRange, programRefused, readOnlyWrite, writeWhileRunning

        public var description: String {
            switch self {
            case .badFormat: "RUN with a FORMAT the device cannot play (rate 0, or sample format > 3)"
            case .tableNotReadable: "the descriptor table at DESCBASE is not allocated RAM"
            case .countOutOfRange: "DESCCOUNT is 0 or above the CAPS limit"
            case .programRefused: "the descriptor table breaks the DMA profile's rules"
            case .readOnlyWrite: "write to a read-only register"
            case .writeWhileRunning: "DESCBASE, DESCCOUNT or FORMAT written while RUN = 1: used only at the next RUN"
            }
        }
    }

    public static let identifier: UInt32 = 0x5753_4731
    public static let channelBase = 0x40
    public static let channelStride = 0x40
    public static let descriptorSize = 16

    public let name = "sg"
    public let size = 0x1000
    public let faults = BusFaults()
    public let errors = GuestErrors<GuestError>(device: "sg")
    public let interruptLine = InterruptLine(name: "sg")
    public let profile: DMAProfile
    public let faithfulFaults: Bool
    public let coarsePosition: Bool
    public let memory: PhysicalMemory
    public let timebase: any Timebase
    /// Channel 0 renders, 1 captures (control path: a copy of the list).
    public var channels: [Channel] { list.elements }
    /// The channels, iterated by passes and register accesses without reference counting.
    let list = ObjectList<Channel>(capacity: 2)
    public var lastProgramError: String? { programError.withLock { $0 } }
    private let programError = Mutex<String?>(nil)
    let passGuard: PassGuard

    public init(memory: PhysicalMemory, timebase: any Timebase, passGuard: PassGuard, profile: DMAProfile = .pcie64SG,
                faithfulFaults: Bool = false, coarsePosition: Bool = false,
                sink: (any AudioSink)? = nil, source: (any AudioSource)? = nil)
    {
        self.memory = memory
        self.timebase = timebase
        self.passGuard = passGuard
        self.profile = profile
        self.faithfulFaults = faithfulFaults
        self.coarsePosition = coarsePosition
        list.append(Channel(index: 0, device: self, sink: sink, source: nil))
        list.append(Channel(index: 1, device: self, sink: nil, source: source))
        interruptLine.drive(from: self)
    }

    // MARK: RegisterBlock

    public func read(offset: Int, width: AccessWidth) -> UInt64 {
        guard width == .dword, offset % 4 == 0, offset >= 0, offset < size else {
            faults.badWidth(offset: offset, width: width)
            return width.mask
        }
        let now = timebase.now
        switch offset {
        case 0x00: return UInt64(Self.identifier)
        case 0x04: return UInt64((profile.addressBits >= 64 ? 1 : 0) | 2 << 8 | min(profile.maxSegments, 0xFFFF) << 16)
        case 0x08:
            var value: UInt64 = 0
            list.forEach { c in if c.requestsInterrupt { value |= 1 << UInt64(c.index) } }
            return value
        case Self.channelBase..<(Self.channelBase + list.count * Self.channelStride):
            let v = list.with((offset - Self.channelBase) / Self.channelStride) { $0.read((offset - Self.channelBase) % Self.channelStride, at: now) }
            if let v { return UInt64(v) }
        default: break
        }
        faults.unknownRead(offset: offset, width: width)
        return width.mask
    }

    public func write(offset: Int, width: AccessWidth, value: UInt64) {
        guard width == .dword, offset % 4 == 0, offset >= 0, offset < size else {
            faults.badWidth(offset: offset, width: width)
            return
        }
        switch offset {
        case 0x00, 0x04, 0x08: errors.note(.readOnlyWrite, UInt64(offset))
        case Self.channelBase..<(Self.channelBase + list.count * Self.channelStride):
            let done = list.with((offset - Self.channelBase) / Self.channelStride) {
                $0.write((offset - Self.channelBase) % Self.channelStride, UInt32(truncatingIfNeeded: value))
            }
            if !done {
                faults.unknownWrite(offset: offset, width: width)
            }
        default: faults.unknownWrite(offset: offset, width: width)
        }
    }

    public var interruptLevel: Bool {
        var level = false
        list.forEach { c in if !level && c.requestsInterrupt { level = true } }
        return level
    }

    func noteProgramError(_ error: DMAProgramError) {
        errors.note(.programRefused)
        programError.withLock { $0 = error.description }
    }

    // MARK: TimedWork

    public func setWakeHandler(_ wake: @escaping @Sendable () -> Void) {
        list.forEach { $0.dma.setWakeHandler(wake) }
    }

    public func nextDeadline() -> UInt64? {
        var earliest: UInt64?
        list.forEach { c in
            if let t = c.dma.nextDeadline(), t < (earliest ?? .max) { earliest = t }
        }
        return earliest
    }

    public func service(now: UInt64) {
        list.forEach { $0.dma.service(now: now) }
        interruptLine.signal()
    }

    /// One channel of the device.
    public final class Channel: @unchecked Sendable {
        public let index: Int
        unowned(unsafe) let device: GenericBusMaster
        public let dma: DMAStream
        let ctl = Atomic<UInt32>(0)
        let sts = Atomic<UInt32>(0)
        let descLow = Atomic<UInt32>(0)
        let descHigh = Atomic<UInt32>(0)
        let descCount = Atomic<UInt32>(0)
        let format = Atomic<UInt32>(0)
        let length = Atomic<UInt32>(0)
        let fifo = Atomic<UInt32>(0)
        private let iocAcknowledged = Atomic<UInt64>(0)
        private let prepared = Mutex<StreamFormat?>(nil)
        let sink: (any AudioSink)?
        let source: (any AudioSource)?

        static let run: UInt32 = 1 << 0, ie: UInt32 = 1 << 1, reset: UInt32 = 1 << 2, eie: UInt32 = 1 << 3
        static let ioc: UInt32 = 1 << 0, err: UInt32 = 1 << 1, active: UInt32 = 1 << 2

        init(index: Int, device: GenericBusMaster, sink: (any AudioSink)?, source: (any AudioSource)?) {
            self.index = index
            self.device = device
            self.sink = sink
            self.source = source
            dma = DMAStream(direction: index == 0 ? .render : .capture, timebase: device.timebase,
                            passGuard: device.passGuard, sink: sink, source: source)
            dma.onInterruptPoint = { [unowned(unsafe) self] _, time in
                if time > self.iocAcknowledged.load(ordering: .acquiring) {
                    _ = self.sts.bitwiseOr(Self.ioc, ordering: .acquiringAndReleasing)
                }
            }
        }

        /// The stream format FORMAT programs, or nil for an encoding the device cannot play.
        public var streamFormat: StreamFormat? {
            let raw = format.load(ordering: .acquiring)
            let rate = Int(raw & 0xF_FFFF), count = Int((raw >> 20) & 0x3F) + 1, code = Int((raw >> 26) & 0x7)
            let sample: [StreamFormat.SampleFormat] = [.int16, .int24, .int32, .float32]
            guard rate > 0, code < sample.count else { return nil }
            return try? StreamFormat(sampleRate: rate, channels: count, sampleFormat: sample[code])
        }

        /// The FORMAT register value for `format`.
        public static func encode(_ format: StreamFormat) -> UInt32 {
            let code: UInt32 = switch format.sampleFormat {
            case .int16: 0
            case .int24: 1
            case .int32: 2
            case .float32: 3
            }
            return UInt32(format.sampleRate) & 0xF_FFFF | UInt32(format.channels - 1) << 20 | code << 26
        }

        var requestsInterrupt: Bool {
            let c = ctl.load(ordering: .acquiring), s = sts.load(ordering: .acquiring)
            return (s & Self.ioc != 0 && c & Self.ie != 0) || (s & Self.err != 0 && c & Self.eie != 0)
        }

        func read(_ offset: Int, at now: UInt64) -> UInt32? {
            let t = dma.currentTiming()
            switch offset {
            case 0x00: return ctl.load(ordering: .acquiring) & ~Self.reset
            case 0x04:
                var s = sts.load(ordering: .acquiring)
                if let crossed = dma.unprocessedCrossing(at: now), crossed > iocAcknowledged.load(ordering: .acquiring) { s |= Self.ioc }
                if DMAStream.isActive(t, at: now) { s |= Self.active }
                return s
            case 0x08: return descLow.load(ordering: .relaxed)
            case 0x0C: return descHigh.load(ordering: .relaxed)
            case 0x10: return descCount.load(ordering: .relaxed)
            case 0x14: return format.load(ordering: .relaxed)
            case 0x18: return position(t, at: now)
            case 0x1C: return length.load(ordering: .relaxed)
            case 0x20: return fifo.load(ordering: .relaxed)
            default: return nil
            }
        }

        /// POSITION: link bytes modulo the table length, or (coarse) the last IOC boundary passed.
        private func position(_ t: DMAStream.Timing, at now: UInt64) -> UInt32 {
            let cycle = UInt64(length.load(ordering: .relaxed))
            guard cycle > 0 else { return 0 }
            let link = DMAStream.linkBytes(t, at: now)
            guard device.coarsePosition, let schedule = dma.program?.schedule, !schedule.points.isEmpty else {
                return UInt32(truncatingIfNeeded: link % cycle)
            }
            let fetched = dma.dmaBytes(t, at: now)
            let lap = fetched / schedule.period, inLap = fetched % schedule.period
            let boundary = schedule.points.last { $0 <= inLap }.map { lap * schedule.period + $0 } ?? lap * schedule.period
            return UInt32(truncatingIfNeeded: boundary % cycle)
        }

        func write(_ offset: Int, _ value: UInt32) -> Bool {
            let running = ctl.load(ordering: .acquiring) & Self.run != 0
            switch offset {
            case 0x00: writeControl(value)
            case 0x04:
                let clear = value & (Self.ioc | Self.err)
                if clear & Self.ioc != 0 { iocAcknowledged.store(device.timebase.now, ordering: .releasing) }
                sts.bitwiseAnd(~clear, ordering: .acquiringAndReleasing)
            case 0x08, 0x0C, 0x10, 0x14:
                if running { device.errors.note(.writeWhileRunning, UInt64(offset)) }
                switch offset {
                case 0x08: descLow.store(value, ordering: .releasing)
                case 0x0C: descHigh.store(value, ordering: .releasing)
                case 0x10: descCount.store(value, ordering: .releasing)
                default:
                    format.store(value, ordering: .releasing)
                    // FIFOSIZE follows FORMAT (a driver reads it for KSRTAUDIO_HWLATENCY before RUN);
                    // while running the new format waits for the next RUN, and so does its FIFO.
                    if !running, let f = streamFormat { fifo.store(UInt32(device.profile.fifoFrames * f.blockAlign), ordering: .releasing) }
                }
            case 0x18, 0x1C, 0x20: device.errors.note(.readOnlyWrite, UInt64(offset))
            default: return false
            }
            return true
        }

        private func writeControl(_ value: UInt32) {
            let now = device.timebase.now
            if value & Self.reset != 0 {
                dma.stop(at: now)
                dma.reset()
                dma.load(nil)
                ctl.store(0, ordering: .releasing)
                sts.store(0, ordering: .releasing)
                length.store(0, ordering: .releasing)
                iocAcknowledged.store(0, ordering: .releasing)
                return
            }
            let old = ctl.exchange(value & (Self.run | Self.ie | Self.eie), ordering: .acquiringAndReleasing)
            if old & Self.run == 0 && value & Self.run != 0 {
                start(at: now)
            } else if old & Self.run != 0 && value & Self.run == 0 {
                dma.stop(at: now)
            }
            device.interruptLine.signal()
        }

        private func start(at now: UInt64) {
            guard let f = streamFormat else { return refuse(.badFormat, UInt64(format.load(ordering: .relaxed))) }
            let count = Int(descCount.load(ordering: .acquiring))
            guard count >= 1 && count <= device.profile.maxSegments else { return refuse(.countOutOfRange, UInt64(count)) }
            let base = UInt64(descHigh.load(ordering: .acquiring)) << 32 | UInt64(descLow.load(ordering: .acquiring))
            guard let list = readTable(at: base, count: count) else { return refuse(.tableNotReadable, base) }
            let controller = DMAController(profile: device.profile, memory: device.memory, faithfulFaults: device.faithfulFaults)
            do { try controller.program(descriptors: list) } catch {
                device.noteProgramError(error)
                return refuse(nil, 0)
            }
            var points: [UInt64] = []
            var sum: UInt64 = 0
            for d in list {
                sum += UInt64(d.length)
                if d.interruptOnCompletion { points.append(sum) }
            }
            length.store(UInt32(truncatingIfNeeded: sum), ordering: .releasing)
            let fifoBytes = device.profile.fifoFrames * f.blockAlign
            fifo.store(UInt32(fifoBytes), ordering: .releasing)
            prepared.withLock { current in
                guard current != f else { return }
                try? sink?.prepare(format: f)
                try? source?.prepare(format: f)
                current = f
            }
            dma.configure(rate: f.sampleRate, blockAlign: f.blockAlign, fifoBytes: fifoBytes, burstBytes: device.profile.burstBytes)
            dma.load(DMAStream.Program(dma: controller, schedule: DMAStream.InterruptSchedule(period: sum, points: points)))
            dma.start(at: now)
        }

        private func refuse(_ error: GuestError?, _ detail: UInt64) {
            if let error { device.errors.note(error, detail) }
            ctl.bitwiseAnd(~Self.run, ordering: .acquiringAndReleasing)
            _ = sts.bitwiseOr(Self.err, ordering: .acquiringAndReleasing)
            device.interruptLine.signal()
        }

        private func readTable(at base: UInt64, count: Int) -> [DMADescriptor]? {
            let memory = device.memory
            let bytes = UInt64(count * GenericBusMaster.descriptorSize)
            let (end, overflow) = base.addingReportingOverflow(bytes)
            guard !overflow, base % 16 == 0, end <= memory.map.end.rawValue else { return nil }
            var page = base / UInt64(memory.pageSize)
            while page * UInt64(memory.pageSize) < end {
                let address = PhysicalAddress(page * UInt64(memory.pageSize))
                guard memory.map.isRAM(address), memory.owner(of: address) != .freePage else { return nil }
                page += 1
            }
            memory.dmaAudit.access(base, count: Int(bytes), write: false)
            let raw = UnsafeRawPointer(memory.physicalView + Int(base))
            return (0..<count).map { i in
                let e = raw + i * GenericBusMaster.descriptorSize
                return DMADescriptor(address: PhysicalAddress(UInt64(littleEndian: e.loadUnaligned(as: UInt64.self))),
                                     length: Int(UInt32(littleEndian: e.loadUnaligned(fromByteOffset: 8, as: UInt32.self))),
                                     interruptOnCompletion: UInt32(littleEndian: e.loadUnaligned(fromByteOffset: 12, as: UInt32.self)) & 1 != 0)
            }
        }
    }
}
