import CALSA
import CALSAShim
import Glibc
import WaveRTEngine

/// What the ALSA sink needs of a playback device. ``ALSAPCM`` is the real one;
/// tests wrap it to inject the faults a card would produce.
public protocol PCMDevice: AnyObject, Sendable {
    var name: String { get }
    /// Frames per period and in the device buffer, as negotiated.
    var periodFrames: Int { get }
    var bufferFrames: Int { get }
    /// `snd_pcm_writei`: frames written, or a negative errno (-EPIPE underrun,
    /// -ESTRPIPE suspended, -ENODEV/-EBADFD the device is gone).
    func write(_ frames: UnsafeRawPointer, count: Int) -> Int
    /// `snd_pcm_resume`: 0 when the suspended PCM runs again from where it
    /// stopped, -EAGAIN while the card is still waking (ask again later), any
    /// other negative errno when it cannot resume (then ``prepare()``). Never blocks.
    func resume() -> Int32
    /// `snd_pcm_prepare`: 0 when the PCM is ready to start again, its queue
    /// discarded (after an underrun, or a suspend it cannot resume from).
    func prepare() -> Int32
    /// `snd_pcm_delay`: frames queued ahead of the speaker, or nil when unknown.
    func delay() -> Int?
    /// `snd_pcm_drain`.
    func drain()
}

/// What the ALSA source needs of a capture device. ``ALSAPCM`` opened for
/// capture is the real one; tests wrap it to inject faults.
public protocol PCMCaptureDevice: AnyObject, Sendable {
    var name: String { get }
    var periodFrames: Int { get }
    var bufferFrames: Int { get }
    /// `snd_pcm_readi`: frames read, or a negative errno (-EPIPE overrun,
    /// -ESTRPIPE suspended, -ENODEV/-EBADFD the device is gone).
    func read(_ frames: UnsafeMutableRawPointer, count: Int) -> Int
    /// `snd_pcm_resume`: 0 when the suspended PCM runs again, -EAGAIN while the
    /// card is still waking, another negative errno when it cannot (then ``prepare()``). Never blocks.
    func resume() -> Int32
    /// `snd_pcm_prepare`: 0 when the PCM is ready to capture again (the next read starts it).
    func prepare() -> Int32
    /// `snd_pcm_delay`: frames captured and not read yet, or nil when unknown.
    func delay() -> Int?
    /// `snd_pcm_drop`: stops capturing at once.
    func drop()
}

/// A PCM of libasound2, playback or capture: a thin typed wrapper over
/// `snd_pcm_t`, each method naming the call it makes. Errors are
/// ``ALSAError``s naming the device.
public final class ALSAPCM: PCMDevice, PCMCaptureDevice, @unchecked Sendable {
    /// `SND_PCM_STREAM_PLAYBACK` or `SND_PCM_STREAM_CAPTURE`.
    public enum Direction: Sendable, Hashable {
        case playback, capture
        var alsa: snd_pcm_stream_t { self == .playback ? SND_PCM_STREAM_PLAYBACK : SND_PCM_STREAM_CAPTURE }
    }

    public let name: String
    public let direction: Direction
    private var handle: OpaquePointer?
    /// The tree the PCM was opened from, kept as long as the PCM.
    public let configuration: ALSAConfiguration?
    public private(set) var periodFrames = 0
    public private(set) var bufferFrames = 0
    public private(set) var format: StreamFormat?

    /// `snd_pcm_open(name, stream, 0)` (the user's ALSA configuration), or
    /// `snd_pcm_open_lconf` with the tree of `configuration`.
    public init(name: String, configuration: ALSAConfiguration? = nil, direction: Direction = .playback) throws(ALSAError) {
        self.name = name
        self.configuration = configuration
        self.direction = direction
        if ProcessInfoLite.environment("WAVERT_ALSA_VERBOSE") == nil { wrt_alsa_silence_errors() }
        var pcm: OpaquePointer?
        let rc = if let configuration {
            snd_pcm_open_lconf(&pcm, name, direction.alsa, 0, configuration.tree)
        } else {
            snd_pcm_open(&pcm, name, direction.alsa, 0)
        }
        guard rc >= 0, let pcm else { throw .open(device: name, code: rc, direction: direction) }
        handle = pcm
    }

    deinit { close() }

    /// `snd_pcm_type_name(snd_pcm_type(pcm))`: "HW", "PLUG", "FILE", "NULL", ...
    public var typeName: String {
        guard let handle else { return "closed" }
        return String(cString: snd_pcm_type_name(snd_pcm_type(handle)))
    }

    /// Negotiates interleaved `format` at exactly its rate and channel count, with
    /// a buffer of about `latencyMicroseconds` split into `periods` periods
    /// (`snd_pcm_hw_params_set_buffer_time_near`, `..._set_period_time_near`);
    /// what ALSA granted is in ``bufferFrames`` and ``periodFrames``.
    /// Uses the `_malloc`/`_free` forms of the parameter containers (the `alloca`
    /// macros do not import into Swift).
    public func configure(format: StreamFormat, latencyMicroseconds: Int, periods: Int = 4) throws(ALSAError) {
        guard let handle else { throw .call(device: name, function: "snd_pcm_hw_params", code: -EBADF) }
        var hw: OpaquePointer?
        guard snd_pcm_hw_params_malloc(&hw) == 0, let hw else { throw .call(device: name, function: "snd_pcm_hw_params_malloc", code: -ENOMEM) }
        defer { snd_pcm_hw_params_free(hw) }
        func check(_ rc: Int32, _ function: String) throws(ALSAError) {
            if rc < 0 { throw .call(device: name, function: function, code: rc) }
        }
        try check(snd_pcm_hw_params_any(handle, hw), "snd_pcm_hw_params_any")
        try check(snd_pcm_hw_params_set_access(handle, hw, SND_PCM_ACCESS_RW_INTERLEAVED), "snd_pcm_hw_params_set_access")
        let pcmFormat = Self.alsaFormat(format.sampleFormat)
        if snd_pcm_hw_params_set_format(handle, hw, pcmFormat) < 0 {
            throw .unsupported(device: name, direction: direction, what: "\(format.sampleFormat.bits)-bit \(format.sampleFormat == .float32 ? "float" : "integer") samples",
                               hint: "use the 'plug' plugin (--device plug:\(name)) to convert")
        }
        if snd_pcm_hw_params_set_channels(handle, hw, UInt32(format.channels)) < 0 {
            throw .unsupported(device: name, direction: direction, what: "\(format.channels) channels", hint: "use --device plug:\(name)")
        }
        if snd_pcm_hw_params_set_rate(handle, hw, UInt32(format.sampleRate), 0) < 0 {
            throw .unsupported(device: name, direction: direction, what: "\(format.sampleRate) Hz", hint: "use --device plug:\(name) to resample")
        }
        var bufferTime = UInt32(max(1_000, latencyMicroseconds))
        var dir: Int32 = 0
        try check(snd_pcm_hw_params_set_buffer_time_near(handle, hw, &bufferTime, &dir), "snd_pcm_hw_params_set_buffer_time_near")
        var periodTime = bufferTime / UInt32(max(2, periods))
        try check(snd_pcm_hw_params_set_period_time_near(handle, hw, &periodTime, &dir), "snd_pcm_hw_params_set_period_time_near")
        try check(snd_pcm_hw_params(handle, hw), "snd_pcm_hw_params")
        var period: snd_pcm_uframes_t = 0
        var buffer: snd_pcm_uframes_t = 0
        try check(snd_pcm_hw_params_get_period_size(hw, &period, &dir), "snd_pcm_hw_params_get_period_size")
        try check(snd_pcm_hw_params_get_buffer_size(hw, &buffer), "snd_pcm_hw_params_get_buffer_size")
        periodFrames = Int(period)
        bufferFrames = Int(buffer)

        var sw: OpaquePointer?
        guard snd_pcm_sw_params_malloc(&sw) == 0, let sw else { throw .call(device: name, function: "snd_pcm_sw_params_malloc", code: -ENOMEM) }
        defer { snd_pcm_sw_params_free(sw) }
        try check(snd_pcm_sw_params_current(handle, sw), "snd_pcm_sw_params_current")
        // Playback starts once half the buffer is queued; capture at the first read.
        // Either wakes when a period is free (or captured).
        let start = direction == .playback ? buffer / 2 : 1
        try check(snd_pcm_sw_params_set_start_threshold(handle, sw, start), "snd_pcm_sw_params_set_start_threshold")
        try check(snd_pcm_sw_params_set_avail_min(handle, sw, period), "snd_pcm_sw_params_set_avail_min")
        try check(snd_pcm_sw_params(handle, sw), "snd_pcm_sw_params")
        self.format = format
    }

    static func alsaFormat(_ f: StreamFormat.SampleFormat) -> snd_pcm_format_t {
        switch f {
        case .int16: SND_PCM_FORMAT_S16_LE
        case .int24: SND_PCM_FORMAT_S24_3LE
        case .int32: SND_PCM_FORMAT_S32_LE
        case .float32: SND_PCM_FORMAT_FLOAT_LE
        }
    }

    public func write(_ frames: UnsafeRawPointer, count: Int) -> Int {
        guard let handle else { return -Int(EBADF) }
        return Int(snd_pcm_writei(handle, frames, snd_pcm_uframes_t(count)))
    }

    /// `snd_pcm_readi` (a capture PCM).
    public func read(_ frames: UnsafeMutableRawPointer, count: Int) -> Int {
        guard let handle else { return -Int(EBADF) }
        return Int(snd_pcm_readi(handle, frames, snd_pcm_uframes_t(count)))
    }

    public func drop() {
        if let handle { _ = snd_pcm_drop(handle) }
    }

    public func resume() -> Int32 {
        guard let handle else { return -EBADF }
        return snd_pcm_resume(handle)
    }

    public func prepare() -> Int32 {
        guard let handle else { return -EBADF }
        return snd_pcm_prepare(handle)
    }

    public func delay() -> Int? {
        guard let handle else { return nil }
        var frames: snd_pcm_sframes_t = 0
        return snd_pcm_delay(handle, &frames) == 0 ? Int(frames) : nil
    }

    public func drain() {
        if let handle { _ = snd_pcm_drain(handle) }
    }

    /// `snd_pcm_close`.
    public func close() {
        if let handle { _ = snd_pcm_close(handle) }
        handle = nil
    }
}

extension ALSAPCM {
    /// Whether the PCM paces playback like a card: after a period of silence is
    /// written, a card reports it queued (`snd_pcm_delay` > 0); ALSA's `null` and
    /// `file`-over-`null` swallow it at once and report nothing queued.
    public func probePacing(format: StreamFormat) -> Bool {
        let frames = max(1, periodFrames)
        let silence = UnsafeMutableRawPointer.allocate(byteCount: frames * format.blockAlign, alignment: 16)
        defer { silence.deallocate() }
        silence.initializeMemory(as: UInt8.self, repeating: 0, count: frames * format.blockAlign)
        guard write(silence, count: frames) > 0 else { return false }
        return (delay() ?? 0) > 0
    }
}

/// Why ALSA could not play or record: which device, which call, what errno, what to try.
public enum ALSAError: Error, Hashable, CustomStringConvertible {
    case open(device: String, code: Int32, direction: ALSAPCM.Direction = .playback)
    case call(device: String, function: String, code: Int32)
    case unsupported(device: String, direction: ALSAPCM.Direction = .playback, what: String, hint: String)
    case configuration(reason: String)

    /// The errno text alone, for one-line notices.
    public var shortReason: String {
        if case .open(let device, let code, _) = self { return "\(device): \(String(cString: strerror(-code)))" }
        return description
    }

    public var description: String {
        switch self {
        case .open(let device, let code, let direction):
            let what = String(cString: snd_strerror(code))
            let hint = switch -code {
            case ENOENT where direction == .capture:
                "no such PCM or no sound card; try --device wavert_input:FILE=raw.pcm to record raw samples from a file"
            case ENOENT: "no such PCM or no sound card; try --device null, or --device \"file:'out.wav',wav\" to write a file"
            case EBUSY: "another program holds the device; close it, or play through 'default' (PipeWire/PulseAudio mix)"
            case EACCES, EPERM: "no permission on /dev/snd; add yourself to the 'audio' group"
            default: "check the name with 'aplay -L'"
            }
            let kind = direction == .capture ? "capture PCM" : "PCM"
            return "cannot open ALSA \(kind) '\(device)': \(what) (\(code)); \(hint)"
        case .call(let device, let function, let code):
            return "ALSA PCM '\(device)': \(function) failed: \(String(cString: snd_strerror(code))) (\(code))"
        case .unsupported(let device, let direction, let what, let hint):
            return "ALSA PCM '\(device)' cannot \(direction == .capture ? "record" : "play") \(what); \(hint)"
        case .configuration(let reason):
            return "ALSA configuration: \(reason)"
        }
    }
}

/// getenv without Foundation.
enum ProcessInfoLite {
    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
