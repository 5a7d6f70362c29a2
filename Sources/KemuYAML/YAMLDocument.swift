import KemuAPI
import Yams

/// YAML as Kubernetes reads it (sigs.k8s.io/yaml): one document converted to the JSON it stands for,
/// with YAML 1.1 scalars (`yes`/`no` are booleans, timestamps stay strings) and anchors expanded.
public enum YAMLDocument {
    public struct Failure: Error, Sendable {
        public let message: String
        /// 1-based line of the problem, when known.
        public let line: Int?
    }

    /// The JSON value of the (single) YAML document in `bytes`; an empty document is `null`.
    public static func decode(_ bytes: [UInt8]) throws(Failure) -> JSON {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Failure(message: "invalid UTF-8 in YAML", line: nil)
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw failure(e)
        } catch {
            throw Failure(message: "\(error)", line: nil)
        }
        guard let root else { return .null }
        var anchors: [String: JSON] = [:]
        return try convert(root, &anchors)
    }

    static func failure(_ e: YamlError) -> Failure {
        switch e {
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
            return Failure(message: "line \(mark.line): \(problem)", line: mark.line)
        default:
            return Failure(message: "\(e)", line: nil)
        }
    }

    static func convert(_ node: Node, _ anchors: inout [String: JSON]) throws(Failure) -> JSON {
        let value: JSON
        switch node {
        case .scalar(let s):
            value = try scalar(s, Tag.Name(rawValue: node.tag.rawValue))
        case .sequence(let seq):
            var items: [JSON] = []
            items.reserveCapacity(seq.count)
            for item in seq { items.append(try convert(item, &anchors)) }
            value = .array(items)
        case .mapping(let map):
            var o = JSONObject()
            for (k, v) in map {
                let key: String
                switch try convert(k, &anchors) {
                case .string(let s): key = s
                case .int(let n): key = String(n)
                case .bool(let b): key = String(b)
                case .double(let d): key = String(d)
                case .null: key = "null"
                default: throw Failure(message: "line \(k.mark?.line ?? 0): a mapping key must be a scalar", line: k.mark?.line)
                }
                o[key] = try convert(v, &anchors)
            }
            value = .object(o)
        case .alias(let a):
            guard let v = anchors[a.anchor.rawValue] else {
                throw Failure(message: "line \(a.mark?.line ?? 0): unknown anchor '\(a.anchor.rawValue)' referenced", line: a.mark?.line)
            }
            return v
        }
        if let anchor = node.anchor { anchors[anchor.rawValue] = value }
        return value
    }

    static func scalar(_ s: Node.Scalar, _ tag: Tag.Name) throws(Failure) -> JSON {
        let text = s.string
        switch tag {
        case .null: return .null
        case .bool: return .bool(["yes", "true", "on", "y"].contains(text.lowercased()))
        case .int:
            if let n = parseInt(text) { return .int(n) }
            if let d = Double(text.filter { $0 != "_" }) { return .double(d) }
            return .string(text)
        case .float:
            let t = text.filter { $0 != "_" }.lowercased()
            guard let d = Double(t), d.isFinite else {
                throw Failure(message: "line \(s.mark?.line ?? 0): \(text) cannot be represented in JSON", line: s.mark?.line)
            }
            return .double(d)
        default:
            return .string(text)
        }
    }

    /// YAML 1.1 integers: decimal, 0x hex, 0o / leading-0 octal, 0b binary, underscores allowed.
    static func parseInt(_ text: String) -> Int64? {
        var t = Substring(text.filter { $0 != "_" })
        var negative = false
        if t.hasPrefix("-") { negative = true; t = t.dropFirst() } else if t.hasPrefix("+") { t = t.dropFirst() }
        let magnitude: Int64?
        if t.hasPrefix("0x") { magnitude = Int64(t.dropFirst(2), radix: 16) }
        else if t.hasPrefix("0o") { magnitude = Int64(t.dropFirst(2), radix: 8) }
        else if t.hasPrefix("0b") { magnitude = Int64(t.dropFirst(2), radix: 2) }
        else if t.count > 1 && t.hasPrefix("0") { magnitude = Int64(t.dropFirst(), radix: 8) }
        else { magnitude = Int64(t) }
        return magnitude.map { negative ? -$0 : $0 }
    }
}
