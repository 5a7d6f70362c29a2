import Synchronization

/// A JSON value that keeps object keys in the order they were written, so objects
/// round-trip the way clients sent them and the way kemu defaults them.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && abs(d) < 9.0e15: return Int64(d)
        default: return nil
        }
    }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var arrayValue: [JSON]? { if case .array(let a) = self { return a }; return nil }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }

    /// Member lookup on objects; `.null` otherwise.
    public subscript(key: String) -> JSON {
        if case .object(let o) = self { return o[key] ?? .null }
        return .null
    }

    /// Follows a path of object keys.
    public func at(_ path: [String]) -> JSON {
        var cur = self
        for k in path { cur = cur[k] }
        return cur
    }

    /// Go-style type name used in error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "bool"
        case .int, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) { self = .object(JSONObject(elements)) }
    public init(nilLiteral: ()) { self = .null }
}

/// An insertion-ordered JSON object. Kubernetes objects have few keys per level, so a
/// flat array with linear lookup beats hashing and keeps the order for free.
public struct JSONObject: Sendable, Equatable, Sequence {
    public private(set) var entries: [(key: String, value: JSON)] { didSet { derived = nil } }

    /// Facts computed once from a stored version (see `memoizeLabels`); any change drops them.
    private(set) var derived: Derived?

    final class Derived: Sendable {
        let labels: [String: String]
        let specSelector: [String: String]?
        init(labels: [String: String], specSelector: [String: String]?) {
            self.labels = labels; self.specSelector = specSelector
        }

        struct Key: Hashable {
            let labels: [String: String]
            let specSelector: [String: String]?
        }
        /// The pods of one ReplicaSet carry equal labels: one copy of the facts for all of them.
        static let shared = Mutex(InternTable<Key, Derived>(limit: 1024))

        static func make(labels: [String: String], specSelector: [String: String]?) -> Derived {
            if labels.isEmpty && specSelector == nil { return empty }
            let d = Derived(labels: labels, specSelector: specSelector)
            return shared.withLock { $0.share(Key(labels: labels, specSelector: specSelector), d) }
        }
        static let empty = Derived(labels: [:], specSelector: nil)
    }

    /// Computes `labels` and `specSelector` once and keeps them with this value, so that reading them on it
    /// (and on its unchanged copies) is a lookup. For objects that are read many times and no longer change
    /// (stored versions). Returns the labels.
    public mutating func memoizeLabels(like previous: JSONObject? = nil) -> [String: String] {
        if let d = derived { return d.labels }
        // The previous version's facts, when the parts they come from are the very same values (most
        // writes of an object leave its labels and selector alone): one copy for all its versions.
        if let previous, let d = previous.derived, Self.sameValue(labelsJSON, previous.labelsJSON),
           Self.sameValue(specSelectorJSON, previous.specSelectorJSON) {
            derived = d
            return d.labels
        }
        let d = Derived.make(labels: metadataMap("labels"), specSelector: computedSpecSelector)
        derived = d
        return d.labels
    }

    public init() { entries = [] }
    public init(_ pairs: [(String, JSON)]) {
        entries = []
        entries.reserveCapacity(pairs.count)
        for (k, v) in pairs { self[k] = v }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [String] { entries.map(\.key) }

    public func index(of key: String) -> Int? { entries.firstIndex { $0.key == key } }

    /// Setting `nil` removes the key; setting an existing key keeps its position.
    public subscript(key: String) -> JSON? {
        get {
            for e in entries where e.key == key { return e.value }
            return nil
        }
        set {
            if let i = index(of: key) {
                if let v = newValue { entries[i].value = v } else { entries.remove(at: i) }
            } else if let v = newValue {
                entries.append((key, v))
            }
        }
    }

    /// Appends without checking for an existing key (parser fast path; caller guarantees uniqueness or accepts last-wins later).
    mutating func appendUnchecked(_ key: String, _ value: JSON) { entries.append((key, value)) }

    public mutating func reserveCapacity(_ n: Int) { entries.reserveCapacity(n) }

    /// Drops the spare capacity an object built by appending keeps (up to half of it): for objects that are
    /// stored and live long, such as a pod's status.
    public mutating func shrinkToFit() {
        guard entries.capacity > entries.count else { return }
        // `Array(entries)` would hand back the same storage; copy into an exactly sized one.
        let old = entries
        entries = .init(unsafeUninitializedCapacity: old.count) { buf, n in n = buf.initialize(fromContentsOf: old) }
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSON)]> { entries.makeIterator() }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        guard a.entries.count == b.entries.count else { return false }
        // Copies of one value share their storage: unchanged parts of an updated object compare in O(1).
        if a.sharesStorage(with: b) { return true }
        // Key order does not matter for equality, as in Go's semantic comparison.
        for (k, v) in a.entries {
            guard let other = b[k], other == v else { return false }
        }
        return true
    }

    private var labelsJSON: JSON? { self["metadata"]?.objectValue?["labels"] }
    private var specSelectorJSON: JSON? { self["spec"]?.objectValue?["selector"] }

    /// Both absent, or copies of one object value.
    private static func sameValue(_ a: JSON?, _ b: JSON?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case (.object(let x)?, .object(let y)?): return x.sharesStorage(with: y)
        default: return false
        }
    }

    /// Whether both are copies of one value (same entries storage).
    @inline(__always)
    func sharesStorage(with other: JSONObject) -> Bool {
        entries.withUnsafeBufferPointer { a in other.entries.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress } }
    }

    /// Modifies a nested object in place, creating it if absent.
    public mutating func withObject<R>(_ key: String, _ body: (inout JSONObject) throws -> R) rethrows -> R {
        var inner = self[key]?.objectValue ?? JSONObject()
        let r = try body(&inner)
        self[key] = .object(inner)
        return r
    }
}

extension JSON {
    /// Numeric equality treats 1 and 1.0 alike, as Go's decoded interface{} values do.
    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)): return x == y
        default: return false
        }
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSON)...) { self.init(elements) }
}
