import ArgumentParser
import Foundation
import WaveRTSDK

/// `wavert sdk`: build a WaveRT miniport written in C++ against the WDK's
/// headers (portcls.h, wdm.h, ks.h, ksmedia.h, stdunk.h) into a library the
/// emulator runs with `--miniport LIB.so`.
struct SDKCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sdk",
        abstract: "Build C++ miniports against the emulator's WDK headers.",
        discussion: """
            wavert sdk build -o minwavert.so examples/cpp/hda/*.cpp
            wavert play --miniport minwavert.so
            wavert timing --miniport minwavert.so
            """,
        subcommands: [CFlags.self, Build.self])

    /// `wavert sdk cflags`: the compiler flags for a miniport's sources.
    struct CFlags: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cflags",
            abstract: "Print the compiler flags for a miniport (include path, WDK defines, -fshort-wchar, ...).")

        func run() throws {
            do {
                print(try SDKToolchain.cflags().joined(separator: " "))
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    /// `wavert sdk build -o LIB.so SOURCE... [-- FLAGS]`.
    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "build",
            abstract: "Compile and link a miniport library with the toolchain's clang++ and the SDK runtime.")

        @Option(name: .shortAndLong, help: "The shared library to write (LIB.so).")
        var output: String

        @Option(help: "Build with sanitizers: address, undefined, or both (address,undefined).")
        var sanitize: String?

        @Argument(parsing: .captureForPassthrough,
                  help: ArgumentHelp("The miniport's C++ sources, then -- and extra compiler and linker flags.", valueName: "source"))
        var arguments: [String] = []

        /// What comes before `--`.
        var sources: [String] { Array(arguments.prefix { $0 != "--" }) }
        /// What comes after `--`, for clang++.
        var flags: [String] { Array(arguments.drop { $0 != "--" }.dropFirst()) }

        func validate() throws {
            guard !sources.isEmpty else { throw ValidationError("give at least one C++ source file") }
            if let flag = sources.first(where: { $0.hasPrefix("-") }) {
                throw ValidationError("'\(flag)' is among the sources: options go before them (-o, --sanitize), compiler flags after --")
            }
            for source in sources where !FileManager.default.fileExists(atPath: source) {
                throw ValidationError("\(source): no such file")
            }
            _ = try sanitizers()
        }

        private func sanitizers() throws -> [SDKToolchain.Sanitizer] {
            guard let sanitize else { return [] }
            return try sanitize.split(separator: ",").map { name in
                guard let s = SDKToolchain.Sanitizer(rawValue: String(name)) else {
                    throw ValidationError("--sanitize takes address and/or undefined, comma-separated; got '\(name)'")
                }
                return s
            }
        }

        func run() throws {
            let sanitizers = try sanitizers()
            do {
                try SDKToolchain.build(output: output, sources: sources, extraFlags: flags, sanitizers: sanitizers)
            } catch {
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
                throw ExitCode.failure
            }
            print("built \(output)")
            if sanitizers.contains(.address), let runtime = SDKToolchain.addressSanitizerRuntime() {
                print("run it with the AddressSanitizer runtime loaded first: LD_PRELOAD=\(runtime) ASAN_OPTIONS=detect_leaks=0 wavert play --miniport \(output)")
            }
        }
    }
}
