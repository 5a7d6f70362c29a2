/// Label selectors with apimachinery's grammar: `k=v`, `k==v`, `k!=v`, `k in (a,b)`,
/// `k notin (a)`, `k`, `!k`, `k>1`, `k<1`; requirements are ANDed.
public struct LabelSelector: Sendable, Equatable {
    public enum Operator: Sendable, Equatable { case equals, notEquals, isIn, notIn, exists, doesNotExist, greaterThan, lessThan }

    public struct Requirement: Sendable, Equatable {
        public var key: String
        public var op: Operator
        public var values: [String]

        public func matches(_ labels: [String: String]) -> Bool {
            let v = labels[key]
            switch op {
            case .equals, .isIn: return v.map { values.contains($0) } ?? false
            case .notEquals, .notIn: return v.map { !values.contains($0) } ?? true
            case .exists: return v != nil
            case .doesNotExist: return v == nil
            case .greaterThan, .lessThan:
                guard let v, let lv = Int64(v), let rv = values.first.flatMap({ Int64($0) }) else { return false }
                return op == .greaterThan ? lv > rv : lv < rv
            }
        }
    }

    public var requirements: [Requirement]
    public init(_ requirements: [Requirement] = []) { self.requirements = requirements }

    public static let everything = LabelSelector()
    public var isEmpty: Bool { requirements.isEmpty }

    public func matches(_ labels: [String: String]) -> Bool { requirements.allSatisfy { $0.matches(labels) } }

    /// Canonical string form (used by Tables and Scale.status.selector).
    public var description: String {
        requirements.map { r in
            switch r.op {
            case .equals: return "\(r.key)=\(r.values.first ?? "")"
            case .notEquals: return "\(r.key)!=\(r.values.first ?? "")"
            case .isIn: return "\(r.key) in (\(r.values.sorted().joined(separator: ",")))"
            case .notIn: return "\(r.key) notin (\(r.values.sorted().joined(separator: ",")))"
            case .exists: return r.key
            case .doesNotExist: return "!\(r.key)"
            case .greaterThan: return "\(r.key)>\(r.values.first ?? "")"
            case .lessThan: return "\(r.key)<\(r.values.first ?? "")"
            }
        }.joined(separator: ",")
    }

    public struct ParseError: Error, Sendable { public let message: String }

    enum Token: Equatable { case ident(String), not, eq, deq, neq, inOp, notinOp, open, close, comma, gt, lt, end }

    static func lex(_ s: String) throws(ParseError) -> [Token] {
        var out: [Token] = []
        let b = Array(s.utf8)
        var i = 0
        func isSpecial(_ c: UInt8) -> Bool { c == 0x21 || c == 0x3d || c == 0x28 || c == 0x29 || c == 0x2c || c == 0x3e || c == 0x3c }
        while i < b.count {
            let c = b[i]
            if c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d { i += 1; continue }
            switch c {
            case 0x21:
                if i + 1 < b.count, b[i + 1] == 0x3d { out.append(.neq); i += 2 } else { out.append(.not); i += 1 }
            case 0x3d:
                if i + 1 < b.count, b[i + 1] == 0x3d { out.append(.deq); i += 2 } else { out.append(.eq); i += 1 }
            case 0x28: out.append(.open); i += 1
            case 0x29: out.append(.close); i += 1
            case 0x2c: out.append(.comma); i += 1
            case 0x3e: out.append(.gt); i += 1
            case 0x3c: out.append(.lt); i += 1
            default:
                let start = i
                while i < b.count, !isSpecial(b[i]), !(b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0a || b[i] == 0x0d) { i += 1 }
                let word = String(decoding: b[start..<i], as: UTF8.self)
                if word == "in" { out.append(.inOp) } else if word == "notin" { out.append(.notinOp) } else { out.append(.ident(word)) }
            }
        }
        out.append(.end)
        return out
    }

    public static func parse(_ s: String) throws(ParseError) -> LabelSelector {
        let toks = try lex(s)
        var i = 0
        var reqs: [Requirement] = []
        if toks == [.end] { return LabelSelector() }
        func fail(_ m: String) -> ParseError { ParseError(message: "unable to parse requirement: \(m)") }
        while true {
            var negate = false
            if toks[i] == .not { negate = true; i += 1 }
            guard case .ident(let key) = toks[i] else { throw fail("found '\(describe(toks[i]))', expected: identifier") }
            let keyErrs = NameValidation.qualifiedName(key)
            if !keyErrs.isEmpty { throw ParseError(message: "unable to parse requirement: values[0][\(key)]: Invalid value: \"\(key)\": \(keyErrs.joined(separator: "; "))") }
            i += 1
            if negate {
                reqs.append(Requirement(key: key, op: .doesNotExist, values: []))
            } else {
                switch toks[i] {
                case .comma, .end:
                    reqs.append(Requirement(key: key, op: .exists, values: []))
                case .eq, .deq, .neq:
                    let op: Operator = toks[i] == .neq ? .notEquals : .equals
                    i += 1
                    var value = ""
                    if case .ident(let v) = toks[i] { value = v; i += 1 } else if toks[i] != .comma && toks[i] != .end {
                        throw fail("found '\(describe(toks[i]))', expected: identifier")
                    }
                    try checkValue(value)
                    reqs.append(Requirement(key: key, op: op, values: [value]))
                case .gt, .lt:
                    let op: Operator = toks[i] == .gt ? .greaterThan : .lessThan
                    i += 1
                    guard case .ident(let v) = toks[i], Int64(v) != nil else {
                        throw fail("for 'Gt', 'Lt' operators, the value must be an integer")
                    }
                    i += 1
                    reqs.append(Requirement(key: key, op: op, values: [v]))
                case .inOp, .notinOp:
                    let op: Operator = toks[i] == .inOp ? .isIn : .notIn
                    i += 1
                    guard toks[i] == .open else { throw fail("found '\(describe(toks[i]))', expected: '('") }
                    i += 1
                    var values: [String] = []
                    var expectValue = true
                    while true {
                        if toks[i] == .close {
                            if expectValue && !values.isEmpty { values.append("") }
                            i += 1; break
                        }
                        if toks[i] == .comma {
                            if expectValue { values.append("") }
                            expectValue = true; i += 1; continue
                        }
                        if case .ident(let v) = toks[i], expectValue {
                            try checkValue(v)
                            values.append(v); expectValue = false; i += 1; continue
                        }
                        throw fail("found '\(describe(toks[i]))', expected: ',', ')' or identifier")
                    }
                    if values.isEmpty { values = [""] }
                    reqs.append(Requirement(key: key, op: op, values: values))
                default:
                    throw fail("found '\(describe(toks[i]))', expected: in, notin, =, ==, !=, gt, lt")
                }
            }
            if toks[i] == .end { break }
            guard toks[i] == .comma else { throw fail("found '\(describe(toks[i]))', expected: ',' or 'end of string'") }
            i += 1
        }
        return LabelSelector(reqs)
    }

    static func checkValue(_ v: String) throws(ParseError) {
        let errs = NameValidation.labelValue(v)
        if !errs.isEmpty { throw ParseError(message: "unable to parse requirement: values[0]: Invalid value: \"\(v)\": \(errs.joined(separator: "; "))") }
    }

    static func describe(_ t: Token) -> String {
        switch t {
        case .ident(let s): return s
        case .not: return "!"
        case .eq: return "="
        case .deq: return "=="
        case .neq: return "!="
        case .inOp: return "in"
        case .notinOp: return "notin"
        case .open: return "("
        case .close: return ")"
        case .comma: return ","
        case .gt: return ">"
        case .lt: return "<"
        case .end: return ""
        }
    }

    /// Converts a metav1.LabelSelector object (`matchLabels`, `matchExpressions`).
    public static func from(json: JSON) -> LabelSelector? {
        guard case .object(let o) = json else { return nil }
        var reqs: [Requirement] = []
        if let ml = o["matchLabels"]?.objectValue {
            for (k, v) in ml.sorted(by: { $0.key < $1.key }) {
                reqs.append(Requirement(key: k, op: .equals, values: [v.stringValue ?? ""]))
            }
        }
        if let exprs = o["matchExpressions"]?.arrayValue {
            for e in exprs {
                let key = e["key"].stringValue ?? ""
                let values = e["values"].arrayValue?.compactMap(\.stringValue) ?? []
                switch e["operator"].stringValue ?? "" {
                case "In": reqs.append(Requirement(key: key, op: .isIn, values: values))
                case "NotIn": reqs.append(Requirement(key: key, op: .notIn, values: values))
                case "Exists": reqs.append(Requirement(key: key, op: .exists, values: []))
                case "DoesNotExist": reqs.append(Requirement(key: key, op: .doesNotExist, values: []))
                default: return nil
                }
            }
        }
        return LabelSelector(reqs)
    }
}
