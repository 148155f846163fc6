import WaveRTEngine

/// Helpers shared by the test targets.
public enum TestTime {
    /// Nanoseconds in `milliseconds` ms.
    public static func ms(_ milliseconds: UInt64) -> UInt64 { milliseconds * 1_000_000 }
    /// Nanoseconds in `microseconds` µs.
    public static func us(_ microseconds: UInt64) -> UInt64 { microseconds * 1_000 }
}

/// A sink that keeps everything in memory (for tests that compare bytes), growing as needed.
/// Not for real-time use: it allocates.
public final class GrowingSink: AudioSink, @unchecked Sendable {
    public private(set) var bytes: [UInt8] = []
    public private(set) var formats: [StreamFormat] = []
    public init() {}
    public func prepare(format: StreamFormat) throws { formats.append(format) }
    public func consume(_ buffer: UnsafeRawBufferPointer) { bytes.append(contentsOf: buffer) }
    public func finish() {}
}
