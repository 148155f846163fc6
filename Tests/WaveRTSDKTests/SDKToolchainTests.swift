import Foundation
import Testing
import WaveRTEngine
import WaveRTPort
import WaveRTSDK

/// The SDK's build functions (`wavert sdk cflags`, `wavert sdk build`), the
/// headers' layouts, and the loader's refusals.
@Suite struct SDKToolchainTests {
    @Test func cflagsNameTheSDKHeadersAndTheWDKCompilationModel() throws {
        let flags = try SDKToolchain.cflags()
        let include = try #require(flags.first { $0.hasPrefix("-I") }).dropFirst(2)
        #expect(FileManager.default.fileExists(atPath: include + "/portcls.h"))
        for header in ["wdm.h", "ks.h", "ksmedia.h", "stdunk.h", "portcls.h"] {
            #expect(FileManager.default.fileExists(atPath: include + "/" + header), "\(header)")
        }
        for flag in ["-fshort-wchar", "-fno-exceptions", "-fno-rtti", "-fcheck-new", "-D_KERNEL_MODE", "-D_AMD64_"] {
            #expect(flags.contains(flag), "\(flag)")
        }
    }

    @Test func theHeadersHaveTheWDKsX64Layouts() throws {
        // The fixture's static_asserts compile only if every size and offset matches.
        let library = try CxxExamples.library("layouts")
        #expect(FileManager.default.fileExists(atPath: library))
    }

    @Test func aLayoutThatDiffersFailsTheBuildWithTheCompilersWords() throws {
        let source = CxxExamples.outputDirectory + "/wrong-layout.cpp"
        try "#include <portcls.h>\nstatic_assert(sizeof(KSDATARANGE_AUDIO) == 84, \"not the WDK's\");\n".write(toFile: source, atomically: true, encoding: .utf8)
        #expect {
            try SDKToolchain.build(output: CxxExamples.outputDirectory + "/wrong-layout.so", sources: [source])
        } throws: { error in
            guard case .compilerFailed(_, let status, let output) = error as? SDKToolchain.BuildError else { return false }
            return status != 0 && output.contains("static assertion failed") && output.contains("not the WDK's")
        }
    }

    @Test func aMissingEntryPointFailsAtLinkTime() throws {
        let source = CxxExamples.outputDirectory + "/no-entry.cpp"
        try "#include <portcls.h>\nvoid Nothing() {}\n".write(toFile: source, atomically: true, encoding: .utf8)
        #expect {
            try SDKToolchain.build(output: CxxExamples.outputDirectory + "/no-entry.so", sources: [source])
        } throws: { error in
            guard case .compilerFailed(_, _, let output) = error as? SDKToolchain.BuildError else { return false }
            return output.contains("WaveRTCreateMiniport")
        }
    }

    @Test func sanitizedBuildsLinkTheToolchainsRuntimesAndAskToBePreloaded() throws {
        let output = CxxExamples.outputDirectory + "/hda-asan.so"
        try SDKToolchain.build(output: output, sources: CxxExamples.recipes["hda"]!.sources, sanitizers: [.address, .undefined])
        if CxxExamples.processHasAddressSanitizer {
            // This run has the runtime (`.ci/sanitizers`): the library loads and plays, byte for byte.
            let run = try CxxExamples.play(milliseconds: 200) { try CxxMiniport.load(path: output) }
            #expect(run.report.isClean, "\(run.report.leaks) \(run.report.verifier)")
            #expect(!run.played.isEmpty)
            #expect(CxxExamples.firstDifference(run.played, CxxExamples.reference(format: .cd48k, frames: run.played.count / 4)) == nil)
        } else {
            #expect(throws: CxxMiniportError.needsAddressSanitizer(path: output, runtime: SDKToolchain.addressSanitizerRuntime())) {
                _ = try CxxMiniport.load(path: output)
            }
        }
    }

    @Test func anUndefinedBehaviourSanitizerBuildRunsInProcess() throws {
        // UBSan's runtime may come late (dlopen), unlike ASan's: the library loads and plays.
        let output = CxxExamples.outputDirectory + "/hda-ubsan.so"
        try SDKToolchain.build(output: output, sources: CxxExamples.recipes["hda"]!.sources, sanitizers: [.undefined])
        let run = try CxxExamples.play(milliseconds: 200) { try CxxMiniport.load(path: output) }
        #expect(run.report.isClean, "\(run.report.leaks) \(run.report.verifier)")
        #expect(CxxExamples.firstDifference(run.played, CxxExamples.reference(format: .cd48k, frames: run.played.count / 4)) == nil)
        #expect(!run.played.isEmpty)
    }

    @Test func theLoaderRefusesWhatItCannotRun() throws {
        #expect(throws: CxxMiniportError.notFound(path: "/nonexistent/miniport.so")) { _ = try CxxMiniport.load(path: "/nonexistent/miniport.so") }
        // A shared library not linked with the SDK runtime.
        let source = CxxExamples.outputDirectory + "/plain.cpp"
        try "extern \"C\" int Plain() { return 1; }\n".write(toFile: source, atomically: true, encoding: .utf8)
        let plain = CxxExamples.outputDirectory + "/plain.so"
        let status = try runCompiler([SDKToolchain.compiler(), "-shared", "-fPIC", source, "-o", plain])
        #expect(status == 0)
        #expect(throws: CxxMiniportError.notBuiltWithSDK(path: plain)) { _ = try CxxMiniport.load(path: plain) }
    }

    private func runCompiler(_ command: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
