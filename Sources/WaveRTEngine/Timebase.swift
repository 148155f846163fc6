import CWaveRTShim
import Synchronization

/// Where a running stream's time comes from. Every timing decision of the
/// engine goes through one: positions are computed from ``now``, and the
/// engine sleeps until ``hostTime(for:)`` of its next deadline on the host clock.
///
/// Times are nanoseconds (UInt64), from an arbitrary origin.
public protocol Timebase: AnyObject, Sendable {
    /// The current time on this timebase (stream time). Lock-free, callable from any thread.
    var now: UInt64 { get }
    /// The clock the engine sleeps on: the monotonic clock or a virtual clock.
    var hostClock: HostClock { get }
    /// The host-clock time at which this timebase will read `time`.
    func hostTime(for time: UInt64) -> UInt64
}

/// The clock that wakes the engine.
public enum HostClock: Sendable {
    /// CLOCK_MONOTONIC: a real-time thread sleeps to absolute deadlines on it.
    case monotonic
    /// A virtual clock: whoever calls ``VirtualClock/advance(to:)`` runs the engine.
    case virtual(VirtualClock)
}

/// Anything a ``VirtualClock`` drives: engines attach themselves.
public protocol VirtualClockClient: AnyObject, Sendable {
    /// The earliest host-clock deadline this client needs serviced, if any.
    func nextDeadline() -> UInt64?
    /// Does the work due at host time `time`.
    func service(hostTime time: UInt64)
}

/// Real time: CLOCK_MONOTONIC (Swift's SuspendingClock on Linux; ContinuousClock
/// is CLOCK_BOOTTIME there, which keeps counting through suspend).
public final class MonotonicTimebase: Timebase {
    public static let shared = MonotonicTimebase()
    public init() {}
    public var now: UInt64 { wrt_monotonic_ns() }
    public var hostClock: HostClock { .monotonic }
    public func hostTime(for time: UInt64) -> UInt64 { time }
}

/// Virtual time for deterministic tests, in the manner of SwiftNIO's
/// `EmbeddedEventLoop.advanceTime(by:)`: time stands still until a test calls
/// ``advance(by:)`` or ``advance(to:)``, which runs every attached engine through
/// each of its deadlines in order, at exactly that deadline. The engine code is
/// the same as in real time; only the waiting is skipped, so hours of stream time
/// pass in seconds and every position and latency is exact.
///
/// Advance from one thread at a time. Reads of ``now`` are lock-free from anywhere.
public final class VirtualClock: Timebase, @unchecked Sendable {
    private let current: Atomic<UInt64>
    private let clients = Mutex<[ObjectIdentifier: WeakClient]>([:])

    private struct WeakClient { weak var client: (any VirtualClockClient)? }

    public init(start: UInt64 = 0) { current = Atomic(start) }

    public var now: UInt64 { current.load(ordering: .acquiring) }
    public var hostClock: HostClock { .virtual(self) }
    public func hostTime(for time: UInt64) -> UInt64 { time }

    public func attach(_ client: any VirtualClockClient) {
        clients.withLock { $0[ObjectIdentifier(client)] = WeakClient(client: client) }
    }

    public func detach(_ client: any VirtualClockClient) {
        _ = clients.withLock { $0.removeValue(forKey: ObjectIdentifier(client)) }
    }

    /// Moves time forward by `nanoseconds`, servicing every deadline on the way.
    public func advance(by nanoseconds: UInt64) {
        advance(to: now + nanoseconds)
    }

    /// Moves time forward by `duration`.
    public func advance(by duration: Duration) {
        advance(by: UInt64(duration.nanoseconds))
    }

    /// Moves time to `target`, stopping at each client deadline on the way (in
    /// order, the earliest first) and servicing it at exactly that time.
    public func advance(to target: UInt64) {
        let attached = clients.withLock { $0.values.compactMap(\.client) }
        while true {
            var earliest: UInt64?
            for c in attached {
                if let d = c.nextDeadline(), d <= target, d < (earliest ?? .max) { earliest = d }
            }
            guard let deadline = earliest else { break }
            if deadline > now { current.store(deadline, ordering: .releasing) }
            for c in attached { c.service(hostTime: now) }
        }
        if target > now { current.store(target, ordering: .releasing) }
        for c in attached { c.service(hostTime: now) }
    }
}

extension Duration {
    /// Whole nanoseconds, truncated; negative durations give 0.
    public var nanoseconds: Int64 {
        let (s, attoseconds) = components
        guard s >= 0 else { return 0 }
        return s * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
