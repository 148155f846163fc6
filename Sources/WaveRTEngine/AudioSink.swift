import Glibc
import Synchronization

/// Where a render stream's samples go after the device FIFO: the DAC side.
/// ALSA implements it in a higher layer; here are the headless ones.
///
/// `consume` runs on the engine's real-time thread: it must not block, lock,
/// allocate or log. `prepare` and `finish` run on the control path.
public protocol AudioSink: AnyObject, Sendable {
    /// Called before the stream first runs.
    func prepare(format: StreamFormat) throws
    /// Bytes leaving the FIFO, in order. The DMA moves whole bursts, not
    /// frames: a frame may begin in one call and end in the next.
    func consume(_ bytes: UnsafeRawBufferPointer)
    /// Called when the stream is removed from the engine.
    func finish()
}

/// Where a capture stream's samples come from (the ADC side).
public protocol AudioSource: AnyObject, Sendable {
    func prepare(format: StreamFormat) throws
    /// Fills `buffer` (whole frames) with the next samples. Real-time thread.
    func produce(into buffer: UnsafeMutableRawBufferPointer)
    func finish()
}

/// Discards everything and counts it: ALSA's `null`, without ALSA.
public final class NullSink: AudioSink, @unchecked Sendable {
    private let bytes = Atomic<UInt64>(0)
    public init() {}
    public func prepare(format: StreamFormat) throws {}
    public func consume(_ buffer: UnsafeRawBufferPointer) { bytes.add(UInt64(buffer.count), ordering: .relaxed) }
    public func finish() {}
    public var bytesConsumed: UInt64 { bytes.load(ordering: .relaxed) }
}

/// Keeps the bytes in a buffer allocated up front, for tests that compare what
/// the DMA read with what the client wrote. Bytes past the capacity are counted
/// and dropped (no allocation on the real-time thread).
public final class CollectingSink: AudioSink, @unchecked Sendable {
    private let storage: UnsafeMutableRawPointer
    public let capacity: Int
    private let filled = Atomic<Int>(0)
    private let overflowed = Atomic<UInt64>(0)

    public init(capacityBytes: Int) {
        capacity = capacityBytes
        storage = .allocate(byteCount: max(1, capacityBytes), alignment: 16)
    }

    deinit { storage.deallocate() }

    public func prepare(format: StreamFormat) throws {}
    public func finish() {}

    public func consume(_ buffer: UnsafeRawBufferPointer) {
        let at = filled.load(ordering: .relaxed)
        let n = min(buffer.count, capacity - at)
        if n > 0 { memcpy(storage + at, buffer.baseAddress!, n) }
        if n < buffer.count { overflowed.add(UInt64(buffer.count - n), ordering: .relaxed) }
        filled.store(at + n, ordering: .releasing)
    }

    /// Everything collected so far.
    public var bytes: [UInt8] {
        let n = filled.load(ordering: .acquiring)
        return Array(UnsafeRawBufferPointer(start: storage, count: n))
    }
    public var count: Int { filled.load(ordering: .acquiring) }
    public var overflowBytes: UInt64 { overflowed.load(ordering: .relaxed) }
}
