import WaveRTEngine
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

// Deliberately wrong miniports, each a small change to a correct one, each
// caught by a named check. What a driver writer learns from: run them, read
// what the emulator says, find the line.

/// `buggy-highmem`: a `simple` driver that ignores the device's CAPS register:
/// its controller reaches only 32 address bits, but it allocates its buffer
/// anywhere (AllocatePagesForMdl up to MAXULONG64), so on a machine with
/// memory above 4 GiB the pages land up there.
///
/// On Windows: silence or noise on big machines only. Here: the device
/// refuses the descriptor table (ERR) and names the segment, the address and
/// the 32-bit limit; with `--faithful-faults` it drops the high address bits,
/// as the silicon does, and plays whatever lies 4 GiB lower.
public final class BuggyHighMemoryMiniport: SimpleMiniport, @unchecked Sendable {
    override public func makeStream(capture: Bool, format: StreamFormat, portStream: any PortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus> {
        .success(attach(Stream(miniport: self, channel: capture ? 1 : 0, format: format, portStream: portStream)))
    }

    final class Stream: SimpleStream, @unchecked Sendable {
        // BUG: should be 0xFFFF_FFFF when CAPS says the device is 32-bit.
        override var highestAddress: PhysicalAddress { .max }
    }
}

/// `buggy-partial`: ignores a partial allocation. AllocatePagesForMdl may
/// return fewer bytes than asked ("the caller must verify how many bytes are
/// actually allocated"); this driver reports the size it asked for and
/// describes pages it never got. Harmless on an idle machine; wrong when
/// memory below its limit runs short (as after `fragment`). The port refuses
/// a buffer larger than its MDL (verifier: BufferLargerThanMdl).
public final class BuggyPartialMiniport: SimpleMiniport, @unchecked Sendable {
    override public func makeStream(capture: Bool, format: StreamFormat, portStream: any PortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus> {
        .success(attach(Stream(miniport: self, channel: capture ? 1 : 0, format: format, portStream: portStream)))
    }

    final class Stream: SimpleStream, @unchecked Sendable {
        override func allocate(_ requested: Int, notifications: Int) -> Result<AudioBufferAllocation, NTStatus> {
            let size = bufferSize(requested, notifications: notifications)
            // Asks for memory below 16 MiB, where a busy machine has little.
            guard let mdl = portStream.allocatePagesForMdl(highAddress: 0xFF_FFFF, totalBytes: size) else { return .failure(.insufficientResources) }
            // BUG: should use min(mdl.byteCount, size).
            return adopt(mdl, size: size, notifications: notifications, ioc: notifications > 0)
        }
    }
}

/// `buggy-passive-in-dpc`: calls a PASSIVE_LEVEL DDI from its DPC
/// (IPortWaveRTStream::GetPhysicalPagesCount, at DISPATCH_LEVEL). Plays fine;
/// Driver Verifier would bug-check; here the verifier reports IrqlTooHigh.
public final class BuggyPassiveInDpcMiniport: SimpleMiniport, @unchecked Sendable {
    override public func makeStream(capture: Bool, format: StreamFormat, portStream: any PortWaveRTStream) -> Result<any MiniportWaveRTStream, NTStatus> {
        .success(attach(Stream(miniport: self, channel: capture ? 1 : 0, format: format, portStream: portStream)))
    }

    final class Stream: SimpleStream, @unchecked Sendable {
        override func deferredProcedure() {
            // BUG: every IPortWaveRTStream method is PASSIVE_LEVEL; a DPC runs at DISPATCH_LEVEL.
            if let buffer { _ = portStream.getPhysicalPagesCount(buffer) }
            super.deferredProcedure()
        }
    }
}

/// `buggy-no-ioc`: an `hda` driver whose BDL has no IOC bit anywhere, so the
/// controller never interrupts and the client's events never fire (the timing
/// suite's notification-count check fails; nothing else does).
public final class BuggyNoIOCMiniport: HDAMiniport, @unchecked Sendable {
    override public var streamType: HDAStream.Type { Stream.self }

    final class Stream: HDAStream, @unchecked Sendable {
        // BUG: the entries that end a packet must carry IOC.
        override var setsInterruptOnCompletion: Bool { false }
    }
}

/// `buggy-cumulative-position`: an `hda` driver whose GetPosition returns the
/// linear byte count since RUN instead of the offset in the cyclic buffer
/// (the timing suite's wrap check fails: the position never wraps).
public final class BuggyCumulativePositionMiniport: HDAMiniport, @unchecked Sendable {
    override public var streamType: HDAStream.Type { Stream.self }

    final class Stream: HDAStream, @unchecked Sendable {
        override func getPosition(_ position: inout KSAudioPosition) -> NTStatus {
            guard let tracker else {
                position = KSAudioPosition()
                return .success
            }
            // BUG: KSAUDIO_POSITION holds offsets in the cyclic buffer, not linear counts.
            let linear = tracker.peek(register: UInt64(readRegisterUlong(reg(HDA.SDLPIB))))
            position = KSAudioPosition(playOffset: linear, writeOffset: linear + UInt64(fifoBytes))
            return .success
        }
    }
}

/// `buggy-wrong-fmt`: an `hda` driver that programs SDnFMT for 44.1 kHz on a
/// 48 kHz stream (it picked BASE = 44.1 kHz): the controller plays the buffer
/// 8 % slow and low, and the timing suite's sample-rate check fails.
public final class BuggyWrongFormatMiniport: HDAMiniport, @unchecked Sendable {
    override public var streamType: HDAStream.Type { Stream.self }

    final class Stream: HDAStream, @unchecked Sendable {
        // BUG: BASE (bit 14) set: 44.1 kHz instead of 48 kHz.
        override var formatRegister: UInt16 { fmt | 0x4000 }
    }
}
