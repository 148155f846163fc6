import Synchronization
import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine

/// A stream over a real MDL, DMA and mapping, on a virtual clock, with an
/// optional event-driven client that writes a continuing byte ramp one packet
/// ahead at each notification.
final class EngineFixture: @unchecked Sendable {
    let clock: VirtualClock
    let memory = PhysicalMemory()
    let port: SimulatedPortWaveRTStream
    let mdl: MDL
    let buffer: UnsafeMutableRawPointer
    let dma: DMAController
    let engine: AudioEngine
    let stream: EngineStream
    let sink: CollectingSink
    let notes = Mutex<[StreamNotification]>([])
    private(set) var event: NotificationEvent!
    /// Linear bytes the client has written; it stops after `stopWritingAt`.
    let written = Atomic<UInt64>(0)
    var stopWritingAt: UInt64 = .max
    /// Fill with a constant instead of the ramp, for long runs that only look at timing.
    var fastWrites = false

    init(format: StreamFormat = .cd48k, bufferFrames: Int = 480, notificationCount: Int = 2,
         profile: DMAProfile = .pcie64SG, clock: VirtualClock = VirtualClock(start: 1_000_000),
         timebase: (any Timebase)? = nil, codecDelay: UInt32 = 0, sinkCapacity: Int = 4 << 20,
         direction: EngineStream.Direction = .render, serviceFrames: Int? = nil) throws
    {
        self.clock = clock
        port = SimulatedPortWaveRTStream(memory: memory)
        let bytes = bufferFrames * format.blockAlign
        mdl = try #require(port.allocatePagesForMdl(highAddress: profile.highestAddress, totalBytes: bytes))
        buffer = try #require(port.mapAllocatedPages(mdl, cacheType: .writeCombined))
        dma = DMAController(profile: profile, memory: memory)
        try dma.program(descriptors: [DMADescriptor](mdl: mdl, port: port, length: bytes), buffer: mdl)
        let tb = timebase ?? clock
        engine = AudioEngine(timebase: tb)
        sink = CollectingSink(capacityBytes: sinkCapacity)
        stream = try EngineStream(
            configuration: .init(format: format, direction: direction, notificationCount: notificationCount,
                                 codecDelay: codecDelay, serviceFrames: serviceFrames),
            dma: dma, timebase: tb, sink: direction == .render ? sink : nil,
            source: direction == .capture ? SilenceSource() : nil)
        try engine.add(stream)
    }

    /// The byte the ramp holds at linear position `i`.
    static func ramp(_ i: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: i &* 7 &+ i >> 8) }

    /// Writes the ramp for linear bytes [from, to) into the cyclic buffer and reports it.
    func write(from: UInt64, to: UInt64) {
        let size = UInt64(stream.bufferBytes)
        if fastWrites {
            var i = from
            while i < to {
                let n = min(to - i, size - i % size)
                (buffer + Int(i % size)).initializeMemory(as: UInt8.self, repeating: 0x11, count: Int(n))
                i += n
            }
        } else {
            for i in from..<to { buffer.storeBytes(of: Self.ramp(i), toByteOffset: Int(i % size), as: UInt8.self) }
        }
        written.store(to, ordering: .relaxed)
        stream.clientDidWrite(upTo: to)
    }

    /// Pre-fills the whole buffer and registers an event whose handler writes the next packet.
    func startEventDrivenClient() {
        write(from: 0, to: UInt64(stream.bufferBytes))
        let packet = UInt64(stream.packetBytes)
        event = NotificationEvent(name: "client") { [unowned self] note in
            notes.withLock { $0.append(note) }
            let from = written.load(ordering: .relaxed)
            if from + packet <= stopWritingAt { write(from: from, to: from + packet) }
        }
        #expect(stream.registerNotificationEvent(event) == .success)
    }

    func run() {
        for s in [KSState.acquire, .pause, .run] { #expect(stream.setState(s) == .success) }
    }

    func stop() {
        for s in [KSState.pause, .acquire, .stop] { #expect(stream.setState(s) == .success) }
    }

    func advance(seconds: Double) { clock.advance(by: UInt64(seconds * 1e9)) }

    var expectedRamp: [UInt8] { (0..<UInt64(sink.count)).map(Self.ramp) }
}
