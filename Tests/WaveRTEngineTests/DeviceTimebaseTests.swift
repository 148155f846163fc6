import Foundation
import Synchronization
import Testing
@testable import WaveRTEngine

/// A card whose crystal runs `ppm` away from 48 kHz, consuming 480-frame
/// periods, seen by a sink whose observations of each period boundary are late
/// or early by up to ±200 µs (seeded, so every run is the same).
///
/// The card's frames as a function of host time (ns) are
/// `baseFrames + max(0, h - baseHost) * rate / 1e9`: a stall (an xrun) moves
/// `baseHost` on while the frames stand still.
private struct SimulatedCard {
    static let nominalRate = 48_000
    static let periodFrames = 480
    static let jitterNs = 200_000.0

    let rate: Double
    var baseFrames: Double = 0
    var baseHost: Double
    var reported: UInt64 = 0
    var rng: SplitMix64
    /// The running segment before a stall, and the host time the card stopped.
    var beforeStall: (frames: Double, host: Double, stopped: Double)?

    init(ppm: Double, seed: UInt64) {
        rate = Double(Self.nominalRate) * (1 + ppm * 1e-6)
        baseHost = 0
        rng = SplitMix64(seed: seed)
    }

    func frames(atHost h: UInt64) -> Double {
        if let p = beforeStall, Double(h) < p.stopped { return p.frames + (Double(h) - p.host) * rate / 1e9 }
        return baseFrames + max(0, Double(h) - baseHost) * rate / 1e9
    }

    /// The next period boundary and the (jittery) host time the sink sees it at.
    mutating func nextReport() -> (frames: UInt64, hostTime: UInt64) {
        let n = reported + UInt64(Self.periodFrames)
        reported = n
        let exact = baseHost + (Double(n) - baseFrames) * 1e9 / rate
        let u = Double(rng.next() >> 11) / Double(1 << 53)
        return (n, UInt64(exact + (2 * u - 1) * Self.jitterNs))
    }

    /// A uniform value in 0..<1 for choosing query times.
    mutating func unit() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }

    /// The card stops for `nanoseconds` after the period it was last asked to
    /// report (an xrun and its recovery): that report never comes, and the next
    /// one is late by the stall.
    mutating func stall(for nanoseconds: Double) {
        let n = Double(reported)
        let stopped = baseHost + (n - baseFrames) * 1e9 / rate
        beforeStall = (baseFrames, baseHost, stopped)
        baseFrames = n
        baseHost = stopped + nanoseconds
    }
}

/// A card, a virtual clock and the timebase following it, with the bookkeeping
/// the tests share: every read is checked for monotonicity, and errors are
/// measured in frames against the card's true position.
private final class Bench {
    let clock = VirtualClock()
    let timebase: DeviceTimebase
    var card: SimulatedCard
    var lastRead: UInt64 = 0
    var backwards = 0
    var reads = 0
    /// The card's next report: its frame count and when the sink sees it.
    var next: (frames: UInt64, hostTime: UInt64)

    init(ppm: Double, seed: UInt64 = 0x5EED) {
        timebase = DeviceTimebase(host: clock, nominalRate: SimulatedCard.nominalRate,
                                  periodFrames: SimulatedCard.periodFrames)
        card = SimulatedCard(ppm: ppm, seed: seed)
        next = card.nextReport()
    }

    var seconds: Double { Double(clock.now) / 1e9 }

    /// Reads `now` at host time `h` (not before the clock's present).
    @discardableResult
    func read(at h: UInt64) -> UInt64 {
        if h > clock.now { clock.advance(to: h) }
        let v = timebase.now
        if v < lastRead { backwards += 1 }
        lastRead = v
        reads += 1
        return v
    }

    /// The position `now` implies minus the card's, in frames; the stream offset
    /// (non-zero only after a discontinuity) is part of the expected position.
    func error(of v: UInt64) -> Double {
        let rate = Double(SimulatedCard.nominalRate)
        return Double(v) * rate / 1e9 - card.frames(atHost: clock.now) - Double(timebase.streamOffset) * rate / 1e9
    }

    /// Reads at a random moment before the next report (unless `read` is
    /// false), then delivers it. Returns the error of that read in frames.
    @discardableResult
    func period(read: Bool = true, skipReport: Bool = false) -> Double {
        var e = 0.0
        if read {
            let from = clock.now
            let h = from + UInt64(card.unit() * Double(next.hostTime - from))
            e = error(of: self.read(at: h))
        }
        clock.advance(to: next.hostTime)
        if !skipReport { timebase.report(framesConsumed: next.frames, atHostTime: clock.now) }
        next = card.nextReport()
        return e
    }

    func run(seconds s: Double) {
        while seconds < s { period() }
    }
}

@Suite struct DeviceTimebaseTests {
    /// Measured with these seeds at ±300 ppm: the worst |error| after 10 s is
    /// 1.26 frames (26 µs) over the hour, 0.99 across a 1 s gap in reports,
    /// 0.84 from 2 s after a stall; the worst rate error is 6.1 ppm (other
    /// seeds gave the same, within 0.2 frames). 4 frames (83 µs) leaves a
    /// margin of 3; the rate bound is the one asked for.
    static let errorBoundFrames = 4.0
    static let rateBoundPPM = 20.0

    /// Simulated duration of the long run, in minutes (360 000 reports at 60).
    static let longRunMinutes = 60.0

    /// (1), (2), (3): converges within 10 s, then stays within the bound at
    /// random moments between reports for an hour: the error does not grow, and
    /// does not drift (the mean stays near zero); the rate estimate stays within
    /// 20 ppm.
    @Test(arguments: [300.0, -300.0])
    func tracksTheCardForAnHour(ppm: Double) {
        let bench = Bench(ppm: ppm)
        bench.run(seconds: 10)
        // Windows: the first minute after convergence, around 10 min, the last minute.
        let windows = [(10.0, 60.0), (540.0, 600.0), (Self.longRunMinutes * 60 - 60, Self.longRunMinutes * 60)]
        var worst = [Double](repeating: 0, count: windows.count)
        var sum = [Double](repeating: 0, count: windows.count)
        var count = [Int](repeating: 0, count: windows.count)
        var worstRate = 0.0
        while bench.seconds < Self.longRunMinutes * 60 {
            let t = bench.seconds
            // Outside the windows the loop runs on unobserved, which keeps the
            // hour to about a second in a debug build.
            guard let i = windows.firstIndex(where: { t >= $0.0 && t < $0.1 }) else {
                bench.period(read: false)
                continue
            }
            let e = bench.period()
            worst[i] = max(worst[i], abs(e))
            sum[i] += e
            count[i] += 1
            let rateError = abs(bench.timebase.estimatedRateRatio - (1 + ppm * 1e-6)) * 1e6
            worstRate = max(worstRate, rateError)
        }
        for i in windows.indices {
            #expect(count[i] > 0)
            #expect(worst[i] < Self.errorBoundFrames, "window \(windows[i]): max |error| \(worst[i]) frames")
            #expect(abs(sum[i] / Double(count[i])) < 0.5, "window \(windows[i]): mean error \(sum[i] / Double(count[i]))")
        }
        #expect(worstRate < Self.rateBoundPPM, "rate error \(worstRate) ppm")
        #expect(bench.backwards == 0)
        #expect(bench.timebase.streamOffset == 0, "no discontinuity was seen")
        let expectedReports = Int(bench.seconds * 100 * (1 + ppm * 1e-6))
        #expect(abs(bench.timebase.reportCount - expectedReports) <= 2)
    }

    /// (4): `now` never decreases across many reads, including reads just
    /// before and just after each report, where the mapping changes.
    @Test(arguments: [300.0, -300.0])
    func nowIsMonotonic(ppm: Double) {
        let bench = Bench(ppm: ppm, seed: 7)
        // From the first report on, so locking and the first report are covered.
        while bench.seconds < 20 {
            let due = bench.next.hostTime
            let from = bench.clock.now
            for i in 1...20 { bench.read(at: from + (due - from) * UInt64(i) / 21) }
            bench.read(at: due - 1)
            bench.clock.advance(to: due)
            bench.read(at: due)
            bench.timebase.report(framesConsumed: bench.next.frames, atHostTime: due)
            bench.read(at: due)
            bench.read(at: due + 1)
            bench.next = bench.card.nextReport()
        }
        #expect(bench.reads > 40_000)
        #expect(bench.backwards == 0)
    }

    /// (5): `hostTime(for:)` is the inverse of `now`: at the host time it gives,
    /// `now` has reached the target, and one nanosecond earlier it had not.
    @Test(arguments: [300.0, -300.0])
    func hostTimeInvertsNow(ppm: Double) {
        let bench = Bench(ppm: ppm, seed: 11)
        bench.run(seconds: 10)
        var checked = 0
        for _ in 0..<500 {
            // Targets inside the current period, where the mapping is fixed
            // until the next report.
            let start = bench.read(at: bench.clock.now)
            let room = bench.next.hostTime - bench.clock.now
            for step in [UInt64(1), 1_000, 250_000, room / 2, room * 9 / 10] where step < room {
                let target = start + step
                let h = bench.timebase.hostTime(for: target)
                #expect(h >= bench.clock.now && h < bench.next.hostTime)
                bench.read(at: h - 1)
                #expect(bench.lastRead < target)
                bench.read(at: h)
                #expect(bench.lastRead >= target && bench.lastRead - target <= 1)
                checked += 1
            }
            bench.period()
        }
        // Across reports the mapping moves by the loop's phase corrections
        // only: b * jitter, about 0.5 µs per report at the default bandwidth.
        let target = bench.read(at: bench.clock.now) + 50_000_000
        let h = bench.timebase.hostTime(for: target)
        while bench.next.hostTime < h { bench.period() }
        let at = bench.read(at: h)
        #expect(at > target - 3_000 && at < target + 3_000, "\(Int64(at) - Int64(target)) ns after 5 reports")
        #expect(checked > 2_000)
        #expect(bench.backwards == 0)
    }

    /// Before the first report the timebase runs at the nominal rate from its
    /// creation, and the first report adopts the card's position outright.
    @Test func nominalUntilTheFirstReport() {
        let clock = VirtualClock(start: 5_000_000_000)
        let timebase = DeviceTimebase(host: clock, nominalRate: 48_000, periodFrames: 480)
        #expect(timebase.now == 0)
        clock.advance(by: 3_000_000)
        #expect(timebase.now == 3_000_000)
        #expect(timebase.hostTime(for: 7_000_000) == 5_007_000_000)
        #expect(timebase.estimatedRateRatio == 1)
        #expect(timebase.reportCount == 0)
        // The card saw its first period 150 µs late: stream time holds until the
        // card reaches it instead of jumping back or keeping an offset.
        clock.advance(to: 5_010_150_000)
        let before = timebase.now
        #expect(before == 10_150_000)
        timebase.report(framesConsumed: 480, atHostTime: clock.now)
        #expect(timebase.reportCount == 1)
        #expect(timebase.streamOffset == 0)
        #expect(timebase.now == before)
        clock.advance(by: 1_000_000)
        #expect(timebase.now == 11_000_000)
    }

    /// A card that was running long before the timebase existed: its first
    /// report is re-anchored rather than jumping stream time forward.
    @Test func firstReportFarFromThePlaceholderIsReanchored() {
        let clock = VirtualClock(start: 1_000_000)
        let timebase = DeviceTimebase(host: clock, nominalRate: 48_000, periodFrames: 480)
        clock.advance(by: 10_000_000)
        let before = timebase.now
        timebase.report(framesConsumed: 48_000 * 600, atHostTime: clock.now)
        #expect(timebase.streamOffset == Int64(before) - 600_000_000_000)
        #expect(timebase.now == before)
        clock.advance(by: 10_000_000)
        #expect(timebase.now == before + 10_000_000)
    }

    /// (6a): a second without reports while the card runs on is no
    /// discontinuity: the loop extrapolates at the filtered rate and carries on.
    @Test(arguments: [300.0, -300.0])
    func missingReportsAreBridged(ppm: Double) {
        let bench = Bench(ppm: ppm, seed: 13)
        bench.run(seconds: 20)
        let reports = bench.timebase.reportCount
        var worst = 0.0
        while bench.seconds < 21 { worst = max(worst, abs(bench.period(skipReport: true))) }
        #expect(bench.timebase.reportCount == reports)
        while bench.seconds < 40 { worst = max(worst, abs(bench.period())) }
        #expect(worst < Self.errorBoundFrames, "max |error| \(worst) frames")
        #expect(bench.timebase.streamOffset == 0)
        #expect(bench.backwards == 0)
    }

    /// (6b): an xrun: the card stops for a second, then resumes. The loop
    /// re-initialises; stream time neither goes backwards nor leaps, then
    /// follows the card (plus the offset the stall left) within the bound,
    /// and the rate estimate survives.
    @Test(arguments: [300.0, -300.0])
    func recoversFromAStall(ppm: Double) {
        let bench = Bench(ppm: ppm, seed: 17)
        bench.run(seconds: 20)
        bench.card.stall(for: 1e9)
        bench.next = bench.card.nextReport()
        // Read densely through the stall and the re-anchoring report.
        let due = bench.next.hostTime
        var h = bench.clock.now
        while h < due {
            bench.read(at: h)
            h += 1_000_000
        }
        bench.clock.advance(to: due)
        let before = bench.read(at: due)
        bench.timebase.report(framesConsumed: bench.next.frames, atHostTime: due)
        let after = bench.read(at: due)
        bench.next = bench.card.nextReport()
        #expect(after >= before && after - before < 1_000, "stream time moved \(after - before) ns at the report")
        // The offset is the stall, give or take the extrapolation and jitter.
        let offset = Double(bench.timebase.streamOffset)
        #expect(abs(offset - 1e9) < 1e6, "offset \(offset) ns")
        var worstAfter = 0.0, worstRate = 0.0
        while bench.seconds < 40 {
            let e = bench.period()
            if bench.seconds > due.seconds + 2 { worstAfter = max(worstAfter, abs(e)) }
            worstRate = max(worstRate, abs(bench.timebase.estimatedRateRatio - (1 + ppm * 1e-6)) * 1e6)
        }
        #expect(worstAfter < Self.errorBoundFrames, "max |error| \(worstAfter) frames after recovery")
        #expect(worstRate < Self.rateBoundPPM, "rate error \(worstRate) ppm through the stall")
        #expect(bench.backwards == 0)
    }

    /// A count that goes backwards (a sink that restarted the card's count) is
    /// a discontinuity too; stream time carries on.
    @Test func countGoingBackwardsIsReanchored() {
        let bench = Bench(ppm: 100, seed: 19)
        bench.run(seconds: 5)
        let before = bench.read(at: bench.clock.now + 3_000_000)
        bench.timebase.report(framesConsumed: 480, atHostTime: bench.clock.now)
        #expect(bench.read(at: bench.clock.now) >= before)
        bench.clock.advance(by: 10_000_000)
        bench.timebase.report(framesConsumed: 960, atHostTime: bench.clock.now)
        let later = bench.read(at: bench.clock.now + 5_000_000)
        #expect(later > before + 10_000_000 && later < before + 16_000_000)
        #expect(bench.backwards == 0)
    }

    /// Readers on another thread, lock-free, while reports arrive: every value
    /// is monotonic and consistent with the card (a torn read of the mapping
    /// would be off by up to a period). The reader gets a thread of its own so
    /// it really runs alongside the reports, whatever else the test pool runs.
    @Test func concurrentReadersSeeConsistentMappings() {
        let bench = Bench(ppm: 300, seed: 23)
        bench.run(seconds: 10)
        let clock = bench.clock, timebase = bench.timebase, card = bench.card
        let shared = Shared()
        let bound = Self.errorBoundFrames
        Thread.detachNewThread {
            var last: UInt64 = 0
            while !shared.done.load(ordering: .acquiring) {
                let h1 = clock.now
                let v = timebase.now
                let h2 = clock.now
                let position = Double(v) * 48_000 / 1e9
                // Monotonic, and between the card's positions at h1 and h2 (± bound).
                if v < last || position < card.frames(atHost: h1) - bound || position > card.frames(atHost: h2) + bound {
                    shared.bad.wrappingAdd(1, ordering: .relaxed)
                }
                last = v
                shared.reads.wrappingAdd(1, ordering: .releasing)
            }
            shared.finished.store(true, ordering: .releasing)
        }
        while shared.reads.load(ordering: .acquiring) == 0 {}
        let reportsBefore = timebase.reportCount
        // At least 60 simulated seconds of reports (6 000), and enough reads to overlap them.
        while bench.seconds < 70 || (shared.reads.load(ordering: .relaxed) < 200_000 && bench.seconds < 3_000) {
            bench.period()
        }
        shared.done.store(true, ordering: .releasing)
        while !shared.finished.load(ordering: .acquiring) {}
        #expect(timebase.reportCount - reportsBefore >= 6_000)
        #expect(shared.reads.load(ordering: .acquiring) >= 200_000)
        #expect(shared.bad.load(ordering: .acquiring) == 0)
    }
}

private final class Shared: Sendable {
    let done = Atomic<Bool>(false)
    let finished = Atomic<Bool>(false)
    let reads = Atomic<Int>(0)
    let bad = Atomic<Int>(0)
}

extension UInt64 {
    fileprivate var seconds: Double { Double(self) / 1e9 }
}

/// SplitMix64 (the memory layer's generator lives above the engine): a seeded,
/// reproducible sequence for the simulated card's jitter.
private struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
