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
    /// Called on the control path before the first `read` in `format`: the
    /// place to allocate whatever `read` will need.
    func prepare(format: StreamFormat)
}

extension SampleSource {
    public func prepare(format: StreamFormat) {}
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

    /// One whole cycle of the tone encoded in the prepared format: for a
    /// whole-hertz tone, frame n equals frame n mod (rate / gcd(rate, f))
    /// exactly (the phase is reduced in integers), so reads copy from it.
    private var table: UnsafeMutableRawBufferPointer?
    private var tableFormat: StreamFormat?
    private var tableFrames = 0
    /// Cycles longer than this many bytes are computed sample by sample instead.
    static let tableLimit = 8 << 20

    deinit { table?.deallocate() }

    public func prepare(format: StreamFormat) {
        guard tableFormat != format, frequency == frequency.rounded(), frequency >= 0, frequency < 1e9 else { return }
        func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 { b == 0 ? a : gcd(b, a % b) }
        let rate = UInt64(format.sampleRate)
        let cycle = Int(rate / gcd(rate, UInt64(frequency) % rate == 0 ? rate : UInt64(frequency) % rate))
        guard cycle * format.blockAlign <= Self.tableLimit else { return }
        table?.deallocate()
        let t = UnsafeMutableRawBufferPointer.allocate(byteCount: cycle * format.blockAlign, alignment: 16)
        for i in 0..<cycle { encode(frame: UInt64(i), into: t.baseAddress! + i * format.blockAlign, format: format) }
        table = t
        tableFormat = format
        tableFrames = cycle
    }

    @inline(__always)
    private func encode(frame n: UInt64, into p: UnsafeMutableRawPointer, format: StreamFormat) {
        let value = sample(n, rate: format.sampleRate)
        for c in 0..<format.channels {
            SampleCoding.store(value, at: p + c * format.sampleFormat.bytes, as: format.sampleFormat)
        }
    }

    public func read(frames: Int, into destination: UnsafeMutableRawPointer, format: StreamFormat) -> Int {
        if let table, tableFormat == format {
            var done = 0
            while done < frames {
                let index = Int((position + UInt64(done)) % UInt64(tableFrames))
                let n = min(frames - done, tableFrames - index)
                memcpy(destination + done * format.blockAlign, table.baseAddress! + index * format.blockAlign, n * format.blockAlign)
                done += n
            }
        } else {
            for i in 0..<frames { encode(frame: position + UInt64(i), into: destination + i * format.blockAlign, format: format) }
        }
        position += UInt64(frames)
        return frames
    }
}
