import Testing
import WaveRTTiming

@Test func timingModuleLinks() { _ = WaveRTTiming.self }
