import ArgumentParser
import WaveRTClient
import WaveRTDMA
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTMemory
import WaveRTRunner

/// The flags that say which example runs and how its stream is set up,
/// shared by `play` and `record`. Each check's error names the flag and what
/// it accepts.
struct StreamFlags: ParsableArguments {
    @Option(help: "Example miniport (see 'wavert examples'; default hda).") var example: String?
    @Option(help: "A C++ miniport library built with 'wavert sdk build' (instead of --example).") var miniport: String?
    @Option(help: "hda, isa or sg: the adapter a --miniport library drives (default: what the library declares, else hda).")
    var hardware: String?
    @Option(name: .customLong("fragment-memory"),
            help: "Fragment the machine's memory: scarce, or OCCUPANCY:LONGEST_FREE_RUN_PAGES[:SEED] (e.g. 0.999:1).")
    var fragmentMemory: String?
    @Option(help: "RATE:BITS:CHANNELS, BITS 16, 24, 32 or 32f (default: the example's, or a source file's).") var format: String?
    @Option(name: .customLong("buffer-ms"), help: "Cyclic buffer length in milliseconds (rounded to whole packets).")
    var bufferMs: Int?
    @Option(name: .customLong("buffer-frames"), help: "Cyclic buffer length in frames (a whole number of packets).")
    var bufferFrames: Int?
    @Option(help: "Notifications per buffer: 1 or 2.") var notifications: Int?
    @Option(help: "DMA controller preset or profile file (overrides the example's).") var dma: String?
    @Flag(name: .customLong("faithful-faults"), help: "Let the DMA do what silicon would instead of refusing bad programs.")
    var faithfulFaults = false
    @Option(name: .customLong("timer-resolution"), help: "default (15.625 ms ticks) or high (1 ms): the system timer's resolution.")
    var timerResolution = "default"

    func resolvedExample() throws -> ExampleMiniport {
        let name = example ?? MiniportChoice.defaultExample
        guard let ex = ExampleMiniport.named(name) else {
            throw ValidationError("no example named '\(name)'; try: \(ExampleMiniport.all.map(\.name).joined(separator: ", "))")
        }
        return ex
    }

    /// The miniport `--example` or `--miniport` (with `--hardware`) names.
    func resolvedMiniport() throws -> RunMiniport {
        try MiniportChoice.resolve(example: example, miniport: miniport, hardware: hardware)
    }

    /// Each session's memory, as `--fragment-memory` asks (nil: a fresh machine's).
    func memory() throws -> (@Sendable () -> PhysicalMemory)? { try MiniportChoice.memory(fragmentMemory) }

    /// The stream these flags describe, checked against the example's miniport
    /// (a format its hardware cannot take is refused here, with what it takes).
    /// - Parameter fallbackFormat: the format when `--format` is not given (a source file's), else the example's.
    func setup(for ex: ExampleMiniport, fallbackFormat: StreamFormat? = nil, capture: Bool) throws -> StreamSetup {
        try setup(for: RunMiniport(example: ex), fallbackFormat: fallbackFormat, capture: capture)
    }

    /// As ``setup(for:fallbackFormat:capture:)`` for any miniport: a C++ one's formats are what its
    /// filter descriptor declares, so a format it does not take is refused by the port, and said so.
    func setup(for ex: RunMiniport, fallbackFormat: StreamFormat? = nil, capture: Bool) throws -> StreamSetup {
        if let n = notifications, n != 1 && n != 2 { throw ValidationError("--notifications must be 1 or 2; got \(n)") }
        if let ms = bufferMs, ms <= 0 { throw ValidationError("--buffer-ms must be positive; got \(ms)") }
        if bufferMs != nil && bufferFrames != nil {
            throw ValidationError("--buffer-ms and --buffer-frames both set the buffer's length; give one")
        }
        let count = notifications ?? ex.notificationCount
        if let n = bufferFrames, n <= 0 || n % max(1, count) != 0 {
            throw ValidationError("--buffer-frames must be a positive multiple of the \(count) notifications (whole packets); got \(n)")
        }
        guard let resolution = Machine.TimerResolution(rawValue: timerResolution) else {
            throw ValidationError("--timer-resolution must be default or high; got '\(timerResolution)'")
        }
        let streamFormat = try format.map(Self.parseFormat) ?? fallbackFormat ?? ex.format
        let profile: DMAProfile?
        do { profile = try dma.map { try DMAProfile.named($0) } } catch { throw ValidationError("--dma: \(error)") }
        let setup = ex.streamSetup(format: streamFormat, bufferMilliseconds: bufferMs.map(Double.init), bufferFrames: bufferFrames,
                                   notificationCount: count, dmaProfile: profile, faithfulFaults: faithfulFaults,
                                   timerResolution: resolution, capture: capture)
        if let refusal = ex.check(setup, memory: try memory()) {
            // The miniport broke a rule opening the stream (the port refused a buffer beyond its MDL,
            // say) or crashed: its bug, not a mistake in the flags. Said, then exit 1 as the verifier's verdict.
            guard refusal.isMiniportBug else { throw ValidationError(refusal.message) }
            RunOutput.refused(refusal.message)
            throw ExitCode.failure
        }
        return setup
    }

    /// `--format RATE:BITS:CHANNELS` (BITS 16, 24, 32 or 32f), for every subcommand that takes it.
    static func parseFormat(_ text: String) throws -> StreamFormat {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let rate = Int(parts[0]), let channels = Int(parts[2]) else {
            throw ValidationError("--format RATE:BITS:CHANNELS, e.g. 48000:16:2; got '\(text)'")
        }
        let float = parts[1].hasSuffix("f")
        guard let bits = Int(parts[1].dropLast(float ? 1 : 0)) else {
            throw ValidationError("bad BITS in --format '\(text)'; use 16, 24, 32 or 32f")
        }
        do { return try StreamFormat(sampleRate: rate, bitsPerSample: bits, channels: channels, float: float) } catch {
            throw ValidationError("--format '\(text)': \(error)")
        }
    }
}

/// The flags of a real-time run through ALSA, shared by `play` and `record`.
struct RunFlags: ParsableArguments {
    @Option(help: "system or device: who leads the clock.") var clock = "system"
    @Option(help: "Seconds: exactly round(SECONDS x rate) frames (without it, until stopped or a source file ends).")
    var duration: Double?
    @Option(name: .customLong("latency-ms"), help: "ALSA buffer in milliseconds (the report says what ALSA granted).")
    var latencyMs = 80
    @Option(help: "Periods in the ALSA buffer.") var periods = 4
    @Option(help: "Write a JSON report here.") var report: String?

    func check() throws -> RunClock {
        guard let leader = RunClock(rawValue: clock) else { throw ValidationError("--clock must be system or device; got '\(clock)'") }
        if let d = duration, !(d > 0 && d.isFinite) { throw ValidationError("--duration must be a positive number of seconds; got \(d)") }
        guard (1...10_000).contains(latencyMs) else { throw ValidationError("--latency-ms must be 1 to 10000; got \(latencyMs)") }
        guard (2...64).contains(periods) else { throw ValidationError("--periods must be 2 to 64; got \(periods)") }
        return leader
    }
}
