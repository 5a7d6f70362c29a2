import Synchronization

/// An insertion-ordered JSON object. Kubernetes objects have few keys per level, so a flat array with linear
/// lookup beats hashing and keeps the order for free. The keys live in a `JSONShape` shared by every object
/// with the same keys; the object itself holds its values only.
public struct JSONObject: Sendable, Equatable, Sequence {
    /// The keys, and for a stored version its memoized facts (any change drops them).
    private(set) var shape: JSONShape
    /// `values[i]` belongs to `shape.keys[i]`.
    public private(set) var values: [JSON]

    public init() { shape = .empty; values = [] }
    public init(_ pairs: [(String, JSON)]) {
        self.init()
        values.reserveCapacity(pairs.count)
        for (k, v) in pairs { self[k] = v }
    }

    public var count: Int { values.count }
    public var isEmpty: Bool { values.isEmpty }
    public var keys: [String] { shape.keys }
    /// How many values fit before the values storage grows.
    public var capacity: Int { values.capacity }

    public func index(of key: String) -> Int? { shape.index(of: key) }

    /// Setting `nil` removes the key; setting an existing key keeps its position.
    public subscript(key: String) -> JSON? {
        get {
            guard let i = shape.index(of: key) else { return nil }
            return values[i]
        }
        set {
            if let i = shape.index(of: key) {
                if let v = newValue {
                    values[i] = v
                    if shape.derived != nil { shape = shape.unmemoized }
                } else {
                    values.remove(at: i)
                    JSONShape.remove(at: i, from: &shape)
                }
            } else if let v = newValue {
                appendUnchecked(key, v)
            }
        }
    }

    /// Appends without checking for an existing key (parser fast path; caller guarantees uniqueness or accepts last-wins later).
    mutating func appendUnchecked(_ key: String, _ value: JSON) {
        values.append(value)
        JSONShape.append(key, to: &shape)
    }

    /// An object of these keys and values (as many of each; keys unique).
    init(keys: [String], values: [JSON]) {
        shape = JSONShape.of(keys)
        self.values = values
    }

    public mutating func reserveCapacity(_ n: Int) { values.reserveCapacity(n) }

    /// Drops the spare capacity an object built by appending keeps (up to half of it): for objects that are
    /// stored and live long, such as a pod's status.
    public mutating func shrinkToFit() {
        guard values.capacity > values.count else { return }
        // `Array(values)` would hand back the same storage; copy into an exactly sized one.
        let old = values
        values = .init(unsafeUninitializedCapacity: old.count) { buf, n in n = buf.initialize(fromContentsOf: old) }
    }

    public struct Iterator: IteratorProtocol {
        let keys: [String]
        let values: [JSON]
        var i = 0
        public mutating func next() -> (key: String, value: JSON)? {
            guard i < values.count else { return nil }
            defer { i += 1 }
            return (keys[i], values[i])
        }
    }

    public func makeIterator() -> Iterator { Iterator(keys: shape.keys, values: values) }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        guard a.count == b.count else { return false }
        // Copies of one value share their storage: unchanged parts of an updated object compare in O(1).
        if a.sharesStorage(with: b) { return true }
        // Key order does not matter for equality, as in Go's semantic comparison.
        if a.shape.unmemoized === b.shape.unmemoized { return a.values == b.values }
        for (k, v) in a {
            guard let other = b[k], other == v else { return false }
        }
        return true
    }

    /// Whether both are copies of one value (same values storage and keys).
    @inline(__always)
    func sharesStorage(with other: JSONObject) -> Bool {
        let sameValues = values.withUnsafeBufferPointer { a in
            other.values.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress }
        }
        return sameValues && shape.unmemoized === other.shape.unmemoized
    }

    /// Modifies a nested object in place, creating it if absent.
    public mutating func withObject<R>(_ key: String, _ body: (inout JSONObject) throws -> R) rethrows -> R {
        var inner = self[key]?.objectValue ?? JSONObject()
        let r = try body(&inner)
        self[key] = .object(inner)
        return r
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSON)...) { self.init(elements) }
}

// MARK: - Memoized facts of stored versions

extension JSONObject {
    /// The facts memoized with this value, if any.
    var derived: Derived? { shape.derived }

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
        static let shared = Mutex(InternTable<Key, Derived>(limit: 4096))

        static func make(labels: [String: String], specSelector: [String: String]?) -> Derived {
            if labels.isEmpty && specSelector == nil { return empty }
            return shared.withLock {
                $0.share(Key(labels: labels, specSelector: specSelector)) { Derived(labels: labels, specSelector: specSelector) }
            }
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
            shape = shape.memoizing(d)
            return d.labels
        }
        let d = Derived.make(labels: metadataMap("labels"), specSelector: computedSpecSelector)
        shape = shape.memoizing(d)
        return d.labels
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
}
