import WaveRTClient
import WaveRTEngine
import WaveRTMemory

/// The random choices of a soak, all drawn from one seeded generator so the
/// same seed replays the same run: the stream each open asks for, the steps,
/// the lateness of the client.
struct SoakRandom {
    private var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }
    /// Uniform in 0..<n (n > 0).
    mutating func below(_ n: UInt64) -> UInt64 { n <= 1 ? 0 : generator.next() % n }
    /// Uniform in the closed range.
    mutating func within(_ range: ClosedRange<UInt64>) -> UInt64 { range.lowerBound + below(range.upperBound - range.lowerBound + 1) }
    /// True one time in `n`.
    mutating func oneIn(_ n: UInt64) -> Bool { below(n) == 0 }
    mutating func pick<T>(_ items: [T]) -> T { items[Int(below(UInt64(items.count)))] }
    mutating func fraction() -> Double { Double(generator.next() >> 11) / Double(1 << 53) }
}

/// What one open of the pin asks for.
struct StreamChoice: Sendable, Hashable, CustomStringConvertible {
    var format: StreamFormat
    var bufferFrames: Int
    /// 0: a timer-driven client (KSPROPERTY_RTAUDIO_BUFFER); 1 or 2.
    var notifications: Int
    var mode: ClientMode

    var bufferNanoseconds: UInt64 { UInt64(bufferFrames) * 1_000_000_000 / UInt64(format.sampleRate) }

    var description: String {
        "\(format), \(bufferFrames) frames, " + (notifications == 0 ? "timer-driven" : "\(notifications) notification(s)")
            + (mode == .packet ? ", packet mode" : "")
    }

    /// Every format the soak tries, before the pin's data ranges narrow it down.
    static let candidateFormats: [StreamFormat] = {
        var formats: [StreamFormat] = []
        for rate in [8_000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 88_200, 96_000, 176_400, 192_000] {
            for sample in [StreamFormat.SampleFormat.int16, .int24, .int32, .float32] {
                for channels in [1, 2, 4, 6, 8] {
                    if let f = try? StreamFormat(sampleRate: rate, channels: channels, sampleFormat: sample) { formats.append(f) }
                }
            }
        }
        return formats
    }()

    static let bufferMilliseconds: [UInt64] = [3, 5, 10, 20, 40, 100]
    /// The largest buffer asked for (the 8237 reaches 128 KiB; a day of 192 kHz × 8 channels needs no more).
    static let maximumBufferBytes = 128 * 1024

    /// A stream of one of `formats` for `target`.
    ///
    /// Packet-mode streams get two notifications: with one, the packet the
    /// device starts to fetch at the notification is the one the client is
    /// only now told to write. A miniport whose position is a clock of whole
    /// milliseconds (SYSVAD) gets packets of whole milliseconds: it computes
    /// its notification interval in whole milliseconds, so any other packet
    /// makes its notifications run fast (the timing suite's finding, not the soak's).
    static func random(_ rng: inout SoakRandom, formats: [StreamFormat], target: SoakTarget) -> StreamChoice {
        let format = rng.pick(formats)
        let wholeMilliseconds: Bool
        if case .clock = target.position { wholeMilliseconds = true } else { wholeMilliseconds = false }
        var notifications = target.packetMode ? 2 : Int(rng.below(6) == 0 ? 0 : 1 + rng.below(2))
        if wholeMilliseconds && notifications == 0 { notifications = 2 }
        var ms = rng.pick(bufferMilliseconds)
        if wholeMilliseconds {
            let packets = UInt64(max(1, notifications))
            let fits = bufferMilliseconds.filter { $0 % packets == 0 && UInt64(format.sampleRate) * $0 / packets % 1000 == 0 }
            ms = fits.isEmpty ? 20 : rng.pick(fits)
        }
        var frames = StreamSetup.frames(milliseconds: Double(ms), rate: format.sampleRate, notificationCount: notifications)
        let packets = max(1, notifications)
        let limit = maximumBufferBytes / format.blockAlign / packets * packets
        frames = min(frames, max(packets, limit))
        let mode: ClientMode = notifications == 0 ? .timer(periodNanoseconds: max(1_000_000, UInt64(frames) * 1_000_000_000 / UInt64(format.sampleRate) / 2))
            : target.packetMode ? .packet : .event
        return StreamChoice(format: format, bufferFrames: frames, notifications: notifications, mode: mode)
    }
}
