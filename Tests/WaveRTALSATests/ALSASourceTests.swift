import Foundation
import Glibc
import Synchronization
import Testing
import WaveRTALSA
import WaveRTEngine
import WaveRTTestSupport

/// A capture device behind the ``PCMCaptureDevice`` boundary: it hands out a
/// known byte sequence (frame n, byte k: a pure function of both) as fast as
/// asked, or fails as told.
final class ScriptedCaptureDevice: PCMCaptureDevice, @unchecked Sendable {
    let name = "scripted capture"
    let periodFrames: Int
    let bufferFrames: Int
    let frameBytes: Int
    /// Reads that fail with -EPIPE (an overrun), by index.
    var overrunAt: Set<Int> = []
    /// Nothing is delivered until this is set.
    let open = Atomic<Bool>(true)
    private(set) var reads = 0
    private let delivered = Atomic<Int>(0)
    let recoveries = Atomic<Int>(0)

    init(frameBytes: Int, periodFrames: Int = 256, bufferFrames: Int = 1024) {
        self.frameBytes = frameBytes
        self.periodFrames = periodFrames
        self.bufferFrames = bufferFrames
    }

    static func byte(_ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: (index &* 2_654_435_761) >> 7) }

    func read(_ frames: UnsafeMutableRawPointer, count: Int) -> Int {
        reads += 1
        if overrunAt.contains(reads) { return -Int(EPIPE) }
        if suspendAt.contains(reads) { return -Int(ESTRPIPE) }
        guard open.load(ordering: .acquiring) else {
            usleep(1_000)
            return -Int(EAGAIN)
        }
        let first = delivered.load(ordering: .relaxed) * frameBytes
        for i in 0..<(count * frameBytes) { frames.storeBytes(of: Self.byte(first + i), toByteOffset: i, as: UInt8.self) }
        delivered.add(count, ordering: .relaxed)
        return count
    }

    /// Suspends (-ESTRPIPE) by read index, and how many -EAGAIN a resume answers before 0.
    var suspendAt: Set<Int> = []
    var resumeAgainCount = 0
    let resumes = Atomic<Int>(0)

    func resume() -> Int32 {
        let n = resumes.add(1, ordering: .relaxed).newValue
        return n <= resumeAgainCount ? -EAGAIN : 0
    }

    func prepare() -> Int32 {
        recoveries.add(1, ordering: .relaxed)
        return 0
    }

    func delay() -> Int? { 0 }
    func drop() {}
}

/// The ALSA capture source: whole frames in order whatever the DMA's burst
/// sizes, silence (counted) where ALSA has not delivered, overruns recovered,
/// and a real `file` plugin's `infile` recorded byte for byte.
@Suite(.serialized, .realTime) struct ALSASourceTests {
    init() { ALSATestEnvironment.setUp() }

    /// Where two byte strings first differ (or the shorter ends); nil when equal.
    static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
        if let i = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset { return i }
        return a.count == b.count ? nil : min(a.count, b.count)
    }

    /// Waits (at most 10 s) until the reader has read `frames`; fails if it stopped or never got there.
    static func waitForFrames(_ source: ALSASource, _ frames: UInt64) throws {
        let deadline = MonotonicTimebase.shared.now + 10_000_000_000
        while source.framesRead < frames && source.fatalError == nil && MonotonicTimebase.shared.now < deadline { usleep(200) }
        try #require(source.fatalError == nil && source.framesRead >= frames, "read \(source.framesRead) of \(frames) frames; fatal \(String(describing: source.fatalError))")
    }

    /// Pulls `total` bytes in bursts of the given sizes, in turn.
    static func pull(_ source: ALSASource, total: Int, bursts: [Int]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: total)
        var at = 0, i = 0
        out.withUnsafeMutableBytes { buffer in
            while at < total {
                let n = min(bursts[i % bursts.count], total - at)
                source.produce(into: UnsafeMutableRawBufferPointer(rebasing: buffer[at..<at + n]))
                at += n
                i += 1
            }
        }
        return out
    }

    @Test func burstsCutAnywhereComeOutAsTheDeviceReadThem() throws {
        let format = try StreamFormat(sampleRate: 44_100, channels: 6, sampleFormat: .int24)  // 18-byte frames
        let device = ScriptedCaptureDevice(frameBytes: format.blockAlign)
        let source = ALSASource(device: device, format: format, ringMilliseconds: 50)
        try source.prepare(format: format)
        defer { source.finish() }
        let total = 200_000
        var got: [UInt8] = []
        // The reader keeps the ring topped up; pull as the DMA would, waiting for it when it is behind.
        while got.count < total {
            while source.ringFrames < 64 { usleep(200) }
            got += Self.pull(source, total: min(1_000, total - got.count), bursts: [100, 7, 64, 1, 333, 18])
        }
        #expect(Self.firstDifference(got, (0..<total).map(ScriptedCaptureDevice.byte)) == nil)
        #expect(source.silenceFrames == 0 && source.xruns == 0 && source.framesLost == 0)
        #expect(source.bytesProduced == UInt64(total))
    }

    @Test func whatALSAHasNotDeliveredIsCountedSilenceInWholeFrames() throws {
        let format = try StreamFormat(sampleRate: 48_000, channels: 2, sampleFormat: .int24)  // 6-byte frames
        let device = ScriptedCaptureDevice(frameBytes: format.blockAlign)
        device.open.store(false, ordering: .releasing)
        let source = ALSASource(device: device, format: format)
        try source.prepare(format: format)  // returns after its wait: nothing came
        defer { source.finish() }
        // 100 bytes: 16 whole frames and the head of a 17th, all silence.
        let silent = Self.pull(source, total: 100, bursts: [100])
        #expect(silent.allSatisfy { $0 == 0 })
        #expect(source.silenceFrames == 17)
        device.open.store(true, ordering: .releasing)
        while source.ringFrames < 16 { usleep(200) }
        // The rest of the 17th frame is silence too; real frames start on the next frame boundary.
        let after = Self.pull(source, total: 2 + 60, bursts: [5, 57])
        #expect(after[0..<2].allSatisfy { $0 == 0 })
        #expect(Array(after[2...]) == (0..<60).map(ScriptedCaptureDevice.byte))
        #expect(source.silenceFrames == 17)
    }

    @Test func anOverrunIsRecoveredAndCounted() throws {
        let format = StreamFormat.cd48k
        let device = ScriptedCaptureDevice(frameBytes: format.blockAlign)
        device.overrunAt = [3]
        let source = ALSASource(device: device, format: format)
        try source.prepare(format: format)
        defer { source.finish() }
        try Self.waitForFrames(source, 4 * 256)
        #expect(source.xruns == 1)
        #expect(device.recoveries.load(ordering: .relaxed) == 1)
        #expect(source.fatalError == nil)
        // The stream goes on with what the device read after recovering.
        let got = Self.pull(source, total: 4_000, bursts: [128])
        #expect(Self.firstDifference(got, (0..<4_000).map(ScriptedCaptureDevice.byte)) == nil)
    }

    /// A suspend: snd_pcm_resume answers -EAGAIN three times, then the card runs
    /// again; the reader waited between tries, counted the suspend, and the stream
    /// goes on where it was. A card that never wakes is prepared after the policy's tries.
    /// In CD format and in 96 kHz 24-bit 6-channel (18-byte frames, which no read or burst size divides).
    @Test(arguments: [(3, 0, StreamFormat.cd48k), (1_000, 1, try! StreamFormat(sampleRate: 96_000, channels: 6, sampleFormat: .int24))])
    func aSuspendIsWaitedOutWithinThePolicy(again: Int, prepares: Int, format: StreamFormat) throws {
        let device = ScriptedCaptureDevice(frameBytes: format.blockAlign)
        device.suspendAt = [3]
        device.resumeAgainCount = again
        let policy = try PCMRecoveryPolicy(resumeAttempts: 5, resumeRetryNanoseconds: 2_000_000)
        let source = ALSASource(device: device, format: format, recoveryPolicy: policy)
        let started = MonotonicTimebase.shared.now
        try source.prepare(format: format)
        defer { source.finish() }
        try Self.waitForFrames(source, 4 * 256)
        #expect(source.suspends == 1 && source.xruns == 0 && source.fatalError == nil)
        #expect(device.resumes.load(ordering: .relaxed) == min(again + 1, 5))
        #expect(device.recoveries.load(ordering: .relaxed) == prepares)
        #expect(MonotonicTimebase.shared.now - started >= UInt64(min(again, 4)) * 2_000_000, "the reader waited between resumes")
        let total = 1_000 * format.blockAlign
        let got = Self.pull(source, total: total, bursts: [96])
        #expect(Self.firstDifference(got, (0..<total).map(ScriptedCaptureDevice.byte)) == nil)
    }

    @Test func aFormatOtherThanTheOneOpenedIsRefused() throws {
        let device = ScriptedCaptureDevice(frameBytes: 4)
        let source = ALSASource(device: device, format: .cd48k)
        defer { source.finish() }
        #expect(throws: ALSASourceError.self) { try source.prepare(format: try StreamFormat(sampleRate: 44_100, channels: 2, sampleFormat: .int16)) }
        #expect(device.reads == 0)
    }

    /// Real libasound: ALSA's `file` plugin reading raw samples from its
    /// `infile`, through the source in DMA-sized bursts, byte for byte; past
    /// the end of the file, silence (not what the buffer held before).
    @Test(arguments: [
        StreamFormat.cd48k,
        try! StreamFormat(sampleRate: 44_100, channels: 6, sampleFormat: .int24),
        try! StreamFormat(sampleRate: 96_000, channels: 8, sampleFormat: .float32),
    ])
    func anInfileIsRecordedByteForByte(format: StreamFormat) throws {
        let path = ALSATestEnvironment.temporaryPath("infile", "raw")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fileFrames = format.sampleRate / 5 + 7
        let bytes = (0..<(fileFrames * format.blockAlign)).map { ScriptedCaptureDevice.byte($0) | 1 }  // never silence
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let pcm = try ALSAPCM(name: ALSATestEnvironment.infile(path), configuration: ALSAConfiguration(), direction: .capture)
        try pcm.configure(format: format, latencyMicroseconds: 20_000, periods: 4)
        let source = ALSASource(device: pcm, format: format, ringMilliseconds: 20)
        try source.prepare(format: format)
        let tail = 1_000 * format.blockAlign
        var got: [UInt8] = []
        while got.count < bytes.count + tail {
            // As the DMA would: never ahead of what the reader has delivered.
            while source.ringFrames < 32 { usleep(200) }
            got += Self.pull(source, total: min(source.ringFrames * format.blockAlign, bytes.count + tail - got.count),
                             bursts: [128, 64, 100])
        }
        source.finish()
        pcm.close()
        let firstDifference = Self.firstDifference(Array(got[..<bytes.count]), bytes)
        #expect(firstDifference == nil, "\(format): first different byte \(firstDifference ?? -1) of \(bytes.count)")
        let firstNoise = got[bytes.count...].firstIndex { $0 != 0 }
        #expect(firstNoise == nil, "\(format): past the end of the infile, byte \(firstNoise ?? -1) is not silence")
        #expect(source.silenceFrames == 0 && source.xruns == 0 && source.framesLost == 0,
                "\(format): \(source.silenceFrames) silent, \(source.xruns) xruns, \(source.framesLost) lost")
    }

    @Test func aMissingCapturePCMIsAClearError() throws {
        do {
            _ = try ALSAPCM(name: "nosuchpcm", configuration: ALSAConfiguration(), direction: .capture)
            Issue.record("opened a capture PCM that does not exist")
        } catch {
            #expect(error.description.contains("cannot open ALSA capture PCM 'nosuchpcm'"), "\(error)")
            #expect(error.description.contains("wavert_input:FILE="), "\(error)")
        }
    }
}
