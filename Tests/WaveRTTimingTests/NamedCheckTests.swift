import Testing
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTMemory
import WaveRTTiming

/// Each deliberately wrong example fails the check that names its bug, and
/// only that check: a driver writer reads the failing check and finds the line.
@Suite struct NamedCheckTests {
    /// The checks that failed, at either level.
    static func failed(_ report: TimingReport) -> Set<String> { Set(report.failedChecks) }

    @Test func theCorrectExamplesFailNothing() throws {
        for name in ["simple", "hda", "isa"] {
            let report = try Examples.run(name)
            #expect(Self.failed(report).isEmpty, "\(name): \(report.failures)")
            #expect(report.pass && report.passWindows)
        }
    }

    /// BDL without IOC: the controller never interrupts, the client's event never fires.
    @Test func noIOCFailsTheNotificationCount() throws {
        let report = try Examples.run("buggy-no-ioc")
        #expect(Self.failed(report) == ["notifications"], "\(report.failures)")
        #expect(report.notifications.count == 0 && report.notifications.expected > 300)
        #expect(report.notifications.timeouts > 200)  // the client served the buffer from the position anyway
        #expect(report.check("notifications")?.windows == .fail)
        #expect(report.check("notification-latency")?.strict == .notExercised)
        #expect(report.glitches == 0)
    }

    /// GetPosition returns the linear byte count: KSAUDIO_POSITION is not an offset in the buffer.
    /// The position register (what the client reads) is right, so nothing else fails.
    @Test func cumulativePositionFailsPositionInBuffer() throws {
        let report = try Examples.run("buggy-cumulative-position")
        #expect(Self.failed(report) == ["position-in-buffer"], "\(report.failures)")
        #expect(report.position.offsetsOutsideBuffer > 0 && report.position.maxOffsetBytes > report.stream.bufferBytes * 100)
        let register = try #require(report.positionRegister)
        #expect(register.offsetsOutsideBuffer == 0 && register.maxOffsetBytes < report.stream.bufferBytes)
        #expect(report.position.rateErrorPpm == 0)  // unwrapped, it keeps time
    }

    /// SDnFMT programmed for 44.1 kHz on a 48 kHz stream: the stream plays 8.125 % slow.
    @Test func wrongFormatFailsTheRate() throws {
        let report = try Examples.run("buggy-wrong-fmt")
        #expect(Self.failed(report) == ["rate"], "\(report.failures)")
        let rate = try #require(report.position.rateErrorPpm)
        #expect(abs(rate - (44_100.0 / 48_000 - 1) * 1e6) < 10, "\(rate)")
        #expect(report.positionRegister?.rateErrorPpm == report.position.rateErrorPpm)
        #expect(report.check("rate")?.windows == .fail)
        // Notifications keep step with the device's own (slow) position: each packet still gets its one.
        #expect(report.notifications.count == report.notifications.expected)
    }

    /// A PASSIVE_LEVEL DDI from the DPC: plays fine; the verifier names the rule, the DDI and the IRQL.
    @Test func passiveInDPCFailsTheVerifier() throws {
        let report = try Examples.run("buggy-passive-in-dpc")
        #expect(Self.failed(report) == ["verifier"], "\(report.failures)")
        let finding = try #require(report.verifier.first)
        #expect(report.verifier.count == 1)
        #expect(finding.rule == "IrqlTooHigh" && finding.ddi == "IPortWaveRTStream::GetPhysicalPagesCount" && finding.irql == "DISPATCH_LEVEL")
        #expect(finding.count == report.notifications.count)  // once per DPC
    }

    /// A 32-bit device given pages above 4 GiB. With faithful faults the DMA drops the high address
    /// bits and plays memory 4 GiB lower: the stream keeps perfect time, every transfer is a DMA fault.
    @Test func highMemoryWithFaithfulFaultsFailsTheDMACheck() throws {
        let report = try Examples.run("buggy-highmem", Examples.setup("buggy-highmem", faithfulFaults: true))
        #expect(Self.failed(report) == ["dma"], "\(report.failures)")
        #expect(report.dmaFaults > 100)
        #expect(report.glitches == 0)  // the monitor sees no transfer from the client's pages at all
    }

    /// Without faithful faults the device refuses the descriptor table (SDnSTS.ERR): the DMA check
    /// names the address limit; the stream never runs, so its position cannot keep time or move either.
    @Test func highMemoryRefusedFailsTheDMACheckAndNeverRuns() throws {
        let report = try Examples.run("buggy-highmem")
        #expect(Self.failed(report) == ["dma", "rate", "stall"], "\(report.failures)")
        #expect(report.guestErrors.contains { $0.contains("descriptor table breaks the DMA profile's rules") })
        #expect(report.position.rateErrorPpm.map { $0 < -999_000 } == true)
        #expect(report.check("step")?.strict == .notExercised)
        #expect(report.dmaFaults == 0)
    }

    /// A partial AllocatePagesForMdl ignored. On a fresh machine there is memory enough below
    /// 16 MiB and nothing shows; once that memory is scarce, the buffer the driver reports is larger
    /// than its MDL: the port refuses it and the verifier names the rule, so the stream never opens.
    /// That is the miniport's bug, so the report fails exactly the verifier check (the rest were not
    /// exercised), rather than the run being one that could not be made.
    @Test func partialAllocationIsRefusedByThePortOnScarceMemory() throws {
        #expect(Self.failed(try Examples.run("buggy-partial")).isEmpty)
        let memory = PhysicalMemory()
        memory.fragment(seed: 7, occupancy: 0.995, longestFreeRunPages: 1)
        let setup = Examples.setup("buggy-partial", bufferMilliseconds: 1_000)
        let refused = try Examples.run("buggy-partial", setup, memory: memory)
        #expect(Self.failed(refused) == ["verifier"], "\(refused.failures)")
        #expect(refused.verifier.map(\.rule) == ["BufferLargerThanMdl"])
        #expect(refused.check("verifier")?.measured.contains("BufferLargerThanMdl in AllocateBufferWithNotification") == true)
        #expect(refused.checks.filter { $0.id != "verifier" }.allSatisfy {
            ($0.windows ?? .notExercised) == .notExercised && ($0.strict ?? .notExercised) == .notExercised
        })
        #expect(refused.warnings.contains { $0.hasPrefix("the stream never opened: the buffer request") }, "\(refused.warnings)")
        #expect(refused.stream.bufferFrames == 0 && refused.position.readings == 0 && !refused.pass)
        // A buffer of one page cannot be a partial allocation: on the same scarce memory it passes.
        let small = PhysicalMemory()
        small.fragment(seed: 7, occupancy: 0.995, longestFreeRunPages: 1)
        #expect(Self.failed(try Examples.run("buggy-partial", Examples.setup("buggy-partial", bufferMilliseconds: 10), memory: small)).isEmpty)
        // The correct driver uses what it got: whole packets of the partial allocation, or it fails cleanly.
        let simple = PhysicalMemory()
        simple.fragment(seed: 7, occupancy: 0.995, longestFreeRunPages: 1)
        let report = try? Examples.run("simple", Examples.setup("simple", bufferMilliseconds: 1_000), memory: simple)
        #expect(report.map { !$0.failedChecks.contains("verifier") } ?? true)
    }

    /// SYSVAD's stream logic: a 1 ms timer with integer-millisecond arithmetic. Its position moves in
    /// 1 ms steps (48 frames), and with a 256-frame buffer and 2 notifications its events come every
    /// 2 ms instead of 2.67 ms (5.33 ms → 5 ms → 2 ms): a third too many.
    @Test func sysvadIsFlaggedForItsKnownFlaws() throws {
        let report = try Examples.run("sysvad", Examples.setup("sysvad", bufferFrames: 256, notifications: 2))
        let failed = Self.failed(report)
        #expect(failed.isSuperset(of: ["step", "jitter-std", "notifications", "notification-latency"]), "\(failed)")
        #expect(report.position.stepFrames == 48)
        // Uniform over 48 whole frames: sqrt(48² / 12) frames = 288.7 µs, under the Windows 1 ms, far over one frame.
        let std = try #require(report.position.jitterStdMicroseconds)
        #expect(abs(std - 288.7) < 5, "\(std)")
        #expect(report.check("jitter-std")?.windows == .pass && report.check("jitter-std")?.strict == .fail)
        let n = report.notifications
        #expect(n.intervalMicroseconds?.p50 == 2_000 && n.intervalNominalMicroseconds == 2_666.667)
        let fast = try #require(n.rateErrorPpm)
        #expect(abs(fast - 333_333) < 10_000, "notifications \(fast) ppm fast")
        #expect(n.spurious > 0)  // notifications that found no new packet completed
        #expect(report.check("notifications")?.windows == .fail)
        #expect(report.packets.map { $0.maxLead > 100 } == true)  // the packet counter runs a third fast too
    }

    /// With its default 10 ms buffer SYSVAD's interval is right (10 ms → 5 ms): only the
    /// millisecond position shows, and only against this project's figures.
    @Test func sysvadAtTenMillisecondsShowsItsGranularityOnly() throws {
        let report = try Examples.run("sysvad")
        #expect(report.passWindows, "\(report.failures)")
        #expect(!report.pass)
        #expect(Self.failed(report).isSuperset(of: ["step", "jitter-std"]))
        #expect(!Self.failed(report).contains("notifications"))
    }

    /// A position register that moves only when a descriptor with IOC completes (cheap hardware):
    /// in 5 ms jumps, its jitter is over the KS Position Test's 1 ms.
    @Test func aRegisterMovingOncePerPacketFailsTheJitterCheck() throws {
        let report = try Examples.run("simple", Examples.setup("simple", coarsePosition: true))
        let register = try #require(report.positionRegister)
        #expect(register.stepFrames == 240)
        let std = try #require(register.jitterStdMicroseconds)
        #expect(std > 1_000, "\(std)")
        #expect(report.check("jitter-std")?.windows == .fail)
        #expect(!report.passWindows)
        // The same device with a position that moves every frame passes.
        #expect(try Examples.run("simple").pass)
    }
}
