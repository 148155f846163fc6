// swift-tools-version: 6.1
// Benchmarks for the WaveRT emulator, kept in a package of their own so the
// main package does not depend on ordo-one/benchmark.
//
//   cd Benchmarks && swift package benchmark
//
// See README.md in this directory.
import PackageDescription

let package = Package(
    name: "WaveRTBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "WaveRT", path: ".."),
        // Only the MallocInterposer trait: it backs the malloc metrics without
        // jemalloc. Naming the traits also drops the default RuntimeInterposer.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "MemoryBenchmarks",
            dependencies: [
                .product(name: "WaveRT", package: "WaveRT"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/MemoryBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
        .executableTarget(
            name: "DMABenchmarks",
            dependencies: [
                .product(name: "WaveRT", package: "WaveRT"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/DMABenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
        .executableTarget(
            name: "LoadBenchmarks",
            dependencies: [
                .product(name: "WaveRT", package: "WaveRT"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/LoadBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
        .executableTarget(
            name: "RegisterPathBenchmarks",
            dependencies: [
                .product(name: "WaveRT", package: "WaveRT"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/RegisterPathBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ]
)
