import WaveRTEngine

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
