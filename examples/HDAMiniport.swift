import WaveRTDMA
import WaveRTEngine
import WaveRTMemory
import WaveRTPort

/// `hda`: an Intel High Definition Audio style miniport.
///
/// - The controller's GCAP register does not report 64-bit support, so the
///   buffer must lie below 4 GiB: `AllocatePagesForMdl(HighAddress = 0xFFFFFFFF)`.
/// - The stream DMA walks a buffer descriptor list (BDL) of at most 256 entries;
///   the driver builds it by hand from `GetPhysicalPageAddress`, one entry per
///   page, split where a packet ends so that entry can carry IOC (interrupt on
///   completion) for the notification.
/// - Buffers and BDL entries are 128-byte aligned; the FIFO holds 64 frames.
/// - LPIB (link position in buffer) is the position register a client may map.
/// - The client maps the buffer write-combined, and the stream does packet mode
///   (IMiniportWaveRTOutputStream).
public final class HDAMiniport: ExampleMiniportDriver<HDAMiniport.Stream>, @unchecked Sendable {
    override public func getDeviceDescription() -> DeviceDescription {
        DeviceDescription(scatterGather: true, dma32BitAddresses: true, dma64BitAddresses: false, maximumLength: 256 * 4096)
    }

    /// One BDL entry as the hardware reads it: 64-bit address, 32-bit length, IOC in bit 0 of the flags.
    struct BDLEntry {
        var address: UInt64
        var length: UInt32
        var ioc: Bool
    }

    public final class Stream: ExampleStream, @unchecked Sendable {
        static let bdlEntries = 256
        static let alignment = 128

        override public var exampleName: String { "hda" }
        override public var codecDelay: UInt32 { 5_000 }  // 0.5 ms of DAC group delay, in 100-ns units
        override public var supportsPackets: Bool { true }

        override public func allocateBuffer(requestedSize: Int, notificationCount: Int) -> Result<AudioBufferAllocation, NTStatus> {
            // 32-bit addressing: every page below 4 GiB.
            guard let mdl = portStream.allocatePagesForMdl(highAddress: 0xFFFF_FFFF, totalBytes: requestedSize) else {
                return .failure(.insufficientResources)
            }
            // A partial allocation is fine as long as it is whole packets of 128-byte multiples.
            let size = usableSize(min(mdl.byteCount, requestedSize), notificationCount: notificationCount, granule: Self.alignment)
            guard size > 0 else {
                reportNoWholePacket(min(mdl.byteCount, requestedSize), notificationCount: notificationCount, granule: Self.alignment,
                                    ddi: "AllocatePagesForMdl")
                portStream.freePagesFromMdl(mdl)
                return .failure(.insufficientResources)
            }
            return .success(AudioBufferAllocation(mdl: mdl, actualSize: size, offsetFromFirstPage: 0, cacheType: .writeCombined))
        }

        override public func program(_ dma: DMAController, with buffer: AudioBufferAllocation, notificationCount: Int) throws(DMAProgramError) {
            let bdl = buildBDL(buffer, notificationCount: notificationCount)
            // Writing SDnBDPL/SDnBDPU, SDnCBL and SDnLVI: here, handing the list to the controller.
            try dma.program(descriptors: bdl.map { DMADescriptor(address: PhysicalAddress($0.address), length: Int($0.length),
                                                                 interruptOnCompletion: $0.ioc) },
                            buffer: buffer.mdl)
        }

        /// One entry per page of the buffer, cut where each packet ends (IOC set there).
        func buildBDL(_ buffer: AudioBufferAllocation, notificationCount: Int) -> [BDLEntry] {
            let pageSize = buffer.mdl.pageSize
            let packet = buffer.actualSize / max(1, notificationCount)
            var entries: [BDLEntry] = []
            var offset = 0
            while offset < buffer.actualSize {
                let inBuffer = buffer.offsetFromFirstPage + offset
                let page = inBuffer / pageSize
                let address = portStream.physicalPageAddress(buffer.mdl, index: page).rawValue + UInt64(inBuffer % pageSize)
                let nextPacketEnd = (offset / packet + 1) * packet
                let length = min(pageSize - inBuffer % pageSize, nextPacketEnd - offset)
                entries.append(BDLEntry(address: address, length: UInt32(length), ioc: offset + length == nextPacketEnd))
                offset += length
            }
            return entries
        }
    }
}
