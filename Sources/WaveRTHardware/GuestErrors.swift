import Synchronization

/// What a device noticed about how it was programmed, counted without locks or
/// allocation (register writes may come from an ISR on the real-time thread):
/// one counter per kind of error and the last value involved. The text is
/// made on the slow path, when someone asks (``entries``).
public final class GuestErrors<Kind: RawRepresentable & CaseIterable & CustomStringConvertible & Sendable>: @unchecked Sendable
    where Kind.RawValue == Int
{
    private let counts: UnsafeMutablePointer<Atomic<UInt64>>
    private let details: UnsafeMutablePointer<Atomic<UInt64>>
    private let capacity: Int
    public let device: String

    public init(device: String) {
        self.device = device
        capacity = (Kind.allCases.map(\.rawValue).max() ?? 0) + 1
        counts = .allocate(capacity: capacity)
        details = .allocate(capacity: capacity)
        for i in 0..<capacity {
            (counts + i).initialize(to: Atomic(0))
            (details + i).initialize(to: Atomic(0))
        }
    }

    deinit {
        counts.deinitialize(count: capacity)
        counts.deallocate()
        details.deinitialize(count: capacity)
        details.deallocate()
    }

    /// Counts one `kind`, keeping `detail` (a register value, an index, an address).
    @inline(__always)
    public func note(_ kind: Kind, _ detail: UInt64 = 0) {
        counts[kind.rawValue].add(1, ordering: .relaxed)
        details[kind.rawValue].store(detail, ordering: .relaxed)
    }

    public func count(_ kind: Kind) -> UInt64 { counts[kind.rawValue].load(ordering: .relaxed) }
    public func lastDetail(_ kind: Kind) -> UInt64 { details[kind.rawValue].load(ordering: .relaxed) }
    public var total: UInt64 { Kind.allCases.reduce(0) { $0 + count($1) } }

    /// One entry per kind seen: the kind, how often, the last detail.
    public var entries: [(kind: Kind, count: UInt64, lastDetail: UInt64)] {
        Kind.allCases.compactMap { k in
            let n = count(k)
            return n == 0 ? nil : (k, n, lastDetail(k))
        }
    }

    /// "hda: <kind> (N times, last 0x…)" lines.
    public var descriptions: [String] {
        entries.map { "\(device): \($0.kind) (\($0.count) time\($0.count == 1 ? "" : "s"), last 0x\(String($0.lastDetail, radix: 16)))" }
    }
}
