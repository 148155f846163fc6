import Foundation
import FoundationXML
import Testing
import WaveRTClient
import WaveRTExamples
import WaveRTTiming

/// The JSON report is a contract and the plot a picture: both checked as such.
@Suite struct ReportFormatTests {
    static func hda() throws -> TimingReport { try Examples.run("hda", scenario: TimingScenario(steps: TimingScenario.standardSteps(seconds: 1.5))) }

    static func object(_ report: TimingReport) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: report.jsonData()) as? [String: Any])
    }

    static func value(_ json: [String: Any], _ path: String) -> Any? {
        path.split(separator: ".").reduce(json as Any?) { ($0 as? [String: Any])?[String($1)] }
    }

    @Test func jsonHasTheContractKeys() throws {
        let json = try Self.object(Self.hda())
        for key in ["schema", "clock", "durationSeconds", "runSeconds", "sampleRate", "miniport",
                    "stream.bufferFrames", "stream.requestedBufferFrames", "stream.notificationCount", "stream.packetBytes",
                    "stream.fifoBytes", "stream.clientMode", "stream.dmaProfile", "stream.faithfulFaults", "stream.timerResolution",
                    "stream.hardware", "stream.steps",
                    "position.source", "position.rateErrorPpm", "position.biasMicroseconds", "position.jitterStdMicroseconds",
                    "position.jitterMaxMicroseconds", "position.monotonic", "position.maxOffsetBytes", "position.offsetsOutsideBuffer",
                    "position.stepFrames", "position.readings", "position.fittedReadings", "position.stopReadsZero", "position.pauseHolds",
                    "positionRegister.source", "positionRegister.rateErrorPpm", "positionRegister.declaredAccuracyBytes",
                    "notifications.count", "notifications.expected", "notifications.spurious", "notifications.missed",
                    "notifications.latencyMicroseconds.p50", "notifications.latencyMicroseconds.p99", "notifications.latencyMicroseconds.max",
                    "notifications.intervalNominalMicroseconds", "notifications.rateErrorPpm", "notifications.headroomMicroseconds",
                    "packets.count", "packets.maxLead", "glitches", "glitchEvents", "dmaFaults", "guestErrors", "verifier",
                    "limits.windows.rateErrorPpm", "limits.windows.jitterStdMicroseconds", "limits.windows.jitterMaxMicroseconds",
                    "limits.windows.biasMicroseconds", "limits.windows.notificationCountTolerance", "limits.strict.rateErrorPpm",
                    "limits.strict.jitterStdMicroseconds", "limits.strict.notificationLatencyMaxMicroseconds",
                    "checks", "pass", "passWindows", "failures", "warnings"]
        {
            #expect(Self.value(json, key) != nil, "missing \(key)")
        }
        #expect(Self.value(json, "schema") as? String == "wavert-timing/2")
        #expect(Self.value(json, "clock") as? String == "virtual")
        #expect(Self.value(json, "position.source") as? String == "audioPosition")
        #expect(Self.value(json, "positionRegister.source") as? String == "register")
        #expect(Self.value(json, "limits.windows.rateErrorPpm") as? Double == 10_000)
        #expect(Self.value(json, "timerBaseline") == nil)  // no host data on the virtual clock
        let checks = try #require(json["checks"] as? [[String: Any]])
        #expect(Set(checks.compactMap { $0["id"] as? String }).isSuperset(of: [
            "readings", "reads", "rate", "bias", "jitter-std", "jitter-max", "step", "monotonic", "position-in-buffer", "stop", "pause",
            "stall", "read-time", "notifications", "notification-latency", "packet-rate", "packet-track", "packet-stop", "glitches", "dma",
            "verifier"]))
        #expect(checks.allSatisfy { $0["models"] is String && $0["measured"] is String })
        // Sorted keys: "checks" before "clock", "clock" before "durationSeconds".
        let text = String(decoding: try Self.hda().jsonData(), as: UTF8.self)
        let c = try #require(text.range(of: "\"checks\"")), k = try #require(text.range(of: "\"clock\""))
        #expect(c.lowerBound < k.lowerBound)
    }

    /// `verifier: [{rule, ddi, irql, detail}]`, identical findings once with their count.
    @Test func verifierFindingsAreInTheReport() throws {
        let json = try Self.object(Examples.run("buggy-passive-in-dpc"))
        let verifier = try #require(json["verifier"] as? [[String: Any]])
        #expect(verifier.count == 1)
        let finding = try #require(verifier.first)
        #expect(finding["rule"] as? String == "IrqlTooHigh")
        #expect(finding["ddi"] as? String == "IPortWaveRTStream::GetPhysicalPagesCount")
        #expect(finding["irql"] as? String == "DISPATCH_LEVEL")
        #expect((finding["detail"] as? String)?.contains("PASSIVE_LEVEL") == true)
        #expect((finding["count"] as? Int ?? 0) > 100)
        #expect((json["failures"] as? [String])?.first?.hasPrefix("Driver Verifier") == true)
    }

    /// Elements whose `id` attribute is `id`.
    static func elements(_ doc: XMLDocument, id: String) throws -> [XMLNode] {
        try doc.nodes(forXPath: "//*[@id='\(id)']")
    }

    @Test func plotIsWellFormedSVGWithItsSeries() throws {
        let report = try Self.hda()
        let doc = try XMLDocument(data: Data(report.svg.utf8), options: [])
        let root = try #require(doc.rootElement())
        #expect(root.name == "svg")
        #expect(report.svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        for id in ["verdict", "position-error", "tolerance-band", "idle-spans", "glitch-markers", "latency-histogram"] {
            #expect(try Self.elements(doc, id: id).count == 1, "no #\(id)")
        }
        // One stroke per pixel column of readings, well over a hundred of them.
        let path = try #require(Self.elements(doc, id: "position-error").first as? XMLElement)
        // (FoundationXML's attribute(forName:) misses attributes of namespaced elements on Linux.)
        let d = try #require(path.attributes?.first { $0.name == "d" }?.stringValue)
        #expect(d.filter { $0 == "M" }.count > 100)
        // PAUSE and STOP shaded, labelled.
        let idle = try #require(Self.elements(doc, id: "idle-spans").first as? XMLElement)
        #expect(idle.elements(forName: "rect").count == 2)
        #expect(idle.elements(forName: "text").compactMap(\.stringValue) == ["PAUSE", "STOP"])
        let text = try doc.nodes(forXPath: "//*[local-name()='text']").compactMap(\.stringValue).joined(separator: "\n")
        for label in ["stream time (s)", "position error (µs)", "latency (µs, logarithmic)", "PASS"] {
            #expect(text.contains(label), "no label \(label)")
        }
        #expect(try Self.elements(doc, id: "baseline-histogram").isEmpty)  // virtual clock: no baseline
    }

    @Test func plotMarksGlitches() throws {
        var setup = Examples.setup("simple", notifications: 0)
        setup.mode = .timer(periodNanoseconds: 50_000_000)
        let report = try Examples.run("simple", setup, scenario: TimingScenario(steps: [.run(.milliseconds(500))]))
        let doc = try XMLDocument(data: Data(report.svg.utf8), options: [])
        let markers = try #require(Self.elements(doc, id: "glitch-markers").first as? XMLElement)
        #expect(report.glitches > 0 && markers.elements(forName: "path").count == report.glitches)
        #expect(try doc.nodes(forXPath: "//*[local-name()='text']").contains { $0.stringValue == "FAIL" })
    }

    @Test func tableIsPlainOnAPipeAndAlignedOnATerminal() throws {
        let report = try Self.hda()
        let plain = report.table(terminal: false)
        #expect(!plain.contains("\u{1B}"))
        #expect(plain.contains("PASS rate Sample-rate error: audio position 0.000 ppm; register 0.000 ppm"))
        #expect(plain.hasSuffix("result: PASS\n"))
        let terminal = report.table(terminal: true)
        #expect(terminal.contains("\u{1B}[32m✓"))
        #expect(terminal.split(separator: "\n").count == plain.split(separator: "\n").count + 1)  // plus a header row
    }
}
