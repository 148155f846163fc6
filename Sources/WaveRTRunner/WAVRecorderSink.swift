import CWaveRTShim
import Glibc
import Synchronization
import WaveRTALSA
import WaveRTClient
import WaveRTEngine

/// Where a capture client puts what it reads: a WAV file. The client's
/// thread hands the bytes over through a lock-free ``FrameRing`` (no disk,
/// lock or allocation on it); a writer thread appends them to the file.
///
/// With a frame limit it takes exactly that many frames and then reports
/// ``hasAllFrames``: `wavert record --duration S` writes exactly round(S × rate) frames.
public final class WAVRecorderSink: AudioSink, @unchecked Sendable {
    public let format: StreamFormat
    public let frameLimit: UInt64?
    private let file: AudioFileWriter
    private let ring: FrameRing
    private let chunkFrames: Int
    private let limitBytes: UInt64
    private var thread: RealTimeThread?
    private let stopping = Atomic<Bool>(false)
    private let received = Atomic<UInt64>(0)
    private let dropped = Atomic<UInt64>(0)
    private let diskError = Atomic<Bool>(false)
    private let writtenFrames = Atomic<UInt64>(0)

    /// Opens `path` for writing (errors now, not mid-run).
    /// - Parameter ringMilliseconds: how far the client may get ahead of the disk.
    public init(path: String, format: StreamFormat, frameLimit: UInt64? = nil, ringMilliseconds: Int = 1000) throws(AudioFileError) {
        self.format = format
        self.frameLimit = frameLimit
        file = try AudioFileWriter(path: path, format: format)
        chunkFrames = max(64, format.sampleRate / 100)
        ring = FrameRing(frameBytes: format.blockAlign, capacityFrames: max(4 * chunkFrames, format.sampleRate * ringMilliseconds / 1000))
        limitBytes = frameLimit.map { $0 * UInt64(format.blockAlign) } ?? .max
    }

    // MARK: AudioSink

    /// Starts the writer thread (control path).
    public func prepare(format requested: StreamFormat) throws {
        guard thread == nil else { return }
        thread = RealTimeThread(configuration: .init(fifoPriority: nil, name: "wavert-wav")) { [unowned self] _ in self.writerLoop() }
    }

    /// The client's thread: whole frames or not, up to the limit; a full ring drops (and counts) whole frames.
    public func consume(_ bytes: UnsafeRawBufferPointer) {
        let before = received.load(ordering: .relaxed)
        guard before < limitBytes else { return }
        let count = Int(min(UInt64(bytes.count), limitBytes - before))
        let lost = ring.write(UnsafeRawBufferPointer(rebasing: bytes[..<count]))
        if lost > 0 { dropped.add(UInt64(lost), ordering: .relaxed) }
        received.store(before + UInt64(count), ordering: .releasing)
    }

    /// Writes out what is queued, stops the writer and closes the file. Safe to call twice.
    public func finish() {
        if let t = thread {
            stopping.store(true, ordering: .releasing)
            ring.wake()
            t.join()
            thread = nil
        }
        drain()
        file.close()
    }

    // MARK: Figures (any thread)

    /// Frames the client handed over (up to the limit).
    public var framesReceived: UInt64 { received.load(ordering: .acquiring) / UInt64(format.blockAlign) }
    /// With a frame limit: all of it has been handed over.
    public var hasAllFrames: Bool { frameLimit.map { framesReceived >= $0 } ?? false }
    /// Frames in the file so far.
    public var framesWritten: UInt64 { writtenFrames.load(ordering: .relaxed) }
    /// Frames dropped because the disk fell behind (the ring was full).
    public var framesLost: UInt64 { dropped.load(ordering: .relaxed) }
    /// Whether the disk refused a write.
    public var failedToWrite: Bool { diskError.load(ordering: .relaxed) }
    public var ringCapacityFrames: Int { ring.capacityFrames }

    // MARK: Writer thread

    private func writerLoop() {
        while !stopping.load(ordering: .acquiring) {
            ring.wait(forFrames: chunkFrames, until: wrt_monotonic_ns() + 50_000_000) { stopping.load(ordering: .acquiring) }
            drain()
        }
    }

    /// Everything in the ring to the file.
    private func drain() {
        while true {
            let (start, frames) = ring.peek(maxFrames: ring.capacityFrames)
            guard frames > 0 else { return }
            if !file.write(start, count: frames) { diskError.store(true, ordering: .relaxed) }
            ring.consume(frames: frames)
            writtenFrames.add(UInt64(frames), ordering: .relaxed)
        }
    }
}
