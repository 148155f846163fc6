import WaveRTClient
import WaveRTEngine
import WaveRTHardware
import WaveRTKernel
import WaveRTMemory
import WaveRTPort

/// One soak, from the machine's power-on to its shutdown (see ``Soak``).
final class SoakRun {
    private enum Phase: Equatable {
        /// The client is not running; the pin is in this state (STOP, ACQUIRE or PAUSE, never RUN since STOP).
        case idle(KSState)
        case running
        /// Paused after RUN (the pin in PAUSE, or ACQUIRE for a ladder's middle step).
        case paused
    }

    /// One open of the pin.
    private struct Open {
        let choice: StreamChoice
        let pin: KSPin
        let client: AudioEngineClient
        let late: LateClient
        /// The DMA engine moving the buffer, once found.
        var dma: DMAStream?
        /// Expected glitches already compared, and where the current comparison window starts.
        var comparedExpected = 0
        var windowStart: UInt64
        var seenGlitches: UInt64 = 0
    }

    private let target: SoakTarget
    private let seed: UInt64
    private let total: UInt64
    private var report: SoakReport
    private let progress: ((Soak.Progress) -> Void)?
    private var rng: SoakRandom
    private let clock = VirtualClock()
    private var memory: PhysicalMemory!
    private var machine: Machine!
    private var adapter: Adapter!
    private var port: WaveRTPort!
    private var open: Open?
    private var phase = Phase.idle(.stop)
    private var formats: [StreamFormat] = []
    private var fragmented = false
    private var step: UInt64 = 0
    private var start: UInt64 = 0
    private var runsSinceStop: UInt64 = 0
    private var pagesAfterInit = 0
    // What the checks have already seen.
    private var seenVerifier: UInt64 = 0
    private var seenHardware: [String] = []
    private var seenFaultEvents: UInt64 = 0
    private var seenLivelocks: UInt64 = 0

    init(target: SoakTarget, seed: UInt64, total: UInt64, report: SoakReport, progress: ((Soak.Progress) -> Void)?) {
        self.target = target
        self.seed = seed
        self.total = total
        self.report = report
        self.progress = progress
        rng = SoakRandom(seed: seed)
    }

    private var failed: Bool { report.failure != nil }
    private var elapsed: UInt64 { clock.now - start }

    // MARK: The run

    func go() -> SoakReport {
        start = clock.now
        guard powerOn() else { return finish() }
        openPin(choice: nil)
        var nextProgress: UInt64 = 0
        while !failed && elapsed < total {
            step += 1
            act()
            if failed { break }
            check()
            if failed { break }
            clock.advance(to: start + min(total, elapsed + span()))
            check()
            if let progress, step >= nextProgress {
                progress(Soak.Progress(streamNanoseconds: elapsed, totalNanoseconds: total, steps: step))
                nextProgress = step + 1000
            }
        }
        return finish()
    }

    /// A step's span of stream time: mostly 1–50 ms (positions between
    /// interrupts), often up to 2 s, sometimes up to 30 s (every ring wraps many times).
    private func span() -> UInt64 {
        switch rng.below(20) {
        case 0..<11: rng.within(1_000_000...50_000_000)
        case 11..<19: rng.within(50_000_000...2_000_000_000)
        default: rng.within(2_000_000_000...30_000_000_000)
        }
    }

    private func powerOn() -> Bool {
        do { memory = try PhysicalMemory(map: Soak.memoryMap) } catch {
            fail(.open, "cannot back the emulated memory: \(error)")
            return false
        }
        machine = Machine(timebase: clock, memory: memory, timerResolution: rng.oneIn(4) ? .high : .standard)
        do {
            adapter = try Adapter(kind: target.hardware, machine: machine, profile: target.dmaProfile)
        } catch {
            fail(.open, "the \(target.hardware.rawValue) hardware could not be set up: \(error)")
            return false
        }
        do { port = try WaveRTPort(miniport: target.make(), adapter: adapter) } catch {
            checkCrash()
            fail(.open, "the port could not initialise the miniport: \(error)")
            return false
        }
        pagesAfterInit = memory.liveMDLs.count
        // The formats the render pin's data ranges hold; NewStream may still refuse some (then they are dropped).
        let ranges = port.filter.pins.first?.ksPinDescriptor.dataRanges ?? []
        formats = StreamChoice.candidateFormats.filter { f in ranges.contains { $0.contains(KSDataFormat(f)) } }
        if formats.isEmpty { fail(.open, "the render pin (0) takes none of the \(StreamChoice.candidateFormats.count) formats the soak tries") }
        return !failed
    }

    private func finish() -> SoakReport {
        if let port {
            if open != nil { closePin() }
            if !failed || report.failure?.kind != .crash {
                let leaks = port.close()
                for leak in leaks { fail(.leak, "at unload: \(leak)") }
            }
            checkVerifier()
            adapter.shutdown()
            machine.shutdown()
        }
        report.streamNanoseconds = elapsed
        report.steps = step
        return report
    }

    // MARK: Actions

    private func act() {
        guard open != nil else { return openPin(choice: nil) }
        let r = rng.below(100)
        if r < 3 { return reopen() }
        guard r < 30 else { return }
        switch phase {
        case .idle(let state):
            if rng.below(5) < 3 {
                startClient()
            } else {
                let to = rng.pick([KSState.stop, .acquire, .pause].filter { $0 != state })
                ladder(to: to)
                phase = .idle(to)
            }
        case .running:
            if rng.below(5) < 3 { pause() } else { stop() }
        case .paused:
            switch rng.below(10) {
            case 0..<5: resume()
            case 5..<8: stop()
            default:
                // PAUSE → ACQUIRE → PAUSE: a ladder the audio engine does not make; the position must hold.
                ladder(to: .acquire)
                check()
                ladder(to: .pause)
            }
        }
    }

    private func ladder(to state: KSState) {
        guard let open else { return }
        report.stateRequests += 1
        let status = open.pin.setState(state)
        if !status.isSuccess { fail(.state, "KSPROPERTY_CONNECTION_STATE \(state) failed with \(status)") }
    }

    private func startClient() {
        guard var o = open else { return }
        report.stateRequests += 1
        do { try o.client.start() } catch {
            return fail(.state, "the client could not start the stream: \(error)")
        }
        // The client attaches itself to the clock; the late client stands in for it.
        clock.detach(o.client)
        runsSinceStop += 1
        o.late.restarted()
        o.late.stateChanged(running: true)
        if o.dma == nil { o.dma = findDMA(o) }
        o.late.dma = o.dma
        open = o
        phase = .running
    }

    private func pause() {
        guard let o = open else { return }
        report.stateRequests += 1
        let before = o.dma?.currentTiming()
        let status = o.client.pause()
        guard status.isSuccess else { return fail(.state, "PAUSE failed with \(status)") }
        if let before { o.late.pausing(runningTiming: before) }
        o.late.stateChanged(running: false)
        phase = .paused
    }

    private func resume() {
        guard let o = open else { return }
        report.stateRequests += 1
        let status = o.client.resume()
        guard status.isSuccess else { return fail(.state, "RUN (from PAUSE) failed with \(status)") }
        runsSinceStop += 1
        o.late.stateChanged(running: true)
        phase = .running
    }

    /// RUN or PAUSE → STOP, as the client stops; the glitches of the run are compared.
    private func stop() {
        if phase == .running { pause() }
        guard let o = open, !failed else { return }
        report.stateRequests += 1
        let status = o.client.stop()
        if !status.isSuccess { fail(.state, "STOP failed with \(status)") }
        o.late.stateChanged(running: false)
        runsSinceStop = 0
        phase = .idle(.stop)
        compareGlitches()
    }

    private func reopen() {
        closePin()
        guard !failed else { return }
        switch rng.below(4) {
        case 0, 1:
            memory.releaseFragmentation()
            memory.fragment(seed: rng.next(), occupancy: 0.2 + 0.795 * rng.fraction(), longestFreeRunPages: Int(rng.within(1...64)))
            fragmented = true
            report.fragmentations += 1
        case 2:
            memory.releaseFragmentation()
            fragmented = false
        default:
            break  // as it was
        }
        openPin(choice: nil)
    }

    // MARK: Opening and closing the pin

    /// Opens the pin with `choice` (a random one when nil). A format NewStream
    /// refuses is dropped from the candidates; a buffer the miniport cannot
    /// give on fragmented memory is a clean refusal, and the open is retried
    /// on unfragmented memory, where it must succeed.
    private func openPin(choice: StreamChoice?) {
        var tries = 0
        var wanted = choice
        while !failed {
            tries += 1
            guard !formats.isEmpty else { return fail(.open, "NewStream refused every format the pin's data ranges hold") }
            let c = wanted ?? StreamChoice.random(&rng, formats: formats, target: target)
            let pin: KSPin
            switch port.createPin(0, dataFormat: KSDataFormat(c.format)) {
            case .success(let p): pin = p
            case .failure(let status) where status == .noMatch || status == .notSupported || status == .invalidParameter:
                // NewStream's IsFormatSupported said no: a format its ranges describe too loosely.
                formats.removeAll { $0 == c.format }
                report.refusedOpens += 1
                wanted = nil
                continue
            case .failure(let status):
                checkCrash()
                return fail(.open, "KsCreatePin with \(c.format) failed with \(status)")
            }
            let client: AudioEngineClient
            do {
                client = try AudioEngineClient(port: port, pin: pin, mode: c.mode, requestedBytes: c.bufferFrames * c.format.blockAlign,
                                               notificationCount: c.notifications, source: SilenceGenerator())
            } catch {
                checkCrash()
                let teardown = pin.close()
                checkTeardown(teardown, what: "after a refused buffer")
                check()
                if failed { return }
                if fragmented && tries < 8 {
                    // Fragmented memory may not hold the buffer: a clean refusal; the same stream again on whole memory.
                    report.refusedOpens += 1
                    memory.releaseFragmentation()
                    fragmented = false
                    wanted = c
                    continue
                }
                return fail(.open, "the client could not open a buffer for \(c): \(error)")
            }
            let late = LateClient(client: client, clock: clock)
            configure(late, choice: c)
            clock.attach(late)
            open = Open(choice: c, pin: pin, client: client, late: late, windowStart: clock.now)
            phase = .idle(.stop)
            runsSinceStop = 0
            report.opens += 1
            report.formats.insert(c.format.description)
            return
        }
    }

    private func closePin() {
        guard let o = open else { return }
        if phase != .idle(.stop) && phase != .idle(.acquire) && phase != .idle(.pause) { stop() }
        o.client.close()
        clock.detach(o.late)
        compareGlitches()
        report.wakes += o.late.wakes
        report.lateWakes += o.late.lateWakes
        open = nil
        phase = .idle(.stop)
        let teardown = o.pin.close()
        checkTeardown(teardown, what: "closing the pin (\(o.choice))")
        let pages = memory.liveMDLs.count
        if pages != pagesAfterInit {
            fail(.leak, "\(pages - pagesAfterInit) MDL(s) still allocated after the pin closed (\(pagesAfterInit) after Init)")
        }
        check()
    }

    private func checkTeardown(_ teardown: PinTeardownReport, what: String) {
        for leak in teardown.leaks { fail(.leak, "\(what): \(leak)") }
        for failure in teardown.failures { fail(.leak, "\(what): \(failure)") }
    }

    /// The late client's choices and what it reports.
    ///
    /// Lateness past a whole packet makes notifications coalesce (a KEVENT
    /// does not count), and the client's count of fetched packets falls
    /// behind for good; it then writes from the position alone, which keeps
    /// it ahead only with two notifications a buffer and a FIFO under half a
    /// packet. Elsewhere (one notification a buffer, or a FIFO over half a
    /// packet) it would glitch every lap until STOP after one such wake: a
    /// limitation of the audio engine's client, not of the miniport, so there
    /// the client is never late by more than half a packet.
    private func configure(_ late: LateClient, choice: StreamChoice) {
        let client = late.client
        let fifo = Int((try? client.pin.hwLatency().get())?.fifoSize ?? 0)
        let fragile = client.notificationCount == 1 || (client.notificationCount > 0 && 2 * fifo > client.packetBytes)
        let packet = UInt64(client.packetBytes / client.format.blockAlign) * 1_000_000_000 / UInt64(client.format.sampleRate)
        late.pickLateness = { [unowned self] due, budget in
            let l = lateness(budget: budget, buffer: choice.bufferNanoseconds)
            return fragile ? min(l, packet / 2) : l
        }
        late.onTimeGlitch = { [unowned self] g in
            fail(.glitch, "\(g): the client was on time, but the device had fetched past what it wrote (\(choice))")
        }
        late.missedNotification = { [unowned self] waited in
            fail(.notification, "no notification in \(waited / 1000) µs of a running stream (the client's timeout; \(choice))")
        }
    }

    /// One wake in 40 is late: by just under, exactly, or just over what the
    /// buffer allows (to the nanosecond), by less, or by up to three buffers.
    private func lateness(budget: UInt64?, buffer: UInt64) -> UInt64 {
        guard rng.oneIn(40) else { return 0 }
        let any = rng.within(1...3 * max(1, buffer))
        guard let budget else { return any }
        switch rng.below(6) {
        case 0: return budget > 0 ? budget - 1 : 0
        case 1: return budget
        case 2: return budget + 1
        case 3: return rng.within(0...budget)
        case 4: return budget + rng.within(1...2 * max(1, buffer))
        default: return any
        }
    }

    /// The DMA engine whose program starts at the buffer's first byte.
    private func findDMA(_ o: Open) -> DMAStream? {
        guard let pages = o.pin.bufferPages else { return nil }
        let byte = pages.mdl.byteOffset + pages.offset
        let first = pages.mdl.physicalAddress(ofPage: byte / pages.mdl.pageSize).rawValue + UInt64(byte % pages.mdl.pageSize)
        return adapter.dmaStreams.first { s in
            s.direction == .render && s.program?.dma.physicalAddress(atCycleOffset: 0)?.address.rawValue == first
        }
    }

    // MARK: Checks

    private func check() {
        checkCrash()
        if failed { return }
        let livelocks = clock.livelockCount
        if livelocks > seenLivelocks {
            seenLivelocks = livelocks
            fail(.clock, "the virtual clock gave up on an instant: some work kept reporting itself due (livelock)")
        }
        checkVerifier()
        checkHardware()
        checkPosition()
        checkGlitchesSoFar()
    }

    private func checkCrash() {
        if let crash = target.crash() { fail(.crash, crash) }
    }

    private func checkVerifier() {
        guard let machine, machine.verifier.count > seenVerifier else { return }
        let all = machine.verifier.violations
        for v in all.dropFirst(Int(min(seenVerifier, UInt64(all.count)))) { fail(.verifier, v.description) }
        seenVerifier = machine.verifier.count
    }

    private func checkHardware() {
        let errors = adapter.guestErrors
        if errors != seenHardware {
            for e in errors where !seenHardware.contains(e) { fail(.hardware, e) }
            seenHardware = errors
        }
        let events = adapter.dmaFaults.reduce(0) { $0 + $1.events }
        if events > seenFaultEvents {
            seenFaultEvents = events
            fail(.dmaFault, adapter.dmaFaults.map(\.description).joined(separator: "; "))
        }
    }

    /// The reported position against the device's, at this instant.
    private func checkPosition() {
        guard var o = open else { return }
        report.positionChecks += 1
        let size = UInt64(o.client.buffer.actualSize)
        let format = o.choice.format
        let state = (try? o.pin.state().get()) ?? .stop
        guard case .success(let p) = o.pin.position() else { return fail(.position, "KSPROPERTY_AUDIO_POSITION failed in \(state)") }
        let reported = p.playOffset
        // From STOP until the next RUN the position is 0 (KSPROPERTY_AUDIO_POSITION); after RUN, the device's.
        var ranSinceStop = true
        if case .idle = phase { ranSinceStop = false }
        if o.dma == nil, ranSinceStop { o.dma = findDMA(o); o.late.dma = o.dma; open = o }
        var device: UInt64 = 0
        var lag: UInt64 = 0, lead: UInt64 = 0
        if ranSinceStop, let dma = o.dma {
            let t = dma.currentTiming()
            let now = clock.now
            if t.running, t.rate != UInt64(format.sampleRate) || t.blockAlign != UInt64(format.blockAlign) {
                fail(.rate, "the device runs at \(t.rate) Hz with \(t.blockAlign)-byte frames; the stream is \(format)")
            }
            switch target.position {
            case .link: device = DMAStream.linkBytes(t, at: now)
            case .fetch: device = dma.dmaBytes(t, at: now)
            case .clock(let granularity):
                // Steps of the granularity behind; ahead by what a clock keeps across STOP (SYSVAD's carried
                // remainder, under one step) and by the part of a frame the link drops at each PAUSE.
                device = DMAStream.linkBytes(t, at: now)
                let step = (granularity * UInt64(format.bytesPerSecond) + 999_999_999) / 1_000_000_000
                lag = step + UInt64(format.blockAlign)
                lead = step + (runsSinceStop + 1) * UInt64(format.blockAlign)
            }
        }
        let expected = device % size
        // How far the reported position is behind the device's, in (-size/2, size/2].
        let behind = (expected &+ size &- reported % size) % size
        let signed = behind > size / 2 ? -Int64(size - behind) : Int64(behind)
        let within = reported < size && signed <= Int64(lag) && -signed <= Int64(lead)
        if !within {
            let tolerance = lag == 0 && lead == 0 ? "" : " (allowed: \(lag) behind, \(lead) ahead)"
            return fail(.position, "in \(state) PlayOffset \(reported) of a \(size)-byte buffer; the device is at \(expected)"
                + " (\(device) bytes since STOP)\(tolerance) (\(o.choice))")
        }
        if let register = o.client.positionRegister, lag == 0, lead == 0 {
            let value = register.read() % size
            if value != expected { fail(.position, "in \(state) the position register reads \(value); the device is at \(expected) (\(o.choice))") }
        }
    }

    /// Glitches the monitor reported since the last comparison that no late wake explains, at once.
    private func checkGlitchesSoFar() {
        guard let o = open, let monitor = o.client.monitor, monitor.glitchCount > o.seenGlitches else { return }
        open?.seenGlitches = monitor.glitchCount
        let expected = o.late.expected.dropFirst(o.comparedExpected)
        for g in monitor.glitches where g.time >= o.windowStart && !expected.contains(where: { matches($0, g) }) {
            fail(.glitch, "the monitor reported \(g), which no late wake explains (\(o.choice))")
        }
    }

    /// After a stop: the monitor's glitches since the last comparison and the expected ones, one for one.
    private func compareGlitches() {
        guard var o = open, let monitor = o.client.monitor else { return }
        let reported = monitor.glitches.filter { $0.time >= o.windowStart }
        var expected = Array(o.late.expected.dropFirst(o.comparedExpected))
        report.expectedGlitches += UInt64(expected.count)
        report.reportedGlitches += UInt64(reported.count)
        for g in reported {
            if let i = expected.firstIndex(where: { matches($0, g) }) {
                expected.remove(at: i)
            } else {
                fail(.glitch, "the monitor reported \(g), which no late wake explains (\(o.choice))")
            }
        }
        for e in expected { fail(.glitch, "the client's lateness must have caused an \(e); the monitor reported none (\(o.choice))") }
        o.comparedExpected = o.late.expected.count
        o.windowStart = clock.now
        o.seenGlitches = monitor.glitchCount
        open = o
    }

    private func matches(_ e: LateClient.ExpectedGlitch, _ g: Glitch) -> Bool {
        g.kind == .underrun && g.frame == e.frame && (e.time.map { $0 == g.time } ?? (g.time <= e.foundAt))
    }

    // MARK: Failures and findings

    private func fail(_ kind: SoakReport.Finding.Kind, _ what: String) {
        let finding = SoakReport.Finding(kind: kind, step: step, time: clock.now - start, what: what)
        // A known-buggy miniport's findings are what it is for; a crash or a dead run still ends it.
        if target.knownBuggy && kind != .crash && kind != .clock && kind != .open && kind != .state {
            report.findingCounts[kind, default: 0] += 1
            if report.findingCounts[kind] == 1 { report.findings.append(finding) }
            return
        }
        if report.failure == nil { report.failure = finding }
    }
}
