import WaveRTKernel

/// The notification events a client registered on a stream, as a driver
/// keeps them: a small fixed list under a spin lock, walked by the DPC to
/// signal each one (KeSetEvent), never counted.
public final class NotificationEventList: @unchecked Sendable {
    public static let capacity = 8
    private let lock = KSpinLock()
    private var events: [KEvent] = []

    public init() {
        keInitializeSpinLock(lock)
        events.reserveCapacity(Self.capacity)
    }

    /// `RegisterNotificationEvent`: the same event twice is STATUS_INVALID_PARAMETER;
    /// a ninth, STATUS_INSUFFICIENT_RESOURCES.
    public func register(_ event: KEvent) -> NTStatus {
        let irql = keAcquireSpinLock(lock)
        defer { keReleaseSpinLock(lock, irql) }
        if events.contains(where: { $0 === event }) { return .invalidParameter }
        guard events.count < Self.capacity else { return .insufficientResources }
        events.append(event)
        return .success
    }

    /// `UnregisterNotificationEvent`: STATUS_NOT_FOUND for an event not registered.
    public func unregister(_ event: KEvent) -> NTStatus {
        let irql = keAcquireSpinLock(lock)
        defer { keReleaseSpinLock(lock, irql) }
        guard let i = events.firstIndex(where: { $0 === event }) else { return .notFound }
        events.remove(at: i)
        return .success
    }

    /// From the DPC (DISPATCH_LEVEL): KeSetEvent on each registered event.
    @inline(__always)
    public func signalAll() {
        keAcquireSpinLockAtDpcLevel(lock)
        for e in events { keSetEvent(e) }
        keReleaseSpinLockFromDpcLevel(lock)
    }

    public var count: Int {
        let irql = keAcquireSpinLock(lock)
        defer { keReleaseSpinLock(lock, irql) }
        return events.count
    }
}
