import Logging
import Synchronization

/// One misuse or refusal reported by an emulated DDI: which DDI, which argument,
/// which rule, and what happened instead (NULL, a no-op, a partial result).
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: Sendable, Hashable { case info, warning, error }

    public var severity: Severity
    /// The DDI the call modelled, as the WDK spells it: `MmAllocatePagesForMdl`.
    public var ddi: String
    /// The argument at fault, as the WDK spells it (`SkipBytes`), or "" for the call as a whole.
    public var argument: String
    /// The rule that was broken, in one sentence.
    public var rule: String
    /// What the emulator did instead.
    public var outcome: String

    public init(severity: Severity, ddi: String, argument: String, rule: String, outcome: String) {
        self.severity = severity
        self.ddi = ddi
        self.argument = argument
        self.rule = rule
        self.outcome = outcome
    }

    public var description: String {
        let arg = argument.isEmpty ? "" : " \(argument):"
        return "\(ddi):\(arg) \(rule); \(outcome)"
    }
}

/// A queryable log of diagnostics, also forwarded to swift-log.
///
/// Only slow (control) paths report here; the real-time path counts its faults
/// in lock-free counters and fault rings of its own.
public final class DiagnosticLog: Sendable {
    private let entries = Mutex<[Diagnostic]>([])
    private let logger: Logger

    public init(label: String = "wavert.memory") {
        self.logger = Logger(label: label)
    }

    public func report(_ d: Diagnostic) {
        entries.withLock { $0.append(d) }
        switch d.severity {
        case .info: logger.debug("\(d.description)")
        case .warning: logger.warning("\(d.description)")
        case .error: logger.error("\(d.description)")
        }
    }

    /// Every diagnostic so far, oldest first.
    public var all: [Diagnostic] { entries.withLock { $0 } }

    /// Diagnostics reported by `ddi`.
    public func reported(by ddi: String) -> [Diagnostic] { all.filter { $0.ddi == ddi } }

    public func removeAll() { entries.withLock { $0.removeAll() } }
}
