import CALSA
import CALSAShim
import Glibc

/// An ALSA configuration tree for `snd_pcm_open_lconf`: the user's own
/// configuration, exactly as `snd_pcm_open` would read it, with the
/// emulator's PCMs added under names the user has not defined.
///
/// The user's part comes from `snd_config_update_r`, the call behind
/// `snd_pcm_open`: the files in `ALSA_CONFIG_PATH` (else alsa.conf), then the
/// hooks they declare, which load `/etc/asound.conf`, `~/.asoundrc` and the
/// `conf.d` directories (where PipeWire and PulseAudio put their `default`).
/// The emulator's definitions (``wavertText``) are declared with ALSA's `?`
/// operator, which never overrides: a PCM the user named `wavert_capture`
/// stays the user's.
public final class ALSAConfiguration: @unchecked Sendable {
    let tree: OpaquePointer
    /// Where the user's part was read from, for messages.
    public let origin: String

    /// The user's configuration plus `text` (alsa.conf syntax).
    /// - Parameter userFiles: the configuration files, ':'-separated, as in
    ///   `ALSA_CONFIG_PATH`; nil reads what `snd_pcm_open` reads.
    public init(userFiles: String? = nil, adding text: String = ALSAConfiguration.wavertText) throws(ALSAError) {
        // alsa-lib's own messages would repeat ours on stderr (WAVERT_ALSA_VERBOSE keeps them).
        if ProcessInfoLite.environment("WAVERT_ALSA_VERBOSE") == nil { wrt_alsa_silence_errors() }
        let environment = getenv("ALSA_CONFIG_PATH").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        origin = userFiles ?? environment.map { "ALSA_CONFIG_PATH=\($0)" } ?? "\(String(cString: snd_config_topdir()))/alsa.conf"
        var top: OpaquePointer?
        var update: OpaquePointer?
        let rc = snd_config_update_r(&top, &update, userFiles)
        if let update { _ = snd_config_update_free(update) }
        guard rc >= 0, let top else {
            throw .configuration(reason: "reading \(origin): \(String(cString: snd_strerror(rc)))")
        }
        do { try Self.load(text, into: top) } catch {
            _ = snd_config_delete(top)
            throw error
        }
        tree = top
    }

    /// A tree of `text` alone (`snd_config_top`, `snd_config_load`): nothing of
    /// the system's configuration unless `text` includes it.
    public init(text: String) throws(ALSAError) {
        var top: OpaquePointer?
        guard snd_config_top(&top) == 0, let top else { throw .configuration(reason: "snd_config_top failed") }
        do { try Self.load(text, into: top) } catch {
            _ = snd_config_delete(top)
            throw error
        }
        tree = top
        origin = "text"
    }

    deinit { _ = snd_config_delete(tree) }

    /// `snd_input_buffer_open` + `snd_config_load`: merges `text` into `top`.
    private static func load(_ text: String, into top: OpaquePointer) throws(ALSAError) {
        var input: OpaquePointer?
        let bytes = Array(text.utf8)
        let rc: Int32 = bytes.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { chars in
                guard snd_input_buffer_open(&input, chars.baseAddress, bytes.count) == 0, let input else { return -ENOMEM }
                defer { _ = snd_input_close(input) }
                return snd_config_load(top, input)
            }
        }
        guard rc >= 0 else { throw .configuration(reason: "snd_config_load: \(String(cString: snd_strerror(rc)))") }
    }

    /// Whether `pcm.NAME` is defined (`snd_config_search`), arguments after ':' ignored.
    public func definesPCM(_ name: String) -> Bool {
        let base = name.split(separator: ":", maxSplits: 1).first.map(String.init) ?? name
        var node: OpaquePointer?
        return snd_config_search(tree, "pcm.\(base)", &node) == 0
    }

    /// The configuration shipped in `Resources/alsa/wavert.conf`:
    /// `wavert_capture` (a WAV file over `null`, for listening without a card
    /// and for tests), `wavert_capture_s32` (the same behind `plug`,
    /// converting to 32-bit) and `wavert_input` (capture of a raw file's
    /// samples through the `file` plugin's `infile`, silence by default:
    /// recording without a card).
    public static let wavertText = """
        # The WaveRT emulator's own PCMs. wavert adds them to your ALSA configuration
        # under names you have not defined ('?' never overrides). To use them from
        # other programs: ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:/path/to/wavert.conf
        #
        # wavert_capture: playback into a WAV file ($FILE) over null, unpaced.
        # wavert_capture_s32: the same behind plug, converting to 32-bit.
        # wavert_input: capture of the raw samples of $FILE (default /dev/zero: silence),
        #   in the stream's format, unpaced; past the end of the file, silence.
        pcm.?wavert_capture {
            @args [ FILE ]
            @args.FILE { type string default "wavert-capture.wav" }
            type file
            slave.pcm { type null }
            file $FILE
            format wav
        }
        pcm.?wavert_capture_s32 {
            @args [ FILE ]
            @args.FILE { type string default "wavert-capture.wav" }
            type plug
            slave {
                pcm { type file slave.pcm { type null } file $FILE format wav }
                format S32_LE
            }
        }
        pcm.?wavert_input {
            @args [ FILE ]
            @args.FILE { type string default "/dev/zero" }
            type file
            slave.pcm { type null }
            infile $FILE
            file "/dev/null"
            format raw
        }

        """
}
