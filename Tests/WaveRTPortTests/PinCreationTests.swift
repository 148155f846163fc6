import Testing
import WaveRTEngine
import WaveRTKernel
import WaveRTPort
import WaveRTTestSupport

/// What the port checks when a client opens a pin, and what it leaves to the
/// miniport (reference §5: KsValidateConnectRequest checks the GUID triple;
/// NewStream checks the values), and data intersection with its default handler.
@Suite struct PinCreationTests {
    func status(_ r: Result<KSPin, NTStatus>) -> NTStatus { if case .failure(let s) = r { s } else { .success } }

    @Test func pinCreationChecksWhatWindowsChecks() throws {
        let rig = try PortRig()
        let port = rig.port
        #expect(status(port.createPin(7, dataFormat: KSDataFormat(.cd48k))) == .invalidParameter)    // no such pin
        #expect(status(port.createPin(1, dataFormat: KSDataFormat(.cd48k))) == .invalidDeviceRequest) // a bridge pin
        // The GUID triple: float on a PCM-only pin never reaches the miniport.
        let float = try StreamFormat(sampleRate: 48_000, channels: 2, sampleFormat: .float32)
        #expect(status(port.createPin(0, dataFormat: KSDataFormat(float))) == .noMatch)
        #expect(!rig.miniport.log.calls.contains("NewStream(0)"))
        // The values are NewStream's to check: 6 channels get as far as the miniport.
        rig.miniport.newStreamStatus = { f in f.waveFormat.channels > 2 ? .noMatch : nil }
        let six = try StreamFormat(sampleRate: 48_000, channels: 6, sampleFormat: .int16)
        #expect(status(port.createPin(0, dataFormat: KSDataFormat(six))) == .noMatch)
        #expect(rig.miniport.log.calls.filter { $0 == "NewStream(0)" }.count == 1)
        // One instance per pin (the descriptor's limit); a refused NewStream does not use it up.
        let first = try port.createPin(0, dataFormat: KSDataFormat(.cd48k)).get()
        #expect(status(port.createPin(0, dataFormat: KSDataFormat(.cd48k))) == .insufficientResources)
        let capture = try port.createPin(2, dataFormat: KSDataFormat(.cd48k)).get()
        #expect(capture.isCapture && !first.isCapture)
        #expect(first.close().isClean)
        let again = try port.createPin(0, dataFormat: KSDataFormat(.cd48k)).get()
        #expect(again.close().isClean && capture.close().isClean)
        // NewStream runs at PASSIVE_LEVEL.
        #expect(zip(rig.miniport.log.calls, rig.miniport.log.irqls).allSatisfy { $0.1 == Irql.passiveLevel })
    }

    /// GUID_NULL in a range's subformat is a wildcard.
    @Test func wildcardRangesAcceptAnySubformat() throws {
        let rig = try PortRig {
            $0.renderRanges = [KSDataRangeAudio(subFormat: .null, maximumChannels: 2, bitsPerSample: 16...32, sampleFrequency: 8_000...96_000)]
        }
        let float = try StreamFormat(sampleRate: 48_000, channels: 2, sampleFormat: .float32)
        let pin = try rig.port.createPin(0, dataFormat: KSDataFormat(float)).get()
        #expect(pin.dataFormat.subFormat == KSDataFormatGUID.subtypeIEEEFloat)
        #expect(pin.close().isClean)
    }

    /// The miniport's DataRangeIntersection first; STATUS_NOT_IMPLEMENTED sends
    /// the pair to PortCls' default handler (PCM, mono or stereo, the highest
    /// rate and bits both allow); STATUS_NO_MATCH tries the next range.
    @Test func dataIntersectionFallsBackToTheDefaultHandler() throws {
        let rig = try PortRig {
            $0.renderRanges = [KSDataRangeAudio(maximumChannels: 8, bitsPerSample: 16...24, sampleFrequency: 8_000...96_000)]
        }
        let client = KSDataRangeAudio(maximumChannels: 6, bitsPerSample: 16...32, sampleFrequency: 44_100...48_000)
        let chosen = try rig.port.dataIntersection(pin: 0, clientRange: client).get()
        #expect(rig.miniport.log.calls == ["Init", "DataRangeIntersection"])
        let w = chosen.waveFormat
        #expect(w.formatTag == WaveFormatExtensible.tagPCM)  // no WAVEFORMATEXTENSIBLE
        #expect(w.channels == 2 && w.bitsPerSample == 24 && w.samplesPerSec == 48_000)
        #expect(w.blockAlign == 6 && w.avgBytesPerSec == 288_000 && chosen.streamFormat != nil)
        // The miniport's own answer wins.
        let own = KSDataFormat(try StreamFormat(sampleRate: 44_100, channels: 6, sampleFormat: .int16))
        rig.miniport.intersection = { _, _ in .success(own) }
        #expect(try rig.port.dataIntersection(pin: 0, clientRange: client).get() == own)
        // NO_MATCH from the miniport: no format.
        rig.miniport.intersection = { _, _ in .failure(.noMatch) }
        if case .failure(let s) = rig.port.dataIntersection(pin: 0, clientRange: client) { #expect(s == .noMatch) } else { Issue.record("matched") }
        // The default handler takes PCM only.
        rig.miniport.intersection = nil
        let floatClient = KSDataRangeAudio(subFormat: KSDataFormatGUID.subtypeIEEEFloat, maximumChannels: 2, bitsPerSample: 32...32,
                                           sampleFrequency: 48_000...48_000)
        if case .failure(let s) = rig.port.dataIntersection(pin: 0, clientRange: floatClient) { #expect(s == .noMatch) } else { Issue.record("float matched") }
        if case .failure(let s) = rig.port.dataIntersection(pin: 9, clientRange: client) { #expect(s == .invalidParameter) } else { Issue.record("pin 9") }
    }

    @Test func defaultHandlerRules() {
        let pin = KSDataRangeAudio(maximumChannels: 2, bitsPerSample: 8...16, sampleFrequency: 8_000...44_100)
        // Ranges that do not overlap: no format.
        #expect(defaultDataIntersection(client: KSDataRangeAudio(maximumChannels: 2, bitsPerSample: 24...32, sampleFrequency: 8_000...48_000),
                                        pin: pin) == nil)
        #expect(defaultDataIntersection(client: KSDataRangeAudio(maximumChannels: 2, bitsPerSample: 16...16, sampleFrequency: 48_000...96_000),
                                        pin: pin) == nil)
        let mono = defaultDataIntersection(client: KSDataRangeAudio(maximumChannels: 1, bitsPerSample: 8...16, sampleFrequency: 8_000...22_050),
                                           pin: pin)
        #expect(mono?.waveFormat.channels == 1 && mono?.waveFormat.samplesPerSec == 22_050 && mono?.waveFormat.bitsPerSample == 16)
    }

    /// The port steps SetState through each neighbouring state, at PASSIVE_LEVEL,
    /// and stops at the first one the miniport refuses.
    @Test func setStateIsSteppedThroughNeighbouringStates() throws {
        let rig = try PortRig()
        let (pin, stream) = try rig.open()
        #expect(pin.setState(.run) == .success)
        #expect(rig.miniport.log.calls(startingWith: "SetState") == ["SetState(KSSTATE_ACQUIRE)", "SetState(KSSTATE_PAUSE)", "SetState(KSSTATE_RUN)"])
        #expect(pin.setState(.stop) == .success)
        #expect(rig.miniport.log.calls(startingWith: "SetState").suffix(3) == ["SetState(KSSTATE_PAUSE)", "SetState(KSSTATE_ACQUIRE)", "SetState(KSSTATE_STOP)"])
        #expect(pin.setState(.stop) == .success)  // already there: no call
        #expect(rig.miniport.log.calls(startingWith: "SetState").count == 6)
        // A refusal on the way stops there, and the state is the last one reached.
        stream.setStateStatus = { $0 == .pause ? .insufficientResources : .success }
        #expect(pin.setState(.run) == .insufficientResources)
        #expect(try pin.state().get() == .acquire)
        #expect(stream.state == .acquire)
        let irqls = zip(rig.miniport.log.calls, rig.miniport.log.irqls).filter { $0.0.hasPrefix("SetState") }.map(\.1)
        #expect(irqls.allSatisfy { $0 == Irql.passiveLevel })
        stream.setStateStatus = nil
        #expect(pin.close().isClean)
        #expect(stream.state == .stop)  // closing steps down to STOP
    }

    /// PcTimedWaveRtStreamSetState: a SetState that takes longer than the budget is a finding.
    @Test func aSlowSetStateIsAFinding() throws {
        let rig = try PortRig()
        let (pin, stream) = try rig.open()
        rig.verifier.setStateBudgetNanoseconds = 20_000_000
        let event = KEvent()
        keInitializeEvent(event, type: .synchronization, state: false)
        // Waiting 50 ms for hardware that never answers (the virtual clock moves while it waits).
        stream.onSetState = { new in if new == .pause { _ = keWaitForSingleObject(event, timeout: -500_000) } }
        #expect(pin.setState(.run) == .success)
        let finding = try #require(rig.verifier.violations(of: .setStateTimeout).first)
        #expect(finding.ddi == "IMiniportWaveRTStream::SetState" && finding.stream == "pin 0 (render)")
        #expect(finding.detail == "KSSTATE_ACQUIRE -> KSSTATE_PAUSE took 50 ms; the budget is 20 ms")
        #expect(finding.time == 50_000_000)
        #expect(rig.verifier.violations(of: .setStateTimeout).count == 1)
        stream.onSetState = nil
        #expect(pin.close().isClean)
    }
}
