// swift-tools-version: 6.0
// The WaveRT emulator: a virtual WaveRT audio device for Windows audio-driver
// writers, in user space on Linux. Layers, lowest first; a layer imports only
// those below it:
//
//   WaveRTMemory  emulated physical memory, MDLs, the Mm* and IPortWaveRTStream memory DDIs
//   WaveRTDMA     emulated DMA controllers: profiles, programming, validation, transfers
//   WaveRTEngine  timebases, the cyclic buffer engine: position, notifications, packets, glitches
//   WaveRTPort    miniport protocols, the simulated port driver, the audio-engine client, sources
//   examples/     WaveRTExamples: example miniports (simple, hda, isa, buggy ones)
//   WaveRTTiming  timing scenarios, the Windows position checks, JSON reports, SVG plots
//   WaveRTALSA    the ALSA sink (libasound2) and its writer thread
//   WaveRT        the umbrella a user imports
//   wavert        the command-line tool
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
        // libc calls that Glibc does not import (memfd_create, fallocate, prctl, ...).
        .target(name: "CWaveRTShim"),
        // libasound2 through pkg-config; `.ci/install-deps` installs libasound2-dev.
        .systemLibrary(
            name: "CALSA",
            pkgConfig: "alsa",
            providers: [.apt(["libasound2-dev"])]
        ),
        .target(
            name: "WaveRTMemory",
            dependencies: [
                "CWaveRTShim",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "WaveRTDMA",
            dependencies: ["WaveRTMemory"]
        ),
        .target(
            name: "WaveRTEngine",
            dependencies: [
                "WaveRTDMA", "WaveRTMemory", "CWaveRTShim",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // libsndfile through pkg-config; `.ci/install-deps` installs libsndfile1-dev.
        .systemLibrary(
            name: "CSndfile",
            pkgConfig: "sndfile",
            providers: [.apt(["libsndfile1-dev"])]
        ),
        .target(
            name: "WaveRTPort",
            dependencies: ["WaveRTEngine", "WaveRTDMA", "WaveRTMemory", "CSndfile"]
        ),
        // The example miniports: readable models a driver writer can copy from.
        .target(
            name: "WaveRTExamples",
            dependencies: ["WaveRTPort", "WaveRTEngine", "WaveRTDMA", "WaveRTMemory"],
            path: "examples"
        ),
        .target(
            name: "WaveRTTiming",
            dependencies: [
                "WaveRTPort", "WaveRTEngine", "WaveRTDMA", "WaveRTMemory",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // libsamplerate through pkg-config; `.ci/install-deps` installs libsamplerate0-dev.
        .systemLibrary(
            name: "CSamplerate",
            pkgConfig: "samplerate",
            providers: [.apt(["libsamplerate0-dev"])]
        ),
        .target(name: "CALSAShim", dependencies: ["CALSA"]),
        .target(
            name: "WaveRTALSA",
            dependencies: ["CALSA", "CALSAShim", "CSamplerate", "CWaveRTShim", "WaveRTEngine", "WaveRTPort", "WaveRTDMA", "WaveRTMemory"]
        ),
        .target(
            name: "WaveRT",
            dependencies: ["WaveRTMemory", "WaveRTDMA", "WaveRTEngine", "WaveRTPort", "WaveRTExamples", "WaveRTTiming", "WaveRTALSA"]
        ),
        .executableTarget(
            name: "WaveRTCLI",
            dependencies: [
                "WaveRT", "WaveRTALSA", "WaveRTDMA", "WaveRTEngine", "WaveRTExamples", "WaveRTPort", "WaveRTTiming",
                "CALSA", "CWaveRTShim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "WaveRTMemoryTests",
            dependencies: ["WaveRT", "WaveRTMemory"]
        ),
        .testTarget(
            name: "WaveRTDMATests",
            dependencies: ["WaveRT", "WaveRTDMA", "WaveRTMemory"]
        ),
        .testTarget(
            name: "WaveRTEngineTests",
            dependencies: ["WaveRT", "WaveRTEngine", "WaveRTMemory", "WaveRTDMA"]
        ),
        .testTarget(
            name: "WaveRTALSATests",
            dependencies: ["WaveRT", "WaveRTALSA", "CALSA", "WaveRTMemory", "WaveRTDMA", "WaveRTEngine", "WaveRTPort", "WaveRTExamples"]
        ),
        .testTarget(
            name: "WaveRTTimingTests",
            dependencies: ["WaveRT", "WaveRTTiming", "WaveRTMemory", "WaveRTDMA", "WaveRTEngine", "WaveRTPort", "WaveRTExamples"]
        ),
        .testTarget(
            name: "WaveRTPortTests",
            dependencies: ["WaveRT", "WaveRTPort", "WaveRTExamples", "CSndfile", "WaveRTMemory", "WaveRTDMA", "WaveRTEngine"]
        ),
    ]
)
