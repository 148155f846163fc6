import Glibc
import Synchronization
import WaveRTMemory

/// An emulated DMA controller (one stream channel): the hardware a WaveRT
/// miniport programs with the buffer the port driver gave it.
///
/// The miniport programs it as it would program its silicon: a descriptor list
/// (``program(descriptors:buffer:)``) or one base address and length
/// (``program(baseAddress:length:buffer:interruptOnCompletion:)``). The program
/// is checked against the ``DMAProfile`` at once, and a violation is a
/// ``DMAProgramError`` naming the rule, the segment, the address and the limit.
///
/// With ``faithfulFaults`` the controller instead does what the silicon would:
/// address bits beyond its width are dropped (it reads another physical page),
/// a transfer that crosses its boundary wraps inside it, a hole reads as an open
/// bus. The program is accepted, the violations are kept in ``toleratedViolations``,
/// and every transfer through a faulty piece is counted in ``faultRecords``.
///
/// Cyclic (auto-initialise) operation: after the last segment it starts over.
///
/// Threads: `program`, `start`, `stop` and `reset` are control-path calls, made
/// while no transfer is in flight (the buffer engine serialises them).
/// ``read(into:count:)`` and ``write(from:count:)`` are the real-time path: no
/// allocation, no locks, no logging; counters are atomics readable from any thread.
public final class DMAController: @unchecked Sendable {
    public let profile: DMAProfile
    public let memory: PhysicalMemory
    public let faithfulFaults: Bool

    /// Called on the transferring thread when a segment with interrupt-on-completion
    /// finishes, with the segment's index. Must not allocate, lock or block.
    public var interruptHandler: (@Sendable (Int) -> Void)?

    /// A run of bytes within one segment that maps to one contiguous range of
    /// physical memory with the same fault behaviour.
    struct Piece {
        var bufferOffset: Int
        var length: Int
        var intended: UInt64
        var effective: UInt64
        var segment: Int
        var faults: DMAFaultKind
        var interruptAtEnd: Bool
    }

    // Program (immutable while running).
    private var pieces: UnsafeMutableBufferPointer<Piece> = .init(start: nil, count: 0)
    private var pieceEvents: UnsafeMutablePointer<Atomic<UInt64>>?
    private var pieceBytes: UnsafeMutablePointer<Atomic<UInt64>>?
    private var buffer: Unmanaged<MDL>?
    private var descriptors: [DMADescriptor] = []
    public private(set) var toleratedViolations: [DMAProgramError] = []
    /// Bytes in one pass over the program.
    public private(set) var cycleLength = 0

    // Transfer cursor: touched only by the transferring thread (and by control calls
    // while stopped). Behind a pointer so the real-time path pays no exclusivity checks.
    private struct Cursor {
        var pieceIndex = 0
        var offsetInPiece = 0
    }
    private let cursor: UnsafeMutablePointer<Cursor> = {
        let p = UnsafeMutablePointer<Cursor>.allocate(capacity: 1)
        p.initialize(to: Cursor())
        return p
    }()
    private var pieceIndex: Int {
        @inline(__always) get { cursor.pointee.pieceIndex }
        @inline(__always) set { cursor.pointee.pieceIndex = newValue }
    }
    private var offsetInPiece: Int {
        @inline(__always) get { cursor.pointee.offsetInPiece }
        @inline(__always) set { cursor.pointee.offsetInPiece = newValue }
    }
    private let physicalView: UnsafeMutableRawPointer

    private let runningFlag = Atomic<Bool>(false)
    private let positionRegister = Atomic<Int>(0)
    private let transferred = Atomic<UInt64>(0)
    private let interrupts = Atomic<UInt64>(0)
    private let useAfterFree = Atomic<UInt64>(0)

    public init(profile: DMAProfile, memory: PhysicalMemory, faithfulFaults: Bool = false) {
        self.profile = profile
        self.memory = memory
        self.faithfulFaults = faithfulFaults
        self.physicalView = memory.physicalView
    }

    deinit {
        releaseProgram()
        cursor.deallocate()
    }

    // MARK: Programming

    /// Programs a descriptor list (BDL / scatter-gather list) over `buffer`.
    public func program(descriptors: [DMADescriptor], buffer: MDL) throws(DMAProgramError) {
        guard !isRunning else { throw .running(controller: profile.name) }
        guard buffer.isLive else { throw .bufferFreed(controller: profile.name) }
        let violations = try check(descriptors, buffer: buffer)
        if let first = violations.first, !faithfulFaults { throw first }
        releaseProgram()
        build(descriptors, buffer: buffer)
        self.descriptors = descriptors
        self.toleratedViolations = violations
        self.buffer = Unmanaged.passRetained(buffer)
    }

    /// Programs a contiguous controller: one base address and a length, as an
    /// 8237's address and count registers (auto-initialise mode).
    public func program(baseAddress: PhysicalAddress, length: Int, buffer: MDL,
                        interruptOnCompletion: Bool = true) throws(DMAProgramError)
    {
        try program(descriptors: [DMADescriptor(address: baseAddress, length: length,
                                                interruptOnCompletion: interruptOnCompletion)],
                    buffer: buffer)
    }

    /// The descriptor list programmed last.
    public var programmedDescriptors: [DMADescriptor] { descriptors }

    /// Every rule the program breaks. Hard errors (that no silicon could even
    /// express) are thrown; the rest are returned for the caller to throw or tolerate.
    private func check(_ list: [DMADescriptor], buffer: MDL) throws(DMAProgramError) -> [DMAProgramError] {
        let c = profile.name
        guard !list.isEmpty else { throw .emptyProgram(controller: c) }
        guard list.count <= profile.maxSegments else {
            throw .tooManySegments(count: list.count, limit: profile.maxSegments, controller: c)
        }
        var violations: [DMAProgramError] = []
        let pageSize = UInt64(memory.pageSize)
        let frames = Set(buffer.pageFrameNumbers)
        if !profile.scatterGather, let first = buffer.pageFrameNumbers.first {
            for (i, f) in buffer.pageFrameNumbers.enumerated() where f != first + UInt64(i) {
                violations.append(.notContiguous(page: i, expected: PhysicalAddress((first + UInt64(i)) * pageSize),
                                                 actual: PhysicalAddress(f * pageSize), controller: c))
                break
            }
        }
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
            if profile.boundary > 0 && d.address.rawValue / profile.boundary != last / profile.boundary {
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
                if !frames.contains(page) {
                    violations.append(.outsideBuffer(segment: s, address: address, controller: c))
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
    private func build(_ list: [DMADescriptor], buffer: MDL) {
        let pageSize = UInt64(memory.pageSize)
        let mask = profile.highestAddress.rawValue
        let boundary = profile.boundary
        let frames = Set(buffer.pageFrameNumbers)
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
                let page = effective / pageSize
                if !memory.map.isRAM(PhysicalAddress(page * pageSize)) {
                    faults.insert(.openBus)
                } else if !frames.contains(page) {
                    faults.insert(.strayPage)
                }
                let endsSegment = done + Int(n) == d.length
                if var previous = out.last, previous.segment == s, previous.faults == faults,
                   previous.effective + UInt64(previous.length) == effective,
                   previous.intended &+ UInt64(previous.length) == intended
                {
                    previous.length += Int(n)
                    previous.interruptAtEnd = endsSegment && d.interruptOnCompletion
                    out[out.count - 1] = previous
                } else {
                    out.append(Piece(bufferOffset: bufferOffset, length: Int(n), intended: intended, effective: effective,
                                     segment: s, faults: faults, interruptAtEnd: endsSegment && d.interruptOnCompletion))
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
        pieceIndex = 0
        offsetInPiece = 0
        positionRegister.store(0, ordering: .releasing)
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
        buffer?.release()
        buffer = nil
        cycleLength = 0
    }

    // MARK: Control

    public var isRunning: Bool { runningFlag.load(ordering: .acquiring) }
    public func start() { runningFlag.store(cycleLength > 0, ordering: .releasing) }
    public func stop() { runningFlag.store(false, ordering: .releasing) }

    /// Rewinds to the start of the buffer (a stream's STOP), keeping the program.
    public func reset() {
        pieceIndex = 0
        offsetInPiece = 0
        positionRegister.store(0, ordering: .releasing)
    }

    // MARK: Counters (any thread)

    /// Offset in the cyclic buffer of the next byte the controller will move.
    public var position: Int { positionRegister.load(ordering: .acquiring) }
    /// Bytes moved since programming.
    public var bytesTransferred: UInt64 { transferred.load(ordering: .relaxed) }
    /// Interrupts raised by segments with interrupt-on-completion.
    public var interruptCount: UInt64 { interrupts.load(ordering: .relaxed) }
    /// Transfers attempted after the buffer was freed (each gave silence, not memory).
    public var useAfterFreeCount: UInt64 { useAfterFree.load(ordering: .relaxed) }

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

    /// Render: copies `count` bytes from the buffer at the current position into
    /// `destination` (the device FIFO), following the program and wrapping at the
    /// end. Returns the bytes moved: `count`, or 0 when not running.
    @inline(__always)
    public func read(into destination: UnsafeMutableRawPointer, count: Int) -> Int {
        transfer(count: count) { piece, offset, n, at in
            let dst = destination + at
            if piece.faults.contains(.openBus) {
                memset(dst, Int32(PhysicalMemory.openBusByte), n)
            } else {
                memcpy(dst, self.physicalView + Int(piece.effective) + offset, n)
            }
        } freed: { at, n in
            memset(destination + at, 0, n)
        }
    }

    /// Capture: copies `count` bytes from `source` (the device FIFO) into the
    /// buffer at the current position. Writes that would land in a hole or on a
    /// page outside the buffer are dropped (and counted), so emulated memory the
    /// buffer does not own is never corrupted.
    @inline(__always)
    public func write(from source: UnsafeRawPointer, count: Int) -> Int {
        transfer(count: count) { piece, offset, n, at in
            if piece.faults.isDisjoint(with: [.openBus, .strayPage]) {
                memcpy(self.physicalView + Int(piece.effective) + offset, source + at, n)
            }
        } freed: { _, _ in }
    }

    @inline(__always)
    private func transfer(count: Int, move: (Piece, Int, Int, Int) -> Void, freed: (Int, Int) -> Void) -> Int {
        guard count > 0, runningFlag.load(ordering: .relaxed), let base = pieces.baseAddress, let buffer else { return 0 }
        let live = buffer._withUnsafeGuaranteedRef { $0.isLive }
        if !live {
            useAfterFree.add(1, ordering: .relaxed)
            freed(0, count)
        }
        var done = 0
        let pieceCount = pieces.count
        while done < count {
            let piece = base[pieceIndex]
            let n = min(count - done, piece.length - offsetInPiece)
            if live {
                move(piece, offsetInPiece, n, done)
                if !piece.faults.isEmpty {
                    pieceEvents![pieceIndex].add(1, ordering: .relaxed)
                    pieceBytes![pieceIndex].add(UInt64(n), ordering: .relaxed)
                }
            }
            offsetInPiece += n
            done += n
            if offsetInPiece == piece.length {
                if piece.interruptAtEnd {
                    interrupts.add(1, ordering: .relaxed)
                    interruptHandler?(piece.segment)
                }
                offsetInPiece = 0
                pieceIndex = pieceIndex + 1 == pieceCount ? 0 : pieceIndex + 1
            }
        }
        positionRegister.store(base[pieceIndex].bufferOffset + offsetInPiece, ordering: .releasing)
        transferred.add(UInt64(count), ordering: .relaxed)
        return count
    }
}
