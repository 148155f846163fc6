import Synchronization

/// Stream time led by a sound card's crystal.
///
/// A real card consumes frames at its own rate, tens to hundreds of ppm away
/// from its nominal rate as measured on the host clock. When the card leads, the
/// engine must run on the card's time, not the host's, or it drifts against the
/// card until it under- or overruns. A sink (ALSA, for instance) calls
/// ``report(framesConsumed:atHostTime:)`` once per period with the card's
/// cumulative frame count and the host-clock time it observed it at; this
/// timebase filters those jittery observations and answers, for any host time,
/// where the card is:
///
///     now = cardFrames(host.now) * 1e9 / nominalRate   (nanoseconds)
///
/// **The filter** is the delay-locked loop of Fons Adriaensen, "Using a DLL to
/// filter time" (Linux Audio Conference 2005), as JACK and PipeWire use it. Per
/// period, with `t` the observed time, `t1` the predicted one and `e2` the
/// filtered period length:
///
///     e = t - t1;  t0 = t1;  t1 += b * e + e2;  e2 += c * e
///     omega = 2 pi B T,  b = sqrt(2) omega,  c = omega^2
///
/// (`B` the loop bandwidth, `T` the nominal period): a critically damped
/// (zeta = 0.707) second-order loop, so it tracks both the card's phase and its
/// rate with no steady-state error, and attenuates jitter above about `B`.
/// Between reports, stream time is interpolated linearly from frame `n0` at `t0`
/// to frame `n0 + periodFrames` at `t1`.
///
/// **Deliberate differences from the paper:**
/// - The loop locks wide and then narrows: a (re)started loop runs at 8 x the
///   configured bandwidth (capped so `2 pi B T` stays at most 0.25) and halves
///   it every three time constants, `1 / (2 pi B)` each, down to ``bandwidthHz``.
///   A narrow loop is what rejects jitter (the rate estimate's noise grows as
///   `B^1.5`: under ±200 µs of jitter the worst rate error measured was
///   130 ppm at 0.5 Hz, 12 ppm at 0.1 Hz, 6 ppm at 0.05 Hz), but started
///   narrow it takes over ten seconds to pull in a card 300 ppm off.
///   Narrowing only changes future gains, so the mapping does not move.
/// - Past `t1` (a report is late or missing) the mapping extrapolates at the
///   filtered rate `e2`, not the slope of the last segment: that slope includes
///   the phase correction `b * e` meant for one period only, and extrapolating it
///   over a gap of a second would drift by up to `b * jitter / T` (0.07 % at
///   the lock-in bandwidth with ±200 µs of jitter).
/// - A report may cover more or fewer frames than one period (missed reports, a
///   sink that reads the position at odd moments): the prediction is made for
///   the reported frame count, and the rate correction is divided by the number
///   of periods covered, because the error of a prediction `k` periods ahead
///   carries `k` periods of rate error. Scaling the gains up instead, as a
///   literal discretisation would, makes the loop unstable once `k * omega`
///   nears 1. Reporting more often than once per period raises the effective
///   bandwidth.
/// - A report more than ``discontinuityThreshold`` away from its prediction
///   (an xrun, a suspended card, a restarted count) re-initialises the loop
///   instead of feeding it an error it would take seconds to absorb. The rate
///   estimate survives (the crystal did not change) and is held while the
///   loop re-acquires the phase from the new, single, jittery sample: left
///   free, the wide lock-in loop turned jitter into rate errors of up to
///   77 ppm in simulation. The stream time is re-anchored with an offset so it continues from where it was: the engine
///   has already handed out positions up to that time, and neither a jump back
///   nor one forward helps it. After a discontinuity, therefore, stream time is
///   the card's frames plus a constant offset.
/// - The first report adopts the card's position outright when it is within the
///   threshold of the placeholder time (the normal case: the timebase was made
///   when the card started), so no single jittery sample is baked into a
///   permanent offset; otherwise it re-anchors like a discontinuity.
/// - Before the first report, stream time runs at the nominal rate from the
///   timebase's creation, so an engine can start before the card reports.
/// - ``now`` never decreases: each slope change at a report may move the mapping
///   at the current instant by a few nanoseconds either way, and adopting the
///   card at the first report may put it behind what was already read. Reads
///   clamp to the largest value returned so far, across all threads.
///
/// **Concurrency.** ``now``, ``hostTime(for:)``, ``estimatedRateRatio`` and
/// ``reportCount`` are lock-free and callable from any thread while
/// ``report(framesConsumed:atHostTime:)`` runs on another: the mapping is
/// published through the project's ``Seqlock``. None of them
/// allocates or blocks. Call ``report(framesConsumed:atHostTime:)`` from one
/// thread at a time (the sink's).
///
/// Times are nanoseconds on the host timebase's ``Timebase/now``.
public final class DeviceTimebase: Timebase, @unchecked Sendable {
    /// The timebase the card is observed on: ``MonotonicTimebase`` or ``VirtualClock``.
    public let host: any Timebase
    /// The card's nominal frame rate, in frames per second.
    public let nominalRate: Int
    /// Frames per period: the expected spacing of reports.
    public let periodFrames: Int
    /// The loop bandwidth in Hz, once locked.
    public let bandwidthHz: Double
    /// How far (ns) a report may stray from its prediction before it counts as
    /// a discontinuity: four nominal periods, and never under 20 ms, so that
    /// scheduling outliers of a few milliseconds are filtered, not obeyed.
    public let discontinuityThreshold: UInt64

    /// The bandwidth a (re)started loop locks with; it halves down to
    /// ``bandwidthHz`` (see the type's documentation).
    let lockBandwidthHz: Double
    /// Nanoseconds per nominal period: both the host duration of a period at the
    /// nominal rate and the stream time one period adds.
    private let periodNs: Double

    /// The published mapping (the project's one sequence lock: readers never wait).
    private let published: Seqlock<Mapping>

    /// The largest stream time any reader has been given.
    private let lastRead = Atomic<UInt64>(0)
    private let reports = Atomic<Int>(0)

    /// The writer's own state; only ``report(framesConsumed:atHostTime:)`` touches it.
    private var loop: Loop

    /// - Parameters:
    ///   - host: the timebase the card's reports are timed on.
    ///   - nominalRate: the card's nominal rate in frames per second.
    ///   - periodFrames: the frames between two reports.
    ///   - bandwidthHz: the final loop bandwidth. Lower rejects more jitter but
    ///     follows changes of the card's rate (temperature) more slowly; a time
    ///     constant is `1 / (2 pi B)` seconds. The default, 0.05 Hz (3 s), keeps
    ///     the position within about a frame and the rate within a few ppm
    ///     under ±200 µs of jitter, with 10 ms periods; the lock-in ramp reaches
    ///     it in about 8 s. `2 pi B T` must stay under 0.5.
    public init(host: any Timebase, nominalRate: Int, periodFrames: Int, bandwidthHz: Double = 0.05) {
        precondition(nominalRate > 0 && periodFrames > 0, "rate and period must be positive")
        let periodNs = Double(periodFrames) * 1e9 / Double(nominalRate)
        let omega = 2 * Double.pi * bandwidthHz * periodNs / 1e9
        // Beyond this a single period's correction overshoots and the loop rings or diverges.
        precondition(bandwidthHz > 0 && omega < 0.5, "bandwidth must be positive and well below the report rate")
        self.host = host
        self.nominalRate = nominalRate
        self.periodFrames = periodFrames
        self.bandwidthHz = bandwidthHz
        self.periodNs = periodNs
        lockBandwidthHz = max(bandwidthHz, min(bandwidthHz * DeviceTimebase.lockFactor, 0.25 / (2 * Double.pi * periodNs / 1e9)))
        discontinuityThreshold = max(UInt64(4 * periodNs), 20_000_000)

        // Placeholder until the first report: the nominal rate from now on.
        let start = host.now
        let mapping = Mapping(origin: start, t0: 0, t1: periodNs, slopeSegment: 1, slopeAfter: 1,
                              stream0: 0, stream0Fraction: 0, span: periodNs)
        loop = Loop(started: false, origin: start, t0: 0, t1: periodNs, e2: periodNs, n0: 0,
                    offset: 0, bandwidth: 0, b: 0, c: 0, dwell: 0, rateFrozen: false, mapping: mapping)
        published = Seqlock(mapping)
    }

    // MARK: Timebase

    /// The card's position at the current host time, in nanoseconds of stream
    /// time; never less than any value returned before.
    public var now: UInt64 {
        let hostNow = host.now
        // A read that gave up (three reports completed during each of its
        // copies: this thread was preempted that long) holds the clock still.
        guard let mapping = snapshot() else { return lastRead.load(ordering: .relaxed) }
        return lastRead.max(mapping.stream(atHost: hostNow), ordering: .relaxed).newValue
    }

    public var hostClock: HostClock { host.hostClock }

    /// The host-clock time at which the current mapping reaches stream time
    /// `time` (rounded up, so ``now`` reads at least `time` then, unless a
    /// report changes the mapping in between). When the read gave up,
    /// ``Deadline/now``: the caller looks again at once rather than sleeping
    /// on a guess (a bounded retry, one scheduler round each).
    public func hostTime(for time: UInt64) -> UInt64 {
        guard let mapping = snapshot() else { return Deadline.now }
        return host.hostTime(for: mapping.host(forStream: time))
    }

    // MARK: Observation

    /// The filtered card rate divided by the nominal rate: 1.0003 for a card
    /// running 300 ppm fast. 1 until the loop has had reports.
    public var estimatedRateRatio: Double {
        snapshot()?.slopeAfter ?? 1
    }

    /// How many times ``report(framesConsumed:atHostTime:)`` has been called.
    public var reportCount: Int { reports.load(ordering: .relaxed) }

    /// The offset (ns) added to the card's frame time since the last
    /// re-anchoring: stream time = frames * 1e9 / nominalRate + offset. Writer
    /// state, unsynchronised: read it on the reporting thread (tests do).
    var streamOffset: Int64 { loop.offset }

    /// Tells the loop the card had consumed `framesConsumed` frames in total at
    /// host time `atHostTime`. Call once per period, from one thread at a time.
    /// A count equal to the previous one carries no information (the card is
    /// stalled) and is ignored; a smaller one is a discontinuity.
    public func report(framesConsumed n: UInt64, atHostTime t: UInt64) {
        reports.wrappingAdd(1, ordering: .relaxed)
        var s = loop
        let threshold = Double(discontinuityThreshold)
        if !s.started {
            reanchor(&s, frames: n, hostTime: t, first: true, threshold: threshold)
        } else if n < s.n0 {
            reanchor(&s, frames: n, hostTime: t, first: false, threshold: threshold)
        } else if n == s.n0 {
            return
        } else {
            let P = Double(periodFrames)
            let n1 = s.n0 + UInt64(periodFrames)
            // Where the loop expected frame n: inside the current segment, or
            // past it at the filtered rate (the same mapping readers use).
            let predicted = n <= n1
                ? s.t0 + Double(n - s.n0) * (s.t1 - s.t0) / P
                : s.t1 + Double(n - n1) * s.e2 / P
            let observed = Double(Int64(bitPattern: t &- s.origin))
            let e = observed - predicted
            if abs(e) > threshold {
                reanchor(&s, frames: n, hostTime: t, first: false, threshold: threshold)
            } else {
                let periods = max(1, Double(n - s.n0) / P)
                s.t0 = predicted
                // The phase correction b * e is spread over the next period; the
                // floor keeps the segment forward-going whatever the error.
                s.t1 = predicted + max(s.b * e + s.e2, s.e2 / 4)
                s.e2 += s.c * e / periods
                s.dwell -= periods
                if s.dwell <= 0 && s.bandwidth > bandwidthHz {
                    setBandwidth(&s, max(bandwidthHz, s.bandwidth / 2))
                }
                s.n0 = n
                // Rebase onto the integer part of t0 so the Doubles stay small
                // (sub-nanosecond precision for any uptime).
                let whole = s.t0.rounded(.down)
                s.origin = s.origin &+ UInt64(bitPattern: Int64(whole))
                s.t0 -= whole
                s.t1 -= whole
            }
        }
        publish(&s)
        loop = s
    }

    // MARK: Internals

    /// (Re)starts the loop at frame `n`, host time `t`, choosing the stream
    /// offset as the type's documentation describes.
    private func reanchor(_ s: inout Loop, frames n: UInt64, hostTime t: UInt64, first: Bool, threshold: Double) {
        let current = s.mapping.stream(atHost: t)
        let card = Self.streamNs(frames: n, rate: nominalRate).whole
        let gap = Int64(bitPattern: current &- card)
        if first && abs(Double(gap)) <= threshold {
            s.offset = 0
        } else {
            s.offset = gap
        }
        if first { s.e2 = periodNs }
        // After a discontinuity the rate is already known and the crystal did not
        // change: only the phase needs re-acquiring, so the rate stays frozen
        // until the bandwidth is back down to its final value.
        s.rateFrozen = !first
        setBandwidth(&s, lockBandwidthHz)
        s.started = true
        s.origin = t
        s.t0 = 0
        s.t1 = s.e2
        s.n0 = n
    }

    /// The lock-in ramp: start this many times wider, and hold each bandwidth
    /// for this many time constants. Simulated at ±300 ppm with ±200 µs of
    /// jitter, 8 brings the error under 2 frames within 2 s where starting at
    /// the final 0.05 Hz took 12 s.
    static let lockFactor = 8.0
    static let dwellTimeConstants = 3.0

    /// Sets the loop gains for bandwidth `bandwidth`, and how many periods to
    /// keep it: a few time constants of the loop, 1 / (2 pi B) each, so it
    /// settles before the next halving.
    private func setBandwidth(_ s: inout Loop, _ bandwidth: Double) {
        let omega = 2 * Double.pi * bandwidth * periodNs / 1e9
        s.bandwidth = bandwidth
        s.b = 2.0.squareRoot() * omega
        s.c = s.rateFrozen && bandwidth > bandwidthHz ? 0 : omega * omega
        s.dwell = DeviceTimebase.dwellTimeConstants / omega
    }

    /// Computes the mapping from the loop state and publishes it.
    private func publish(_ s: inout Loop) {
        let stream = Self.streamNs(frames: s.n0, rate: nominalRate)
        let stream0 = Int64(bitPattern: stream.whole) &+ s.offset
        s.mapping = Mapping(origin: s.origin, t0: s.t0, t1: s.t1,
                            slopeSegment: periodNs / (s.t1 - s.t0), slopeAfter: periodNs / s.e2,
                            stream0: stream0 < 0 ? 0 : UInt64(stream0), stream0Fraction: stream.fraction,
                            span: periodNs)
        published.write(s.mapping)
    }

    /// A consistent copy of the published mapping, or nil when the seqlock's
    /// bounded read gave up (``Seqlock/maximumRetries``): callers on the
    /// real-time path never loop on it (a SCHED_FIFO reader retrying while
    /// the reporting thread it preempted cannot finish would spin for ever).
    private func snapshot() -> Mapping? { published.read() }

    /// frames * 1e9 / rate, exactly, through a 128-bit product: a 64-bit one
    /// overflows after 4.4 days at 48 kHz. (The quotient fits for 584 years.)
    static func streamNs(frames: UInt64, rate: Int) -> (whole: UInt64, fraction: Double) {
        let r = UInt64(rate)
        let (q, rem) = r.dividingFullWidth(frames.multipliedFullWidth(by: 1_000_000_000))
        return (q, Double(rem) / Double(r))
    }

    /// The writer's state. Host times are Doubles relative to the integer
    /// `origin`, kept within a period or so of it.
    private struct Loop {
        var started: Bool
        var origin: UInt64
        /// The filtered host time of frame `n0`, and the predicted one of
        /// `n0 + periodFrames`.
        var t0: Double
        var t1: Double
        /// The filtered period length in host ns.
        var e2: Double
        var n0: UInt64
        /// Stream ns added to the card's frame time (see the type's documentation).
        var offset: Int64
        /// The current bandwidth, its gains, and the periods left before it halves.
        var bandwidth: Double
        var b: Double
        var c: Double
        var dwell: Double
        /// Phase-only correction while re-acquiring after a discontinuity.
        var rateFrozen: Bool
        /// What was last published.
        var mapping: Mapping
    }

    /// Host time to stream time, as published: linear with `slopeSegment` from
    /// (`t0`, stream0) to (`t1`, stream0 + span), then on at `slopeAfter`.
    /// Host times `t0`, `t1` are relative to `origin`.
    fileprivate struct Mapping: BitwiseCopyable {
        var origin: UInt64
        var t0: Double
        var t1: Double
        var slopeSegment: Double
        var slopeAfter: Double
        var stream0: UInt64
        var stream0Fraction: Double
        var span: Double

        /// Bounds on Double-to-Int64 conversions: centuries, far beyond any gap.
        private static let limit = 4.0e18

        func stream(atHost h: UInt64) -> UInt64 {
            let dh = Double(Int64(bitPattern: h &- origin))
            var ds = dh <= t1 ? (dh - t0) * slopeSegment : span + (dh - t1) * slopeAfter
            ds += stream0Fraction
            ds = min(max(ds, -Self.limit), Self.limit)
            let value = Int64(bitPattern: stream0) &+ Int64(ds.rounded(.down))
            return value < 0 ? 0 : UInt64(value)
        }

        func host(forStream s: UInt64) -> UInt64 {
            let diff = Int64(bitPattern: s &- stream0)
            // Guard against wrap-around for absurd requests (UInt64.max as "never").
            if s > stream0 && s - stream0 > UInt64(Self.limit) { return .max }
            if s < stream0 && stream0 - s > UInt64(Self.limit) { return 0 }
            let ds = Double(diff) - stream0Fraction
            var dh = ds <= span ? t0 + ds / slopeSegment : t1 + (ds - span) / slopeAfter
            dh = min(max(dh, -Self.limit), Self.limit)
            let value = Int64(bitPattern: origin) &+ Int64(dh.rounded(.up))
            var h = value < 0 ? 0 : UInt64(value)
            // Rounding can leave h a nanosecond short; step until the mapping is there.
            var steps = 0
            while stream(atHost: h) < s && steps < 4 && h < .max {
                h += 1
                steps += 1
            }
            return h
        }
    }
}
