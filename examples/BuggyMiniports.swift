import WaveRTDMA
import WaveRTEngine
import WaveRTMemory
import WaveRTPort

/// `buggy-highmem`: a deliberately wrong miniport, for learning what the
/// emulator catches. Its controller addresses only 32 bits, but it allocates
/// its buffer with `AllocatePagesForMdl(HighAddress = MAXULONG64)`: on a machine
/// with memory above 4 GiB the pages land up there.
///
/// The bug on Windows: silence or noise on big machines only. Here: the DMA
/// refuses the program and the diagnostic names the segment, the address and
/// the 32-bit limit; with `--faithful-faults` the controller drops the high
/// address bits, as the silicon does, and plays whatever lies 4 GiB lower.
public final class BuggyHighMemoryMiniport: ExampleMiniportDriver<BuggyHighMemoryMiniport.Stream>, @unchecked Sendable {
    override public func getDeviceDescription() -> DeviceDescription {
        DeviceDescription(scatterGather: true, dma32BitAddresses: true, dma64BitAddresses: false, maximumLength: 1 << 20)
    }

    public final class Stream: ExampleStream, @unchecked Sendable {
        override public var exampleName: String { "buggy-highmem" }

        override public func allocateBuffer(requestedSize: Int, notificationCount: Int) -> Result<AudioBufferAllocation, NTStatus> {
            // BUG: the controller is 32-bit; this should be highAddress: 0xFFFF_FFFF.
            guard let mdl = portStream.allocatePagesForMdl(highAddress: .max, totalBytes: requestedSize) else {
                return .failure(.insufficientResources)
            }
            let size = usableSize(min(mdl.byteCount, requestedSize), notificationCount: notificationCount)
            return .success(AudioBufferAllocation(mdl: mdl, actualSize: size, offsetFromFirstPage: 0, cacheType: .cached))
        }

        override public func program(_ dma: DMAController, with buffer: AudioBufferAllocation, notificationCount: Int) throws(DMAProgramError) {
            let list = [DMADescriptor](mdl: buffer.mdl, port: portStream, length: buffer.actualSize,
                                       maxSegmentLength: dma.profile.maxSegmentLength)
            try dma.program(descriptors: list, buffer: buffer.mdl)
        }
    }
}

/// `buggy-partial`: ignores a partial allocation. `AllocatePagesForMdl` may
/// return fewer bytes than asked ("the caller must verify how many bytes are
/// actually allocated"); this driver reports the size it asked for and builds
/// its descriptor list for pages it never got. Harmless on an idle machine,
/// wrong when memory below its limit runs short (as with `fragment`).
public final class BuggyPartialMiniport: ExampleMiniportDriver<BuggyPartialMiniport.Stream>, @unchecked Sendable {
    override public func getDeviceDescription() -> DeviceDescription {
        DeviceDescription(scatterGather: true, dma32BitAddresses: true, dma64BitAddresses: false, maximumLength: 1 << 20)
    }

    public final class Stream: ExampleStream, @unchecked Sendable {
        override public var exampleName: String { "buggy-partial" }

        override public func allocateBuffer(requestedSize: Int, notificationCount: Int) -> Result<AudioBufferAllocation, NTStatus> {
            // Asks for memory below 16 MiB, where a busy machine has little.
            guard let mdl = portStream.allocatePagesForMdl(highAddress: 0xFF_FFFF, totalBytes: requestedSize) else {
                return .failure(.insufficientResources)
            }
            // BUG: should be min(mdl.byteCount, requestedSize).
            let size = usableSize(requestedSize, notificationCount: notificationCount)
            return .success(AudioBufferAllocation(mdl: mdl, actualSize: size, offsetFromFirstPage: 0, cacheType: .cached))
        }

        override public func program(_ dma: DMAController, with buffer: AudioBufferAllocation, notificationCount: Int) throws(DMAProgramError) {
            let list = [DMADescriptor](mdl: buffer.mdl, port: portStream, length: buffer.actualSize,
                                       maxSegmentLength: dma.profile.maxSegmentLength)
            try dma.program(descriptors: list, buffer: buffer.mdl)
        }
    }
}
