import Foundation
import FoundationXML
import Testing
import WaveRT
import WaveRTMemory
import WaveRTDMA
import WaveRTEngine
import WaveRTPort
import WaveRTExamples
import WaveRTTiming

/// The JSON report is a contract and the plot a picture: both checked as such.
@Suite struct ReportFormatTests {
    static func hda() throws -> TimingReport {
        try Examples.run("hda", .of(Examples.named("hda"), steps: TimingScenario.standardSteps(seconds: 1.5)))
    }

    @Test func virtualJSONIsByteIdenticalRunToRun() throws {
        let first = try Self.hda().jsonData()
        let second = try Self.hda().jsonData()
        #expect(first == second)
        let other = try Examples.run("simple", .of(Examples.named("simple"), steps: TimingScenario.standardSteps(seconds: 1.5)))
        #expect(other.jsonData() != first)
    }

    @Test func jsonHasTheContractKeys() throws {
        let json = try #require(JSONSerialization.jsonObject(with: Self.hda().jsonData()) as? [String: Any])
        func value(_ path: String) -> Any? {
            path.split(separator: ".").reduce(json as Any?) { ($0 as? [String: Any])?[String($1)] }
        }
        for key in ["clock", "durationSeconds", "sampleRate", "position.rateErrorPpm", "position.biasMicroseconds",
                    "position.jitterStdMicroseconds", "position.jitterMaxMicroseconds", "position.monotonic",
                    "notifications.count", "notifications.expected", "notifications.latencyMicroseconds.p50",
                    "notifications.latencyMicroseconds.p99", "notifications.latencyMicroseconds.max", "glitches", "pass",
                    "limits.windows.rateErrorPpm", "limits.windows.jitterStdMicroseconds", "limits.windows.jitterMaxMicroseconds",
                    "limits.windows.biasMicroseconds", "limits.strict.rateErrorPpm", "limits.strict.jitterStdMicroseconds", "checks"]
        {
            #expect(value(key) != nil, "missing \(key)")
        }
        #expect(value("clock") as? String == "virtual")
        #expect(value("sampleRate") as? Int == 48_000)
        #expect(value("limits.windows.rateErrorPpm") as? Double == 10_000)
        #expect(value("timerBaseline") == nil)  // no host data on the virtual clock
        // Sorted keys: "checks" comes before "clock", "clock" before "durationSeconds".
        let text = String(decoding: try Self.hda().jsonData(), as: UTF8.self)
        let checks = try #require(text.range(of: "\"checks\"")), clock = try #require(text.range(of: "\"clock\""))
        #expect(checks.lowerBound < clock.lowerBound)
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
        var scenario = TimingScenario.of(Examples.named("simple"), steps: [.run(.milliseconds(500))])
        scenario.clientMode = .timerDriven(period: 50_000_000, marginBytes: 4_096)
        let report = try Examples.run("simple", scenario)
        let doc = try XMLDocument(data: Data(report.svg.utf8), options: [])
        let markers = try #require(Self.elements(doc, id: "glitch-markers").first as? XMLElement)
        #expect(markers.elements(forName: "path").count == report.glitches)
        #expect(try doc.nodes(forXPath: "//*[local-name()='text']").contains { $0.stringValue == "FAIL" })
    }

    @Test func tableIsPlainOnAPipeAndAlignedOnATerminal() throws {
        let report = try Self.hda()
        let plain = report.table(terminal: false)
        #expect(!plain.contains("\u{1B}"))
        #expect(plain.contains("PASS rate Sample-rate error: 0.000 ppm"))
        #expect(plain.hasSuffix("result: PASS\n"))
        let terminal = report.table(terminal: true)
        #expect(terminal.contains("\u{1B}[32m✓"))
        #expect(terminal.split(separator: "\n").count == plain.split(separator: "\n").count + 1)  // plus a header row
    }
}
