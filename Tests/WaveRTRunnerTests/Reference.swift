import Foundation
import WaveRTClient
import WaveRTEngine

/// The ideal signal, byte for byte in the stream's format.
enum ToneReference {
    static func tone(_ hz: Double, _ dbfs: Double, format: StreamFormat, bytes count: Int) -> [UInt8] {
        let tone = ToneGenerator(frequency: hz, levelDBFS: dbfs)
        var out = [UInt8](repeating: 0, count: count)
        _ = out.withUnsafeMutableBytes { tone.read(frames: count / format.blockAlign, into: $0.baseAddress!, format: format) }
        return out
    }

    /// The first frame and channel where `actual` departs from `expected`, and how many samples differ.
    static func mismatch(_ actual: [UInt8], _ expected: [UInt8], format: StreamFormat) -> (frame: Int, channel: Int, samples: Int)? {
        let bytes = format.sampleFormat.bytes
        let count = min(actual.count, expected.count) / bytes
        var first: (Int, Int)?
        var differing = 0
        actual.withUnsafeBufferPointer { a in
            expected.withUnsafeBufferPointer { e in
                for s in 0..<count where memcmp(a.baseAddress! + s * bytes, e.baseAddress! + s * bytes, bytes) != 0 {
                    differing += 1
                    if first == nil { first = (s / format.channels, s % format.channels) }
                }
            }
        }
        guard let first else { return nil }
        return (first.0, first.1, differing)
    }
}

extension ToneReference {
    /// The first byte where two byte strings differ (or where the shorter ends), nil when equal:
    /// what a failed comparison reports instead of both arrays.
    static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
        if let i = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset { return i }
        return a.count == b.count ? nil : min(a.count, b.count)
    }
}
