import CWaveRTShim
import WaveRTClient
import WaveRTEngine
import WaveRTHardware
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

/// `wavert soak`, as a library call: one stream of a miniport on the virtual
/// clock, driven for hours of stream time through random state ladders,
/// reopens with new formats and buffers, fragmented memory and a client that
/// is sometimes late, with every check made after every step.
///
/// ```swift
/// let report = Soak.run(.example(ExampleMiniport.named("hda")!), seconds: 86_400, seed: 7)
/// print(report.summary)   // FAILED ... replay: wavert soak --example hda --duration 86400 --seed 7
/// ```
///
/// **Steps.** Each step may act, then advances the clock by a random span
/// (mostly milliseconds to seconds, sometimes tens of seconds), then checks.
/// Actions, through the port as the audio engine makes them: RUN (the client
/// pre-rolls and starts), PAUSE, RUN again, STOP; KSSTATE ladders the client
/// never makes (STOP → ACQUIRE, STOP → PAUSE, PAUSE → ACQUIRE → PAUSE after
/// RUN), each stepping through the neighbouring states; and reopen: the client
/// and the pin closed (teardown checked), memory fragmented anew, released
/// or kept, and a pin opened with a new format, buffer and notification count
/// among those the miniport's pin takes.
///
/// **Checks**, after every step:
/// - position: KSPROPERTY_AUDIO_POSITION (and the mapped position register)
///   against what the device's own timing says it is at that instant (see
///   ``SoakTarget/PositionSource``); 0 in STOP; and the device runs at the
///   stream's rate and frame size;
/// - glitches: the client is late on some wakes (by amounts chosen around what
///   the buffer allows, to the nanosecond), and the glitch monitor must report
///   a glitch for exactly the wakes the device's timing says were too late,
///   and none on a wake that was on time;
/// - notifications: a running stream notifies within the client's timeout;
/// - the verifier is quiet; the hardware saw no misprogramming and the DMA no fault;
/// - nothing leaked: each pin's teardown report, the port's at unload, and no
///   page left allocated after a pin closed;
/// - nothing crashed (a C++ miniport's crash guard), and the clock saw no livelock.
///
/// The first failure stops the soak; its report names the step and the stream
/// time, and the seed replays it exactly (the same steps, the same failure).
/// A known-buggy example's findings are collected instead, and do not fail it.
public enum Soak {
    public struct Progress: Sendable {
        public var streamNanoseconds: UInt64
        public var totalNanoseconds: UInt64
        public var steps: UInt64
    }

    /// A memory map for the soak's machine: the PC's layout (low memory, RAM
    /// below the PCI hole, RAM above 4 GiB for drivers that ignore their
    /// device's address limit) with less of each, so fragmenting it between
    /// opens takes microseconds rather than the seconds 5 GiB would.
    public static let memoryMap = try! PhysicalMemoryMap(ramRanges: [
        .init(start: 0, end: 0xA_0000),
        .init(start: 0x10_0000, end: 0x800_0000),
        .init(start: 0x1_0000_0000, end: 0x1_0400_0000),
    ])

    /// Soaks `target` for `seconds` of stream time. `seed` picks every random choice.
    public static func run(_ target: SoakTarget, seconds: Double, seed: UInt64,
                           progress: ((Progress) -> Void)? = nil) -> SoakReport
    {
        let total = UInt64(max(0, seconds) * 1e9)
        let replay = (["wavert", "soak"] + target.arguments + ["--duration", Self.text(seconds), "--seed", "\(seed)"]).joined(separator: " ")
        var report = SoakReport(target: target.name, seed: seed, requestedNanoseconds: total, replay: replay)
        let wallStart = wrt_monotonic_ns()
        let run = SoakRun(target: target, seed: seed, total: total, report: report, progress: progress)
        report = run.go()
        report.wallSeconds = Double(wrt_monotonic_ns() - wallStart) / 1e9
        return report
    }

    static func text(_ seconds: Double) -> String {
        seconds == seconds.rounded() && abs(seconds) < 1e15 ? "\(Int64(seconds))" : "\(seconds)"
    }
}
