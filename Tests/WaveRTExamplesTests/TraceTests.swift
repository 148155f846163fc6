import Foundation
import Testing
import WaveRTClient
import WaveRTDMA
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTPort
import WaveRTTestSupport

/// A session traced end to end on the virtual clock: the Chrome trace parses,
/// has each stream's tracks, keeps time order on every track, shows each
/// IOC's chain (interrupt, ISR, DPC, KeSetEvent, the client's wake), is the
/// same bytes for the same run, and stays within its ring however long the run.
@Suite struct TraceTests {
    struct Event {
        var name: String
        var phase: String
        var ts: Double
        var pid: Int
        var tid: Int?
        var args: [String: Any]
    }

    struct Trace {
        var json: [UInt8]
        var events: [Event]
        var metadata: [String: Any]
        /// Track names per process: pid -> tid -> name.
        var tracks: [Int: [Int: String]]
        var processes: [Int: String]

        init(_ json: [UInt8]) throws {
            self.json = json
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
            metadata = try #require(object["otherData"] as? [String: Any])
            let raw = try #require(object["traceEvents"] as? [[String: Any]])
            var tracks: [Int: [Int: String]] = [:], processes: [Int: String] = [:], events: [Event] = []
            for e in raw {
                let name = try #require(e["name"] as? String), phase = try #require(e["ph"] as? String)
                let pid = try #require(e["pid"] as? Int), args = e["args"] as? [String: Any] ?? [:]
                if phase == "M" {
                    if name == "thread_name" { tracks[pid, default: [:]][try #require(e["tid"] as? Int)] = args["name"] as? String }
                    if name == "process_name" { processes[pid] = args["name"] as? String }
                    continue
                }
                events.append(Event(name: name, phase: phase, ts: try #require((e["ts"] as? NSNumber)?.doubleValue), pid: pid,
                                    tid: e["tid"] as? Int, args: args))
            }
            self.events = events
            self.tracks = tracks
            self.processes = processes
        }

        func pid(ofStreamNamed suffix: String) -> Int? { processes.first { $0.value.hasSuffix(suffix) }?.key }
    }

    static func setup(_ example: ExampleMiniport, bufferMilliseconds: Int? = nil) -> StreamSetup {
        let ms = Double(bufferMilliseconds ?? example.bufferMilliseconds)
        return StreamSetup(hardware: example.hardware, format: example.format,
                           bufferFrames: StreamSetup.frames(milliseconds: ms, rate: example.format.sampleRate,
                                                            notificationCount: example.notificationCount),
                           notificationCount: example.notificationCount, mode: example.packetMode ? .packet : .event,
                           dmaProfile: example.profileName.flatMap { DMAProfile.preset(named: $0) })
    }

    /// Plays `name` for `milliseconds` of virtual time with a trace; `during` runs after the start.
    static func traced(_ name: String, milliseconds: UInt64, capacity: Int = 1 << 16, overflow: TraceRecorder.Overflow = .dropOldest,
                       during: (MiniportSession, VirtualClock) -> Void = { _, _ in }) throws -> (Trace, TraceRecorder, SessionReport) {
        let example = try #require(ExampleMiniport.named(name))
        let clock = VirtualClock()
        let recorder = TraceRecorder(capacity: capacity, overflow: overflow, origin: clock.now)
        let session = try MiniportSession(miniport: example.make(), setup: setup(example), timebase: clock,
                                          source: ToneGenerator(frequency: 440, levelDBFS: -12), speaker: GrowingSink(), trace: recorder)
        try session.start()
        during(session, clock)
        clock.advance(by: TestTime.ms(milliseconds))
        let report = session.finish()
        return (try Trace(ChromeTrace.json(recorder, metadata: [("miniport", name)])), recorder, report)
    }

    @Test func theTraceHasEachStreamsTracksInTimeOrder() throws {
        let (trace, recorder, report) = try Self.traced("hda", milliseconds: 200)
        #expect(report.isClean)
        #expect(recorder.droppedCount == 0 && trace.metadata["dropped"] as? Int == 0)
        #expect(trace.metadata["schema"] as? String == ChromeTrace.schema && trace.metadata["miniport"] as? String == "hda")
        let stream = try #require(trace.pid(ofStreamNamed: "pin 0 (render)"))
        let streamTracks = Set(trace.tracks[stream, default: [:]].values)
        #expect(streamTracks.isSuperset(of: ["interrupt (IOC)", "KeSetEvent", "client", "DMA", "position", "SetState", "KSSTATE"]),
                "\(streamTracks)")
        // The hda driver sets its ISR and DPC up in Init: they are the driver's, not the stream's.
        #expect(Set(trace.tracks[1, default: [:]].values).isSuperset(of: ["ISR", "DPC"]))
        #expect(trace.processes[1] == "driver")
        // Every track in time order.
        var last: [String: Double] = [:]
        for e in trace.events where e.phase != "C" {
            let key = "\(e.pid)/\(e.tid ?? -1)"
            #expect(e.ts >= last[key, default: -.infinity], "\(e.name) at \(e.ts) after \(last[key]!) on \(key)")
            last[key] = e.ts
        }
        // 200 ms of packets of 256 frames (the hda driver's 10 ms buffer is 2048 bytes, two BDL entries
        // with IOC): 37 IOCs, each an ISR that claimed it and a DPC.
        let iocs = trace.events.filter { $0.name == "IOC" }
        #expect(iocs.count == 37 && iocs.allSatisfy { $0.pid == stream })
        #expect(trace.events.filter { $0.name == "ISR" && $0.args["claimed"] as? Int == 1 }.count == iocs.count)
        #expect(trace.events.filter { $0.name == "DPC" }.count == iocs.count)
        // Each DMA fetch's bytes follow the last: nothing skipped, nothing fetched twice.
        var next = 0
        for fetch in trace.events where fetch.name == "DMA fetch" {
            #expect(fetch.args["dmaByte"] as? Int == next)
            next += fetch.args["bytes"] as? Int ?? 0
        }
        #expect(next >= 200 * 192)
        // The states the stream went through, in order.
        let states = trace.events.filter { $0.pid == stream && $0.name.hasPrefix("KSSTATE_") }.map(\.name)
        #expect(states == ["KSSTATE_ACQUIRE", "KSSTATE_PAUSE", "KSSTATE_RUN", "KSSTATE_PAUSE", "KSSTATE_ACQUIRE", "KSSTATE_STOP"])
        #expect(trace.events.contains { $0.name == "position register" && $0.pid == stream })
    }

    /// On the virtual clock each IOC's chain happens at one instant, in the
    /// order the machine runs it: the DMA crosses the interrupt point, the ISR
    /// runs, queues the DPC, the DPC sets the stream's event, the client wakes
    /// on it and writes.
    @Test func eachIOCRunsISRThenDPCThenTheEventThenTheClient() throws {
        let (trace, _, _) = try Self.traced("hda", milliseconds: 100)
        let chain = ["IOC", "ISR", "KeInsertQueueDpc", "DPC", "KeSetEvent", "wake (event)", "write"]
        let iocs = trace.events.indices.filter { trace.events[$0].name == "IOC" }
        #expect(iocs.count == 18)
        for start in iocs {
            let ts = trace.events[start].ts
            let atThatInstant = trace.events[start...].prefix { $0.ts == ts }.map(\.name).filter { chain.contains($0) }
            #expect(Array(atThatInstant.prefix(chain.count)) == chain, "at \(ts) µs: \(atThatInstant)")
        }
    }

    @Test func theSameRunGivesTheSameBytes() throws {
        let a = try Self.traced("hda", milliseconds: 120).0.json
        let b = try Self.traced("hda", milliseconds: 120).0.json
        #expect(a == b)
        let c = try Self.traced("sysvad", milliseconds: 120).0.json
        #expect(c == (try Self.traced("sysvad", milliseconds: 120).0.json))
    }

    /// SYSVAD's 1 ms high-resolution timer: its settings and expirations on the timer track, on tick boundaries.
    @Test func timersThatDriveTheStreamAreTraced() throws {
        let (trace, _, _) = try Self.traced("sysvad", milliseconds: 50)
        let expired = trace.events.filter { $0.name == "timer expired" }
        #expect(expired.count >= 45, "\(expired.count)")
        #expect(trace.events.contains { $0.name == "timer set" && $0.args["periodNs"] as? Int == 1_000_000 })
        #expect(expired.allSatisfy { ($0.args["tickNs"] as? Int).map { $0 <= 0 } == true }, "expired at or after its tick")
    }

    /// A client that stops waking: the device plays on into frames it never
    /// wrote, and the glitch is on the stream's glitch track at its time.
    @Test func glitchesAreOnTheirTrack() throws {
        let (trace, _, report) = try Self.traced("hda", milliseconds: 60) { session, clock in
            clock.advance(by: TestTime.ms(20))
            clock.detach(session.client)
        }
        #expect(report.glitchCount > 0)
        let glitches = trace.events.filter { $0.name.hasPrefix("glitch: ") }
        #expect(glitches.count == Int(report.glitchCount))
        let first = try #require(report.glitches.first)
        #expect(glitches.first?.name == "glitch: \(first.kind)")
        #expect(glitches.first?.args["frame"] as? Int == Int(first.frame) && glitches.first?.args["frames"] as? Int == Int(first.frames))
        #expect(glitches.first.map { ($0.ts * 1000).rounded() } == Double(first.time))
        #expect(trace.tracks[glitches.first?.pid ?? -1]?[ChromeTrace.Track.glitches.rawValue] == "glitches")
    }

    /// Ten seconds of stream into a ring of 64 records: the ring keeps 64, the
    /// trace says how many it dropped, and it holds the last ones (or, asked
    /// to, the first ones).
    @Test(arguments: [TraceRecorder.Overflow.dropOldest, .dropNewest])
    func aLongRunStaysWithinItsRing(overflow: TraceRecorder.Overflow) throws {
        let (trace, recorder, report) = try Self.traced("hda", milliseconds: 10_000, capacity: 64, overflow: overflow)
        #expect(report.isClean)
        #expect(recorder.recordedCount > 10_000)
        #expect(recorder.records().count == 64)
        #expect(trace.metadata["kept"] as? Int == 64 && trace.metadata["capacity"] as? Int == 64)
        #expect(trace.metadata["dropped"] as? Int == Int(recorder.recordedCount) - 64)
        let times = trace.events.map(\.ts)
        if overflow == .dropOldest {
            #expect(times.min()! > 9_000_000, "the last records: from \(times.min()!) µs")
            #expect(trace.events.contains { $0.name == "KSSTATE_STOP" })
        } else {
            #expect(times.max()! < 100_000, "the first records: to \(times.max()!) µs")
            #expect(trace.events.contains { $0.name == "KSSTATE_RUN" })
        }
    }
}
