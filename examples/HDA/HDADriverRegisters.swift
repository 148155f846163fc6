/// The HD Audio controller registers this driver uses, from the Intel
/// datasheets (the driver's own copy, as every driver has one).
enum HDA {
    static let GCAP = 0x00, GCTL = 0x08, INTCTL = 0x20, INTSTS = 0x24, WALCLK = 0x30
    static let SD0 = 0x80, SDStride = 0x20
    static let SDCTL = 0x00, SDSTS = 0x03, SDLPIB = 0x04, SDCBL = 0x08, SDLVI = 0x0C, SDFIFOS = 0x10, SDFMT = 0x12
    static let SDBDPL = 0x18, SDBDPU = 0x1C
    static let DPLBASE = 0x70, DPUBASE = 0x74
    /// The alias page: WALCLK and the LPIBs only, so it can be mapped for a client.
    static let ALIAS = 0x2000
    static let CRST: UInt32 = 1
    static let GIE: UInt32 = 1 << 31
    static let SRST: UInt8 = 1 << 0, RUN: UInt8 = 1 << 1, IOCE: UInt8 = 1 << 2, FEIE: UInt8 = 1 << 3, DEIE: UInt8 = 1 << 4
    static let BCIS: UInt8 = 1 << 2, FIFOE: UInt8 = 1 << 3, DESE: UInt8 = 1 << 4
    static let BDLEntryBytes = 16
    static let BDLMaxEntries = 256
    static let BufferAlignment = 128
    static let WallClockHz: UInt64 = 24_000_000

    /// SDnFMT for a rate, container bits and channels: BASE 48/44.1 kHz × MULT ÷ DIV.
    static func format(rate: Int, bits: Int, channels: Int) -> UInt16? {
        guard let code = [8: 0, 16: 1, 20: 2, 24: 3, 32: 4][bits], (1...16).contains(channels) else { return nil }
        for (baseBit, base) in [(0, 48_000), (1, 44_100)] {
            for mult in 1...4 {
                for div in 1...8 where (base * mult) % div == 0 && base * mult / div == rate {
                    return UInt16(baseBit << 14 | (mult - 1) << 11 | (div - 1) << 8 | code << 4 | (channels - 1))
                }
            }
        }
        return nil
    }
}
