/// Where two byte sequences first differ, in words (nil when they are equal):
/// what byte-exact checks report instead of dumping both arrays.
public func firstDifference(_ got: [UInt8], _ expected: [UInt8]) -> String? {
    if let i = zip(got, expected).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
        return "byte \(i) of \(got.count) is \(got[i]), expected \(expected[i])"
    }
    return got.count == expected.count ? nil : "\(got.count) bytes, expected \(expected.count)"
}
