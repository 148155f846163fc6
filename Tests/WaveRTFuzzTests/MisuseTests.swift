import Foundation
import Testing
import WaveRTTestSupport

/// The misuse table (docs/misuse-cases.md): each mistake performed for real,
/// its diagnostic checked for the rule, argument or register it must name.
/// `WAVERT_MISUSE_TABLE=PATH swift test --filter MisuseTests` writes the table
/// from the diagnostics of that run.
@Suite(.serialized, .apartFromRealTime) struct MisuseTests {
    /// Mistakes made on the command line: the built `wavert`, its stderr.
    static let commandLine: [(name: String, args: [String], expect: [String])] = [
        ("Unknown example name", ["play", "--example", "nope", "--device", "null", "--duration", "0.01"], ["no example named 'nope'"]),
        ("Bad --format (17-bit samples)", ["play", "--example", "hda", "--format", "48000:17:2", "--device", "null"], ["--format '48000:17:2'"]),
        ("Missing sound card", ["play", "--example", "hda", "--device", "hw:9", "--duration", "0.01"], ["cannot open ALSA PCM 'hw:9'"]),
        ("Negative duration", ["play", "--example", "hda", "--device", "null", "--duration=-1"], ["--duration"]),
        ("Unknown fuzz target", ["fuzz", "bogus", "--iterations", "1"], ["unknown fuzz target 'bogus'"]),
    ]

    static func wavert(_ args: [String]) throws -> String {
        let path = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("wavert").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // The first line that says what went wrong (not the usage lines after it).
        return text.split(separator: "\n").first { $0.contains("Error") || $0.contains("wavert:") }.map(String.init) ?? text
    }

    @Test func everyMisuseGetsADiagnosticNamingItsRule() throws {
        var rows: [(String, String, String)] = []
        for c in MisuseCases.all {
            let diagnostic = try c.run()
            for e in c.expect { #expect(diagnostic.contains(e), "\(c.name): \(diagnostic)") }
            rows.append((c.name, c.trigger, diagnostic))
        }
        for c in Self.commandLine {
            let diagnostic = try Self.wavert(c.args)
            for e in c.expect { #expect(diagnostic.contains(e), "\(c.name): \(diagnostic)") }
            rows.append((c.name, "`wavert " + c.args.joined(separator: " ") + "`", diagnostic))
        }
        #expect(rows.count >= 25)
        if let path = ProcessInfo.processInfo.environment["WAVERT_MISUSE_TABLE"] {
            func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
            var text = "| # | Case | How it is triggered | Diagnostic produced (from a real run) |\n|---|---|---|---|\n"
            for (i, r) in rows.enumerated() { text += "| \(i + 1) | \(cell(r.0)) | \(cell(r.1)) | \(cell(r.2)) |\n" }
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }
}
