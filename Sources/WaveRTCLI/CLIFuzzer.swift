import ArgumentParser
import WaveRTFuzz

/// The command-line fuzzer (`wavert fuzz cli`): random argument vectors made
/// of the subcommands, the options each one's help lists, and values at the
/// edges (empty, negative, huge, NaN, wrong units, paths that do not exist),
/// parsed and validated as `wavert` would (`WaveRTCommand.parseAsRoot`), never
/// run. Checks: no crash, and each refusal is a non-empty message.
enum CLIFuzzer {
    static let name = "cli"
    static let subcommands = ["play", "record", "timing", "soak", "examples", "sdk", "fuzz", "help", "sdk build", "sdk new", "sdk check"]

    /// Every `--option` the tool's help mentions, per subcommand (harvested once).
    static let options: [String] = {
        var found = Set<String>()
        let types: [ParsableCommand.Type] = [WaveRTCommand.self, PlayCommand.self, RecordCommand.self, TimingCommand.self,
                                             SoakCommand.self, ExamplesCommand.self, SDKCommand.self, FuzzCommand.self]
        for t in types {
            let help = WaveRTCommand.helpMessage(for: t)
            var rest = Substring(help)
            while let r = rest.range(of: "--") {
                let name = rest[r.lowerBound...].prefix { $0 == "-" || $0.isLetter || $0.isNumber }
                if name.count > 2 { found.insert(String(name)) }
                rest = rest[r.upperBound...]
            }
        }
        return found.sorted()
    }()

    static let values = [
        "", "0", "-1", "1", "48000", "44100:16:2", "48000:24:8", "96000:32f:2", "8000:8:1", "0:16:2", "48000:16:0", "48000:17:2",
        "48000:16:99999", "abc", "nan", "inf", "-inf", "1e308", "9223372036854775808", "-9223372036854775809", "0.000001",
        "hda", "isa", "sg", "simple", "buggy-no-ioc", "nope", "pci32-sg", "pcie64-sg", "/nonexistent/x.json", "/dev/null",
        "/nonexistent/out.wav", "null", "hw:99", "default", "high", "scarce", "none", "--", "-", "=", "\u{0}", "é", "\n",
        String(repeating: "9", count: 400),
    ]

    static let iteration: FuzzTargets.Iteration = { random in
        var outcome = FuzzOutcome()
        var args: [String] = []
        if random.chance(7, in: 8) { args += random.pick(subcommands).split(separator: " ").map(String.init) }
        for _ in 0..<random.int(0...8) {
            switch random.int(0...5) {
            case 0...2:
                let option = random.pick(options)
                args.append(random.chance(1, in: 6) ? option + "=" + random.pick(values) : option)
                if random.chance(3, in: 4) { args.append(random.pick(values)) }
            case 3: args.append(random.pick(values))
            case 4: args.append(String(decoding: random.bytes(random.int(0...12)).map { $0 == 0 ? 0x41 : $0 }, as: UTF8.self))
            default: args.append(random.pick(["-h", "--help", "--version", "-o", "-x", "--", "---x"]))
            }
        }
        do {
            _ = try WaveRTCommand.parseAsRoot(args)
            outcome.count("parsed")
        } catch {
            let message = WaveRTCommand.fullMessage(for: error)
            let code = WaveRTCommand.exitCode(for: error)
            if code != .success && message.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                outcome.fail("\(args) was refused (exit \(code.rawValue)) with an empty message")
            }
            outcome.count(code == .success ? "help or version" : "refused")
        }
        return outcome
    }
}
