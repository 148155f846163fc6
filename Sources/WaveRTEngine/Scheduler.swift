import CWaveRTShim
import Glibc
import Synchronization

/// One thread of timed work: the emulated processor that runs devices,
/// interrupts, DPCs and timers, or the client's audio thread.
///
/// Each pass services, in the order they were added, the ``TimedWork`` items
/// that are due; then the scheduler waits for the earliest next deadline. Who
/// runs the passes depends on the timebase's host clock:
/// - monotonic: a real-time thread that sleeps to absolute deadlines
///   (`FUTEX_WAIT_BITSET` on CLOCK_MONOTONIC, so ``wake()`` can end the sleep
///   early), with its timer slack lowered to 1 ns and SCHED_FIFO when the
///   system grants it;
/// - virtual: whoever calls ``VirtualClock/advance(to:)``, synchronously. The
///   scheduler attaches itself to the clock when created, so schedulers
///   created earlier are serviced first at any one instant.
///
/// Items are added and removed on the control path; a pass iterates them
/// lock-free (``SlotTable``), and ``remove(_:)`` returns only once no pass can
/// still be using the item.
public final class Scheduler: TimedWork, @unchecked Sendable {
    public let timebase: any Timebase
    public let name: String
    public let passGuard = PassGuard()
    private let items: SlotTable<Item>
    private let realTime: RealTimeThreadConfiguration
    private let threadState = Mutex<RealTimeThread?>(nil)
    private let wakeWord: UnsafeMutablePointer<UInt32>
    private let passes = Atomic<UInt64>(0)
    private let statusStore = Mutex<RealTimeThread.Status?>(nil)
    private let hasWork = Atomic<Bool>(false)

    /// Boxes an item for the slot table (which stores class references).
    final class Item: @unchecked Sendable {
        let work: any TimedWork
        init(_ work: any TimedWork) { self.work = work }
    }

    public static let capacity = 64

    /// - Parameters:
    ///   - realTime: how the real-time thread asks for priority and what it is called (monotonic clocks only).
    public init(timebase: any Timebase, realTime: RealTimeThreadConfiguration = .init()) {
        self.timebase = timebase
        self.realTime = realTime
        self.name = realTime.name
        items = SlotTable(capacity: Self.capacity, passGuard: passGuard)
        wakeWord = .allocate(capacity: 1)
        wakeWord.initialize(to: 0)
        if case .virtual(let clock) = timebase.hostClock { clock.attach(self) }
    }

    deinit {
        shutdown()
        wakeWord.deallocate()
    }

    // MARK: Items (control path)

    /// Adds work; starts the real-time thread on first use (monotonic clocks).
    public func add(_ work: any TimedWork) {
        guard items.insert(Item(work)) != nil else {
            preconditionFailure("scheduler \(name) serves at most \(Self.capacity) work items")
        }
        hasWork.store(true, ordering: .releasing)
        startThreadIfNeeded()
        wake()
    }

    /// Removes work; when this returns (outside a pass of this scheduler) no
    /// pass is using it any more.
    public func remove(_ work: any TimedWork) {
        for item in items.elements where item.work === work {
            items.remove(item)
        }
    }

    /// Ends the current sleep so the next deadline is recomputed now (after a
    /// control-path change that moves it earlier: a timer set, a stream started).
    @inline(__always)
    public func wake() {
        guard case .monotonic = timebase.hostClock else { return }
        _ = wrt_atomic_fetch_add_u32(wakeWord, 1)
        _ = wrt_futex_wake(wakeWord, 1)
    }

    /// Waits until no pass that was running is still running (see ``PassGuard``).
    public func quiesce() { passGuard.waitForQuiescence() }

    /// Whether the calling thread is running one of this scheduler's passes.
    public var isCurrentThread: Bool { passGuard.isCurrentThreadInPass }

    // MARK: TimedWork (what the virtual clock and the thread call)

    /// The earliest deadline of the items, on the scheduler's timebase. Inside
    /// a pass only: it reads the items (and, through their `nextDeadline()`,
    /// their DMA programs, timers and interrupt objects), which ``remove(_:)``
    /// and every other ``SlotTable`` removal free once no pass is running.
    private func earliestItemDeadline() -> UInt64? {
        var earliest: UInt64?
        items.forEach { item in
            if let d = item.work.nextDeadline(), d < (earliest ?? .max) { earliest = d }
        }
        return earliest
    }

    /// As the virtual clock's work: the earliest deadline on the host clock the
    /// clock advances (the same as the timebase's own time unless it is a
    /// ``DeviceTimebase`` following a card).
    public func nextDeadline() -> UInt64? {
        if passGuard.isCurrentThreadInPass { return earliestItemDeadline().map(timebase.hostTime(for:)) }
        passGuard.enter()
        defer { passGuard.exit() }
        return earliestItemDeadline().map(timebase.hostTime(for:))
    }

    /// One pass: services each item that is due, in order, at the timebase's
    /// present (the host time the virtual clock passes is mapped through the
    /// timebase). The present is read for each item after its deadline: an item
    /// that answers "due now" with the time it read (a later instant than the
    /// pass began, on the monotonic clock) is due, not put off for ever.
    public func service(now hostNow: UInt64) {
        passGuard.enter()
        serviceDueItems()
        passGuard.exit()
    }

    /// The body of a pass (the caller has entered ``passGuard``).
    private func serviceDueItems() {
        items.forEach { item in
            guard let d = item.work.nextDeadline() else { return }
            let now = timebase.now
            if d <= now { item.work.service(now: now) }
        }
        passes.add(1, ordering: .relaxed)
    }

    /// Passes made so far.
    public var passCount: UInt64 { passes.load(ordering: .relaxed) }

    // MARK: The real-time thread

    /// How the real-time thread fared (SCHED_FIFO, timer slack); nil before it
    /// started or on a virtual clock. Kept after ``shutdown()`` for reports.
    public var realTimeStatus: RealTimeThread.Status? { statusStore.withLock { $0 } }

    private func startThreadIfNeeded() {
        guard case .monotonic = timebase.hostClock else { return }
        threadState.withLock { thread in
            guard thread == nil else { return }
            let t = RealTimeThread(configuration: realTime) { [unowned self] t in self.run(on: t) }
            thread = t
            statusStore.withLock { $0 = t.status }
        }
    }

    private func run(on thread: RealTimeThread) {
        while !thread.shouldStop {
            let token = wrt_atomic_load_u32(wakeWord)
            // Planning reads the items as a pass does, so it is one: a removal
            // that returns while the thread plans would free what it reads.
            passGuard.enter()
            let planned = earliestItemDeadline().map(timebase.hostTime(for:))
            let host = wrt_monotonic_ns()
            if let planned, planned <= host {
                serviceDueItems()
                passGuard.exit()
                continue
            }
            passGuard.exit()
            // Sleep to the absolute deadline, at most 100 ms (wake() ends it sooner).
            let deadline = min(planned ?? .max, host + 100_000_000)
            _ = wrt_futex_wait_until(wakeWord, token, deadline)
        }
    }

    /// Stops the real-time thread (if any) and detaches from a virtual clock.
    /// Items stay where they are.
    public func shutdown() {
        if case .virtual(let clock) = timebase.hostClock { clock.detach(self) }
        let t: RealTimeThread? = threadState.withLock { thread in
            defer { thread = nil }
            return thread
        }
        if let t {
            t.requestStop()
            _ = wrt_atomic_fetch_add_u32(wakeWord, 1)
            _ = wrt_futex_wake(wakeWord, 1)
            t.join()
        }
    }
}
