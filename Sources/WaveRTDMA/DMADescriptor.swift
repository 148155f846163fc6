import WaveRTMemory

/// One entry of a descriptor list as the miniport writes it into its hardware:
/// an HD Audio BDL entry (64-bit address, 32-bit length, IOC flag) or a
/// scatter-gather element. A contiguous controller gets exactly one.
public struct DMADescriptor: Sendable, Hashable, CustomStringConvertible {
    public var address: PhysicalAddress
    public var length: Int
    /// Interrupt on completion: raise the controller's interrupt when the last
    /// byte of this segment has been transferred.
    public var interruptOnCompletion: Bool

    public init(address: PhysicalAddress, length: Int, interruptOnCompletion: Bool = false) {
        self.address = address
        self.length = length
        self.interruptOnCompletion = interruptOnCompletion
    }

    public var description: String {
        "[\(address) +\(length)\(interruptOnCompletion ? " IOC" : "")]"
    }
}

extension Array where Element == DMADescriptor {
    /// The descriptor list a typical miniport builds for a cyclic buffer: one
    /// entry per page from `port.physicalPageAddress(mdl, index:)`, starting
    /// `offset` bytes into the first page and covering `length` bytes, physically
    /// adjacent pages merged while the merged entry stays under `maxSegmentLength`.
    /// `interruptsAt` lists buffer offsets where a segment must end with IOC set
    /// (say the midpoint and the end, for two notifications per buffer).
    public init(mdl: MDL, port: any PortWaveRTStream, offset: Int = 0, length: Int,
                maxSegmentLength: Int = .max, interruptsAt: [Int] = [])
    {
        self = []
        let pageSize = mdl.pageSize
        var position = 0  // offset into the buffer
        let cuts = Set(interruptsAt)
        while position < length {
            let absolute = offset + position
            let page = absolute / pageSize
            let address = port.physicalPageAddress(mdl, index: page) + UInt64(absolute % pageSize)
            var chunk = Swift.min(pageSize - absolute % pageSize, length - position)
            if let nextCut = cuts.filter({ $0 > position }).min() { chunk = Swift.min(chunk, nextCut - position) }
            let endsAtCut = cuts.contains(position + chunk)
            if var last = self.last, last.address + UInt64(last.length) == address,
               last.length + chunk <= maxSegmentLength, !last.interruptOnCompletion
            {
                last.length += chunk
                last.interruptOnCompletion = endsAtCut
                self[self.count - 1] = last
            } else {
                self.append(DMADescriptor(address: address, length: chunk, interruptOnCompletion: endsAtCut))
            }
            position += chunk
        }
    }
}
