import Foundation
import Testing
import WaveRTClient
import WaveRTEngine

/// Files through libsndfile: every sample layout read back exactly, channel
/// counts converted, bad files refused with the path and the reason.
@Suite struct AudioFileTests {
    func path() -> String { FileManager.default.temporaryDirectory.appendingPathComponent("wavert-\(UUID()).wav").path }

    /// A different, exactly representable value per frame and channel.
    func value(_ f: Int, _ c: Int) -> Double { Double((f * 37 + c * 101) % 2000 - 1000) / 1024 }

    @Test(arguments: StreamFormat.SampleFormat.allCases)
    func eachSampleFormatReadsBackExactly(_ sampleFormat: StreamFormat.SampleFormat) throws {
        let p = path()
        defer { try? FileManager.default.removeItem(atPath: p) }
        let format = try StreamFormat(sampleRate: 44_100, channels: 3, sampleFormat: sampleFormat)
        try AudioFileSource.writeWAV(path: p, format: format, frames: 500) { f, c in value(f, c) }
        let file = try AudioFileSource(path: p)
        #expect(file.fileSampleFormat == sampleFormat && file.channels == 3 && file.sampleRate == 44_100 && file.frameCount == 500)
        var out = [UInt8](repeating: 0, count: 600 * format.blockAlign)
        let got = out.withUnsafeMutableBytes { file.read(frames: 600, into: $0.baseAddress!, format: format) }
        #expect(got == 500)  // the file ends
        var expected = [UInt8](repeating: 0, count: 500 * format.blockAlign)
        expected.withUnsafeMutableBytes { buf in
            for f in 0..<500 {
                for c in 0..<3 {
                    SampleCoding.store(value(f, c), at: buf.baseAddress! + f * format.blockAlign + c * sampleFormat.bytes, as: sampleFormat)
                }
            }
        }
        #expect(Array(out.prefix(expected.count)) == expected)
    }

    @Test func channelCountsAreConverted() throws {
        let mono = path(), six = path()
        defer { for p in [mono, six] { try? FileManager.default.removeItem(atPath: p) } }
        try AudioFileSource.writeWAV(path: mono, format: StreamFormat(sampleRate: 48_000, channels: 1, sampleFormat: .int16), frames: 10) { f, _ in value(f, 0) }
        try AudioFileSource.writeWAV(path: six, format: StreamFormat(sampleRate: 48_000, channels: 6, sampleFormat: .int16), frames: 10) { f, c in value(f, c) }
        func read(_ p: String, channels: Int) throws -> [Int16] {
            let format = try StreamFormat(sampleRate: 48_000, channels: channels, sampleFormat: .int16)
            var out = [Int16](repeating: 0, count: 10 * channels)
            _ = out.withUnsafeMutableBytes { try! AudioFileSource(path: p).read(frames: 10, into: $0.baseAddress!, format: format) }
            return out
        }
        func s16(_ v: Double) -> Int16 { Int16((v * 32767).rounded()) }
        // Mono feeds every channel.
        let stereoFromMono = try read(mono, channels: 2)
        #expect((0..<10).allSatisfy { stereoFromMono[2 * $0] == stereoFromMono[2 * $0 + 1] && stereoFromMono[2 * $0] == s16(value($0, 0)) })
        // Six channels into stereo: the first two.
        let stereoFromSix = try read(six, channels: 2)
        #expect((0..<10).allSatisfy { stereoFromSix[2 * $0] == s16(value($0, 0)) && stereoFromSix[2 * $0 + 1] == s16(value($0, 1)) })
        // Six channels into mono: their average.
        let monoFromSix = try read(six, channels: 1)
        for f in 0..<10 {
            let mean = (0..<6).map { Double(s16(value(f, $0))) / 32768 }.reduce(0, +) / 6
            #expect(abs(Double(monoFromSix[f]) - mean * 32767) <= 1)
        }
        // Eight channels from six: those beyond the file's are silent.
        let eightFromSix = try read(six, channels: 8)
        #expect((0..<10).allSatisfy { eightFromSix[8 * $0 + 6] == 0 && eightFromSix[8 * $0 + 7] == 0 })
    }

    @Test func badFilesAreRefusedWithThePathAndTheReason() throws {
        #expect(throws: AudioFileError.notFound(path: "/nonexistent.wav")) { try AudioFileSource(path: "/nonexistent.wav") }
        let p = path()
        defer { try? FileManager.default.removeItem(atPath: p) }
        try Data("RIFF\u{24}\0\0\0WAVEfmt garbage that is not a wave file".utf8).write(to: URL(fileURLWithPath: p))
        do {
            _ = try AudioFileSource(path: p)
            Issue.record("read a corrupt file")
        } catch {
            guard case .unreadable(let path, let reason) = error else { Issue.record("\(error)"); return }
            #expect(path == p && !reason.isEmpty)
        }
        // A truncated file: a valid header promising more frames than follow.
        let t = path()
        defer { try? FileManager.default.removeItem(atPath: t) }
        try AudioFileSource.writeWAV(path: t, format: .cd48k, frames: 1000) { f, c in value(f, c) }
        let whole = try Data(contentsOf: URL(fileURLWithPath: t))
        try whole.prefix(whole.count - 2_000).write(to: URL(fileURLWithPath: t))
        // Either libsndfile trims to what is there, or the file is refused naming it.
        do {
            #expect(try AudioFileSource(path: t).frameCount < 1000)
        } catch {
            guard case .unreadable(let path, _) = error else { Issue.record("\(error)"); return }
            #expect(path == t)
        }
    }
}
