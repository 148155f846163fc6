import Synchronization
import WaveRTClient
import WaveRTEngine
import WaveRTPort

/// Where a position observation was read, as a client reads positions.
enum PositionSource: UInt8, Sendable {
    /// KSPROPERTY_AUDIO_POSITION: the miniport's GetPosition (PlayOffset).
    case audioPosition = 0
    /// The register KSPROPERTY_RTAUDIO_POSITIONREGISTER mapped for the client, read live.
    case register = 1
}

/// One position read from the client's side, with the timebase time around it.
struct PositionObservation: BitwiseCopyable {
    enum Kind: UInt8 {
        /// The probe's periodic reading (the KS Position Test's).
        case reading
        /// Read by the suite just after it left RUN (the position the device froze at).
        case freeze
        /// Read when the client woke on its notification event.
        case notification
    }

    /// When the client woke (notifications); otherwise `before`.
    var arrival: UInt64
    /// Timebase time just before and just after the read (equal on the virtual clock).
    var before: UInt64
    var after: UInt64
    /// Byte offset the read returned (the cyclic buffer's, if the miniport is right).
    var offset: UInt64
    /// KSPROPERTY_RTAUDIO_PACKETCOUNT read in the same bracket, or `.max`.
    var packets: UInt64
    /// The probe's transition epoch: even values are timeline segment `epoch / 2`;
    /// odd means a state change was under way.
    var epoch: Int
    var source: PositionSource
    var kind: Kind
    /// The KS property request failed.
    var failed: Bool

    /// The instant the read stands for: the middle of its bracket.
    var time: UInt64 { before + (after - before) / 2 }
}

/// The suite's instrument on the client's side of the stream. It reads the
/// position the way the KS Position Test does (KSPROPERTY_AUDIO_POSITION and,
/// when the stream has one, the position register the client mapped), every
/// sample period, each read bracketed by two timebase reads; and, as the
/// client's observer, it reads the position again at each wake the
/// notification event caused. It never looks inside the port, the miniport or
/// the hardware.
///
/// On a virtual clock the probe is timed work attached after the client (so at
/// one instant the machine runs, then the client, then the probe: the same
/// order every run); on the system clock it has a real-time thread of its own,
/// below the client's priority. Either way it only pushes fixed-size records
/// into rings (no locks, no allocation), which the suite drains on its own thread.
final class TimingProbe: TimedWork, AudioEngineClientObserver, @unchecked Sendable {
    let pin: KSPin
    let register: MappedRegister?
    let readsPackets: Bool
    let timebase: any Timebase
    let period: UInt64
    /// Periodic readings (producer: the clock's thread or the probe's thread).
    let readings = SPSCRing<PositionObservation>(capacity: 1 << 13)
    /// Reads at notification wakes (producer: the client's thread).
    let notifications = SPSCRing<PositionObservation>(capacity: 1 << 13)
    private let epoch = Atomic<Int>(0)
    private let active = Atomic<Bool>(false)
    private var nextReading: UInt64 = .max
    private var thread: RealTimeThread?

    init(pin: KSPin, register: MappedRegister?, readsPackets: Bool, timebase: any Timebase, period: UInt64) {
        self.pin = pin
        self.register = register
        self.readsPackets = readsPackets
        self.timebase = timebase
        self.period = period
    }

    /// The source the client itself reads (the register when there is one).
    var primarySource: PositionSource { register == nil ? .audioPosition : .register }

    // MARK: Control (the suite's thread)

    /// Starts reading every period from `start + period`.
    func start(at start: UInt64) {
        nextReading = start + period
        active.store(true, ordering: .releasing)
        switch timebase.hostClock {
        case .virtual(let clock):
            clock.attach(self)
        case .monotonic:
            thread = RealTimeThread(configuration: .init(fifoPriority: 60, name: "wavert-probe")) { [unowned self] t in
                self.run(on: t)
            }
        }
    }

    /// On a virtual clock: moves the probe after everything attached since (the client, restarted).
    func reattach() {
        guard case .virtual(let clock) = timebase.hostClock else { return }
        clock.detach(self)
        clock.attach(self)
    }

    func stop() {
        active.store(false, ordering: .releasing)
        if let thread {
            thread.requestStop()
            thread.join()
            self.thread = nil
        }
        if case .virtual(let clock) = timebase.hostClock { clock.detach(self) }
    }

    /// Brackets a state change: observations taken meanwhile carry an odd epoch.
    func beginTransition() { epoch.add(1, ordering: .sequentiallyConsistent) }
    func endTransition() { epoch.add(1, ordering: .sequentiallyConsistent) }
    var currentEpoch: Int { epoch.load(ordering: .sequentiallyConsistent) }

    // MARK: TimedWork (the virtual clock)

    func nextDeadline() -> UInt64? { active.load(ordering: .acquiring) ? nextReading : nil }

    func service(now: UInt64) {
        guard active.load(ordering: .acquiring), now >= nextReading else { return }
        takeReadings()
        while nextReading <= now { nextReading += period }
    }

    // MARK: The system clock's thread

    private func run(on thread: RealTimeThread) {
        while !thread.shouldStop {
            ScenarioDriver.sleep(until: timebase.hostTime(for: nextReading))
            if thread.shouldStop { break }
            takeReadings()
            let now = timebase.now
            nextReading += period
            if nextReading <= now { nextReading = now + period }  // preempted for a whole period: skip, do not burst
        }
    }

    // MARK: Reading

    /// One reading of each source. On the system clock each read is retried
    /// (up to three times) to keep the narrowest bracket, so a read the thread
    /// was preempted in does not pass for position jitter.
    private func takeReadings() {
        let audio = read(.audioPosition, kind: .reading, arrival: nil, withPackets: readsPackets && register == nil)
        readings.push(audio)
        if register != nil {
            readings.push(read(.register, kind: .reading, arrival: nil, withPackets: readsPackets))
        }
    }

    /// A bracketed read of `source`, the narrowest of up to three.
    func read(_ source: PositionSource, kind: PositionObservation.Kind, arrival: UInt64?, withPackets: Bool) -> PositionObservation {
        var best: PositionObservation?
        for _ in 0..<3 {
            let e0 = epoch.load(ordering: .sequentiallyConsistent)
            let before = timebase.now
            var offset: UInt64 = 0
            var failed = false
            switch source {
            case .audioPosition:
                switch pin.position() {
                case .success(let p): offset = p.playOffset
                case .failure: failed = true
                }
            case .register:
                offset = register?.read() ?? 0
            }
            var packets = UInt64.max
            if withPackets, case .success(let n) = pin.packetCount() { packets = UInt64(n) }
            let after = timebase.now
            let e1 = epoch.load(ordering: .sequentiallyConsistent)
            let o = PositionObservation(arrival: arrival ?? before, before: before, after: after, offset: offset, packets: packets,
                                        epoch: e0 == e1 ? e0 : e0 | 1, source: source, kind: kind, failed: failed)
            if best == nil || o.after - o.before < best!.after - best!.before { best = o }
            if after == before { break }
        }
        return best!
    }

    // MARK: AudioEngineClientObserver (the client's thread)

    /// A wake on the notification event: where the stream is as the client sees it.
    func clientWoke(_ client: AudioEngineClient, at time: UInt64, signalled: Bool) {
        guard signalled else { return }
        notifications.push(read(primarySource, kind: .notification, arrival: time, withPackets: false))
    }
}
