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

