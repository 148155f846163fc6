import WaveRTDMA
import WaveRTEngine
import WaveRTExamples
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

/// Random `IOCTL_KS_PROPERTY` requests (`KSPin.property`) against a pin of the
/// WaveRT port (`WaveRTPort`) driving each example miniport: every
/// KSPROPSETID_RtAudio id, KSPROPERTY_AUDIO_POSITION, KSPROPERTY_CONNECTION_STATE
/// (with any KSSTATE value, skipping states), unknown sets and ids, GET, SET,
/// both or neither, input and output buffers of random sizes and contents,
/// buffers of random sizes, the clock moving in between; then the pin closed
/// and the port torn down. Checks: no crash; every status is one the WDK
/// documents for these requests; the byte count is within the output buffer
/// on success and is the size needed on STATUS_BUFFER_OVERFLOW / TOO_SMALL.
public enum KSPropertyFuzzer {
    /// What the port, or a miniport it calls (SetState, GetPosition, packet DDIs), may answer.
    static let documented: Set<NTStatus> = [
        .success, .bufferOverflow, .bufferTooSmall, .invalidBufferSize, .invalidParameter, .invalidDeviceRequest,
        .notFound, .notSupported, .invalidDeviceState, .insufficientResources, .noMemory, .deviceNotReady, .unsuccessful,
        .dataLateError, .dataOverrun, .noMoreEntries, .notImplemented, .invalidHandle, .noMatch, .pending, .timeout, .cancelled,
    ]

    public static func iteration(_ random: inout FuzzRandom) -> FuzzOutcome {
        var outcome = FuzzOutcome()
        let example = random.pick(ExampleMiniport.all)
        let clock = VirtualClock(start: 1_000_000)
        let machine = Machine(timebase: clock)
        let adapter: Adapter
        do {
            adapter = try Adapter(kind: example.hardware, machine: machine, profile: example.profileName.flatMap { DMAProfile.preset(named: $0) })
        } catch {
            outcome.fail("\(example.name): the adapter could not be made: \(error)")
            return outcome
        }
        defer {
            adapter.shutdown()
            machine.shutdown()
        }
        let port: WaveRTPort
        do { port = try WaveRTPort(miniport: example.make(), adapter: adapter) } catch {
            outcome.fail("\(example.name): the port refused its own example: \(error)")
            return outcome
        }
        let format = random.chance(3, in: 4) ? example.format
            : (try? StreamFormat(sampleRate: random.pick([8000, 44_100, 48_000, 96_000]), channels: random.int(1...8),
                                 sampleFormat: random.pick([.int16, .int24, .int32, .float32]))) ?? example.format
        guard case .success(let pin) = port.createPin(random.pick([0, 0, 0, 2, random.int(-1...5)]), dataFormat: KSDataFormat(format)) else {
            outcome.count("pin refused")
            _ = port.close()
            return outcome
        }
        outcome.count("pins opened")
        for _ in 0..<random.int(5...60) {
            switch random.int(0...9) {
            case 0: _ = pin.setState(KSState(rawValue: Int32(random.int(0...3)))!)
            case 1: _ = pin.buffer(requestedSize: random.pick([0, 1, 4096, random.int(1...1 << 20), Int(random.edgy(bits: 26))]),
                                   notificationCount: random.pick([nil, 0, 1, 2, random.int(0...1000)]))
            case 2: clock.advance(by: UInt64(random.int(0...30_000_000)))
            default: request(pin, &random, &outcome)
            }
        }
        _ = pin.close()
        _ = port.close()
        outcome.count("verifier findings", UInt64(machine.verifier.violations.count))
        return outcome
    }

    static func request(_ pin: KSPin, _ random: inout FuzzRandom, _ outcome: inout FuzzOutcome) {
        let set = random.pick([KSPropertySet.rtAudio, KSPropertySet.rtAudio, KSPropertySet.audio, KSPropertySet.connection,
                               GUID(UInt32(truncatingIfNeeded: random.next()), 0, 0, random.next())])
        let id = random.chance(4, in: 5) ? UInt32(random.int(0...15)) : UInt32(truncatingIfNeeded: random.edgy(bits: 32))
        let flags = KSPropertyFlags(rawValue: random.pick([1, 1, 2, 2, 3, 0, 0x200, UInt32(truncatingIfNeeded: random.next())]))
        let property = KSProperty(set: set, id: id, flags: flags)
        let inputSize = random.pick([24, 32, 36, 40, 48, random.int(0...64)])
        let outputSize = random.pick([0, 4, 12, 16, 24, 40, random.int(0...64)])
        var input = random.bytes(inputSize)
        if inputSize > 24, random.chance(1, in: 2) { for i in 24..<min(inputSize, 32) { input[i] = 0 } }  // BufferAddress NULL, mostly
        if inputSize >= KSProperty.size, random.chance(7, in: 8) {
            input.withUnsafeMutableBytes { property.store(to: $0.baseAddress!) }
        }
        var output = random.chance(1, in: 2) ? random.bytes(outputSize) : [UInt8](repeating: 0, count: outputSize)
        if outputSize >= 4, set == KSPropertySet.connection, random.bool() {
            output.withUnsafeMutableBytes { $0.storeBytes(of: Int32(random.int(-1...4)).littleEndian, as: Int32.self) }
        }
        let (status, bytes) = input.withUnsafeBytes { i in output.withUnsafeMutableBytes { o in pin.property(property, input: i, output: o) } }
        let what = "property set \(set) id \(id) flags 0x\(String(flags.rawValue, radix: 16)), input \(inputSize), output \(outputSize)"
        if !documented.contains(status) { outcome.fail("\(what): undocumented status \(status)") }
        if status.isSuccess, status != .bufferOverflow, bytes > outputSize { outcome.fail("\(what): \(status) with \(bytes) bytes, more than the output buffer") }
        if status == .bufferOverflow || status == .bufferTooSmall, bytes <= outputSize {
            outcome.fail("\(what): \(status) but the size needed (\(bytes)) fits the output buffer")
        }
        outcome.count(status.isSuccess ? "requests succeeded" : "requests refused")
    }
}
