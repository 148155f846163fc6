import Testing
import WaveRTDMA
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTMemory
import WaveRTPort
import WaveRTTestSupport

/// Found by `wavert fuzz ks-property`: KSPROPERTY_RTAUDIO_BUFFER of 64 MiB on
/// `buggy-partial` (which keeps the size it asked for when AllocatePagesForMdl
/// gives less) made the shared sg descriptor-table writer size its table from
/// the MDL and write past it: the host died with SIGSEGV. The table is now
/// sized from the bytes it describes; the driver's own bug is still caught.
@Suite struct BuggyPartialRegressionTests {
    @Test func aHugeBufferOnBuggyPartialIsRefusedNotACrash() throws {
        let clock = VirtualClock(start: 1_000_000)
        let machine = Machine(timebase: clock)
        defer { machine.shutdown() }
        let adapter = try Adapter(kind: .sg, machine: machine, profile: .pci32SG)
        defer { adapter.shutdown() }
        let port = try WaveRTPort(miniport: try #require(ExampleMiniport.named("buggy-partial")).make(), adapter: adapter)
        let pin = try port.createPin(0, dataFormat: KSDataFormat(.cd48k)).get()
        let result = pin.buffer(requestedSize: 64 << 20, notificationCount: 2)
        // Below 16 MiB there are fewer than 64 MiB: the MDL is partial, the driver reports 64 MiB anyway (16384 table entries where the old table had room for about 4000).
        guard case .failure(let status) = result else { Issue.record("a 64 MiB buffer below 16 MiB was granted"); return }
        #expect(status == .insufficientResources || status == .invalidParameter || status == .invalidDeviceRequest, "\(status)")
        let rules = machine.verifier.violations.map(\.rule.description)
        #expect(rules.contains("BufferLargerThanMdl"), "\(rules)")
        _ = pin.close()
        _ = port.close()
    }
}
