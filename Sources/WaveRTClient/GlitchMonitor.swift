import Synchronization
import WaveRTDMA
import WaveRTEngine
import WaveRTHardware
import WaveRTMemory

/// One glitch: frames the device played that the client had not written for
/// that lap (render), or frames the client read before the device wrote them
/// or that the device overwrote before the client read them (capture).
/// Consecutive glitched frames are one glitch.
public struct Glitch: Sendable, Hashable, Codable, BitwiseCopyable, CustomStringConvertible {
    public enum Kind: UInt8, Sendable, Hashable, Codable, BitwiseCopyable, CustomStringConvertible {
        /// Render: the device fetched a frame the client had not written since the previous lap.
        case underrun
        /// Render: the client wrote a frame a whole lap early, over data the device had not fetched yet.
        case overwrite
        /// Capture: the device wrote a frame over one the client had not read.
        case overrun
        /// Capture: the client read a frame the device had not written yet.
        case earlyRead

        public var description: String {
            switch self {
            case .underrun: "underrun"
            case .overwrite: "overwrite"
            case .overrun: "overrun"
            case .earlyRead: "early read"
            }
        }
    }

    public var kind: Kind
    /// Timebase time of the first glitched frame's transfer.
    public var time: UInt64
    /// The first glitched frame, counted in the buffer since the stream started.
    public var frame: UInt64
    public var frames: UInt64

    public var description: String { "\(kind) at \(Double(time) / 1e9) s, frame \(frame), \(frames) frames" }
}

/// Decides glitches sample by sample from what actually happened: the device's
/// DMA transfers (their physical addresses mapped to bytes of the client's
/// buffer through the MDL's page frames, their exact times from the device's
/// timing) against the client's watermark (bytes written, or read, since the
/// stream started, with the time each was published). It does not look at
/// what the miniport reports (positions, packet counts) or at when
/// notifications came.
///
/// A render frame fetched at time t is a glitch when the client's watermark
/// at t did not cover it, or covered it a whole lap ahead (the client
/// overwrote it). A capture frame is a glitch when the client read it before
/// the device wrote it, or when the device wrote over it before the client read
/// it. A client late by one frame is a glitch; a client on time never is.
///
/// Threads: ``transferred(_:linearStart:bytes:at:data:)`` runs on the
/// processor's pass; ``publish(_:at:)`` on the client's thread (its watermarks
/// reach the monitor through a lock-free ring); both allocate nothing. A
/// judgement waits until the client's published history covers the instant
/// in question, so a client preempted between writing and publishing is not
/// blamed. ``glitches`` and ``finish()`` are for the control path.
public final class GlitchMonitor: DMAStreamObserver, @unchecked Sendable {
    public let capture: Bool
    let blockAlign: UInt64
    let bufferBytes: UInt64
    /// Buffer page of each MDL page frame, sorted by frame, for lookups on the pass.
    private let frames: [(frame: UInt64, index: Int)]
    private let offsetInFirstPage: UInt64
    private let pageSize: UInt64
    private let watermarks = SPSCRing<Mark>(capacity: 1 << 14)

    struct Mark: BitwiseCopyable {
        var time: UInt64
        var value: UInt64
    }

    struct Run: BitwiseCopyable {
        var bufferLinear: UInt64   // first byte, counted in the buffer since the start
        var dmaLinear: UInt64      // the same byte in the device's DMA count
        var count: UInt64
        var timing: DMAStream.Timing
        var capture: Bool
    }

    // Pass-owned state, behind a pointer.
    private struct State {
        var lastOffset: UInt64 = .max
        var bufferLinear: UInt64 = 0
        var historyTime: UInt64 = 0
        var open: Glitch?
        var historyCount = 0
        var historyStart = 0
        var pendingCount = 0
        var pendingStart = 0
    }
    private let state: UnsafeMutablePointer<State>
    private let history: UnsafeMutablePointer<Mark>
    private let historyCapacity = 4096
    private var historyCount: Int { get { state.pointee.historyCount } set { state.pointee.historyCount = newValue } }
    private var historyStart: Int { get { state.pointee.historyStart } set { state.pointee.historyStart = newValue } }
    private let pending: UnsafeMutablePointer<Run>
    private let pendingCapacity = 4096
    private var pendingCount: Int { get { state.pointee.pendingCount } set { state.pointee.pendingCount = newValue } }
    private var pendingStart: Int { get { state.pointee.pendingStart } set { state.pointee.pendingStart = newValue } }
    private let found = SPSCRing<Glitch>(capacity: 1 << 14)
    private let collected = Mutex<[Glitch]>([])
    private let total = Atomic<UInt64>(0)
    private let glitchedFrames = Atomic<UInt64>(0)
    private let unjudged = Atomic<UInt64>(0)
    /// The device's engine and buffer byte − DMA byte, learned from its transfers (for early-read checks).
    private let streamBits = Atomic<UInt>(0)
    private let dmaToBuffer = Atomic<UInt64>(0)
    /// Render: the end of stream the client announced (buffer bytes since the start); .max: none.
    private let endOfStreamPosition = Atomic<UInt64>(.max)

    /// Where each glitch is also recorded, as it is found (nil: not tracing), and the stream's number there.
    private let trace: TraceRecorder?
    private let traceStream: UInt32

    /// - Parameters:
    ///   - mdl, offset, size: the client's buffer as the port mapped it.
    ///   - trace, stream: a trace to record each glitch in, on the stream's track.
    public init(mdl: MDL, offset: Int, size: Int, blockAlign: Int, capture: Bool, trace: TraceRecorder? = nil, stream: UInt32 = 0) {
        self.trace = trace
        traceStream = stream
        self.capture = capture
        self.blockAlign = UInt64(blockAlign)
        bufferBytes = UInt64(size)
        pageSize = UInt64(mdl.pageSize)
        offsetInFirstPage = UInt64(offset) + UInt64(mdl.byteOffset)
        frames = mdl.pageFrameNumbers.enumerated().map { ($0.element, $0.offset) }.sorted { $0.frame < $1.frame }
        state = .allocate(capacity: 1)
        state.initialize(to: State())
        history = .allocate(capacity: historyCapacity)
        pending = .allocate(capacity: pendingCapacity)
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
        history.deallocate()
        pending.deallocate()
    }

    // MARK: The client's side

    /// The client has written (render) or read (capture) the buffer up to
    /// `watermark` bytes since the stream started, as of `time`. For render,
    /// stamp after the write completes; for capture, before the read starts.
    @inline(__always)
    public func publish(_ watermark: UInt64, at time: UInt64) {
        watermarks.push(Mark(time: time, value: watermark))
    }

    /// Render, packet mode: the client sent end of stream at `position` (bytes
    /// since the start). What the device fetches past it is the silence the
    /// driver plays after the end, not a frame the client owed: not judged.
    public func endOfStream(at position: UInt64) {
        endOfStreamPosition.store(position, ordering: .releasing)
    }

    // MARK: The device's side (the processor's pass)

    public func transferred(_ stream: DMAStream, linearStart: UInt64, bytes: Int, at now: UInt64, data: UnsafeRawBufferPointer) {
        guard stream.direction == (capture ? .capture : .render), let program = stream.program else { return }
        absorbWatermarks()
        let timing = stream.currentTiming()
        var done = 0
        while done < bytes {
            guard let (address, contiguous) = program.dma.physicalAddress(atCycleOffset: Int((linearStart + UInt64(done)) % UInt64(max(1, program.dma.cycleLength)))) else { return }
            let n = min(bytes - done, contiguous, Int(pageSize - address.rawValue % pageSize))
            // A program replaced under the pass (a stream reset from the control path) may map
            // nothing here: stop rather than loop, or judge a run of no bytes.
            guard n > 0 else { break }
            if let offset = bufferOffset(of: address) {
                let s = state.pointee
                // Unwrap: the device moves forward through the buffer.
                let step = s.lastOffset == .max ? offset : (offset &+ bufferBytes &- s.lastOffset) % bufferBytes
                let start = (s.lastOffset == .max ? 0 : s.bufferLinear) &+ step
                state.pointee.lastOffset = (offset + UInt64(n)) % bufferBytes
                state.pointee.bufferLinear = start + UInt64(n)
                enqueue(Run(bufferLinear: start, dmaLinear: linearStart + UInt64(done), count: UInt64(n), timing: timing, capture: capture))
                dmaToBuffer.store(start &- (linearStart + UInt64(done)), ordering: .relaxed)
                streamBits.store(UInt(bitPattern: Unmanaged.passUnretained(stream).toOpaque()), ordering: .releasing)
            }
            done += n
        }
        judgePending(final: false)
    }

    /// The byte of the buffer at a physical address, or nil when the DMA touched memory outside it.
    @inline(__always)
    private func bufferOffset(of address: PhysicalAddress) -> UInt64? {
        let frame = address.rawValue / pageSize
        var lo = 0, hi = frames.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if frames[mid].frame == frame {
                let byte = UInt64(frames[mid].index) * pageSize + address.rawValue % pageSize
                guard byte >= offsetInFirstPage, byte - offsetInFirstPage < bufferBytes else { return nil }
                return byte - offsetInFirstPage
            }
            if frames[mid].frame < frame { lo = mid + 1 } else { hi = mid - 1 }
        }
        return nil
    }

    private func absorbWatermarks() {
        watermarks.drain { mark in
            // An unchanged watermark (a client waking in PAUSE) only extends the time the history covers:
            // a long pause must not push out the entries runs still pending from before it are judged by.
            if historyCount > 0, history[(historyStart + historyCount - 1) % historyCapacity].value == mark.value {
                state.pointee.historyTime = max(state.pointee.historyTime, mark.time)
                return
            }
            if historyCount == historyCapacity {
                historyStart = (historyStart + 1) % historyCapacity
                historyCount -= 1
            }
            history[(historyStart + historyCount) % historyCapacity] = mark
            historyCount += 1
            state.pointee.historyTime = max(state.pointee.historyTime, mark.time)
        }
    }

    private func enqueue(_ run: Run) {
        if pendingCount == pendingCapacity {
            judge(pending[pendingStart])  // full: decide the oldest with what is known
            unjudged.add(1, ordering: .relaxed)
            pendingStart = (pendingStart + 1) % pendingCapacity
            pendingCount -= 1
        }
        pending[(pendingStart + pendingCount) % pendingCapacity] = run
        pendingCount += 1
    }

    /// Judges the runs whose whole time span the client's history covers (all of them when `final`).
    private func judgePending(final: Bool) {
        while pendingCount > 0 {
            let run = pending[pendingStart]
            if !final {
                let last = time(ofDMAByte: run.dmaLinear + run.count - 1, run.timing)
                guard state.pointee.historyTime >= last else { break }
            }
            judge(run)
            pendingStart = (pendingStart + 1) % pendingCapacity
            pendingCount -= 1
        }
    }

    /// When the DMA moved DMA byte `b`: the first instant its count exceeded `b`.
    @inline(__always)
    private func time(ofDMAByte b: UInt64, _ t: DMAStream.Timing) -> UInt64 {
        // The same arithmetic as DMAStream.time(whenDMAReaches:), without the stream at hand.
        let target = b + 1
        let burst = max(1, t.burstBytes)
        let rounded = (target / burst + (target % burst == 0 ? 0 : 1)) * burst
        var link = capture ? rounded : (rounded > t.fifoBytes ? rounded - t.fifoBytes : 0)
        if link <= t.startBytes { return t.running ? t.startTime : t.stopCompleteTime }
        link -= t.startBytes
        let blockAlign = max(1, t.blockAlign)
        let frames = link / blockAlign + (link % blockAlign == 0 ? 0 : 1)
        return t.startTime &+ PositionMath.nanoseconds(untilFrames: frames, rate: max(1, t.rate))
    }

    /// DMA bytes moved by time `time` (DMAStream.dmaBytes for this direction).
    @inline(__always)
    private func moved(by time: UInt64, _ t: DMAStream.Timing) -> UInt64 {
        let link = DMAStream.linkBytes(t, at: time)
        if capture { return link - link % t.burstBytes }
        guard t.primed, time >= t.primeTime else { return 0 }
        let f = link &+ t.fifoBytes
        return f - f % t.burstBytes
    }

    /// The index of the last history entry at or before `time`, or -1.
    private func historyIndex(at time: UInt64) -> Int {
        var lo = 0, hi = historyCount - 1, found = -1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if history[(historyStart + mid) % historyCapacity].time <= time {
                found = mid
                lo = mid + 1
            } else {
                hi = mid - 1
            }
        }
        return found
    }

    /// Compares a run with the client's watermark, one constant piece of the
    /// watermark at a time: the bytes the device moved while the watermark held
    /// a value follow from the device's timing.
    private func judge(_ run: Run) {
        let t = run.timing
        let firstTime = time(ofDMAByte: run.dmaLinear, t)
        let lastTime = time(ofDMAByte: run.dmaLinear + run.count - 1, t)
        // A transfer at t sees what the client published strictly before t: the
        // write an interrupt prompts cannot come before the fetch that raised it.
        var i = historyIndex(at: firstTime &- 1)
        var cursor = run.dmaLinear  // the next DMA byte of the run to judge
        let end = run.dmaLinear + run.count
        func value(_ index: Int) -> UInt64 { index >= 0 ? history[(historyStart + index) % historyCapacity].value : 0 }
        while cursor < end {
            let mark = value(i)
            // This value holds for transfers up to the next entry's time; the bytes moved at
            // exactly that instant are a tie (the next value is credited for underruns only).
            var pieceEnd = end, tieStart = end
            if i + 1 < historyCount {
                let next = history[(historyStart + i + 1) % historyCapacity].time
                if next <= lastTime {
                    pieceEnd = min(end, max(cursor, moved(by: next, t)))
                    tieStart = min(pieceEnd, max(cursor, moved(by: next &- 1, t)))
                }
            }
            if tieStart > cursor { judge(dma: cursor..<tieStart, run: run, before: mark, at: mark) }
            if pieceEnd > tieStart { judge(dma: tieStart..<pieceEnd, run: run, before: mark, at: value(i + 1)) }
            cursor = max(cursor, pieceEnd)
            i += 1
            if i >= historyCount && cursor < end {
                judge(dma: cursor..<end, run: run, before: value(i - 1), at: value(i - 1))
                cursor = end
            }
        }
        pruneHistory(before: firstTime &- 1)
    }

    /// Bytes `dma` of `run`, moved while the client's watermark was `before`
    /// (published strictly earlier) or `at` (counting a publication at the same instant).
    private func judge(dma: Range<UInt64>, run: Run, before: UInt64, at: UInt64) {
        let offset = run.bufferLinear &- run.dmaLinear
        let b0 = dma.lowerBound &+ offset, b1 = dma.upperBound &+ offset
        if run.capture {
            // The device wrote over bytes the client had not read: watermark + size <= byte.
            let from = max(b0, at + bufferBytes)
            emitClean(b0, min(b1, from))
            emitGlitch(.overrun, from, b1, run, offset)
        } else {
            let last = min(b1, max(b0, endOfStreamPosition.load(ordering: .acquiring)))  // nothing to judge past end of stream
            let overwritten = before > bufferBytes ? min(last, max(b0, before - bufferBytes)) : b0
            emitGlitch(.overwrite, b0, overwritten, run, offset)
            emitClean(overwritten, min(last, max(overwritten, at)))
            emitGlitch(.underrun, max(b0, at, overwritten), last, run, offset)
            emitClean(last, b1)
        }
    }

    private func emitClean(_ from: UInt64, _ to: UInt64) {
        guard to > from, let open = state.pointee.open else { return }
        report(open)
        state.pointee.open = nil
    }

    private func emitGlitch(_ kind: Glitch.Kind, _ from: UInt64, _ to: UInt64, _ run: Run, _ offset: UInt64) {
        guard to > from else { return }
        let first = from / blockAlign, last = (to - 1) / blockAlign
        let when = time(ofDMAByte: (from &- offset), run.timing)
        if var open = state.pointee.open, open.kind == kind, open.frame + open.frames >= first {
            let added = last + 1 > open.frame + open.frames ? last + 1 - (open.frame + open.frames) : 0
            open.frames += added
            glitchedFrames.add(added, ordering: .relaxed)
            state.pointee.open = open
        } else {
            if let open = state.pointee.open { report(open) }
            total.add(1, ordering: .relaxed)
            glitchedFrames.add(last - first + 1, ordering: .relaxed)
            state.pointee.open = Glitch(kind: kind, time: when, frame: first, frames: last - first + 1)
        }
    }

    /// Drops history entries no later run can need (keeping the one in force at `time`).
    private func pruneHistory(before time: UInt64) {
        let keep = historyIndex(at: time)
        if keep > 0 {
            historyStart = (historyStart + keep) % historyCapacity
            historyCount -= keep
        }
    }

    // MARK: Capture reads (the client's thread)

    /// Capture: the client is about to read bytes [from, to) of the buffer
    /// (counted since the start) at `time`: frames the device has not written
    /// by then are early reads.
    @discardableResult
    public func checkRead(from: UInt64, to: UInt64, at time: UInt64) -> UInt64 {
        let bits = streamBits.load(ordering: .acquiring)
        let written: UInt64 = bits == 0 ? 0 : Unmanaged<DMAStream>.fromOpaque(UnsafeRawPointer(bitPattern: bits)!)
            ._withUnsafeGuaranteedRef { $0.dmaBytes($0.currentTiming(), at: time) } &+ dmaToBuffer.load(ordering: .relaxed)
        guard to > written else { return 0 }
        let first = max(from, written)
        let frames = (to - first + blockAlign - 1) / blockAlign
        report(Glitch(kind: .earlyRead, time: time, frame: first / blockAlign, frames: frames))
        total.add(1, ordering: .relaxed)
        glitchedFrames.add(frames, ordering: .relaxed)
        return frames
    }

    /// A glitch is decided: to the control path's list, and to the trace.
    @inline(__always)
    private func report(_ g: Glitch) {
        found.push(g)
        if let trace {
            let kind: TraceEventKind = switch g.kind {
            case .underrun: .glitchUnderrun
            case .overwrite: .glitchOverwrite
            case .overrun: .glitchOverrun
            case .earlyRead: .glitchEarlyRead
            }
            trace.record(kind, stream: traceStream, at: g.time, g.frame, g.frames)
        }
    }

    // MARK: Results (control path)

    /// Judges everything still pending (after the stream stopped and the pass quiesced).
    public func finish() {
        absorbWatermarks()
        judgePending(final: true)
        if let open = state.pointee.open {
            report(open)
            state.pointee.open = nil
        }
    }

    /// The stream restarted from STOP: positions start again from 0.
    public func reset() {
        finish()
        endOfStreamPosition.store(.max, ordering: .releasing)
        state.pointee = State()
        historyCount = 0
        historyStart = 0
    }

    public var glitches: [Glitch] {
        collected.withLock { list in
            found.drain { list.append($0) }
            return list.sorted { $0.time < $1.time }
        }
    }
    public var glitchCount: UInt64 { total.load(ordering: .relaxed) }
    public var glitchedFrameCount: UInt64 { glitchedFrames.load(ordering: .relaxed) }
    /// Runs judged before the client's history covered them (the pending queue was full).
    public var prematureJudgements: UInt64 { unjudged.load(ordering: .relaxed) }
}
