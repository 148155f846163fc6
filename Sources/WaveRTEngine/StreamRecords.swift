/// `KSRTAUDIO_HWLATENCY`: what lies between the DMA and the listener.
public struct HardwareLatency: Sendable, Hashable {
    /// `FifoSize`: bytes in the device FIFO.
    public var fifoSize: Int
    /// `ChipsetDelay`: bus and chipset delay, in 100-ns units.
    public var chipsetDelay: UInt32
    /// `CodecDelay`: codec (DAC) delay, in 100-ns units.
    public var codecDelay: UInt32

    public init(fifoSize: Int, chipsetDelay: UInt32, codecDelay: UInt32) {
        self.fifoSize = fifoSize
        self.chipsetDelay = chipsetDelay
        self.codecDelay = codecDelay
    }
}

/// `KSRTAUDIO_HWREGISTER`: how a client reads a register directly.
public struct HardwareRegister: @unchecked Sendable {
    /// `Register`: the address of the register (here, a word the engine updates).
    public var register: UnsafeRawPointer
    /// `Width`: 32 or 64 bits.
    public var width: Int
    /// `Numerator` / `Denominator`: the register's rate relative to the position
    /// (position register: 1/1 in bytes; clock register: ticks per second).
    public var numerator: UInt64
    public var denominator: UInt64
    /// `Accuracy`: bytes (position) or ticks (clock) of uncertainty.
    public var accuracy: Int
}

/// `KSAUDIO_POSITION`: byte offsets in the cyclic buffer.
public struct AudioPosition: Sendable, Hashable {
    /// The byte the DAC is playing (the DMA position minus FIFO and codec delay).
    public var playOffset: UInt64
    /// The byte the DMA fetches next: the client must write ahead of it.
    public var writeOffset: UInt64

    public init(playOffset: UInt64, writeOffset: UInt64) {
        self.playOffset = playOffset
        self.writeOffset = writeOffset
    }
}

/// `KSAUDIO_PRESENTATION_POSITION`.
public struct PresentationPosition: Sendable, Hashable {
    /// `u64PositionInBlocks`: frames presented since STOP.
    public var positionInBlocks: UInt64
    /// `u64QPCPosition`: the time of the reading, in 100-ns units of the stream's timebase.
    public var qpcPosition: UInt64

    public init(positionInBlocks: UInt64, qpcPosition: UInt64) {
        self.positionInBlocks = positionInBlocks
        self.qpcPosition = qpcPosition
    }
}

/// One glitch: for render, the DMA read data the client had not written since
/// the previous cycle (an underrun); for capture, it overwrote data the client
/// had not read yet (an overrun). Consecutive starved transfers are one glitch.
public struct Glitch: Sendable, Hashable, BitwiseCopyable, CustomStringConvertible {
    public enum Kind: UInt8, Sendable, BitwiseCopyable { case underrun, overrun }
    public var kind: Kind
    /// Stream time of the first starved transfer.
    public var time: UInt64
    /// Linear byte position (since STOP) where it began.
    public var position: UInt64
    /// Frames affected.
    public var frames: UInt64

    public var description: String {
        "\(kind) at \(Double(time) / 1e9) s, byte \(position), \(frames) frames"
    }
}
