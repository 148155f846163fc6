/// The fuzzers this module holds, by the name `wavert fuzz TARGET` takes.
public enum FuzzTargets {
    public typealias Iteration = @Sendable (inout FuzzRandom) -> FuzzOutcome

    public static let all: [(name: String, summary: String, iteration: Iteration)] = [
        ("hda", "HD Audio controller MMIO: descriptors, random BDLs in memory, DPLBASE, RUN/SRST/CRST, frees under DMA",
         HDAFuzzer.iteration),
        ("isa", "8237 ports (flip-flop, page, mode, mask) and SB16 DSP ports, counts past the page, frees under DMA",
         ISAFuzzer.iteration),
        ("sg", "generic bus master MMIO: random descriptor tables, RUN/RESET, frees under DMA", SGFuzzer.iteration),
        ("ks-property", "KS property requests (RtAudio, AUDIO_POSITION, CONNECTION_STATE) of random sizes against each example",
         KSPropertyFuzzer.iteration),
        ("dma-profile", "DMA profile JSON: mutated presets and random bytes, then a program run with what is accepted",
         DMAProfileFuzzer.iteration),
        ("audio-file", "audio files (mutated WAV and AU headers, random bytes) through AudioFileSource", AudioFileFuzzer.iteration),
    ]

    public static func named(_ name: String) -> Iteration? { all.first { $0.name == name }?.iteration }
}
