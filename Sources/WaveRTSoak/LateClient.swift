import Glibc
import WaveRTClient
import WaveRTEngine
import WaveRTHardware
import WaveRTMemory

/// The audio engine's client, made late on purpose: it stands in for the
/// client on the virtual clock and wakes it when it would wake, or later by a
/// lateness the soak picks (a client thread that sometimes oversleeps).
///
/// At each wake it works out, from the device's own timing alone, whether the
/// lateness cost a glitch: the device fetched the first byte the client had
/// not written (its watermark) before the client woke. A publication at the
/// very instant of the fetch is in time (the glitch monitor's tie rule). A
/// glitch on a wake that was not late is the buffer not allowing the client
/// to be on time: a finding.
final class LateClient: TimedWork, @unchecked Sendable {
    /// A glitch the device's timing says must be reported: the first frame the
    /// client had not written, and when the device fetched it (nil when a state
    /// change since the last wake makes the instant ambiguous; the frame is not).
    struct ExpectedGlitch: Sendable, Hashable, CustomStringConvertible {
        var frame: UInt64
        var time: UInt64?
        /// The wake (or pause) that found it: the glitch started no later.
        var foundAt: UInt64
        var description: String {
            "underrun at frame \(frame)" + (time.map { ", \(SoakClock.seconds($0))" } ?? ", before \(SoakClock.seconds(foundAt))")
        }
    }

    let client: AudioEngineClient
    let clock: VirtualClock
    /// The DMA engine moving the client's buffer (nil until the soak found it).
    var dma: DMAStream?
    /// Picks the lateness of a wake due at `due`, given the budget (nil: the device is not moving).
    var pickLateness: (_ due: UInt64, _ budget: UInt64?) -> UInt64 = { _, _ in 0 }
    /// A wake found a glitch although it was on time (the soak reports it).
    var onTimeGlitch: (_ glitch: ExpectedGlitch) -> Void = { _ in }
    /// A timeout wake after the stream ran a whole wait without a notification.
    var missedNotification: (_ waited: UInt64) -> Void = { _ in }

    private(set) var expected: [ExpectedGlitch] = []
    private(set) var wakes: UInt64 = 0
    private(set) var lateWakes: UInt64 = 0
    private(set) var lateGlitches: UInt64 = 0
    private(set) var lastWake: UInt64
    /// The wake the client waits for: when it became due, and how late it will be.
    private var inner: UInt64?
    private var due: UInt64?
    private var lateness: UInt64 = 0
    /// Whether the soak changed the stream's state since the last wake (an expected glitch's instant is then not computed).
    private var stateChangedSinceWake = false
    /// Since when the stream has been running without a state change (nil: not running).
    private var runningSince: UInt64?
    /// The device's fetch count at the last judgement, and the end of the last glitch found (this run).
    private var judged: UInt64 = 0
    private var glitchEnd: UInt64?

    init(client: AudioEngineClient, clock: VirtualClock) {
        self.client = client
        self.clock = clock
        lastWake = clock.now
    }

    /// The stream ran from STOP: positions (and frames) count from 0 again.
    func restarted() {
        judged = 0
        glitchEnd = nil
    }

    /// The soak changed the stream's state (RUN, PAUSE, STOP).
    func stateChanged(running: Bool) {
        stateChangedSinceWake = true
        runningSince = running ? clock.now : nil
    }

    /// Whether a wake is due but held back (the client is late right now).
    var isLateNow: Bool { due.map { $0 <= clock.now } ?? false }

    // MARK: TimedWork

    func nextDeadline() -> UInt64? {
        guard let d = client.nextDeadline() else {
            inner = nil
            due = nil
            return nil
        }
        if d != inner {
            inner = d
            // Deadline.now: the event was set at this instant (the clock asks every work again after each
            // service). A wake already due and held back keeps its due time: the thread is asleep.
            let when = d == Deadline.now ? clock.now : d
            if when != due && !isLateNow {
                due = when
                lateness = pickLateness(when, budget(from: when))
            }
        }
        return due.map { $0 &+ lateness }
    }

    func service(now: UInt64) {
        guard let due else { return client.service(now: now) }
        let watermark = client.bytesTransferred
        let timeouts = client.eventTimeoutCount
        let wasLate = now > due
        // The device's fetch just before the wake against what the client had written.
        if let dma { judge(fetched: dma.dmaBytes(dma.currentTiming(), at: now &- 1), watermark: watermark, late: wasLate) }
        wakes += 1
        if wasLate { lateWakes += 1 }
        client.service(now: now)
        if client.eventTimeoutCount > timeouts, client.notificationCount > 0, let since = runningSince,
           since <= lastWake, due >= lastWake + minimumWait {
            missedNotification(due - lastWake)
        }
        lastWake = now
        stateChangedSinceWake = false
        inner = nil
        self.due = nil
        lateness = 0
    }

    /// The shortest wait after which a running stream must have notified: the client's own timeout (1.5 packets).
    private var minimumWait: UInt64 {
        let frames = UInt64(client.packetBytes / client.format.blockAlign)
        return frames * 1_000_000_000 / UInt64(client.format.sampleRate) * 3 / 2
    }

    /// How late a wake due at `due` may be without a glitch: until the device
    /// fetches the first byte past the client's watermark.
    private func budget(from due: UInt64) -> UInt64? {
        guard let dma else { return nil }
        let t = dma.currentTiming()
        guard t.running, let fetch = dma.time(whenDMAReaches: client.bytesTransferred + 1, t) else { return nil }
        return fetch > due ? fetch - due : 0
    }

    /// The stream has just paused (or is stopping): bytes fetched up to the
    /// pause past the watermark are a glitch, expected only when the client
    /// is late right now. `t` is the timing the device ran on until the pause.
    func pausing(runningTiming t: DMAStream.Timing) {
        guard let dma else { return }
        let fetched = dma.dmaBytes(dma.currentTiming(), at: clock.now)
        judge(fetched: fetched, watermark: client.bytesTransferred, late: isLateNow, timing: t)
    }

    /// The device has fetched `fetched` bytes (since STOP) by now, the client had
    /// written `watermark`: what was fetched since the last judgement past the
    /// watermark is a glitch, or the glitch found last time going on.
    private func judge(fetched: UInt64, watermark: UInt64, late: Bool, timing: DMAStream.Timing? = nil) {
        defer { judged = max(judged, fetched) }
        let from = max(watermark, judged)
        guard fetched > from else { return }
        if let end = glitchEnd, end == from {
            // The frames run on from the glitch found last time (the client wrote nothing past them): the same glitch.
            glitchEnd = fetched
            if !late, let last = expected.last { onTimeGlitch(last) }
            return
        }
        glitchEnd = fetched
        if late { lateGlitches += 1 }
        var when: UInt64?
        if let dma {
            // The instant the first glitched byte was fetched, when the timing it ran on is known.
            let t = timing ?? (stateChangedSinceWake ? nil : dma.currentTiming())
            if let t, t.running { when = dma.time(whenDMAReaches: from + 1, t) }
        }
        let g = ExpectedGlitch(frame: from / UInt64(client.format.blockAlign), time: when, foundAt: clock.now)
        expected.append(g)
        if !late { onTimeGlitch(g) }
    }
}

/// Stream time in words.
enum SoakClock {
    static func seconds(_ ns: UInt64) -> String {
        "t=\(ns / 1_000_000_000).\(String(1_000_000_000 + ns % 1_000_000_000).dropFirst()) s"
    }
}
