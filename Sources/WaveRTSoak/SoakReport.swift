/// What a soak found, and what it did.
public struct SoakReport: Sendable {
    /// One thing a check found.
    public struct Finding: Sendable, Hashable, CustomStringConvertible {
        public enum Kind: String, Sendable, Hashable, CaseIterable {
            case position, rate, glitch, notification, verifier, hardware, dmaFault, leak, crash, state, open, clock
        }
        public var kind: Kind
        /// The step it was found at (0: setting up), and the stream time then (ns since the soak began).
        public var step: UInt64
        public var time: UInt64
        public var what: String

        public var description: String { "[\(kind.rawValue)] step \(step), \(SoakClock.seconds(time)): \(what)" }
    }

    public var target: String
    public var seed: UInt64
    /// Stream time the soak asked for and ran, in nanoseconds.
    public var requestedNanoseconds: UInt64
    public var streamNanoseconds: UInt64 = 0
    public var wallSeconds: Double = 0
    public var steps: UInt64 = 0
    /// Pins opened (the first one included) and the opens the miniport refused cleanly.
    public var opens: UInt64 = 0
    public var refusedOpens: UInt64 = 0
    /// Formats opened, by description.
    public var formats: Set<String> = []
    /// KSSTATE changes the soak asked for through the port (each steps through the neighbouring states).
    public var stateRequests: UInt64 = 0
    public var fragmentations: UInt64 = 0
    public var wakes: UInt64 = 0
    public var lateWakes: UInt64 = 0
    /// Glitches the device's timing said the lateness must cause, and the ones the glitch monitor reported.
    public var expectedGlitches: UInt64 = 0
    public var reportedGlitches: UInt64 = 0
    public var positionChecks: UInt64 = 0
    /// The first failure: the soak stops there. Nil when it passed.
    public var failure: Finding?
    /// A known-buggy miniport's findings (the first of each kind, with how often it was seen).
    public var findings: [Finding] = []
    public var findingCounts: [Finding.Kind: UInt64] = [:]
    /// The command line that replays this run.
    public var replay: String

    public var passed: Bool { failure == nil }

    /// The summary `wavert soak` prints.
    public var summary: String {
        var lines: [String] = []
        let hours = Double(streamNanoseconds) / 3.6e12
        lines.append("soak \(target): \(Self.fixed(hours, 2)) h of stream time in \(Self.fixed(wallSeconds, 1)) s"
            + " (\(Int(Double(streamNanoseconds) / 1e9 / max(wallSeconds, 1e-9))) x real time), seed \(seed)")
        lines.append("  steps \(steps), opens \(opens) (\(refusedOpens) refused cleanly), state requests \(stateRequests),"
            + " fragmentations \(fragmentations), formats \(formats.count)")
        lines.append("  client wakes \(wakes), late \(lateWakes); glitches expected \(expectedGlitches), reported \(reportedGlitches);"
            + " position checks \(positionChecks)")
        if !findings.isEmpty {
            lines.append("  findings of the known-buggy miniport (not failures):")
            for f in findings { lines.append("    \(f) (\(findingCounts[f.kind] ?? 1) in all)") }
        }
        if let failure {
            lines.append("FAILED \(failure)")
            lines.append("  replay: \(replay)")
        } else {
            lines.append("passed")
        }
        return lines.joined(separator: "\n")
    }

    /// `value` with `decimals` digits after the point (no Foundation in this module).
    static func fixed(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let n = Int64((value * scale).rounded())
        let whole = "\(n / Int64(scale))"
        guard decimals > 0 else { return whole }
        let fraction = String(String(abs(n) % Int64(scale) + Int64(scale)).dropFirst())
        return (n < 0 && n / Int64(scale) == 0 ? "-" : "") + whole + "." + fraction
    }
}
