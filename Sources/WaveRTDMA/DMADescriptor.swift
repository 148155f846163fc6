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
