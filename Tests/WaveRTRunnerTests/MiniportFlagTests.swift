import Foundation
import Glibc
import Synchronization
import Testing
import WaveRTEngine
import WaveRTRunner
import WaveRTTestSupport

extension RealTime {
    /// `--miniport LIB.so` (a C++ miniport built with `wavert sdk build`, as
    /// the README's three commands do), `--trace PATH.json` and
    /// `--fragment-memory` on the executable: play, record and timing.
    @Suite struct MiniportFlagTests {
        init() { ALSATestEnvironment.setUp() }

        typealias Running = PlayCommandTests.Running

        static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        static let directory: String = {
            let dir = NSTemporaryDirectory() + "wavert-miniport-flags-\(getpid())"
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return dir
        }()
        static let hdaSources = ["minwavert.cpp", "minwavertstream.cpp", "NewDelete.cpp"].map { "\(repository)/examples/cpp/hda/\($0)" }
        static let built = Mutex<[String: String]>([:])

        /// A C++ example built with `wavert sdk build -o LIB.so SOURCES [-- FLAGS]`, once per run.
        static func library(_ name: String) throws -> String {
            try built.withLock { table in
                if let path = table[name] { return path }
                let path = "\(directory)/\(name).so"
                let sources: [String]
                var flags: [String] = []
                switch name {
                case "hda": sources = hdaSources + ["\(repository)/examples/cpp/hda/adapter.cpp"]
                case "buggy": sources = hdaSources + ["\(repository)/examples/cpp/buggy/buggy.cpp"]
                default:
                    sources = hdaSources + ["\(repository)/examples/cpp/buggy/buggy.cpp"]
                    flags = ["--", "-DBUGGY_CRASH_AFTER_DPCS=20"]
                }
                let finished = try Running(["sdk", "build", "-o", path] + sources + flags).wait(upTo: 120)
                try #require(finished.status == 0, "\(finished.stderr)")
                table[name] = path
                return path
            }
        }

        static func json(_ path: String) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        }

        /// The README's build and play: the C++ hda into a file, sample-exact, with a trace of the run.
        @Test func playingACxxMiniportIsSampleExact() throws {
            let lib = try Self.library("hda")
            let wav = ALSATestEnvironment.temporaryPath("cxx-play")
            let report = ALSATestEnvironment.temporaryPath("cxx-play", "json")
            let trace = ALSATestEnvironment.temporaryPath("cxx-play-trace", "json")
            defer { for p in [wav, report, trace] { try? FileManager.default.removeItem(atPath: p) } }
            let finished = try Running(["play", "--miniport", lib, "--device", ALSATestEnvironment.capture(wav), "--duration", "0.3",
                                        "--buffer-ms", "40", "--report", report, "--trace", trace]).wait(upTo: 20)
            #expect(finished.status == 0, "\(finished.stderr)")
            #expect(finished.stdout.contains("trace: \(trace)"), "\(finished.stdout)")
            let r = try PlayCommandTests.report(report)
            #expect(r.example == lib && r.framesPlayed == 14_400 && r.glitches == 0 && r.crash == nil && r.verifier.isEmpty)
            #expect(r.trace == trace && r.traceDropped == 0)
            let capture = try WAVFile(path: wav)
            #expect(capture.frames == 14_400)
            #expect(ToneReference.firstDifference(capture.data, ToneReference.tone(440, -12, format: .cd48k, bytes: capture.data.count)) == nil)
            // The trace: the stream's tracks and the driver's ISR and DPC, on the system clock.
            let t = try Self.json(trace)
            let meta = try #require(t["otherData"] as? [String: Any])
            #expect(meta["command"] as? String == "wavert play" && meta["clock"] as? String == "system" && meta["miniport"] as? String == lib)
            let events = try #require(t["traceEvents"] as? [[String: Any]])
            let tracks = Set(events.filter { $0["name"] as? String == "thread_name" }.compactMap { ($0["args"] as? [String: Any])?["name"] as? String })
            #expect(tracks.isSuperset(of: ["interrupt (IOC)", "ISR", "DPC", "KeSetEvent", "client", "DMA", "position", "SetState", "KSSTATE"]))
            #expect(events.filter { $0["name"] as? String == "IOC" }.count >= 10)
        }

        @Test func recordWritesItsTraceToo() throws {
            let lib = try Self.library("hda")
            let wav = ALSATestEnvironment.temporaryPath("cxx-record")
            let trace = ALSATestEnvironment.temporaryPath("cxx-record-trace", "json")
            defer { for p in [wav, trace] { try? FileManager.default.removeItem(atPath: p) } }
            let finished = try Running(["record", "--miniport", lib, "--output", wav, "--duration", "0.2", "--trace", trace,
                                        "--trace-events", "64", "--trace-overflow", "drop-newest"]).wait(upTo: 20)
            #expect(finished.status == 0, "\(finished.stderr)")
            let meta = try #require(try Self.json(trace)["otherData"] as? [String: Any])
            #expect(meta["command"] as? String == "wavert record" && meta["capacity"] as? Int == 64 && meta["overflow"] as? String == "drop-newest")
            #expect(meta["kept"] as? Int == 64 && (meta["dropped"] as? Int ?? 0) > 0)
            #expect(finished.stdout.contains("the ring was full"), "\(finished.stdout)")
            #expect(try WAVFile(path: wav).frames == 9_600)
        }

        /// The README's third command: the C++ hda passes; the buggy one fails the verifier check, and only it.
        @Test func timingACxxMiniportJudgesItByName() throws {
            let good = try Running(["timing", "--miniport", try Self.library("hda")]).wait(upTo: 30)
            #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
            #expect(good.stdout.contains("result: PASS"))
            let report = ALSATestEnvironment.temporaryPath("cxx-buggy-timing", "json")
            defer { try? FileManager.default.removeItem(atPath: report) }
            let buggy = try Running(["timing", "--miniport", try Self.library("buggy"), "--report", report]).wait(upTo: 30)
            #expect(buggy.status == 1, "\(buggy.stdout)\(buggy.stderr)")
            let checks = try #require(try Self.json(report)["checks"] as? [[String: Any]])
            let failed = checks.filter { $0["windows"] as? String == "fail" || $0["strict"] as? String == "fail" }.compactMap { $0["id"] as? String }
            #expect(failed == ["verifier"])
            #expect(buggy.stdout.contains("IrqlTooHigh in IPortWaveRTStream::GetPhysicalPagesCount at DISPATCH_LEVEL"), "\(buggy.stdout)")
        }

        /// A C++ miniport that crashes in its 20th DPC: the run finishes (the WAV up to the crash, the
        /// report with the crash in it), the crash report is printed, and the exit status is 1.
        @Test func aCrashingMiniportEndsTheRunWithItsReport() throws {
            let lib = try Self.library("buggy-crash")
            let wav = ALSATestEnvironment.temporaryPath("cxx-crash")
            let report = ALSATestEnvironment.temporaryPath("cxx-crash", "json")
            defer { for p in [wav, report] { try? FileManager.default.removeItem(atPath: p) } }
            let finished = try Running(["play", "--miniport", lib, "--device", ALSATestEnvironment.capture(wav), "--duration", "2",
                                        "--report", report]).wait(upTo: 20)
            #expect(finished.status == 1, "\(finished.stderr)")
            #expect(finished.stderr.contains("*** The miniport crashed: SIGSEGV"), "\(finished.stderr)")
            #expect(finished.stderr.contains("in the call KDEFERRED_ROUTINE (DPC) from the emulator"))
            #expect(finished.stderr.contains("CBuggyStream::DeferredProcedure"))
            let r = try PlayCommandTests.report(report)
            #expect(r.crash?.contains("SIGSEGV") == true)
            // The machine stopped at the crash: about 100 ms played (20 DPCs, two per 10 ms buffer), not 2 s.
            #expect(r.framesPlayed > 0 && r.framesPlayed < 48_000 / 2, "\(r.framesPlayed)")
            let capture = try WAVFile(path: wav)
            #expect(capture.headerFrames == capture.frames && capture.frames == Int(r.framesPlayed))
            #expect(ToneReference.firstDifference(capture.data, ToneReference.tone(440, -12, format: .cd48k, bytes: capture.data.count)) == nil)
        }

        @Test(arguments: [
            (["--miniport", "x.so", "--example", "hda"], "--example and --miniport both say which miniport runs; give one"),
            (["--hardware", "sg"], "--hardware chooses a C++ miniport's adapter (with --miniport)"),
            (["--miniport", "/nonexistent/lib.so"], "--miniport: /nonexistent/lib.so: no such file"),
            (["--fragment-memory", "1.5:1"], "OCCUPANCY is the share of RAM taken, between 0 and 1"),
            (["--fragment-memory", "lots"], "--fragment-memory is scarce or OCCUPANCY:LONGEST_FREE_RUN_PAGES[:SEED]"),
            (["--trace-events", "64"], "--trace-events and --trace-overflow need --trace PATH.json"),
            (["--trace", "t.json", "--trace-events", "4"], "--trace-events must be 16 to 67108864"),
            (["--trace", "t.json", "--trace-overflow", "newest"], "--trace-overflow must be drop-oldest or drop-newest"),
        ])
        func aMistakeNamesTheFlag(arguments: [String], message: String) throws {
            for command in ["play", "timing"] {
                let finished = try Running([command] + arguments).wait(upTo: 10)
                #expect(finished.status == 64, "\(command): \(finished.stderr)")
                #expect(finished.stderr.contains(message), "\(command): \(finished.stderr)")
            }
        }

        /// A format the C++ miniport's filter descriptor does not cover: the port refuses it, and the
        /// message says what the descriptor declares.
        @Test func aFormatTheMiniportDoesNotDeclareIsRefusedClearly() throws {
            let finished = try Running(["play", "--miniport", try Self.library("hda"), "--hardware", "hda", "--format", "48000:24:2"])
                .wait(upTo: 10)
            #expect(finished.status == 64)
            #expect(finished.stderr.contains("cannot play 48000 Hz, 24-bit, 2 ch"), "\(finished.stderr)")
            #expect(finished.stderr.contains("takes what its filter descriptor's data ranges cover"), "\(finished.stderr)")
            #expect(finished.stderr.contains("pin 0: PCM 16-bit, 1-8 channels, 8000-192000 Hz; PCM 32-bit"), "\(finished.stderr)")
        }

        /// buggy-partial on scarce memory, with a buffer of more pages than are free below 16 MiB: the
        /// port refuses the buffer it claims. `timing` fails exactly the verifier check; `play` says why
        /// and exits 1 (the miniport's bug, not a mistake in the flags). With a one-page buffer it passes.
        @Test func scarceMemoryCatchesBuggyPartial() throws {
            let report = ALSATestEnvironment.temporaryPath("partial-timing", "json")
            defer { try? FileManager.default.removeItem(atPath: report) }
            let timing = try Running(["timing", "--example", "buggy-partial", "--fragment-memory", "scarce", "--buffer-ms", "200",
                                      "--duration", "1", "--report", report]).wait(upTo: 30)
            #expect(timing.status == 1, "\(timing.stdout)\(timing.stderr)")
            let json = try Self.json(report)
            let checks = try #require(json["checks"] as? [[String: Any]])
            let failed = checks.filter { $0["windows"] as? String == "fail" || $0["strict"] as? String == "fail" }.compactMap { $0["id"] as? String }
            #expect(failed == ["verifier"])
            #expect((json["verifier"] as? [[String: Any]])?.first?["rule"] as? String == "BufferLargerThanMdl")
            let play = try Running(["play", "--example", "buggy-partial", "--fragment-memory", "scarce", "--buffer-ms", "200"]).wait(upTo: 20)
            #expect(play.status == 1, "\(play.stderr)")
            #expect(play.stderr.contains("BufferLargerThanMdl") && play.stderr.contains("was a partial allocation ignored?"), "\(play.stderr)")
            #expect(!play.stderr.contains("Usage:"))
            let small = try Running(["timing", "--example", "buggy-partial", "--fragment-memory", "scarce", "--duration", "1"]).wait(upTo: 30)
            #expect(small.status == 0, "\(small.stdout)\(small.stderr)")
        }
    }
}
