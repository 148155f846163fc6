/// The Intel High Definition Audio controller register map, as the device
/// model decodes it (offsets from BAR0, Intel ICH/PCH datasheets; see
/// `Sources/WaveRTHardware/WaveRTHardware.docc/HDAudio.md`). Drivers define
/// their own copies of these numbers, as real drivers do; the examples do.
public enum HDARegister {
    public static let gcap = 0x00        // 16: OSS 15:12, ISS 11:8, BSS 7:3, NSDO 2:1, 64OK 0
    public static let vmin = 0x02        // 8
    public static let vmaj = 0x03        // 8
    public static let outpay = 0x04      // 16
    public static let inpay = 0x06       // 16
    public static let gctl = 0x08        // 32: CRST 0, FCNTRL 1, UNSOL 8
    public static let wakeen = 0x0C      // 16
    public static let statests = 0x0E    // 16, W1C
    public static let gsts = 0x10        // 16
    public static let intctl = 0x20      // 32: GIE 31, CIE 30, SIE n
    public static let intsts = 0x24      // 32: GIS 31, CIS 30, SIS n
    public static let walclk = 0x30      // 32, 24 MHz
    public static let ssync = 0x38       // 32: bit n blocks descriptor n
    public static let dplbase = 0x70     // 32: base 31:7, DPBE 0
    public static let dpubase = 0x74     // 32
    public static let streamBase = 0x80  // descriptor n at 0x80 + 0x20 n
    public static let streamStride = 0x20
    /// The alias page: WALCLK at +0x30 and each descriptor's LPIB at +0x84 + 0x20 n, nothing else.
    public static let aliasPage = 0x2000
    public static let barSize = 0x4000

    // Stream descriptor registers (offsets from the descriptor).
    public static let sdCTL = 0x00       // 24
    public static let sdSTS = 0x03       // 8, W1C
    public static let sdLPIB = 0x04      // 32, RO
    public static let sdCBL = 0x08       // 32
    public static let sdLVI = 0x0C       // 16
    public static let sdFIFOW = 0x0E     // 16
    public static let sdFIFOS = 0x10     // 16
    public static let sdFMT = 0x12       // 16
    public static let sdBDPL = 0x18      // 32
    public static let sdBDPU = 0x1C      // 32

    // Bits.
    public static let gctlCRST: UInt32 = 1 << 0
    public static let intctlGIE: UInt32 = 1 << 31
    public static let intctlCIE: UInt32 = 1 << 30
    public static let intstsGIS: UInt32 = 1 << 31
    public static let dplbaseDPBE: UInt32 = 1 << 0
    public static let ctlSRST: UInt32 = 1 << 0
    public static let ctlRUN: UInt32 = 1 << 1
    public static let ctlIOCE: UInt32 = 1 << 2
    public static let ctlFEIE: UInt32 = 1 << 3
    public static let ctlDEIE: UInt32 = 1 << 4
    public static let ctlTP: UInt32 = 1 << 18
    public static let ctlDIR: UInt32 = 1 << 19
    public static let ctlStreamTagShift: UInt32 = 20
    public static let stsBCIS: UInt8 = 1 << 2
    public static let stsFIFOE: UInt8 = 1 << 3
    public static let stsDESE: UInt8 = 1 << 4
    public static let stsFIFORDY: UInt8 = 1 << 5
    /// One BDL entry: 64-bit address, 32-bit length, IOC in bit 0 of the last dword.
    public static let bdlEntrySize = 16
    public static let wallClockHz: UInt64 = 24_000_000
}

/// A decoded SDnFMT value: rate = BASE × (MULT+1) / (DIV+1), BITS, channels.
public struct HDAStreamFormat: Sendable, Hashable, CustomStringConvertible {
    public var raw: UInt16

    public init(raw: UInt16) { self.raw = raw }

    /// BASE (bit 14): 48 kHz or 44.1 kHz.
    public var base: Int { raw & 0x4000 != 0 ? 44_100 : 48_000 }
    public var multiplier: Int { Int((raw >> 11) & 0x7) + 1 }
    public var divisor: Int { Int((raw >> 8) & 0x7) + 1 }
    /// BITS (6:4): 0 = 8, 1 = 16, 2 = 20, 3 = 24, 4 = 32; others reserved.
    public var bitsCode: Int { Int((raw >> 4) & 0x7) }
    public var channels: Int { Int(raw & 0xF) + 1 }

    /// MULT ≤ ×4 and BITS ≤ 32 are the encodings the controller defines.
    public var isValid: Bool { multiplier <= 4 && bitsCode <= 4 && raw & 0x8080 == 0 }

    /// Frames per second, truncated as QEMU computes it (48 kHz ÷ 7 is 6857).
    public var sampleRate: Int { base * multiplier / divisor }
    public var bitsPerSample: Int { [8, 16, 20, 24, 32][min(bitsCode, 4)] }
    /// Container bytes per sample: 16-bit containers for 8 and 16 bits, 32-bit for 20, 24, 32.
    public var containerBytes: Int { bitsCode <= 1 ? 2 : 4 }
    public var blockAlign: Int { containerBytes * channels }

    /// The samples as they leave the controller for the codec: 16- or 32-bit
    /// integers at the programmed rate and channel count.
    public var streamFormat: StreamFormat? {
        try? StreamFormat(sampleRate: sampleRate, channels: channels, sampleFormat: containerBytes == 2 ? .int16 : .int32)
    }

    /// The FMT value for a rate, bit depth and channel count, if the controller can express it.
    public static func encode(sampleRate: Int, bitsPerSample: Int, channels: Int) -> HDAStreamFormat? {
        guard (1...16).contains(channels), let bits = [8, 16, 20, 24, 32].firstIndex(of: bitsPerSample) else { return nil }
        for (baseBit, base) in [(0, 48_000), (1, 44_100)] {
            for mult in 1...4 {
                for div in 1...8 where base * mult / div == sampleRate && (base * mult) % div == 0 {
                    let raw = UInt16(baseBit << 14 | (mult - 1) << 11 | (div - 1) << 8 | bits << 4 | (channels - 1))
                    return HDAStreamFormat(raw: raw)
                }
            }
        }
        return nil
    }

    public var description: String { "\(sampleRate) Hz, \(bitsPerSample)-bit, \(channels) ch (FMT 0x\(String(raw, radix: 16)))" }
}

import WaveRTEngine
