import WaveRTDMA
import WaveRTMemory

extension Array where Element == DMADescriptor {
    /// The descriptor list a driver writes for bytes [offset, offset + length)
    /// of `mdl`: physically adjacent pages share one segment, segments are cut
    /// at `maxSegmentLength` and at each offset in `interruptsAt` (where the
    /// segment ending there gets IOC).
    init(mdl: MDL, offset: Int = 0, length: Int, maxSegmentLength: Int = .max, interruptsAt: [Int] = []) {
        self = []
        let ps = mdl.pageSize
        var at = offset
        let end = offset + length
        while at < end {
            let address = mdl.physicalAddress(ofPage: at / ps) + UInt64(at % ps)
            var segment = 0
            // Grow while the next byte is physically adjacent and no cut point intervenes.
            while at + segment < end {
                let position = at + segment
                let physical = mdl.physicalAddress(ofPage: position / ps) + UInt64(position % ps)
                if physical != address + UInt64(segment) || segment == maxSegmentLength { break }
                if segment > 0 && interruptsAt.contains(position - offset) { break }
                let inPage = ps - position % ps
                segment += Swift.min(inPage, end - position, interruptsAt.map { $0 + offset - position }.filter { $0 > 0 }.min() ?? .max,
                                     maxSegmentLength - segment)
            }
            let ioc = interruptsAt.contains(at + segment - offset)
            append(DMADescriptor(address: address, length: segment, interruptOnCompletion: ioc))
            at += segment
        }
    }
}
