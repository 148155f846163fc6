import Glibc
import Synchronization

/// `POOL_FLAGS` of ExAllocatePool2.
public struct PoolFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let useQuota = PoolFlags(rawValue: 0x1)
    public static let uninitialized = PoolFlags(rawValue: 0x2)
    public static let session = PoolFlags(rawValue: 0x4)
    public static let cacheAligned = PoolFlags(rawValue: 0x8)
    public static let raiseOnFailure = PoolFlags(rawValue: 0x20)
    public static let nonPaged = PoolFlags(rawValue: 0x40)
    public static let nonPagedExecute = PoolFlags(rawValue: 0x80)
    public static let paged = PoolFlags(rawValue: 0x100)
}

/// `POOL_TYPE` of the older ExAllocatePoolWithTag.
public enum PoolType: Int, Sendable {
    case nonPagedPool = 0, pagedPool = 1, nonPagedPoolNx = 512
}

/// The machine's pool: every block ExAllocatePool2 hands out, with its tag
/// and size, so leaks are named at teardown. Blocks are host `malloc` memory,
/// so a miniport that replaces the global C++ `operator delete` with
/// ExFreePoolWithTag (as SYSVAD does) may free memory the C++ runtime
/// allocated: an unknown address is passed to `free()`.
public final class Pool: @unchecked Sendable {
    public struct Block: Sendable, Hashable {
        public var address: UInt
        public var bytes: Int
        public var tag: UInt32
        /// The tag as four characters, as WinDbg's !poolused shows it.
        public var tagName: String { Pool.tagName(tag) }
    }

    private let blocks = Mutex<[UInt: Block]>([:])
    private let recentlyFreed = Mutex<[UInt]>([])
    private let allocations = Atomic<UInt64>(0)
    /// Allocations since the machine started.
    public var allocationCount: UInt64 { allocations.load(ordering: .relaxed) }

    public init() {}

    /// A tag's four characters (the first character is the low byte).
    public static func tagName(_ tag: UInt32) -> String {
        String((0..<4).map { Character(Unicode.Scalar(UInt8(truncatingIfNeeded: tag >> (8 * $0)))) })
    }

    func allocate(_ bytes: Int, tag: UInt32, zero: Bool) -> UnsafeMutableRawPointer? {
        guard bytes >= 0 else { return nil }
        guard let p = malloc(max(1, bytes)) else { return nil }
        if zero { memset(p, 0, max(1, bytes)) } else { memset(p, 0xCD, max(1, bytes)) }
        let address = UInt(bitPattern: p)
        blocks.withLock { $0[address] = Block(address: address, bytes: bytes, tag: tag) }
        recentlyFreed.withLock { $0.removeAll { $0 == address } }
        allocations.add(1, ordering: .relaxed)
        return p
    }

    /// Frees; reports a tag mismatch or a double free (which it does not pass to free()).
    func free(_ p: UnsafeMutableRawPointer, tag: UInt32?, ddi: StaticString) {
        let address = UInt(bitPattern: p)
        let block = blocks.withLock { $0.removeValue(forKey: address) }
        if let block {
            if let tag, tag != block.tag { Verifier.record(.poolTagMismatch, ddi, detail: UInt64(tag)) }
            recentlyFreed.withLock { list in
                list.append(address)
                if list.count > 4096 { list.removeFirst(list.count - 4096) }
            }
            Glibc.free(p)
        } else if recentlyFreed.withLock({ $0.contains(address) }) {
            Verifier.record(.doubleFree, ddi, detail: UInt64(address))
        } else {
            Glibc.free(p)  // memory of the C++ runtime's operator new, freed through a replaced operator delete
        }
    }

    /// Blocks not freed yet.
    public var outstanding: [Block] { blocks.withLock { Array($0.values) }.sorted { $0.address < $1.address } }

    /// Outstanding bytes per tag name.
    public var outstandingByTag: [String: Int] {
        var out: [String: Int] = [:]
        for b in outstanding { out[b.tagName, default: 0] += b.bytes }
        return out
    }
}

/// `ExAllocatePool2(Flags, NumberOfBytes, Tag)`: zeroed unless
/// POOL_FLAG_UNINITIALIZED; NULL on failure. ≤ DISPATCH_LEVEL (≤ APC_LEVEL for paged pool).
public func exAllocatePool2(_ flags: PoolFlags, _ numberOfBytes: Int, _ tag: UInt32) -> UnsafeMutableRawPointer? {
    checkIrql(atMost: flags.contains(.paged) ? Irql.apcLevel : Irql.dispatchLevel, "ExAllocatePool2")
    guard let machine = Machine.current else {
        Verifier.record(.callOrder, "ExAllocatePool2")
        return nil
    }
    return machine.pool.allocate(numberOfBytes, tag: tag, zero: !flags.contains(.uninitialized))
}

/// `ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag)` (deprecated): not zeroed.
public func exAllocatePoolWithTag(_ type: PoolType, _ numberOfBytes: Int, _ tag: UInt32) -> UnsafeMutableRawPointer? {
    checkIrql(atMost: type == .pagedPool ? Irql.apcLevel : Irql.dispatchLevel, "ExAllocatePoolWithTag")
    guard let machine = Machine.current else { return nil }
    return machine.pool.allocate(numberOfBytes, tag: tag, zero: false)
}

/// `ExFreePoolWithTag(P, Tag)`. ≤ DISPATCH_LEVEL.
public func exFreePoolWithTag(_ p: UnsafeMutableRawPointer?, _ tag: UInt32) {
    checkIrql(atMost: Irql.dispatchLevel, "ExFreePoolWithTag")
    guard let p else { return }
    (Machine.current?.pool).map { $0.free(p, tag: tag, ddi: "ExFreePoolWithTag") } ?? Glibc.free(p)
}

/// `ExFreePool(P)`. ≤ DISPATCH_LEVEL.
public func exFreePool(_ p: UnsafeMutableRawPointer?) {
    checkIrql(atMost: Irql.dispatchLevel, "ExFreePool")
    guard let p else { return }
    (Machine.current?.pool).map { $0.free(p, tag: nil, ddi: "ExFreePool") } ?? Glibc.free(p)
}
