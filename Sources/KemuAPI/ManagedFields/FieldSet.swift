/// structured-merge-diff's `fieldpath` model, as the field manager stores it in `FieldsV1`.
///
/// A path element selects a child: `f:<name>` a field of a struct or a key of a map,
/// `k:{…}` an item of a `map` list by its key fields (sorted by name), `v:<json>` an item of a
/// `set` list by value, `i:<n>` an item by index (only read, never produced by Update).
struct PathElement: Sendable {
    enum Kind: UInt8, Sendable { case field = 0, key = 1, value = 2, index = 3 }

    let kind: Kind
    /// The serialised form, e.g. `f:spec` or `k:{"port":80,"protocol":"TCP"}`; unique per element.
    let text: String
    /// Field name (`.field`).
    let name: String
    /// Key fields sorted by name (`.key`).
    let keyFields: [(String, JSON)]
    /// Item value (`.value`).
    let value: JSON
    /// Item index (`.index`).
    let index: Int

    private init(kind: Kind, text: String, name: String = "", keyFields: [(String, JSON)] = [],
                 value: JSON = .null, index: Int = 0) {
        self.kind = kind
        self.text = text
        self.name = name
        self.keyFields = keyFields
        self.value = value
        self.index = index
    }

    static func field(_ name: String) -> PathElement {
        PathElement(kind: .field, text: "f:" + name, name: name)
    }

    /// Key fields in any order; they are sorted by name as upstream's `FieldList.Sort` does.
    static func key(_ fields: [(String, JSON)]) -> PathElement {
        var sorted = fields
        if sorted.count > 1 {
            sorted = sorted.enumerated().sorted { a, b in
                let c = compareBytes(a.element.0, b.element.0)
                return c != 0 ? c < 0 : a.offset < b.offset
            }.map(\.element)
        }
        var bytes: [UInt8] = Array("k:{".utf8)
        for (i, (name, value)) in sorted.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONWriter.writeString(name, into: &bytes)
            bytes.append(UInt8(ascii: ":"))
            JSONWriter.write(value, into: &bytes)
        }
        bytes.append(UInt8(ascii: "}"))
        return PathElement(kind: .key, text: String(decoding: bytes, as: UTF8.self), keyFields: sorted)
    }

    static func value(_ v: JSON) -> PathElement {
        PathElement(kind: .value, text: "v:" + JSONWriter.string(v), value: v)
    }

    static func index(_ i: Int) -> PathElement {
        PathElement(kind: .index, text: "i:" + String(i), index: i)
    }

    /// Parses a serialised element. `nil` for an unknown element type (upstream drops those);
    /// throws for a malformed one.
    static func parse(_ s: String) throws(ManagedFieldsError) -> PathElement? {
        let u = Array(s.utf8)
        guard u.count >= 2 else { throw ManagedFieldsError("key must be 2 characters long: \(s)") }
        guard u[1] == UInt8(ascii: ":") else { throw ManagedFieldsError("missing colon: \(s)") }
        let rest = String(decoding: u[2...], as: UTF8.self)
        switch u[0] {
        case UInt8(ascii: "f"):
            return .field(rest)
        case UInt8(ascii: "v"):
            guard let v = try? JSONParser.parse(Array(u[2...])) else { throw ManagedFieldsError("invalid value: \(s)") }
            return .value(v)
        case UInt8(ascii: "k"):
            guard let v = try? JSONParser.parse(Array(u[2...])) else { throw ManagedFieldsError("invalid key: \(s)") }
            switch v {
            case .object(let o): return .key(o.map { ($0.key, $0.value) })
            case .null: return .key([])
            default: throw ManagedFieldsError("expected object: \(s)")
            }
        case UInt8(ascii: "i"):
            guard let i = Int(rest) else { throw ManagedFieldsError("invalid index: \(s)") }
            return .index(i)
        default:
            return nil
        }
    }

    /// Upstream's `PathElement.Compare`: fields < keys < values < indexes, then by content.
    static func compare(_ a: PathElement, _ b: PathElement) -> Int {
        if a.kind != b.kind { return a.kind.rawValue < b.kind.rawValue ? -1 : 1 }
        switch a.kind {
        case .field: return compareBytes(a.name, b.name)
        case .key: return compareFieldLists(a.keyFields, b.keyFields)
        case .value: return compareValues(a.value, b.value)
        case .index: return a.index < b.index ? -1 : (a.index == b.index ? 0 : 1)
        }
    }
}

/// Go's `strings.Compare`: byte-wise over UTF-8.
@inline(__always)
func compareBytes(_ a: String, _ b: String) -> Int {
    if a == b { return 0 }
    return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1
}

/// structured-merge-diff's `FieldList.Compare`: item by item (name, then value); shorter first.
func compareFieldLists(_ a: [(String, JSON)], _ b: [(String, JSON)]) -> Int {
    var i = 0
    while true {
        if i >= a.count && i >= b.count { return 0 }
        if i >= a.count { return -1 }
        if i >= b.count { return 1 }
        let c = compareBytes(a[i].0, b[i].0)
        if c != 0 { return c }
        let v = compareValues(a[i].1, b[i].1)
        if v != 0 { return v }
        i += 1
    }
}

/// structured-merge-diff's `value.Compare` total order: numbers (ints and floats compared
/// numerically, floats first on ties of kind) < strings < bools < lists < maps < null.
func compareValues(_ a: JSON, _ b: JSON) -> Int {
    func rank(_ v: JSON) -> Int {
        switch v {
        case .double: return 0
        case .int: return 1
        case .string: return 2
        case .bool: return 3
        case .array: return 4
        case .object: return 5
        case .null: return 6
        }
    }
    func cmp<T: Comparable>(_ x: T, _ y: T) -> Int { x < y ? -1 : (x == y ? 0 : 1) }
    switch (a, b) {
    case (.double(let x), .double(let y)): return cmp(x, y)
    case (.double(let x), .int(let y)): return cmp(x, Double(y))
    case (.int(let x), .double(let y)): return cmp(Double(x), y)
    case (.int(let x), .int(let y)): return cmp(x, y)
    case (.string(let x), .string(let y)): return compareBytes(x, y)
    case (.bool(let x), .bool(let y)): return x == y ? 0 : (x ? 1 : -1)
    case (.array(let x), .array(let y)):
        for i in 0..<min(x.count, y.count) {
            let c = compareValues(x[i], y[i])
            if c != 0 { return c }
        }
        return cmp(x.count, y.count)
    case (.object(let x), .object(let y)):
        let xs = x.sorted { compareBytes($0.key, $1.key) < 0 }
        let ys = y.sorted { compareBytes($0.key, $1.key) < 0 }
        return compareFieldLists(xs.map { ($0.key, $0.value) }, ys.map { ($0.key, $0.value) })
    case (.null, .null): return 0
    default: return cmp(rank(a), rank(b))
    }
}

struct ManagedFieldsError: Error, Sendable, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// A set of field paths (structured-merge-diff's `fieldpath.Set`), as a tree: a node is a
/// member when the path leading to it is in the set, and has children for longer paths.
struct FieldSet: Sendable, Equatable {
    struct Child: Sendable, Equatable {
        var pe: PathElement
        var set: FieldSet
        static func == (a: Child, b: Child) -> Bool { a.pe.text == b.pe.text && a.set == b.set }
    }

    /// The path leading here is itself in the set (never set on the root).
    var member = false
    /// Children by the serialised path element.
    var children: [String: Child] = [:]

    init() {}

    /// A set holding exactly the given paths of field names.
    init(fieldPaths: [[String]]) {
        for p in fieldPaths { insert(p.map { PathElement.field($0) }[...]) }
    }

    var isEmpty: Bool { !member && children.isEmpty }

    /// Adds one path; the empty path (the whole object) is not tracked, as upstream.
    mutating func insert(_ path: ArraySlice<PathElement>) {
        guard let first = path.first else { return }
        if path.count == 1 {
            children[first.text, default: Child(pe: first, set: FieldSet())].set.member = true
        } else {
            children[first.text, default: Child(pe: first, set: FieldSet())].set.insert(path.dropFirst())
        }
    }

    static func union(_ a: FieldSet, _ b: FieldSet) -> FieldSet {
        if b.isEmpty { return a }
        if a.isEmpty { return b }
        var out = a
        out.member = a.member || b.member
        for (k, c) in b.children {
            if let existing = out.children[k] {
                out.children[k] = Child(pe: existing.pe, set: union(existing.set, c.set))
            } else {
                out.children[k] = c
            }
        }
        return out
    }

    /// Paths of `a` that are not in `b` (exact paths, as `Set.Difference`).
    static func difference(_ a: FieldSet, _ b: FieldSet) -> FieldSet {
        if a.isEmpty || b.isEmpty { return a }
        var out = FieldSet()
        out.member = a.member && !b.member
        for (k, c) in a.children {
            if let other = b.children[k] {
                let d = difference(c.set, other.set)
                if !d.isEmpty { out.children[k] = Child(pe: c.pe, set: d) }
            } else {
                out.children[k] = c
            }
        }
        return out
    }

    /// Paths of `a` that neither are in `b` nor have a prefix in `b` (`Set.RecursiveDifference`).
    static func recursiveDifference(_ a: FieldSet, _ b: FieldSet) -> FieldSet {
        if a.isEmpty || b.isEmpty { return a }
        var out = FieldSet()
        out.member = a.member && !b.member
        for (k, c) in a.children {
            if let other = b.children[k] {
                if other.set.member { continue }
                let d = recursiveDifference(c.set, other.set)
                if !d.isEmpty { out.children[k] = Child(pe: c.pe, set: d) }
            } else {
                out.children[k] = c
            }
        }
        return out
    }

    /// Whether both sets hold a common path.
    func overlaps(_ other: FieldSet) -> Bool {
        for (k, c) in children {
            guard let o = other.children[k] else { continue }
            if (c.set.member && o.set.member) || c.set.overlaps(o.set) { return true }
        }
        return false
    }

    /// Whether this set and the `FieldsV1` object `fieldsV1` hold a common path, without parsing it. The
    /// object's keys must be spelled as kemu writes them (`sharedFieldsV1`), so this is for the fields of
    /// stored objects only.
    func overlaps(fieldsV1 obj: JSONObject) -> Bool {
        for (k, c) in children {
            guard case .object(let inner)? = obj[k] else { continue }
            let innerMember = inner.isEmpty || inner.index(of: ".") != nil
            if c.set.member && innerMember { return true }
            if !c.set.children.isEmpty && !inner.isEmpty && c.set.overlaps(fieldsV1: inner) { return true }
        }
        return false
    }

    // MARK: FieldsV1

    /// The `FieldsV1` JSON: children sorted as upstream orders path elements, and `".": {}` first in a child
    /// that is itself a member and also has children.
    func fieldsV1() -> JSONObject { sharedFieldsV1().json.objectValue ?? JSONObject() }

    /// `fieldsV1()` and its encoding, with every object in it shared with equal ones made recently
    /// (`JSONInterner`).
    func sharedFieldsV1(includeSelf: Bool = false) -> (json: JSON, key: [UInt8]) {
        var out = JSONObject()
        out.reserveCapacity(children.count + (includeSelf ? 1 : 0))
        var key: [UInt8] = [UInt8(ascii: "{")]
        if includeSelf && !children.isEmpty {
            out.appendUnchecked(".", .object(JSONObject()))
            key += Array(#"".":{}"#.utf8)
        }
        for c in children.values.sorted(by: { PathElement.compare($0.pe, $1.pe) < 0 }) {
            let inner = c.set.children.isEmpty ? (json: JSON.object(JSONObject()), key: Array("{}".utf8))
                                               : c.set.sharedFieldsV1(includeSelf: c.set.member)
            out.appendUnchecked(c.pe.text, inner.json)
            if key.count > 1 { key.append(UInt8(ascii: ",")) }
            JSONWriter.writeString(c.pe.text, into: &key)
            key.append(UInt8(ascii: ":"))
            key += inner.key
        }
        key.append(UInt8(ascii: "}"))
        return (JSONInterner.share(.object(out), key: key), key)
    }

    /// Reads a `FieldsV1` object (`readIterV1`): `"."` marks membership, an object without
    /// (known) children is a member, unknown element types are dropped.
    static func parse(fieldsV1 obj: JSONObject) throws(ManagedFieldsError) -> FieldSet {
        var set = FieldSet()
        for (key, value) in obj {
            if key == "." { continue }
            guard let pe = try PathElement.parse(key) else { continue }
            guard case .object(let inner) = value else { throw ManagedFieldsError("expected object for \(key)") }
            var child = try parse(fieldsV1: inner)
            if child.children.isEmpty { child.member = true }
            else if inner.index(of: ".") != nil { child.member = true }
            if let existing = set.children[pe.text] {
                child.member = child.member || existing.set.member
                if child.children.isEmpty { child.children = existing.set.children }
            }
            set.children[pe.text] = Child(pe: pe, set: child)
        }
        return set
    }
}
