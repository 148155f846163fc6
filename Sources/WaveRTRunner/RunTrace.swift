import WaveRTClient
import WaveRTEngine

/// Where a run writes its Chrome/Perfetto trace (`--trace PATH.json`) and how
/// big its ring is: the records it keeps, and which it gives up when full.
public struct TraceOptions: Sendable, Hashable {
    public var path: String
    public var capacity: Int
    public var overflow: TraceRecorder.Overflow

    public init(path: String, capacity: Int = TraceRecorder.defaultCapacity, overflow: TraceRecorder.Overflow = .dropOldest) {
        self.path = path
        self.capacity = capacity
        self.overflow = overflow
    }

    /// The recorder for one run, counting from `origin` on its timebase.
    public func recorder(origin: UInt64) -> TraceRecorder {
        TraceRecorder(capacity: capacity, overflow: overflow, origin: origin)
    }
}

/// What a run's trace says about itself in its metadata (`otherData`).
public enum RunTrace {
    public static func metadata(command: String, miniport: String, setup: StreamSetup, clock: String) -> [(key: String, value: String)] {
        [("command", "wavert \(command)"), ("miniport", miniport), ("hardware", setup.hardware.rawValue),
         ("format", setup.format.description), ("bufferFrames", "\(setup.bufferFrames)"),
         ("notifications", "\(setup.notificationCount)"), ("clock", clock), ("timerResolution", setup.timerResolution.rawValue)]
    }

    /// Writes a play or record run's trace where `options` says, if it was traced: the path
    /// written, or nil (a write that fails is said through `note` and does not fail the run).
    static func write(_ trace: TraceRecorder?, options: TraceOptions?, command: String, miniport: String, setup: StreamSetup,
                      clock: String, note: (String) -> Void) -> String? {
        guard let trace, let path = options?.path else { return nil }
        do {
            try ChromeTrace.write(trace, to: path, metadata: metadata(command: command, miniport: miniport, setup: setup, clock: clock))
            return path
        } catch {
            note("wavert: \(error)")
            return nil
        }
    }
}
