import CSamplerate

/// libsamplerate's streaming converter with a ratio that may change at every
/// call (`src_process` with `src_ratio`): the drift compensator's actuator.
/// Works on interleaved Float samples; the sink converts around it.
final class AdaptiveResampler {
    private let state: OpaquePointer
    let channels: Int

    init(channels: Int) throws(ALSAError) {
        var error: Int32 = 0
        guard let s = src_new(Int32(SRC_SINC_FASTEST), Int32(channels), &error) else {
            throw .configuration(reason: "libsamplerate: \(String(cString: src_strerror(error)))")
        }
        state = s
        self.channels = channels
    }

    deinit { src_delete(state) }

    /// Converts up to `inputFrames` into at most `outputCapacity` frames at `ratio`;
    /// returns the frames used and generated.
    func process(_ input: UnsafePointer<Float>, inputFrames: Int, ratio: Double,
                 into output: UnsafeMutablePointer<Float>, outputCapacity: Int) -> (used: Int, generated: Int)
    {
        var data = SRC_DATA()
        data.data_in = input
        data.data_out = output
        data.input_frames = Int(inputFrames)
        data.output_frames = Int(outputCapacity)
        data.src_ratio = ratio
        data.end_of_input = 0
        guard src_process(state, &data) == 0 else { return (inputFrames, 0) }
        return (Int(data.input_frames_used), Int(data.output_frames_gen))
    }
}
