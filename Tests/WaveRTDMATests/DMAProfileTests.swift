import FoundationEssentials
import Testing
import WaveRTDMA

@Suite struct DMAProfileTests {
    static let resources = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Resources/dma-profiles")

    @Test(arguments: DMAProfile.presets)
    func resourceFileMatchesThePreset(_ preset: DMAProfile) throws {
        let path = Self.resources.appendingPathComponent("\(preset.name).json").path
        #expect(try DMAProfile.load(path: path) == preset)
        #expect(try DMAProfile.named(preset.name) == preset)
    }

    @Test func customProfileFile() throws {
        let profile = try DMAProfile.named(Self.resources.appendingPathComponent("hda-64bit.json").path)
        #expect(profile.addressBits == 64 && profile.maxSegments == 256 && profile.name == "hda-64bit")
    }

    func decodeError(_ json: String) -> DMAProfileError? {
        do {
            _ = try DMAProfile.decode(Data(json.utf8), source: "test.json")
            return nil
        } catch {
            return error
        }
    }

    var valid: [String: String] {
        ["name": "\"x\"", "summary": "\"s\"", "addressBits": "32", "scatterGather": "true", "maxSegments": "8",
         "segmentAlignment": "4", "bufferAlignment": "4", "maxSegmentLength": "4096", "boundary": "0",
         "burstBytes": "32", "fifoFrames": "16"]
    }

    func json(_ fields: [String: String]) -> String {
        "{" + fields.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
    }

    @Test func missingFieldIsNamed() {
        var fields = valid
        fields["addressBits"] = nil
        #expect(decodeError(json(fields)) == .missingField(path: "test.json", field: "addressBits"))
        #expect(decodeError(json(valid)) == nil)
    }

    @Test func nonsenseFieldsAreNamed() {
        let cases: [(String, String, String)] = [
            ("addressBits", "99", "must be between 12 and 64"),
            ("segmentAlignment", "3", "must be a power of two"),
            ("maxSegments", "0", "must be at least 1"),
            ("boundary", "1000", "must be 0 (none) or a power of two"),
            ("burstBytes", "0", "must be a power of two"),
        ]
        for (field, value, rule) in cases {
            var fields = valid
            fields[field] = value
            #expect(decodeError(json(fields)) == .invalidField(profile: "x", field: field, value: value, rule: rule))
        }
        var contiguous = valid
        contiguous["scatterGather"] = "false"
        #expect(decodeError(json(contiguous))?.description.contains("maxSegments = 8 must be 1") == true)
    }

    @Test func wrongTypesAndBrokenJSON() {
        var fields = valid
        fields["addressBits"] = "\"thirty-two\""
        #expect(decodeError(json(fields)) == .wrongType(path: "test.json", field: "addressBits", expected: "a whole number"))
        fields = valid
        fields["scatterGather"] = "1"
        #expect(decodeError(json(fields)) == .wrongType(path: "test.json", field: "scatterGather", expected: "true or false"))
        if case .notJSON(let path, _) = decodeError("{ not json") { #expect(path == "test.json") } else { Issue.record("not JSON accepted") }
    }

    @Test func unknownNamesAndMissingFiles() {
        #expect(throws: DMAProfileError.unknownPreset("isa")) { try DMAProfile.named("isa") }
        do {
            _ = try DMAProfile.named("/nonexistent/profile.json")
            Issue.record("loaded a missing file")
        } catch {
            guard case .unreadable(let path, _) = error else { Issue.record("\(error)"); return }
            #expect(path == "/nonexistent/profile.json")
        }
    }
}

/// Found by `wavert fuzz dma-profile`: JSON whose top level is not an object
/// was refused as "field '' must be a whole number", naming no field.
@Suite struct DMAProfileTopLevelRegressionTests {
    @Test(arguments: ["[]", "7", "\"hda\"", "true", "[{\"name\": \"x\"}]"])
    func aTopLevelThatIsNotAnObjectIsRefusedAsNotAProfile(_ text: String) {
        #expect(throws: DMAProfileError.notJSON(path: "p.json", reason: "the top level must be an object of profile fields")) {
            try DMAProfile.decode(Data(text.utf8), source: "p.json")
        }
    }
}
