import Synchronization
import WaveRTKernel
import WaveRTPort

/// Packet-mode bookkeeping (IMiniportWaveRTOutputStream) for a stream whose
/// hardware has a position register that wraps at the buffer size: the driver
/// unwraps it into a linear byte count in its DPC and counts packets from
/// that, not from interrupts, so a late or coalesced interrupt loses nothing.
/// A register value cannot tell how many whole laps passed since the last
/// one: the time since (KeQueryPerformanceCounter, while running) does, so a
/// DPC delayed by more than half a buffer, or one packet per buffer, loses no lap.
///
/// The rules are the WDK's (SetWritePacket): a packet already transferring or
/// done is STATUS_DATA_LATE_ERROR; one further ahead than the buffer holds is
/// STATUS_DATA_OVERRUN; anything after end of stream is
/// STATUS_INVALID_DEVICE_STATE; unknown flags and an end-of-stream length
/// longer than a packet are STATUS_INVALID_PARAMETER. Before RUN the client
/// pre-rolls from the current count (packet 0 after STOP).
public final class PacketTracker: @unchecked Sendable {
    public let bufferBytes: UInt64
    public let packetBytes: UInt64
    public let packets: UInt64
    /// Bytes the hardware fetches ahead of its position register (its FIFO):
    /// a packet is transferred once its last byte is fetched.
    public let fetchAheadBytes: UInt64
    /// The stream's nAvgBytesPerSec (0: laps from the register alone).
    public let bytesPerSecond: UInt64
    private let linear = Atomic<UInt64>(0)       // position-register bytes since STOP
    private let lastRegister = Atomic<UInt64>(0)
    private let endOfStream = Atomic<UInt64>(.max)  // linear byte where the data ends
    private let running = Atomic<Bool>(false)
    private let primed = Atomic<Bool>(false)     // the hardware has filled its FIFO since STOP
    private let lastTicks = Atomic<UInt64>(0)    // performance counter at the last fold while running (0: none)

    public init(bufferBytes: Int, notificationCount: Int, fetchAheadBytes: Int, bytesPerSecond: Int = 0) {
        self.bytesPerSecond = UInt64(max(0, bytesPerSecond))
        self.bufferBytes = UInt64(bufferBytes)
        packets = UInt64(max(1, notificationCount))
        packetBytes = UInt64(bufferBytes / max(1, notificationCount))
        self.fetchAheadBytes = UInt64(fetchAheadBytes)
    }

    /// STOP: back to packet 0.
    public func reset() {
        linear.store(0, ordering: .releasing)
        lastRegister.store(0, ordering: .releasing)
        endOfStream.store(.max, ordering: .releasing)
        primed.store(false, ordering: .releasing)
        lastTicks.store(0, ordering: .releasing)
    }

    /// RUN (the hardware fills its FIFO at the first one after STOP) or not.
    public func setRunning(_ value: Bool) {
        if value { primed.store(true, ordering: .releasing) }
        lastTicks.store(value ? keQueryPerformanceCounter() : 0, ordering: .releasing)
        running.store(value, ordering: .releasing)
    }

    /// The bytes moved since the last fold, given the register moved `delta` (modulo the buffer):
    /// plus the whole laps the time since says the register cannot show.
    @inline(__always)
    private func advance(_ delta: UInt64, ticks: UInt64, frequency: UInt64) -> UInt64 {
        let last = lastTicks.load(ordering: .acquiring)
        guard bytesPerSecond > 0, last != 0, ticks > last, frequency > 0 else { return delta }
        let expected = frequency.dividingFullWidth((ticks - last).multipliedFullWidth(by: bytesPerSecond)).quotient
        guard expected > delta + bufferBytes / 2 else { return delta }
        return delta + (expected - delta + bufferBytes / 2) / bufferBytes * bufferBytes
    }

    /// The DPC (or any reader): fold a fresh position-register value in; returns the linear position.
    @discardableResult
    public func update(register value: UInt64) -> UInt64 {
        var frequency: UInt64 = 0
        let ticks = keQueryPerformanceCounter(&frequency)
        let last = lastRegister.exchange(value, ordering: .acquiringAndReleasing)
        let delta = advance((value &+ bufferBytes &- last) % bufferBytes, ticks: ticks, frequency: frequency)
        if running.load(ordering: .acquiring) { lastTicks.store(ticks, ordering: .releasing) }
        return linear.add(delta, ordering: .acquiringAndReleasing).newValue
    }

    /// The linear position a register value would give, without folding it in.
    public func peek(register value: UInt64) -> UInt64 {
        var frequency: UInt64 = 0
        let ticks = keQueryPerformanceCounter(&frequency)
        let last = lastRegister.load(ordering: .acquiring)
        return linear.load(ordering: .acquiring) &+ advance((value &+ bufferBytes &- last) % bufferBytes, ticks: ticks, frequency: frequency)
    }

    public var linearPosition: UInt64 { linear.load(ordering: .acquiring) }

    /// `GetPacketCount` for a position: packets whose last byte has been fetched.
    /// It keeps counting at the nominal rate whether or not the client writes.
    /// Before the first RUN after STOP nothing has been fetched: 0 (even when
    /// the FIFO is larger than a packet).
    public func packetCount(atLinear position: UInt64) -> UInt64 {
        primed.load(ordering: .acquiring) ? (position &+ fetchAheadBytes) / packetBytes : position / packetBytes
    }

    /// `SetWritePacket` given the current packet count.
    public func setWritePacket(_ number: UInt32, flags: UInt32, eosPacketLength: UInt32, count: UInt64) -> NTStatus {
        guard flags & ~KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM == 0 else { return .invalidParameter }
        let eos = flags & KSSTREAM_HEADER_OPTIONSF_ENDOFSTREAM != 0
        if eos && UInt64(eosPacketLength) > packetBytes { return .invalidParameter }
        guard endOfStream.load(ordering: .acquiring) == .max else { return .invalidDeviceState }
        // Running, packet `count` is being transferred; stopped or paused, it has not started.
        let first = running.load(ordering: .acquiring) ? count + 1 : count
        // Packet numbers are 32 bits on the wire: compare in the count's neighbourhood.
        let n = (count & ~0xFFFF_FFFF) | UInt64(number)
        guard n >= first else { return .dataLateError }
        guard n < count + packets else { return .dataOverrun }
        if eos {
            endOfStream.store(n * packetBytes + UInt64(eosPacketLength), ordering: .releasing)
        }
        return .success
    }

    /// Where the data ends, once end of stream has been set.
    public var endOfStreamPosition: UInt64? {
        let e = endOfStream.load(ordering: .acquiring)
        return e == .max ? nil : e
    }
}

import WaveRTEngine
