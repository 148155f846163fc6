import Glibc
import WaveRTALSA
import WaveRTClient

extension Recorder {
    /// `wavert record --report` JSON (a contract: scripts read these keys).
    public struct Report: Sendable, Codable {
        public var example: String
        public var device: String
        public var clock: RunClock
        /// The WAV file written.
        public var output: String
        /// Frames in the file: with `--duration S`, exactly round(S × rate).
        public var framesRecorded: UInt64
        /// Glitches the sample-exact monitor found (frames the client read before
        /// the DMA wrote them, or the DMA overwrote before the client read them).
        public var glitches: UInt64
        /// Capture overruns ALSA reported (-EPIPE), recovered.
        public var xruns: UInt64
        /// Frames of silence the device's input got because ALSA had not delivered yet.
        public var silenceFrames: UInt64
        /// Frames dropped on the way: the ALSA reader's ring or the file writer's full.
        public var framesLost: UInt64
        public var dmaFaults: UInt64
        /// The client's wakes, the event waits that timed out (it then served the
        /// buffer from the position), and the packet calls the miniport refused.
        public var clientWakes: UInt64
        public var eventTimeouts: UInt64
        public var packetErrors: UInt64
        public var wallSeconds: Double
        public var glitchEvents: [GlitchEvent]
        /// What the driver verifier found (a run with any exits non-zero).
        public var verifier: [VerifierEntry]
        public var leaks: [String]
        public var guestErrors: [String]
        public var notes: [String]
        /// What ALSA granted.
        public var alsaBufferFrames: Int
        public var alsaPeriodFrames: Int
        /// Frames `snd_pcm_readi` returned.
        public var framesRead: UInt64
        /// The rings the frames went round: the miniport's cyclic buffer and the
        /// reader-to-device ring, in frames.
        public var cyclicBufferFrames: Int
        public var ringFrames: Int
        /// The system timer's resolution the machine ran with ("default" or "high").
        public var timerResolution: String
        /// The miniport's crash (a C++ miniport's bug check: signal, call, last DDI, backtrace), if it crashed.
        public var crash: String?
        /// The Chrome/Perfetto trace written (`--trace`), and the records its ring dropped.
        public var trace: String?
        public var traceDropped: UInt64?
        /// Why the capture PCM stopped before the end (-ENODEV: the device vanished), naming
        /// the device; nil when it recorded to the end. The WAV holds what came before; a run with one exits non-zero.
        public var deviceError: String? = nil
        /// Suspends of the capture device (-ESTRPIPE) waited out or prepared.
        public var suspends: UInt64 = 0
        public var deviceErrno: Int32? = nil
    }

    /// A snapshot for the live status line.
    public struct Status: Sendable {
        public var seconds: Double
        public var framesRecorded: UInt64
        public var glitches: UInt64
        public var xruns: UInt64
        public var silenceFrames: UInt64
        public var ringFrames: Int
    }

    public enum RecordError: Error, CustomStringConvertible {
        /// The example's miniport does not take the stream.
        case refused(String)
        case alsa(ALSAError)
        case session(SessionError)
        case output(AudioFileError)
        case reader(device: String, errno: Int32)

        public var description: String {
            switch self {
            case .refused(let why): why
            case .alsa(let e): e.description
            case .session(let e): e.description
            case .output(let e): e.description
            case .reader(let d, let e): "ALSA capture PCM '\(d)' failed while recording: \(String(cString: strerror(e))) (errno \(e))"
            }
        }
    }
}
