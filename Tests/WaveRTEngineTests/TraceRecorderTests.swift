import Foundation
import Synchronization
import Testing
import WaveRTEngine

/// The trace recorder's ring (bounded, both overflow policies, many
/// producers) and the Chrome trace it writes (valid JSON, paired slices,
/// exact timestamps, stated drops).
@Suite struct TraceRecorderTests {
    @Test func recordsComeBackInOrderWithTheirFields() {
        let t = TraceRecorder(capacity: 10, origin: 5)
        #expect(t.capacity == 16)
        #expect(t.memoryBytes == 16 * 5 * 8)
        t.record(.isrBegin, stream: 0, at: 100)
        t.record(.dmaFetch, stream: 7, at: 101, 4096, 512)
        t.record(.isrEnd, stream: 0, at: 102, 1)
        let r = t.records()
        #expect(r.map(\.kind) == [.isrBegin, .dmaFetch, .isrEnd])
        #expect(r.map(\.sequence) == [0, 1, 2])
        #expect(r[1] == TraceRecord(sequence: 1, time: 101, kind: .dmaFetch, stream: 7, a: 4096, b: 512))
        #expect(t.recordedCount == 3 && t.droppedCount == 0)
    }

    @Test func aFullRingDropsTheOldestAndCountsThem() {
        let t = TraceRecorder(capacity: 8, overflow: .dropOldest)
        for i in 0..<100 { t.record(.clientWrite, stream: 1, at: UInt64(i), UInt64(i), UInt64(i + 1)) }
        let r = t.records()
        #expect(r.map(\.time) == Array(92..<100).map(UInt64.init))  // the last eight
        #expect(t.recordedCount == 100 && t.droppedCount == 92)
        let meta = Self.otherData(ChromeTrace.json(t))
        #expect(meta["dropped"] as? Int == 92 && meta["kept"] as? Int == 8 && meta["recorded"] as? Int == 100)
        #expect((meta["drops"] as? String)?.contains("the 92 oldest records were overwritten; the trace holds the last 8") == true)
    }

    @Test func aFullRingCanKeepTheFirstInstead() {
        let t = TraceRecorder(capacity: 8, overflow: .dropNewest)
        for i in 0..<100 { t.record(.clientWrite, stream: 1, at: UInt64(i)) }
        #expect(t.records().map(\.time) == Array(0..<8).map(UInt64.init))
        #expect(t.droppedCount == 92)
        let meta = Self.otherData(ChromeTrace.json(t))
        #expect(meta["overflow"] as? String == "drop-newest")
        #expect((meta["drops"] as? String)?.contains("the 92 records after the first 8 were dropped") == true)
    }

    /// Four threads at once, far more records than the ring holds: the ring
    /// keeps exactly its capacity, every kept record is whole (its fields agree
    /// with each other), each thread's records stay in its order, and kept +
    /// dropped = recorded.
    @Test(arguments: [TraceRecorder.Overflow.dropOldest, .dropNewest])
    func manyProducersNeverTearARecord(overflow: TraceRecorder.Overflow) async {
        let t = TraceRecorder(capacity: 1 << 12, overflow: overflow)
        let perThread = 50_000
        await withTaskGroup(of: Void.self) { group in
            for thread in 0..<4 {
                group.addTask {
                    for i in 0..<perThread {
                        let v = UInt64(thread) << 32 | UInt64(i)
                        t.record(.dmaFetch, stream: UInt32(thread + 1), at: v, v &* 3, ~v)
                    }
                }
            }
        }
        let r = t.records()
        #expect(t.recordedCount == UInt64(4 * perThread))
        #expect(r.count <= t.capacity && r.count > t.capacity - 8)
        #expect(UInt64(r.count) + t.droppedCount == t.recordedCount)
        #expect(r.allSatisfy { $0.a == $0.time &* 3 && $0.b == ~$0.time && UInt64($0.stream - 1) == $0.time >> 32 })
        for thread in 1...4 {
            let times = r.filter { $0.stream == thread }.map(\.time)
            #expect(times == times.sorted())
        }
    }

    @Test func sameRecordsGiveTheSameBytes() {
        func make() -> [UInt8] {
            let t = TraceRecorder(capacity: 64)
            t.name(stream: 1, "pin 0 (render)")
            t.record(.setStateBegin, stream: 1, at: 10, 2, 3)
            t.record(.setStateEnd, stream: 1, at: 20, 3, 0)
            t.record(.interruptPoint, stream: 1, at: 1_000_001, 0, 1920)
            return ChromeTrace.json(t, metadata: [("miniport", "hda")])
        }
        #expect(make() == make())
    }

    /// Slices are paired from their begin and end; a begin whose end never
    /// came is drawn with no duration and says so; an end whose begin the ring
    /// dropped is left out; each successful SetState starts a KSSTATE span
    /// lasting until the next one (or the end of the trace).
    @Test func slicesAndStatesAreDrawnFromTheirRecords() throws {
        let t = TraceRecorder(capacity: 64, origin: 1_000)
        t.name(stream: 1, "pin 0 (render)")
        t.record(.dpcEnd, stream: 0, at: 1_500)                          // its begin is not in the trace
        t.record(.setStateBegin, stream: 1, at: 2_000, 2, 3)
        t.record(.setStateEnd, stream: 1, at: 2_250, 3, 0)              // PAUSE -> RUN: RUN from 2.25 µs (after origin)
        t.record(.isrBegin, stream: 0, at: 3_000)
        t.record(.isrEnd, stream: 0, at: 3_700, 1)
        t.record(.setStateBegin, stream: 1, at: 9_000, 3, 2)
        t.record(.setStateEnd, stream: 1, at: 9_001, 2, UInt64(UInt32(bitPattern: -1073741823)))  // failed: stays in RUN
        t.record(.clientWakeBegin, stream: 1, at: 10_000, 1)             // never ended
        let events = try Self.events(ChromeTrace.json(t))
        let isr = try #require(events.first { $0["name"] as? String == "ISR" })
        #expect(isr["ph"] as? String == "X" && isr["pid"] as? Int == 1 && isr["tid"] as? Int == ChromeTrace.Track.isr.rawValue)
        #expect(Self.number(isr["ts"]) == 2.0 && Self.number(isr["dur"]) == 0.7)
        #expect((isr["args"] as? [String: Any])?["claimed"] as? Int == 1)
        #expect(!events.contains { $0["name"] as? String == "DPC" })
        let wake = try #require(events.first { $0["name"] as? String == "wake (event)" })
        #expect((wake["args"] as? [String: Any])?["unfinished"] as? Int == 1 && Self.number(wake["dur"]) == 0)
        let failed = try #require(events.first { $0["name"] as? String == "SetState RUN->PAUSE" })
        #expect((failed["args"] as? [String: Any])?["status"] as? String == "0xC0000001")
        let states = events.filter { ($0["name"] as? String)?.hasPrefix("KSSTATE_") == true }
        #expect(states.map { $0["name"] as! String } == ["KSSTATE_RUN"])
        #expect(Self.number(states[0]["ts"]) == 1.25 && Self.number(states[0]["dur"]) == 7.75)  // to the trace's last record
        let names = events.filter { $0["ph"] as? String == "M" && $0["name"] as? String == "process_name" }
            .map { ($0["args"] as? [String: Any])?["name"] as? String }
        #expect(names == ["driver", "stream 1: pin 0 (render)"])
    }

    /// Timestamps are exact: nanoseconds as microseconds with three decimals,
    /// written as text (no floating point), before the origin too; metadata
    /// strings are escaped.
    @Test func timestampsAreExactAndStringsEscaped() throws {
        let t = TraceRecorder(capacity: 16, origin: 2_000_000_000)
        t.record(.eventSet, stream: 3, at: 2_000_000_007)
        t.record(.glitchUnderrun, stream: 3, at: 1_999_999_000, 480, 3)
        t.record(.timerSet, stream: 0, at: 2_123_456_789, 2_124_456_789, 1_000_000)
        let text = String(decoding: ChromeTrace.json(t, metadata: [("path", "a \"quoted\"\\path\n")]), as: UTF8.self)
        #expect(text.contains("\"ts\":0.007"))
        #expect(text.contains("\"name\":\"glitch: underrun\",\"ph\":\"i\",\"s\":\"t\",\"ts\":-1.000"))
        #expect(text.contains("\"ts\":123456.789"))
        #expect(text.contains("\"dueNs\":1000000,\"periodNs\":1000000"))
        let meta = Self.otherData(Array(text.utf8))
        #expect(meta["path"] as? String == "a \"quoted\"\\path\n")
        // In time order: the glitch (before the origin) first.
        let events = try Self.events(Array(text.utf8)).filter { $0["ph"] as? String != "M" }
        #expect(events.first?["name"] as? String == "glitch: underrun")
    }

    @Test func writesTheFileOrSaysWhyNot() throws {
        let t = TraceRecorder(capacity: 16)
        t.record(.eventSet, stream: 1, at: 1)
        let path = NSTemporaryDirectory() + "wavert-trace-\(getpid()).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ChromeTrace.write(t, to: path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(ChromeTrace.json(t)))
        #expect(throws: TraceFileError.self) { try ChromeTrace.write(t, to: "/nonexistent-dir/x.json") }
    }

    // MARK: Helpers

    static func object(_ bytes: [UInt8]) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
    }

    static func otherData(_ bytes: [UInt8]) -> [String: Any] { object(bytes)["otherData"] as? [String: Any] ?? [:] }

    static func events(_ bytes: [UInt8]) throws -> [[String: Any]] {
        try #require(object(bytes)["traceEvents"] as? [[String: Any]])
    }

    static func number(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }
}
