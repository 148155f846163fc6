import CWaveRTShim
import Glibc
import Synchronization

/// What a notification carries to its handler.
public struct StreamNotification: Sendable, Hashable {
    /// 1-based count of notifications this stream has fired since its last STOP.
    public var sequence: UInt64
    /// The frame position (linear, since STOP) whose crossing the notification marks.
    public var frame: UInt64
    /// The exact stream time at which that frame was reached (ceil to the nanosecond).
    public var idealTime: UInt64
    /// The stream time at which the engine fired it.
    public var actualTime: UInt64
    /// actualTime - idealTime.
    public var latency: UInt64 { actualTime &- idealTime }
}

/// A notification event, as the `KEVENT` a client registers with
/// `IMiniportWaveRTStreamNotification::RegisterNotificationEvent`.
///
/// Two ways to listen: a thread blocks in ``wait(until:)`` (a synchronization
/// event: each wait consumes one signal, as the audio engine's event does), or
/// a handler runs on the engine thread at the moment of the signal (what a
/// client on the virtual clock uses, since nothing else runs there). Handlers
/// run on the real-time thread: they must not block, lock or allocate much.
public final class NotificationEvent: @unchecked Sendable {
    public let name: String
    private let word: UnsafeMutablePointer<UInt32>  // futex word: signals not yet consumed
    private let signals = Atomic<UInt64>(0)
    private let waiters = Atomic<Int>(0)
    /// Runs on the engine thread at each signal.
    public let handler: (@Sendable (StreamNotification) -> Void)?

    public init(name: String = "notification", handler: (@Sendable (StreamNotification) -> Void)? = nil) {
        self.name = name
        self.handler = handler
        word = .allocate(capacity: 1)
        word.initialize(to: 0)
    }

    deinit { word.deallocate() }

    /// `KeSetEvent`: real-time safe (an atomic add and a futex wake).
    @inline(__always)
    func signal(_ notification: StreamNotification) {
        signals.add(1, ordering: .relaxed)
        handler?(notification)
        _ = wrt_atomic_fetch_add_u32(word, 1)
        // A wake is a system call: only when a thread is (about to be) waiting.
        if waiters.load(ordering: .sequentiallyConsistent) > 0 { _ = wrt_futex_wake(word, 1) }
    }

    /// Signals so far.
    public var signalCount: UInt64 { signals.load(ordering: .relaxed) }

    /// `KeWaitForSingleObject` on a synchronization event: returns true when a
    /// signal was consumed, false at the absolute monotonic `deadline` (0: never).
    public func wait(until deadline: UInt64 = 0) -> Bool {
        while true {
            let pending = wrt_atomic_load_u32(word)
            if pending > 0 {
                if wrt_atomic_cas_u32(word, pending, pending - 1) != 0 { return true }
                continue  // another waiter took it
            }
            waiters.add(1, ordering: .sequentiallyConsistent)
            let rc = wrt_futex_wait_until(word, 0, deadline)
            waiters.subtract(1, ordering: .sequentiallyConsistent)
            if rc == ETIMEDOUT && wrt_atomic_load_u32(word) == 0 { return false }
        }
    }
}
