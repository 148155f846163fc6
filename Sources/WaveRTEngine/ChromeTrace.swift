import Glibc

/// A ``TraceRecorder``'s records as a Chrome trace: the Trace Event Format's
/// JSON object (`{"traceEvents": [...], "displayTimeUnit": "ns", "otherData": {...}}`)
/// that ui.perfetto.dev and chrome://tracing open.
///
/// **Layout.** Each stream is a process ("stream 1: pin 0 (render)"); the
/// driver and machine as a whole (what no stream owns: an ISR or DPC the
/// driver set up in Init, a timer of its own) is process 1, "driver". Each
/// kind of event has a track (a thread) in its process, in this order:
/// interrupt (IOC), ISR, DPC, timers, KeSetEvent, client, DMA, position,
/// glitches, SetState, KSSTATE. ISRs, DPCs, client wakes and SetState calls
/// are slices (begin and end paired here, so a slice whose begin the ring
/// dropped is left out, and one whose end never came is drawn with no
/// duration and `"unfinished": 1`); the rest are instants; the KSSTATE track
/// draws each state the stream was in as a slice; the DMA position and the
/// client's watermark are also counters ("DMA bytes", "client bytes").
///
/// **Times.** `ts` and `dur` are microseconds (three decimals: exact
/// nanoseconds) since the recorder's origin on the machine's timebase; on the
/// virtual clock the same run gives byte-identical JSON. Events are written
/// in time order (ties in the order they were recorded), one per line.
///
/// **Metadata** (`otherData`): the schema, the ring's capacity and overflow
/// policy, records recorded, kept and dropped (with a sentence saying what a
/// drop lost), and the caller's pairs (miniport, format, clock, ...).
public enum ChromeTrace {
    public static let schema = "wavert-trace/1"

    /// The tracks of a stream's process, in display order.
    public enum Track: Int, CaseIterable, Sendable {
        case interrupt = 1, isr, dpc, timers, events, client, dma, position, glitches, setState, state

        public var title: String {
            switch self {
            case .interrupt: "interrupt (IOC)"
            case .isr: "ISR"
            case .dpc: "DPC"
            case .timers: "timers"
            case .events: "KeSetEvent"
            case .client: "client"
            case .dma: "DMA"
            case .position: "position"
            case .glitches: "glitches"
            case .setState: "SetState"
            case .state: "KSSTATE"
            }
        }
    }

    /// The track each kind of record is drawn on.
    public static func track(of kind: TraceEventKind) -> Track {
        switch kind {
        case .interruptPoint: .interrupt
        case .dmaFetch, .dmaWrite: .dma
        case .isrBegin, .isrEnd: .isr
        case .dpcQueued, .dpcBegin, .dpcEnd: .dpc
        case .eventSet: .events
        case .timerSet, .timerCancel, .timerExpired: .timers
        case .positionProperty, .positionRegister, .clockRegister: .position
        case .setStateBegin, .setStateEnd: .setState
        case .clientWakeBegin, .clientWakeEnd, .clientWrite, .clientRead: .client
        case .glitchUnderrun, .glitchOverwrite, .glitchOverrun, .glitchEarlyRead: .glitches
        }
    }

    /// The process id of a stream's tracks.
    public static func processID(ofStream stream: UInt32) -> UInt64 { UInt64(stream) + 1 }

    /// KSSTATE names, by value.
    static func stateName(_ value: UInt64) -> String {
        switch value {
        case 0: "STOP"
        case 1: "ACQUIRE"
        case 2: "PAUSE"
        case 3: "RUN"
        default: "\(value)"
        }
    }

    /// The trace as JSON bytes. `metadata` goes into `otherData`, in the order given.
    public static func json(_ recorder: TraceRecorder, metadata: [(key: String, value: String)] = []) -> [UInt8] {
        let records = recorder.records()
        let dropped = recorder.droppedCount
        var items = layout(records)
        items.sort { ($0.time, $0.sequence, $0.order) < ($1.time, $1.sequence, $1.order) }

        var out = JSONBytes()
        out.raw("{\"displayTimeUnit\":\"ns\",\n\"otherData\":{")
        out.key("schema"); out.string(schema)
        out.raw(","); out.key("generator"); out.string("wavert")
        out.raw(","); out.key("capacity"); out.number(UInt64(recorder.capacity))
        out.raw(","); out.key("overflow"); out.string(recorder.overflow.rawValue)
        out.raw(","); out.key("recorded"); out.number(recorder.recordedCount)
        out.raw(","); out.key("kept"); out.number(UInt64(records.count))
        out.raw(","); out.key("dropped"); out.number(dropped)
        out.raw(","); out.key("drops")
        if dropped == 0 {
            out.string("none: every record fitted in the ring")
        } else if recorder.overflow == .dropOldest {
            out.string("the ring (\(recorder.capacity) records) was full: the \(dropped) oldest records were overwritten; the trace holds the last \(records.count)")
        } else {
            out.string("the ring (\(recorder.capacity) records) was full: the \(dropped) records after the first \(records.count) were dropped")
        }
        out.raw(","); out.key("originNanoseconds"); out.number(recorder.origin)
        for (key, value) in metadata {
            out.raw(","); out.key(key); out.string(value)
        }
        out.raw("},\n\"traceEvents\":[\n")

        // Names first: a process per stream seen, a track per kind of event seen on it.
        var streams = Set(records.map(\.stream))
        for item in items { streams.insert(item.stream) }
        let names = recorder.streamNames
        var first = true
        func separator() {
            if !first { out.raw(",\n") }
            first = false
        }
        for stream in streams.sorted() {
            let pid = processID(ofStream: stream)
            separator()
            out.raw("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":"); out.number(pid)
            out.raw(",\"args\":{\"name\":")
            out.string(stream == 0 ? "driver" : "stream \(stream): \(names[stream] ?? "#\(stream)")")
            out.raw("}}")
            separator()
            out.raw("{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":"); out.number(pid)
            out.raw(",\"args\":{\"sort_index\":"); out.number(pid); out.raw("}}")
            let tracks = Set(items.filter { $0.stream == stream && $0.phase != .counter }.map(\.track))
            for track in Track.allCases where tracks.contains(track) {
                separator()
                out.raw("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":"); out.number(pid)
                out.raw(",\"tid\":"); out.number(UInt64(track.rawValue))
                out.raw(",\"args\":{\"name\":"); out.string(track.title); out.raw("}}")
                separator()
                out.raw("{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":"); out.number(pid)
                out.raw(",\"tid\":"); out.number(UInt64(track.rawValue))
                out.raw(",\"args\":{\"sort_index\":"); out.number(UInt64(track.rawValue)); out.raw("}}")
            }
        }
        for item in items {
            separator()
            out.raw("{\"name\":"); out.string(item.name)
            out.raw(",\"ph\":\"")
            switch item.phase {
            case .instant: out.raw("i\",\"s\":\"t")
            case .slice: out.raw("X")
            case .counter: out.raw("C")
            }
            out.raw("\",\"ts\":"); out.microseconds(item.time, origin: recorder.origin)
            if item.phase == .slice {
                out.raw(",\"dur\":"); out.microseconds(item.duration, origin: 0)
            }
            out.raw(",\"pid\":"); out.number(processID(ofStream: item.stream))
            if item.phase != .counter {
                out.raw(",\"tid\":"); out.number(UInt64(item.track.rawValue))
            }
            out.raw(",\"args\":{")
            for (i, arg) in item.args.enumerated() {
                if i > 0 { out.raw(",") }
                out.key(arg.name)
                switch arg.value {
                case .number(let n): out.number(n)
                case .signed(let n): out.signed(n)
                case .text(let t): out.string(t)
                }
            }
            out.raw("}}")
        }
        out.raw("\n]}\n")
        return out.bytes
    }

    /// Writes ``json(_:metadata:)`` to `path` (created or truncated).
    public static func write(_ recorder: TraceRecorder, to path: String, metadata: [(key: String, value: String)] = []) throws(TraceFileError) {
        let bytes = json(recorder, metadata: metadata)
        guard let file = fopen(path, "wb") else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        let failed = written != bytes.count
        let reason = failed ? String(cString: strerror(errno)) : ""
        if fclose(file) != 0 || failed { throw .cannotWrite(path: path, reason: failed ? reason : String(cString: strerror(errno))) }
    }

    // MARK: Layout

    enum Phase { case instant, slice, counter }
    enum ArgValue { case number(UInt64), signed(Int64), text(String) }

    struct Item {
        var time: UInt64
        var sequence: UInt64
        /// Orders items made from one record (an instant before its counter).
        var order: Int
        var stream: UInt32
        var track: Track
        var phase: Phase
        var name: String
        var duration: UInt64 = 0
        var args: [(name: String, value: ArgValue)]
    }

    /// The drawable items of a record list (in claim order): slices paired, states spanned, counters added.
    static func layout(_ records: [TraceRecord]) -> [Item] {
        // Records at one instant are claimed in order; across threads the claim order and the
        // time order can differ, so pair begins and ends in time order.
        let ordered = records.sorted { ($0.time, $0.sequence) < ($1.time, $1.sequence) }
        var items: [Item] = []
        items.reserveCapacity(ordered.count + ordered.count / 4)
        struct Key: Hashable { var stream: UInt32; var track: Track }
        var open: [Key: TraceRecord] = [:]
        var lastState: [UInt32: TraceRecord] = [:]
        let end = ordered.last?.time ?? 0

        func instant(_ r: TraceRecord, _ name: String, _ args: [(name: String, value: ArgValue)]) {
            items.append(Item(time: r.time, sequence: r.sequence, order: 0, stream: r.stream, track: track(of: r.kind),
                              phase: .instant, name: name, args: args))
        }
        func counter(_ r: TraceRecord, _ name: String, _ value: UInt64) {
            items.append(Item(time: r.time, sequence: r.sequence, order: 1, stream: r.stream, track: track(of: r.kind),
                              phase: .counter, name: name, args: [("bytes", .number(value))]))
        }
        func begin(_ r: TraceRecord) {
            let key = Key(stream: r.stream, track: track(of: r.kind))
            if let unfinished = open[key] { items.append(slice(unfinished, until: nil)) }
            open[key] = r
        }
        func finish(_ r: TraceRecord) {
            let key = Key(stream: r.stream, track: track(of: r.kind))
            guard let b = open.removeValue(forKey: key) else { return }  // its begin was dropped
            items.append(slice(b, until: r))
        }
        func span(_ from: TraceRecord, until: UInt64) {
            items.append(Item(time: from.time, sequence: from.sequence, order: 2, stream: from.stream, track: .state, phase: .slice,
                              name: "KSSTATE_\(stateName(from.a))", duration: until - from.time, args: []))
        }

        for r in ordered {
            switch r.kind {
            case .interruptPoint: instant(r, "IOC", [("point", .number(r.a)), ("dmaByte", .number(r.b))])
            case .dmaFetch, .dmaWrite:
                instant(r, r.kind == .dmaFetch ? "DMA fetch" : "DMA write", [("dmaByte", .number(r.a)), ("bytes", .number(r.b))])
                counter(r, "DMA bytes", r.a &+ r.b)
            case .dpcQueued: instant(r, "KeInsertQueueDpc", [("queued", .number(r.a))])
            case .eventSet: instant(r, "KeSetEvent", [("previousState", .number(r.a))])
            case .timerSet: instant(r, "timer set", [("dueNs", .signed(relative(r.a, to: r.time))), ("periodNs", .number(r.b))])
            case .timerCancel: instant(r, "timer cancelled", [("wasSet", .number(r.a))])
            case .timerExpired:
                instant(r, "timer expired", [("dueNs", .signed(relative(r.a, to: r.time))), ("tickNs", .signed(relative(r.b, to: r.time)))])
            case .positionProperty: instant(r, "KSPROPERTY_AUDIO_POSITION", [("playOffset", .number(r.a)), ("writeOffset", .number(r.b))])
            case .positionRegister: instant(r, "position register", [("value", .number(r.a))])
            case .clockRegister: instant(r, "clock register", [("value", .number(r.a))])
            case .clientWrite, .clientRead:
                instant(r, r.kind == .clientWrite ? "write" : "read",
                        [("from", .number(r.a)), ("to", .number(r.b)), ("bytes", .number(r.b &- r.a))])
                counter(r, "client bytes", r.b)
            case .glitchUnderrun, .glitchOverwrite, .glitchOverrun, .glitchEarlyRead:
                let what = switch r.kind {
                case .glitchUnderrun: "underrun"
                case .glitchOverwrite: "overwrite"
                case .glitchOverrun: "overrun"
                default: "early read"
                }
                instant(r, "glitch: \(what)", [("frame", .number(r.a)), ("frames", .number(r.b))])
            case .isrBegin, .dpcBegin, .clientWakeBegin, .setStateBegin: begin(r)
            case .isrEnd, .dpcEnd, .clientWakeEnd: finish(r)
            case .setStateEnd:
                finish(r)
                guard Int32(truncatingIfNeeded: r.b) >= 0 else { break }  // failed (not NT_SUCCESS): the stream stays where it was
                if let previous = lastState[r.stream] { span(previous, until: r.time) }
                lastState[r.stream] = r
            }
        }
        for (_, r) in open.sorted(by: { $0.value.sequence < $1.value.sequence }) { items.append(slice(r, until: nil)) }
        for (_, r) in lastState.sorted(by: { $0.key < $1.key }) { span(r, until: max(end, r.time)) }
        return items
    }

    /// The slice a begin record opens, closed by `end` (nil: it never ended).
    static func slice(_ b: TraceRecord, until end: TraceRecord?) -> Item {
        var args: [(name: String, value: ArgValue)] = []
        let name: String
        switch b.kind {
        case .isrBegin:
            name = "ISR"
            if let end { args.append(("claimed", .number(end.a))) }
        case .dpcBegin:
            name = "DPC"
        case .clientWakeBegin:
            name = b.a == 1 ? "wake (event)" : "wake (timeout or period)"
        default:
            name = "SetState \(stateName(b.a))->\(stateName(b.b))"
            if let end { args.append(("status", .text("0x" + String(end.b, radix: 16, uppercase: true)))) }
        }
        if end == nil { args.append(("unfinished", .number(1))) }
        return Item(time: b.time, sequence: b.sequence, order: 0, stream: b.stream, track: track(of: b.kind), phase: .slice,
                    name: name, duration: end.map { $0.time > b.time ? $0.time - b.time : 0 } ?? 0, args: args)
    }

    /// `time` as nanoseconds after `reference` (negative when before it).
    static func relative(_ time: UInt64, to reference: UInt64) -> Int64 {
        time >= reference ? Int64(clamping: time - reference) : -Int64(clamping: reference - time)
    }
}

/// Why a trace file could not be written.
public enum TraceFileError: Error, CustomStringConvertible, Sendable, Equatable {
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotWrite(let path, let reason): "cannot write the trace to \(path): \(reason)"
        }
    }
}

/// A JSON text built byte by byte: deterministic, no locale, no Foundation.
struct JSONBytes {
    var bytes: [UInt8] = []

    mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func key(_ k: String) {
        string(k)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for unit in s.utf8 {
            switch unit {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case ..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                          hex[Int(unit >> 4)], hex[Int(unit & 0xF)]])
            default: bytes.append(unit)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func number(_ n: UInt64) { bytes.append(contentsOf: String(n).utf8) }

    mutating func signed(_ n: Int64) { bytes.append(contentsOf: String(n).utf8) }

    /// Nanoseconds after `origin` as microseconds with three decimals (exact).
    mutating func microseconds(_ time: UInt64, origin: UInt64) {
        let negative = time < origin
        let ns = negative ? origin - time : time - origin
        if negative { bytes.append(UInt8(ascii: "-")) }
        bytes.append(contentsOf: String(ns / 1000).utf8)
        bytes.append(UInt8(ascii: "."))
        let fraction = ns % 1000
        if fraction < 100 { bytes.append(UInt8(ascii: "0")) }
        if fraction < 10 { bytes.append(UInt8(ascii: "0")) }
        bytes.append(contentsOf: String(fraction).utf8)
    }
}
