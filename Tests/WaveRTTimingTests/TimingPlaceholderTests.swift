import Testing
import WaveRT
import Foundation

@Test func speedProbe() throws {
    for name in ["simple", "hda", "isa"] {
    let example = ExampleMiniport.named(name)!
    let clock = VirtualClock()
    let configuration = SessionConfiguration(format: example.format, bufferMilliseconds: example.bufferMilliseconds,
        notificationCount: example.notificationCount, clientMode: example.clientMode, dmaProfile: example.profile)
    let session = try MiniportSession(miniport: example.make(), configuration: configuration, source: SilenceGenerator(),
                                      engine: AudioEngine(timebase: clock))
    try session.start()
    let t0 = Date()
    clock.advance(by: 60_000_000_000)
    let dt = Date().timeIntervalSince(t0)
    print("\(name): 60 s of stream in \(dt) s, passes \(session.engine.passCount), glitches \(session.hardware!.glitchCount)")
    session.finish()
    }
}
