import Foundation

/// The SDK a C++ miniport compiles against, and the toolchain that builds it:
/// what `wavert sdk cflags` prints and `wavert sdk build` runs.
///
/// ```swift
/// let library = try SDKToolchain.build(output: "minwavert.so", sources: ["minwavert.cpp"])
/// let miniport = try CxxMiniport.load(path: library)
/// ```
///
/// The SDK directory holds `include/` (portcls.h, wdm.h, ks.h, ksmedia.h,
/// stdunk.h, ...) and `runtime/wavert_runtime.cpp`, which every library is
/// linked with. It is found at `$WAVERT_SDK`, else in this package's `sdk/`
/// (where the sources were built), else at `<executable>/../share/wavert/sdk`.
/// The compiler is `$WAVERT_CXX`, else the clang++ of the Swift toolchain on
/// the PATH (beside `swift`), else `clang++`.
public enum SDKToolchain {
    /// Sanitizers `--sanitize` accepts.
    public enum Sanitizer: String, Sendable, CaseIterable {
        case address, undefined
    }

    public enum BuildError: Error, CustomStringConvertible {
        case sdkNotFound(searched: [String])
        case compilerNotFound
        case noSources
        case compilerFailed(command: [String], status: Int32, output: String)

        public var description: String {
            switch self {
            case .sdkNotFound(let searched):
                return "the WaveRT SDK (include/portcls.h) was not found; looked in \(searched.joined(separator: ", ")); set WAVERT_SDK to its directory"
            case .compilerNotFound:
                return "no clang++ found: put the Swift toolchain's bin directory on PATH or set WAVERT_CXX"
            case .noSources:
                return "no source files: give at least one .cpp"
            case .compilerFailed(let command, let status, let output):
                return "clang++ failed (exit \(status)):\n  \(command.joined(separator: " "))\n\(output)"
            }
        }
    }

    // MARK: Where things are

    /// The SDK directory (holding `include/portcls.h`).
    public static func sdkRoot() throws(BuildError) -> String {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["WAVERT_SDK"], !env.isEmpty { candidates.append(env) }
        // This file is Sources/WaveRTSDK/SDKToolchain.swift in the package; the SDK is sdk/ beside Sources/.
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent("sdk").path)
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        candidates.append(executable.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("share/wavert/sdk").path)
        for c in candidates where FileManager.default.fileExists(atPath: c + "/include/portcls.h") { return c }
        throw .sdkNotFound(searched: candidates)
    }

    /// The C++ compiler: `$WAVERT_CXX`, the Swift toolchain's clang++, or `clang++` on the PATH.
    public static func compiler() throws(BuildError) -> String {
        let environment = ProcessInfo.processInfo.environment
        if let cxx = environment["WAVERT_CXX"], !cxx.isEmpty { return cxx }
        let path = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        for dir in path where FileManager.default.isExecutableFile(atPath: dir + "/swift") {
            let toolchainBin = URL(fileURLWithPath: dir + "/swift").resolvingSymlinksInPath().deletingLastPathComponent().path
            if FileManager.default.isExecutableFile(atPath: toolchainBin + "/clang++") { return toolchainBin + "/clang++" }
        }
        for dir in path where FileManager.default.isExecutableFile(atPath: dir + "/clang++") { return dir + "/clang++" }
        throw .compilerNotFound
    }

    // MARK: Flags

    /// The compiler flags for a miniport translation unit: the SDK's include
    /// directory, the WDK's defines for an x64 kernel-mode build, a 16-bit
    /// `wchar_t` (so L"..." is WCHAR), Microsoft extensions (`__declspec`,
    /// `#pragma code_seg`), no exceptions or RTTI (as kernel C++), a NULL check
    /// after every placement new, frame pointers and debug information (for
    /// the crash report's backtrace; the library's functions stay in its
    /// dynamic symbol table so the report can name them), position-independent code.
    public static func cflags() throws(BuildError) -> [String] {
        let root = try sdkRoot()
        return ["-I\(root)/include", "-std=c++17", "-fshort-wchar", "-fms-extensions", "-fno-exceptions", "-fno-rtti", "-fcheck-new",
                "-fno-omit-frame-pointer", "-fPIC", "-g",
                "-D_AMD64_", "-D_WIN64", "-D_KERNEL_MODE", "-DNTDDI_VERSION=0x0A00000C", "-D_WIN32_WINNT=0x0A00", "-DDBG=1", "-D_USE_WAVERT_",
                "-Wno-unknown-pragmas", "-Wno-missing-braces", "-Wno-multichar", "-Wno-ignored-pragma-intrinsic", "-Wno-microsoft-anon-tag", "-Wno-nonportable-include-path"]
    }

    /// The linker flags: a shared object whose own references bind to its own
    /// definitions (-Bsymbolic: a replaced global operator delete is the
    /// driver's, as on Windows), with every symbol resolved at link time.
    public static func linkFlags() -> [String] {
        ["-shared", "-fuse-ld=lld", "-Wl,-Bsymbolic", "-Wl,--no-undefined", "-Wl,-z,now"]
    }

    /// Flags for `sanitizers`: instrumented code linked against the shared
    /// sanitizer runtimes of the toolchain (found at run time through the
    /// library's RUNPATH). A library built with AddressSanitizer can only be
    /// loaded by a process that started with the ASan runtime
    /// (`LD_PRELOAD=$(clang++ -print-file-name=libclang_rt.asan-x86_64.so)`, with
    /// `ASAN_OPTIONS=detect_leaks=0`: the emulator names the miniport's leaks itself);
    /// ``CxxMiniportLibrary/open(path:)`` says so instead of letting ASan abort.
    public static func sanitizerFlags(_ sanitizers: [Sanitizer]) throws(BuildError) -> [String] {
        guard !sanitizers.isEmpty else { return [] }
        let list = sanitizers.map(\.rawValue).joined(separator: ",")
        var flags = ["-fsanitize=\(list)", "-shared-libsan", "-fno-sanitize-recover=all"]
        if let runtime = try? run([compiler(), "-print-file-name=libclang_rt.ubsan_standalone-x86_64.so"]).output
            .trimmingCharacters(in: .whitespacesAndNewlines), runtime.hasPrefix("/")
        {
            flags.append("-Wl,-rpath,\(URL(fileURLWithPath: runtime).deletingLastPathComponent().path)")
        }
        return flags
    }

    /// The path of the ASan runtime a process must preload to load an ASan-built miniport.
    public static func addressSanitizerRuntime() -> String? {
        guard let cxx = try? compiler(), let out = try? run([cxx, "-print-file-name=libclang_rt.asan-x86_64.so"]).output else { return nil }
        let path = out.trimmingCharacters(in: .whitespacesAndNewlines)
        return path.hasPrefix("/") ? path : nil
    }

    // MARK: Build

    /// Compiles `sources` with the SDK runtime into the shared library
    /// `output`: `clang++ <cflags> SOURCE... runtime <link flags> [sanitizers] [extra]`.
    /// Returns `output`. Throws with the compiler's messages when it fails.
    @discardableResult
    public static func build(output: String, sources: [String], extraFlags: [String] = [], sanitizers: [Sanitizer] = []) throws(BuildError) -> String {
        guard !sources.isEmpty else { throw .noSources }
        let root = try sdkRoot()
        let command = [try compiler()] + (try cflags()) + sources + ["\(root)/runtime/wavert_runtime.cpp"] + linkFlags()
            + (try sanitizerFlags(sanitizers)) + extraFlags + ["-o", output]
        let result = try run(command)
        guard result.status == 0 else { throw .compilerFailed(command: command, status: result.status, output: result.output) }
        return output
    }

    /// Runs a command, returning its exit status and everything it printed.
    static func run(_ command: [String]) throws(BuildError) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { throw .compilerFailed(command: command, status: -1, output: "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
