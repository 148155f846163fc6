import Foundation
import Synchronization
import Testing
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTPort
import WaveRTSDK
import WaveRTTestSupport

/// The C++ examples, built once per test run with the SDK's build function
/// (what `wavert sdk build` runs), into a directory of the run's own.
enum CxxExamples {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let outputDirectory: String = {
        let dir = NSTemporaryDirectory() + "wavert-sdk-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }()

    static let hdaSources = ["minwavert.cpp", "minwavertstream.cpp", "NewDelete.cpp"].map { "\(repository)/examples/cpp/hda/\($0)" }

    /// The libraries the tests use, by name: sources and the extra flags after `--`.
    static let recipes: [String: (sources: [String], flags: [String])] = [
        "hda": (hdaSources + ["\(repository)/examples/cpp/hda/adapter.cpp"], []),
        "buggy": (hdaSources + ["\(repository)/examples/cpp/buggy/buggy.cpp"], []),
        "buggy-crash": (hdaSources + ["\(repository)/examples/cpp/buggy/buggy.cpp"], ["-DBUGGY_CRASH_AFTER_DPCS=20"]),
        "buggy-assert": (hdaSources + ["\(repository)/examples/cpp/buggy/buggy.cpp"], ["-DBUGGY_ASSERT_AFTER_DPCS=10"]),
        "buggy-leak": (hdaSources + ["\(repository)/examples/cpp/buggy/buggy.cpp"], ["-DBUGGY_LEAK"]),
        "layouts": (["\(repository)/Tests/WaveRTSDKTests/Fixtures/layouts.cpp"], []),
    ]

    /// Sanitizers every example library is built with: `WAVERT_TEST_SANITIZERS=address,undefined`
    /// (what `.ci/sanitizers` sets for its AddressSanitizer run, whose test process has the runtime).
    static let sanitizers: [SDKToolchain.Sanitizer] = (ProcessInfo.processInfo.environment["WAVERT_TEST_SANITIZERS"] ?? "")
        .split(separator: ",").compactMap { SDKToolchain.Sanitizer(rawValue: String($0)) }

    /// Whether this test process runs with AddressSanitizer's runtime (an ASan-built library then loads).
    static var processHasAddressSanitizer: Bool { dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") != nil }

    private static let built = Mutex<[String: String]>([:])
    private static let building = Mutex<Void>(())

    /// The library `name`, built on first use.
    static func library(_ name: String) throws -> String {
        try building.withLock { _ in
            if let path = built.withLock({ $0[name] }) { return path }
            let recipe = try #require(recipes[name])
            let path = "\(outputDirectory)/\(name).so"
            // buggy-crash's null dereference is what the crash guard is tested on: UBSan would stop it first.
            let unchecked = !sanitizers.isEmpty && name == "buggy-crash" ? ["-fno-sanitize=null"] : []
            try SDKToolchain.build(output: path, sources: recipe.sources, extraFlags: recipe.flags + unchecked, sanitizers: sanitizers)
            built.withLock { $0[name] = path }
            return path
        }
    }

    /// The tone the client writes, as the device must play it.
    static func reference(format: StreamFormat, frames: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: frames * format.blockAlign)
        let tone = ToneGenerator(frequency: 440, levelDBFS: -12)
        _ = bytes.withUnsafeMutableBytes { tone.read(frames: frames, into: $0.baseAddress!, format: format) }
        return bytes
    }

    /// The `hda` example's setup (10 ms, two notifications, packet mode) for `format`.
    static func setup(format: StreamFormat) throws -> StreamSetup {
        let example = try #require(ExampleMiniport.named("hda"))
        return StreamSetup(hardware: .hda, format: format,
                           bufferFrames: StreamSetup.frames(milliseconds: Double(example.bufferMilliseconds), rate: format.sampleRate,
                                                            notificationCount: example.notificationCount),
                           notificationCount: example.notificationCount, mode: .packet)
    }

    struct Run {
        var report: SessionReport
        var played: [UInt8]
        var poolDuringRun: [String: Int]
    }

    /// Plays the tone through the miniport `make` makes (the session owns it,
    /// so the port releases it at unload) for `milliseconds` of virtual time.
    static func play(format: StreamFormat = .cd48k, milliseconds: UInt64 = 1000, _ make: () throws -> any MiniportWaveRT) throws -> Run {
        let clock = VirtualClock()
        let speaker = GrowingSink()
        let session = try MiniportSession(miniport: make(), setup: setup(format: format), timebase: clock,
                                          source: ToneGenerator(frequency: 440, levelDBFS: -12), speaker: speaker)
        try session.start()
        clock.advance(by: TestTime.ms(milliseconds))
        let pool = session.machine.pool.outstandingByTag
        let report = session.finish()
        return Run(report: report, played: speaker.bytes, poolDuringRun: pool)
    }

    static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
        zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset
    }
}
