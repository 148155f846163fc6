import WaveRTDMA
import WaveRTEngine
import WaveRTMemory
import WaveRTPort

/// `simple`: the smallest honest WaveRT miniport. Its controller does 64-bit
/// scatter-gather, so any pages will do: `AllocatePagesForMdl` up to MAXULONG64,
/// one descriptor per page, two notifications per buffer.
public final class SimpleMiniport: ExampleMiniportDriver<SimpleMiniport.Stream>, @unchecked Sendable {
    override public func getDeviceDescription() -> DeviceDescription {
        DeviceDescription(scatterGather: true, dma32BitAddresses: true, dma64BitAddresses: true, maximumLength: 1 << 20)
    }

    public final class Stream: ExampleStream, @unchecked Sendable {
        override public var exampleName: String { "simple" }

        override public func allocateBuffer(requestedSize: Int, notificationCount: Int) -> Result<AudioBufferAllocation, NTStatus> {
            // Any physical page: the controller reaches all 64 bits.
            guard let mdl = portStream.allocatePagesForMdl(highAddress: .max, totalBytes: requestedSize) else {
                return .failure(.insufficientResources)
            }
            // AllocatePagesForMdl may return less than asked: size the buffer from what we got.
            let size = usableSize(min(mdl.byteCount, requestedSize), notificationCount: notificationCount)
            guard size > 0 else {
                reportNoWholePacket(min(mdl.byteCount, requestedSize), notificationCount: notificationCount, ddi: "AllocatePagesForMdl")
                portStream.freePagesFromMdl(mdl)
                return .failure(.insufficientResources)
            }
            return .success(AudioBufferAllocation(mdl: mdl, actualSize: size, offsetFromFirstPage: 0, cacheType: .cached))
        }

        override public func program(_ dma: DMAController, with buffer: AudioBufferAllocation, notificationCount: Int) throws(DMAProgramError) {
            // One scatter-gather element per page (adjacent pages merged), interrupts at packet ends.
            let packet = buffer.actualSize / max(1, notificationCount)
            let list = [DMADescriptor](mdl: buffer.mdl, port: portStream, length: buffer.actualSize,
                                       maxSegmentLength: dma.profile.maxSegmentLength,
                                       interruptsAt: (1...max(1, notificationCount)).map { $0 * packet })
            try dma.program(descriptors: list, buffer: buffer.mdl)
        }
    }
}
