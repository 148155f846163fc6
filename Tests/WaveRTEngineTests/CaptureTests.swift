import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine

@Suite struct CaptureTests {
    @Test func captureFillsTheBufferAndCountsOverruns() throws {
        let f = try EngineFixture(bufferFrames: 480, direction: .capture)
        // Poison the buffer: the DMA must overwrite it with the source's silence.
        f.buffer.initializeMemory(as: UInt8.self, repeating: 0x5A, count: 1_920)
        f.run()
        f.clock.advance(by: 5_000_000)  // half a buffer
        #expect(f.buffer.load(fromByteOffset: 0, as: UInt8.self) == 0)
        #expect(f.buffer.load(fromByteOffset: 1_900, as: UInt8.self) == 0x5A)
        #expect(f.stream.glitchCount == 0)
        // A client that reads each half as it completes never overruns...
        f.stream.clientDidWrite(upTo: 960)
        f.clock.advance(by: 5_000_000)
        f.stream.clientDidWrite(upTo: 1_920)
        f.clock.advance(by: 5_000_000)
        #expect(f.stream.glitchCount == 0)
        // ...one that stops reading is overrun one buffer after its last read.
        f.clock.advance(by: 20_000_000)
        #expect(f.stream.glitchCount == 1)
        let glitch = try #require(f.stream.glitches.first)
        #expect(glitch.kind == .overrun && glitch.position == 1_920 + 1_920)
    }
}
