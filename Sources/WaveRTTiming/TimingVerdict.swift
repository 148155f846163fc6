/// Judges a run's figures: one ``TimingCheck`` per figure or property, each
/// naming the Windows test or requirement it models (see the domain notes,
/// section 2), against the Windows limits and this project's. Each check
/// looks at one thing, so a bug fails the check that names it: a wrong clock
/// the rate, a position that is not an offset in the buffer the
/// position-in-buffer check, missing interrupts the notification count, a DDI
/// called at the wrong IRQL the verifier.
///
/// Position figures are judged over every source the client can read (the
/// KSPROPERTY_AUDIO_POSITION and, when the stream has one, the position
/// register): the worst one decides, each one is shown.
struct TimingVerdict {
    struct Inputs {
        var clock: TimingScenario.Clock
        var sources: [(label: String, figures: PositionFigures)]
        var packets: PacketFigures?
        var notifications: NotificationFigures
        var notificationCount: Int
        var generations: Int
        var glitches: Int
        /// System clock: glitches that followed a host stall (not judged).
        var glitchesExcused: Int
        var dmaFaults: Int
        var guestErrors: [String]
        var verifier: [VerifierFinding]
    }

    var checks = CheckList()

    init(_ i: Inputs, windows w: TimingLimits, strict s: TimingLimits) {
        let ks = "KS Position Test"
        let p = i.sources
        func values(_ f: (PositionFigures) -> Double?) -> [(label: String, value: Double?)] { p.map { ($0.label, f($0.figures)) } }
        func each(_ f: (PositionFigures) -> String) -> String {
            p.count == 1 ? f(p[0].figures) : p.map { "\($0.label) \(f($0.figures))" }.joined(separator: "; ")
        }
        func all(_ f: (PositionFigures) -> Bool?) -> Bool? {
            let known = p.compactMap { f($0.figures) }
            return known.isEmpty ? nil : known.allSatisfy { $0 }
        }

        checks.property("readings", "Readings after the settle", models: "\(ks) (100 readings after 100 ms)",
                        holds: p.allSatisfy { $0.figures.fittedReadings >= 100 },
                        measured: each { "\($0.fittedReadings)" } + " (at least 100)", windows: true)
        checks.property("reads", "Position reads succeed", models: "KSPROPERTY_AUDIO_POSITION (IMiniportWaveRTStream::GetPosition)",
                        holds: p.allSatisfy { $0.figures.readFailures == 0 },
                        measured: each { "\($0.readFailures) failed of \($0.readings)" }, windows: true)
        // The rate: least squares and end to end, both the clock's.
        checks.figure("rate", "Sample-rate error", models: "\(ks) <= 1 % (least squares); SamplePositionAccuracy skew",
                      values: values(\.rateErrorPpm), unit: "ppm", digits: 3, windows: w.rateErrorPpm, strict: s.rateErrorPpm,
                      magnitude: true)
        checks.figure("bias", "Bias", models: "Device.Audio.Base.SamplePositionAccuracy |bias| <= 1 ms",
                      values: values(\.biasMicroseconds), unit: "µs", digits: 3, windows: w.biasMicroseconds, strict: s.biasMicroseconds,
                      magnitude: true)
        checks.figure("jitter-std", "Jitter std", models: "\(ks) <= 1 ms", values: values(\.jitterStdMicroseconds), unit: "µs",
                      digits: 3, windows: w.jitterStdMicroseconds, strict: s.jitterStdMicroseconds)
        checks.figure("jitter-max", "Jitter max", models: "\(ks) <= 4 ms", values: values(\.jitterMaxMicroseconds), unit: "µs",
                      digits: 3, windows: w.jitterMaxMicroseconds, strict: s.jitterMaxMicroseconds)
        checks.figure("step", "Position step", models: "\(ks) (1 ms granularity fails; one sample expected)",
                      values: values(\.stepFrames), unit: "frames", digits: 2, windows: nil, strict: s.positionStepFrames,
                      unmeasured: .notExercised)  // a position that never moved has no step: the stall check says so
        checks.property("monotonic", "Monotonic", models: ks, holds: all { $0.readings > 0 ? $0.monotonic : nil },
                        measured: each { $0.monotonic ? "monotonic" : "went backwards" }, windows: true)
        checks.property("position-in-buffer", "Position is an offset in the cyclic buffer",
                        models: "KSAUDIO_POSITION / KSRTAUDIO_HWREGISTER: byte offsets in the buffer, wrapping at its end",
                        holds: all { $0.readings > 0 ? $0.offsetsOutsideBuffer == 0 : nil },
                        measured: each { "largest \($0.maxOffsetBytes) bytes, \($0.offsetsOutsideBuffer) reads outside, \($0.wraps) wrap-arounds" },
                        windows: true)
        checks.property("stop", "STOP reads 0", models: "wavetest", holds: all(\.stopReadsZero),
                        measured: each { $0.stopReadsZero.map { $0 ? "0" : "not 0" } ?? "no STOP in the scenario" }, windows: true)
        checks.property("pause", "PAUSE holds", models: "wavetest", holds: all(\.pauseHolds),
                        measured: each { $0.pauseHolds.map { $0 ? "held" : "moved" } ?? "no PAUSE in the scenario" }, windows: true)
        checks.figure("stall", "RUN moves (longest stall)", models: "wavetest (moves at least every 50 ms)",
                      values: values { $0.fittedReadings > 0 ? $0.longestStallMilliseconds : nil }, unit: "ms", digits: 3,
                      windows: w.runStallMilliseconds, strict: s.runStallMilliseconds)
        checks.figure("read-time", "Position read time", models: "\(ks) (warns at 20 ms)",
                      values: values { $0.readLatencyMaxMicroseconds / 1e3 }, unit: "ms", digits: 3,
                      windows: w.readLatencyWarningMilliseconds, strict: s.readLatencyWarningMilliseconds, warningOnly: true)

        if i.notificationCount > 0 {
            let n = i.notifications
            func tolerance(_ l: TimingLimits) -> Int? {
                guard let perRun = l.notificationCountTolerance else { return nil }
                let fraction = l.notificationCountToleranceFraction ?? 0
                return perRun * max(1, i.generations) + Int((Double(n.expected) * fraction).rounded(.down))
            }
            var measured = "\(n.count)"
            if n.spurious > 0 { measured += ", \(n.spurious) with no new packet" }
            if n.missed > 0 { measured += ", \(n.missed) packets without one" }
            if n.timeouts > 0 { measured += ", \(n.timeouts) waits timed out" }
            checks.count("notifications", "Notifications, one per packet completed",
                         models: "IMiniportWaveRTStreamNotification: NotificationCount events per buffer, as each packet completes",
                         value: n.count, minimum: n.expectedMinimum, maximum: n.expected, windows: tolerance(w), strict: tolerance(s),
                         measured: measured)
            let latency = n.latencyMicroseconds
            let none: TimingCheck.Outcome = .notExercised  // no notification completed a packet: the count says why
            if s.notificationLatencyMaxMicroseconds != nil || w.notificationLatencyMaxMicroseconds != nil {
                checks.figure("notification-latency", "Notification latency max (after its packet boundary)",
                              models: "an event signalled as the packet completes (ISR -> DPC -> KeSetEvent)",
                              value: latency?.max, unit: "µs", digits: 3, windows: w.notificationLatencyMaxMicroseconds,
                              strict: s.notificationLatencyMaxMicroseconds, unmeasured: none)
            } else {
                checks.figure("notification-latency", "Notification latency p50 (after its packet boundary)",
                              models: "event wake-up against this machine's timer baseline",
                              value: latency?.p50, unit: "µs", digits: 3, windows: w.notificationLatencyP50Microseconds,
                              strict: s.notificationLatencyP50Microseconds, unmeasured: none)
                checks.figure("notification-latency-p99", "Notification latency p99 (after its packet boundary)",
                              models: "event wake-up against this machine's timer baseline",
                              value: latency?.p99, unit: "µs", digits: 3, windows: w.notificationLatencyP99Microseconds,
                              strict: s.notificationLatencyP99Microseconds, unmeasured: none)
            }
        }
        if let packets = i.packets {
            checks.figure("packet-rate", "Packet counter rate", models: "KSPROPERTY_RTAUDIO_PACKETCOUNT (GetPacketCount)",
                          value: packets.rateErrorPpm, unit: "ppm", digits: 3, windows: w.packetRateErrorPpm, strict: nil, magnitude: true)
            let lead = s.packetLeadTolerance ?? 1, lag = s.packetLagTolerance ?? 1
            checks.property("packet-track", "Packet counter tracks the position",
                            models: "GetPacketCount counts packets completely fetched: (position + FIFO) / packet",
                            holds: packets.maxLead <= lead && packets.maxLag <= lag,
                            measured: "\(packets.maxLead) ahead, \(packets.maxLag) behind (at most \(lead), \(lag))", windows: false)
            checks.property("packet-stop", "Packet counter 0 in STOP", models: "GetPacketCount: reset to 0 in STOP",
                            holds: packets.resetsOnStop, measured: packets.resetsOnStop.map { $0 ? "0" : "not 0" } ?? "no STOP",
                            windows: true)
        }
        if i.clock == .system {
            checks.figure("glitches", "Glitches not after a host stall",
                          models: "glitch-free playback (what the DMA moved against what the client wrote)",
                          value: Double(i.glitches - i.glitchesExcused), unit: "glitches", digits: 0, windows: Double(w.glitches ?? 0),
                          strict: Double(s.glitches ?? 0))
        } else {
            checks.figure("glitches", "Glitches", models: "glitch-free playback (what the DMA moved against what the client wrote)",
                          value: Double(i.glitches), unit: "glitches", digits: 0, windows: Double(w.glitches ?? 0),
                          strict: Double(s.glitches ?? 0))
        }
        checks.property("dma", "DMA programs and transfers",
                        models: "the DMA controller's rules (address limits, alignment, descriptor tables); faithful faults",
                        holds: i.dmaFaults == 0 && i.guestErrors.isEmpty,
                        measured: i.guestErrors.isEmpty && i.dmaFaults == 0 ? "clean"
                            : ((i.dmaFaults > 0 ? ["\(i.dmaFaults) transfers through faulty descriptors"] : []) + i.guestErrors)
                                .joined(separator: "; "),
                        windows: true)
        let findings = i.verifier.reduce(0) { $0 + $1.count }
        checks.property("verifier", "Driver Verifier", models: "Driver Verifier's audio rules (IRQL, locks, order, leaks)",
                        holds: i.verifier.isEmpty,
                        measured: i.verifier.isEmpty ? "no findings"
                            : "\(findings) findings: " + i.verifier.map { "\($0.rule) in \($0.ddi) at \($0.irql)" }.joined(separator: "; "),
                        windows: true)
    }

    var pass: Bool { !checks.checks.contains(where: \.failed) }
    var passWindows: Bool { !checks.checks.contains { $0.windows == .fail } }
}
