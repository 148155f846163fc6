import WaveRTClient
import WaveRTDMA
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTPort

extension ExampleMiniport {
    /// The example's DMA profile when it needs one other than its hardware's default.
    public var dmaProfile: DMAProfile? { profileName.flatMap { DMAProfile.preset(named: $0) } }

    /// How the audio engine's client is woken on this example's render stream:
    /// packet mode when the example does packets, else on its events.
    public var clientMode: ClientMode { packetMode ? .packet : .event }

    /// A stream of this example: its defaults, each overridable (what the
    /// command line's flags say). `bufferFrames` wins over `bufferMilliseconds`.
    public func streamSetup(format: StreamFormat? = nil, bufferMilliseconds: Double? = nil, bufferFrames: Int? = nil,
                            notificationCount: Int? = nil, dmaProfile: DMAProfile? = nil, faithfulFaults: Bool = false,
                            timerResolution: Machine.TimerResolution = .standard, capture: Bool = false) -> StreamSetup
    {
        RunMiniport(example: self).streamSetup(format: format, bufferMilliseconds: bufferMilliseconds, bufferFrames: bufferFrames,
                                               notificationCount: notificationCount, dmaProfile: dmaProfile, faithfulFaults: faithfulFaults,
                                               timerResolution: timerResolution, capture: capture)
    }

    /// Whether this example opens `setup`'s stream: the port, the pin and the
    /// client's buffer set up once on a virtual clock, then torn down. Nil when
    /// it does; else why not, with what the example's hardware takes.
    public func refusal(of setup: StreamSetup) -> String? { RunMiniport(example: self).refusal(of: setup) }
}
