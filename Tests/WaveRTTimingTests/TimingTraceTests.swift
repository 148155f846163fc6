import Foundation
import Testing
import WaveRTClient
import WaveRTEngine
import WaveRTTiming

/// The timing suite traced: what its probe reads from the client's side is
/// on the stream's position track, read for read, and the trace of a
/// virtual-clock run is the same bytes every time.
@Suite struct TimingTraceTests {
    static func traced(_ name: String) throws -> (TimingReport, [UInt8]) {
        let trace = TraceRecorder(capacity: 1 << 16)
        let report = try TimingSuite.run(miniport: Examples.named(name).make, setup: Examples.setup(name),
                                         scenario: TimingScenario(steps: TimingScenario.standardSteps(seconds: 1)), name: name, trace: trace)
        #expect(trace.droppedCount == 0)
        return (report, ChromeTrace.json(trace, metadata: [("miniport", name)]))
    }

    @Test func theProbesReadsAreOnThePositionTrack() throws {
        let (report, json) = try Self.traced("hda")
        #expect(report.pass, "\(report.failures)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
        let events = try #require(object["traceEvents"] as? [[String: Any]])
        func count(_ name: String) -> Int { events.filter { $0["name"] as? String == name }.count }
        // Every KSPROPERTY_AUDIO_POSITION the probe read (its readings, and one per notification it
        // saw) is there; the register is read by the probe and by the client itself.
        #expect(count("KSPROPERTY_AUDIO_POSITION") >= report.position.readings)
        #expect(count("position register") >= (report.positionRegister?.readings ?? .max))
        // The scenario's states, with the PAUSE and the STOP.
        let states = events.compactMap { $0["name"] as? String }.filter { $0.hasPrefix("KSSTATE_") }
        #expect(states.contains("KSSTATE_PAUSE") && states.filter { $0 == "KSSTATE_RUN" }.count == 3, "\(states)")
    }

    @Test func aVirtualClockRunTracesTheSameEveryTime() throws {
        #expect(try Self.traced("simple").1 == (try Self.traced("simple").1))
    }
}
