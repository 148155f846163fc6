import ArgumentParser
import CWaveRTShim
import Foundation
import WaveRTRunner

/// What `play` and `record` share around a run: the stop signals, the status
/// line, the report file, and the verdict on the verifier.
enum RunOutput {
    /// Whether stdout is a terminal (then a status line is drawn).
    static let terminal = isatty(STDOUT_FILENO) == 1

    /// SIGINT, SIGTERM and SIGHUP ask for a clean stop; a second one exits at once with 128 + its number.
    static func installStopSignals() throws {
        let status = wrt_install_stop_signals()
        if status != 0 { throw ValidationError("cannot install the stop signal handlers: \(String(cString: strerror(status)))") }
    }

    static var stopRequested: Bool { wrt_stop_signal() != 0 }

    /// "wavert: stopped by SIGTERM", when a signal stopped the run.
    static var stopNote: String? {
        let signo = wrt_stop_signal()
        guard signo != 0 else { return nil }
        let name = [SIGINT: "SIGINT", SIGTERM: "SIGTERM", SIGHUP: "SIGHUP"][signo] ?? "signal \(signo)"
        return "wavert: stopped by \(name)"
    }

    /// Redraws the status line in place.
    static func status(_ text: String) {
        print("\r" + text + "   ", terminator: "")
        fflush(nil)
    }

    static func endStatusLine() {
        if terminal { print("") }
    }

    /// A stream the port refused because of the miniport's bug (a verifier finding, a crash), on stderr.
    static func refused(_ message: String) {
        FileHandle.standardError.write(Data("wavert: \(message)\n".utf8))
    }

    /// Says where the trace went, or why it did not.
    static func noteTrace(_ written: String?, dropped: UInt64?) {
        guard let written else { return }
        print("trace: \(written)" + (dropped.map { $0 > 0 ? " (the ring was full: \($0) records dropped)" : "" } ?? ""))
    }

    static func fail(_ error: any Error) -> ExitCode {
        endStatusLine()
        FileHandle.standardError.write(Data("wavert: \(error)\n".utf8))
        return ExitCode.failure
    }

    static func write<Report: Encodable>(_ report: Report, to path: String?) throws {
        guard let path else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(report).write(to: URL(fileURLWithPath: path))
    }

    /// How the miniport misprogrammed the hardware and what it left behind, on stderr.
    static func warn(guestErrors: [String], leaks: [String]) {
        for e in guestErrors { FileHandle.standardError.write(Data("wavert: hardware: \(e)\n".utf8)) }
        for l in leaks { FileHandle.standardError.write(Data("wavert: leaked: \(l)\n".utf8)) }
    }

    /// A run in which the miniport crashed, or the driver verifier found fault, ends in failure once
    /// everything is written: the crash report (signal, call, last DDI, backtrace) and the findings on stderr.
    static func verdict(_ verifier: [VerifierEntry], crash: String? = nil) throws {
        if let crash { FileHandle.standardError.write(Data("wavert: \(crash)\n".utf8)) }
        guard !verifier.isEmpty else {
            if crash != nil { throw ExitCode.failure }
            return
        }
        FileHandle.standardError.write(Data("wavert: the driver verifier found \(verifier.count) violation\(verifier.count == 1 ? "" : "s"):\n".utf8))
        for v in verifier.prefix(20) {
            FileHandle.standardError.write(Data("  \(v.rule): \(v.ddi) at \(v.irql): \(v.detail)\n".utf8))
        }
        if verifier.count > 20 { FileHandle.standardError.write(Data("  ... and \(verifier.count - 20) more (see --report)\n".utf8)) }
        throw ExitCode.failure
    }
}
