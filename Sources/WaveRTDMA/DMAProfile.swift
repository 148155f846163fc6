import WaveRTMemory

/// What one DMA controller can do: the limits a miniport's buffer must meet.
///
/// Presets model the controllers WaveRT drivers are written for (``presets``);
/// users describe their own in a JSON file (see `Resources/dma-profiles/`).
/// All sizes are in bytes.
public struct DMAProfile: Sendable, Hashable, Codable {
    /// Short name, used by `--dma` and in messages ("controller hda").
    public var name: String
    /// One line on what the controller is.
    public var summary: String
    /// Address lines: 24 (ISA), 32, 36, 64. Bytes at or above 2^addressBits are out of reach.
    public var addressBits: Int
    /// Whether the controller walks a descriptor list (scatter-gather) or needs
    /// one physically contiguous buffer given as a base address and a length.
    public var scatterGather: Bool
    /// Most descriptor-list entries (1 for a contiguous controller).
    public var maxSegments: Int
    /// Every segment's address must be a multiple of this.
    public var segmentAlignment: Int
    /// The buffer's first byte must be a multiple of this.
    public var bufferAlignment: Int
    /// Longest single segment.
    public var maxSegmentLength: Int
    /// No segment may cross a multiple of this (0: no boundary). The 8237's
    /// address counter is 16 bits wide, so its transfers wrap inside 64 KiB.
    public var boundary: UInt64
    /// Bytes fetched per DMA request: the granularity, and so the accuracy, of
    /// the position register.
    public var burstBytes: Int
    /// Frames the device FIFO holds between DMA and DAC.
    public var fifoFrames: Int

    public init(name: String, summary: String, addressBits: Int, scatterGather: Bool, maxSegments: Int,
                segmentAlignment: Int, bufferAlignment: Int, maxSegmentLength: Int, boundary: UInt64,
                burstBytes: Int, fifoFrames: Int) throws(DMAProfileError)
    {
        self.name = name
        self.summary = summary
        self.addressBits = addressBits
        self.scatterGather = scatterGather
        self.maxSegments = maxSegments
        self.segmentAlignment = segmentAlignment
        self.bufferAlignment = bufferAlignment
        self.maxSegmentLength = maxSegmentLength
        self.boundary = boundary
        self.burstBytes = burstBytes
        self.fifoFrames = fifoFrames
        try validate()
    }

    /// The highest address the controller can reach.
    public var highestAddress: PhysicalAddress {
        PhysicalAddress(addressBits >= 64 ? .max : (UInt64(1) << UInt64(addressBits)) - 1)
    }

    /// Checks that every field makes sense; names the first one that does not.
    public func validate() throws(DMAProfileError) {
        func bad(_ field: String, _ value: String, _ rule: String) -> DMAProfileError {
            .invalidField(profile: name, field: field, value: value, rule: rule)
        }
        func isPowerOfTwo(_ v: Int) -> Bool { v > 0 && v & (v - 1) == 0 }
        guard !name.isEmpty else { throw bad("name", "\"\"", "must not be empty") }
        guard (12...64).contains(addressBits) else { throw bad("addressBits", "\(addressBits)", "must be between 12 and 64") }
        guard maxSegments >= 1 else { throw bad("maxSegments", "\(maxSegments)", "must be at least 1") }
        guard scatterGather || maxSegments == 1 else {
            throw bad("maxSegments", "\(maxSegments)", "must be 1 for a controller without scatter-gather")
        }
        guard isPowerOfTwo(segmentAlignment) else { throw bad("segmentAlignment", "\(segmentAlignment)", "must be a power of two") }
        guard isPowerOfTwo(bufferAlignment) else { throw bad("bufferAlignment", "\(bufferAlignment)", "must be a power of two") }
        guard maxSegmentLength >= segmentAlignment else {
            throw bad("maxSegmentLength", "\(maxSegmentLength)", "must be at least segmentAlignment (\(segmentAlignment))")
        }
        guard boundary == 0 || boundary & (boundary - 1) == 0 else {
            throw bad("boundary", "\(boundary)", "must be 0 (none) or a power of two")
        }
        guard isPowerOfTwo(burstBytes) else { throw bad("burstBytes", "\(burstBytes)", "must be a power of two") }
        guard fifoFrames >= 1 else { throw bad("fifoFrames", "\(fifoFrames)", "must be at least 1") }
    }

    /// One line with the limits, for `wavert examples` and reports.
    public var limitsDescription: String {
        var parts = ["\(addressBits)-bit", scatterGather ? "scatter-gather (\(maxSegments) segments)" : "contiguous"]
        if segmentAlignment > 1 { parts.append("\(segmentAlignment)-byte aligned") }
        if boundary > 0 { parts.append("no \(boundary / 1024) KiB boundary crossing") }
        parts.append("burst \(burstBytes) B")
        parts.append("FIFO \(fifoFrames) frames")
        return parts.joined(separator: ", ")
    }
}

extension DMAProfile {
    /// Intel 8237 (ISA, Sound Blaster era), an 8-bit channel: 24-bit addresses,
    /// one contiguous buffer, no transfer across a 64 KiB boundary, auto-initialise.
    public static let isa8237_8bit = try! DMAProfile(
        name: "isa8237-8bit", summary: "Intel 8237 ISA DMA, 8-bit channel (Sound Blaster era)",
        addressBits: 24, scatterGather: false, maxSegments: 1, segmentAlignment: 1, bufferAlignment: 1,
        maxSegmentLength: 64 * 1024, boundary: 64 * 1024, burstBytes: 1, fifoFrames: 1)

    /// Intel 8237, a 16-bit channel: as the 8-bit one with a 128 KiB boundary and word transfers.
    public static let isa8237_16bit = try! DMAProfile(
        name: "isa8237-16bit", summary: "Intel 8237 ISA DMA, 16-bit channel",
        addressBits: 24, scatterGather: false, maxSegments: 1, segmentAlignment: 2, bufferAlignment: 2,
        maxSegmentLength: 128 * 1024, boundary: 128 * 1024, burstBytes: 2, fifoFrames: 1)

    /// A 32-bit PCI bus master with a scatter-gather list.
    public static let pci32SG = try! DMAProfile(
        name: "pci32-sg", summary: "32-bit PCI bus master, scatter-gather",
        addressBits: 32, scatterGather: true, maxSegments: 1024, segmentAlignment: 4, bufferAlignment: 4,
        maxSegmentLength: 64 * 1024, boundary: 0, burstBytes: 32, fifoFrames: 32)

    /// Intel High Definition Audio stream DMA: a buffer descriptor list of at most
    /// 256 entries, 128-byte aligned, 32-bit unless the controller reports 64-bit
    /// support (write your own profile with `addressBits: 64` for that), 64-frame FIFO.
    public static let hda = try! DMAProfile(
        name: "hda", summary: "Intel HD Audio stream DMA with a buffer descriptor list",
        addressBits: 32, scatterGather: true, maxSegments: 256, segmentAlignment: 128, bufferAlignment: 128,
        maxSegmentLength: Int(UInt32.max), boundary: 0, burstBytes: 128, fifoFrames: 64)

    /// A 64-bit PCI Express bus master with a scatter-gather list.
    public static let pcie64SG = try! DMAProfile(
        name: "pcie64-sg", summary: "64-bit PCI Express bus master, scatter-gather",
        addressBits: 64, scatterGather: true, maxSegments: 4096, segmentAlignment: 4, bufferAlignment: 4,
        maxSegmentLength: 1 << 20, boundary: 0, burstBytes: 64, fifoFrames: 32)

    /// Every preset, in the order `wavert examples` lists them.
    public static let presets: [DMAProfile] = [isa8237_8bit, isa8237_16bit, pci32SG, hda, pcie64SG]

    /// The preset called `name`, if any.
    public static func preset(named name: String) -> DMAProfile? {
        presets.first { $0.name == name }
    }
}
