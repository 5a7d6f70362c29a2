/// Field selectors: comma-separated `field=value`, `field==value`, `field!=value`, ANDed.
/// Backslash escapes `\`, `,` and `=` in values.
public struct FieldSelector: Sendable, Equatable {
    public struct Requirement: Sendable, Equatable {
        public var field: String
        public var value: String
        public var negated: Bool
        public init(field: String, value: String, negated: Bool) { self.field = field; self.value = value; self.negated = negated }
    }

    public var requirements: [Requirement]
    public init(_ r: [Requirement] = []) { requirements = r }
    public var isEmpty: Bool { requirements.isEmpty }

    public struct ParseError: Error, Sendable { public let message: String }

    public static func parse(_ s: String) throws(ParseError) -> FieldSelector {
        if s.isEmpty { return FieldSelector() }
        var reqs: [Requirement] = []
        // Split on unescaped commas.
        var terms: [String] = []
        var cur = ""
        var escaped = false
        for ch in s {
            if escaped { cur.append("\\"); cur.append(ch); escaped = false; continue }
            if ch == "\\" { escaped = true; continue }
            if ch == "," { terms.append(cur); cur = ""; continue }
            cur.append(ch)
        }
        if escaped { throw ParseError(message: "invalid field selector: \(s): trailing backslash") }
        terms.append(cur)
        for term in terms {
            if term.isEmpty { continue }
            // Split at the earliest operator, as upstream does; `=` left in the value is an error below.
            let chars = Array(term)
            var split: (at: Int, len: Int, negated: Bool)? = nil
            for i in chars.indices {
                if chars[i] == "!", i + 1 < chars.count, chars[i + 1] == "=" { split = (i, 2, true); break }
                if chars[i] == "=" { split = (i, i + 1 < chars.count && chars[i + 1] == "=" ? 2 : 1, false); break }
            }
            guard let split else { throw ParseError(message: "invalid selector: '\(s)'; can't understand '\(term)'") }
            let field = String(chars[..<split.at])
            let rest = String(chars[(split.at + split.len)...])
            let negated = split.negated
            var value = ""
            var esc = false
            for ch in rest {
                if esc {
                    guard ch == "\\" || ch == "," || ch == "=" else {
                        throw ParseError(message: "invalid field selector: '\(s)': invalid escape sequence: \\\(ch)")
                    }
                    value.append(ch); esc = false; continue
                }
                if ch == "\\" { esc = true; continue }
                if ch == "=" { throw ParseError(message: "invalid field selector: '\(s)': unescaped '=' in value") }
                value.append(ch)
            }
            reqs.append(Requirement(field: field.trimmingWhitespace(), value: value, negated: negated))
        }
        return FieldSelector(reqs)
    }

    /// `fields` maps selectable field names to values for one object.
    public func matches(_ fields: (String) -> String?) -> Bool {
        for r in requirements {
            let v = fields(r.field) ?? ""
            if r.negated ? (v == r.value) : (v != r.value) { return false }
        }
        return true
    }

    /// The name an exact `metadata.name=` term pins, if any.
    public var exactName: String? {
        requirements.first { $0.field == "metadata.name" && !$0.negated }?.value
    }
}

extension StringProtocol {
    /// Drops leading and trailing spaces and tabs (what HTTP header parsing needs, without Foundation).
    public func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
