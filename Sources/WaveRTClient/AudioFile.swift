import CSndfile
import Foundation
import WaveRTEngine

/// An audio file (WAV and whatever else libsndfile reads: 16/24/32-bit integer,
/// 32-bit float, any channel count), decoded into memory when opened so the
/// client never touches the disk on the engine thread.
///
/// Conversion to the stream's format keeps integer samples exact (a 16-bit file
/// played as 16-bit comes out bit for bit); channels map one to one, a mono
/// file feeds every channel, a mono stream gets the average of the file's
/// channels, and stream channels beyond the file's are silent.
public final class AudioFileSource: SampleSource, @unchecked Sendable {
    public let path: String
    public let sampleRate: Int
    public let channels: Int
    public let frameCount: Int
    /// The file's own sample format (its subtype), when it is one of the stream formats.
    public let fileSampleFormat: StreamFormat.SampleFormat?
    private let isFloat: Bool
    private let ints: [Int32]     // left-justified, interleaved (integer files)
    private let floats: [Float]   // interleaved (float files)
    private var position = 0

    public var nativeSampleRate: Int? { sampleRate }
    public var framesRead: Int { position }

    public init(path: String) throws(AudioFileError) {
        self.path = path
        var info = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &info) else {
            let reason = String(cString: sf_strerror(nil))
            if !FileManager.default.fileExists(atPath: path) { throw .notFound(path: path) }
            throw .unreadable(path: path, reason: reason)
        }
        defer { sf_close(file) }
        guard info.frames > 0, info.channels > 0, info.samplerate > 0 else {
            throw .unreadable(path: path, reason: "no audio frames (\(info.frames) frames, \(info.channels) channels)")
        }
        sampleRate = Int(info.samplerate)
        channels = Int(info.channels)
        frameCount = Int(info.frames)
        let subtype = info.format & Int32(SF_FORMAT_SUBMASK)
        switch subtype {
        case Int32(SF_FORMAT_PCM_16): fileSampleFormat = .int16
        case Int32(SF_FORMAT_PCM_24): fileSampleFormat = .int24
        case Int32(SF_FORMAT_PCM_32): fileSampleFormat = .int32
        case Int32(SF_FORMAT_FLOAT): fileSampleFormat = .float32
        default: fileSampleFormat = nil
        }
        isFloat = subtype == Int32(SF_FORMAT_FLOAT) || subtype == Int32(SF_FORMAT_DOUBLE)
        let samples = frameCount * channels
        var got: sf_count_t
        if isFloat {
            var data = [Float](repeating: 0, count: samples)
            got = data.withUnsafeMutableBufferPointer { sf_readf_float(file, $0.baseAddress, info.frames) }
            floats = data
            ints = []
        } else {
            var data = [Int32](repeating: 0, count: samples)
            got = data.withUnsafeMutableBufferPointer { sf_readf_int(file, $0.baseAddress, info.frames) }
            ints = data
            floats = []
        }
        guard got == info.frames else {
            throw .unreadable(path: path, reason: "truncated: \(got) of \(info.frames) frames could be decoded (\(String(cString: sf_strerror(file))))")
        }
    }

    public func read(frames: Int, into destination: UnsafeMutableRawPointer, format: StreamFormat) -> Int {
        let n = min(frames, frameCount - position)
        let bytes = format.sampleFormat.bytes
        for i in 0..<n {
            let frame = (position + i) * channels
            let out = destination + i * format.blockAlign
            for c in 0..<format.channels {
                let p = out + c * bytes
                if format.channels == 1 && channels > 1 {
                    var sum = 0.0
                    for k in 0..<channels { sum += isFloat ? Double(floats[frame + k]) : Double(ints[frame + k]) / 2_147_483_648 }
                    SampleCoding.store(sum / Double(channels), at: p, as: format.sampleFormat)
                } else if c < channels || channels == 1 {
                    let k = channels == 1 ? 0 : c
                    if isFloat {
                        SampleCoding.store(Double(floats[frame + k]), at: p, as: format.sampleFormat)
                    } else {
                        SampleCoding.store(leftJustified: ints[frame + k], at: p, as: format.sampleFormat)
                    }
                } else {
                    SampleCoding.store(0, at: p, as: format.sampleFormat)
                }
            }
        }
        position += n
        return n
    }

    /// Writes interleaved samples (normalised doubles) to a WAV file in `format`:
    /// for tests and tools.
    public static func writeWAV(path: String, format: StreamFormat, frames: Int, sample: (Int, Int) -> Double) throws(AudioFileError) {
        var info = SF_INFO()
        info.samplerate = Int32(format.sampleRate)
        info.channels = Int32(format.channels)
        info.format = Int32(SF_FORMAT_WAV) | AudioFileWriter.subtype(format.sampleFormat)
        guard let file = sf_open(path, Int32(SFM_WRITE), &info) else {
            throw .unreadable(path: path, reason: String(cString: sf_strerror(nil)))
        }
        defer { sf_close(file) }
        var raw = [UInt8](repeating: 0, count: frames * format.blockAlign)
        raw.withUnsafeMutableBytes { buf in
            for f in 0..<frames {
                for c in 0..<format.channels {
                    SampleCoding.store(sample(f, c), at: buf.baseAddress! + f * format.blockAlign + c * format.sampleFormat.bytes,
                                       as: format.sampleFormat)
                }
            }
        }
        let written = raw.withUnsafeBytes { sf_write_raw(file, $0.baseAddress, sf_count_t($0.count)) }
        guard written == raw.count else { throw .unreadable(path: path, reason: "short write") }
    }
}

/// A WAV file written as a stream goes (libsndfile): raw interleaved frames
/// in the stream's format appended as they come, the header's lengths written
/// on ``close()``. For a writer thread, not a real-time one: it writes to disk.
public final class AudioFileWriter: @unchecked Sendable {
    public let path: String
    public let format: StreamFormat
    private var file: OpaquePointer?
    public private(set) var framesWritten: UInt64 = 0

    /// Creates (or truncates) `path` as a WAV file of `format`: 16-, 24- or
    /// 32-bit integer PCM, or 32-bit float.
    public init(path: String, format: StreamFormat) throws(AudioFileError) {
        self.path = path
        self.format = format
        var info = SF_INFO()
        info.samplerate = Int32(format.sampleRate)
        info.channels = Int32(format.channels)
        info.format = Int32(SF_FORMAT_WAV) | Self.subtype(format.sampleFormat)
        guard let file = sf_open(path, Int32(SFM_WRITE), &info) else {
            throw .unwritable(path: path, reason: String(cString: sf_strerror(nil)))
        }
        // No PEAK chunk: raw writes would leave it wrong.
        _ = sf_command(file, Int32(SFC_SET_ADD_PEAK_CHUNK), nil, Int32(SF_FALSE))
        self.file = file
    }

    deinit { close() }

    static func subtype(_ f: StreamFormat.SampleFormat) -> Int32 {
        switch f {
        case .int16: Int32(SF_FORMAT_PCM_16)
        case .int24: Int32(SF_FORMAT_PCM_24)
        case .int32: Int32(SF_FORMAT_PCM_32)
        case .float32: Int32(SF_FORMAT_FLOAT)
        }
    }

    /// Appends whole frames of the stream's bytes (`sf_write_raw`); false when the disk did not take them all.
    public func write(_ frames: UnsafeRawPointer, count: Int) -> Bool {
        guard let file, count > 0 else { return count == 0 }
        let bytes = count * format.blockAlign
        let written = sf_write_raw(file, frames, sf_count_t(bytes))
        framesWritten += UInt64(max(0, Int(written)) / format.blockAlign)
        return written == bytes
    }

    /// Finishes the header and closes the file (`sf_close`). Safe to call twice.
    public func close() {
        if let file { sf_close(file) }
        file = nil
    }
}

public enum AudioFileError: Error, Hashable, CustomStringConvertible {
    case notFound(path: String)
    case unreadable(path: String, reason: String)
    case rateMismatch(path: String, fileRate: Int, streamRate: Int)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let path): "no such audio file: \(path)"
        case .unreadable(let path, let reason): "cannot read \(path) as audio: \(reason)"
        case .unwritable(let path, let reason): "cannot write \(path) as a WAV file: \(reason)"
        case .rateMismatch(let path, let file, let stream):
            "\(path) is at \(file) Hz but the stream runs at \(stream) Hz; play it at the file's rate (--format \(file):...) or resample it first"
        }
    }
}
