import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine
import WaveRTPort
import WaveRTExamples
import WaveRTTiming
import XCTest

/// What a driver writer's own test looks like: a miniport of theirs, a few lines.

/// A tiny miniport of one's own: a 64-bit scatter-gather controller, pages anywhere.
final class TinyMiniport: MiniportWaveRT, @unchecked Sendable {
    private var port: SimulatedPortWaveRT?

    func initialize(port: SimulatedPortWaveRT) -> NTStatus {
        self.port = port
        return .success
    }

    func getDeviceDescription() -> DeviceDescription {
        DeviceDescription(scatterGather: true, dma32BitAddresses: true, dma64BitAddresses: true, maximumLength: 1 << 20)
    }

    func newStream(pin: Int, capture: Bool, format: StreamFormat,
                   portStream: SimulatedPortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus>
    {
        guard let port else { return .failure(.deviceNotReady) }
        return .success(Stream(port: port, portStream: portStream, capture: capture, format: format))
    }

    final class Stream: ExampleStream, @unchecked Sendable {
        override var exampleName: String { "tiny" }

        override func allocateBuffer(requestedSize: Int, notificationCount: Int) -> Result<AudioBufferAllocation, NTStatus> {
            guard let mdl = portStream.allocatePagesForMdl(highAddress: .max, totalBytes: requestedSize) else {
                return .failure(.insufficientResources)
            }
            let size = usableSize(min(mdl.byteCount, requestedSize), notificationCount: notificationCount)
            return .success(AudioBufferAllocation(mdl: mdl, actualSize: size, offsetFromFirstPage: 0, cacheType: .cached))
        }

        override func program(_ dma: DMAController, with buffer: AudioBufferAllocation, notificationCount: Int) throws(DMAProgramError) {
            let packet = buffer.actualSize / max(1, notificationCount)
            try dma.program(descriptors: [DMADescriptor](mdl: buffer.mdl, port: portStream, length: buffer.actualSize,
                                                         maxSegmentLength: dma.profile.maxSegmentLength,
                                                         interruptsAt: (1...max(1, notificationCount)).map { $0 * packet }),
                            buffer: buffer.mdl)
        }
    }
}

@Test func myMiniportKeepsTime() throws {
    let report = try TimingSuite.run(miniport: { TinyMiniport() }, profile: .pcie64SG, scenario: TimingScenario())
    try report.requirePass()
}

/// The same from XCTest.
final class TinyMiniportXCTests: XCTestCase {
    func testMyMiniportKeepsTime() throws {
        let report = try TimingSuite.run(miniport: { TinyMiniport() }, profile: .pcie64SG, scenario: TimingScenario())
        XCTAssertTrue(report.pass, report.summary)
        XCTAssertNoThrow(try report.requirePass())
    }
}
