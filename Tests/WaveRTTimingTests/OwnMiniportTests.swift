import Testing
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTTiming

/// What a driver writer's own test looks like: their miniport, the hardware it drives, a few lines.
@Test func myMiniportKeepsTime() throws {
    let setup = StreamSetup(hardware: .sg, format: .cd48k, bufferFrames: 480, notificationCount: 2)
    let report = try TimingSuite.run(miniport: { SimpleMiniport() }, setup: setup, scenario: TimingScenario())
    try report.requirePass()
    #expect(report.summary.hasSuffix("PASS"))
}

/// The same miniport asked for a format its hardware cannot play: the run cannot be made, and says why.
@Test func aRefusedStreamIsAnErrorNamingTheFormat() {
    let setup = StreamSetup(hardware: .isa, format: .cd48k, bufferFrames: 480, notificationCount: 2)
    #expect {
        _ = try TimingSuite.run(miniport: { ISAMiniport() }, setup: setup, scenario: TimingScenario())
    } throws: { error in
        (error as? TimingError)?.description.contains("48000 Hz") == true
    }
}
