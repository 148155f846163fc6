extension TimingReport {
    /// The position the client itself reads: the register when there is one.
    public var clientPosition: PositionFigures { positionRegister ?? position }

    /// "KSPROPERTY_AUDIO_POSITION and the position register", or the first alone.
    var positionSources: String {
        positionRegister == nil ? "KSPROPERTY_AUDIO_POSITION" : "KSPROPERTY_AUDIO_POSITION and the position register"
    }

    /// The verdict as text. `terminal`: an aligned table with coloured marks;
    /// otherwise plain lines, one per check (`PASS rate Sample-rate error: ...`),
    /// for a pipe or a log.
    public func table(terminal: Bool) -> String {
        var lines: [String] = []
        let head = "\(miniport ?? "miniport") on the \(clock.rawValue) clock: \(Format.fixed(durationSeconds, 3)) s of stream time, "
            + "\(sampleRate) Hz, \(stream.bufferFrames)-frame buffer, position from \(position.source)"
        lines.append(head)
        if let b = timerBaseline {
            lines.append("timer baseline: p50 \(Format.fixed(b.latencyMicroseconds.p50, 1)) µs, p99 \(Format.fixed(b.latencyMicroseconds.p99, 1)) µs, "
                + "max \(Format.fixed(b.latencyMicroseconds.max, 1)) µs over \(b.wakeups) wake-ups"
                + (b.fifoPriority.map { ", SCHED_FIFO \($0)" } ?? ", SCHED_OTHER"))
        }
        func mark(_ c: TimingCheck) -> String {
            let failed = c.failed
            let warned = c.windows == .warning || c.strict == .warning
            let idle = c.strict == .notExercised || (c.strict == nil && c.windows == .notExercised)
            let word = failed ? "FAIL" : warned ? "WARN" : idle ? "----" : "PASS"
            guard terminal else { return word }
            return failed ? "\u{1B}[31m✗\u{1B}[0m" : warned ? "\u{1B}[33m!\u{1B}[0m" : idle ? "–" : "\u{1B}[32m✓\u{1B}[0m"
        }
        if terminal {
            let rows = [["", "Check", "Measured", "Windows", "Strict"]]
                + checks.map { [mark($0), $0.title, $0.measured, $0.windowsLimit ?? "–", $0.strictLimit ?? "–"] }
            var widths = [Int](repeating: 0, count: 5)
            for r in rows { for (i, cell) in r.enumerated() where i > 0 { widths[i] = max(widths[i], cell.count) } }
            for (n, r) in rows.enumerated() {
                var line = "  " + (n == 0 ? " " : r[0])
                for i in 1..<5 { line += "  " + r[i] + String(repeating: " ", count: widths[i] - r[i].count) }
                lines.append(line)
            }
        } else {
            for c in checks {
                var limits: [String] = []
                if let w = c.windowsLimit { limits.append("Windows \(w)") }
                if let s = c.strictLimit { limits.append("strict \(s)") }
                lines.append("\(mark(c)) \(c.id) \(c.title): \(c.measured)" + (limits.isEmpty ? "" : " (\(limits.joined(separator: ", ")))"))
            }
        }
        for w in warnings { lines.append("warning: \(w)") }
        let verdict = pass ? "PASS" : passWindows ? "FAIL (passes the Windows figures; fails this project's stricter ones)" : "FAIL"
        lines.append(terminal ? (pass ? "\u{1B}[32m\(verdict)\u{1B}[0m" : "\u{1B}[31m\(verdict)\u{1B}[0m") : "result: \(verdict)")
        return lines.joined(separator: "\n") + "\n"
    }
}
