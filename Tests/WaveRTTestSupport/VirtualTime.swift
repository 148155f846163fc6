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

/// A microphone with a known pattern: byte `i` of the stream (counted from
/// the first byte produced) is ``byte(_:)``, so what a capture path delivers
/// can be compared byte for byte. Not for real-time use beyond a test.
public final class PatternSource: AudioSource, @unchecked Sendable {
    public private(set) var produced: UInt64 = 0
    public private(set) var formats: [StreamFormat] = []
    public init() {}

    /// Byte `i` of the pattern: a ramp that does not repeat with any small period.
    public static func byte(_ i: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: i &* 7 &+ i >> 8 &+ i >> 16) }
    /// Bytes [from, from + count) of the pattern.
    public static func bytes(from: UInt64 = 0, count: Int) -> [UInt8] { (0..<UInt64(count)).map { byte(from + $0) } }

    public func prepare(format: StreamFormat) throws { formats.append(format) }
    public func produce(into buffer: UnsafeMutableRawBufferPointer) {
        for i in 0..<buffer.count { buffer[i] = Self.byte(produced + UInt64(i)) }
        produced += UInt64(buffer.count)
    }
    public func finish() {}
}

/// Where two byte sequences first differ, in words (nil when they are equal):
/// what byte-exact checks report instead of dumping both arrays.
public func firstDifference(_ got: [UInt8], _ expected: [UInt8]) -> String? {
    if let i = zip(got, expected).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
        return "byte \(i) of \(got.count) is \(got[i]), expected \(expected[i])"
    }
    return got.count == expected.count ? nil : "\(got.count) bytes, expected \(expected.count)"
}
