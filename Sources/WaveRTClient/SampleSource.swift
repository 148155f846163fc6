import Foundation
import WaveRTEngine

/// Where the client's audio comes from. `read` runs on the engine thread (the
/// client writes from notification handlers and timers), so sources do their
/// slow work (opening, decoding a file) up front and never allocate in `read`.
public protocol SampleSource: AnyObject, Sendable {
    /// The source's own rate, when it has one (a file); nil for generators.
    var nativeSampleRate: Int? { get }
    /// Writes up to `frames` frames at `destination` in `format`; returns how many
    /// it wrote. Fewer than asked means the source has ended.
    func read(frames: Int, into destination: UnsafeMutableRawPointer, format: StreamFormat) -> Int
}

/// Silence, forever.
public final class SilenceGenerator: SampleSource, @unchecked Sendable {
    public init() {}
    public var nativeSampleRate: Int? { nil }
    public func read(frames: Int, into destination: UnsafeMutableRawPointer, format: StreamFormat) -> Int {
        memset(destination, 0, frames * format.blockAlign)
        return frames
    }
}

/// A sine tone at a level in dBFS, the same on every channel, phase-continuous
/// across reads (sample n is a pure function of n, so packets join seamlessly
/// and tests can compute the exact expected samples with ``sample(_:rate:)``).
public final class ToneGenerator: SampleSource, @unchecked Sendable {
    public let frequency: Double
    public let levelDBFS: Double
    public let amplitude: Double
    private var position: UInt64 = 0

    public init(frequency: Double, levelDBFS: Double = -12) {
        self.frequency = frequency
        self.levelDBFS = levelDBFS
        self.amplitude = pow(10, levelDBFS / 20)
    }

    public var nativeSampleRate: Int? { nil }

    /// Frames produced so far.
    public var framesProduced: UInt64 { position }

    /// The value (in [-1, 1]) of frame `n` at `rate`: amplitude × sin(2π f n / rate),
    /// with the phase reduced exactly for whole-hertz tones so it never loses precision.
    public func sample(_ n: UInt64, rate: Int) -> Double {
        let r = UInt64(rate)
        let cycles: Double
        if frequency == frequency.rounded(), frequency >= 0, frequency < 1e9 {
            cycles = Double((n % r) * UInt64(frequency) % r) / Double(r)
        } else {
            cycles = (Double(n) * frequency / Double(rate)).truncatingRemainder(dividingBy: 1)
        }
        return amplitude * sin(2 * .pi * cycles)
    }

    public func read(frames: Int, into destination: UnsafeMutableRawPointer, format: StreamFormat) -> Int {
        for i in 0..<frames {
            let value = sample(position + UInt64(i), rate: format.sampleRate)
            for c in 0..<format.channels {
                SampleCoding.store(value, at: destination + i * format.blockAlign + c * format.sampleFormat.bytes, as: format.sampleFormat)
            }
        }
        position += UInt64(frames)
        return frames
    }
}

/// Conversions between normalised samples and the stream's sample formats.
public enum SampleCoding {
    /// Stores `value` (nominally [-1, 1], clipped) as one sample.
    @inline(__always)
    public static func store(_ value: Double, at p: UnsafeMutableRawPointer, as format: StreamFormat.SampleFormat) {
        let v = min(1, max(-1, value))
        switch format {
        case .int16:
            p.storeBytes(of: Int16((v * 32767).rounded()).littleEndian, as: Int16.self)
        case .int24:
            let s = Int32((v * 8_388_607).rounded())
            p.storeBytes(of: UInt8(truncatingIfNeeded: s), toByteOffset: 0, as: UInt8.self)
            p.storeBytes(of: UInt8(truncatingIfNeeded: s >> 8), toByteOffset: 1, as: UInt8.self)
            p.storeBytes(of: UInt8(truncatingIfNeeded: s >> 16), toByteOffset: 2, as: UInt8.self)
        case .int32:
            p.storeBytes(of: Int32(clamping: Int64((v * 2_147_483_647).rounded())).littleEndian, as: Int32.self)
        case .float32:
            p.storeBytes(of: Float(value).bitPattern.littleEndian, as: UInt32.self)
        }
    }

    /// Stores a left-justified 32-bit integer sample (libsndfile's `int` view) exactly
    /// when the target has as many bits or fewer (truncating the low bits).
    @inline(__always)
    public static func store(leftJustified s: Int32, at p: UnsafeMutableRawPointer, as format: StreamFormat.SampleFormat) {
        switch format {
        case .int16: p.storeBytes(of: Int16(truncatingIfNeeded: s >> 16).littleEndian, as: Int16.self)
        case .int24:
            p.storeBytes(of: UInt8(truncatingIfNeeded: s >> 8), toByteOffset: 0, as: UInt8.self)
            p.storeBytes(of: UInt8(truncatingIfNeeded: s >> 16), toByteOffset: 1, as: UInt8.self)
            p.storeBytes(of: UInt8(truncatingIfNeeded: s >> 24), toByteOffset: 2, as: UInt8.self)
        case .int32: p.storeBytes(of: s.littleEndian, as: Int32.self)
        case .float32: p.storeBytes(of: (Float(s) / 2_147_483_648).bitPattern.littleEndian, as: UInt32.self)
        }
    }

    /// Reads one sample back as a normalised value (for analysis and tests).
    @inline(__always)
    public static func load(at p: UnsafeRawPointer, as format: StreamFormat.SampleFormat) -> Double {
        switch format {
        case .int16: Double(Int16(littleEndian: p.loadUnaligned(as: Int16.self))) / 32768
        case .int24:
            Double((Int32(p.load(fromByteOffset: 0, as: UInt8.self)) << 8 | Int32(p.load(fromByteOffset: 1, as: UInt8.self)) << 16
                | Int32(p.load(fromByteOffset: 2, as: UInt8.self)) << 24) >> 8) / 8_388_608
        case .int32: Double(Int32(littleEndian: p.loadUnaligned(as: Int32.self))) / 2_147_483_648
        case .float32: Double(Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))))
        }
    }
}
