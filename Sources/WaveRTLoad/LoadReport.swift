/// What a load run measured. Latencies in nanoseconds.
///
/// The notification latency of a stream is, for each signalled wake of its
/// client, the time since the IOC it answers: the instant the DMA fetched the
/// end of the packet, from the device's own timing (the last packet boundary
/// at or before the wake). That is the path ISR → DPC → KeSetEvent → the
/// client's thread woken, and the ratio is judged on it (`iocDriven`).
/// sysvad's notifications come from its 1 ms timer DPC at whole-millisecond
/// positions (the example's documented flaw), so its figure includes up to a
/// millisecond of the miniport's own quantisation: reported apart
/// (`timerDriven`), checked for glitches like every stream, left out of the ratio.
public struct LoadReport: Sendable, Codable, Hashable {
    public var streams: Int
    /// Streams per example.
    public var examples: [String: Int]
    public var hogThreads: Int
    public var seconds: Double
    /// Glitches the sample-exact monitors found, over every stream; verifier findings and leaks, likewise.
    public var glitches: UInt64
    public var glitchesPerExample: [String: UInt64]
    /// Glitches within a buffer's time after a baseline thread (one per CPU) was
    /// kept from running for at least ``hostStallNanoseconds``: the machine
    /// stalled every thread (on this VM, a non-preemptible kernel under load),
    /// and no client could have kept up. The rest are the emulator's.
    public var glitchesAfterHostStalls: UInt64
    /// Glitches in the warm-up or after the window (counted in ``glitches``, not judged: the
    /// timer threads record stalls only in the window).
    public var glitchesOutsideWindow: UInt64
    /// The baseline threads' wakes at least ``hostStallNanoseconds`` late, and the longest.
    public var hostStalls: Int
    public var longestHostStall: UInt64
    public static let hostStallNanoseconds: UInt64 = 2_000_000
    /// Glitches in the window that no host stall explains.
    public var unexplainedGlitches: UInt64 {
        let judged = glitches - min(glitches, glitchesOutsideWindow)
        return judged - min(judged, glitchesAfterHostStalls)
    }
    /// The first 20 glitches: which stream, what, when (seconds from the measured window's start; negative: in the warm-up).
    public var glitchEvents: [String]
    public var verifierFindings: Int
    public var leaks: Int
    public var iocDriven: LatencySummary?
    public var timerDriven: LatencySummary?
    /// Per example, the notification latency.
    public var perExample: [String: LatencySummary]
    /// The timer threads' own wake-up lateness over the same window (hdrhistogram, 3 digits).
    public var baselineP50: UInt64
    public var baselineP99: UInt64
    public var baselineMax: UInt64
    public var baselineSamples: UInt64
    /// iocDriven p99 / baseline p99.
    public var p99Ratio: Double?
    /// Wakes past a log's capacity (not measured) and streams whose DMA had no timing to measure against.
    public var wakesNotMeasured: UInt64
    /// CPU over the window, in cores (1.0 = one core busy): the whole process, the hog's threads, the rest (streams, baseline).
    public var processCores: Double
    public var hogCores: Double
    /// Rounds of 10,000 multiply-adds each hog thread did in the window (it really ran).
    public var hogRounds: [UInt64]
    public var streamCores: Double
    /// Whether every stream's processor and client threads got SCHED_FIFO, and the errno when not.
    public var fifoGranted: Bool
    public var fifoError: Int32

    /// One paragraph, for a benchmark's notes and a test's message.
    public var summary: String {
        func us(_ ns: UInt64?) -> String { ns.map { String(Double($0) / 1000) } ?? "-" }
        return "\(streams) streams \(examples.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " ")), "
            + "\(hogThreads) hog threads, \(seconds) s: glitches \(glitches) (\(glitchesOutsideWindow) outside the window, \(glitchesAfterHostStalls) after host stalls; \(hostStalls) stalls ≥ 2 ms, longest \(us(longestHostStall)) µs) \(glitchesPerExample.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")), verifier \(verifierFindings), leaks \(leaks); "
            + "IOC→wake p50 \(us(iocDriven?.p50)) µs p99 \(us(iocDriven?.p99)) µs max \(us(iocDriven?.max)) µs (\(iocDriven?.count ?? 0) wakes); "
            + "sysvad timer→wake p99 \(us(timerDriven?.p99)) µs; baseline p50 \(us(baselineP50)) µs p99 \(us(baselineP99)) µs max \(us(baselineMax)) µs "
            + "(\(baselineSamples) wakes); ratio \(p99Ratio.map { String(format3($0)) } ?? "-"); CPU: process \(format3(processCores)) cores, "
            + "hog \(format3(hogCores)), streams \(format3(streamCores)); SCHED_FIFO \(fifoGranted ? "granted" : "refused (errno \(fifoError))"); "
            + "not measured \(wakesNotMeasured)"
    }
}

func format3(_ x: Double) -> String {
    let scaled = (x * 1000).rounded() / 1000
    return String(scaled)
}
