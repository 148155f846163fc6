/// The PCM format of a stream: what `WAVEFORMATEXTENSIBLE` says for KSDATAFORMAT_SUBTYPE_PCM
/// and IEEE_FLOAT. Samples are little-endian and interleaved; 24-bit samples are packed in 3 bytes.
public struct StreamFormat: Sendable, Hashable, CustomStringConvertible {
    public enum SampleFormat: Sendable, Hashable, CaseIterable {
        case int16, int24, int32, float32

        public var bytes: Int {
            switch self {
            case .int16: 2
            case .int24: 3
            case .int32, .float32: 4
            }
        }
        public var bits: Int { bytes * 8 }
    }

    public var sampleRate: Int
    public var channels: Int
    public var sampleFormat: SampleFormat

    public init(sampleRate: Int, channels: Int, sampleFormat: SampleFormat) throws(StreamFormatError) {
        guard (1...768_000).contains(sampleRate) else { throw .sampleRate(sampleRate) }
        guard (1...32).contains(channels) else { throw .channels(channels) }
        self.sampleRate = sampleRate
        self.channels = channels
        self.sampleFormat = sampleFormat
    }

    /// From `RATE:BITS:CHANNELS` numbers; 32 bits means integer unless `float` is set.
    public init(sampleRate: Int, bitsPerSample: Int, channels: Int, float: Bool = false) throws(StreamFormatError) {
        let format: SampleFormat
        switch (bitsPerSample, float) {
        case (16, false): format = .int16
        case (24, false): format = .int24
        case (32, false): format = .int32
        case (32, true): format = .float32
        default: throw .bits(bitsPerSample, float: float)
        }
        try self.init(sampleRate: sampleRate, channels: channels, sampleFormat: format)
    }

    /// 48 kHz, 16-bit, stereo.
    public static let cd48k = try! StreamFormat(sampleRate: 48_000, channels: 2, sampleFormat: .int16)

    /// `nBlockAlign`: bytes per frame.
    public var blockAlign: Int { channels * sampleFormat.bytes }
    /// `nAvgBytesPerSec`.
    public var bytesPerSecond: Int { blockAlign * sampleRate }

    public var description: String {
        "\(sampleRate) Hz, \(sampleFormat == .float32 ? "32-bit float" : "\(sampleFormat.bits)-bit"), \(channels) ch"
    }
}

public enum StreamFormatError: Error, Hashable, CustomStringConvertible {
    case sampleRate(Int), channels(Int), bits(Int, float: Bool)
    public var description: String {
        switch self {
        case .sampleRate(let r): "sample rate \(r) Hz is outside 1 to 768000"
        case .channels(let c): "channel count \(c) is outside 1 to 32"
        case .bits(let b, let f): "\(b)-bit \(f ? "float" : "integer") samples are not supported (16, 24, 32 integer; 32 float)"
        }
    }
}
