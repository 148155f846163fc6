import Foundation
import WaveRTClient
import WaveRTDMA
import WaveRTEngine
import WaveRTMemory

/// DMA profile JSON (`DMAProfile.decode`, what `--dma PATH` reads): each
/// preset's JSON mutated field by field (numbers at the edges, wrong types,
/// fields missing or extra) and byte by byte, and random bytes. Checks: every
/// refusal is a `DMAProfileError` whose message names the field; a profile
/// accepted is usable: a DMA controller with it takes or refuses a program
/// with a `DMAProgramError`, and moves bytes without leaving allocated RAM.
public enum DMAProfileFuzzer {
    static let fields = ["name", "summary", "addressBits", "scatterGather", "maxSegments", "segmentAlignment", "bufferAlignment",
                         "maxSegmentLength", "boundary", "burstBytes", "fifoFrames"]

    public static func iteration(_ random: inout FuzzRandom) -> FuzzOutcome {
        var outcome = FuzzOutcome()
        let preset = random.pick(DMAProfile.presets)
        var data = preset.jsonData()
        switch random.int(0...3) {
        case 0, 1:  // a field changed, dropped or added
            var object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            for _ in 0..<random.int(1...3) {
                let field = random.chance(9, in: 10) ? random.pick(fields) : "extra\(random.int(0...9))"
                let values: [Any?] = [nil, NSNull(), -1, 0, 1, 3, 7, 63, 64, 65, 128, Int.max, Int.min, 1 << 32, 1.5, -0.0, 1e300,
                                      "", "48", true, false, [1, 2], ["a": 1], UInt64.max, Int(random.edgy(bits: 63))]
                object[field] = random.pick(values) ?? nil
            }
            data = (try? JSONSerialization.data(withJSONObject: object)) ?? data
        case 2:  // bytes flipped, cut, inserted
            var bytes = [UInt8](data)
            for _ in 0..<random.int(1...8) {
                guard !bytes.isEmpty else { break }
                let i = random.int(0...(bytes.count - 1))
                switch random.int(0...2) {
                case 0: bytes[i] = UInt8(truncatingIfNeeded: random.next())
                case 1: bytes.removeSubrange(i..<min(bytes.count, i + random.int(1...16)))
                default: bytes.insert(contentsOf: random.pick([Array("9999999999999999999999".utf8), Array("-".utf8), [0], Array("{}".utf8)]), at: i)
                }
            }
            data = Data(bytes)
        default:
            data = Data(random.bytes(random.int(0...200)))
        }
        let profile: DMAProfile
        do {
            profile = try DMAProfile.decode(data, source: "fuzz.json")
        } catch {
            let message = error.description
            switch error {
            case .missingField(_, let f), .wrongType(_, let f, _), .invalidField(_, let f, _, _):
                if f.isEmpty || !message.contains(f) { outcome.fail("refusal does not name its field: \(message)") }
            default:
                if message.isEmpty { outcome.fail("empty refusal") }
            }
            outcome.count("refused")
            return outcome
        }
        outcome.count("accepted")
        exercise(profile, &random, &outcome)
        return outcome
    }

    /// A small program through a controller with the profile (faithful or not).
    static func exercise(_ profile: DMAProfile, _ random: inout FuzzRandom, _ outcome: inout FuzzOutcome) {
        let memory = try! PhysicalMemory(map: GuestMemory.map)
        memory.dmaAudit.isEnabled = true
        guard let mdl = memory.allocatePagesForMdl(lowAddress: 0, highAddress: .init(UInt64.max), skipBytes: 0, totalBytes: 3 * 4096) else { return }
        let controller = DMAController(profile: profile, memory: memory, faithfulFaults: random.bool())
        let list = (0..<random.int(1...3)).map { i in
            DMADescriptor(address: mdl.physicalAddress(ofPage: i % 3), length: random.pick([128, 4096, random.int(1...8192)]),
                          interruptOnCompletion: true)
        }
        do { try controller.program(descriptors: list) } catch {
            if error.description.isEmpty { outcome.fail("empty DMAProgramError") }
            outcome.count("programs refused")
            return
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
        defer { buffer.deallocate() }
        for _ in 0..<4 {
            _ = controller.read(into: buffer, count: random.int(1...4096))
            _ = controller.write(from: buffer, count: random.int(1...4096))
        }
        if let violation = memory.dmaAudit.violationSummary { outcome.fail("profile \(profile.name): \(violation)") }
        outcome.count("programs run")
    }
}

/// Audio files through `AudioFileSource` (libsndfile): valid WAV files of each
/// sample format mutated in their headers (RIFF/fmt/data sizes, channels,
/// rate, bits, format tag) and bodies, truncated, AU (`.snd`) headers with
/// random fields, and random bytes. Checks: no crash; a refusal is an
/// `AudioFileError` naming the path; a file accepted decodes into any stream
/// format without reading or writing outside its buffers.
public enum AudioFileFuzzer {
    public static func iteration(_ random: inout FuzzRandom) -> FuzzOutcome {
        var outcome = FuzzOutcome()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wavert-fuzz-\(getpid())-\(random.next()).audio").path
        defer { unlink(path) }
        var bytes: [UInt8]
        switch random.int(0...5) {
        case 0...3: bytes = mutate(wav(&random), &random)
        case 4: bytes = au(&random)
        default: bytes = random.bytes(random.int(0...300))
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            outcome.fail("cannot write \(path)")
            return outcome
        }
        let source: AudioFileSource
        do { source = try AudioFileSource(path: path) } catch {
            if !error.description.contains(path) { outcome.fail("refusal does not name the file: \(error)") }
            outcome.count("refused")
            return outcome
        }
        outcome.count("accepted")
        let format = (try? StreamFormat(sampleRate: 48_000, channels: random.int(1...8), sampleFormat: random.pick([.int16, .int24, .int32, .float32])))!
        let frames = random.int(1...512)
        let guardBytes = 64
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: frames * format.blockAlign + guardBytes, alignment: 16)
        defer { buffer.deallocate() }
        memset(buffer + frames * format.blockAlign, 0xA5, guardBytes)
        for _ in 0..<random.int(1...4) {
            let got = source.read(frames: frames, into: buffer, format: format)
            if got < 0 || got > frames { outcome.fail("read \(got) frames into a \(frames)-frame buffer") }
        }
        let tail = UnsafeRawBufferPointer(start: buffer + frames * format.blockAlign, count: guardBytes)
        if tail.contains(where: { $0 != 0xA5 }) { outcome.fail("decoding wrote past the \(frames)-frame buffer (\(format))") }
        return outcome
    }

    /// A valid little WAV file (PCM 8/16/24/32 or IEEE float).
    static func wav(_ random: inout FuzzRandom) -> [UInt8] {
        let (tag, bits): (UInt16, Int) = random.pick([(1, 8), (1, 16), (1, 24), (1, 32), (3, 32), (3, 64)])
        let channels = random.int(1...8), rate = random.pick([8000, 44_100, 48_000, 96_000])
        let frames = random.int(0...64)
        let dataBytes = frames * channels * bits / 8
        var out: [UInt8] = []
        func u32(_ v: Int) { out += withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { Array($0) } }
        func u16(_ v: Int) { out += withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian) { Array($0) } }
        out += Array("RIFF".utf8); u32(36 + dataBytes); out += Array("WAVE".utf8)
        out += Array("fmt ".utf8); u32(16); u16(Int(tag)); u16(channels); u32(rate); u32(rate * channels * bits / 8)
        u16(channels * bits / 8); u16(bits)
        out += Array("data".utf8); u32(dataBytes); out += random.bytes(dataBytes)
        return out
    }

    /// Bytes changed (mostly in the 44-byte header), fields set to edge values, the file cut.
    static func mutate(_ file: [UInt8], _ random: inout FuzzRandom) -> [UInt8] {
        var bytes = file
        for _ in 0..<random.int(1...6) {
            switch random.int(0...3) {
            case 0:  // a header field (sizes at 4, 16, 40; tag 20; channels 22; rate 24; align 32; bits 34)
                let at = random.pick([4, 16, 20, 22, 24, 28, 32, 34, 40])
                let value = random.edgy(bits: 32)
                for k in 0..<(at == 20 || at == 22 || at == 32 || at == 34 ? 2 : 4) where at + k < bytes.count {
                    bytes[at + k] = UInt8(truncatingIfNeeded: value >> UInt64(8 * k))
                }
            case 1:
                let i = random.int(0...max(0, min(bytes.count, 48) - 1))
                if i < bytes.count { bytes[i] = UInt8(truncatingIfNeeded: random.next()) }
            case 2: bytes = Array(bytes.prefix(random.int(0...bytes.count)))
            default: bytes += random.bytes(random.int(0...64))
            }
        }
        return bytes
    }

    /// A Sun/NeXT AU header (big-endian) with random offset, size, encoding, rate, channels.
    static func au(_ random: inout FuzzRandom) -> [UInt8] {
        var out = Array(".snd".utf8)
        func u32(_ v: UInt64) { out += withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).bigEndian) { Array($0) } }
        u32(random.chance(1, in: 2) ? 24 : random.edgy(bits: 32))
        u32(random.chance(1, in: 2) ? 0xFFFF_FFFF : random.edgy(bits: 32))
        u32(random.chance(1, in: 2) ? UInt64(random.pick([1, 2, 3, 4, 5, 6, 7, 27])) : random.edgy(bits: 32))
        u32(random.chance(1, in: 2) ? 48_000 : random.edgy(bits: 32))
        u32(random.chance(1, in: 2) ? UInt64(random.int(1...8)) : random.edgy(bits: 32))
        return out + random.bytes(random.int(0...256))
    }
}
