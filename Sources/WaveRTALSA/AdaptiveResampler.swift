import CSamplerate

/// What the ALSA writer needs of a streaming resampler whose ratio may change
/// at every call. ``AdaptiveResampler`` (libsamplerate) is the real one; tests
/// wrap it to inject the failures a converter can report.
protocol StreamingResampler: AnyObject {
    var channels: Int { get }
    /// `src_process`: converts up to `inputFrames` interleaved frames into at most
    /// `outputCapacity` frames at `ratio` (output frames per input frame);
    /// returns the frames used and generated. `endOfInput` flushes what the
    /// filter holds back.
    func process(_ input: UnsafePointer<Float>, inputFrames: Int, ratio: Double,
                 into output: UnsafeMutablePointer<Float>, outputCapacity: Int,
                 endOfInput: Bool) throws(ResamplerError) -> (used: Int, generated: Int)
    /// `src_reset`: forgets the filter's history, as for a new stream.
    func reset()
}

/// A libsamplerate error code (`SRC_ERR_*`), as `src_process` returned it.
public struct ResamplerError: Error, Hashable, CustomStringConvertible {
    public let code: Int32
    public var description: String { "libsamplerate: \(String(cString: src_strerror(code))) (error \(code))" }
}

/// libsamplerate's streaming converter with a ratio that may change at every
/// call (`src_process` with `src_ratio`; libsamplerate glides from the previous
/// ratio to the new one across the call, so a change never clicks): the drift
/// compensator's actuator. Works on interleaved Float samples; the writer
/// converts around it.
final class AdaptiveResampler: StreamingResampler {
    private let state: OpaquePointer
    let channels: Int

    /// `src_new(SRC_SINC_FASTEST, channels)`.
    init(channels: Int) throws(ALSAError) {
        var error: Int32 = 0
        guard let s = src_new(Int32(SRC_SINC_FASTEST), Int32(channels), &error) else {
            throw .configuration(reason: ResamplerError(code: error).description)
        }
        state = s
        self.channels = channels
    }

    deinit { src_delete(state) }

    func process(_ input: UnsafePointer<Float>, inputFrames: Int, ratio: Double,
                 into output: UnsafeMutablePointer<Float>, outputCapacity: Int,
                 endOfInput: Bool) throws(ResamplerError) -> (used: Int, generated: Int)
    {
        var data = SRC_DATA()
        data.data_in = input
        data.data_out = output
        data.input_frames = inputFrames
        data.output_frames = outputCapacity
        data.src_ratio = ratio
        data.end_of_input = endOfInput ? 1 : 0
        let rc = src_process(state, &data)
        guard rc == 0 else { throw ResamplerError(code: rc) }
        return (Int(data.input_frames_used), Int(data.output_frames_gen))
    }

    func reset() { _ = src_reset(state) }
}
