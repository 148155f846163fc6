import Testing
import WaveRTTestSupport
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTPort
import WaveRTSoak

/// `wavert soak` as the library call: the examples soak clean (and the soak
/// did exercise what it claims), the buggy ones are reported, and a failure
/// is caught and replayed exactly from its seed.
@Suite(.apartFromRealTime) struct SoakTests {
    static func example(_ name: String) throws -> SoakTarget { .example(try #require(ExampleMiniport.named(name))) }

    /// Ten minutes of stream time for each correct example: no failure, and
    /// every kind of step happened (reopens on fragmented memory, state
    /// requests, late wakes that cost exactly the glitches the monitor saw).
    @Test(arguments: ["hda", "isa", "simple"])
    func anExampleSoaksClean(_ name: String) throws {
        let report = Soak.run(try Self.example(name), seconds: 600, seed: 20_250_101)
        #expect(report.passed, "\(report.summary)")
        #expect(report.findings.isEmpty)
        // At least the ten minutes; a step's action may take a little more (hda waits for RUN to read 0 at STOP).
        #expect(report.streamNanoseconds >= 600_000_000_000 && report.streamNanoseconds < 600_001_000_000)
        #expect(report.opens >= 5 && report.formats.count >= 3, "\(report.opens) opens, \(report.formats)")
        #expect(report.fragmentations >= 1 && report.stateRequests >= 50)
        #expect(report.lateWakes > 0 && report.wakes > 20 * report.lateWakes)
        #expect(report.expectedGlitches > 0 && report.expectedGlitches == report.reportedGlitches)
        #expect(report.positionChecks >= 2 * report.steps)
    }

    /// SYSVAD's stream logic keeps its flaws on purpose: the soak reports what
    /// they cost (early notifications after a restart: the client overwrites)
    /// and does not fail on them.
    @Test func sysvadsFlawsAreFindings() throws {
        let report = Soak.run(try Self.example("sysvad"), seconds: 300, seed: 1)
        #expect(report.passed, "\(report.summary)")
        #expect(report.findings.contains { $0.kind == .glitch && $0.what.contains("overwrite") }, "\(report.summary)")
    }

    /// Each buggy example's bug is among the soak's findings, named by its check; none fails the soak.
    @Test(arguments: [("buggy-passive-in-dpc", SoakReport.Finding.Kind.verifier, "IrqlTooHigh"),
                      ("buggy-wrong-fmt", .rate, "the device runs at"),
                      ("buggy-cumulative-position", .position, "PlayOffset"),
                      ("buggy-no-ioc", .notification, "no notification"),
                      ("buggy-highmem", .hardware, "descriptor table")])
    func aBuggyExampleReportsItsFinding(_ name: String, _ kind: SoakReport.Finding.Kind, _ words: String) throws {
        let report = Soak.run(try Self.example(name), seconds: 120, seed: 3)
        #expect(report.passed, "\(report.summary)")
        #expect(report.findings.contains { $0.kind == kind && $0.what.contains(words) }, "\(report.summary)")
    }

    /// A miniport whose position drifts by a frame once its pin has been opened
    /// three times: the soak fails at the first position check after the third
    /// open, and the seed it prints replays the same failure, step and instant.
    @Test func anInjectedFailureIsCaughtAndItsSeedReplaysIt() throws {
        let target = SoakTarget(name: "drifting", hardware: .sg, position: .link, packetMode: false, arguments: ["--example", "drifting"],
                                make: { DriftingMiniport(driftAfterOpens: 3) })
        let first = Soak.run(target, seconds: 3_600, seed: 77)
        let failure = try #require(first.failure, "\(first.summary)")
        #expect(failure.kind == .position && failure.what.contains("PlayOffset"), "\(failure)")
        #expect(first.opens == 3, "\(first.summary)")
        #expect(first.summary.contains("replay: wavert soak --example drifting --duration 3600 --seed 77"))
        let replay = Soak.run(target, seconds: 3_600, seed: 77)
        #expect(replay.failure == failure)
        #expect(replay.steps == first.steps && replay.opens == first.opens && replay.formats == first.formats)
        // Another seed makes other choices: the drift is found elsewhere.
        let other = Soak.run(target, seconds: 3_600, seed: 78)
        #expect(other.failure?.kind == .position && other.failure != failure)
    }

    /// A run that cannot be made (a miniport whose Init fails) says so, and nothing crashes.
    @Test func aMiniportThatCannotInitialiseIsAnOpenFailure() {
        let target = SoakTarget(name: "dead", hardware: .hda, position: .link, packetMode: false, arguments: [],
                                make: { DeadMiniport() })
        let report = Soak.run(target, seconds: 10, seed: 1)
        #expect(report.failure?.kind == .open, "\(report.summary)")
        #expect(report.steps == 0)
    }
}

/// `simple` with an injected bug: after `driftAfterOpens` streams, GetPosition
/// reports one frame more than the device's position register.
final class DriftingMiniport: SimpleMiniport, @unchecked Sendable {
    let driftAfterOpens: Int
    private(set) var opens = 0

    init(driftAfterOpens: Int) {
        self.driftAfterOpens = driftAfterOpens
        super.init()
    }

    override func makeStream(capture: Bool, format: StreamFormat, portStream: any PortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus> {
        opens += 1
        return .success(attach(Stream(miniport: self, channel: capture ? 1 : 0, format: format, portStream: portStream,
                                      drifts: opens >= driftAfterOpens)))
    }

    final class Stream: SimpleStream, @unchecked Sendable {
        let drifts: Bool
        let frame: UInt64
        private var size: UInt64 = 0
        init(miniport: SimpleMiniport, channel: Int, format: StreamFormat, portStream: any PortWaveRTStream, drifts: Bool) {
            self.drifts = drifts
            frame = UInt64(format.blockAlign)
            super.init(miniport: miniport, channel: channel, format: format, portStream: portStream)
        }

        override func allocate(_ requested: Int, notifications: Int) -> Result<AudioBufferAllocation, NTStatus> {
            let result = super.allocate(requested, notifications: notifications)
            if case .success(let a) = result { size = UInt64(a.actualSize) }
            return result
        }

        override func getPosition(_ position: inout KSAudioPosition) -> NTStatus {
            let status = super.getPosition(&position)
            if drifts, size > 0 { position.playOffset = (position.playOffset + frame) % size }
            return status
        }
    }
}

/// A miniport whose Init fails.
final class DeadMiniport: ExampleMiniportDriver, @unchecked Sendable {
    override func initialize(unknownAdapter: AnyObject?, resourceList: ResourceList, port: any PortWaveRT) -> NTStatus { .deviceNotReady }
}
