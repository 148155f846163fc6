import CWaveRTShim
import Glibc
import WaveRTClient
import WaveRTKernel

/// The emulator's version, printed by `wavert --version`.
public let waveRTVersion = "0.1.0"

/// Who leads the emulated machine's clock in a real-time run.
public enum RunClock: String, Sendable, Codable, CaseIterable {
    /// CLOCK_MONOTONIC: the machine runs on the host's time (drift against a card is compensated).
    case system
    /// The sound card's crystal, through a ``WaveRTEngine/DeviceTimebase`` its PCM reports to.
    case device
}

/// A verifier finding, as the `--report` JSON gives it.
public struct VerifierEntry: Sendable, Codable, Hashable {
    public var rule: String
    public var ddi: String
    public var irql: String
    public var detail: String

    public init(_ v: VerifierViolation) {
        rule = v.rule
        ddi = v.ddi
        irql = v.irql
        detail = v.detail
    }
}

/// A glitch, as the `--report` JSON gives it: when (seconds of stream time
/// after RUN), where (frame of the stream), how many frames.
public struct GlitchEvent: Sendable, Codable, Hashable {
    public var kind: String
    public var seconds: Double
    public var frame: UInt64
    public var frames: UInt64

    init(_ g: Glitch, runStart: UInt64) {
        kind = "\(g.kind)"
        seconds = Double(g.time &- runStart) / 1e9
        frame = g.frame
        frames = g.frames
    }
}

/// The wait of a real-time run, shared by play and record: until the run
/// says it is done, a stop is asked for, or it stalls; a status snapshot
/// every 100 ms meanwhile.
enum RunLoop {
    enum Ending: Equatable { case done, stopped, stalled(seconds: UInt64) }

    /// - Parameter patience: the longest the run may take (nil: no limit).
    static func wait(patience: UInt64?, stop: () -> Bool, done: () -> Bool, status: (() -> Void)?) -> Ending {
        let start = wrt_monotonic_ns()
        var nextStatus = start
        while true {
            let now = wrt_monotonic_ns()
            if stop() { return .stopped }
            if done() { return .done }
            if let patience, now - start > patience { return .stalled(seconds: patience / 1_000_000_000) }
            if let status, now >= nextStatus {
                status()
                nextStatus = now + 100_000_000
            }
            _ = wrt_sleep_until_monotonic_ns(now + 5_000_000)
        }
    }

    /// Twice the run's length plus a margin: a run that cannot end by itself in that time has stalled.
    static func patience(frames: UInt64?, rate: Int) -> UInt64? {
        frames.map { UInt64(2e9 * Double($0) / Double(rate)) + 5_000_000_000 }
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        guard let cwd = getcwd(nil, 0) else { return path }
        defer { free(cwd) }
        return String(cString: cwd) + "/" + path
    }
}
