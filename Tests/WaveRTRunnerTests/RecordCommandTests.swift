import Foundation
import Glibc
import Testing
import WaveRTEngine
import WaveRTRunner
import WaveRTTestSupport

extension RealTime {
    /// `wavert record` as scripts run it: the built executable, its WAV and JSON report read back.
    @Suite struct RecordCommandTests {
        init() { ALSATestEnvironment.setUp() }

        static func report(_ path: String) throws -> Recorder.Report {
            try JSONDecoder().decode(Recorder.Report.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        }

        @Test func recordsTheInfileForExactlyTheDuration() throws {
            let format = try StreamFormat(sampleRate: 44_100, channels: 2, sampleFormat: .int16)
            let (infile, bytes) = try RecorderTests.writeInfile(frames: 44_100, format: format)
            let wav = ALSATestEnvironment.temporaryPath("record-cli")
            let json = ALSATestEnvironment.temporaryPath("record-cli", "json")
            defer {
                for p in [infile, wav, json] { try? FileManager.default.removeItem(atPath: p) }
            }
            let finished = try PlayCommandTests.Running(["record", "--example", "isa", "--device", ALSATestEnvironment.infile(infile),
                                                         "--duration", "0.3", "--output", wav, "--report", json]).wait(upTo: 20)
            #expect(finished.status == 0, "\(finished.stderr)")
            #expect(finished.stdout.contains("recorded 13230 frames through isa"), "\(finished.stdout)")
            let report = try Self.report(json)
            #expect(report.framesRecorded == 13_230 && report.glitches == 0 && report.example == "isa")
            #expect(report.output == wav && report.clock == .system && report.verifier.isEmpty)
            let recorded = try WAVFile(path: wav)
            #expect(recorded.frames == 13_230)
            #expect(ToneReference.firstDifference(recorded.data, Array(bytes[..<(13_230 * 4)])) == nil)
        }

        @Test func aStopSignalEndsARecordingCleanly() throws {
            let (infile, bytes) = try RecorderTests.writeInfile(frames: 48_000 * 5, format: .cd48k)
            let wav = ALSATestEnvironment.temporaryPath("record-signal")
            let json = ALSATestEnvironment.temporaryPath("record-signal", "json")
            defer {
                for p in [infile, wav, json] { try? FileManager.default.removeItem(atPath: p) }
            }
            // No duration: it records until stopped.
            let run = try PlayCommandTests.Running(["record", "--example", "simple", "--device", ALSATestEnvironment.infile(infile),
                                                    "--output", wav, "--report", json])
            PlayCommandTests.waitForCapture(wav, bytes: 48_000)
            kill(run.pid, SIGTERM)
            let finished = run.wait(upTo: 10)
            #expect(finished.status == 0, "\(finished.stderr)")
            #expect(finished.stdout.contains("stopped by SIGTERM"), "\(finished.stdout)")
            let recorded = try WAVFile(path: wav)
            #expect(recorded.frames > 12_000 && recorded.headerFrames == recorded.frames)
            #expect(ToneReference.firstDifference(recorded.data, Array(bytes[..<recorded.data.count])) == nil)
            let report = try Self.report(json)
            #expect(report.framesRecorded == UInt64(recorded.frames))
            #expect(report.notes.contains("wavert: stopped by SIGTERM"))
        }

        @Test(arguments: [
            (["record", "--duration", "1"], "Missing expected argument '--output <output>'"),
            (["record", "--example", "sysvad", "--output", "/tmp/x.wav"], "example 'sysvad' cannot record"),
            (["record", "--example", "isa", "--format", "48000:16:2", "--output", "/tmp/x.wav"], "'isa' takes 16-bit integer"),
            (["record", "--clock", "card", "--output", "/tmp/x.wav"], "--clock must be system or device"),
        ])
        func aMistakeSaysWhatAndShowsRecordsUsage(arguments: [String], message: String) throws {
            let finished = try PlayCommandTests.Running(arguments).wait(upTo: 10)
            #expect(finished.status == 64)  // EX_USAGE
            #expect(finished.stderr.contains(message), "\(finished.stderr)")
            #expect(finished.stderr.contains("Usage: wavert record"), "\(finished.stderr)")
        }
    }
}
