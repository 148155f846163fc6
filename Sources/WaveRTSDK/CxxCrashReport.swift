import CWaveRTSDK
import Glibc

/// A crash inside a C++ miniport, as the emulator reports it instead of a
/// bare segfault: which signal, where, the crossing between emulator and
/// miniport it happened in and the last DDI the miniport called, and the
/// miniport's backtrace with symbols.
///
/// The emulated machine stops at the crash, as Windows does on a bug check:
/// the devices stop moving data, so the speaker's output ends there, and the
/// run is finished (report, WAV) by the usual code.
public struct CxxCrashReport: Sendable, Hashable, CustomStringConvertible {
    public var signal: Int32
    /// `SIGSEGV`, `SIGABRT`, ...
    public var signalName: String
    public var faultAddress: UInt64
    public var programCounter: UInt64
    /// The call from the emulator into the miniport that was running (e.g. "KDEFERRED_ROUTINE (DPC)").
    public var enteredFrom: String
    /// The last DDI the miniport called on that thread (e.g. "READ_REGISTER_ULONG"), if any.
    public var lastDDI: String?
    /// Whether the fault is inside that DDI, in the emulator's code (a bad argument from the miniport).
    public var insideDDI: Bool
    /// A failed ASSERT's text, when an assertion is what aborted.
    public var assertion: String?
    /// Symbolised frames, innermost first, from the faulting instruction to the
    /// miniport's outermost frame, then one line for the emulator's frames below it.
    public var backtrace: [String]

    init(_ crash: WrtCrash, library: String) {
        var c = crash
        signal = c.signal
        signalName = Self.name(of: c.signal)
        faultAddress = c.faultAddress
        programCounter = c.programCounter
        enteredFrom = c.entry.map { String(cString: $0) } ?? "?"
        lastDDI = c.lastDdi.map { String(cString: $0) }
        insideDDI = c.insideDdi != 0
        let text = withUnsafeBytes(of: &c.assertion) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        assertion = text.isEmpty ? nil : text
        let frames = withUnsafeBytes(of: &c.frames) { Array($0.bindMemory(to: UInt64.self).prefix(Int(c.frameCount))) }
        // The handler's own frames come first: start at the faulting instruction.
        let start = frames.firstIndex(of: c.programCounter) ?? frames.firstIndex { $0 == c.programCounter &+ 1 } ?? 0
        // Return addresses point after the call: look up the call itself.
        let addresses = [c.programCounter] + frames.dropFirst(start + (frames.indices.contains(start) && frames[start] == c.programCounter ? 1 : 0)).map { $0 &- 1 }
        var symbols: [String] = []
        var seenMiniport = false
        for (i, address) in addresses.enumerated() {
            let inMiniport = Self.module(of: address) == library
            if seenMiniport && !inMiniport {
                symbols.append("(called from the emulator: \(addresses.count - i) more frames)")
                break
            }
            seenMiniport = seenMiniport || inMiniport
            symbols.append(Self.describe(address))
        }
        backtrace = symbols
    }

    static func describe(_ address: UInt64) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        let known = wrt_sdk_describe_address(address, &buffer, buffer.count)
        let hex = "0x" + String(address, radix: 16)
        return known != 0 ? "\(hex) \(String(cString: buffer))" : hex
    }

    static func module(of address: UInt64) -> String? {
        guard let name = wrt_sdk_module_of(address) else { return nil }
        guard let resolved = realpath(name, nil) else { return String(cString: name) }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func name(of signal: Int32) -> String {
        switch signal {
        case SIGSEGV: "SIGSEGV"
        case SIGBUS: "SIGBUS"
        case SIGILL: "SIGILL"
        case SIGFPE: "SIGFPE"
        case SIGABRT: "SIGABRT"
        case SIGTRAP: "SIGTRAP"
        case SIGSYS: "SIGSYS"
        default: "signal \(signal)"
        }
    }

    public var description: String {
        var lines = ["*** The miniport crashed: \(signalName) at 0x\(String(programCounter, radix: 16))"
            + (signal == SIGSEGV || signal == SIGBUS ? " (fault address 0x\(String(faultAddress, radix: 16)))" : "")]
        lines.append("    in the call \(enteredFrom) from the emulator")
        if let lastDDI { lines.append("    last DDI the miniport called: \(lastDDI)" + (insideDDI ? " (the fault is inside it: check its arguments)" : "")) }
        if let assertion { lines.append("    \(assertion)") }
        lines.append("    the machine stopped (bug check); the run's report and audio end here")
        lines.append("    backtrace:")
        for (i, frame) in backtrace.enumerated() { lines.append("      #\(i) \(frame)") }
        return lines.joined(separator: "\n")
    }
}
