import CWaveRTShim
import Synchronization

/// What a trace record says happened. The layers that emit them own the
/// meaning of the two arguments (documented per case); ``ChromeTrace`` owns
/// how each is drawn (its track, its name).
public enum TraceEventKind: UInt8, Sendable, CaseIterable, BitwiseCopyable {
    // The device (WaveRTHardware).
    /// A DMA engine crossed an interrupt point of its program (an HD Audio BDL
    /// entry with IOC, a DSP block end): the cause that asserts the device's
    /// interrupt line. At the exact crossing time. a: the point's index, b: the DMA byte (linear).
    case interruptPoint = 1
    /// A render engine fetched bytes from memory into its FIFO. a: linear DMA byte, b: bytes.
    case dmaFetch
    /// A capture engine wrote bytes from its FIFO to memory. a: linear DMA byte, b: bytes.
    case dmaWrite

    // The kernel (WaveRTKernel).
    /// The processor took an asserted interrupt line and calls its ISRs (at DIRQL).
    case isrBegin
    /// a: 1 when an ISR claimed the interrupt (returned STATUS_SUCCESS), 0 when none did.
    case isrEnd
    /// KeInsertQueueDpc. a: 1 when it queued the DPC, 0 when it was already queued.
    case dpcQueued
    case dpcBegin
    case dpcEnd
    /// KeSetEvent. a: the event's previous state.
    case eventSet
    /// KeSetTimer(Ex) / ExSetTimer. a: due time (timebase ns), b: period (ns, 0: one-shot).
    case timerSet
    /// KeCancelTimer / ExCancelTimer / ExDeleteTimer cancelled a set timer. a: 1.
    case timerCancel
    /// A timer expired on a system timer tick. a: its due time, b: the tick it expired on.
    case timerExpired

    // The port (WaveRTPort).
    /// KSPROPERTY_AUDIO_POSITION answered. a: PlayOffset, b: WriteOffset.
    case positionProperty
    /// The client read its mapped position register (POSITIONREGISTER). a: the value.
    case positionRegister
    /// The client read its mapped clock register (CLOCKREGISTER). a: the value.
    case clockRegister
    /// The port calls IMiniportWaveRTStream::SetState. a: the state it leaves, b: the state it asks for (KSSTATE).
    case setStateBegin
    /// SetState returned. a: the state asked for, b: its NTSTATUS (NT_SUCCESS: the stream is now in state a).
    case setStateEnd

    // The client (WaveRTClient).
    /// The audio engine's client woke. a: 1 on its notification event, 0 on a timeout or its period.
    case clientWakeBegin
    case clientWakeEnd
    /// The client wrote the buffer. a, b: its watermark before and after (bytes since the stream started).
    case clientWrite
    /// The client read the buffer (capture). a, b: its watermark before and after.
    case clientRead
    /// A glitch the monitor found. a: its first frame (since the stream started), b: frames. Time: its first frame's transfer.
    case glitchUnderrun
    case glitchOverwrite
    case glitchOverrun
    case glitchEarlyRead
}

/// One trace record: fixed size, plain data.
public struct TraceRecord: Sendable, Hashable, BitwiseCopyable {
    /// The order records were claimed in (ties at one instant keep it).
    public var sequence: UInt64
    /// Nanoseconds on the machine's timebase.
    public var time: UInt64
    public var kind: TraceEventKind
    /// The stream (the port's number; 0: the driver, or the machine, as a whole).
    public var stream: UInt32
    public var a: UInt64
    public var b: UInt64

    public init(sequence: UInt64, time: UInt64, kind: TraceEventKind, stream: UInt32, a: UInt64, b: UInt64) {
        self.sequence = sequence
        self.time = time
        self.kind = kind
        self.stream = stream
        self.a = a
        self.b = b
    }
}

/// Records what the emulated machine does, for a Chrome/Perfetto trace
/// (``ChromeTrace``): interrupts, ISRs, DPCs, events, timers, DMA, position
/// reads, state changes, the client's wakes and writes, glitches.
///
/// **The real-time path** (``record(_:stream:at:_:_:)``) allocates nothing
/// and takes no lock: a record is five words in a ring preallocated at init.
/// Producers on any thread claim an index with one atomic increment and
/// publish their slot with a per-slot stamp (a sequence lock per slot: odd
/// while being written, words copied with relaxed atomics, so the protocol has
/// no data race in the Swift memory model). Nothing is formatted or written
/// until the run is over: ``records()`` and ``ChromeTrace`` are for the
/// control path. A component without a recorder pays a load and a branch.
///
/// **Bounded.** The ring holds ``capacity`` records. When it is full,
/// ``Overflow/dropOldest`` overwrites the oldest (the trace keeps the last
/// `capacity` records: a flight recorder), ``Overflow/dropNewest`` keeps the
/// first and drops the rest. Either way ``droppedCount`` says how many were
/// lost, and the trace's metadata states it. (A producer that finds its slot
/// being written by another one a whole lap ahead drops its own record and
/// counts it, rather than wait.)
public final class TraceRecorder: @unchecked Sendable {
    /// What a full ring gives up.
    public enum Overflow: String, Sendable, CaseIterable, Codable {
        /// Overwrite the oldest records: the trace holds the last ``capacity``.
        case dropOldest = "drop-oldest"
        /// Keep the first ``capacity`` records and drop the rest.
        case dropNewest = "drop-newest"
    }

    /// Records the ring holds (a power of two).
    public let capacity: Int
    public let overflow: Overflow
    /// The timebase reading that is time 0 in the trace.
    public let origin: UInt64
    private let mask: UInt64
    private let stamps: UnsafeMutablePointer<Atomic<UInt64>>
    private let words: UnsafeMutablePointer<Atomic<UInt64>>
    private let claimed = Atomic<UInt64>(0)
    private let collisions = Atomic<UInt64>(0)
    private let names = Mutex<[UInt32: String]>([:])

    /// The default ring: 2^18 records (10 MiB), about a minute and a half of a
    /// 10 ms stream with two notifications per buffer.
    public static let defaultCapacity = 1 << 18
    static let wordsPerRecord = 4

    /// - Parameters:
    ///   - capacity: records the ring holds, rounded up to a power of two (at least 2).
    ///   - origin: the timebase reading the trace counts from (its time 0).
    public init(capacity: Int = TraceRecorder.defaultCapacity, overflow: Overflow = .dropOldest, origin: UInt64 = 0) {
        var c = 2
        while c < capacity && c < 1 << 30 { c <<= 1 }
        self.capacity = c
        self.overflow = overflow
        self.origin = origin
        mask = UInt64(c - 1)
        stamps = .allocate(capacity: c)
        for i in 0..<c { (stamps + i).initialize(to: Atomic(0)) }
        words = .allocate(capacity: c * Self.wordsPerRecord)
        for i in 0..<(c * Self.wordsPerRecord) { (words + i).initialize(to: Atomic(0)) }
    }

    deinit {
        stamps.deinitialize(count: capacity)
        stamps.deallocate()
        words.deinitialize(count: capacity * Self.wordsPerRecord)
        words.deallocate()
    }

    /// Bytes the ring holds, preallocated at init.
    public var memoryBytes: Int { capacity * (Self.wordsPerRecord + 1) * 8 }

    /// The stream (the port's number) whose DDI call the calling thread is
    /// making, as the kernel keeps it per thread (0: none): how a device
    /// learns which stream started it.
    @inline(__always)
    public static var streamOfCallingThread: UInt32 { wrt_stream_get() }

    // MARK: The real-time path

    /// Records `kind` for `stream` at timebase time `time`. Any thread;
    /// allocation-free, lock-free, never waits.
    @inline(__always)
    public func record(_ kind: TraceEventKind, stream: UInt32, at time: UInt64, _ a: UInt64 = 0, _ b: UInt64 = 0) {
        let index = claimed.wrappingAdd(1, ordering: .relaxed).oldValue
        if overflow == .dropNewest && index > mask { return }  // counted: claimed beyond capacity
        let slot = Int(index & mask)
        let mine = (index &+ 1) << 1  // even: complete; mine | 1: being written
        var seen = stamps[slot].load(ordering: .relaxed)
        while true {
            // Another producer is writing this slot, or a newer record is already in it: ours is dropped.
            if seen & 1 != 0 || seen >= mine {
                collisions.add(1, ordering: .relaxed)
                return
            }
            let (done, now) = stamps[slot].compareExchange(expected: seen, desired: mine | 1, ordering: .acquiring)
            if done { break }
            seen = now
        }
        let base = words + slot * Self.wordsPerRecord
        base[0].store(time, ordering: .relaxed)
        base[1].store(UInt64(kind.rawValue) | UInt64(stream) << 8, ordering: .relaxed)
        base[2].store(a, ordering: .relaxed)
        base[3].store(b, ordering: .relaxed)
        stamps[slot].store(mine, ordering: .releasing)
    }

    // MARK: The control path

    /// Names stream `id` for the trace's tracks ("pin 0 (render)").
    public func name(stream id: UInt32, _ name: String) { names.withLock { $0[id] = name } }

    /// The streams named so far.
    public var streamNames: [UInt32: String] { names.withLock { $0 } }

    /// Records claimed so far, kept or not.
    public var recordedCount: UInt64 { claimed.load(ordering: .relaxed) }

    /// Records lost so far: overwritten or refused because the ring was full, or
    /// given up by a producer that met another in its slot. Exact once the producers have stopped.
    public var droppedCount: UInt64 {
        let total = claimed.load(ordering: .relaxed)
        var kept: UInt64 = 0
        for slot in 0..<capacity {
            let s = stamps[slot].load(ordering: .acquiring)
            if s != 0 && s & 1 == 0 { kept += 1 }
        }
        return total > kept ? total - kept : 0
    }

    /// Records producers gave up because another producer, a whole lap ahead, was writing their slot.
    public var collisionCount: UInt64 { collisions.load(ordering: .relaxed) }

    /// The records the ring holds, in the order they were claimed. Read once
    /// the producers have stopped (a record being written meanwhile is left out).
    public func records() -> [TraceRecord] {
        var out: [TraceRecord] = []
        out.reserveCapacity(min(capacity, Int(min(UInt64(Int.max), recordedCount))))
        for slot in 0..<capacity {
            let s1 = stamps[slot].load(ordering: .acquiring)
            guard s1 != 0, s1 & 1 == 0 else { continue }
            let base = words + slot * Self.wordsPerRecord
            let time = base[0].load(ordering: .relaxed)
            let meta = base[1].load(ordering: .relaxed)
            let a = base[2].load(ordering: .relaxed)
            let b = base[3].load(ordering: .relaxed)
            atomicMemoryFence(ordering: .acquiring)
            guard stamps[slot].load(ordering: .relaxed) == s1,
                  let kind = TraceEventKind(rawValue: UInt8(truncatingIfNeeded: meta)) else { continue }
            out.append(TraceRecord(sequence: (s1 >> 1) &- 1, time: time, kind: kind, stream: UInt32(truncatingIfNeeded: meta >> 8), a: a, b: b))
        }
        out.sort { $0.sequence < $1.sequence }
        return out
    }
}
