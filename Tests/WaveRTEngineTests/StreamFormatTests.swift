import Testing
import WaveRTEngine

/// Formats and sample coding: what every byte-exact comparison in the other
/// test targets relies on.
@Suite struct StreamFormatTests {
    @Test func formatsAndTheirDerivedSizes() throws {
        let f = try StreamFormat(sampleRate: 96_000, channels: 6, sampleFormat: .int24)
        #expect(f.blockAlign == 18 && f.bytesPerSecond == 1_728_000)
        #expect(f.description == "96000 Hz, 24-bit, 6 ch")
        #expect(try StreamFormat(sampleRate: 44_100, bitsPerSample: 32, channels: 2, float: true).sampleFormat == .float32)
        #expect(try StreamFormat(sampleRate: 44_100, bitsPerSample: 32, channels: 2).sampleFormat == .int32)
        #expect(StreamFormat.cd48k.blockAlign == 4)
    }

    @Test func impossibleFormatsAreRefusedWithTheValueNamed() {
        #expect(throws: StreamFormatError.sampleRate(0)) { try StreamFormat(sampleRate: 0, channels: 2, sampleFormat: .int16) }
        #expect(throws: StreamFormatError.sampleRate(800_000)) { try StreamFormat(sampleRate: 800_000, channels: 2, sampleFormat: .int16) }
        #expect(throws: StreamFormatError.channels(33)) { try StreamFormat(sampleRate: 48_000, channels: 33, sampleFormat: .int16) }
        #expect(throws: StreamFormatError.bits(8, float: false)) { try StreamFormat(sampleRate: 48_000, bitsPerSample: 8, channels: 2) }
        #expect(throws: StreamFormatError.bits(16, float: true)) { try StreamFormat(sampleRate: 48_000, bitsPerSample: 16, channels: 2, float: true) }
        #expect(StreamFormatError.bits(8, float: false).description.contains("16, 24, 32 integer; 32 float"))
    }

    /// Little-endian, packed 24-bit, clipped, and read back within one step.
    @Test(arguments: StreamFormat.SampleFormat.allCases)
    func samplesRoundTripWithinOneStep(_ format: StreamFormat.SampleFormat) {
        var bytes = [UInt8](repeating: 0, count: 4)
        let step = format == .float32 ? 1e-7 : 1 / Double(1 << (format.bits - 1))
        for v in stride(from: -1.0, through: 1.0, by: 0.0137) {
            bytes.withUnsafeMutableBytes { SampleCoding.store(v, at: $0.baseAddress!, as: format) }
            let back = bytes.withUnsafeBytes { SampleCoding.load(at: $0.baseAddress!, as: format) }
            #expect(abs(back - v) <= 2 * step, "\(format) \(v) -> \(back)")
        }
        // Clipping: out-of-range values are the extremes (not wrapped).
        bytes.withUnsafeMutableBytes { SampleCoding.store(3.0, at: $0.baseAddress!, as: format) }
        let clipped = bytes.withUnsafeBytes { SampleCoding.load(at: $0.baseAddress!, as: format) }
        #expect(format == .float32 ? clipped == 3.0 : clipped > 0.999)
    }

    @Test func bytesAreLittleEndianAndPacked() {
        var b = [UInt8](repeating: 0xEE, count: 4)
        b.withUnsafeMutableBytes { SampleCoding.store(leftJustified: 0x1234_5678, at: $0.baseAddress!, as: .int24) }
        #expect(b == [0x56, 0x34, 0x12, 0xEE])  // the top 24 bits, packed: the fourth byte untouched
        b.withUnsafeMutableBytes { SampleCoding.store(leftJustified: 0x1234_5678, at: $0.baseAddress!, as: .int16) }
        #expect(b.prefix(2) == [0x34, 0x12])
        b.withUnsafeMutableBytes { SampleCoding.store(-1.0, at: $0.baseAddress!, as: .int16) }
        #expect(b.prefix(2) == [0x01, 0x80])  // -32767
    }
}
