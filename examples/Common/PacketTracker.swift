import Synchronization
import WaveRTKernel
import WaveRTPort

/// Packet-mode bookkeeping (IMiniportWaveRTOutputStream) for a stream whose
/// hardware has a position register that wraps at the buffer size: the driver
/// unwraps it into a linear byte count in its DPC (which runs at least once
/// per packet, so no lap is missed) and counts packets from that, not from
/// interrupts, so a late or coalesced interrupt loses nothing.
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
    private let linear = Atomic<UInt64>(0)       // position-register bytes since STOP
    private let lastRegister = Atomic<UInt64>(0)
    private let endOfStream = Atomic<UInt64>(.max)  // linear byte where the data ends
    private let running = Atomic<Bool>(false)

    public init(bufferBytes: Int, notificationCount: Int, fetchAheadBytes: Int) {
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
    }

    public func setRunning(_ value: Bool) { running.store(value, ordering: .releasing) }

    /// The DPC (or any reader): fold a fresh position-register value in; returns the linear position.
    @discardableResult
    public func update(register value: UInt64) -> UInt64 {
        let last = lastRegister.exchange(value, ordering: .acquiringAndReleasing)
        let delta = (value &+ bufferBytes &- last) % bufferBytes
        return linear.add(delta, ordering: .acquiringAndReleasing).newValue
    }

    /// The linear position a register value would give, without folding it in.
    public func peek(register value: UInt64) -> UInt64 {
        let last = lastRegister.load(ordering: .acquiring)
        return linear.load(ordering: .acquiring) &+ (value &+ bufferBytes &- last) % bufferBytes
    }

    public var linearPosition: UInt64 { linear.load(ordering: .acquiring) }

    /// `GetPacketCount` for a position: packets whose last byte has been fetched.
    /// It keeps counting at the nominal rate whether or not the client writes.
    public func packetCount(atLinear position: UInt64) -> UInt64 {
        (position &+ fetchAheadBytes) / packetBytes
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
