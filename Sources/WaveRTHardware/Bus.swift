import Synchronization
import WaveRTEngine
import WaveRTMemory

/// The width of one register access, as the bus carries it (READ_REGISTER_UCHAR
/// / USHORT / ULONG / ULONG64, or READ_PORT_*).
public enum AccessWidth: Int, Sendable, Hashable, CustomStringConvertible {
    case byte = 1, word = 2, dword = 4, qword = 8

    @inlinable public var bits: Int { rawValue * 8 }
    @inlinable @inline(__always) public var mask: UInt64 { rawValue == 8 ? .max : (1 << UInt64(rawValue * 8)) - 1 }
    public var description: String { "\(bits)-bit" }
}

/// A device's registers as the bus sees them: typed accesses at offsets, as
/// QEMU's `MemoryRegionOps`. Reads and writes may come from any thread
/// (a miniport's control path, its ISR on the processor thread, a client's
/// mapped register) and must be lock-free and allocation-free; an access at
/// an offset the device does not decode, or with a width it does not accept,
/// is counted in ``faults`` and ignored (a read returns all ones, as a
/// floating bus does), never a crash.
public protocol RegisterBlock: AnyObject, Sendable {
    /// The device's name in diagnostics ("hda", "8237", "sb16", "sg").
    var name: String { get }
    /// Bytes of MMIO space, or ports, the block decodes.
    var size: Int { get }
    func read(offset: Int, width: AccessWidth) -> UInt64
    func write(offset: Int, width: AccessWidth, value: UInt64)
    /// Accesses the device did not decode.
    var faults: BusFaults { get }
}

/// Counts of register accesses a device ignored, with the last one of each
/// kind for the diagnostic (lock-free: bumped from any thread).
public final class BusFaults: @unchecked Sendable {
    private let unknownReads = Atomic<UInt64>(0)
    private let unknownWrites = Atomic<UInt64>(0)
    private let badWidths = Atomic<UInt64>(0)
    private let lastOffset = Atomic<Int>(-1)
    private let lastWidth = Atomic<Int>(0)

    public init() {}

    @inline(__always)
    public func unknownRead(offset: Int, width: AccessWidth) {
        unknownReads.add(1, ordering: .relaxed)
        note(offset, width)
    }
    @inline(__always)
    public func unknownWrite(offset: Int, width: AccessWidth) {
        unknownWrites.add(1, ordering: .relaxed)
        note(offset, width)
    }
    @inline(__always)
    public func badWidth(offset: Int, width: AccessWidth) {
        badWidths.add(1, ordering: .relaxed)
        note(offset, width)
    }
    private func note(_ offset: Int, _ width: AccessWidth) {
        lastOffset.store(offset, ordering: .relaxed)
        lastWidth.store(width.rawValue, ordering: .relaxed)
    }

    /// Reads of offsets the device does not decode.
    public var unknownReadCount: UInt64 { unknownReads.load(ordering: .relaxed) }
    /// Writes to offsets the device does not decode (or to read-only registers).
    public var unknownWriteCount: UInt64 { unknownWrites.load(ordering: .relaxed) }
    /// Accesses with a width the register does not accept.
    public var badWidthCount: UInt64 { badWidths.load(ordering: .relaxed) }
    public var total: UInt64 { unknownReadCount + unknownWriteCount + badWidthCount }

    /// "N ignored accesses (last: 32-bit at +0x9c)", or nil when there were none.
    public var summary: String? {
        guard total > 0 else { return nil }
        let w = AccessWidth(rawValue: lastWidth.load(ordering: .relaxed)) ?? .byte
        return "\(unknownReadCount) unknown reads, \(unknownWriteCount) unknown or read-only writes, \(badWidthCount) bad widths (last: \(w) at +0x\(String(lastOffset.load(ordering: .relaxed), radix: 16)))"
    }
}

/// Where a device sits: a range of physical MMIO space, or of I/O ports.
public enum BusWindow: Sendable, Hashable, CustomStringConvertible {
    case memory(base: PhysicalAddress, length: Int)
    case ports(base: UInt16, length: Int)

    public var description: String {
        switch self {
        case .memory(let base, let length): "MMIO \(base)+0x\(String(length, radix: 16))"
        case .ports(let base, let length): "ports 0x\(String(base, radix: 16))-0x\(String(Int(base) + length - 1, radix: 16))"
        }
    }
}

/// The emulated machine's buses: physical MMIO windows (device BARs, in the
/// PCI hole below 4 GiB where RAM is not) and the 64 KiB I/O port space. A
/// device attaches its register blocks; the kernel's MmMapIoSpace and
/// READ_/WRITE_PORT_* find them here.
///
/// Attaching is a control-path operation done while building the machine;
/// lookups are lock-free reads of an immutable snapshot.
public final class IOBus: @unchecked Sendable {
    public struct Attachment: Sendable {
        public var window: BusWindow
        public var block: any RegisterBlock
    }
    private let attachments = Mutex<[Attachment]>([])
    /// The port space as a flat table (port -> attachment index + 1), rebuilt on attach.
    private let portIndex: UnsafeMutablePointer<Atomic<UInt16>>
    private let portBlocks = Mutex<[any RegisterBlock]>([])
    private let portSnapshot: UnsafeMutablePointer<Unmanaged<PortTable>?>
    private let unclaimedPortReads = Atomic<UInt64>(0)
    private let unclaimedPortWrites = Atomic<UInt64>(0)

    final class PortTable: @unchecked Sendable {
        let blocks: [any RegisterBlock]
        let bases: [UInt16]
        init(blocks: [any RegisterBlock], bases: [UInt16]) {
            self.blocks = blocks
            self.bases = bases
        }
    }

    public init() {
        portIndex = .allocate(capacity: 65_536)
        for i in 0..<65_536 { (portIndex + i).initialize(to: Atomic(0)) }
        portSnapshot = .allocate(capacity: 1)
        portSnapshot.initialize(to: nil)
    }

    deinit {
        portIndex.deinitialize(count: 65_536)
        portIndex.deallocate()
        portSnapshot.pointee?.release()
        portSnapshot.deallocate()
    }

    /// Attaches `block` at `window`. Overlapping windows are refused.
    public func attach(_ block: any RegisterBlock, at window: BusWindow) throws(BusError) {
        try attachments.withLock { list throws(BusError) in
            for a in list where Self.overlap(a.window, window) { throw .overlap(window, existing: a.window, device: a.block.name) }
            list.append(Attachment(window: window, block: block))
        }
        if case .ports(let base, let length) = window {
            let (blocks, bases): ([any RegisterBlock], [UInt16]) = portBlocks.withLock { blocks in
                blocks.append(block)
                return (blocks, attachments.withLock { $0.compactMap { if case .ports(let b, _) = $0.window { b } else { nil } } })
            }
            let table = PortTable(blocks: blocks, bases: bases)
            for p in Int(base)..<min(65_536, Int(base) + length) { portIndex[p].store(UInt16(blocks.count), ordering: .releasing) }
            let old = portSnapshot.pointee
            portSnapshot.pointee = Unmanaged.passRetained(table)
            // Machines attach all their devices before anything runs; an old table is kept to the end.
            if let old { retired.withLock { $0.append(old) } }
        }
    }
    private let retired = Mutex<[Unmanaged<PortTable>]>([])

    private static func overlap(_ a: BusWindow, _ b: BusWindow) -> Bool {
        switch (a, b) {
        case (.memory(let b1, let l1), .memory(let b2, let l2)):
            b1.rawValue < b2.rawValue + UInt64(l2) && b2.rawValue < b1.rawValue + UInt64(l1)
        case (.ports(let b1, let l1), .ports(let b2, let l2)):
            Int(b1) < Int(b2) + l2 && Int(b2) < Int(b1) + l1
        default: false
        }
    }

    /// Every attachment, in the order attached.
    public var all: [Attachment] { attachments.withLock { $0 } }

    /// The MMIO block containing `address`, with the offset into it.
    public func memoryBlock(at address: PhysicalAddress) -> (block: any RegisterBlock, offset: Int, window: BusWindow)? {
        for a in attachments.withLock({ $0 }) {
            if case .memory(let base, let length) = a.window, address >= base, address.rawValue < base.rawValue + UInt64(length) {
                return (a.block, Int(address.rawValue - base.rawValue), a.window)
            }
        }
        return nil
    }

    /// READ_PORT_*: the device decoding `port`, or all ones from an empty bus (counted).
    @inline(__always)
    public func readPort(_ port: UInt16, width: AccessWidth) -> UInt64 {
        let index = Int(portIndex[Int(port)].load(ordering: .acquiring))
        guard index > 0, let table = portSnapshot.pointee else {
            unclaimedPortReads.add(1, ordering: .relaxed)
            return width.mask
        }
        return table._withUnsafeGuaranteedRef { t in
            t.blocks[index - 1].read(offset: Int(port) - Int(t.bases[index - 1]), width: width)
        }
    }

    /// WRITE_PORT_*: to the device decoding `port`; lost on an empty bus (counted).
    @inline(__always)
    public func writePort(_ port: UInt16, width: AccessWidth, value: UInt64) {
        let index = Int(portIndex[Int(port)].load(ordering: .acquiring))
        guard index > 0, let table = portSnapshot.pointee else {
            unclaimedPortWrites.add(1, ordering: .relaxed)
            return
        }
        table._withUnsafeGuaranteedRef { t in
            t.blocks[index - 1].write(offset: Int(port) - Int(t.bases[index - 1]), width: width, value: value & width.mask)
        }
    }

    /// Port accesses no device decoded.
    public var unclaimedPortAccesses: UInt64 {
        unclaimedPortReads.load(ordering: .relaxed) + unclaimedPortWrites.load(ordering: .relaxed)
    }
}

public enum BusError: Error, Hashable, CustomStringConvertible {
    case overlap(BusWindow, existing: BusWindow, device: String)

    public var description: String {
        switch self {
        case .overlap(let w, let e, let d): "\(w) overlaps \(e) of device \(d)"
        }
    }
}
