import CWaveRTShim
import Glibc
import Synchronization

/// A single-producer, single-consumer ring of whole audio frames: the engine
/// thread writes what the DMA read, the ALSA writer thread takes it for
/// `snd_pcm_writei`. No locks, no allocation after init; the consumer sleeps
/// on a futex the producer bumps.
///
/// Frames are never cut, whatever the sizes involved:
/// - the capacity is a whole number of frames (not a power of two: a 6-byte
///   frame never divides one), so a frame never straddles the end of the
///   storage and every contiguous run the consumer sees is whole frames;
/// - the producer may hand over bytes cut anywhere (the DMA moves whole
///   bursts, not frames): a frame is published only once all its bytes have
///   arrived, and room for it is reserved when its first byte does;
/// - when the ring is full, whole frames are dropped (and counted), so the
///   frames after a drop are still aligned.
public final class FrameRing: @unchecked Sendable {
    /// Bytes per frame (`nBlockAlign`).
    public let frameBytes: Int
    /// Capacity in frames.
    public let capacityFrames: Int
    private let capacityBytes: Int
    private let storage: UnsafeMutableRawPointer
    private let head = Atomic<Int>(0)  // bytes consumed, ever: whole frames
    private let tail = Atomic<Int>(0)  // bytes published, ever: whole frames
    private let word: UnsafeMutablePointer<UInt32>

    // Producer only.
    private var partial = 0           // bytes received of the frame in progress
    private var droppingPartial = false  // the frame in progress found no room and is dropped

    public init(frameBytes: Int, capacityFrames: Int) {
        precondition(frameBytes > 0 && capacityFrames > 0, "FrameRing needs a positive frame size and capacity")
        self.frameBytes = frameBytes
        self.capacityFrames = capacityFrames
        capacityBytes = frameBytes * capacityFrames
        storage = .allocate(byteCount: capacityBytes, alignment: 64)
        word = .allocate(capacity: 1)
        word.initialize(to: 0)
    }

    deinit {
        storage.deallocate()
        word.deallocate()
    }

    // MARK: Producer

    /// Appends a byte stream cut anywhere; returns the frames dropped because
    /// the ring was full (each counted once, when its first byte arrived).
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard var source = bytes.baseAddress, bytes.count > 0 else { return 0 }
        var remaining = bytes.count
        var dropped = 0
        let consumed = head.load(ordering: .acquiring)
        let published = tail.load(ordering: .relaxed)
        var end = published
        // The rest of a frame begun in an earlier write (its room was reserved then).
        if partial > 0 {
            let n = min(frameBytes - partial, remaining)
            if !droppingPartial { copyIn(at: end + partial, from: source, count: n) }
            partial += n
            source += n
            remaining -= n
            if partial == frameBytes {
                if !droppingPartial { end += frameBytes }
                partial = 0
                droppingPartial = false
            }
        }
        if remaining > 0 {
            // Whole frames, as many as there is room for; the later ones are dropped.
            let whole = remaining / frameBytes
            let room = capacityFrames - (end - consumed) / frameBytes
            let fit = min(whole, room)
            copyIn(at: end, from: source, count: fit * frameBytes)
            end += fit * frameBytes
            dropped += whole - fit
            source += whole * frameBytes
            remaining -= whole * frameBytes
            // A frame that begins here and ends in a later write: reserve its room now.
            if remaining > 0 {
                partial = remaining
                droppingPartial = end - consumed >= capacityBytes
                if droppingPartial { dropped += 1 } else { copyIn(at: end, from: source, count: remaining) }
            }
        }
        if end != published {
            tail.store(end, ordering: .releasing)
            _ = wrt_atomic_fetch_add_u32(word, 1)
            _ = wrt_futex_wake(word, 1)
        }
        return dropped
    }

    /// Copies `count` bytes to linear position `at`, wrapping at the end of the storage.
    @inline(__always)
    private func copyIn(at linear: Int, from source: UnsafeRawPointer, count: Int) {
        guard count > 0 else { return }
        let offset = linear % capacityBytes
        let first = min(count, capacityBytes - offset)
        (storage + offset).copyMemory(from: source, byteCount: first)
        if first < count { storage.copyMemory(from: source + first, byteCount: count - first) }
    }

    // MARK: Consumer

    /// Whole frames waiting for the consumer.
    public var readableFrames: Int { (tail.load(ordering: .acquiring) - head.load(ordering: .relaxed)) / frameBytes }

    /// The longest contiguous run of whole readable frames, at most `maxFrames`.
    public func peek(maxFrames: Int) -> (start: UnsafeRawPointer, frames: Int) {
        let h = head.load(ordering: .relaxed)
        let offset = h % capacityBytes
        let bytes = min(maxFrames * frameBytes, tail.load(ordering: .acquiring) - h, capacityBytes - offset)
        return (UnsafeRawPointer(storage + offset), max(0, bytes / frameBytes))
    }

    /// Releases `frames` frames (played or dropped).
    public func consume(frames: Int) {
        head.store(head.load(ordering: .relaxed) + frames * frameBytes, ordering: .releasing)
    }

    /// Sleeps until at least `frames` frames are readable, `stop()` holds, or
    /// the absolute monotonic deadline passes. A producer that sets the state
    /// `stop` reads and then calls ``wake()`` never goes unnoticed: the
    /// condition is checked after the wake-up word is read.
    public func wait(forFrames frames: Int, until deadline: UInt64, unless stop: () -> Bool = { false }) {
        while readableFrames < frames {
            let token = wrt_atomic_load_u32(word)
            if readableFrames >= frames || stop() { return }
            if wrt_futex_wait_until(word, token, deadline) == ETIMEDOUT { return }
        }
    }

    /// Wakes a waiting consumer (to stop it, or to look at other state).
    public func wake() {
        _ = wrt_atomic_fetch_add_u32(word, 1)
        _ = wrt_futex_wake(word, 1)
    }
}
