import Foundation
import Glibc
import Testing
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTPort
import WaveRTSDK
import WaveRTTestSupport

/// C++ miniports built with the SDK and run by the emulator like Swift ones:
/// the C++ `hda` against the Swift `hda` byte for byte, the buggy one's
/// verifier finding, crashes reported and survived, pool leaks by tag, and
/// the driver's own operator new/delete.
@Suite struct CxxMiniportTests {
    static let formats: [StreamFormat] = [
        .cd48k,
        try! StreamFormat(sampleRate: 44_100, channels: 2, sampleFormat: .int16),
        try! StreamFormat(sampleRate: 96_000, channels: 6, sampleFormat: .int32),
    ]

    @Test(arguments: formats)
    func cxxHDAPlaysByteForByteLikeTheSwiftHDA(format: StreamFormat) throws {
        let library = try CxxExamples.library("hda")
        let cxx = try CxxExamples.play(format: format) { try CxxMiniport.load(path: library) }
        let swift = try CxxExamples.play(format: format) { HDAMiniport() }
        #expect(cxx.report.isClean, "glitches \(cxx.report.glitchCount) leaks \(cxx.report.leaks) verifier \(cxx.report.verifier)")
        #expect(cxx.report.guestErrors.isEmpty, "\(cxx.report.guestErrors)")
        #expect(cxx.report.packetErrors == 0 && cxx.report.lateWrites == 0 && cxx.report.eventTimeouts == 0)
        #expect(cxx.played.count >= format.bytesPerSecond * 9 / 10)
        #expect(cxx.played.count == swift.played.count)
        #expect(CxxExamples.firstDifference(cxx.played, swift.played) == nil)
        let reference = CxxExamples.reference(format: format, frames: cxx.played.count / format.blockAlign)
        #expect(CxxExamples.firstDifference(cxx.played, reference) == nil)
    }

    @Test func theLibraryDeclaresItsHardware() throws {
        let miniport = try CxxMiniport.load(path: CxxExamples.library("hda"))
        #expect(miniport.hardware == .hda)
        #expect(try CxxMiniport.load(path: CxxExamples.library("hda"), hardware: .sg).hardware == .sg)
        // A library without WaveRTMiniportHardware drives hda; one whose WaveRTCreateMiniport fails says so at Init.
        let layouts = try CxxExamples.library("layouts")
        #expect(try CxxMiniport.load(path: layouts).hardware == .hda)
        #expect {
            _ = try CxxExamples.play(milliseconds: 10) { try CxxMiniport.load(path: layouts) }
        } throws: { error in
            "\(error)".contains("IMiniportWaveRT::Init failed with STATUS_NOT_SUPPORTED")
        }
    }

    @Test func aPassiveLevelCallFromTheDpcIsAVerifierViolation() throws {
        let library = try CxxExamples.library("buggy")
        let run = try CxxExamples.play(milliseconds: 200) { try CxxMiniport.load(path: library) }
        let findings = run.report.verifier.filter { $0.rule == VerifierRule.irqlTooHigh.description }
        #expect(!findings.isEmpty)
        #expect(findings.allSatisfy { $0.ddi == "IPortWaveRTStream::GetPhysicalPagesCount" && $0.irql == "DISPATCH_LEVEL" }, "\(findings.prefix(2))")
        #expect(run.report.verifier.allSatisfy { $0.rule == VerifierRule.irqlTooHigh.description }, "only that rule: \(run.report.verifier.prefix(3))")
        // It plays fine all the same.
        #expect(run.report.glitchCount == 0)
        #expect(CxxExamples.firstDifference(run.played, CxxExamples.reference(format: .cd48k, frames: run.played.count / 4)) == nil)
    }

    @Test func aCrashInTheDpcIsReportedAndTheRunFinishes() throws {
        let library = try CxxExamples.library("buggy-crash")
        let monitor = CxxMiniportMonitor()
        var notified: CxxCrashReport?
        monitor.onCrash = { notified = $0 }
        let run = try CxxExamples.play(milliseconds: 1000) {
            let miniport = try CxxMiniport.load(path: library, monitor: monitor)
            return miniport
        }
        let crash = try #require(monitor.crash)
        #expect(notified == crash)
        #expect(crash.signal == SIGSEGV && crash.signalName == "SIGSEGV")
        #expect(crash.faultAddress < 4096, "a NULL pointer's field: \(crash.faultAddress)")
        #expect(crash.enteredFrom == "KDEFERRED_ROUTINE (DPC)")
        #expect(crash.lastDDI == "IInterruptSync::CallSynchronizedRoutine")
        #expect(!crash.insideDDI)
        #expect(crash.backtrace.first?.contains("CBuggyStream::DeferredProcedure()") == true, "\(crash.backtrace.prefix(4))")
        #expect(crash.backtrace.contains { $0.contains("CHdaMiniport::DeferredProcedure") && $0.contains("buggy-crash.so") }, "\(crash.backtrace)")
        // The miniport's frames, then where the emulator called it.
        #expect(crash.backtrace.last?.hasPrefix("(called from the emulator:") == true, "\(crash.backtrace)")
        #expect(crash.backtrace.count == 3, "\(crash.backtrace)")
        #expect(crash.description.contains("SIGSEGV") && crash.description.contains("backtrace:"))
        // The run's report is still made, and says what happened.
        #expect(run.report.debugOutput.contains { $0.hasPrefix("*** The miniport crashed: SIGSEGV") })
        // The machine stopped at the crash: the audio ends there and is right up to it
        // (20 DPCs at 2 per 10 ms buffer: about 100 ms).
        #expect(run.played.count > 0 && run.played.count < StreamFormat.cd48k.bytesPerSecond / 5, "\(run.played.count) bytes")
        #expect(CxxExamples.firstDifference(run.played, CxxExamples.reference(format: .cd48k, frames: run.played.count / 4)) == nil)
    }

    @Test func aFailedAssertionIsReportedWithItsText() throws {
        let library = try CxxExamples.library("buggy-assert")
        let monitor = CxxMiniportMonitor()
        let run = try CxxExamples.play(milliseconds: 300) { try CxxMiniport.load(path: library, monitor: monitor) }
        let crash = try #require(monitor.crash)
        #expect(crash.signal == SIGABRT)
        #expect(crash.assertion?.hasPrefix("ASSERT(m_Dpcs < BUGGY_ASSERT_AFTER_DPCS) failed at ") == true, "\(crash.assertion ?? "nil")")
        #expect(crash.assertion?.contains("buggy.cpp") == true)
        #expect(crash.backtrace.contains { $0.contains("CBuggyStream::DeferredProcedure") }, "\(crash.backtrace)")
        #expect(run.report.debugOutput.contains { $0.contains("*** Assertion failed: ASSERT(m_Dpcs < BUGGY_ASSERT_AFTER_DPCS)") })
    }

    @Test func poolLeaksAreNamedByTag() throws {
        let library = try CxxExamples.library("buggy-leak")
        let run = try CxxExamples.play(milliseconds: 100) { try CxxMiniport.load(path: library) }
        #expect(run.report.leaks.contains("pool tag 'Leak': 256 bytes not freed"), "\(run.report.leaks)")
        #expect(run.report.leaks.count == 1, "only the leaked block: \(run.report.leaks)")
        #expect(run.report.verifier.contains { $0.rule == VerifierRule.leakedPool.description && $0.detail.contains("'Leak'") })
    }

    @Test func theDriversOwnOperatorNewAndDeleteGoThroughThePool() throws {
        // The hda example replaces the global operator delete with ExFreePoolWithTag, as SYSVAD does.
        let library = try CxxExamples.library("hda")
        let run = try CxxExamples.play(milliseconds: 100) { try CxxMiniport.load(path: library) }
        // While it runs, its miniport, stream and packet tracker are pool blocks with its tag...
        #expect((run.poolDuringRun["wHDA"] ?? 0) > 0, "\(run.poolDuringRun)")
        // ...and every one came back through the replaced delete, with the right tag.
        #expect(run.report.leaks.isEmpty, "\(run.report.leaks)")
        #expect(run.report.verifier.isEmpty, "\(run.report.verifier)")
    }
}
