/// One line of the verdict: a figure or a property, the Windows test or
/// requirement it models, and how it fares against each set of limits.
public struct TimingCheck: Sendable, Codable, Hashable {
    public enum Outcome: String, Sendable, Codable {
        case pass, fail, warning
        case notExercised = "not exercised"
    }

    public var id: String
    public var title: String
    /// The Windows test or requirement the check models.
    public var models: String
    public var measured: String
    /// The limit in words ("<= 10000 ppm"); nil: that set does not judge it.
    public var windowsLimit: String?
    public var strictLimit: String?
    public var windows: Outcome?
    public var strict: Outcome?

    /// Failed at either level.
    public var failed: Bool { windows == .fail || strict == .fail }

    /// "Jitter std: 288.406 µs (strict <= 10.417 µs) [KS Position Test <= 1 ms]", for a failed check.
    public var failureLine: String {
        var parts: [String] = []
        if windows == .fail, let l = windowsLimit { parts.append("Windows \(l)") }
        if strict == .fail, let l = strictLimit { parts.append("strict \(l)") }
        return "\(title): \(measured) (\(parts.joined(separator: "; "))) [\(models)]"
    }
}

/// Builds checks: numeric figures against "at most" limits, properties that must hold.
struct CheckList {
    private(set) var checks: [TimingCheck] = []

    /// |value| (or value, when `magnitude` is false) at most each limit. With
    /// several labelled values (one per position source), the worst is judged
    /// and each is shown. A value that could not be measured fails, unless
    /// `unmeasured` says the run did not exercise the figure.
    mutating func figure(_ id: String, _ title: String, models: String, values: [(label: String, value: Double?)], unit: String,
                         digits: Int, windows: Double?, strict: Double?, magnitude: Bool = false, warningOnly: Bool = false,
                         unmeasured: TimingCheck.Outcome = .fail)
    {
        let measuredValues = values.compactMap(\.value)
        let worst: Double? = measuredValues.count < values.count || values.isEmpty ? nil
            : measuredValues.max { (magnitude ? abs($0) : $0) < (magnitude ? abs($1) : $1) }
        func show(_ v: Double?) -> String { v.map { "\(Format.fixed($0, digits)) \(unit)" } ?? "not measured" }
        let shown = values.count == 1 ? show(values[0].value) : values.map { "\($0.label) \(show($0.value))" }.joined(separator: "; ")
        func judge(_ limit: Double?) -> (String?, TimingCheck.Outcome?) {
            guard let limit else { return (nil, nil) }
            let words = (limit == 0 ? "= " : magnitude ? "±" : "<= ") + "\(Format.compact(limit, digits)) \(unit)"
            guard let worst else { return (words, unmeasured) }
            let ok = (magnitude ? abs(worst) : worst) <= limit
            return (words, ok ? .pass : warningOnly ? .warning : .fail)
        }
        let w = judge(windows), s = judge(strict)
        checks.append(TimingCheck(id: id, title: title, models: models, measured: shown,
                                  windowsLimit: w.0, strictLimit: s.0, windows: w.1, strict: s.1))
    }

    mutating func figure(_ id: String, _ title: String, models: String, value: Double?, unit: String, digits: Int,
                         windows: Double?, strict: Double?, magnitude: Bool = false, warningOnly: Bool = false,
                         unmeasured: TimingCheck.Outcome = .fail)
    {
        figure(id, title, models: models, values: [("", value)], unit: unit, digits: digits, windows: windows, strict: strict,
               magnitude: magnitude, warningOnly: warningOnly, unmeasured: unmeasured)
    }

    /// A property that must hold (nil: the scenario did not exercise it).
    mutating func property(_ id: String, _ title: String, models: String, holds: Bool?, measured: String,
                           windows: Bool, strict: Bool = true)
    {
        let outcome: TimingCheck.Outcome = holds.map { $0 ? .pass : .fail } ?? .notExercised
        checks.append(TimingCheck(id: id, title: title, models: models, measured: measured,
                                  windowsLimit: windows ? "must hold" : nil, strictLimit: strict ? "must hold" : nil,
                                  windows: windows ? outcome : nil, strict: strict ? outcome : nil))
    }

    /// A count within [minimum - tolerance, maximum + tolerance] of each set's tolerance.
    mutating func count(_ id: String, _ title: String, models: String, value: Int, minimum: Int, maximum: Int,
                        windows: Int?, strict: Int?, measured: String)
    {
        func judge(_ tolerance: Int?) -> (String?, TimingCheck.Outcome?) {
            guard let tolerance else { return (nil, nil) }
            let range = minimum == maximum ? "\(maximum)" : "\(minimum) to \(maximum)"
            let words = tolerance == 0 ? "= \(range)" : "\(range) ± \(tolerance)"
            return (words, value >= minimum - tolerance && value <= maximum + tolerance ? .pass : .fail)
        }
        let w = judge(windows), s = judge(strict)
        checks.append(TimingCheck(id: id, title: title, models: models, measured: measured,
                                  windowsLimit: w.0, strictLimit: s.0, windows: w.1, strict: s.1))
    }

    /// Every check but `id` becomes "not exercised", measuring `measured` (a run whose stream never opened).
    mutating func markNotExercised(except id: String, measured: String) {
        for i in checks.indices where checks[i].id != id {
            checks[i].measured = measured
            if checks[i].windows != nil { checks[i].windows = .notExercised }
            if checks[i].strict != nil { checks[i].strict = .notExercised }
        }
    }

    /// One line per failed check.
    var failures: [String] { checks.filter(\.failed).map(\.failureLine) }

    var warnings: [String] {
        checks.filter { $0.windows == .warning || $0.strict == .warning }
            .map { "\($0.title): \($0.measured) (\($0.windowsLimit ?? $0.strictLimit ?? "")) [\($0.models)]" }
    }
}

/// Deterministic number formatting (no locale, no Foundation).
enum Format {
    /// `value` with exactly `digits` decimals.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : value < 0 ? "-inf" : "inf" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e18 else { return "\(value)" }
        let n = UInt64(scaled)
        let whole = n / UInt64(scale), fraction = n % UInt64(scale)
        var s = (value < 0 && n != 0 ? "-" : "") + "\(whole)"
        if digits > 0 {
            let f = "\(fraction)"
            s += "." + String(repeating: "0", count: digits - f.count) + f
        }
        return s
    }

    /// `value` to at most `digits` decimals, without trailing zeros.
    static func compact(_ value: Double, _ digits: Int) -> String {
        var s = fixed(value, digits)
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s
    }

    /// `value` rounded to `digits` decimals, without negative zero (for JSON).
    static func rounded(_ value: Double, _ digits: Int) -> Double {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let r = (value * scale).rounded() / scale
        return r == 0 ? 0 : r
    }
}
