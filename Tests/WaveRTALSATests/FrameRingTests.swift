import Foundation
import Glibc
import Synchronization
import Testing
import WaveRTALSA

/// The ring between the engine and the ALSA writer never cuts a frame: every
/// frame size the CLI accepts (1 to 32 channels of 2, 3 or 4 bytes), fed in
/// pieces cut anywhere (as DMA bursts are), read back whole, lap after lap.
@Suite struct FrameRingTests {
    /// Byte `i` of frame `n`: distinct enough that a shifted or torn frame shows.
    static func byte(frame n: Int, _ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: n &* 31 &+ i &* 7 &+ (n >> 8)) }

    /// The pieces the producer hands over: lengths that cut frames every way.
    static func pieces(frameBytes: Int) -> [Int] {
        [1, 7, 128, frameBytes + 1, 3 * frameBytes - 1, 2, 64, frameBytes, 5 * frameBytes + 3, 13]
    }

    static let frameSizes: [(channels: Int, bytes: Int)] = (1...32).flatMap { c in [2, 3, 4].map { (c, $0) } }

    @Test func everyFrameSizeWrapsWithoutCuttingAFrame() {
        for (channels, sampleBytes) in Self.frameSizes {
            let frameBytes = channels * sampleBytes
            // A capacity that is no power of two in bytes or frames.
            let ring = FrameRing(frameBytes: frameBytes, capacityFrames: 37)
            let pieces = Self.pieces(frameBytes: frameBytes)
            let laps = 6
            let total = ring.capacityFrames * laps * frameBytes
            var stream = [UInt8](repeating: 0, count: total)
            for k in 0..<total { stream[k] = Self.byte(frame: k / frameBytes, k % frameBytes) }
            var produced = 0, readFrames = 0, piece = 0, dropped = 0, reads = 0
            var torn = 0
            while readFrames * frameBytes < total {
                // Produce while a whole further piece surely fits (no drops expected here).
                let n = min(pieces[piece % pieces.count], total - produced, ring.capacityFrames / 2 * frameBytes)
                if n > 0, (ring.readableFrames + 1) * frameBytes + n + frameBytes <= ring.capacityFrames * frameBytes {
                    dropped += stream.withUnsafeBytes { ring.write(UnsafeRawBufferPointer(rebasing: $0[produced..<produced + n])) }
                    produced += n
                    piece += 1
                    continue
                }
                // Consume in varying runs.
                reads += 1
                let (start, frames) = ring.peek(maxFrames: 1 + reads % 11)
                if frames == 0 { break }
                for f in 0..<frames {
                    for i in 0..<frameBytes where start.load(fromByteOffset: f * frameBytes + i, as: UInt8.self) != Self.byte(frame: readFrames + f, i) {
                        torn += 1
                    }
                }
                ring.consume(frames: frames)
                readFrames += frames
            }
            #expect(dropped == 0, "\(channels) x \(sampleBytes) bytes")
            #expect(torn == 0, "\(channels) x \(sampleBytes) bytes: \(torn) bytes out of place")
            #expect(readFrames == laps * ring.capacityFrames, "\(channels) x \(sampleBytes) bytes: \(readFrames) frames read")
        }
    }

    @Test func aFullRingDropsWholeFramesAndStaysAligned() {
        for (channels, sampleBytes) in Self.frameSizes {
            let frameBytes = channels * sampleBytes
            let ring = FrameRing(frameBytes: frameBytes, capacityFrames: 10)
            // Frames carry their index in every byte pair, so a survivor says which frame it was.
            let totalFrames = 64
            var stream = [UInt8](repeating: 0, count: totalFrames * frameBytes)
            for k in 0..<stream.count { stream[k] = UInt8(k / frameBytes) }
            var at = 0, dropped = 0, cut = 0
            let pieces = Self.pieces(frameBytes: frameBytes)
            var seen: [Int] = []
            while at < stream.count {
                let n = min(pieces[cut % pieces.count], stream.count - at)
                dropped += stream.withUnsafeBytes { ring.write(UnsafeRawBufferPointer(rebasing: $0[at..<at + n])) }
                at += n
                cut += 1
                // Drain a little now and then, so drops and writes interleave.
                if cut % 5 == 0 {
                    let (start, frames) = ring.peek(maxFrames: 3)
                    for f in 0..<frames { seen.append(Int(start.load(fromByteOffset: f * frameBytes, as: UInt8.self))) }
                    // Every byte of a surviving frame belongs to that frame.
                    for f in 0..<frames {
                        let id = start.load(fromByteOffset: f * frameBytes, as: UInt8.self)
                        #expect((0..<frameBytes).allSatisfy { start.load(fromByteOffset: f * frameBytes + $0, as: UInt8.self) == id })
                    }
                    ring.consume(frames: frames)
                }
            }
            while ring.readableFrames > 0 {
                let (start, frames) = ring.peek(maxFrames: 100)
                for f in 0..<frames {
                    let id = start.load(fromByteOffset: f * frameBytes, as: UInt8.self)
                    #expect((0..<frameBytes).allSatisfy { start.load(fromByteOffset: f * frameBytes + $0, as: UInt8.self) == id })
                    seen.append(Int(id))
                }
                ring.consume(frames: frames)
            }
            #expect(dropped > 0, "\(channels) x \(sampleBytes): the ring never filled")
            #expect(seen.count + dropped == totalFrames, "\(channels) x \(sampleBytes): \(seen.count) read + \(dropped) dropped")
            #expect(seen == seen.sorted() && Set(seen).count == seen.count, "frames out of order or repeated")
        }
    }

    @Test func producerAndConsumerThreadsAgreeOnEveryByte() async {
        // 24-bit, 6 channels: 18-byte frames against 128-byte bursts, for many laps.
        let frameBytes = 18
        let ring = FrameRing(frameBytes: frameBytes, capacityFrames: 251)
        let totalFrames = 200_000
        let producer = Thread {
            var burst = [UInt8](repeating: 0, count: 128)
            var k = 0
            while k < totalFrames * frameBytes {
                let n = min(burst.count - (k % 7), totalFrames * frameBytes - k)
                for i in 0..<n { burst[i] = Self.byte(frame: (k + i) / frameBytes, (k + i) % frameBytes) }
                // Never overfill: wait for room (the test is about ordering, not drops).
                while (ring.readableFrames + 2) * frameBytes + n > ring.capacityFrames * frameBytes { sched_yield() }
                _ = burst.withUnsafeBytes { ring.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                k += n
            }
        }
        producer.start()
        var read = 0, wrong = 0
        while read < totalFrames {
            ring.wait(forFrames: 1, until: MonotonicNow.ns() + 100_000_000)
            let (start, frames) = ring.peek(maxFrames: 97)
            for f in 0..<frames {
                for i in 0..<frameBytes where start.load(fromByteOffset: f * frameBytes + i, as: UInt8.self) != Self.byte(frame: read + f, i) {
                    wrong += 1
                }
            }
            ring.consume(frames: frames)
            read += frames
        }
        #expect(wrong == 0)
        #expect(read == totalFrames)
    }
}

/// CLOCK_MONOTONIC in nanoseconds, for futex deadlines.
enum MonotonicNow {
    static func ns() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
