// swift-tools-version: 6.0
// The WaveRT emulator: a virtual WaveRT audio device for Windows audio-driver
// writers, in user space on Linux. Layers, lowest first; each target lists
// exactly what it imports, and a layer imports only layers below it:
//
//   WaveRTMemory    emulated physical memory, page owners, MDLs, the Mm* DDIs' memory manager
//   WaveRTDMA       DMA controller profiles, program validation, faithful faults, transfers
//   WaveRTEngine    time: timebases, the virtual clock, schedulers, rings; formats and sinks
//   WaveRTHardware  register-level devices: HD Audio, 8237 + SB16, a generic bus master; bus and lines
//   WaveRTKernel    the WDM a miniport calls: IRQL, KEVENT, KDPC, timers, spin locks, interrupts,
//                   pool, MMIO and port I/O, the verifier, and the machine's processor
//   WaveRTPort      PortCls: the miniport interfaces, IPortWaveRTStream, the KS properties, adapters
//   WaveRTClient    the Windows audio engine's part: the client, sources, glitch monitor, sessions
//   WaveRTSDK       C++ miniports: the SDK (sdk/: WDK headers, runtime, the CWaveRTSDK crash
//                   guard) and the bridge that loads a miniport library as a MiniportWaveRT
//   examples/       WaveRTExamples: example miniports written as drivers are
//   WaveRTTiming    timing scenarios, the Windows position checks, JSON reports, SVG plots
//   WaveRTALSA      the ALSA sink and source (libasound2): rings, writer, drift compensation
//   WaveRTRunner    what `wavert play` and `record` do
//   WaveRTSoak      what `wavert soak` does: one stream on the virtual clock for hours, every check after every step
//   WaveRTFuzz      seeded fuzzers (devices, KS properties, DMA profiles, audio files) and the
//                   misuse catalogue; `wavert fuzz` runs them (not part of the umbrella)
//   WaveRTLoad      many example streams in real time beside a CPU hog, notification latency against a timer baseline
//   WaveRT          the umbrella a user imports
//   wavert          the command-line tool
import PackageDescription

let package = Package(
    name: "WaveRT",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "WaveRT", targets: ["WaveRT"]),
        .executable(name: "wavert", targets: ["WaveRTCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // libc calls Glibc does not import (memfd_create, fallocate, prctl, futex, TLS, signals).
        .target(name: "CWaveRTShim"),
        // Debian's C libraries through pkg-config; `.ci/install-deps` installs their -dev packages.
        .systemLibrary(name: "CALSA", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CSndfile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CSamplerate", pkgConfig: "samplerate", providers: [.apt(["libsamplerate0-dev"])]),
        .target(name: "CALSAShim", dependencies: ["CALSA"]),

        .target(name: "WaveRTMemory", dependencies: ["CWaveRTShim", .product(name: "Logging", package: "swift-log")]),
        .target(name: "WaveRTDMA", dependencies: ["WaveRTMemory"]),
        .target(name: "WaveRTEngine", dependencies: ["CWaveRTShim", .product(name: "Histogram", package: "hdrhistogram-swift")]),
        .target(name: "WaveRTHardware", dependencies: ["WaveRTEngine", "WaveRTDMA", "WaveRTMemory"]),
        .target(name: "WaveRTKernel", dependencies: ["WaveRTEngine", "WaveRTHardware", "WaveRTMemory", "CWaveRTShim"]),
        .target(name: "WaveRTPort",
                dependencies: ["WaveRTKernel", "WaveRTHardware", "WaveRTEngine", "WaveRTDMA", "WaveRTMemory", "CWaveRTShim"]),
        // The example miniports: drivers, so they import the kernel and the port, never the hardware.

        .target(name: "WaveRTClient",
                dependencies: ["WaveRTPort", "WaveRTKernel", "WaveRTHardware", "WaveRTEngine", "WaveRTDMA", "WaveRTMemory", "CSndfile", "CWaveRTShim"]),
        .target(name: "WaveRTExamples", dependencies: ["WaveRTPort", "WaveRTKernel", "WaveRTEngine", "WaveRTMemory"], path: "examples",
                exclude: ["cpp"]),
        // The C++ miniport SDK: sdk/include (the WDK headers) and sdk/runtime are compiled into each
        // miniport library by `wavert sdk build`; sdk/host is the crash guard, sdk/abi the one C interface.
        .target(name: "CWaveRTSDK", dependencies: ["CWaveRTShim"], path: "sdk", exclude: ["include", "runtime", "README.md"],
                sources: ["host"], publicHeadersPath: "abi", linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("stdc++")]),
        .target(name: "WaveRTSDK",
                dependencies: ["CWaveRTSDK", "WaveRTPort", "WaveRTKernel", "WaveRTEngine", "WaveRTMemory", "CWaveRTShim"]),
        .target(name: "WaveRTTiming",
                dependencies: ["WaveRTClient", "WaveRTPort", "WaveRTKernel", "WaveRTEngine", "WaveRTMemory",
                               .product(name: "Histogram", package: "hdrhistogram-swift")]),
        .target(name: "WaveRTALSA", dependencies: ["WaveRTEngine", "CALSA", "CALSAShim", "CSamplerate", "CWaveRTShim"]),
        .target(name: "WaveRTRunner",
                dependencies: ["WaveRTALSA", "WaveRTClient", "WaveRTExamples", "WaveRTPort", "WaveRTKernel", "WaveRTEngine",
                               "WaveRTDMA", "WaveRTMemory", "CWaveRTShim"]),
        .target(name: "WaveRTSoak",
                dependencies: ["WaveRTClient", "WaveRTExamples", "WaveRTSDK", "WaveRTPort", "WaveRTKernel", "WaveRTHardware", "WaveRTEngine",
                               "WaveRTDMA", "WaveRTMemory", "CWaveRTShim"]),
        .target(name: "WaveRTFuzz",
                dependencies: ["WaveRTClient", "WaveRTExamples", "WaveRTPort", "WaveRTKernel", "WaveRTHardware", "WaveRTEngine",
                               "WaveRTDMA", "WaveRTMemory"]),
        .target(name: "WaveRTLoad",
                dependencies: ["WaveRTRunner", "WaveRTClient", "WaveRTExamples", "WaveRTHardware", "WaveRTEngine", "CWaveRTShim",
                               .product(name: "Histogram", package: "hdrhistogram-swift")]),
        .target(name: "WaveRT",
                dependencies: ["WaveRTMemory", "WaveRTDMA", "WaveRTEngine", "WaveRTHardware", "WaveRTKernel", "WaveRTPort",
                               "WaveRTClient", "WaveRTExamples", "WaveRTTiming", "WaveRTALSA", "WaveRTRunner", "WaveRTSDK", "WaveRTSoak",
                               "WaveRTLoad"]),
        .executableTarget(name: "WaveRTCLI",
                          dependencies: ["WaveRTRunner", "WaveRTTiming", "WaveRTSDK", "WaveRTSoak", "WaveRTFuzz", "WaveRTExamples", "WaveRTClient", "WaveRTPort",
                                         "WaveRTKernel", "WaveRTEngine", "WaveRTDMA", "WaveRTMemory", "CALSA", "CWaveRTShim",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // Shared by the test targets (never the umbrella).
        .target(name: "WaveRTTestSupport", dependencies: ["WaveRTEngine"], path: "Tests/WaveRTTestSupport"),
        .testTarget(name: "WaveRTMemoryTests", dependencies: ["WaveRTMemory", "WaveRTTestSupport"]),
        .testTarget(name: "WaveRTDMATests", dependencies: ["WaveRTDMA", "WaveRTMemory", "WaveRTTestSupport"]),
        .testTarget(name: "WaveRTEngineTests", dependencies: ["WaveRTEngine", "WaveRTTestSupport"]),
        .testTarget(name: "WaveRTPortTests",
                    dependencies: ["WaveRTPort", "WaveRTKernel", "WaveRTHardware", "WaveRTEngine", "WaveRTDMA", "WaveRTMemory",
                                   "WaveRTTestSupport"]),
        .testTarget(name: "WaveRTClientTests",
                    dependencies: ["WaveRTClient", "WaveRTHardware", "WaveRTEngine", "WaveRTDMA", "WaveRTMemory", "WaveRTTestSupport"]),
        .testTarget(name: "WaveRTHardwareTests",
                    dependencies: ["WaveRTHardware", "WaveRTEngine", "WaveRTDMA", "WaveRTMemory", "WaveRTTestSupport"]),
        .testTarget(name: "WaveRTExamplesTests",
                    dependencies: ["WaveRTExamples", "WaveRTClient", "WaveRTPort", "WaveRTKernel", "WaveRTHardware", "WaveRTEngine",
                                   "WaveRTDMA", "WaveRTMemory", "WaveRTTestSupport"]),
        .testTarget(name: "WaveRTSDKTests",
                    dependencies: ["WaveRTSDK", "WaveRTSoak", "WaveRTExamples", "WaveRTClient", "WaveRTPort", "WaveRTKernel", "WaveRTEngine",
                                   "WaveRTMemory", "WaveRTTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "WaveRTKernelTests",
                    dependencies: ["WaveRTKernel", "WaveRTHardware", "WaveRTEngine", "WaveRTMemory", "WaveRTTestSupport"]),
        .testTarget(name: "WaveRTTimingTests",
                    dependencies: ["WaveRTTiming", "WaveRTExamples", "WaveRTClient", "WaveRTPort", "WaveRTKernel", "WaveRTEngine",
                                   "WaveRTDMA", "WaveRTMemory", "WaveRTTestSupport"]),
        .testTarget(name: "WaveRTALSATests", dependencies: ["WaveRTALSA", "WaveRTEngine", "WaveRTTestSupport"]),
        // `wavert play` and `record` end to end, the library calls and the executable.
        // `wavert soak`: each example, a buggy one's findings, an injected failure and its replay.
        .testTarget(name: "WaveRTSoakTests",
                    dependencies: ["WaveRTSoak", "WaveRTExamples", "WaveRTClient", "WaveRTPort", "WaveRTKernel", "WaveRTEngine",
                                   "WaveRTMemory", "WaveRTTestSupport"]),
        // Each fuzzer on a fixed seed and budget (`wavert fuzz` runs them for longer), and the misuse catalogue.
        .testTarget(name: "WaveRTFuzzTests",
                    dependencies: ["WaveRTFuzz", "WaveRTClient", "WaveRTExamples", "WaveRTPort", "WaveRTKernel", "WaveRTHardware",
                                   "WaveRTEngine", "WaveRTDMA", "WaveRTMemory", "WaveRTTestSupport"]),
        // 64 (or fewer) example streams in real time beside a CPU hog: glitches and the latency ratio.
        .testTarget(name: "WaveRTLoadTests", dependencies: ["WaveRTLoad", "WaveRTEngine", "WaveRTTestSupport"]),
        .testTarget(name: "WaveRTRunnerTests",
                    dependencies: ["WaveRTRunner", "WaveRTALSA", "WaveRTClient", "WaveRTExamples", "WaveRTEngine", "WaveRTTestSupport"]),
    ]
)
