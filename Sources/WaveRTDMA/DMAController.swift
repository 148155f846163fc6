import Glibc
import Synchronization
import WaveRTMemory

/// The data mover of an emulated DMA engine: what a device model uses to move
/// bytes between emulated physical memory and its FIFO, following the list of
/// physical segments its registers describe (an HD Audio BDL, a scatter-gather
/// table, an 8237 base address and count).
///
/// A program is checked against the ``DMAProfile`` when it is loaded, and a
/// violation is a ``DMAProgramError`` naming the rule, the segment, the address
/// and the limit. With ``faithfulFaults`` the controller instead does what the
/// silicon would: address bits beyond its width are dropped (it reaches another
/// page), a transfer that crosses its boundary wraps inside it, a hole reads as
/// an open bus. The program is accepted, the violations are kept in
/// ``toleratedViolations``, and every transfer through a faulty piece is counted
/// in ``faultRecords``.
///
/// Memory safety, whatever the program: every copy happens between
/// ``DMATransferGate/enter()`` and ``DMATransferGate/exit()`` and only after
/// checking that each page it touches still belongs to the allocation that
/// owned it when the program was loaded. Pages freed (and perhaps handed to
/// another allocation) since then read as silence and are never written; each
/// such transfer is counted as a use after free. Nothing outside emulated RAM
/// is ever read or written.
///
/// Cyclic operation: after the last segment the controller starts over.
///
/// Threads: ``program(descriptors:)`` and ``reset()`` are control-path calls
/// made while no transfer is in flight (the device serialises them).
/// ``read(into:count:)`` and ``write(from:count:)`` are the real-time path: no
/// allocation, no locks, no logging; counters are atomics readable from any thread.
public final class DMAController: @unchecked Sendable {
    public let profile: DMAProfile
    public let memory: PhysicalMemory
    public let faithfulFaults: Bool

    /// A run of bytes within one segment that maps to one contiguous range of
    /// physical memory with one owner and the same fault behaviour.
    struct Piece {
        var bufferOffset: Int
        var length: Int
        var intended: UInt64
        var effective: UInt64
        var segment: Int
        var faults: DMAFaultKind
        var owner: PageOwnerID
    }

    private var pieces: UnsafeMutableBufferPointer<Piece> = .init(start: nil, count: 0)
    private var pieceEvents: UnsafeMutablePointer<Atomic<UInt64>>?
    private var pieceBytes: UnsafeMutablePointer<Atomic<UInt64>>?
    private var descriptors: [DMADescriptor] = []
    public private(set) var toleratedViolations: [DMAProgramError] = []
    /// Bytes in one pass over the program.
    public private(set) var cycleLength = 0

    // Transfer cursor: touched only by the transferring thread (and by control calls
    // while no transfer runs). Behind a pointer so the real-time path pays no exclusivity checks.
    private struct Cursor {
        var pieceIndex = 0
        var offsetInPiece = 0
    }
    private let cursor: UnsafeMutablePointer<Cursor> = {
        let p = UnsafeMutablePointer<Cursor>.allocate(capacity: 1)
        p.initialize(to: Cursor())
        return p
    }()
    private let physicalView: UnsafeMutableRawPointer
    private let audit: DMAAccessAudit
    private let pageShift: UInt64
    private let gate = DMATransferGate()

    private let transferred = Atomic<UInt64>(0)
    private let useAfterFree = Atomic<UInt64>(0)
    private let unallocated = Atomic<UInt64>(0)

    public init(profile: DMAProfile, memory: PhysicalMemory, faithfulFaults: Bool = false) {
        self.profile = profile
        self.memory = memory
        self.faithfulFaults = faithfulFaults
        self.physicalView = memory.physicalView
        audit = memory.dmaAudit
        pageShift = UInt64(memory.pageSize.trailingZeroBitCount)
        memory.register(gate)
    }

    deinit {
        memory.unregister(gate)
        releaseProgram()
        cursor.deallocate()
    }

    // MARK: Programming

    /// Loads a list of physical segments (BDL, scatter-gather table, or one
    /// base address and length). Replaces any earlier program and rewinds.
    public func program(descriptors: [DMADescriptor]) throws(DMAProgramError) {
        let violations = try check(descriptors)
        if let first = violations.first, !faithfulFaults { throw first }
        releaseProgram()
        build(descriptors)
        self.descriptors = descriptors
        self.toleratedViolations = violations
        let pageSize = UInt64(memory.pageSize)
        gate.setFrames((0..<pieces.count).map { i in
            let p = pieces[i]
            return (p.effective / pageSize)..<((p.effective + UInt64(p.length) + pageSize - 1) / pageSize)
        })
    }

    /// Whether the device is moving data through this program (what
    /// ``PhysicalMemory/isInUseByRunningDMA(_:)`` reports). Set by the device.
    public var isRunning: Bool {
        get { gate.isRunning }
        set { gate.isRunning = newValue }
    }

    /// The segments programmed last.
    public var programmedDescriptors: [DMADescriptor] { descriptors }

    /// Every rule the program breaks. Errors no silicon could even express are
    /// thrown; the rest are returned for the caller to throw or tolerate.
    private func check(_ list: [DMADescriptor]) throws(DMAProgramError) -> [DMAProgramError] {
        let c = profile.name
        guard !list.isEmpty else { throw .emptyProgram(controller: c) }
        guard list.count <= profile.maxSegments else {
            throw .tooManySegments(count: list.count, limit: profile.maxSegments, controller: c)
        }
        var violations: [DMAProgramError] = []
        let pageSize = UInt64(memory.pageSize)
        for (s, d) in list.enumerated() {
            guard d.length > 0 else { throw .emptySegment(segment: s, controller: c) }
            guard d.length <= profile.maxSegmentLength else {
                throw .segmentTooLong(segment: s, length: d.length, limit: profile.maxSegmentLength, controller: c)
            }
            let alignment = s == 0 ? max(profile.segmentAlignment, profile.bufferAlignment) : profile.segmentAlignment
            guard d.address.rawValue % UInt64(alignment) == 0 else {
                throw .misaligned(segment: s, address: d.address, alignment: alignment, controller: c)
            }
            let (last, overflow) = d.address.rawValue.addingReportingOverflow(UInt64(d.length - 1))
            if overflow || last > profile.highestAddress.rawValue {
                violations.append(.aboveAddressLimit(segment: s, address: d.address, bits: profile.addressBits, controller: c))
            }
            if profile.boundary > 0, !overflow, d.address.rawValue / profile.boundary != last / profile.boundary {
                violations.append(.crossesBoundary(segment: s, address: d.address, length: d.length,
                                                   boundary: profile.boundary, controller: c))
            }
            var page = d.address.rawValue / pageSize
            while !overflow && page <= last / pageSize {
                let address = PhysicalAddress(page * pageSize)
                if !memory.map.isRAM(address) {
                    violations.append(.notRAM(segment: s, address: address, controller: c))
                    break
                }
                if memory.owner(of: address) == .freePage {
                    violations.append(.unallocated(segment: s, address: address, controller: c))
                    break
                }
                page += 1
            }
        }
        return violations
    }

    /// Splits the program into pieces with uniform behaviour, following the
    /// silicon: the address counter is `addressBits` wide, and a controller with
    /// a boundary keeps the bits above it fixed (the 8237's page register).
    private func build(_ list: [DMADescriptor]) {
        let pageSize = UInt64(memory.pageSize)
        let mask = profile.highestAddress.rawValue
        let boundary = profile.boundary
        var out: [Piece] = []
        var bufferOffset = 0
        for (s, d) in list.enumerated() {
            var done = 0
            var effective = d.address.rawValue & mask
            while done < d.length {
                var n = UInt64(d.length - done)
                if boundary > 0 { n = min(n, boundary - effective % boundary) }
                if mask != .max { n = min(n, mask - effective + 1) }
                n = min(n, pageSize - effective % pageSize)
                let intended = d.address.rawValue &+ UInt64(done)
                var faults: DMAFaultKind = []
                if intended & mask != intended { faults.insert(.addressTruncated) }
                if effective != intended & mask { faults.insert(.boundaryWrapped) }
                let address = PhysicalAddress(effective - effective % pageSize)
                let owner = memory.owner(of: address)
                if !memory.map.isRAM(address) {
                    faults.insert(.openBus)
                } else if owner == .freePage {
                    faults.insert(.unallocated)
                }
                if var previous = out.last, previous.segment == s, previous.faults == faults, previous.owner == owner,
                   previous.effective + UInt64(previous.length) == effective,
                   previous.intended &+ UInt64(previous.length) == intended
                {
                    previous.length += Int(n)
                    out[out.count - 1] = previous
                } else {
                    out.append(Piece(bufferOffset: bufferOffset, length: Int(n), intended: intended, effective: effective,
                                     segment: s, faults: faults, owner: owner))
                }
                bufferOffset += Int(n)
                done += Int(n)
                let next = effective + n
                effective = boundary > 0 && next % boundary == 0 ? next - boundary : (next & mask)
            }
        }
        let storage = UnsafeMutableBufferPointer<Piece>.allocate(capacity: out.count)
        _ = storage.initialize(from: out)
        pieces = storage
        let events = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: out.count)
        let bytes = UnsafeMutablePointer<Atomic<UInt64>>.allocate(capacity: out.count)
        for i in 0..<out.count {
            (events + i).initialize(to: Atomic(0))
            (bytes + i).initialize(to: Atomic(0))
        }
        pieceEvents = events
        pieceBytes = bytes
        cycleLength = bufferOffset
        cursor.pointee = Cursor()
    }

    private func releaseProgram() {
        let n = pieces.count
        if let base = pieces.baseAddress {
            pieces.deinitialize()
            base.deallocate()
        }
        pieces = .init(start: nil, count: 0)
        for counters in [pieceEvents, pieceBytes] {
            counters?.deinitialize(count: n)
            counters?.deallocate()
        }
        pieceEvents = nil
        pieceBytes = nil
        cycleLength = 0
    }

    /// Rewinds to the start of the program (a stream reset), keeping the program.
    public func reset() { cursor.pointee = Cursor() }

    /// Moves the cursor to `offset` bytes into the cycle (a device that resumes
    /// where its position register says).
    public func seek(toCycleOffset offset: Int) {
        guard cycleLength > 0 else { return }
        var remaining = offset % cycleLength
        var index = 0
        while index < pieces.count && remaining >= pieces[index].length {
            remaining -= pieces[index].length
            index += 1
        }
        cursor.pointee = Cursor(pieceIndex: index % max(1, pieces.count), offsetInPiece: remaining)
    }

    /// The physical address of the byte at `offset` in the cycle, and how many
    /// bytes from there lie contiguously in physical memory within the same piece
    /// (what an observer uses to tell which buffer bytes a transfer touched).
    public func physicalAddress(atCycleOffset offset: Int) -> (address: PhysicalAddress, contiguous: Int)? {
        guard cycleLength > 0, let base = pieces.baseAddress else { return nil }
        let o = offset % cycleLength
        var lo = 0, hi = pieces.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if base[mid].bufferOffset <= o { lo = mid } else { hi = mid - 1 }
        }
        let p = base[lo]
        let inside = o - p.bufferOffset
        return (PhysicalAddress(p.effective + UInt64(inside)), p.length - inside)
    }

    // MARK: Counters (any thread)

    /// Offset in the cycle of the next byte the controller will move.
    public var cycleOffset: Int {
        guard let base = pieces.baseAddress, cursor.pointee.pieceIndex < pieces.count else { return 0 }
        return base[cursor.pointee.pieceIndex].bufferOffset + cursor.pointee.offsetInPiece
    }
    /// Bytes moved since the controller was made.
    public var bytesTransferred: UInt64 { transferred.load(ordering: .relaxed) }
    /// Transfers that met pages freed since the program was loaded (silence, nothing written).
    public var useAfterFreeCount: UInt64 { useAfterFree.load(ordering: .relaxed) }
    /// Transfers that met pages nobody had allocated (faithful-fault mode only).
    public var unallocatedCount: UInt64 { unallocated.load(ordering: .relaxed) }

    /// One record per faulty piece of the program, with how often and how many
    /// bytes the controller moved through it, plus use-after-free, if any.
    public var faultRecords: [DMAFaultRecord] {
        var records: [DMAFaultRecord] = []
        for (i, p) in pieces.enumerated() where !p.faults.isEmpty {
            records.append(DMAFaultRecord(
                kind: p.faults, segment: p.segment, bufferOffset: p.bufferOffset, length: p.length,
                intendedAddress: PhysicalAddress(p.intended), actualAddress: PhysicalAddress(p.effective),
                events: pieceEvents![i].load(ordering: .relaxed), bytes: pieceBytes![i].load(ordering: .relaxed)))
        }
        let freed = useAfterFreeCount
        if freed > 0 {
            records.append(DMAFaultRecord(kind: .useAfterFree, segment: -1, bufferOffset: 0, length: cycleLength,
                                          intendedAddress: 0, actualAddress: 0, events: freed, bytes: 0))
        }
        return records
    }

    /// Transfers that went through a faulty piece or a freed buffer.
    public var faultEventCount: UInt64 { faultRecords.reduce(0) { $0 + $1.events } }

    // MARK: Transfers (real-time path)

    /// Render: copies `count` bytes from memory at the cursor into `destination`
    /// (the device FIFO), following the program and wrapping at its end.
    /// Returns the bytes moved: `count`, or 0 without a program.
    @inline(__always)
    public func read(into destination: UnsafeMutableRawPointer, count: Int) -> Int {
        transfer(count: count) { piece, offset, n, at, usable in
            let dst = destination + at
            if piece.faults.contains(.openBus) {
                self.audit.refusal()
                memset(dst, Int32(PhysicalMemory.openBusByte), n)
            } else if usable {
                self.audit.access(piece.effective + UInt64(offset), count: n, write: false)
                memcpy(dst, self.physicalView + Int(piece.effective) + offset, n)
            } else {
                self.audit.refusal()
                memset(dst, 0, n)  // freed or unallocated: the bus returns nothing we may show
            }
        }
    }

    /// Capture: copies `count` bytes from `source` (the device FIFO) into memory
    /// at the cursor. Writes to a hole, or to pages that are free or no longer
    /// the program's, are dropped (and counted).
    @inline(__always)
    public func write(from source: UnsafeRawPointer, count: Int) -> Int {
        transfer(count: count) { piece, offset, n, at, usable in
            if usable && !piece.faults.contains(.openBus) {
                self.audit.access(piece.effective + UInt64(offset), count: n, write: true)
                memcpy(self.physicalView + Int(piece.effective) + offset, source + at, n)
            } else {
                self.audit.refusal()
            }
        }
    }

    @inline(__always)
    private func transfer(count: Int, move: (Piece, Int, Int, Int, Bool) -> Void) -> Int {
        guard count > 0, let base = pieces.baseAddress else { return 0 }
        gate.enter()
        defer { gate.exit() }
        var done = 0
        let pieceCount = pieces.count
        var c = cursor.pointee
        while done < count {
            let piece = base[c.pieceIndex]
            let n = min(count - done, piece.length - c.offsetInPiece)
            let usable = pagesStillOwned(piece, offset: c.offsetInPiece, count: n)
            move(piece, c.offsetInPiece, n, done, usable)
            if !piece.faults.isEmpty || !usable {
                pieceEvents![c.pieceIndex].add(1, ordering: .relaxed)
                pieceBytes![c.pieceIndex].add(UInt64(n), ordering: .relaxed)
            }
            c.offsetInPiece += n
            done += n
            if c.offsetInPiece == piece.length {
                c.offsetInPiece = 0
                c.pieceIndex = c.pieceIndex + 1 == pieceCount ? 0 : c.pieceIndex + 1
            }
        }
        cursor.pointee = c
        transferred.add(UInt64(count), ordering: .relaxed)
        return count
    }

    /// Whether every page the copy touches still belongs to the owner it had
    /// when the program was loaded (inside the transfer gate, so no page can be
    /// reassigned until the copy is done). Counts what it refuses.
    @inline(__always)
    private func pagesStillOwned(_ piece: Piece, offset: Int, count: Int) -> Bool {
        if piece.faults.contains(.openBus) { return true }
        if piece.owner == .freePage {
            unallocated.add(1, ordering: .relaxed)
            return false
        }
        let first = (piece.effective + UInt64(offset)) >> pageShift
        let last = (piece.effective + UInt64(offset + count - 1)) >> pageShift
        var page = first
        while page <= last {
            if memory.owner(of: PhysicalAddress(page << pageShift)) != piece.owner {
                useAfterFree.add(1, ordering: .relaxed)
                return false
            }
            page += 1
        }
        return true
    }
}
