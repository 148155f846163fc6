import Glibc
import WaveRTALSA
import WaveRTClient

extension Player {
    /// The `--report` JSON (a contract: scripts read these keys).
    public struct Report: Sendable, Codable {
        public var example: String
        public var device: String
        public var clock: RunClock
        /// Stream frames played: with `--duration S`, exactly round(S × rate).
        public var framesPlayed: UInt64
        /// Glitches the sample-exact monitor found (frames the DMA fetched that the client had not written, or overwrote).
        public var glitches: UInt64
        public var xruns: UInt64
        public var framesLost: UInt64
        public var dmaFaults: UInt64
        public var wallSeconds: Double
        /// The WAV file written when the default device could not be opened.
        public var outputFile: String?
        public var lateWrites: UInt64
        /// The client's wakes, the event waits that timed out (it then served the
        /// buffer from the position), and the packet calls the miniport refused.
        public var clientWakes: UInt64
        public var eventTimeouts: UInt64
        public var packetErrors: UInt64
        /// Each glitch: when (seconds of stream time after RUN), where (frame), how many frames.
        public var glitchEvents: [GlitchEvent]
        /// What the driver verifier found (a run with any exits non-zero).
        public var verifier: [VerifierEntry]
        /// What the miniport left behind at teardown ("DDI: N bytes").
        public var leaks: [String]
        /// How the miniport misprogrammed the hardware.
        public var guestErrors: [String]
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
        /// device-to-writer ring, in frames.
        public var cyclicBufferFrames: Int
        public var ringFrames: Int
        /// The system timer's resolution the machine ran with ("default" or "high").
        public var timerResolution: String
        /// The miniport's crash (a C++ miniport's bug check: signal, call, last DDI, backtrace), if it crashed.
        public var crash: String?
        /// The Chrome/Perfetto trace written (`--trace`), and the records its ring dropped.
        public var trace: String?
        public var traceDropped: UInt64?
        /// Suspends (-ESTRPIPE): resumed (`snd_pcm_resume`) or prepared again.
        public var suspends: UInt64 = 0
        /// The part of `framesLost` the card had taken and `snd_pcm_prepare` discarded.
        public var framesDiscardedByDevice: UInt64 = 0
        /// Stream frames the sink took from the device: `framesPlayed` plus what was lost
        /// before reaching ALSA (`framesLost` less `framesDiscardedByDevice`).
        public var framesReceived: UInt64 = 0
        /// Why the PCM stopped playing before the end (-ENODEV: the device vanished), naming
        /// the device; nil when it played to the end. A run with one exits non-zero.
        public var deviceError: String?
        public var deviceErrno: Int32?
    }

    /// A snapshot for the live status line.
    public struct Status: Sendable {
        public var seconds: Double
        public var framesPlayed: UInt64
        public var glitches: UInt64
        public var xruns: UInt64
        /// Frames queued in the card (`snd_pcm_delay`), when it says.
        public var bufferFill: Int?
        public var ringFrames: Int
    }

    public enum PlayError: Error, CustomStringConvertible {
        /// The example's miniport does not take the stream (its format, buffer or notifications).
        case refused(String)
        case alsa(ALSAError)
        case session(SessionError)
        case writer(device: String, errno: Int32)

        public var description: String {
            switch self {
            case .refused(let why): why
            case .alsa(let e): e.description
            case .session(let e): e.description
            case .writer(let d, let e): "ALSA PCM '\(d)' failed while playing: \(String(cString: strerror(e))) (errno \(e))"
            }
        }
    }
}
