import CWaveRTShim
import Glibc
import Synchronization

/// How the engine's thread asks for real-time treatment.
public struct RealTimeThreadConfiguration: Sendable {
    /// SCHED_FIFO priority to ask for (1-99), or nil to stay SCHED_OTHER.
    public var fifoPriority: Int32?
    /// Timer slack in nanoseconds (the default 50 µs would blur every deadline).
    public var timerSlackNanoseconds: UInt

    /// The thread's name in `ps` and `perf` (at most 15 bytes).
    public var name: String

    public init(fifoPriority: Int32? = 70, timerSlackNanoseconds: UInt = 1, name: String = "wavert-engine") {
        self.fifoPriority = fifoPriority
        self.timerSlackNanoseconds = timerSlackNanoseconds
        self.name = name
    }
}

/// A pthread set up for real-time work: lowered timer slack, SCHED_FIFO when
/// the system grants it (root, or RLIMIT_RTPRIO), and carrying on without it
/// when refused. The outcome is kept in ``status`` for reports.
public final class RealTimeThread: @unchecked Sendable {
    public struct Status: Sendable, Hashable {
        /// SCHED_FIFO at this priority, or nil when not asked or refused.
        public var fifoPriority: Int32?
        /// errno of a refused SCHED_FIFO request (EPERM without privilege), or 0.
        public var fifoError: Int32
        public var timerSlackSet: Bool
        /// Kernel thread id.
        public var tid: Int32
    }

    private let stopFlag = Atomic<Bool>(false)
    private let ready = Atomic<Bool>(false)
    private var handle = pthread_t()
    private var started: Status?
    private let body: (RealTimeThread) -> Void
    private let configuration: RealTimeThreadConfiguration

    // Set on the engine thread itself, so control calls made from a handler can tell.
    nonisolated(unsafe) private static var engineThreadKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static var isCurrentEngineThread: Bool { pthread_getspecific(engineThreadKey) != nil }

    /// Starts the thread; returns once its scheduling is set up (see ``status``).
    public init(configuration: RealTimeThreadConfiguration, body: @escaping (RealTimeThread) -> Void) {
        self.configuration = configuration
        self.body = body
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&handle, nil, { raw in
            let thread = Unmanaged<RealTimeThread>.fromOpaque(raw!).takeRetainedValue()
            thread.main()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        while !ready.load(ordering: .acquiring) { sched_yield() }
    }

    private func main() {
        _ = pthread_setspecific(Self.engineThreadKey, UnsafeRawPointer(bitPattern: 1))
        _ = wrt_set_thread_name(String(configuration.name.prefix(15)))
        let slack = wrt_set_timer_slack(configuration.timerSlackNanoseconds) == 0
        var fifo: Int32?
        var fifoError: Int32 = 0
        if let priority = configuration.fifoPriority {
            fifoError = wrt_set_fifo_priority(priority)
            if fifoError == 0 { fifo = priority }
        }
        started = Status(fifoPriority: fifo, fifoError: fifoError, timerSlackSet: slack, tid: wrt_gettid())
        ready.store(true, ordering: .releasing)
        body(self)
    }

    public var status: Status { started! }
    public var shouldStop: Bool { stopFlag.load(ordering: .acquiring) }
    public func requestStop() { stopFlag.store(true, ordering: .releasing) }
    /// `pthread_join`.
    public func join() { pthread_join(handle, nil) }
}
