import Foundation
import Glibc

/// The ALSA configuration every test in this process plays through: a
/// temporary `ALSA_CONFIG_PATH` file. The variable is process-global and
/// suites run in parallel, so it is set once, before the first PCM opens
/// (every ALSA test calls ``setUp()`` first), and never changed.
///
/// The file includes alsa.conf first (the standard PCMs: `null`, `plug`,
/// `file`, ...) and then makes the tests hermetic: no hooks, so none of the
/// machine's /etc/asound.conf, ~/.asoundrc or conf.d (where PipeWire's
/// `default` lives); a `default` that cannot open, so the player's fallback
/// shows on any machine (for playback and capture); and a playback PCM and a
/// capture PCM only this file defines.
public enum ALSATestEnvironment {
    /// `wavert_test_capture:FILE=path`: a WAV file through ALSA's `file` plugin over `null`.
    public static let capturePCM = "wavert_test_capture"
    /// `wavert_test_infile:FILE=path`: capture of a raw file's samples through
    /// the `file` plugin's `infile` over `null` (unpaced; silence past its end).
    public static let infilePCM = "wavert_test_infile"

    public static let configurationText = """
        </usr/share/alsa/alsa.conf>
        !@hooks [ ]
        pcm.!default { type hw card 99 }
        pcm.wavert_test_capture {
            @args [ FILE ]
            @args.FILE { type string }
            type file
            slave.pcm null
            file $FILE
            format wav
        }
        pcm.wavert_test_infile {
            @args [ FILE ]
            @args.FILE { type string }
            type file
            slave.pcm null
            infile $FILE
            file "/dev/null"
            format raw
        }

        """

    public static let configurationPath: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wavert-alsa-tests-\(getpid()).conf").path
        precondition(FileManager.default.createFile(atPath: path, contents: Data(configurationText.utf8)),
                     "cannot write the test ALSA configuration at \(path)")
        setenv("ALSA_CONFIG_PATH", path, 1)
        return path
    }()

    public static func setUp() { _ = configurationPath }

    public static func capture(_ path: String) -> String { "\(capturePCM):FILE=\(path)" }
    public static func infile(_ path: String) -> String { "\(infilePCM):FILE=\(path)" }

    public static func temporaryPath(_ stem: String, _ ext: String = "wav") -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("wavert-\(stem)-\(UUID()).\(ext)").path
    }
}

/// A WAV file read byte for byte (RIFF chunks), without libsndfile: ALSA's
/// `file` plugin labels float data as integer PCM, so the header's tag cannot
/// be trusted for float streams; the data is compared as the stream's bytes.
public struct WAVFile {
    public var formatTag: UInt16
    public var channels: Int
    public var sampleRate: Int
    public var bitsPerSample: Int
    public var blockAlign: Int
    /// The data chunk's length as the header says it.
    public var dataLengthInHeader: Int
    /// The RIFF length as the header says it, plus 8 (the whole file).
    public var riffLengthInHeader: Int
    public var fileLength: Int
    public var data: [UInt8]

    public var frames: Int { data.count / max(1, blockAlign) }
    public var headerFrames: Int { dataLengthInHeader / max(1, blockAlign) }

    public init(path: String) throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func u32(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24 }
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        guard bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WAVE".utf8) else {
            throw WAVError(path: path, reason: "not a RIFF/WAVE file (\(bytes.count) bytes)")
        }
        riffLengthInHeader = u32(4) + 8
        fileLength = bytes.count
        var at = 12
        var format: (tag: Int, channels: Int, rate: Int, align: Int, bits: Int)?
        while at + 8 <= bytes.count {
            let id = String(decoding: bytes[at..<at + 4], as: UTF8.self)
            let length = u32(at + 4)
            if id == "fmt " {
                format = (u16(at + 8), u16(at + 10), u32(at + 12), u16(at + 20), u16(at + 22))
            } else if id == "data", let f = format {
                formatTag = UInt16(f.tag)
                channels = f.channels
                sampleRate = f.rate
                blockAlign = f.align
                bitsPerSample = f.bits
                dataLengthInHeader = length
                data = Array(bytes[(at + 8)...])
                return
            }
            at += 8 + length + (length & 1)
        }
        throw WAVError(path: path, reason: "no fmt and data chunks")
    }
}

public struct WAVError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

