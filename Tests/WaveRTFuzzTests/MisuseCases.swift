import Foundation
import WaveRTClient
import WaveRTDMA
import WaveRTEngine
import WaveRTExamples
import WaveRTHardware
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

/// One mistake a driver writer or a user can make, how to make it, and what
/// the emulator says: the run returns the diagnostic text (verifier finding,
/// memory diagnostic, guest error, NTSTATUS or thrown error), and `expect`
/// names the rule, argument or register it must mention.
struct MisuseCase: Sendable, CustomStringConvertible {
    var name: String
    var trigger: String
    var expect: [String]
    var run: @Sendable () throws -> String
    var description: String { name }
}

/// The cases, grouped by layer. Each builds what it needs from scratch.
enum MisuseCases {
    // MARK: Kernel DDIs, on a machine (findings from its verifier)

    static func onMachine(_ body: () -> Void) -> String {
        let machine = Machine(timebase: VirtualClock(start: 1_000_000))
        defer { machine.shutdown() }
        machine.withCurrent(body)
        return machine.verifier.violations.map(\.description).joined(separator: "; ")
    }

    static let kernel: [MisuseCase] = [
        MisuseCase(name: "KeReleaseSpinLock without KeAcquireSpinLock", trigger: "keInitializeSpinLock(l); keReleaseSpinLock(l, PASSIVE_LEVEL)",
                   expect: ["SpinLockReleaseNotOwned", "KeReleaseSpinLock"]) {
            onMachine { let l = KSpinLock(); keInitializeSpinLock(l); keReleaseSpinLock(l, Irql.passiveLevel) }
        },
        MisuseCase(name: "PASSIVE_LEVEL DDI at DISPATCH_LEVEL (wrong IRQL)", trigger: "keRaiseIrql(DISPATCH_LEVEL); mmAllocatePagesForMdl(...)",
                   expect: ["IrqlTooHigh", "MmAllocatePagesForMdl"]) {
            onMachine {
                let old = keRaiseIrql(Irql.dispatchLevel)
                if let m = mmAllocatePagesForMdl(0, 0xFFFF_FFFF, 0, 4096) { keLowerIrql(old); mmFreePagesFromMdl(m) } else { keLowerIrql(old) }
            }
        },
        MisuseCase(name: "KeLowerIrql to a higher IRQL", trigger: "at PASSIVE_LEVEL: keLowerIrql(DISPATCH_LEVEL)", expect: ["KeLowerIrql"]) {
            onMachine { keLowerIrql(Irql.dispatchLevel); keLowerIrql(Irql.passiveLevel) }
        },
        MisuseCase(name: "ExFreePool twice", trigger: "p = exAllocatePool2(.uninitialized, 64, tag); exFreePool(p); exFreePool(p)",
                   expect: ["DoubleFree", "ExFreePool"]) {
            onMachine { let p = exAllocatePool2(.uninitialized, 64, 0x6674_7257); exFreePool(p); exFreePool(p) }
        },
        MisuseCase(name: "ExFreePoolWithTag with the wrong tag", trigger: "exAllocatePool2(.., tag 'Wrtf'); exFreePoolWithTag(p, 'Nope')",
                   expect: ["PoolTagMismatch"]) {
            onMachine { let p = exAllocatePool2(.uninitialized, 64, 0x6674_7257); exFreePoolWithTag(p, 0x6570_6F4E) }
        },
        MisuseCase(name: "MmUnmapIoSpace of an address never mapped", trigger: "mmUnmapIoSpace(someHeapPointer, 4096)",
                   expect: ["UnmapWithoutMap", "MmUnmapIoSpace"]) {
            onMachine { let p = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16); mmUnmapIoSpace(p, 4096); p.deallocate() }
        },
        MisuseCase(name: "MmMapIoSpace of a range no device claims", trigger: "mmMapIoSpace(0xFEB0_0000, 0x1000, .nonCached) on a machine with no device there",
                   expect: ["MapIoSpaceOutsideDevice", "MmMapIoSpace", "0xfeb00000", "returned NULL"]) {
            var mapped = false
            let findings = onMachine { mapped = mmMapIoSpace(0xFEB0_0000, 0x1000, .nonCached) != nil }
            return mapped ? "mapped" : findings
        },
        MisuseCase(name: "MmMapIoSpace longer than the BAR (length near Int.max)", trigger: "hda adapter; mmMapIoSpace(Adapter.hdaBAR, Int.max, .nonCached)",
                   expect: ["MapIoSpaceOutsideDevice", "MmMapIoSpace", "returned NULL"]) {
            let machine = Machine(timebase: VirtualClock(start: 1_000_000))
            defer { machine.shutdown() }
            let adapter = try Adapter(kind: .hda, machine: machine)
            defer { adapter.shutdown() }
            guard case .memory(let base, _)? = machine.bus.all.first(where: { if case .memory = $0.window { true } else { false } })?.window
            else { return "no BAR" }
            let mapped = machine.withCurrent { mmMapIoSpace(base, Int.max, .nonCached) != nil }
            return mapped ? "mapped" : machine.verifier.violations.map(\.description).joined(separator: "; ")
        },
    ]

    // MARK: Memory manager (diagnostics naming DDI and argument)

    static func memoryDiagnostics(_ body: (PhysicalMemory) -> Void) -> String {
        let memory = PhysicalMemory()
        body(memory)
        return memory.diagnostics.all.filter { $0.severity != .info }.map(\.description).joined(separator: "; ")
    }

    static let memory: [MisuseCase] = [
        MisuseCase(name: "Freeing an MDL twice", trigger: "MmFreePagesFromMdl(mdl) twice", expect: ["MmFreePagesFromMdl", "double free"]) {
            memoryDiagnostics { m in
                let mdl = m.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 4096)!
                m.freePagesFromMdl(mdl); m.freePagesFromMdl(mdl)
            }
        },
        MisuseCase(name: "Mapping a freed MDL", trigger: "MmFreePagesFromMdl(mdl); MmMapLockedPagesSpecifyCache(mdl, MmCached)",
                   expect: ["MmMapLockedPagesSpecifyCache", "MemoryDescriptorList", "freed already"]) {
            memoryDiagnostics { m in
                let mdl = m.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 4096)!
                m.freePagesFromMdl(mdl); _ = m.mapLockedPagesSpecifyCache(mdl, cacheType: .cached)
            }
        },
        MisuseCase(name: "Mapping an MDL twice", trigger: "MmMapLockedPagesSpecifyCache(mdl) twice", expect: ["MDL_MAPPED_TO_SYSTEM_VA"]) {
            memoryDiagnostics { m in
                let mdl = m.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 4096)!
                _ = m.mapLockedPagesSpecifyCache(mdl, cacheType: .cached); _ = m.mapLockedPagesSpecifyCache(mdl, cacheType: .cached)
            }
        },
        MisuseCase(name: "Freeing an MDL still mapped", trigger: "map, then MmFreePagesFromMdl without MmUnmapLockedPages",
                   expect: ["MmFreePagesFromMdl", "still mapped"]) {
            memoryDiagnostics { m in
                let mdl = m.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 4096)!
                _ = m.mapLockedPagesSpecifyCache(mdl, cacheType: .cached); m.freePagesFromMdl(mdl)
            }
        },
        MisuseCase(name: "MmUnmapLockedPages with the wrong base", trigger: "map; MmUnmapLockedPages(va + 1, mdl)", expect: ["BaseAddress"]) {
            memoryDiagnostics { m in
                let mdl = m.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 4096)!
                let va = m.mapLockedPagesSpecifyCache(mdl, cacheType: .cached)!
                m.unmapLockedPages(va + 1, mdl: mdl)
            }
        },
        MisuseCase(name: "MmAllocatePagesForMdl of 0 bytes", trigger: "allocatePagesForMdl(..., totalBytes: 0)", expect: ["TotalBytes", "greater than zero"]) {
            memoryDiagnostics { m in _ = m.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 0) }
        },
        MisuseCase(name: "MmAllocatePagesForMdl with HighAddress below LowAddress", trigger: "low 0x100000, high 0xFFFF",
                   expect: ["HighAddress", "below"]) {
            memoryDiagnostics { m in _ = m.allocatePagesForMdl(lowAddress: 0x10_0000, highAddress: 0xFFFF, skipBytes: 0, totalBytes: 4096) }
        },
        MisuseCase(name: "MmAllocatePagesForMdl with SkipBytes not a page multiple", trigger: "skipBytes: 100", expect: ["SkipBytes", "multiple of the page size"]) {
            memoryDiagnostics { m in _ = m.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 100, totalBytes: 4096) }
        },
    ]

    // MARK: HD Audio controller (guest errors, named after the register)

    final class HDARig {
        let clock = VirtualClock(start: 1_000_000)
        let memory = PhysicalMemory()
        let scheduler: Scheduler
        let hda: HDAController
        let buffer: MDL
        static let sd = HDARegister.streamBase + 4 * HDARegister.streamStride  // the first output descriptor
        init() {
            scheduler = Scheduler(timebase: clock)
            hda = HDAController(memory: memory, timebase: clock, passGuard: scheduler.passGuard)
            scheduler.add(hda)
            buffer = memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 3 * 4096)!
            hda.write(offset: HDARegister.gctl, width: .dword, value: 1)
        }
        func w(_ o: Int, _ v: UInt64, _ width: AccessWidth = .dword) { hda.write(offset: o, width: width, value: v) }
        /// A BDL in page 0 of `entries` (address, length), then the descriptor programmed and RUN.
        func run(entries: [(UInt64, UInt32)], lvi: Int? = nil, cbl: UInt32? = nil, fmt: UInt16 = 0x11, bdl: UInt64? = nil) {
            var bytes: [UInt8] = []
            for (a, l) in entries {
                bytes += withUnsafeBytes(of: a.littleEndian) { Array($0) } + withUnsafeBytes(of: l.littleEndian) { Array($0) } + [1, 0, 0, 0]
            }
            let at = bdl ?? buffer.physicalAddress(ofPage: 0).rawValue
            if bdl == nil { memory.writePhysical(at: PhysicalAddress(at), bytes: bytes) }
            let sd = Self.sd
            w(sd + HDARegister.sdCBL, UInt64(cbl ?? entries.reduce(0) { $0 + $1.1 }))
            w(sd + HDARegister.sdLVI, UInt64(lvi ?? entries.count - 1), .word)
            w(sd + HDARegister.sdFMT, UInt64(fmt), .word)
            w(sd + HDARegister.sdBDPL, at & 0xFFFF_FFFF)
            w(sd + HDARegister.sdBDPU, at >> 32)
            w(sd, 1 << 20 | 0x1E)
        }
        var page1: UInt64 { buffer.physicalAddress(ofPage: 1).rawValue }
        var page2: UInt64 { buffer.physicalAddress(ofPage: 2).rawValue }
        var report: String { (hda.errors.descriptions + [hda.lastProgramError, hda.faults.summary].compactMap { $0 }).joined(separator: "; ") }
    }

    static let hda: [MisuseCase] = [
        MisuseCase(name: "BDL entry not 128-byte aligned", trigger: "BDL entry 1 at page + 0x40; RUN", expect: ["DMA profile", "align"]) {
            let r = HDARig(); r.run(entries: [(r.page1, 2048), (r.page2 + 0x40, 2048)]); return r.report
        },
        MisuseCase(name: "BDL with fewer than 2 entries", trigger: "SDnLVI = 0; RUN", expect: ["SDnLVI"]) {
            let r = HDARig(); r.run(entries: [(r.page1, 4096)]); return r.report
        },
        MisuseCase(name: "SDnCBL not the sum of the BDL lengths", trigger: "two 2048-byte entries, SDnCBL = 3000; RUN", expect: ["SDnCBL differs"]) {
            let r = HDARig(); r.run(entries: [(r.page1, 2048), (r.page2, 2048)], cbl: 3000); return r.report
        },
        MisuseCase(name: "RUN without a BDL", trigger: "SDnBDPL/BDPU = 0 (no list written), CBL and LVI set; RUN", expect: ["SDnBDPL", "not allocated RAM"]) {
            let r = HDARig(); r.run(entries: [(r.page1, 2048), (r.page2, 2048)], bdl: 0); return r.report
        },
        MisuseCase(name: "Wrong (reserved) SDnFMT", trigger: "SDnFMT = 0x0071 (BITS = 7, reserved); RUN", expect: ["SDnFMT"]) {
            let r = HDARig(); r.run(entries: [(r.page1, 2048), (r.page2, 2048)], fmt: 0x0071); return r.report
        },
        MisuseCase(name: "SRST while the stream runs", trigger: "RUN a valid stream; write SDnCTL.SRST without clearing RUN", expect: ["SRST", "RUN"]) {
            let r = HDARig(); r.run(entries: [(r.page1, 2048), (r.page2, 2048)]); r.clock.advance(by: 1_000_000); r.w(HDARig.sd, 1); return r.report
        },
        MisuseCase(name: "Stream registers written while RUN = 1", trigger: "RUN; write SDnCBL", expect: ["while RUN = 1"]) {
            let r = HDARig(); r.run(entries: [(r.page1, 2048), (r.page2, 2048)]); r.w(HDARig.sd + HDARegister.sdCBL, 8192); return r.report
        },
        MisuseCase(name: "DMA position buffer (DPLBASE) in a memory hole", trigger: "DPLBASE = 0xA_0000 | DPBE; RUN a valid stream; 1 ms",
                   expect: ["DPLBASE", "not allocated RAM"]) {
            let r = HDARig(); r.w(HDARegister.dplbase, 0xA_0001); r.run(entries: [(r.page1, 2048), (r.page2, 2048)])
            r.clock.advance(by: 1_000_000); return r.report
        },
        MisuseCase(name: "Bad register width / offset", trigger: "64-bit write to GCTL, 32-bit read at +0x09, read at +0x5000",
                   expect: ["bad widths", "unknown reads"]) {
            let r = HDARig()
            r.w(HDARegister.gctl, 1, .qword); _ = r.hda.read(offset: 0x09, width: .dword); _ = r.hda.read(offset: 0x5000, width: .dword)
            return r.report
        },
        MisuseCase(name: "Registers written while the controller is in reset", trigger: "GCTL.CRST = 0; write INTCTL", expect: ["GCTL.CRST = 0"]) {
            let r = HDARig(); r.w(HDARegister.gctl, 0); r.w(HDARegister.intctl, 0x8000_0000); return r.report
        },
    ]

    // MARK: 8237 + SB16, sg

    final class ISARig {
        let clock = VirtualClock(start: 1_000_000)
        let memory = PhysicalMemory()
        let scheduler: Scheduler
        let bus = IOBus()
        let dma: ISADMAController
        let sb: SoundBlaster16
        init() {
            scheduler = Scheduler(timebase: clock)
            dma = ISADMAController(timebase: clock)
            for (block, window) in dma.blocks { try! bus.attach(block, at: window) }
            sb = SoundBlaster16(memory: memory, timebase: clock, passGuard: scheduler.passGuard, isa: dma)
            try! bus.attach(sb, at: .ports(base: SoundBlaster16.basePort, length: sb.size))
            scheduler.add(sb)
        }
        func out(_ port: UInt16, _ value: Int) { bus.writePort(port, width: .byte, value: UInt64(UInt8(truncatingIfNeeded: value))) }
        func dsp(_ bytes: Int...) { for b in bytes { out(0x22C, b) } }
        /// Channel 5 at `base` for `bytes`, unmasked unless `mask`.
        func channel5(base: UInt64, bytes: Int, mask: Bool = false) {
            out(0xD4, 5); out(0xD8, 0); out(0xD6, 0x58 | 1)
            out(0x8B, Int(base >> 16) & 0xFE)
            let word = Int(base >> 1) & 0xFFFF, count = bytes / 2 - 1
            out(0xC4, word); out(0xC4, word >> 8); out(0xC6, count); out(0xC6, count >> 8)
            if !mask { out(0xD4, 1) }
        }
        var report: String { (sb.errors.descriptions + dma.errors.descriptions + [sb.lastProgramError].compactMap { $0 }).joined(separator: "; ") }
    }

    static let isa: [MisuseCase] = [
        MisuseCase(name: "8237 count beyond its 128 KiB page", trigger: "8237 channel 5 at 0x3_F000 for 16 KiB (crosses 0x4_0000); DSP 0xB6",
                   expect: ["128 KiB page"]) {
            let r = ISARig()
            _ = r.memory.allocateContiguousPages(ddi: "test", lowAddress: 0x2_0000, highAddress: 0x5_FFFF, totalBytes: 0x4_0000)
            r.channel5(base: 0x3_F000, bytes: 0x4000); r.dsp(0x41, 0xAC, 0x44); r.dsp(0xB6, 0x30, 0xFF, 0x07); return r.report
        },
        MisuseCase(name: "SB16: unknown DSP command", trigger: "write 0x99 to the DSP (0x22C)", expect: ["DSP command not modelled"]) {
            let r = ISARig(); r.dsp(0x99); return r.report
        },
        MisuseCase(name: "SB16: rate outside 5000-44100 Hz", trigger: "DSP 0x41 (output rate) 0xFF 0xFF: 65535 Hz",
                   expect: ["5000", "44100"]) {
            let r = ISARig(); r.dsp(0x41, 0xFF, 0xFF); return r.report
        },
        MisuseCase(name: "SB16: transfer on a masked 8237 channel", trigger: "program channel 5, leave it masked; DSP 0xB6", expect: ["masked"]) {
            let r = ISARig()
            _ = r.memory.allocateContiguousPages(ddi: "test", lowAddress: 0x2_0000, highAddress: 0x2_FFFF, totalBytes: 0x1_0000)
            r.channel5(base: 0x2_0000, bytes: 0x4000, mask: true); r.dsp(0x41, 0xAC, 0x44); r.dsp(0xB6, 0x30, 0xFF, 0x07); return r.report
        },
        MisuseCase(name: "sg: RUN with DESCCOUNT 0", trigger: "sg channel 0: DESCCOUNT = 0; CTL = RUN", expect: ["DESCCOUNT"]) {
            let clock = VirtualClock(start: 1_000_000)
            let scheduler = Scheduler(timebase: clock)
            let sg = GenericBusMaster(memory: PhysicalMemory(), timebase: clock, passGuard: scheduler.passGuard)
            sg.write(offset: 0x40 + 0x10, width: .dword, value: 0)
            sg.write(offset: 0x40 + 0x14, width: .dword, value: UInt64(GenericBusMaster.Channel.encode(.cd48k)))
            sg.write(offset: 0x40, width: .dword, value: 1)
            return sg.errors.descriptions.joined(separator: "; ")
        },
    ]

    // MARK: The port's KS properties (NTSTATUS)

    /// A pin on the hda example, and what `body` gets back from it.
    static func onPin(_ body: (KSPin) -> String) throws -> String {
        let machine = Machine(timebase: VirtualClock(start: 1_000_000))
        defer { machine.shutdown() }
        let adapter = try Adapter(kind: .hda, machine: machine)
        defer { adapter.shutdown() }
        let port = try WaveRTPort(miniport: HDAMiniport(), adapter: adapter)
        defer { _ = port.close() }
        let pin = try port.createPin(0, dataFormat: KSDataFormat(.cd48k)).get()
        defer { _ = pin.close() }
        return body(pin)
    }

    static func property(_ pin: KSPin, _ set: GUID, _ id: UInt32, _ flags: KSPropertyFlags, input: Int = 24, output: Int) -> String {
        var i = [UInt8](repeating: 0, count: input), o = [UInt8](repeating: 0, count: output)
        let p = KSProperty(set: set, id: id, flags: flags)
        if input >= 24 { i.withUnsafeMutableBytes { p.store(to: $0.baseAddress!) } }
        let (status, bytes) = i.withUnsafeBytes { ib in o.withUnsafeMutableBytes { ob in pin.property(p, input: ib, output: ob) } }
        return "\(status), \(bytes) bytes"
    }

    static let port: [MisuseCase] = [
        MisuseCase(name: "KSPROPERTY_AUDIO_POSITION with a short buffer", trigger: "GET, output 8 bytes (KSAUDIO_POSITION is 16)",
                   expect: ["STATUS_BUFFER_TOO_SMALL", "16 bytes"]) {
            try onPin { property($0, KSPropertySet.audio, KSPROPERTY_AUDIO_POSITION, .get, output: 8) }
        },
        MisuseCase(name: "KSPROPERTY_RTAUDIO_BUFFER with a short property", trigger: "GET, input 24 bytes (KSRTAUDIO_BUFFER_PROPERTY is 36)",
                   expect: ["STATUS_INVALID_BUFFER_SIZE"]) {
            try onPin { property($0, KSPropertySet.rtAudio, KSPropertyRtAudio.buffer.rawValue, .get, output: 16) }
        },
        MisuseCase(name: "SET of a GET-only property", trigger: "KSPROPERTY_AUDIO_POSITION with KSPROPERTY_TYPE_SET", expect: ["STATUS_INVALID_DEVICE_REQUEST"]) {
            try onPin { property($0, KSPropertySet.audio, KSPROPERTY_AUDIO_POSITION, .set, output: 16) }
        },
        MisuseCase(name: "Unknown KSPROPSETID_RtAudio id", trigger: "id 99", expect: ["STATUS_NOT_FOUND"]) {
            try onPin { property($0, KSPropertySet.rtAudio, 99, .get, output: 16) }
        },
        MisuseCase(name: "KSPROPERTY_CONNECTION_STATE with an invalid KSSTATE", trigger: "SET state 7", expect: ["STATUS_INVALID_PARAMETER"]) {
            try onPin { pin in
                var i = [UInt8](repeating: 0, count: 24), o = [UInt8](repeating: 7, count: 1) + [0, 0, 0]
                let p = KSProperty(set: KSPropertySet.connection, id: KSPROPERTY_CONNECTION_STATE, flags: .set)
                i.withUnsafeMutableBytes { p.store(to: $0.baseAddress!) }
                let (s, _) = i.withUnsafeBytes { ib in o.withUnsafeMutableBytes { ob in pin.property(p, input: ib, output: ob) } }
                return "\(s)"
            }
        },
        MisuseCase(name: "KSSTATE_RUN before a buffer is allocated", trigger: "setState(.run) on a fresh pin", expect: ["STATUS_INVALID_DEVICE_STATE"]) {
            try onPin { "\($0.setState(.run))" }
        },
        MisuseCase(name: "Buffer requested twice", trigger: "buffer(4096, 2) twice on one pin", expect: ["STATUS_INVALID_DEVICE_REQUEST"]) {
            try onPin { pin in
                _ = pin.buffer(requestedSize: 4096, notificationCount: 2)
                if case .failure(let s) = pin.buffer(requestedSize: 4096, notificationCount: 2) { return "\(s)" }
                return "granted twice"
            }
        },
    ]

    // MARK: Files and profiles (thrown errors)

    static func temporary(_ bytes: [UInt8], _ suffix: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wavert-misuse-\(getpid())-\(suffix)").path
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    static let files: [MisuseCase] = [
        MisuseCase(name: "Corrupt WAV (header only, garbage fmt)", trigger: "AudioFileSource(path:) of \"RIFF....WAVEfmt \" + 20 random bytes",
                   expect: ["cannot read", "as audio"]) {
            let path = temporary(Array("RIFF\u{24}\0\0\0WAVEfmt ".utf8) + [16, 0, 0, 0, 0x99, 0x99, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8], "corrupt.wav")
            defer { unlink(path) }
            do { _ = try AudioFileSource(path: path); return "accepted" } catch { return "\(error)".replacingOccurrences(of: path, with: "corrupt.wav") }
        },
        MisuseCase(name: "Missing audio file", trigger: "AudioFileSource(path: \"/nonexistent/tone.wav\")", expect: ["no such audio file"]) {
            do { _ = try AudioFileSource(path: "/nonexistent/tone.wav"); return "accepted" } catch { return "\(error)" }
        },
        MisuseCase(name: "DMA profile with a nonsensical field", trigger: "hda.json with \"addressBits\": 0", expect: ["addressBits"]) {
            var object = try JSONSerialization.jsonObject(with: DMAProfile.hda.jsonData()) as! [String: Any]
            object["addressBits"] = 0
            do { _ = try DMAProfile.decode(try JSONSerialization.data(withJSONObject: object), source: "bad.json"); return "accepted" } catch { return "\(error)" }
        },
        MisuseCase(name: "DMA profile that is not an object", trigger: "DMAProfile.decode(\"[]\")", expect: ["top level"]) {
            do { _ = try DMAProfile.decode(Data("[]".utf8), source: "list.json"); return "accepted" } catch { return "\(error)" }
        },
        MisuseCase(name: "Unknown DMA preset", trigger: "DMAProfile.named(\"pci-64\")", expect: ["no DMA profile named 'pci-64'"]) {
            do { _ = try DMAProfile.named("pci-64"); return "accepted" } catch { return "\(error)" }
        },
    ]

    static let all: [MisuseCase] = kernel + memory + hda + isa + port + files
}
