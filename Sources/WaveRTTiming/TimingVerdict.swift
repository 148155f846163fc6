/// Judges a run's figures: one ``TimingCheck`` per figure or property, each
/// naming the Windows test or requirement it models (see the domain notes,
/// section 2), against the Windows limits and this project's.
struct TimingVerdict {
    var checks = CheckList()

    init(clock: TimingScenario.Clock, position p: PositionFigures, packets: PacketFigures?, notifications n: NotificationFigures,
         notificationCount: Int, generations: Int, glitches: Int, windows w: TimingLimits, strict s: TimingLimits)
    {
        let ks = "KS Position Test"
        checks.property("readings", "Readings after the settle", models: "\(ks) (100 readings after 100 ms)",
                        holds: p.fittedReadings >= 100, measured: "\(p.fittedReadings) (at least 100)", windows: true)
        checks.property("reads", "Position reads succeed", models: "IMiniportWaveRTStream::GetPosition",
                        holds: p.readFailures == 0, measured: "\(p.readFailures) failed of \(p.readings)", windows: true)
        checks.figure("rate", "Sample-rate error", models: "\(ks) <= 1 %; SamplePositionAccuracy skew",
                      value: p.rateErrorPpm, unit: "ppm", digits: 3, windows: w.rateErrorPpm, strict: s.rateErrorPpm, magnitude: true)
        if s.driftPpm != nil {
            checks.figure("drift", "Drift", models: "exact position arithmetic (QEMU HDA stalled at 14.5 h)",
                          value: p.driftPpm, unit: "ppm", digits: 3, windows: nil, strict: s.driftPpm, magnitude: true)
        }
        if s.positionErrorFrames != nil {
            checks.figure("exact", "Exact position",
                          models: "exact rational arithmetic (SYSVAD's integer milliseconds are not)",
                          value: p.errorFramesMax, unit: "frames", digits: 2, windows: nil, strict: s.positionErrorFrames)
        }
        checks.figure("bias", "Bias", models: "Device.Audio.Base.SamplePositionAccuracy |bias| <= 1 ms",
                      value: p.biasMicroseconds, unit: "µs", digits: 3, windows: w.biasMicroseconds, strict: s.biasMicroseconds,
                      magnitude: true)
        checks.figure("jitter-std", "Jitter std", models: "\(ks) <= 1 ms",
                      value: p.jitterStdMicroseconds, unit: "µs", digits: 3, windows: w.jitterStdMicroseconds, strict: s.jitterStdMicroseconds)
        checks.figure("jitter-max", "Jitter max", models: "\(ks) <= 4 ms",
                      value: p.jitterMaxMicroseconds, unit: "µs", digits: 3, windows: w.jitterMaxMicroseconds, strict: s.jitterMaxMicroseconds)
        checks.figure("step", "Position step", models: "\(ks) (1 ms granularity fails; one sample expected)",
                      value: p.stepFrames, unit: "frames", digits: 2, windows: nil, strict: s.positionStepFrames)
        checks.property("monotonic", "Monotonic", models: ks, holds: p.readings > 0 ? p.monotonic : nil,
                        measured: p.monotonic ? "monotonic" : "went backwards", windows: true)
        checks.property("wrap", "Wraps at the buffer end", models: ks, holds: p.readings > 0 ? p.wrapsCorrectly : nil,
                        measured: "\(p.wraps) wrap-arounds", windows: true)
        checks.property("stop", "STOP reads 0", models: "wavetest", holds: p.stopReadsZero,
                        measured: p.stopReadsZero.map { $0 ? "0" : "not 0" } ?? "no STOP in the scenario", windows: true)
        checks.property("pause", "PAUSE holds", models: "wavetest", holds: p.pauseHolds,
                        measured: p.pauseHolds.map { $0 ? "held" : "moved" } ?? "no PAUSE in the scenario", windows: true)
        checks.figure("stall", "RUN moves (longest stall)", models: "wavetest (moves at least every 50 ms)",
                      value: p.fittedReadings > 0 ? p.longestStallMilliseconds : nil, unit: "ms", digits: 3,
                      windows: w.runStallMilliseconds, strict: s.runStallMilliseconds)
        checks.figure("read-time", "Position read time", models: "\(ks) (warns at 20 ms)",
                      value: p.readLatencyMaxMicroseconds / 1e3, unit: "ms", digits: 3,
                      windows: w.readLatencyWarningMilliseconds, strict: s.readLatencyWarningMilliseconds, warningOnly: true)

        if notificationCount > 0 {
            checks.count("notifications", "Notifications", models: "IMiniportWaveRTStreamNotification: NotificationCount per buffer",
                         value: n.count, expected: n.expected, tolerance: s.notificationCountTolerance.map { $0 * max(1, generations) })
            if let limit = s.notificationIntervalErrorMicroseconds {
                checks.figure("interval", "Notification interval error", models: "exact deadlines (SYSVAD truncates 2.67 ms to 2 ms)",
                              value: n.intervalErrorMaxMicroseconds, unit: "µs", digits: 3, windows: nil, strict: limit)
            }
            checks.figure("notification-rate", "Notification rate error", models: "notifications at the packet rate (least squares)",
                          value: n.rateErrorPpm, unit: "ppm", digits: 3, windows: nil, strict: s.notificationRateErrorPpm,
                          magnitude: true)
            let latency = n.latencyMicroseconds
            if let limit = s.notificationLatencyP50Microseconds {
                checks.figure("latency-p50", "Notification latency p50", models: "engine wake-up against the machine's timer baseline",
                              value: latency?.p50, unit: "µs", digits: 3, windows: nil, strict: limit)
            }
            if let limit = s.notificationLatencyP99Microseconds {
                checks.figure("latency-p99", "Notification latency p99", models: "engine wake-up against the machine's timer baseline",
                              value: latency?.p99, unit: "µs", digits: 3, windows: nil, strict: limit)
            }
            if let limit = s.notificationLatencyMaxMicroseconds {
                checks.figure("latency-max", "Notification latency max", models: "exact deadlines on the virtual clock",
                              value: latency?.max, unit: "µs", digits: 3, windows: nil, strict: limit)
            }
        }
        if let packets {
            checks.figure("packet-rate", "Packet counter rate", models: "IMiniportWaveRTOutputStream::GetPacketCount",
                          value: packets.rateErrorPpm, unit: "ppm", digits: 3, windows: w.packetRateErrorPpm, strict: nil, magnitude: true)
            let lead = s.packetLeadTolerance ?? 1, lag = s.packetLagTolerance ?? 0
            checks.property("packet-track", "Packet counter tracks position",
                            models: "GetPacketCount counts packets the DMA has transferred",
                            holds: packets.maxLead <= lead && packets.maxLag <= lag,
                            measured: "\(packets.maxLead) ahead, \(packets.maxLag) behind (at most \(lead), \(lag))", windows: false)
            checks.property("packet-stop", "Packet counter 0 in STOP", models: "GetPacketCount: reset to 0 in STOP",
                            holds: packets.resetsOnStop, measured: packets.resetsOnStop.map { $0 ? "0" : "not 0" } ?? "no STOP",
                            windows: true)
        }
        checks.figure("glitches", "Glitches", models: "glitch-free playback", value: Double(glitches), unit: "glitches", digits: 0,
                      windows: Double(w.glitches ?? 0), strict: Double(s.glitches ?? 0))
    }

    var pass: Bool { !checks.checks.contains(where: \.failed) }
    var passWindows: Bool { !checks.checks.contains { $0.windows == .fail } }
}
