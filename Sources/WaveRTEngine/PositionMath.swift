/// Exact conversions between nanoseconds and frames, with 128-bit intermediates
/// so nothing overflows or drifts: `ns * rate` exceeds 64 bits after about 6.6
/// hours at 768 kHz (QEMU's HD Audio emulation stalled after 14.5 hours for this
/// reason), the 128-bit product does not for millennia.
public enum PositionMath {
    public static let nanosecondsPerSecond: UInt64 = 1_000_000_000

    /// floor(ns × rate / 10⁹): the frames elapsed after `ns` nanoseconds.
    @inline(__always)
    public static func frames(inNanoseconds ns: UInt64, rate: UInt64) -> UInt64 {
        // Fast path while the product fits in 64 bits (6.6 hours at 768 kHz, 4.8 days at 44.1 kHz).
        let (small, overflow) = ns.multipliedReportingOverflow(by: rate)
        if !overflow { return small / nanosecondsPerSecond }
        let product = ns.multipliedFullWidth(by: rate)
        // rate < 10⁹, so the quotient is below ns and fits.
        return nanosecondsPerSecond.dividingFullWidth(product).quotient
    }

    /// ceil(frames × 10⁹ / rate): the first nanosecond at which `frames` have elapsed.
    /// Saturates at UInt64.max (some 580 years at 768 kHz).
    @inline(__always)
    public static func nanoseconds(untilFrames frames: UInt64, rate: UInt64) -> UInt64 {
        // Fast path while frames × 10⁹ + rate fits in 64 bits (some 4 days at 48 kHz).
        if frames < 18_000_000_000 && rate < 1 << 32 { return (frames &* nanosecondsPerSecond &+ rate &- 1) / rate }
        let product = frames.multipliedFullWidth(by: nanosecondsPerSecond)
        guard product.high < rate else { return .max }
        let (q, r) = rate.dividingFullWidth(product)
        return r == 0 ? q : (q == .max ? .max : q + 1)
    }
}
