/// What one series holds at scrape time.
public enum SampleValue: Sendable, Equatable {
    case scalar(Double)
    /// Upper bounds, per-bucket counts (not cumulative, one more than `bounds`: +Inf last) and the sum.
    case histogram(bounds: [Double], counts: [UInt64], sum: Double)

    /// Two shards of one series added up.
    static func + (a: SampleValue, b: SampleValue) -> SampleValue {
        switch (a, b) {
        case (.scalar(let x), .scalar(let y)):
            return .scalar(x + y)
        case (.histogram(let bounds, let c1, let s1), .histogram(_, let c2, let s2)):
            return .histogram(bounds: bounds, counts: zip(c1, c2).map { $0 + $1 }, sum: s1 + s2)
        default:
            preconditionFailure("adding samples of different types")
        }
    }
}

public struct Sample: Sendable, Equatable {
    /// Label values, in the order of the family's label names.
    public var labels: [String]
    public var value: SampleValue
    public init(labels: [String], value: SampleValue) { self.labels = labels; self.value = value }
}

/// One metric family as a scrape sees it; the server adds families it computes at scrape time (object counts).
public struct FamilySnapshot: Sendable {
    public var name: String
    public var help: String
    public var type: MetricType
    public var labelNames: [String]
    public var samples: [Sample]

    public init(name: String, help: String, type: MetricType, labelNames: [String], samples: [Sample]) {
        self.name = name; self.help = help; self.type = type; self.labelNames = labelNames; self.samples = samples
    }
}

/// The Prometheus text format, version 0.0.4, laid out as Go's client (and so kube-apiserver) writes it:
/// families sorted by name, labels by name, series by label values, numbers as Go's `%g` shortest form.
public enum Exposition {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ families: [FamilySnapshot]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 * 1024)
        for f in families.sorted(by: { $0.name < $1.name }) where !f.samples.isEmpty {
            render(f, into: &out)
        }
        return out
    }

    static func render(_ f: FamilySnapshot, into out: inout [UInt8]) {
        append(&out, "# HELP ", f.name, " ", escapeHelp(f.help), "\n# TYPE ", f.name, " ", f.type.rawValue, "\n")
        let order = f.labelNames.indices.sorted { f.labelNames[$0] < f.labelNames[$1] }
        let rows = f.samples.map { s in (values: order.map { s.labels[$0] }, value: s.value) }
            .sorted { $0.values.lexicographicallyPrecedes($1.values) }
        let names = order.map { f.labelNames[$0] }
        for row in rows {
            let labels = zip(names, row.values).map { "\($0)=\"\(escapeLabelValue($1))\"" }
            switch row.value {
            case .scalar(let v):
                line(&out, f.name, labels, v)
            case .histogram(let bounds, let counts, let sum):
                var cumulative: UInt64 = 0
                for (i, b) in bounds.enumerated() {
                    cumulative += counts[i]
                    line(&out, f.name + "_bucket", labels + ["le=\"\(format(b))\""], Double(cumulative))
                }
                cumulative += counts.last ?? 0
                line(&out, f.name + "_bucket", labels + ["le=\"+Inf\""], Double(cumulative))
                line(&out, f.name + "_sum", labels, sum)
                line(&out, f.name + "_count", labels, Double(cumulative))
            }
        }
    }

    static func line(_ out: inout [UInt8], _ name: String, _ labels: [String], _ v: Double) {
        out.append(contentsOf: name.utf8)
        if !labels.isEmpty {
            out.append(UInt8(ascii: "{"))
            out.append(contentsOf: labels.joined(separator: ",").utf8)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: format(v).utf8)
        out.append(UInt8(ascii: "\n"))
    }

    static func append(_ out: inout [UInt8], _ parts: String...) {
        for p in parts { out.append(contentsOf: p.utf8) }
    }

    /// Label values escape backslash, double quote and line feed.
    public static func escapeLabelValue(_ s: String) -> String { escape(s, quotes: true) }

    /// HELP text escapes backslash and line feed.
    public static func escapeHelp(_ s: String) -> String { escape(s, quotes: false) }

    static func escape(_ s: String, quotes: Bool) -> String {
        guard s.utf8.contains(where: { $0 == 0x5C || $0 == 0x0A || (quotes && $0 == 0x22) }) else { return s }
        var r = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            case "\"" where quotes: r += "\\\""
            default: r.unicodeScalars.append(ch)
            }
        }
        return r
    }

    /// A number as Go's `strconv.FormatFloat(v, 'g', -1, 64)` writes it: the shortest digits that read back
    /// exactly, in exponent form when the decimal exponent is below -4 or at least 6 (`1e+06`, `1e-08`).
    public static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == 0 { return v.sign == .minus ? "-0" : "0" }
        if v == v.rounded(.towardZero), abs(v) < 1e6 { return String(Int64(v)) }
        let (digits, point) = shortestDigits(abs(v))
        let sign = v < 0 ? "-" : ""
        let exp = point - 1
        if exp < -4 || exp >= 6 {
            var m = String(digits.first!)
            if digits.count > 1 { m += "." + digits.dropFirst() }
            let e = abs(exp) < 10 ? "0\(abs(exp))" : "\(abs(exp))"
            return sign + m + "e" + (exp < 0 ? "-" : "+") + e
        }
        if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + digits }
        if point >= digits.count { return sign + digits + String(repeating: "0", count: point - digits.count) }
        let cut = digits.index(digits.startIndex, offsetBy: point)
        return sign + digits[..<cut] + "." + digits[cut...]
    }

    /// The shortest round-trip decimal digits of a positive finite `v` (no leading or trailing zeros) and the
    /// position of the decimal point: v = 0.DIGITS × 10^point. Swift's description already is shortest.
    static func shortestDigits(_ v: Double) -> (String, Int) {
        let text = v.description
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = parts.first.map(String.init) ?? ""
        let fracPart = parts.count > 1 ? String(parts[1]) : ""
        var digits = Substring(intPart + fracPart)
        var point = intPart.count + exponent
        while digits.first == "0" {
            digits = digits.dropFirst()
            point -= 1
        }
        while digits.last == "0" { digits = digits.dropLast() }
        return (digits.isEmpty ? "0" : String(digits), point)
    }
}
