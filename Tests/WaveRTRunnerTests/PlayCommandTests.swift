import Foundation
import Glibc
import Testing
import WaveRTEngine
import WaveRTRunner
import WaveRTTestSupport

extension RealTime {
    /// `wavert play` as scripts, CI runners and systemd run it: the built
    /// executable, spawned, signalled, its WAV and JSON report read back.
    @Suite struct PlayCommandTests {
        init() { ALSATestEnvironment.setUp() }

        /// The `wavert` built next to this test binary.
        static let wavert = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("wavert").path

        struct Finished {
            var status: Int32
            var stdout: String
            var stderr: String
        }

        /// A running `wavert`, its output going to files (no pipe to fill up).
        final class Running {
            let process = Process()
            let out = ALSATestEnvironment.temporaryPath("stdout", "txt")
            let err = ALSATestEnvironment.temporaryPath("stderr", "txt")

            init(_ arguments: [String], environment: [String: String]? = nil) throws {
                _ = FileManager.default.createFile(atPath: out, contents: nil)
                _ = FileManager.default.createFile(atPath: err, contents: nil)
                process.executableURL = URL(fileURLWithPath: PlayCommandTests.wavert)
                process.arguments = arguments
                if let environment { process.environment = environment }
                process.standardOutput = FileHandle(forWritingAtPath: out)
                process.standardError = FileHandle(forWritingAtPath: err)
                try process.run()
            }

            var pid: pid_t { process.processIdentifier }

            /// Waits up to `seconds`; kills it (and says so) if it is still running.
            func wait(upTo seconds: Double) -> Finished {
                let deadline = Date().addingTimeInterval(seconds)
                while process.isRunning && Date() < deadline { usleep(10_000) }
                if process.isRunning {
                    Issue.record("wavert still running after \(seconds) s; killed")
                    kill(pid, SIGKILL)
                    process.waitUntilExit()
                }
                let finished = Finished(status: process.terminationStatus,
                                        stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                                        stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
                try? FileManager.default.removeItem(atPath: out)
                try? FileManager.default.removeItem(atPath: err)
                return finished
            }
        }

        static func report(_ path: String) throws -> Player.Report {
            try JSONDecoder().decode(Player.Report.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        }

        /// Waits until the capture holds `bytes` (the run is well under way).
        static func waitForCapture(_ path: String, bytes: Int) {
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size >= bytes { return }
                usleep(10_000)
            }
        }

        @Test func theExecutableIsBuilt() {
            #expect(FileManager.default.isExecutableFile(atPath: Self.wavert), "\(Self.wavert)")
        }

        @Test(arguments: [SIGTERM, SIGHUP, SIGINT])
        func aStopSignalEndsTheRunCleanly(signal: Int32) throws {
            let wav = ALSATestEnvironment.temporaryPath("signal")
            let json = ALSATestEnvironment.temporaryPath("signal", "json")
            defer {
                try? FileManager.default.removeItem(atPath: wav)
                try? FileManager.default.removeItem(atPath: json)
            }
            // No duration: a tone plays until stopped. The PCM exists only in ALSA_CONFIG_PATH. 40 ms
            // buffers, as in the other real-time tests: a loaded machine does not glitch the tone.
            let run = try Running(["play", "--device", ALSATestEnvironment.capture(wav), "--buffer-ms", "40", "--report", json])
            Self.waitForCapture(wav, bytes: 48_000)
            kill(run.pid, signal)
            let finished = run.wait(upTo: 10)
            let name = [SIGINT: "SIGINT", SIGTERM: "SIGTERM", SIGHUP: "SIGHUP"][signal]!
            #expect(finished.status == 0, "\(finished.stderr)")
            #expect(finished.stdout.contains("stopped by \(name)"), "\(finished.stdout)")
            // The WAV header was finished: it counts exactly the frames the file holds.
            let capture = try WAVFile(path: wav)
            #expect(capture.frames > 12_000)
            #expect(capture.headerFrames == capture.frames)
            #expect(capture.riffLengthInHeader == capture.fileLength)
            #expect(ToneReference.firstDifference(capture.data, ToneReference.tone(440, -12, format: .cd48k, bytes: capture.data.count)) == nil)
            // The report was written and agrees.
            let report = try Self.report(json)
            #expect(report.framesPlayed == UInt64(capture.frames))
            #expect(report.notes.contains("wavert: stopped by \(name)"))
        }

        @Test func aSecondSignalExitsAtOnce() throws {
            let wav = ALSATestEnvironment.temporaryPath("second-signal")
            let json = ALSATestEnvironment.temporaryPath("second-signal", "json")
            defer {
                try? FileManager.default.removeItem(atPath: wav)
                try? FileManager.default.removeItem(atPath: json)
            }
            let run = try Running(["play", "--device", ALSATestEnvironment.capture(wav), "--buffer-ms", "40", "--report", json])
            Self.waitForCapture(wav, bytes: 48_000)
            // Both arrive together: the first asks for a clean stop, the second ends it now.
            kill(run.pid, SIGSTOP)
            kill(run.pid, SIGTERM)
            kill(run.pid, SIGHUP)
            kill(run.pid, SIGCONT)
            let finished = run.wait(upTo: 5)
            // Which of the two lands first is up to the kernel's choice of thread.
            #expect([128 + SIGTERM, 128 + SIGHUP].contains(finished.status), "exit status \(finished.status)")
            #expect(!FileManager.default.fileExists(atPath: json))  // no clean wind-down happened
        }

        @Test func durationPlaysExactlyTheRoundedFrames() throws {
            let wav = ALSATestEnvironment.temporaryPath("duration")
            let json = ALSATestEnvironment.temporaryPath("duration", "json")
            defer {
                try? FileManager.default.removeItem(atPath: wav)
                try? FileManager.default.removeItem(atPath: json)
            }
            let finished = try Running(["play", "--device", ALSATestEnvironment.capture(wav), "--duration", "0.3",
                                        "--format", "44100:16:2", "--report", json]).wait(upTo: 20)
            #expect(finished.status == 0, "\(finished.stderr)")
            #expect(try Self.report(json).framesPlayed == 13_230)
            #expect(try WAVFile(path: wav).frames == 13_230)
        }

        @Test func latencyAndPeriodsAreWhatALSAIsAskedFor() throws {
            let wav = ALSATestEnvironment.temporaryPath("latency")
            defer { try? FileManager.default.removeItem(atPath: wav) }
            func granted(_ extra: [String]) throws -> Player.Report {
                let json = ALSATestEnvironment.temporaryPath("latency", "json")
                defer { try? FileManager.default.removeItem(atPath: json) }
                let finished = try Running(["play", "--device", ALSATestEnvironment.capture(wav), "--duration", "0.1",
                                            "--report", json] + extra).wait(upTo: 20)
                #expect(finished.status == 0, "\(finished.stderr)")
                return try Self.report(json)
            }
            let standard = try granted([])
            let short = try granted(["--latency-ms", "40", "--periods", "2"])
            // 80 ms in 4 periods by default; 40 ms in 2 when asked: at 48 kHz, 3,840/960 and 1,920/960.
            #expect(abs(Double(standard.alsaBufferFrames) / 3_840 - 1) < 0.05, "\(standard.alsaBufferFrames)")
            #expect(standard.alsaBufferFrames / standard.alsaPeriodFrames == 4)
            #expect(abs(Double(short.alsaBufferFrames) / 1_920 - 1) < 0.05, "\(short.alsaBufferFrames)")
            #expect(short.alsaBufferFrames / short.alsaPeriodFrames == 2)
        }

        @Test(arguments: [
            (["--clock", "bogus"], "--clock must be system or device"),
            (["--source", "tone:440:3"], "3 dBFS is above full scale"),
            (["--format", "48000:20:2"], "20-bit integer samples are not supported"),
            (["--latency-ms", "0"], "--latency-ms must be 1 to 10000"),
            (["--example", "nosuch"], "no example named 'nosuch'"),
            (["--timer-resolution", "fast"], "--timer-resolution must be default or high"),
            (["--buffer-frames", "1001"], "--buffer-frames must be a positive multiple of the 2 notifications"),
            (["--buffer-frames", "960", "--buffer-ms", "20"], "give one"),
            (["--example", "isa", "--format", "48000:24:6"], "'isa' takes 16-bit integer, mono or stereo"),
            (["--example", "hda", "--format", "48000:32f:2"], "example 'hda' cannot play 48000 Hz, 32-bit float, 2 ch"),
        ])
        func aMistakeSaysWhatAndShowsPlaysUsage(arguments: [String], message: String) throws {
            let finished = try Running(["play"] + arguments).wait(upTo: 10)
            #expect(finished.status == 64)  // EX_USAGE
            #expect(finished.stderr.contains(message), "\(finished.stderr)")
            #expect(finished.stderr.contains("Usage: wavert play"), "\(finished.stderr)")
        }

        /// ~/.asoundrc, loaded by alsa.conf's hooks, with no ALSA_CONFIG_PATH at all.
        @Test func aPCMFromTheUsersAsoundrcIsFound() throws {
            let home = ALSATestEnvironment.temporaryPath("home", "d")
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: home) }
            try "pcm.wavert_home_capture { type file slave.pcm null file \"\(home)/home.wav\" format wav }\n"
                .write(toFile: home + "/.asoundrc", atomically: true, encoding: .utf8)
            var environment = ProcessInfo.processInfo.environment
            environment["ALSA_CONFIG_PATH"] = nil
            environment["XDG_CONFIG_HOME"] = nil
            environment["HOME"] = home
            let finished = try Running(["play", "--device", "wavert_home_capture", "--duration", "0.2"], environment: environment)
                .wait(upTo: 20)
            #expect(finished.status == 0, "\(finished.stderr)")
            #expect(try WAVFile(path: home + "/home.wav").frames == 9_600)
        }
    }

    /// The flags added with the register-level redesign, and the verifier's verdict.
    @Suite struct PlayCommandStreamFlagTests {
        init() { ALSATestEnvironment.setUp() }

        @Test func bufferFramesAndTimerResolutionReachTheStream() throws {
            let wav = ALSATestEnvironment.temporaryPath("buffer-frames")
            let json = ALSATestEnvironment.temporaryPath("buffer-frames", "json")
            defer {
                try? FileManager.default.removeItem(atPath: wav)
                try? FileManager.default.removeItem(atPath: json)
            }
            let finished = try PlayCommandTests.Running(["play", "--example", "sysvad", "--device", ALSATestEnvironment.capture(wav),
                                                         "--duration", "0.3", "--buffer-frames", "2400", "--timer-resolution", "high",
                                                         "--report", json]).wait(upTo: 20)
            #expect(finished.status == 0, "\(finished.stderr)")
            let report = try PlayCommandTests.report(json)
            #expect(report.cyclicBufferFrames == 2_400)
            #expect(report.timerResolution == "high")
            #expect(report.framesPlayed == 14_400 && report.glitches == 0)
            #expect(ToneReference.firstDifference(try WAVFile(path: wav).data, ToneReference.tone(440, -12, format: .cd48k, bytes: 14_400 * 4)) == nil)
        }

        /// A miniport that breaks a DDI rule plays to the end, writes its report, then fails.
        @Test func verifierViolationsFinishTheRunThenExitNonZero() throws {
            let wav = ALSATestEnvironment.temporaryPath("verifier")
            let json = ALSATestEnvironment.temporaryPath("verifier", "json")
            defer {
                try? FileManager.default.removeItem(atPath: wav)
                try? FileManager.default.removeItem(atPath: json)
            }
            let finished = try PlayCommandTests.Running(["play", "--example", "buggy-passive-in-dpc", "--device", ALSATestEnvironment.capture(wav),
                                                         "--duration", "0.3", "--report", json]).wait(upTo: 20)
            #expect(finished.status == 1)
            #expect(finished.stderr.contains("the driver verifier found"), "\(finished.stderr)")
            #expect(finished.stderr.contains("IrqlTooHigh"), "\(finished.stderr)")
            let report = try PlayCommandTests.report(json)
            #expect(report.framesPlayed == 14_400)  // the run itself went to its end
            #expect(!report.verifier.isEmpty)
            #expect(report.verifier.allSatisfy { $0.rule == "IrqlTooHigh" && !$0.ddi.isEmpty && $0.irql.contains("DISPATCH") }, "\(report.verifier)")
            // The keys scripts read, spelled as the README has them.
            let keys = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
            let first = try #require((keys["verifier"] as? [[String: Any]])?.first)
            #expect(Set(first.keys) == ["rule", "ddi", "irql", "detail"])
        }
    }
}
