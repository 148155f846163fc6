import Synchronization
import WaveRTEngine

/// The Windows audio engine's side of a render stream: it fills the cyclic
/// buffer through the mapped virtual address from a ``SampleSource``.
///
/// Modes:
/// - ``Mode/eventDriven``: at each notification, write the next packet (the
///   buffer / NotificationCount bytes the DMA has just finished with);
/// - ``Mode/timerDriven(period:marginBytes:)``: every `period` ns, read the
///   position and stay `marginBytes` ahead of the DMA's WriteOffset;
/// - ``Mode/packet``: event-driven, and each packet is announced with
///   `SetWritePacket` (end of stream too) through IMiniportWaveRTOutputStream.
///
/// The client works on the engine thread (notification handlers and engine
/// timers), which is what makes it deterministic on the virtual clock; it
/// writes with plain memory stores and allocates nothing there. It reports
/// its own lateness: a write that starts behind the DMA is a late write.
public final class AudioEngineClient: @unchecked Sendable {
    public enum Mode: Sendable, Hashable {
        case eventDriven
        case timerDriven(period: UInt64, marginBytes: Int)
        case packet
    }

    public let stream: PortStream
    public let source: any SampleSource
    public let mode: Mode
    public let format: StreamFormat
    private let packetBytes: Int
    private var written: UInt64 = 0           // linear bytes written since STOP
    private var nextPacket: UInt64 = 0
    private var timer: EngineTimer?
    // Resolved once in start(): the engine thread then takes no lock and makes no cast.
    private var hardware: EngineStream?
    private var output: (any MiniportWaveRTOutputStream)?
    private var lastOffset: UInt64 = 0
    private var dmaLinear: UInt64 = 0          // the DMA position, unwrapped (timer mode)
    private let late = Atomic<UInt64>(0)
    private let sourceEnd = Atomic<UInt64>(.max)  // linear byte where the source ran out
    private let packetStatus = Atomic<UInt32>(0)  // last failing SetWritePacket status

    public init(stream: PortStream, source: any SampleSource, mode: Mode) {
        self.stream = stream
        self.source = source
        self.mode = mode
        self.format = stream.request.format
        packetBytes = stream.bufferBytes / max(1, stream.request.notificationCount)
    }

    /// Writes that started behind the DMA (the client was late), so far.
    public var lateWrites: UInt64 { late.load(ordering: .relaxed) }
    /// Linear bytes written since the stream last left STOP.
    public var bytesWritten: UInt64 { written }
    /// Where the source ended (linear bytes), once it has.
    public var endOfData: UInt64? {
        let end = sourceEnd.load(ordering: .acquiring)
        return end == .max ? nil : end
    }
    /// The last error status SetWritePacket returned (packet mode), if any.
    public var lastPacketError: NTStatus? {
        let raw = packetStatus.load(ordering: .relaxed)
        return raw == 0 ? nil : NTStatus(rawValue: raw)
    }

    /// Fills the buffer before RUN and hooks the client to the stream's notifications or a timer.
    public func start() {
        hardware = stream.hardware
        output = stream.miniportStream as? any MiniportWaveRTOutputStream
        written = 0
        nextPacket = 0
        lastOffset = 0
        dmaLinear = 0
        switch mode {
        case .eventDriven:
            fill(to: UInt64(stream.bufferBytes))
            stream.onNotification = { [unowned self] _ in self.fill(to: self.written + UInt64(self.packetBytes)) }
        case .packet:
            for _ in 0..<max(1, stream.request.notificationCount) { writePacket() }
            stream.onNotification = { [unowned self] _ in self.writePacket() }
        case .timerDriven(let period, let margin):
            fill(to: UInt64(min(margin, stream.bufferBytes)))
            timer = stream.port.device.engine.schedule(every: period) { [unowned self] _ in self.poll(margin: margin) }
        }
    }

    /// Unhooks the client.
    public func stop() {
        stream.onNotification = nil
        if let timer { stream.port.device.engine.cancel(timer) }
        timer = nil
    }

    /// Writes the source into the buffer from `written` up to linear byte `target`
    /// (silence once the source has ended) and reports the progress.
    private func fill(to target: UInt64) {
        guard target > written else { return }
        if let hardware, hardware.dmaBytesTransferred > written, hardware.state == .run {
            late.add(1, ordering: .relaxed)
        }
        let size = UInt64(stream.bufferBytes)
        while written < target {
            let offset = Int(written % size)
            let bytes = Int(min(target - written, size - UInt64(offset)))
            let frames = bytes / format.blockAlign
            let got = source.read(frames: frames, into: stream.buffer + offset, format: format)
            if got < frames {
                if sourceEnd.load(ordering: .relaxed) == .max {
                    sourceEnd.store(written + UInt64(got * format.blockAlign), ordering: .releasing)
                }
                (stream.buffer + offset + got * format.blockAlign)
                    .initializeMemory(as: UInt8.self, repeating: 0, count: (frames - got) * format.blockAlign)
            }
            written += UInt64(bytes)
        }
        hardware?.clientDidWrite(upTo: written)
    }

    /// Packet mode: write packet `nextPacket` and announce it (with EOS when the source ends in it).
    private func writePacket() {
        guard let output else { return }
        guard sourceEnd.load(ordering: .relaxed) == .max else { return }  // EOS already sent
        let start = written
        fill(to: written + UInt64(packetBytes))
        let end = sourceEnd.load(ordering: .acquiring)
        let eos = end != .max
        let status = output.setWritePacket(packetNumber: UInt32(truncatingIfNeeded: nextPacket),
                                           flags: eos ? EngineStream.endOfStreamFlag : 0,
                                           eosPacketLength: eos ? UInt32(end - start) : 0)
        if !status.isSuccess {
            packetStatus.store(status.rawValue, ordering: .relaxed)
            if status == .dataLateError { late.add(1, ordering: .relaxed) }
        }
        nextPacket += 1
    }

    /// Timer mode: read the DMA's position and keep `margin` bytes ahead of it.
    private func poll(margin: Int) {
        let size = UInt64(stream.bufferBytes)
        if let hardware {
            // The emulator knows the DMA's linear position, so a client that polls
            // slower than the buffer still sees how many laps it missed.
            dmaLinear = hardware.dmaBytesTransferred
        } else {
            // Only GetPosition's WriteOffset: unwrap it (blind to whole laps).
            guard let position = stream.currentPosition() else { return }
            dmaLinear += (position.writeOffset + size - lastOffset) % size
            lastOffset = position.writeOffset
        }
        if written < dmaLinear {
            // The DMA passed us: what it read was stale. Count it and catch up.
            late.add(1, ordering: .relaxed)
            written = dmaLinear
        }
        fill(to: min(dmaLinear + UInt64(margin), dmaLinear + size))
    }
}
