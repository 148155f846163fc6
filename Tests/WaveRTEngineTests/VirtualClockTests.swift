import Synchronization
import Testing
import WaveRTEngine
import WaveRTTestSupport

/// The virtual clock and the scheduler: work is serviced at exactly its
/// deadlines, in order, and nothing runs between them.
@Suite struct VirtualClockTests {
    /// Work due every `period` ns from `first`, recording when it ran and at what `now`.
    final class Ticker: TimedWork, @unchecked Sendable {
        let name: String
        var next: UInt64
        let period: UInt64
        let log: Log
        let clock: VirtualClock
        init(_ name: String, first: UInt64, period: UInt64, log: Log, clock: VirtualClock) {
            self.name = name
            next = first
            self.period = period
            self.log = log
            self.clock = clock
        }
        func nextDeadline() -> UInt64? { next }
        func service(now: UInt64) {
            log.entries.append("\(name)@\(now)")
            #expect(clock.now == now)
            next = now + period
        }
    }

    final class Log: @unchecked Sendable { var entries: [String] = [] }

    @Test func workRunsAtItsDeadlinesInTimeOrderAndAttachOrderAtOneInstant() {
        let clock = VirtualClock(start: 100)
        let log = Log()
        let a = Ticker("a", first: 300, period: 200, log: log, clock: clock)
        let b = Ticker("b", first: 300, period: 300, log: log, clock: clock)
        clock.attach(a)
        clock.attach(b)
        clock.attach(a)  // attaching twice changes nothing
        clock.advance(to: 900)
        #expect(log.entries == ["a@300", "b@300", "a@500", "b@600", "a@700", "a@900", "b@900"])
        #expect(clock.now == 900)
        // Time moves to the target even when nothing is due there.
        clock.advance(by: 50)
        #expect(clock.now == 950)
        clock.detach(a)
        clock.advance(to: 1_200)
        #expect(log.entries.suffix(1) == ["b@1200"])
        #expect(clock.advance(by: Duration.microseconds(1)) == ())
        #expect(clock.now == 2_200)
    }

    @Test func stepServicesOneInstantAtATime() {
        let clock = VirtualClock()
        let log = Log()
        let a = Ticker("a", first: 10, period: 10, log: log, clock: clock)
        clock.attach(a)
        #expect(clock.step(limit: 100))
        #expect(clock.now == 10 && log.entries == ["a@10"])
        #expect(clock.step(limit: 15) == false)  // nothing due by 15: time moves to the limit
        #expect(clock.now == 15)
        #expect(clock.step(limit: 100))
        #expect(clock.now == 20)
    }

    /// Advancing from inside a pass does nothing: time cannot move under the
    /// pass that is running (a driver spinning at DISPATCH_LEVEL).
    @Test func advancingFromInsideAPassDoesNothing() {
        let clock = VirtualClock()
        final class Reentrant: TimedWork, @unchecked Sendable {
            let clock: VirtualClock
            var due: UInt64? = 5
            var seen: [UInt64] = []
            init(clock: VirtualClock) { self.clock = clock }
            func nextDeadline() -> UInt64? { due }
            func service(now: UInt64) {
                due = nil
                #expect(clock.isAdvancingOnCurrentThread)
                clock.advance(by: 1_000)
                seen.append(clock.now)
            }
        }
        let work = Reentrant(clock: clock)
        clock.attach(work)
        clock.advance(to: 10)
        #expect(work.seen == [5])
        #expect(clock.now == 10)
        #expect(!clock.isAdvancingOnCurrentThread)
    }

    /// A stall inside a pass moves only the stalling thread's view of time; outside, the clock.
    @Test func stallsInsideAndOutsideAPass() {
        let clock = VirtualClock()
        final class Staller: TimedWork, @unchecked Sendable {
            let clock: VirtualClock
            var due: UInt64? = 7
            var observed: [UInt64] = []
            init(clock: VirtualClock) { self.clock = clock }
            func nextDeadline() -> UInt64? { due }
            func service(now: UInt64) {
                due = nil
                observed.append(clock.now)
                clock.stall(nanoseconds: 30)
                observed.append(clock.now)
            }
        }
        let work = Staller(clock: clock)
        clock.attach(work)
        clock.advance(to: 20)
        #expect(work.observed == [7, 37])
        #expect(clock.now == 20)  // global time did not move
        clock.stall(nanoseconds: 30)
        #expect(clock.now == 50)
    }

    /// Work that keeps saying it is due at the same instant is given up on, not spun on forever.
    @Test func aLivelockIsDetectedAndTimeMovesOn() {
        let clock = VirtualClock()
        final class Stuck: TimedWork, @unchecked Sendable {
            let count = Atomic<Int>(0)
            func nextDeadline() -> UInt64? { count.load(ordering: .relaxed) < 2_000_000 ? 3 : nil }
            func service(now: UInt64) { count.add(1, ordering: .relaxed) }
        }
        let work = Stuck()
        clock.attach(work)
        clock.advance(to: 10)
        #expect(clock.livelockCount == 1)
        #expect(work.count.load(ordering: .relaxed) == VirtualClock.maximumPassesPerInstant)
        clock.detach(work)
        clock.advance(to: 20)
        #expect(clock.now == 20)
    }

    /// A scheduler on the virtual clock runs its items in the order added, only
    /// the ones due, and counts its passes; removed items stop being serviced.
    @Test func schedulerServicesItsItemsOnTheVirtualClock() {
        let clock = VirtualClock()
        let scheduler = Scheduler(timebase: clock)
        let log = Log()
        let a = Ticker("a", first: 10, period: 10, log: log, clock: clock)
        let b = Ticker("b", first: 15, period: 10, log: log, clock: clock)
        scheduler.add(a)
        scheduler.add(b)
        clock.advance(to: 30)
        #expect(log.entries == ["a@10", "b@15", "a@20", "b@25", "a@30"])
        #expect(scheduler.passCount == 5)
        #expect(scheduler.realTimeStatus == nil)
        scheduler.remove(a)
        clock.advance(to: 50)
        #expect(log.entries.suffix(2) == ["b@35", "b@45"])
        scheduler.shutdown()
        clock.advance(to: 100)
        #expect(log.entries.count == 7)  // detached from the clock
    }

    /// A scheduler whose timebase follows a card (a DeviceTimebase over the
    /// virtual clock) runs its work when the card's time reaches each deadline,
    /// not when the host clock does: the clock advances in host time.
    @Test func aSchedulerOnADeviceTimebaseRunsItsWorkAtTheCardsTime() {
        let host = VirtualClock()
        let device = DeviceTimebase(host: host, nominalRate: 48_000, periodFrames: 480)
        // A card 0.5 % fast: 482.4 frames per 10 ms of host time.
        for k: UInt64 in 1...300 {
            host.advance(to: k * 10_000_000)
            device.report(framesConsumed: k * 4824 / 10, atHostTime: host.now)
        }
        #expect(device.now > host.now + 10_000_000)  // the card is ahead by now
        let scheduler = Scheduler(timebase: device)
        final class Due: TimedWork, @unchecked Sendable {
            var deadline: UInt64?
            var serviced: [(now: UInt64, device: UInt64, host: UInt64)] = []
            let device: DeviceTimebase, host: VirtualClock
            init(_ device: DeviceTimebase, _ host: VirtualClock) { self.device = device; self.host = host }
            func nextDeadline() -> UInt64? { deadline }
            func service(now: UInt64) {
                serviced.append((now, device.now, host.now))
                deadline = nil
            }
        }
        let work = Due(device, host)
        let target = device.now + 5_000_000
        work.deadline = target
        scheduler.add(work)
        let hostDue = device.hostTime(for: target)
        #expect(hostDue < host.now + 5_000_000)  // sooner in host time: the card runs fast
        host.advance(by: 20_000_000)
        #expect(work.serviced.count == 1)
        let s = work.serviced.first
        #expect(s?.host == hostDue)
        #expect(s.map { $0.now >= target && $0.now == $0.device } == true)
        scheduler.shutdown()
    }

    /// Work that says "due now" with the time it reads itself (a later instant
    /// than the pass began) is serviced in that pass, not put off pass after pass
    /// (the processor spun without ever taking an interrupt on the system clock).
    @Test(.timeLimit(.minutes(1)))
    func dueNowWithTheTimeItReadIsServicedAtOnce() {
        final class Pending: TimedWork, @unchecked Sendable {
            let pending = Atomic<Bool>(false)
            let serviced = Atomic<Int>(0)
            func nextDeadline() -> UInt64? { pending.load(ordering: .acquiring) ? MonotonicTimebase.shared.now : nil }
            func service(now: UInt64) {
                if pending.exchange(false, ordering: .acquiringAndReleasing) { serviced.add(1, ordering: .releasing) }
            }
        }
        let scheduler = Scheduler(timebase: MonotonicTimebase.shared, realTime: .init(fifoPriority: nil, name: "wavert-test"))
        let work = Pending()
        scheduler.add(work)
        let passesBefore = scheduler.passCount
        for _ in 0..<3 {
            work.pending.store(true, ordering: .releasing)
            scheduler.wake()
            let deadline = MonotonicTimebase.shared.now + 2_000_000_000
            while work.pending.load(ordering: .acquiring) && MonotonicTimebase.shared.now < deadline {}
        }
        let serviced = work.serviced.load(ordering: .acquiring)
        #expect(serviced == 3)
        #expect(scheduler.passCount - passesBefore < 100, "\(scheduler.passCount - passesBefore) passes for 3 items of work")
        scheduler.remove(work)
        scheduler.shutdown()
    }

    /// The scheduler on the monotonic clock: its real-time thread wakes for each
    /// deadline; `wake()` makes it see an earlier deadline at once.
    @Test(.timeLimit(.minutes(1)))
    func schedulerOnTheMonotonicClockRunsItsOwnThread() throws {
        final class Once: TimedWork, @unchecked Sendable {
            let due = Atomic<UInt64>(.max)
            let ran = Atomic<UInt64>(0)
            let inPass = Atomic<Bool>(false)
            weak var scheduler: Scheduler?
            func nextDeadline() -> UInt64? { let d = due.load(ordering: .acquiring); return d == .max ? nil : d }
            func service(now: UInt64) {
                due.store(.max, ordering: .releasing)
                inPass.store(scheduler?.isCurrentThread ?? false, ordering: .relaxed)
                ran.store(now, ordering: .releasing)
            }
        }
        let scheduler = Scheduler(timebase: MonotonicTimebase.shared, realTime: .init(fifoPriority: nil, name: "wavert-test"))
        let work = Once()
        work.scheduler = scheduler
        scheduler.add(work)
        let start = MonotonicTimebase.shared.now
        work.due.store(start + 5_000_000, ordering: .releasing)
        scheduler.wake()
        while work.ran.load(ordering: .acquiring) == 0 { _ = MonotonicTimebase.shared.now }
        let ran = work.ran.load(ordering: .acquiring)
        #expect(ran >= start + 5_000_000)  // never early
        let inPass = work.inPass.load(ordering: .relaxed)
        #expect(inPass)
        #expect(scheduler.realTimeStatus != nil)
        scheduler.remove(work)
        scheduler.shutdown()
    }
}
