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
