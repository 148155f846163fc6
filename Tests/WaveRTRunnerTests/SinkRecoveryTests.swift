import Foundation
import Glibc
import Synchronization
import Testing
import WaveRTALSA
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTRunner
import WaveRTTestSupport

extension RealTime {
    /// A real ALSA PCM with a fault injected at the boundary: ALSA's `null` and
    /// `file` plugins never underrun (they swallow any amount at once), so the
    /// card's stall is simulated here and everything after it is the real sink
    /// recovering through real `snd_pcm_prepare`.
    final class StallingPCM: PCMDevice, @unchecked Sendable {
        let inner: ALSAPCM
        let stallAtWrite: Int
        let stallMicroseconds: UInt32
        private var writes = 0
        init(_ inner: ALSAPCM, stallAtWrite: Int, stallMicroseconds: UInt32) {
            self.inner = inner
            self.stallAtWrite = stallAtWrite
            self.stallMicroseconds = stallMicroseconds
        }
        var name: String { inner.name }
        var periodFrames: Int { inner.periodFrames }
        var bufferFrames: Int { inner.bufferFrames }
        func write(_ frames: UnsafeRawPointer, count: Int) -> Int {
            writes += 1
            if writes == stallAtWrite {
                usleep(stallMicroseconds)  // the card starves meanwhile...
                return -Int(EPIPE)         // ...and reports the underrun
            }
            return inner.write(frames, count: count)
        }
        func resume() -> Int32 { inner.resume() }
        func prepare() -> Int32 { inner.prepare() }
        func delay() -> Int? { inner.delay() }
        func drain() { inner.drain() }
    }

    /// The ALSA sink behind a whole session on the system clock, through a card that stalls.
    @Suite struct SinkRecoveryTests {
        init() { ALSATestEnvironment.setUp() }

        @Test func aForcedUnderrunIsRecoveredAndCounted() throws {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("wavert-xrun-\(UUID()).wav").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            let pcm = try ALSAPCM(name: "wavert_capture:FILE=\(path)", configuration: ALSAConfiguration(text: ALSAConfiguration.wavertText))
            try pcm.configure(format: .cd48k, latencyMicroseconds: 40_000)
            let sink = try ALSASink(device: StallingPCM(pcm, stallAtWrite: 10, stallMicroseconds: 200_000), format: .cd48k)
            let example = try #require(ExampleMiniport.named("simple"))
            let session = try MiniportSession(miniport: example.make(), setup: example.streamSetup(format: .cd48k, bufferMilliseconds: 40),
                                              timebase: MonotonicTimebase.shared, source: ToneGenerator(frequency: 440), speaker: sink)
            let started = MonotonicTimebase.shared.now
            try session.start()
            // At least 0.8 s of real time, however the sleeps are woken.
            while MonotonicTimebase.shared.now - started < 800_000_000 { usleep(10_000) }
            let report = session.finish()
            let elapsed = Double(MonotonicTimebase.shared.now - started) / 1e9
            pcm.close()
            #expect(sink.xruns == 1)
            #expect(sink.framesLost > 0)  // the backlog built up during the stall was shed
            #expect(sink.fatalError == nil)
            #expect(report.glitchCount == 0)  // the miniport path itself never glitched
            // Playback went on after the recovery: the file holds what was written.
            let file = try AudioFileSource(path: path)
            #expect(UInt64(file.frameCount) == sink.framesWritten)
            // Written plus shed accounts for the run: a ratio to its measured wall time.
            let accounted = Double(file.frameCount + Int(sink.framesLost)) / 48_000
            #expect(accounted / elapsed > 0.7 && accounted / elapsed < 1.1, "\(accounted) s of audio in \(elapsed) s")
        }
    }
}
