import Foundation
import Testing
import WaveRTLoad
import WaveRTTestSupport

/// The load requirement in a few seconds: mixed example streams (hda, isa,
/// simple, sysvad, each its own machine, port and client) in real time on the
/// system clock beside two busy threads at normal priority, with a plain
/// timer thread per CPU at the clients' priority measuring its own wake latency in the
/// same window. 0 glitches but those that follow a stall of the whole machine
/// (a timer thread held off for 2 ms or more within the glitching
/// stream's buffer time), and the IOC→wake p99 within 3× the timer's. The
/// 64-stream, 60 s run against the 2× goal is the benchmark
/// (Benchmarks/LoadBenchmarks); this runs the same 64 streams for 5 s.
///
/// Reproduce: `WAVERT_LOAD_TESTS=1 swift test --filter WaveRTLoadTests` (the figures are printed).
/// It needs the machine to itself: in the full `swift test` the other suites'
/// work (thousands of machines mapped and unmapped, at normal priority but in
/// kernel code a non-preemptible kernel does not leave) stalls the processors
/// in ways no per-CPU timer sees. So it runs only with `WAVERT_LOAD_TESTS=1`,
/// which `.ci/run` sets in a `swift test` of its own after the main one.
@Suite(.serialized, .realTime, .enabled(if: ProcessInfo.processInfo.environment["WAVERT_LOAD_TESTS"] == "1",
                                        "real-time load: WAVERT_LOAD_TESTS=1 swift test --filter WaveRTLoadTests"))
struct LoadTests {
    @Test func sixtyFourMixedStreamsBesideACPUHogStayWithinTheTimerBaseline() throws {
        let configuration = try LoadConfiguration(streams: 64, hogThreads: 2, seconds: 5, warmupSeconds: 1)
        let report = try LoadRun.run(configuration)
        print("load: \(report.summary)")
        // 0 glitches of the emulator's making: a glitch within a buffer after a baseline thread (one per CPU)
        // was held off the processor for 2 ms or more is the machine's (no client keeps up through it).
        #expect(report.unexplainedGlitches == 0, "\(report.glitchEvents.joined(separator: "; "))")
        #expect(report.verifierFindings == 0 && report.leaks == 0)
        // The hog really ran beside the streams.
        #expect(report.hogRounds.count == 2 && report.hogRounds.allSatisfy { $0 > 0 }, "\(report.hogRounds)")
        // Every notification of the window was measured: hda and simple wake every 5 ms, isa every 20 ms.
        let expected = Double(16 * 200 + 16 * 200 + 16 * 50) * report.seconds
        let measured = try #require(report.iocDriven)
        #expect(Double(measured.count) >= 0.95 * expected, "\(measured.count) wakes measured of \(Int(expected)) due")
        // One timer thread per CPU, a wake each millisecond.
        #expect(report.baselineSamples >= UInt64(0.95 * report.seconds * 1000) * UInt64(ProcessInfo.processInfo.activeProcessorCount))
        // The IOC→wake path has two hops (the processor thread woken at the IOC, then the client
        // woken by KeSetEvent), the baseline one: 2× is the goal the benchmark measures
        // (Benchmarks/LoadBenchmarks); the test's bound of 3× catches a path that is systematically
        // late (a client woken by its timeout instead of the event is 50× late and more).
        let ratio = try #require(report.p99Ratio)
        #expect(ratio <= 3, "\(report.summary)")
    }
}

/// A load run's configuration refused before anything starts, naming the argument.
@Suite struct LoadConfigurationTests {
    @Test func aBadConfigurationIsRefusedNamingTheArgument() {
        func refusal(_ make: () throws -> LoadConfiguration) -> String {
            do { _ = try make(); return "accepted" } catch let error as LoadError { return error.description } catch { return "\(error)" }
        }
        #expect(refusal { try LoadConfiguration(streams: 0) }.contains("streams must be 1 to 256"))
        #expect(refusal { try LoadConfiguration(examples: ["hda", "nonesuch"]) }.contains("no example miniport 'nonesuch'"))
        #expect(refusal { try LoadConfiguration(examples: []) }.contains("examples must name"))
        #expect(refusal { try LoadConfiguration(hogThreads: -1) }.contains("hogThreads"))
        #expect(refusal { try LoadConfiguration(seconds: .nan) }.contains("seconds must be"))
        #expect(refusal { try LoadConfiguration(baselinePeriodNanoseconds: 10) }.contains("baselinePeriodNanoseconds"))
        #expect(refusal { try LoadConfiguration(baselinePriority: 100) }.contains("baselinePriority"))
    }
}
