import WaveRTDMA
import WaveRTEngine
import WaveRTMemory
import WaveRTPort

/// `isa`: a Sound Blaster style miniport on an Intel 8237 DMA channel.
///
/// The 8237 reaches only the first 16 MiB (24 address bits), needs one
/// physically contiguous buffer, and its 16-bit address counter cannot carry
/// into the page register, so a transfer may not cross a 64 KiB boundary
/// (128 KiB on 16-bit channels). The driver therefore asks for contiguous pages
/// inside one boundary-aligned window below 16 MiB at a time, from the top.
///
/// On fragmented memory the request may fail everywhere: the driver halves the
/// buffer and tries again, says so, and gives up cleanly (STATUS_INSUFFICIENT_RESOURCES)
/// below the smallest buffer it can run with.
public final class ISAMiniport: ExampleMiniportDriver<ISAMiniport.Stream>, @unchecked Sendable {
    override public func getDeviceDescription() -> DeviceDescription {
        DeviceDescription(scatterGather: false, dma32BitAddresses: false, dma64BitAddresses: false,
                          maximumLength: Int(port?.device.dmaProfile.boundary ?? 65_536))
    }

    public final class Stream: ExampleStream, @unchecked Sendable {
        /// The smallest buffer worth running: 4 KiB.
        static let minimumBuffer = 4096
        static let highestAddress: UInt64 = 0xFF_FFFF  // 16 MiB - 1

        override public var exampleName: String { "isa" }
        override public var hasPositionRegister: Bool { false }  // the port polls GetPosition instead

        override public func allocateBuffer(requestedSize: Int, notificationCount: Int) -> Result<AudioBufferAllocation, NTStatus> {
            let profile = port.device.dmaProfile
            let window = Int(profile.boundary > 0 ? profile.boundary : 65_536)
            // Never below the smallest buffer worth running, however short the request.
            var size = min(max(requestedSize, Self.minimumBuffer), window, profile.maxSegmentLength)
            while size >= Self.minimumBuffer {
                if let mdl = allocateInsideOneWindow(size: size, window: window) {
                    if size < requestedSize {
                        port.device.report(.warning, ddi: "isa: AllocateContiguousPagesForMdl", argument: "TotalBytes",
                                           rule: "no \(requestedSize) contiguous bytes below 16 MiB inside one \(window / 1024) KiB window",
                                           outcome: "fell back to a \(size)-byte buffer")
                    }
                    let usable = usableSize(size, notificationCount: notificationCount, granule: profile.segmentAlignment)
                    guard usable > 0 else {
                        reportNoWholePacket(size, notificationCount: notificationCount, granule: profile.segmentAlignment,
                                            ddi: "AllocateContiguousPagesForMdl")
                        portStream.freePagesFromMdl(mdl)
                        return .failure(.insufficientResources)
                    }
                    return .success(AudioBufferAllocation(mdl: mdl, actualSize: usable, offsetFromFirstPage: 0, cacheType: .nonCached))
                }
                size /= 2
            }
            port.device.report(ddi: "isa: AllocateContiguousPagesForMdl", argument: "TotalBytes",
                               rule: "not even \(Self.minimumBuffer) contiguous bytes below 16 MiB inside one \(window / 1024) KiB window",
                               outcome: "allocation failed with STATUS_INSUFFICIENT_RESOURCES")
            return .failure(.insufficientResources)
        }

        /// Tries each boundary-aligned window below 16 MiB, highest first: a buffer
        /// inside one window can never cross the boundary.
        private func allocateInsideOneWindow(size: Int, window: Int) -> MDL? {
            var low = (Self.highestAddress + 1) - UInt64(window)
            while true {
                if let mdl = portStream.allocateContiguousPagesForMdl(
                    lowAddress: PhysicalAddress(low), highAddress: PhysicalAddress(low + UInt64(window) - 1), totalBytes: size)
                {
                    return mdl
                }
                if low == 0 { return nil }
                low -= UInt64(window)
            }
        }

        override public func program(_ dma: DMAController, with buffer: AudioBufferAllocation, notificationCount: Int) throws(DMAProgramError) {
            // Base address and count registers, auto-initialise mode.
            try dma.program(baseAddress: portStream.physicalPageAddress(buffer.mdl, index: 0), length: buffer.actualSize,
                            buffer: buffer.mdl)
        }
    }
}
