import Synchronization
import WaveRTDMA
import WaveRTEngine
import WaveRTMemory

/// A Sound Blaster 16-style DSP (DSP 4.05) at port base 0x220 with IRQ 5 and
/// DMA channels 1 (8-bit) and 5 (16-bit), as the Creative hardware
/// programming guide and the Linux sb16 driver describe it (see
/// `WaveRTHardware.docc/ISA.md`).
///
/// - Ports: +0x6 reset (write 1 then 0; the DSP answers 0xAA at +0xA), +0xA
///   read data, +0xC command/data (reads bit 7 = busy, never set here), +0xE
///   read-buffer status (bit 7 = data ready), whose read also acknowledges the
///   8-bit IRQ, +0xF acknowledges the 16-bit IRQ, +0x4/+0x5 mixer address and
///   data (0x80 IRQ select, 0x81 DMA select, 0x82 IRQ status).
/// - Commands: 0x41/0x42 output/input rate (high byte first), 0xB0–0xBF
///   16-bit transfers (bit 3 input, bit 2 auto-initialise) followed by a mode
///   byte (bit 4 signed, bit 5 stereo) and (samples − 1) low then high, where
///   samples count every channel's; 0xD5/0xD6 pause/continue 16-bit,
///   0xD9 exit 16-bit auto-initialise, 0xE1 version (4.05), 0xD1/0xD3 speaker.
/// - Rates are 5000–44100 Hz; others are clamped and counted.
/// - The DSP pulls its data through the 8237 channel at the sample rate: the
///   channel's window (page, base address, count) is read when a transfer
///   command or a continue starts the engine. The IRQ is raised at the end of
///   each block of (length + 1) samples and stays asserted until the driver
///   reads +0xF.
/// - 8-bit transfers are decoded but not modelled (counted, silent).
public final class SoundBlaster16: RegisterBlock, InterruptSource, TimedWork, ISADMAController.ISADMAChannelClient, @unchecked Sendable {
    public enum GuestError: Int, CaseIterable, CustomStringConvertible, Sendable {
        case rateOutOfRange, eightBitNotModelled, unsignedSixteenBit, channelMasked, channelDirection
        case programRefused, unknownCommand, concurrentCommandWrite, readOnlyWrite

        public var description: String {
            switch self {
            case .rateOutOfRange: "sample rate outside the DSP's 5000–44100 Hz (clamped)"
            case .eightBitNotModelled: "8-bit DMA transfers are not modelled (silence)"
            case .unsignedSixteenBit: "16-bit transfer with unsigned samples (played as signed)"
            case .channelMasked: "a transfer started while its 8237 channel is masked"
            case .channelDirection: "the 8237 channel's transfer type does not match the DSP command's direction"
            case .programRefused: "the 8237 window breaks the DMA profile's rules (crosses its 128 KiB page, outside RAM)"
            case .unknownCommand: "DSP command not modelled"
            case .concurrentCommandWrite: "two threads wrote DSP command bytes at once (byte dropped)"
            case .readOnlyWrite: "write to a read-only port"
            }
        }
    }

    public static let basePort: UInt16 = 0x220
    public static let irq = 5
    public static let dma8 = 1
    public static let dma16 = 5

    public let name = "sb16"
    public let size = 16
    public let faults = BusFaults()
    public let errors = GuestErrors<GuestError>(device: "sb16")
    public let interruptLine = InterruptLine(name: "IRQ5")
    public let isa: ISADMAController
    public let memory: PhysicalMemory
    public let timebase: any Timebase
    public let profile: DMAProfile
    public let faithfulFaults: Bool
    /// The 16-bit engine, one stream per direction (the DSP runs one at a time).
    public let playback: DMAStream
    public let recording: DMAStream
    public var lastProgramError: String? { programError.withLock { $0 } }

    private let irq8 = Atomic<Bool>(false)
    private let irq16 = Atomic<Bool>(false)
    private let mixerAddress = Atomic<UInt8>(0)
    private let mixerScratch: UnsafeMutablePointer<Atomic<UInt8>>
    private let outputRate = Atomic<UInt32>(22_050)
    private let inputRate = Atomic<UInt32>(22_050)
    private let resetLatch = Atomic<Bool>(false)
    private let commandGate = Atomic<Bool>(false)
    private let programError = Mutex<String?>(nil)
    private let prepared = Mutex<StreamFormat?>(nil)
    // Command parser: only the thread holding `commandGate` touches it.
    private var command: UInt8 = 0
    private var arguments: [UInt8] = []
    private var expected = 0
    // Answers for +0xA, a small ring written under `commandGate`, read lock-free.
    private let answers = UnsafeMutablePointer<Atomic<UInt8>>.allocate(capacity: 16)
    private let answerHead = Atomic<Int>(0)
    private let answerTail = Atomic<Int>(0)
    private let lastAnswer = Atomic<UInt8>(0xFF)
    // The 16-bit engine's state.
    private let engineDirection = Atomic<Int>(0)   // 0 idle, 1 playback, 2 recording
    private let stopAtBlockEnd = Atomic<Bool>(false)

    public init(memory: PhysicalMemory, timebase: any Timebase, passGuard: PassGuard, isa: ISADMAController,
                profile: DMAProfile = .isa8237_16bit, faithfulFaults: Bool = false,
                sink: (any AudioSink)? = nil, source: (any AudioSource)? = nil)
    {
        self.memory = memory
        self.timebase = timebase
        self.isa = isa
        self.profile = profile
        self.faithfulFaults = faithfulFaults
        playback = DMAStream(direction: .render, timebase: timebase, passGuard: passGuard, sink: sink)
        recording = DMAStream(direction: .capture, timebase: timebase, passGuard: passGuard, source: source)
        mixerScratch = .allocate(capacity: 256)
        for i in 0..<256 { (mixerScratch + i).initialize(to: Atomic(0)) }
        for i in 0..<16 { (answers + i).initialize(to: Atomic(0)) }
        interruptLine.drive(from: self)
        for stream in [playback, recording] {
            stream.onInterruptPoint = { [unowned(unsafe) self] _, _ in self.blockEnd() }
        }
        isa.channels[Self.dma16].connect(self)
        isa.channels[Self.dma8].connect(self)
    }

    deinit {
        isa.channels[Self.dma16].disconnect(self)
        isa.channels[Self.dma8].disconnect(self)
        mixerScratch.deinitialize(count: 256)
        mixerScratch.deallocate()
        answers.deinitialize(count: 16)
        answers.deallocate()
    }

    // MARK: RegisterBlock

    public func read(offset: Int, width: AccessWidth) -> UInt64 {
        guard width == .byte, (0..<size).contains(offset) else {
            faults.badWidth(offset: offset, width: width)
            return width.mask
        }
        switch offset {
        case 0x5: return UInt64(readMixer(mixerAddress.load(ordering: .acquiring)))
        case 0xA: return UInt64(popAnswer())
        case 0xC: return 0x7F  // write buffer ready
        case 0xE:
            irq8.store(false, ordering: .releasing)
            return hasAnswer ? 0xFF : 0x7F
        case 0xF:
            irq16.store(false, ordering: .releasing)
            return 0xFF
        default:
            faults.unknownRead(offset: offset, width: width)
            return 0xFF
        }
    }

    public func write(offset: Int, width: AccessWidth, value: UInt64) {
        guard width == .byte, (0..<size).contains(offset) else { return faults.badWidth(offset: offset, width: width) }
        let byte = UInt8(truncatingIfNeeded: value)
        switch offset {
        case 0x4: mixerAddress.store(byte, ordering: .releasing)
        case 0x5: writeMixer(mixerAddress.load(ordering: .acquiring), byte)
        case 0x6:
            if byte & 1 != 0 {
                resetLatch.store(true, ordering: .releasing)
            } else if resetLatch.exchange(false, ordering: .acquiringAndReleasing) {
                withCommandGate { dspReset() }
            }
        case 0xC: withCommandGate { commandByte(byte) }
        case 0xA, 0xE, 0xF: errors.note(.readOnlyWrite, UInt64(offset))
        default: faults.unknownWrite(offset: offset, width: width)
        }
    }

    private func withCommandGate(_ body: () -> Void) {
        guard !commandGate.exchange(true, ordering: .acquiring) else { return errors.note(.concurrentCommandWrite) }
        body()
        commandGate.store(false, ordering: .releasing)
    }

    // MARK: Mixer

    private func readMixer(_ register: UInt8) -> UInt8 {
        switch register {
        case 0x80: 0x02  // IRQ 5
        case 0x81: 0x22  // DMA 1 and 5
        case 0x82: (irq8.load(ordering: .acquiring) ? 1 : 0) | (irq16.load(ordering: .acquiring) ? 2 : 0)
        default: mixerScratch[Int(register)].load(ordering: .relaxed)
        }
    }

    private func writeMixer(_ register: UInt8, _ value: UInt8) {
        switch register {
        case 0x80, 0x81, 0x82: break  // fixed resources on this board; status is read-only
        default: mixerScratch[Int(register)].store(value, ordering: .relaxed)
        }
    }

    public var interruptLevel: Bool { irq8.load(ordering: .acquiring) || irq16.load(ordering: .acquiring) }

    // MARK: DSP commands (under the command gate)

    private var hasAnswer: Bool { answerHead.load(ordering: .acquiring) != answerTail.load(ordering: .acquiring) }

    private func pushAnswer(_ byte: UInt8) {
        let t = answerTail.load(ordering: .relaxed)
        guard t - answerHead.load(ordering: .acquiring) < 16 else { return }
        answers[t & 15].store(byte, ordering: .relaxed)
        answerTail.store(t + 1, ordering: .releasing)
    }

    private func popAnswer() -> UInt8 {
        while true {
            let h = answerHead.load(ordering: .acquiring)
            guard h != answerTail.load(ordering: .acquiring) else { return lastAnswer.load(ordering: .relaxed) }
            let byte = answers[h & 15].load(ordering: .relaxed)
            if answerHead.compareExchange(expected: h, desired: h + 1, ordering: .acquiringAndReleasing).exchanged {
                lastAnswer.store(byte, ordering: .relaxed)
                return byte
            }
        }
    }

    private func dspReset() {
        let now = timebase.now
        playback.stop(at: now)
        recording.stop(at: now)
        engineDirection.store(0, ordering: .releasing)
        irq8.store(false, ordering: .releasing)
        irq16.store(false, ordering: .releasing)
        answerHead.store(answerTail.load(ordering: .acquiring), ordering: .releasing)
        command = 0
        arguments.removeAll(keepingCapacity: true)
        expected = 0
        pushAnswer(0xAA)
    }

    private func commandByte(_ byte: UInt8) {
        if expected > 0 {
            arguments.append(byte)
            if arguments.count == expected {
                expected = 0
                execute(command, arguments)
            }
            return
        }
        command = byte
        arguments.removeAll(keepingCapacity: true)
        switch byte {
        case 0x41, 0x42: expected = 2
        case 0x40: expected = 1
        case 0xB0...0xCF: expected = 3
        default: execute(byte, [])
        }
    }

    private func execute(_ command: UInt8, _ args: [UInt8]) {
        let now = timebase.now
        switch command {
        case 0x41, 0x42:
            var rate = UInt32(args[0]) << 8 | UInt32(args[1])
            if rate < 5000 || rate > 44_100 {
                errors.note(.rateOutOfRange, UInt64(rate))
                rate = min(max(rate, 5000), 44_100)
            }
            if command == 0x41 { outputRate.store(rate, ordering: .releasing) } else { inputRate.store(rate, ordering: .releasing) }
        case 0x40: break  // time constant (SB 2.0 rates): superseded by 0x41/0x42 on the SB16
        case 0xB0...0xBF:
            startTransfer(input: command & 0x08 != 0, autoInitialise: command & 0x04 != 0, mode: args[0],
                          samples: Int(args[1]) | Int(args[2]) << 8, at: now)
        case 0xC0...0xCF: errors.note(.eightBitNotModelled, UInt64(command))
        case 0xD5:
            playback.stop(at: now)
            recording.stop(at: now)
        case 0xD6: resume(at: now)
        case 0xD9: stopAtBlockEnd.store(true, ordering: .releasing)
        case 0xD0, 0xD4, 0xDA: break  // 8-bit pause/continue/exit: no 8-bit engine runs
        case 0xD1, 0xD3: break  // speaker on/off
        case 0xE1:
            pushAnswer(4)
            pushAnswer(5)
        default: errors.note(.unknownCommand, UInt64(command))
        }
    }

    /// 0xBx: program the 16-bit engine from the 8237 channel and start it.
    private func startTransfer(input: Bool, autoInitialise: Bool, mode: UInt8, samples: Int, at now: UInt64) {
        let stereo = mode & 0x20 != 0
        if mode & 0x10 == 0 { errors.note(.unsignedSixteenBit, UInt64(mode)) }
        let channels = stereo ? 2 : 1
        let rate = Int(input ? inputRate.load(ordering: .acquiring) : outputRate.load(ordering: .acquiring))
        let blockBytes = UInt64(samples + 1) * 2
        let stream = input ? recording : playback
        let other = input ? playback : recording
        other.stop(at: now)
        stream.stop(at: now)
        stream.reset()
        stopAtBlockEnd.store(!autoInitialise, ordering: .releasing)
        engineDirection.store(input ? 2 : 1, ordering: .releasing)
        guard let format = try? StreamFormat(sampleRate: rate, channels: channels, sampleFormat: .int16) else { return }
        prepared.withLock { current in
            guard current != format else { return }
            do {
                if input { try recording.source?.prepare(format: format) } else { try playback.sink?.prepare(format: format) }
                current = format
            } catch {
                errors.note(.programRefused, UInt64(rate))
            }
        }
        stream.configure(rate: rate, blockAlign: 2 * channels, fifoBytes: 0, burstBytes: 2)
        guard let program = loadChannel(input: input, blockBytes: blockBytes) else { return }
        stream.load(program)
        stream.start(at: now)
    }

    /// 0xD6: continue, re-reading the 8237 window in case the driver reprogrammed it while paused.
    private func resume(at now: UInt64) {
        let direction = engineDirection.load(ordering: .acquiring)
        guard direction != 0 else { return }
        let input = direction == 2
        let stream = input ? recording : playback
        if let current = stream.program, isa.channels[Self.dma16].programGeneration != loadedGeneration.load(ordering: .acquiring) {
            if let program = loadChannel(input: input, blockBytes: current.schedule.period) { stream.load(program) }
        }
        stream.start(at: now)
    }

    /// The 8237 programming the engine last loaded (read by the 8237's register reads, any thread).
    private let loadedGeneration = Atomic<UInt64>(.max)

    /// The 8237 channel's window as a DMA program with an IRQ at each block end.
    private func loadChannel(input: Bool, blockBytes: UInt64) -> DMAStream.Program? {
        let channel = isa.channels[Self.dma16]
        loadedGeneration.store(channel.programGeneration, ordering: .releasing)
        if channel.isMasked { errors.note(.channelMasked, UInt64(Self.dma16)) }
        if (input && !channel.isWriteToMemory) || (!input && !channel.isReadFromMemory) {
            errors.note(.channelDirection, UInt64(channel.mode.load(ordering: .relaxed)))
        }
        let window = channel.window
        let controller = DMAController(profile: profile, memory: memory, faithfulFaults: faithfulFaults)
        do {
            try controller.program(descriptors: [DMADescriptor(address: window.base, length: window.length)])
        } catch {
            errors.note(.programRefused, window.base.rawValue)
            programError.withLock { $0 = "8237 channel \(Self.dma16): \(error)" }
            return nil
        }
        return DMAStream.Program(dma: controller, schedule: DMAStream.InterruptSchedule(period: blockBytes, points: [blockBytes]))
    }

    /// A block ended (on the pass): raise the 16-bit IRQ; a single-cycle or
    /// exiting auto-initialise transfer stops here.
    private func blockEnd() {
        irq16.store(true, ordering: .releasing)
        if stopAtBlockEnd.exchange(false, ordering: .acquiringAndReleasing) {
            let now = timebase.now
            playback.stop(at: now)
            recording.stop(at: now)
            engineDirection.store(0, ordering: .releasing)
        }
    }

    // MARK: The 8237's view

    /// What the engine has moved through the channel since the 8237 was last
    /// programmed. Writing the 8237's count sets its current count too, so a
    /// channel reprogrammed while the engine is stopped reads from its base
    /// until the engine loads it (a running engine keeps its count: an
    /// approximation of a reprogram during transfers).
    public func bytesTransferred(channel: Int, at time: UInt64) -> UInt64 {
        guard channel == Self.dma16 else { return 0 }
        let stream = engineDirection.load(ordering: .acquiring) == 2 ? recording : playback
        let timing = stream.currentTiming()
        if !timing.running && isa.channels[Self.dma16].programGeneration != loadedGeneration.load(ordering: .acquiring) { return 0 }
        return stream.dmaBytes(timing, at: time)
    }

    // MARK: TimedWork

    public func setWakeHandler(_ wake: @escaping @Sendable () -> Void) {
        playback.setWakeHandler(wake)
        recording.setWakeHandler(wake)
    }

    public func nextDeadline() -> UInt64? {
        switch (playback.nextDeadline(), recording.nextDeadline()) {
        case (let a?, let b?): min(a, b)
        case (let a?, nil): a
        case (nil, let b?): b
        default: nil
        }
    }

    public func service(now: UInt64) {
        playback.service(now: now)
        recording.service(now: now)
        interruptLine.signal()
    }
}
