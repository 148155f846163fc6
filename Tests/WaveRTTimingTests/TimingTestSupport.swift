import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine
import WaveRTPort
import WaveRTExamples
import WaveRTTiming

extension TimingScenario {
    /// `example`'s stream and client on `clock`, through `steps`.
    static func of(_ example: ExampleMiniport, steps: [Step], clock: Clock = .virtual,
                   bufferMilliseconds: Int? = nil, source: PositionSource = .automatic) -> TimingScenario
    {
        TimingScenario(format: example.format, bufferMilliseconds: bufferMilliseconds ?? example.bufferMilliseconds,
                       notificationCount: example.notificationCount, clientMode: example.clientMode,
                       steps: steps, clock: clock, positionSource: source)
    }
}

enum Examples {
    static func named(_ name: String) -> ExampleMiniport { ExampleMiniport.named(name)! }

    /// Runs `name` through `scenario`.
    static func run(_ name: String, _ scenario: TimingScenario) throws -> TimingReport {
        let example = named(name)
        return try TimingSuite.run(miniport: example.make, profile: example.profile, scenario: scenario, name: name)
    }
}

/// A miniport whose GetPosition lies the way real drivers do: `simple`'s
/// hardware underneath, no position register (so the port and the suite fall
/// back to GetPosition), and PlayOffset computed from the true frames elapsed
/// by `rewrite(frames, rate)`.
final class RewrittenPositionMiniport: MiniportWaveRT, @unchecked Sendable {
    private let inner = SimpleMiniport()
    private let rewrite: @Sendable (UInt64, UInt64) -> UInt64

    init(rewrite: @escaping @Sendable (_ frames: UInt64, _ rate: UInt64) -> UInt64) { self.rewrite = rewrite }

    /// SYSVAD: the position advances on a 1 ms timer in whole milliseconds.
    static func wholeMilliseconds() -> RewrittenPositionMiniport {
        RewrittenPositionMiniport { frames, rate in frames * 1000 / rate * rate / 1000 }
    }

    /// A clock 2 % fast.
    static func twoPercentFast() -> RewrittenPositionMiniport {
        RewrittenPositionMiniport { frames, _ in frames * 51 / 50 }
    }

    func initialize(port: SimulatedPortWaveRT) -> NTStatus { inner.initialize(port: port) }
    func getDeviceDescription() -> DeviceDescription { inner.getDeviceDescription() }
    func newStream(pin: Int, capture: Bool, format: StreamFormat,
                   portStream: SimulatedPortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus>
    {
        inner.newStream(pin: pin, capture: capture, format: format, portStream: portStream).map {
            Stream(inner: $0 as! ExampleStream, rewrite: rewrite)
        }
    }

    final class Stream: MiniportWaveRTStreamNotification, @unchecked Sendable {
        let inner: ExampleStream
        let rewrite: @Sendable (UInt64, UInt64) -> UInt64

        init(inner: ExampleStream, rewrite: @escaping @Sendable (UInt64, UInt64) -> UInt64) {
            self.inner = inner
            self.rewrite = rewrite
        }

        func getPosition() -> Result<AudioPosition, NTStatus> {
            guard let hw = inner.hardware else { return inner.getPosition() }
            let frames = rewrite(hw.framesElapsed(), UInt64(hw.format.sampleRate))
            let bytes = frames * UInt64(hw.format.blockAlign) % UInt64(hw.bufferBytes)
            return .success(AudioPosition(playOffset: bytes, writeOffset: hw.getPosition().writeOffset))
        }

        func getPositionRegister() -> Result<HardwareRegister, NTStatus> { .failure(.notSupported) }
        func getClockRegister() -> Result<HardwareRegister, NTStatus> { .failure(.notSupported) }
        func setFormat(_ format: StreamFormat) -> NTStatus { inner.setFormat(format) }
        func setState(_ state: KSState) -> NTStatus { inner.setState(state) }
        func allocateAudioBuffer(requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
            inner.allocateAudioBuffer(requestedSize: requestedSize)
        }
        func freeAudioBuffer(_ mdl: MDL, size: Int) { inner.freeAudioBuffer(mdl, size: size) }
        func getHWLatency() -> HardwareLatency { inner.getHWLatency() }
        func allocateBufferWithNotification(notificationCount: Int, requestedSize: Int) -> Result<AudioBufferAllocation, NTStatus> {
            inner.allocateBufferWithNotification(notificationCount: notificationCount, requestedSize: requestedSize)
        }
        func freeBufferWithNotification(_ mdl: MDL, size: Int) { inner.freeBufferWithNotification(mdl, size: size) }
        func registerNotificationEvent(_ event: NotificationEvent) -> NTStatus { inner.registerNotificationEvent(event) }
        func unregisterNotificationEvent(_ event: NotificationEvent) -> NTStatus { inner.unregisterNotificationEvent(event) }
    }
}
