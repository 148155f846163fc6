import Synchronization
import WaveRTEngine
import WaveRTPort

/// One position reading, as taken on the engine thread.
struct PositionReading: BitwiseCopyable {
    /// Timebase time just before and just after the read (equal on the virtual clock).
    var before: UInt64
    var after: UInt64
    /// Byte offset in the cyclic buffer.
    var offset: UInt64
    /// `GetPacketCount`, or `.max` when the stream has no packet counter.
    var packets: UInt64
    /// The probe's transition epoch: even values are segment `epoch / 2`; odd
    /// means a state change was in progress (the reading is left out).
    var epoch: Int
    /// GetPosition failed.
    var failed: Bool
}

/// One notification as the client received it through the port.
struct NotificationRecord: BitwiseCopyable {
    var sequence: UInt64
    var frame: UInt64
    var ideal: UInt64
    var actual: UInt64
    var epoch: Int
}

/// What the suite runs on the engine thread: an engine timer that reads the
/// position (and the packet counter) the way the KS Position Test does, with
/// the time of each reading, and a hook on the port's notifications. Both only
/// push fixed-size records into rings (no locks, no allocation); the runner
/// drains them on its own thread.
final class TimingProbe: @unchecked Sendable {
    enum Source {
        /// KSPROPERTY_RTAUDIO_POSITIONREGISTER: the mapped register word.
        case register(HardwareRegister)
        /// IMiniportWaveRTStream::GetPosition's PlayOffset.
        case getPosition(any MiniportWaveRTStream)
    }

    let timebase: any Timebase
    let source: Source
    let packetCounter: (any MiniportWaveRTOutputStream)?
    let readings = SPSCRing<PositionReading>(capacity: 1 << 16)
    let notifications = SPSCRing<NotificationRecord>(capacity: 1 << 16)
    private let epoch = Atomic<Int>(0)

    init(timebase: any Timebase, source: Source, packetCounter: (any MiniportWaveRTOutputStream)?) {
        self.timebase = timebase
        self.source = source
        self.packetCounter = packetCounter
    }

    /// Brackets a state change: readings taken meanwhile are marked ambiguous.
    func beginTransition() { epoch.add(1, ordering: .sequentiallyConsistent) }
    func endTransition() { epoch.add(1, ordering: .sequentiallyConsistent) }

    /// Engine timer: one reading. The read is bracketed by two timebase reads
    /// and retried (up to three times) to keep the narrowest bracket, so a
    /// preempted read does not pass for position jitter.
    func takeReading() {
        var best: PositionReading?
        for _ in 0..<3 {
            let e0 = epoch.load(ordering: .sequentiallyConsistent)
            let before = timebase.now
            let (offset, failed) = readPosition()
            let packets = packetCounter.map { counter in
                switch counter.getPacketCount() {
                case .success(let n): UInt64(n)
                case .failure: UInt64.max
                }
            } ?? .max
            let after = timebase.now
            let e1 = epoch.load(ordering: .sequentiallyConsistent)
            let reading = PositionReading(before: before, after: after, offset: offset, packets: packets,
                                          epoch: e0 == e1 ? e0 : e0 | 1, failed: failed)
            if best == nil || reading.after - reading.before < best!.after - best!.before { best = reading }
            if after == before { break }
        }
        readings.push(best!)
    }

    private func readPosition() -> (UInt64, Bool) {
        switch source {
        case .register(let register):
            let raw: UInt64 = register.width == 64
                ? register.register.assumingMemoryBound(to: Atomic<UInt64>.self).pointee.load(ordering: .acquiring)
                : UInt64(register.register.assumingMemoryBound(to: Atomic<UInt32>.self).pointee.load(ordering: .acquiring))
            // KSRTAUDIO_HWREGISTER: position = value × Numerator / Denominator.
            let n = max(1, register.numerator), d = max(1, register.denominator)
            return (n == d ? raw : d.dividingFullWidth(raw.multipliedFullWidth(by: n)).quotient, false)
        case .getPosition(let stream):
            switch stream.getPosition() {
            case .success(let p): return (p.playOffset, false)
            case .failure: return (0, true)
            }
        }
    }

    /// The port's notification hook.
    func record(_ note: StreamNotification) {
        notifications.push(NotificationRecord(sequence: note.sequence, frame: note.frame, ideal: note.idealTime,
                                              actual: note.actualTime, epoch: epoch.load(ordering: .sequentiallyConsistent)))
    }
}
