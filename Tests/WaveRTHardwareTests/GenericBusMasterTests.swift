import Testing
import WaveRTDMA
import WaveRTEngine
import WaveRTHardware
import WaveRTMemory
import WaveRTTestSupport

/// The project's generic scatter-gather bus master (`sg`): its documented
/// register set (see ``GenericBusMaster``) driven as a driver would.
@Suite struct GenericBusMasterTests {
    enum R {
        static let ID = 0x00, CAPS = 0x04, INTSTS = 0x08
        static func ch(_ n: Int) -> Int { 0x40 + 0x40 * n }
        static let CTL = 0x00, STS = 0x04, DESCLO = 0x08, DESCHI = 0x0C, DESCCOUNT = 0x10, FORMAT = 0x14
        static let POSITION = 0x18, LENGTH = 0x1C, FIFOSIZE = 0x20
        static let RUN: UInt32 = 1, IE: UInt32 = 2, RESET: UInt32 = 4, EIE: UInt32 = 8
        static let IOC: UInt32 = 1, ERR: UInt32 = 2, ACTIVE: UInt32 = 4
    }

    final class Rig {
        let clock = VirtualClock(start: 1_000_000)
        let memory = PhysicalMemory()
        let scheduler: Scheduler
        let sg: GenericBusMaster
        let speaker = GrowingSink()
        let microphone = PatternSource()
        let buffer: MDL
        let table: MDL
        let data: [UInt8]

        /// A 3840-byte buffer (two 1920-byte packets, IOC at each end) over two scattered pages.
        init(coarsePosition: Bool = false, profile: DMAProfile = .pcie64SG, ioc: [Bool] = [true, true]) {
            scheduler = Scheduler(timebase: clock)
            sg = GenericBusMaster(memory: memory, timebase: clock, passGuard: scheduler.passGuard, profile: profile,
                                  coarsePosition: coarsePosition, sink: speaker, source: microphone)
            scheduler.add(sg)
            // Two pages that are not adjacent: hold the top page, take the one below, free the top.
            let top = memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 4096)!
            let hole = memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 4096)!
            memory.freePagesFromMdl(top)
            buffer = memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 8192)!
            precondition(buffer.pageFrameNumbers[1] != buffer.pageFrameNumbers[0] + 1 && hole.isLive)
            table = memory.allocatePagesForMdl(lowAddress: 0, highAddress: 0xFFFF_FFFF, skipBytes: 0, totalBytes: 4096)!
            data = PatternSource.bytes(count: 3840)
            memory.writePhysical(at: buffer.physicalAddress(ofPage: 0), bytes: Array(data[0..<1920]))
            memory.writePhysical(at: buffer.physicalAddress(ofPage: 1), bytes: Array(data[1920..<3840]))
            // Two descriptors, one per page (the pages are not adjacent).
            var entries: [UInt8] = []
            for i in 0..<2 {
                entries += withUnsafeBytes(of: buffer.physicalAddress(ofPage: i).rawValue.littleEndian) { Array($0) }
                entries += withUnsafeBytes(of: UInt32(1920).littleEndian) { Array($0) }
                entries += withUnsafeBytes(of: UInt32(ioc[i] ? 1 : 0).littleEndian) { Array($0) }
            }
            memory.writePhysical(at: tableAddress, bytes: entries)
        }

        var tableAddress: PhysicalAddress { table.physicalAddress(ofPage: 0) }
        func r(_ o: Int) -> UInt32 { UInt32(sg.read(offset: o, width: .dword)) }
        func w(_ o: Int, _ v: UInt32) { sg.write(offset: o, width: .dword, value: UInt64(v)) }

        /// Channel `n`: table, count and format (48 kHz stereo 16-bit).
        func program(_ n: Int, count: UInt32 = 2, format: StreamFormat = .cd48k) {
            let c = R.ch(n)
            w(c + R.CTL, R.RESET)
            w(c + R.DESCLO, UInt32(truncatingIfNeeded: tableAddress.rawValue))
            w(c + R.DESCHI, UInt32(truncatingIfNeeded: tableAddress.rawValue >> 32))
            w(c + R.DESCCOUNT, count)
            w(c + R.FORMAT, GenericBusMaster.Channel.encode(format))
        }
    }

    @Test func identityAndCapabilities() {
        let rig = Rig()
        #expect(rig.r(R.ID) == 0x5753_4731)
        let caps = rig.r(R.CAPS)
        #expect(caps & 1 == 1)                   // 64-bit descriptor addresses (pcie64-sg)
        #expect((caps >> 8) & 0xFF == 2)          // two channels
        #expect(caps >> 16 == 4096)               // descriptors per table
        #expect(Rig(profile: .pci32SG).r(R.CAPS) & 1 == 0)
        #expect(GenericBusMaster.Channel.encode(.cd48k) == 48_000 | 1 << 20)
    }

    @Test func runPlaysTheTableRaisesIOCAndStatusIsWriteOneToClear() throws {
        let rig = Rig()
        let c = R.ch(0)
        rig.program(0)
        #expect(rig.r(c + R.FIFOSIZE) == 32 * 4)                // follows FORMAT: valid before RUN (a driver reports latency then)
        #expect(rig.r(c + R.LENGTH) == 0)
        let start = rig.clock.now
        rig.w(c + R.CTL, R.RUN | R.IE)
        #expect(rig.r(c + R.LENGTH) == 3840)                    // latched at RUN
        #expect(rig.r(c + R.FIFOSIZE) == 32 * 4)                // pcie64-sg: 32 frames
        #expect(rig.r(c + R.STS) & R.ACTIVE != 0)
        #expect(rig.r(c + R.CTL) == R.RUN | R.IE)
        // The first descriptor's IOC: fetched when POSITION + FIFO reaches 1920 (64-byte bursts):
        // position 1792 = frame 448.
        let ioc = start + PositionMath.nanoseconds(untilFrames: 448, rate: 48_000)
        rig.clock.advance(to: ioc - 1)
        #expect(rig.r(R.INTSTS) == 0 && !rig.sg.interruptLine.isAsserted)
        rig.clock.advance(to: ioc)
        #expect(rig.r(c + R.STS) & R.IOC != 0)
        #expect(rig.r(R.INTSTS) == 1 && rig.sg.interruptLine.isAsserted)
        #expect(rig.r(c + R.POSITION) == 1792)
        rig.clock.advance(by: 100_000)
        #expect(rig.sg.interruptLine.isAsserted)                // level-triggered
        rig.w(c + R.STS, R.ERR)                                  // writing another bit clears nothing
        #expect(rig.sg.interruptLine.isAsserted)
        rig.w(c + R.STS, R.IOC)
        #expect(!rig.sg.interruptLine.isAsserted && rig.r(c + R.STS) & R.IOC == 0)
        // Two laps later the speaker has the buffer twice, byte for byte, and POSITION wrapped at LENGTH.
        rig.clock.advance(to: start + PositionMath.nanoseconds(untilFrames: 2 * 960 + 100, rate: 48_000))
        #expect(rig.r(c + R.POSITION) == 400)
        let played = rig.speaker.bytes
        #expect(played.count >= 2 * 3840)
        #expect(firstDifference(Array(played.prefix(7680)), rig.data + rig.data) == nil)
        #expect(rig.speaker.formats == [.cd48k])
        #expect(rig.sg.errors.total == 0 && rig.sg.faults.total == 0)
    }

    @Test func interruptEnableGatesTheLineNotTheStatus() {
        let rig = Rig()
        let c = R.ch(0)
        rig.program(0)
        rig.w(c + R.CTL, R.RUN)  // no IE
        rig.clock.advance(by: 15_000_000)
        #expect(rig.r(c + R.STS) & R.IOC != 0)
        #expect(rig.r(R.INTSTS) == 0 && !rig.sg.interruptLine.isAsserted)
        rig.w(c + R.CTL, R.RUN | R.IE)
        #expect(rig.sg.interruptLine.isAsserted)
    }

    /// POSITION is kept across RUN 1→0→1 (a pause) and zeroed only by RESET.
    @Test func positionSurvivesAPauseAndResetZeroesIt() {
        let rig = Rig()
        let c = R.ch(0)
        rig.program(0)
        let start = rig.clock.now
        rig.w(c + R.CTL, R.RUN)
        rig.clock.advance(to: start + 1_000_000)                 // 48 frames
        rig.w(c + R.CTL, 0)
        #expect(rig.r(c + R.POSITION) == 48 * 4)
        rig.clock.advance(by: 5_000_000)
        #expect(rig.r(c + R.POSITION) == 48 * 4)
        #expect(rig.r(c + R.STS) & R.ACTIVE == 0)
        let resumed = rig.clock.now
        rig.w(c + R.CTL, R.RUN)
        rig.clock.advance(to: resumed + PositionMath.nanoseconds(untilFrames: 10, rate: 48_000))
        #expect(rig.r(c + R.POSITION) == 58 * 4)
        rig.w(c + R.CTL, R.RESET)
        #expect(rig.r(c + R.POSITION) == 0 && rig.r(c + R.CTL) == 0 && rig.r(c + R.LENGTH) == 0)
    }

    /// A register read between passes computes the device's state at that instant.
    @Test func registersShowTheDeviceAtTheInstantOfTheRead() {
        let rig = Rig()
        let c = R.ch(0)
        rig.program(0)
        let start = rig.clock.now
        rig.w(c + R.CTL, R.RUN)
        let passes = rig.scheduler.passCount
        for frames: UInt64 in [1, 7, 100, 333] {
            rig.clock.advance(to: start + PositionMath.nanoseconds(untilFrames: frames, rate: 48_000))
            #expect(rig.r(c + R.POSITION) == UInt32(frames * 4))
        }
        #expect(rig.scheduler.passCount <= passes + 2)  // not serviced at each read: computed
    }

    /// Cheap hardware that moves POSITION only when an IOC descriptor completes.
    @Test func coarsePositionMovesOnlyAtIOC() {
        let rig = Rig(coarsePosition: true)
        let c = R.ch(0)
        rig.program(0)
        let start = rig.clock.now
        rig.w(c + R.CTL, R.RUN)
        rig.clock.advance(to: start + 5_000_000)
        #expect(rig.r(c + R.POSITION) == 0)
        rig.clock.advance(to: start + 12_000_000)                // the first IOC was fetched at 9.33 ms
        #expect(rig.r(c + R.POSITION) == 1920)
    }

    @Test func aTableTheDeviceCannotUseSetsERR() {
        let rig = Rig()
        let c = R.ch(0)
        rig.program(0, count: 0)
        rig.w(c + R.CTL, R.RUN | R.EIE)
        #expect(rig.r(c + R.STS) & R.ERR != 0 && rig.r(c + R.CTL) & R.RUN == 0)
        #expect(rig.sg.errors.count(.countOutOfRange) == 1)
        #expect(rig.sg.interruptLine.isAsserted)                // ERR · EIE
        rig.w(c + R.STS, R.ERR)
        #expect(!rig.sg.interruptLine.isAsserted)
        // A table at an address nobody allocated.
        rig.program(0)
        rig.w(c + R.DESCLO, 0xA_0000)  // the legacy VGA hole
        rig.w(c + R.DESCHI, 0)
        rig.w(c + R.CTL, R.RUN)
        #expect(rig.sg.errors.count(.tableNotReadable) == 1)
        // A format the device cannot play (rate 0).
        rig.program(0)
        rig.w(c + R.FORMAT, 0)
        rig.w(c + R.CTL, R.RUN)
        #expect(rig.sg.errors.count(.badFormat) == 1)
        // Pages above the profile's reach: the DMA program is refused, the error named.
        let narrow = Rig(profile: .pci32SG)
        let high = narrow.memory.allocatePagesForMdl(lowAddress: 0, highAddress: .max, skipBytes: 0, totalBytes: 4096)!
        var entry = withUnsafeBytes(of: high.physicalAddress(ofPage: 0).rawValue.littleEndian) { Array($0) }
        entry += withUnsafeBytes(of: UInt32(4096).littleEndian) { Array($0) } + [0, 0, 0, 0]
        narrow.memory.writePhysical(at: narrow.tableAddress, bytes: entry)
        narrow.program(0, count: 1)
        narrow.w(c + R.CTL, R.RUN)
        #expect(narrow.sg.errors.count(.programRefused) == 1)
        #expect(narrow.sg.lastProgramError?.contains("above the 32-bit limit") == true)
        #expect(narrow.r(c + R.STS) & R.ERR != 0)
    }

    @Test func recordingWritesTheMicrophoneIntoTheBuffer() {
        let rig = Rig()
        let c = R.ch(1)
        rig.program(1)
        let start = rig.clock.now
        rig.w(c + R.CTL, R.RUN | R.IE)
        rig.clock.advance(to: start + 20_000_000)  // one lap: 960 frames
        let recorded = rig.memory.readPhysical(at: rig.buffer.physicalAddress(ofPage: 0), count: 1920)
            + rig.memory.readPhysical(at: rig.buffer.physicalAddress(ofPage: 1), count: 1920)
        #expect(firstDifference(recorded, PatternSource.bytes(count: 3840)) == nil)
        #expect(rig.r(R.INTSTS) == 2)  // channel 1
        #expect(rig.microphone.formats == [.cd48k])
    }

    @Test func unknownOffsetsBadWidthsAndReadOnlyWritesAreCountedNotFatal() {
        let rig = Rig()
        #expect(rig.sg.read(offset: 0x400, width: .dword) == 0xFFFF_FFFF)
        #expect(rig.sg.read(offset: 0x40, width: .byte) == 0xFF)
        #expect(rig.sg.read(offset: 0x42, width: .dword) == 0xFFFF_FFFF)   // unaligned
        #expect(rig.sg.read(offset: 0x2000, width: .dword) == 0xFFFF_FFFF) // beyond the BAR
        rig.sg.write(offset: 0x400, width: .dword, value: 1)
        rig.sg.write(offset: 0x40, width: .word, value: 1)
        #expect(rig.sg.faults.unknownReadCount == 1 && rig.sg.faults.unknownWriteCount == 1 && rig.sg.faults.badWidthCount == 4)
        #expect(rig.sg.faults.summary?.contains("bad widths") == true)
        rig.w(R.ch(0) + R.POSITION, 5)
        rig.w(R.ID, 5)
        #expect(rig.sg.errors.count(.readOnlyWrite) == 2)
        #expect(rig.r(R.ID) == 0x5753_4731)
        // Table registers written while running take effect only at the next RUN, and are named.
        rig.program(0)
        rig.w(R.ch(0) + R.CTL, R.RUN)
        rig.w(R.ch(0) + R.DESCCOUNT, 1)
        #expect(rig.sg.errors.count(.writeWhileRunning) == 1)
        #expect(rig.r(R.ch(0) + R.LENGTH) == 3840)
    }
}
