import Synchronization
import WaveRTEngine
import WaveRTMemory

/// The PC/AT's two Intel 8237 DMA controllers and their page registers, as
/// port I/O (Intel 8237A datasheet; the PC/AT wiring): controller 1 moves
/// bytes on channels 0–3 at ports 0x00–0x0F, controller 2 moves 16-bit words
/// on channels 4–7 at the even ports 0xC0–0xDE (channel 4 cascades
/// controller 1), and the page registers at 0x81–0x8F supply address bits
/// 23:16.
///
/// Registers follow the silicon (see `WaveRTHardware.docc/ISA.md`):
/// - Address and count are 16 bits, written and read low byte then high byte
///   through each controller's flip-flop, which every access to an address or
///   count port toggles and 0x0C/0xD8 (or a master clear) resets. A write
///   loads both the base and the current register; reads return the current one.
/// - The count is transfers − 1; terminal count (TC) is the count rolling
///   from 0 to 0xFFFF. Auto-initialise reloads the current registers from the
///   base ones; without it the channel masks itself. The status register
///   shows TC per channel, cleared by reading it.
/// - The address counter does not carry into the page: an 8-bit channel wraps
///   inside its 64 KiB page, a 16-bit channel (word address × 2, page bit 0
///   ignored) inside its 128 KiB page. QEMU ORs page bit 0 in and does not
///   wrap; this model follows the silicon.
///
/// The channel moves data only for the device whose DREQ line is wired to it
/// (``ISADMAChannelClient``, the SB16 DSP); its current address and count are
/// computed from that device's transfers at the instant they are read.
public final class ISADMAController: @unchecked Sendable {
    public enum GuestError: Int, CaseIterable, CustomStringConvertible, Sendable {
        case undecodedPort, verifyMode, cascadeTransfer

        public var description: String {
            switch self {
            case .undecodedPort: "access to a port the 8237 does not decode"
            case .verifyMode: "a channel programmed for verify transfers moves no data"
            case .cascadeTransfer: "channel 4 cascades controller 1 and cannot transfer"
            }
        }
    }

    /// What a channel's device reports so the count and address can be computed.
    public protocol ISADMAChannelClient: AnyObject, Sendable {
        /// Bytes moved through the channel since it was last programmed.
        func bytesTransferred(channel: Int, at time: UInt64) -> UInt64
    }

    public let errors = GuestErrors<GuestError>(device: "8237")
    public let faults = BusFaults()
    let timebase: any Timebase
    public private(set) var channels: [Channel] = []
    private let controllers: [ControllerState]

    /// One controller's shared state.
    final class ControllerState: @unchecked Sendable {
        let flipFlop = Atomic<Bool>(false)
        let command = Atomic<UInt8>(0)
        let temporary = Atomic<UInt8>(0)
        let request = Atomic<UInt8>(0)
    }

    public init(timebase: any Timebase) {
        self.timebase = timebase
        for i in 0..<16 { (pageScratch + i).initialize(to: Atomic(0)) }
        controllers = [ControllerState(), ControllerState()]
        channels = (0..<8).map { Channel(number: $0, controller: self) }
    }

    deinit {
        pageScratch.deinitialize(count: 16)
        pageScratch.deallocate()
    }

    /// The register blocks to attach: controller 1, controller 2, the page registers.
    public var blocks: [(block: any RegisterBlock, window: BusWindow)] {
        [(Ports(self, kind: .controller1), .ports(base: 0x00, length: 0x10)),
         (Ports(self, kind: .controller2), .ports(base: 0xC0, length: 0x20)),
         (Ports(self, kind: .pages), .ports(base: 0x80, length: 0x10))]
    }

    /// Page register port of each channel (channel 4's 0x8F is the refresh page on the AT).
    static let pagePorts: [UInt16] = [0x87, 0x83, 0x81, 0x82, 0x8F, 0x8B, 0x89, 0x8A]
    private let pageScratch = UnsafeMutablePointer<Atomic<UInt8>>.allocate(capacity: 16)

    /// One 8237 channel: base and current registers, mode, mask, page.
    public final class Channel: @unchecked Sendable {
        public let number: Int
        unowned(unsafe) let controller: ISADMAController
        let baseAddress = Atomic<UInt16>(0)
        let baseCount = Atomic<UInt16>(0)
        let mode = Atomic<UInt8>(0)
        let page = Atomic<UInt8>(0)
        let masked = Atomic<Bool>(true)
        /// Bumped by every write that changes the program, so the device reloads it.
        let generation = Atomic<UInt64>(0)
        /// Terminal counts already reported by a status read.
        let reportedTerminalCounts = Atomic<UInt64>(0)
        private let clientFast = UnsafeMutablePointer<Unmanaged<AnyObject>?>.allocate(capacity: 1)

        init(number: Int, controller: ISADMAController) {
            self.number = number
            self.controller = controller
            clientFast.initialize(to: nil)
        }

        /// Word channels (5–7) move 2 bytes per transfer.
        public var transferBytes: Int { number >= 4 ? 2 : 1 }

        /// Mode bits 3:2: 01 write (device to memory), 10 read (memory to device).
        public var isWriteToMemory: Bool { (mode.load(ordering: .acquiring) >> 2) & 3 == 1 }
        public var isReadFromMemory: Bool { (mode.load(ordering: .acquiring) >> 2) & 3 == 2 }
        public var autoInitialise: Bool { mode.load(ordering: .acquiring) & 0x10 != 0 }
        public var isMasked: Bool { masked.load(ordering: .acquiring) }
        public var programGeneration: UInt64 { generation.load(ordering: .acquiring) }

        /// The physical address of the first transfer and the bytes until terminal count.
        public var window: (base: PhysicalAddress, length: Int) {
            let p = UInt64(page.load(ordering: .acquiring)), a = UInt64(baseAddress.load(ordering: .acquiring))
            let base = number >= 4 ? (p & 0xFE) << 16 | a << 1 : p << 16 | a
            return (PhysicalAddress(base), (Int(baseCount.load(ordering: .acquiring)) + 1) * transferBytes)
        }

        /// The page the address counter stays inside: 64 KiB (bytes) or 128 KiB (words).
        public var wrapBoundary: UInt64 { number >= 4 ? 128 * 1024 : 64 * 1024 }

        /// Wires the device on this channel's DREQ line. Unretained: the device holds the
        /// controller, so a reference back would keep both (and the machine's memory) alive
        /// for ever; a device disconnects when it goes (``disconnect(_:)``).
        public func connect(_ client: ISADMAChannelClient) {
            clientFast.pointee = Unmanaged.passUnretained(client as AnyObject)
        }

        /// Unwires `client` if it is the device on this channel (from its deinit).
        public func disconnect(_ client: ISADMAChannelClient) {
            if clientFast.pointee?.toOpaque() == Unmanaged.passUnretained(client as AnyObject).toOpaque() { clientFast.pointee = nil }
        }

        func transfers(at time: UInt64) -> UInt64 {
            guard let c = clientFast.pointee else { return 0 }
            let client = c.takeUnretainedValue() as! ISADMAChannelClient
            return client.bytesTransferred(channel: number, at: time) / UInt64(transferBytes)
        }

        /// The current address and count registers and terminal counts so far, at `time`.
        func current(at time: UInt64) -> (address: UInt16, count: UInt16, terminalCounts: UInt64) {
            let n = transfers(at: time)
            let period = UInt64(baseCount.load(ordering: .acquiring)) + 1
            let tcs = n / period
            // Auto-initialise reloads at each TC; a single-cycle channel stops (and masks) at the first.
            let done = autoInitialise ? n % period : min(n, period)
            let decrement = mode.load(ordering: .acquiring) & 0x20 != 0
            let base = baseAddress.load(ordering: .acquiring)
            let step = UInt16(truncatingIfNeeded: done)
            let address = decrement ? base &- step : base &+ step
            let count = done == period ? UInt16(0xFFFF) : UInt16(truncatingIfNeeded: period - 1 - done)
            return (address, count, autoInitialise ? tcs : min(tcs, 1))
        }

        func programChanged() { generation.add(1, ordering: .releasing) }
    }

    enum PortKind { case controller1, controller2, pages }

    /// The port blocks (each a view of the same controller state).
    final class Ports: RegisterBlock, @unchecked Sendable {
        unowned(unsafe) let dma: ISADMAController
        let kind: PortKind
        init(_ dma: ISADMAController, kind: PortKind) {
            self.dma = dma
            self.kind = kind
        }
        var name: String { kind == .pages ? "8237 pages" : "8237" }
        var size: Int { kind == .controller2 ? 0x20 : 0x10 }
        var faults: BusFaults { dma.faults }
        func read(offset: Int, width: AccessWidth) -> UInt64 { dma.read(kind, offset, width) }
        func write(offset: Int, width: AccessWidth, value: UInt64) { dma.write(kind, offset, width, UInt8(truncatingIfNeeded: value)) }
    }

    // MARK: Port access

    /// Register index 0–15 of an access, or nil when the port is not decoded (odd ports of controller 2).
    private func registerIndex(_ kind: PortKind, _ offset: Int) -> Int? {
        switch kind {
        case .controller1: offset
        case .controller2: offset % 2 == 0 ? offset / 2 : nil
        case .pages: nil
        }
    }

    func read(_ kind: PortKind, _ offset: Int, _ width: AccessWidth) -> UInt64 {
        guard width == .byte else {
            faults.badWidth(offset: offset, width: width)
            return width.mask
        }
        if kind == .pages {
            let port = UInt16(0x80 + offset)
            if let ch = Self.pagePorts.firstIndex(of: port) { return UInt64(channels[ch].page.load(ordering: .acquiring)) }
            return UInt64(pageScratch[offset].load(ordering: .relaxed))
        }
        guard let r = registerIndex(kind, offset) else {
            errors.note(.undecodedPort, UInt64(offset))
            return 0xFF
        }
        let c = kind == .controller1 ? 0 : 1
        let state = controllers[c]
        let now = timebase.now
        switch r {
        case 0...7:
            let channel = channels[c * 4 + r / 2]
            let high = state.flipFlop.exchange(!state.flipFlop.load(ordering: .acquiring), ordering: .acquiringAndReleasing)
            let current = channel.current(at: now)
            let value = r % 2 == 0 ? current.address : current.count
            return UInt64(high ? value >> 8 : value & 0xFF)
        case 8:
            // Status: TC bits 3:0 (cleared by this read), request bits 7:4.
            var status: UInt8 = 0
            for i in 0..<4 {
                let channel = channels[c * 4 + i]
                let tcs = channel.current(at: now).terminalCounts
                if tcs > channel.reportedTerminalCounts.exchange(tcs, ordering: .acquiringAndReleasing) { status |= 1 << UInt8(i) }
                if !channel.isMasked && channel.transfers(at: now) > 0 { status |= 0x10 << UInt8(i) }
            }
            return UInt64(status)
        case 13: return UInt64(state.temporary.load(ordering: .relaxed))
        case 15:
            var mask: UInt8 = 0xF0
            for i in 0..<4 where channels[c * 4 + i].isMasked { mask |= 1 << UInt8(i) }
            return UInt64(mask)
        default:
            faults.unknownRead(offset: offset, width: width)
            return 0xFF
        }
    }

    func write(_ kind: PortKind, _ offset: Int, _ width: AccessWidth, _ value: UInt8) {
        guard width == .byte else { return faults.badWidth(offset: offset, width: width) }
        if kind == .pages {
            let port = UInt16(0x80 + offset)
            if let ch = Self.pagePorts.firstIndex(of: port) {
                channels[ch].page.store(value, ordering: .releasing)
                channels[ch].programChanged()
            } else {
                pageScratch[offset].store(value, ordering: .relaxed)
            }
            return
        }
        guard let r = registerIndex(kind, offset) else { return errors.note(.undecodedPort, UInt64(offset)) }
        let c = kind == .controller1 ? 0 : 1
        let state = controllers[c]
        switch r {
        case 0...7:
            let channel = channels[c * 4 + r / 2]
            let high = state.flipFlop.exchange(!state.flipFlop.load(ordering: .acquiring), ordering: .acquiringAndReleasing)
            func merged(_ old: UInt16) -> UInt16 { high ? (old & 0x00FF) | UInt16(value) << 8 : (old & 0xFF00) | UInt16(value) }
            if r % 2 == 0 {
                channel.baseAddress.store(merged(channel.baseAddress.load(ordering: .acquiring)), ordering: .releasing)
            } else {
                channel.baseCount.store(merged(channel.baseCount.load(ordering: .acquiring)), ordering: .releasing)
            }
            channel.programChanged()
        case 8: state.command.store(value, ordering: .relaxed)
        case 9: state.request.store(value, ordering: .relaxed)
        case 10:
            channels[c * 4 + Int(value & 3)].masked.store(value & 4 != 0, ordering: .releasing)
            channels[c * 4 + Int(value & 3)].programChanged()
        case 11:
            let channel = channels[c * 4 + Int(value & 3)]
            channel.mode.store(value, ordering: .releasing)
            if (value >> 2) & 3 == 0 { errors.note(.verifyMode, UInt64(channel.number)) }
            if (value >> 6) & 3 == 3 && channel.number != 4 { errors.note(.cascadeTransfer, UInt64(channel.number)) }
            channel.programChanged()
        case 12: state.flipFlop.store(false, ordering: .releasing)
        case 13:
            // Master clear: command, status, request, temporary and flip-flop cleared; every channel masked.
            state.command.store(0, ordering: .relaxed)
            state.request.store(0, ordering: .relaxed)
            state.temporary.store(0, ordering: .relaxed)
            state.flipFlop.store(false, ordering: .releasing)
            for i in 0..<4 {
                channels[c * 4 + i].masked.store(true, ordering: .releasing)
                channels[c * 4 + i].programChanged()
            }
        case 14:
            for i in 0..<4 {
                channels[c * 4 + i].masked.store(false, ordering: .releasing)
                channels[c * 4 + i].programChanged()
            }
        case 15:
            for i in 0..<4 {
                channels[c * 4 + i].masked.store(value & (1 << UInt8(i)) != 0, ordering: .releasing)
                channels[c * 4 + i].programChanged()
            }
        default:
            faults.unknownWrite(offset: offset, width: width)
        }
    }
}
