import Foundation
import Glibc
import Testing
import WaveRTALSA
import WaveRTClient
import WaveRTEngine
import WaveRTExamples
import WaveRTRunner
import WaveRTTestSupport

extension RealTime {
    /// `wavert play` through a card that underruns, suspends or vanishes: the
    /// faults are injected at the writer's PCM boundary (``FaultInjectingPCM``
    /// over the real `file` plugin), everything else is the whole player.
    /// Each run is checked for its report (faults counted, frames accounted
    /// for: played plus lost before ALSA is what the sink took) and its WAV
    /// (a finished header, exactly the frames played).
    @Suite struct ALSAFaultTests {
        init() { ALSATestEnvironment.setUp() }

        /// 20 ms between `snd_pcm_resume` calls, at most 5 of them.
        static let policy = try! PCMRecoveryPolicy(resumeAttempts: 5, resumeRetryNanoseconds: 20_000_000)

        struct Run {
            var report: Player.Report
            var calls: FaultInjectingPCM.Calls
            var wav: WAVFile
            var format: StreamFormat
        }

        static func play(_ schedule: [Int: FaultInjectingPCM.Fault], example name: String = "simple",
                         format: StreamFormat = .cd48k, seconds: Double = 1.0) throws -> Run
        {
            let example = try #require(ExampleMiniport.named(name))
            let path = ALSATestEnvironment.temporaryPath("fault")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let boundary = BoundaryBox()
            var options = Player.Options(example: example,
                                         setup: example.streamSetup(format: format, bufferMilliseconds: Double(max(example.bufferMilliseconds, 40))),
                                         source: ToneGenerator(frequency: 440, levelDBFS: -12),
                                         device: ALSATestEnvironment.capture(path), duration: seconds)
            options.recoveryPolicy = policy
            options.pcmBoundary = { pcm in boundary.make(pcm, schedule) }
            let report = try Player.play(options)
            let pcm = try #require(boundary.pcm)
            return Run(report: report, calls: pcm.calls, wav: try WAVFile(path: path), format: format)
        }

        /// Holds the boundary the player made, for its call log.
        final class BoundaryBox: @unchecked Sendable {
            private(set) var pcm: FaultInjectingPCM?
            func make(_ inner: ALSAPCM, _ schedule: [Int: FaultInjectingPCM.Fault]) -> FaultInjectingPCM {
                let p = FaultInjectingPCM(inner, schedule: schedule)
                pcm = p
                return p
            }
        }

        /// What every run must show, fault or not: the WAV's header finished and
        /// holding exactly what ALSA took; every frame the sink took played or counted lost.
        static func expectAccounted(_ run: Run, limit: UInt64) {
            let r = run.report
            #expect(run.wav.dataLengthInHeader == run.wav.data.count, "WAV header not finished: \(run.wav.dataLengthInHeader) vs \(run.wav.data.count) bytes")
            #expect(run.wav.riffLengthInHeader == run.wav.fileLength)
            #expect(UInt64(run.wav.frames) == r.framesWritten)
            #expect(r.framesWritten == r.framesPlayed)  // the file plugin does not pace: no resampling
            #expect(r.framesPlayed + (r.framesLost - r.framesDiscardedByDevice) == r.framesReceived,
                    "played \(r.framesPlayed) + lost \(r.framesLost) - discarded \(r.framesDiscardedByDevice) != received \(r.framesReceived)")
            #expect(r.framesReceived <= limit)
            // The miniport path was untouched (a glitch here is the machine's load: its events say when).
            #expect(r.glitches == 0, "\(r.glitchEvents)")
            #expect(r.leaks.isEmpty && r.verifier.isEmpty, "\(r.leaks) \(r.verifier)")
        }

        @Test func anUnderrunIsPreparedAndWhatTheCardHeldIsCountedLost() throws {
            let run = try Self.play([12: .underrun(heldFrames: 480)])
            let r = run.report
            #expect(r.xruns == 1 && r.suspends == 0 && r.deviceError == nil)
            #expect(run.calls.faultsInjected == 1)
            #expect(run.calls.prepares == 1 && run.calls.realPrepareResults == [0])
            #expect(run.calls.resumes.isEmpty)
            #expect(r.framesDiscardedByDevice == 480)
            #expect(r.framesLost >= 480)
            #expect(r.framesReceived == 48_000)  // the run went on to its end
            Self.expectAccounted(run, limit: 48_000)
        }

        @Test func aSuspendIsResumedAfterTheCardWakesWithTheWaitsTimed() throws {
            let run = try Self.play([12: .suspend(busyResumes: 3, resumeResult: 0, heldFrames: 960)])
            let r = run.report
            #expect(r.suspends == 1 && r.xruns == 0 && r.deviceError == nil)
            // Three -EAGAIN, then 0; never prepared: the card kept what it held.
            #expect(run.calls.resumes.count == 4)
            #expect(run.calls.prepares == 0)
            #expect(r.framesDiscardedByDevice == 0)
            // Each retry waited the policy's interval (sleeping, not spinning). The interval runs from the
            // writer's step time, read just before the call this records: a thread preempted between
            // the two makes the recorded gap that much shorter, so 2 ms of the 20 are allowed for it.
            let gaps = zip(run.calls.resumes.dropFirst(), run.calls.resumes).map { $0 - $1 }
            #expect(gaps.allSatisfy { $0 + 2_000_000 >= Self.policy.resumeRetryNanoseconds }, "gaps \(gaps) ns")
            // The ~60 ms of backlog built meanwhile beyond the writer's target was shed and counted.
            #expect(r.framesReceived == 48_000)
            Self.expectAccounted(run, limit: 48_000)
        }

        @Test func aCardThatCannotResumeIsPrepared() throws {
            let run = try Self.play([12: .suspend(busyResumes: 1, resumeResult: -ENOSYS, heldFrames: 960)])
            let r = run.report
            #expect(r.suspends == 1 && r.deviceError == nil)
            #expect(run.calls.resumes.count == 2)
            #expect(run.calls.prepares == 1 && run.calls.realPrepareResults == [0])
            #expect(r.framesDiscardedByDevice == 960)
            #expect(r.framesReceived == 48_000)
            Self.expectAccounted(run, limit: 48_000)
        }

        @Test func aCardThatNeverWakesIsAskedABoundedNumberOfTimesThenPrepared() throws {
            let run = try Self.play([12: .suspend(busyResumes: 1_000_000, resumeResult: 0, heldFrames: 0)])
            let r = run.report
            #expect(r.suspends == 1 && r.deviceError == nil)
            #expect(run.calls.resumes.count == Self.policy.resumeAttempts)
            #expect(run.calls.prepares == 1)
            let waited = run.calls.resumes.last! - run.calls.resumes.first!
            #expect(waited >= Self.policy.longestWaitNanoseconds)
            #expect(r.framesReceived == 48_000)
            Self.expectAccounted(run, limit: 48_000)
        }

        @Test(arguments: [ENODEV, EBADFD])
        func aVanishedDeviceEndsTheRunCleanlyWithTheErrorAndTheLossReported(errno code: Int32) throws {
            let run = try Self.play([12: .vanish(errno: code)], seconds: 3)
            let r = run.report
            let device = r.device
            #expect(r.deviceErrno == code)
            let message = try #require(r.deviceError)
            #expect(message.contains("'\(device)'") && message.contains(String(cString: strerror(code))), "\(message)")
            #expect(r.notes.contains { $0.contains(message) })
            // Nothing after the fault reached ALSA: no drain, no prepare, no resume on a dead device.
            #expect(run.calls.writes == 12)
            #expect(run.calls.prepares == 0 && run.calls.resumes.isEmpty)
            // The run ended at the fault, not at its 3 s: at most eleven periods played.
            #expect(r.framesPlayed > 0 && r.framesPlayed <= UInt64(11 * max(64, r.alsaPeriodFrames)))
            #expect(r.wallSeconds < 2.5)
            #expect(r.framesLost > 0)
            #expect(r.framesReceived < 3 * 48_000)
            Self.expectAccounted(run, limit: 3 * 48_000)
        }

        @Test func faultsOnA24BitMultichannelStreamAtNinetySixKilohertz() throws {
            let format = try StreamFormat(sampleRate: 96_000, channels: 6, sampleFormat: .int24)
            let run = try Self.play([8: .underrun(heldFrames: 100), 16: .suspend(busyResumes: 2, resumeResult: 0, heldFrames: 0),
                                     24: .underrun(heldFrames: 0)],
                                    example: "simple", format: format, seconds: 1.5)
            let r = run.report
            #expect(r.xruns == 2 && r.suspends == 1 && r.deviceError == nil)
            #expect(r.framesDiscardedByDevice == 100)
            #expect(r.framesReceived == 144_000)
            #expect(run.wav.channels == 6 && run.wav.sampleRate == 96_000 && run.wav.bitsPerSample == 24)
            Self.expectAccounted(run, limit: 144_000)
        }

        @Test func aBadRecoveryPolicyIsRefusedNamingTheArgument() {
            #expect(throws: ALSAError.self) { try PCMRecoveryPolicy(resumeAttempts: 0, resumeRetryNanoseconds: 1) }
            do {
                _ = try PCMRecoveryPolicy(resumeAttempts: 3, resumeRetryNanoseconds: 0)
                Issue.record("a zero interval was accepted")
            } catch {
                #expect(error.description.contains("resumeRetryNanoseconds"))
            }
        }
    }
}
