import Glibc
import WaveRTPort

extension Player {
    /// The `--report` JSON (a contract: scripts read these keys).
    public struct Report: Sendable, Codable {
        public var example: String
        public var device: String
        public var clock: Clock
        /// Stream frames played: with `--duration S`, exactly round(S × rate).
        public var framesPlayed: UInt64
        public var glitches: UInt64
        public var xruns: UInt64
        public var framesLost: UInt64
        public var dmaFaults: UInt64
        public var wallSeconds: Double
        /// The WAV file written when the default device could not be opened.
        public var outputFile: String?
        public var lateWrites: UInt64
        /// Each glitch: when (seconds of stream time after RUN), where (frame), how many frames.
        public var glitchEvents: [GlitchEvent]
        public var leaks: [String]
        public var notes: [String]
        /// What ALSA granted (`snd_pcm_hw_params_get_buffer_size`, `..._get_period_size`).
        public var alsaBufferFrames: Int
        public var alsaPeriodFrames: Int
        /// Frames `snd_pcm_writei` took: as many as `framesPlayed` unless the
        /// drift compensator resampled for a card with its own crystal.
        public var framesWritten: UInt64
        /// libsamplerate failures (each chunk concerned played unconverted).
        public var resamplerErrors: UInt64
        /// The rings the frames went round: the miniport's cyclic buffer and the
        /// engine-to-writer ring, in frames.
        public var cyclicBufferFrames: Int
        public var ringFrames: Int
    }

    public struct GlitchEvent: Sendable, Codable {
        public var kind: String
        public var seconds: Double
        public var frame: UInt64
        public var frames: UInt64
    }

    /// A snapshot for the live status line.
    public struct Status: Sendable {
        public var seconds: Double
        public var position: UInt64
        public var glitches: UInt64
        public var xruns: UInt64
        public var bufferFill: Int?
        public var ringBytes: Int
    }

    public enum PlayError: Error, CustomStringConvertible {
        case alsa(ALSAError)
        case session(SessionError)
        case writer(device: String, errno: Int32)

        public var description: String {
            switch self {
            case .alsa(let e): e.description
            case .session(let e): e.description
            case .writer(let d, let e): "ALSA PCM '\(d)' failed while playing: \(String(cString: strerror(e))) (errno \(e))"
            }
        }
    }
}
