/// A few SVG primitives, enough for the report's plot: no dependency, and
/// deterministic output (coordinates to 0.1 px, fixed attribute order).
struct SVG {
    private(set) var body: [String] = []
    let width: Double
    let height: Double

    init(width: Double, height: Double) {
        self.width = width
        self.height = height
    }

    var document: String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(n(width))" height="\(n(height))" viewBox="0 0 \(n(width)) \(n(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
        \(body.joined(separator: "\n"))
        </svg>

        """
    }

    mutating func raw(_ s: String) { body.append(s) }

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: String, opacity: Double = 1,
                       stroke: String? = nil, id: String? = nil, rx: Double = 0)
    {
        body.append("<rect\(attr("id", id)) x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(max(0, w)))\" height=\"\(n(max(0, h)))\""
            + (rx > 0 ? " rx=\"\(n(rx))\"" : "") + " fill=\"\(fill)\"" + (opacity < 1 ? " fill-opacity=\"\(n(opacity))\"" : "")
            + (stroke.map { " stroke=\"\($0)\"" } ?? "") + "/>")
    }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1,
                       dash: String? = nil)
    {
        body.append("<line x1=\"\(n(x1))\" y1=\"\(n(y1))\" x2=\"\(n(x2))\" y2=\"\(n(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(n(width))\""
            + (dash.map { " stroke-dasharray=\"\($0)\"" } ?? "") + "/>")
    }

    mutating func path(_ d: String, stroke: String, width: Double = 1, fill: String = "none", id: String? = nil) {
        body.append("<path\(attr("id", id)) d=\"\(d)\" stroke=\"\(stroke)\" stroke-width=\"\(n(width))\" fill=\"\(fill)\"/>")
    }

    mutating func text(_ x: Double, _ y: Double, _ s: String, anchor: String = "start", size: Double = 12,
                       weight: String? = nil, fill: String = "#222", rotate: Bool = false)
    {
        let transform = rotate ? " transform=\"rotate(-90 \(n(x)) \(n(y)))\"" : ""
        body.append("<text x=\"\(n(x))\" y=\"\(n(y))\" text-anchor=\"\(anchor)\" font-size=\"\(n(size))\" fill=\"\(fill)\""
            + (weight.map { " font-weight=\"\($0)\"" } ?? "") + "\(transform)>\(Self.escape(s))</text>")
    }

    mutating func group(_ id: String, _ content: (inout SVG) -> Void) {
        body.append("<g id=\"\(id)\">")
        content(&self)
        body.append("</g>")
    }

    private func attr(_ name: String, _ value: String?) -> String {
        value.map { " \(name)=\"\(Self.escape($0))\"" } ?? ""
    }

    /// A coordinate to 0.1 px.
    func n(_ v: Double) -> String { Format.fixed(v, 1) }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}

/// Round tick positions for an axis.
enum Ticks {
    /// About `count` ticks from `low` to `high` at 1, 2 or 5 times a power of ten.
    static func nice(_ low: Double, _ high: Double, count: Int = 5) -> [Double] {
        guard high > low else { return [low] }
        let raw = (high - low) / Double(count)
        var power = 1.0
        while power * 10 <= raw { power *= 10 }
        while power > raw { power /= 10 }
        let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? power * 10
        var ticks: [Double] = []
        var t = (low / step).rounded(.up) * step
        while t <= high + step * 1e-9 {
            ticks.append(abs(t) < step * 1e-9 ? 0 : t)
            t += step
        }
        return ticks
    }

    /// A tick label with as many decimals as the step needs.
    static func label(_ v: Double, step: Double) -> String {
        var digits = 0
        var s = step
        while s < 1 && digits < 6 {
            s *= 10
            digits += 1
        }
        return Format.fixed(v, digits)
    }
}
