import WaveRTClient
import WaveRTDMA
import WaveRTEngine
import WaveRTExamples
import WaveRTMemory
import WaveRTPort
import WaveRTTiming

/// Runs examples through the suite as `wavert timing` does.
enum Examples {
    static func named(_ name: String) -> ExampleMiniport { ExampleMiniport.named(name)! }

    /// The example's stream, with what a test changes.
    static func setup(_ name: String, format: StreamFormat? = nil, bufferFrames: Int? = nil, bufferMilliseconds: Int? = nil,
                      notifications: Int? = nil, faithfulFaults: Bool = false, coarsePosition: Bool = false) -> StreamSetup
    {
        let ex = named(name)
        let format = format ?? ex.format
        let count = notifications ?? ex.notificationCount
        let frames = bufferFrames
            ?? StreamSetup.frames(milliseconds: Double(bufferMilliseconds ?? ex.bufferMilliseconds), rate: format.sampleRate,
                                  notificationCount: count)
        var setup = StreamSetup(hardware: ex.hardware, format: format, bufferFrames: frames, notificationCount: count,
                                mode: ex.packetMode ? .packet : .event)
        if let profile = ex.profileName { setup.dmaProfile = DMAProfile.preset(named: profile) }
        setup.faithfulFaults = faithfulFaults
        setup.coarsePosition = coarsePosition
        return setup
    }

    /// Runs `name` with `setup` (default: the example's) through `scenario`.
    static func run(_ name: String, _ setup: StreamSetup? = nil, scenario: TimingScenario = TimingScenario(),
                    memory: PhysicalMemory = PhysicalMemory()) throws -> TimingReport
    {
        try TimingSuite.run(miniport: named(name).make, setup: setup ?? Self.setup(name), scenario: scenario, name: name, memory: memory)
    }
}
