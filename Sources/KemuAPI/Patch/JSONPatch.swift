/// JSON patch (RFC 6902, `application/json-patch+json`) with the semantics of
/// `gopkg.in/evanphx/json-patch.v4` as vendored by kube-apiserver:
///
/// - JSON pointers with `~1`/`~0`, `-` to append to an array, negative array indexes
///   counted from the end;
/// - `replace` of a missing object key adds it (only array indexes are checked), `replace`
///   with path "" swaps the whole document; `test` against a missing or null location passes
///   only for a null/absent value;
/// - at most `maxOperations` operations.
///
/// `apply` throws the `APIError`s kube-apiserver returns: 400 when the body is not a list of
/// operations, 413 when there are too many, 422 Invalid (with upstream's generic message)
/// when an operation fails. The evanphx error text of a failed operation
/// (e.g. `testing value /spec/replicas failed: test failed`) is available from
/// `applyOperations(_:to:)` as `JSONPatch.OperationError`.
public enum JSONPatch {
    public static let maxOperations = 10_000

    /// The message kube-apiserver returns (422, reason Invalid) for any failed operation.
    public static let failedOperationMessage = "the server rejected our request due to an error in our request"

    /// A failed operation, with evanphx/json-patch's error text.
    public struct OperationError: Error, Sendable, CustomStringConvertible, Equatable {
        public let message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    public static func apply(original: JSON, patch: JSON) throws -> JSON {
        let ops = try decode(patch)
        do {
            return try applyOperations(ops, to: original)
        } catch {
            throw APIError(code: 422, reason: "Invalid", message: failedOperationMessage)
        }
    }

    /// Decodes a patch document into its operations (as `DecodePatch` + the operation limit).
    public static func decode(_ patch: JSON) throws -> [JSON] {
        let ops: [JSON]
        switch patch {
        case .array(let a): ops = a
        case .null: ops = []
        default:
            throw APIError.badRequest("json: cannot unmarshal \(patch.typeName) into Go value of type jsonpatch.Patch")
        }
        for op in ops {
            switch op {
            case .object, .null: continue
            default:
                throw APIError.badRequest("json: cannot unmarshal \(op.typeName) into Go value of type jsonpatch.Operation")
            }
        }
        if ops.count > maxOperations {
            throw APIError(code: 413, reason: "RequestEntityTooLarge",
                           message: "Request entity too large: The allowed maximum operations in a JSON patch is \(maxOperations), got \(ops.count)")
        }
        return ops
    }

    /// Applies decoded operations in order; the first failure aborts with evanphx's message.
    public static func applyOperations(_ ops: [JSON], to original: JSON) throws(OperationError) -> JSON {
        var doc = original
        for op in ops {
            let operation = op.objectValue ?? JSONObject()
            let kind = operation["op"]?.stringValue ?? "unknown"
            switch kind {
            case "add": try add(&doc, operation)
            case "remove": try remove(&doc, operation)
            case "replace": try replace(&doc, operation)
            case "move": try move(&doc, operation)
            case "test": try test(doc, operation)
            case "copy": try copy(&doc, operation)
            default: throw OperationError("Unexpected kind: \(kind)")
            }
        }
        return doc
    }

    // MARK: Operations

    static func add(_ doc: inout JSON, _ op: JSONObject) throws(OperationError) {
        guard let path = try? stringField(op, "path") else {
            throw OperationError("add operation failed to decode path: missing value")
        }
        guard let target = findObject(doc, path) else {
            throw OperationError("add operation does not apply: doc is missing path: \"\(path)\": missing value")
        }
        let value = op["value"] ?? .null
        do {
            try withContainer(&doc, target.steps[...]) { (c: inout JSON) throws(OperationError) in
                try containerAdd(&c, target.key, value)
            }
        } catch {
            throw OperationError("error in add for path: '\(path)': \(error.message)")
        }
    }

    static func remove(_ doc: inout JSON, _ op: JSONObject) throws(OperationError) {
        guard let path = try? stringField(op, "path") else {
            throw OperationError("remove operation failed to decode path: missing value")
        }
        guard let target = findObject(doc, path) else {
            throw OperationError("remove operation does not apply: doc is missing path: \"\(path)\": missing value")
        }
        do {
            try withContainer(&doc, target.steps[...]) { (c: inout JSON) throws(OperationError) in
                try containerRemove(&c, target.key)
            }
        } catch {
            throw OperationError("error in remove for path: '\(path)': \(error.message)")
        }
    }

    static func replace(_ doc: inout JSON, _ op: JSONObject) throws(OperationError) {
        let path: String
        do { path = try stringField(op, "path") } catch {
            throw OperationError("replace operation failed to decode path: \(error.message)")
        }
        if path.isEmpty {
            switch op["value"] {
            case .object?, .array?: doc = op["value"]!
            default: throw OperationError("replace operation value must be object or array: %!w(<nil>)")
            }
            return
        }
        guard let target = findObject(doc, path) else {
            throw OperationError("replace operation does not apply: doc is missing path: \(path): missing value")
        }
        let container = resolve(doc, target.steps)
        if case .array = container {
            do { _ = try containerGet(container, target.key) } catch {
                throw OperationError("replace operation does not apply: doc is missing key: \(path): missing value")
            }
        }
        let value = op["value"] ?? .null
        do {
            try withContainer(&doc, target.steps[...]) { (c: inout JSON) throws(OperationError) in
                try containerSet(&c, target.key, value)
            }
        } catch {
            throw OperationError("error in remove for path: '\(path)': \(error.message)")
        }
    }

    static func move(_ doc: inout JSON, _ op: JSONObject) throws(OperationError) {
        let from: String
        do { from = try stringField(op, "from") } catch {
            throw OperationError("move operation failed to decode from: \(error.message)")
        }
        guard let source = findObject(doc, from) else {
            throw OperationError("move operation does not apply: doc is missing from path: \(from): missing value")
        }
        let value: JSON
        do { value = try containerGet(resolve(doc, source.steps), source.key) ?? .null } catch {
            throw OperationError("error in move for path: '\(source.key)': \(error.message)")
        }
        do {
            try withContainer(&doc, source.steps[...]) { (c: inout JSON) throws(OperationError) in
                try containerRemove(&c, source.key)
            }
        } catch {
            throw OperationError("error in move for path: '\(source.key)': \(error.message)")
        }
        let path: String
        do { path = try stringField(op, "path") } catch {
            throw OperationError("move operation failed to decode path: \(error.message)")
        }
        guard let target = findObject(doc, path) else {
            throw OperationError("move operation does not apply: doc is missing destination path: \(path): missing value")
        }
        do {
            try withContainer(&doc, target.steps[...]) { (c: inout JSON) throws(OperationError) in
                try containerAdd(&c, target.key, value)
            }
        } catch {
            throw OperationError("error in move for path: '\(path)': \(error.message)")
        }
    }

    static func test(_ doc: JSON, _ op: JSONObject) throws(OperationError) {
        let path: String
        do { path = try stringField(op, "path") } catch {
            throw OperationError("test operation failed to decode path: \(error.message)")
        }
        let expected = op["value"]
        if path.isEmpty {
            if let expected, expected == doc { return }
            throw OperationError("testing value \(path) failed: test failed")
        }
        guard let target = findObject(doc, path) else {
            throw OperationError("test operation does not apply: is missing path: \(path): missing value")
        }
        let actual: JSON?
        do { actual = try containerGet(resolve(doc, target.steps), target.key) } catch {
            throw OperationError("error in test for path: '\(path)': \(error.message)")
        }
        switch (actual, expected) {
        case (nil, nil), (.null?, nil), (nil, .null?), (.null?, .null?):
            return
        case (let a?, let e?) where !a.isNull && a == e:
            return
        default:
            throw OperationError("testing value \(path) failed: test failed")
        }
    }

    static func copy(_ doc: inout JSON, _ op: JSONObject) throws(OperationError) {
        let from: String
        do { from = try stringField(op, "from") } catch {
            throw OperationError("copy operation failed to decode from: \(error.message)")
        }
        guard let source = findObject(doc, from) else {
            throw OperationError("copy operation does not apply: doc is missing from path: \(from): missing value")
        }
        let value: JSON
        do { value = try containerGet(resolve(doc, source.steps), source.key) ?? .null } catch {
            throw OperationError("error in copy for from: '\(from)': \(error.message)")
        }
        guard let path = try? stringField(op, "path") else {
            throw OperationError("copy operation failed to decode path: missing value")
        }
        guard let target = findObject(doc, path) else {
            throw OperationError("copy operation does not apply: doc is missing destination path: \(path): missing value")
        }
        do {
            try withContainer(&doc, target.steps[...]) { (c: inout JSON) throws(OperationError) in
                try containerAdd(&c, target.key, value)
            }
        } catch {
            throw OperationError("error while adding value during copy: \(error.message)")
        }
    }

    // MARK: Operation fields

    /// Reads "path"/"from" like `Operation.Path()`/`From()`.
    static func stringField(_ op: JSONObject, _ name: String) throws(OperationError) -> String {
        switch op[name] {
        case .string(let s)?: return s
        case nil, .null?:
            throw OperationError(name == "path" ? "operation missing path field: missing value"
                                                : "operation, missing from field: missing value")
        case let other?:
            throw OperationError("json: cannot unmarshal \(other.typeName) into Go value of type string")
        }
    }

    // MARK: Pointers and containers

    enum Step { case key(String), index(Int) }

    /// `findObject`: the container holding the last reference token, and that token.
    static func findObject(_ doc: JSON, _ path: String) -> (steps: [Step], key: String)? {
        let split = path.split(separator: "/", omittingEmptySubsequences: false)
        if split.count < 2 { return nil }
        var steps: [Step] = []
        var current = doc
        for part in split[1..<(split.count - 1)] {
            let token = decodeToken(part)
            let next: JSON
            switch current {
            case .object(let o):
                guard let v = o[token] else { return nil }
                next = v
                steps.append(.key(token))
            case .array(let a):
                guard let idx = try? arrayIndexForGet(token, count: a.count) else { return nil }
                next = a[idx]
                steps.append(.index(idx))
            default:
                return nil
            }
            switch next {
            case .object, .array: current = next
            default: return nil
            }
        }
        switch current {
        case .object, .array: return (steps, decodeToken(split[split.count - 1]))
        default: return nil
        }
    }

    /// RFC 6901 unescaping in one left-to-right pass (`~1` → `/`, `~0` → `~`).
    static func decodeToken(_ s: Substring) -> String {
        guard s.contains("~") else { return String(s) }
        let chars = Array(s)
        var out = ""
        var i = 0
        while i < chars.count {
            if chars[i] == "~", i + 1 < chars.count, chars[i + 1] == "1" || chars[i + 1] == "0" {
                out.append(chars[i + 1] == "1" ? "/" : "~")
                i += 2
            } else {
                out.append(chars[i])
                i += 1
            }
        }
        return out
    }

    static func resolve(_ doc: JSON, _ steps: [Step]) -> JSON {
        var current = doc
        for step in steps {
            switch (step, current) {
            case (.key(let k), .object(let o)): current = o[k] ?? .null
            case (.index(let i), .array(let a)): current = a[i]
            default: return .null
            }
        }
        return current
    }

    /// Runs `body` on the container reached by `steps`, writing the result back.
    static func withContainer(_ doc: inout JSON, _ steps: ArraySlice<Step>,
                              _ body: (inout JSON) throws(OperationError) -> Void) throws(OperationError) {
        guard let step = steps.first else {
            try body(&doc)
            return
        }
        switch step {
        case .key(let k):
            guard case .object(var o) = doc else { throw OperationError("invalid state detected") }
            doc = .null
            var child = o[k] ?? .null
            o[k] = .null
            defer { o[k] = child; doc = .object(o) }
            try withContainer(&child, steps.dropFirst(), body)
        case .index(let i):
            guard case .array(var a) = doc else { throw OperationError("invalid state detected") }
            doc = .null
            var child = a[i]
            a[i] = .null
            defer { a[i] = child; doc = .array(a) }
            try withContainer(&child, steps.dropFirst(), body)
        }
    }

    static func atoi(_ s: String) throws(OperationError) -> Int {
        var digits = Substring(s)
        var negative = false
        if let f = digits.first, f == "+" || f == "-" {
            negative = f == "-"
            digits = digits.dropFirst()
        }
        if digits.isEmpty || !digits.allSatisfy({ $0.isASCII && $0.isNumber }) {
            throw OperationError("strconv.Atoi: parsing \(SMPFormat.quote(s)): invalid syntax")
        }
        guard let magnitude = Int(digits) else {
            if negative, digits == "9223372036854775808" { return Int.min }
            throw OperationError("strconv.Atoi: parsing \(SMPFormat.quote(s)): value out of range")
        }
        return negative ? -magnitude : magnitude
    }

    /// `get`: objects never fail (a missing key reads as nil); arrays check the index.
    static func containerGet(_ c: JSON, _ key: String) throws(OperationError) -> JSON? {
        switch c {
        case .object(let o): return o[key]
        case .array(let a):
            let idx = try arrayIndexForGet(key, count: a.count)
            return a[idx]
        default: throw OperationError("invalid state detected")
        }
    }

    static func arrayIndexForGet(_ key: String, count: Int) throws(OperationError) -> Int {
        var idx = try atoi(key)
        if idx < 0 {
            if idx < -count {
                throw OperationError("Unable to access invalid index: \(idx): invalid index referenced")
            }
            idx += count
        }
        if idx >= count {
            throw OperationError("Unable to access invalid index: \(idx): invalid index referenced")
        }
        return idx
    }

    static func containerAdd(_ c: inout JSON, _ key: String, _ value: JSON) throws(OperationError) {
        switch c {
        case .object(var o):
            c = .null
            o[key] = value
            c = .object(o)
        case .array(var a):
            c = .null
            defer { c = .array(a) }
            if key == "-" {
                a.append(value)
                return
            }
            let raw: Int
            do { raw = try atoi(key) } catch {
                throw OperationError("value was not a proper array index: '\(key)': \(error.message)")
            }
            let size = a.count + 1
            var idx = raw
            if idx >= size {
                throw OperationError("Unable to access invalid index: \(idx): invalid index referenced")
            }
            if idx < 0 {
                if idx < -size {
                    throw OperationError("Unable to access invalid index: \(idx): invalid index referenced")
                }
                idx += size
            }
            a.insert(value, at: idx)
        default:
            throw OperationError("invalid state detected")
        }
    }

    static func containerSet(_ c: inout JSON, _ key: String, _ value: JSON) throws(OperationError) {
        switch c {
        case .object(var o):
            c = .null
            o[key] = value
            c = .object(o)
        case .array(var a):
            let idx = try arrayIndexForGet(key, count: a.count)
            c = .null
            a[idx] = value
            c = .array(a)
        default:
            throw OperationError("invalid state detected")
        }
    }

    static func containerRemove(_ c: inout JSON, _ key: String) throws(OperationError) {
        switch c {
        case .object(var o):
            guard o.index(of: key) != nil else {
                throw OperationError("Unable to remove nonexistent key: \(key): missing value")
            }
            c = .null
            o[key] = nil
            c = .object(o)
        case .array(var a):
            var idx = try atoi(key)
            if idx >= a.count {
                throw OperationError("Unable to access invalid index: \(idx): invalid index referenced")
            }
            if idx < 0 {
                if idx < -a.count {
                    throw OperationError("Unable to access invalid index: \(idx): invalid index referenced")
                }
                idx += a.count
            }
            c = .null
            a.remove(at: idx)
            c = .array(a)
        default:
            throw OperationError("invalid state detected")
        }
    }
}
