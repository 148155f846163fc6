import FoundationEssentials

/// Why a profile could not be had: an unknown name, an unreadable file, a
/// missing or nonsensical field. Each case names the file and the field.
public enum DMAProfileError: Error, Hashable, CustomStringConvertible {
    case unknownPreset(String)
    case unreadable(path: String, reason: String)
    case notJSON(path: String, reason: String)
    case missingField(path: String, field: String)
    case wrongType(path: String, field: String, expected: String)
    case invalidField(profile: String, field: String, value: String, rule: String)

    public var description: String {
        switch self {
        case .unknownPreset(let name):
            "no DMA profile named '\(name)' (presets: \(DMAProfile.presets.map(\.name).joined(separator: ", "))), and no such file"
        case .unreadable(let path, let reason): "cannot read DMA profile \(path): \(reason)"
        case .notJSON(let path, let reason): "DMA profile \(path) is not valid JSON: \(reason)"
        case .missingField(let path, let field): "DMA profile \(path) has no field '\(field)'"
        case .wrongType(let path, let field, let expected): "DMA profile \(path): field '\(field)' must be \(expected)"
        case .invalidField(let profile, let field, let value, let rule):
            "DMA profile \(profile): \(field) = \(value) \(rule)"
        }
    }
}

extension DMAProfile {
    /// A preset by name, or else a JSON profile file by path: what `--dma` accepts.
    public static func named(_ nameOrPath: String) throws(DMAProfileError) -> DMAProfile {
        if let preset = preset(named: nameOrPath) { return preset }
        guard nameOrPath.contains("/") || nameOrPath.hasSuffix(".json") else { throw .unknownPreset(nameOrPath) }
        return try load(path: nameOrPath)
    }

    /// Reads a profile from a JSON file (the format of `Resources/dma-profiles/*.json`).
    public static func load(path: String) throws(DMAProfileError) -> DMAProfile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadable(path: path, reason: "\(error)")
        }
        return try decode(data, source: path)
    }

    /// Decodes a profile from JSON, then validates it.
    public static func decode(_ data: Data, source: String = "<data>") throws(DMAProfileError) -> DMAProfile {
        let profile: DMAProfile
        do {
            profile = try JSONDecoder().decode(DMAProfile.self, from: data)
        } catch let error as DecodingError {
            switch error {
            case .keyNotFound(let key, _):
                throw .missingField(path: source, field: key.stringValue)
            case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
                let field = context.codingPath.map(\.stringValue).joined(separator: ".")
                // Not an object at the top (an array, a number, a string): there is no field to name.
                guard !field.isEmpty else { throw .notJSON(path: source, reason: "the top level must be an object of profile fields") }
                let expected = type == String.self ? "a string" : type == Bool.self ? "true or false" : "a whole number"
                throw .wrongType(path: source, field: field, expected: expected)
            case .dataCorrupted(let context):
                if let field = context.codingPath.last?.stringValue {
                    throw .wrongType(path: source, field: field, expected: "a whole number in range")
                }
                throw .notJSON(path: source, reason: context.debugDescription)
            @unknown default:
                throw .notJSON(path: source, reason: "\(error)")
            }
        } catch {
            throw .notJSON(path: source, reason: "\(error)")
        }
        try profile.validate()
        return profile
    }

    /// The profile as pretty-printed JSON with sorted keys (what the files hold).
    public func jsonData() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try! encoder.encode(self)
    }
}
