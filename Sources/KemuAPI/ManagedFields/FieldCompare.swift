/// structured-merge-diff's `TypedValue.Compare` over kemu's JSON and OpenAPI-derived schema:
/// which field paths the new object added, modified or removed relative to the live one.

/// What upstream's schema converter (`kube-openapi pkg/schemaconv`) makes of a value's schema.
indirect enum FieldType {
    /// A struct or a map (`additionalProperties`); `schema == nil` means its items are deduced.
    /// `atomic` for `x-kubernetes-map-type: atomic`.
    case map(schema: (any PatchSchema)?, atomic: Bool)
    /// A list with its relationship and the type of its items.
    case list(ListKind, item: FieldType, field: String)
    /// No usable schema: scalars are leaves, lists atomic, maps granular with deduced items
    /// (upstream's `__untyped_deduced_`).
    case deduced
}

enum ListKind: Equatable {
    case atomic
    /// `x-kubernetes-list-type: set` (or `patchStrategy: merge` without a merge key): items by value.
    case set
    /// `x-kubernetes-list-type: map`: items by their key fields.
    case keyed([String])
}

extension FieldType {
    /// The type of field `name` of an object of type `schema`.
    static func child(of schema: (any PatchSchema)?, _ name: String) -> FieldType {
        guard let schema, let f = schema.field(name) else { return .deduced }
        return of(f, name: name)
    }

    /// `getListElementRelationship` / map-type handling of `schemaconv`.
    static func of(_ f: PatchField, name: String) -> FieldType {
        let element: (any PatchSchema)? = f.element.flatMap { isOpaque($0) ? nil : $0 }
        if f.isList {
            let kind: ListKind
            switch f.listType {
            case "atomic"?: kind = .atomic
            case "set"?: kind = .set
            case "map"?: kind = f.listMapKeys.isEmpty ? .set : .keyed(f.listMapKeys)
            case nil:
                if f.strategies.contains("merge") {
                    kind = f.mergeKey.map { .keyed([$0]) } ?? .set
                } else {
                    kind = .atomic
                }
            default: kind = .atomic
            }
            let item: FieldType
            if case .keyed = kind, let element {
                item = .map(schema: element, atomic: f.mapType == "atomic")
            } else {
                item = .deduced
            }
            return .list(kind, item: item, field: name)
        }
        if let element { return .map(schema: element, atomic: f.mapType == "atomic") }
        return .deduced
    }

    /// A referenced definition without properties (Quantity, IntOrString, Time, RawExtension…):
    /// its values are compared by their JSON shape.
    private static func isOpaque(_ s: any PatchSchema) -> Bool {
        guard let node = s as? PatchSchemaNode else { return false }
        return node.shape.fields.isEmpty && node.shape.additional == nil
    }
}

/// The result of a comparison: each set holds paths (leaves, and non-leaf items that appeared
/// or disappeared as a whole).
struct FieldComparison {
    var added = FieldSet()
    var modified = FieldSet()
    var removed = FieldSet()

    var isEmpty: Bool { added.isEmpty && modified.isEmpty && removed.isEmpty }

    /// `Comparison.ExcludeFields`: drops the given paths and everything below them.
    mutating func exclude(_ ignored: FieldSet) {
        guard !ignored.isEmpty else { return }
        added = FieldSet.recursiveDifference(added, ignored)
        modified = FieldSet.recursiveDifference(modified, ignored)
        removed = FieldSet.recursiveDifference(removed, ignored)
    }
}

struct FieldComparer {
    private(set) var result = FieldComparison()
    private var path: [PathElement] = []

    /// Compares two values of type `type` at the current path; `nil` means absent.
    mutating func compare(_ lhs: JSON?, _ rhs: JSON?, _ type: FieldType) throws(ManagedFieldsError) {
        if let l = lhs, let r = rhs, l == r { return }
        var inLeaf: Bool
        switch type {
        case .map(let schema, let atomic):
            inLeaf = try doMap(lhs, rhs, schema: schema, atomic: atomic)
        case .list(let kind, let item, let field):
            inLeaf = try doList(lhs, rhs, kind: kind, item: item, field: field)
        case .deduced:
            // deduceAtom: a value picks the matching atom, a missing value or null the whole
            // atom (handled as a map first); both sides are handled when they differ.
            let al = Self.atom(lhs), ar = Self.atom(rhs)
            if rhs == nil {
                inLeaf = try doDeduced(al, lhs, rhs)
            } else if lhs == nil || al == ar {
                inLeaf = try doDeduced(ar, lhs, rhs)
            } else {
                _ = try doDeduced(al, lhs, rhs)
                inLeaf = try doDeduced(ar, lhs, rhs)
            }
        }
        // A non-leaf item that appears or disappears as a whole is itself in the comparison.
        if !inLeaf {
            if lhs == nil { result.added.insert(path[...]) } else if rhs == nil { result.removed.insert(path[...]) }
        }
    }

    private enum Atom { case any, scalar, list, map }

    private static func atom(_ v: JSON?) -> Atom {
        switch v {
        case nil, .null?: return .any
        case .array?: return .list
        case .object?: return .map
        default: return .scalar
        }
    }

    private mutating func doDeduced(_ atom: Atom, _ lhs: JSON?, _ rhs: JSON?) throws(ManagedFieldsError) -> Bool {
        switch atom {
        case .any, .map: return try doMap(lhs, rhs, schema: nil, atomic: false)
        case .list, .scalar: return doLeaf(lhs, rhs)
        }
    }

    private mutating func doLeaf(_ lhs: JSON?, _ rhs: JSON?) -> Bool {
        if lhs == nil {
            result.added.insert(path[...])
        } else if rhs == nil {
            result.removed.insert(path[...])
        } else if lhs! != rhs! {
            result.modified.insert(path[...])
        }
        return true
    }

    private mutating func doMap(_ lhs: JSON?, _ rhs: JSON?, schema: (any PatchSchema)?, atomic: Bool) throws(ManagedFieldsError) -> Bool {
        let lm = lhs?.objectValue, rm = rhs?.objectValue
        if atomic || ((lm?.isEmpty ?? true) && (rm?.isEmpty ?? true)) { return doLeaf(lhs, rhs) }
        let lmap = lm ?? JSONObject(), rmap = rm ?? JSONObject()
        let rIndex: [String: JSON]? = lmap.count * rmap.count > 256
            ? Dictionary(rmap.map { ($0.key, $0.value) }, uniquingKeysWith: { _, b in b }) : nil
        let lIndex: [String: JSON]? = rIndex == nil ? nil
            : Dictionary(lmap.map { ($0.key, $0.value) }, uniquingKeysWith: { _, b in b })
        for (key, lv) in lmap {
            let rv = rIndex.map { $0[key] } ?? rmap[key]
            try visitField(key, lv, rv, schema)
        }
        for (key, rv) in rmap {
            let inLeft = lIndex.map { $0[key] != nil } ?? (lmap[key] != nil)
            if !inLeft { try visitField(key, nil, rv, schema) }
        }
        return false
    }

    private mutating func visitField(_ key: String, _ lv: JSON?, _ rv: JSON?, _ schema: (any PatchSchema)?) throws(ManagedFieldsError) {
        if let l = lv, let r = rv, l == r { return }  // unchanged: no schema lookup needed
        path.append(.field(key))
        try compare(lv, rv, FieldType.child(of: schema, key))
        path.removeLast()
    }

    private mutating func doList(_ lhs: JSON?, _ rhs: JSON?, kind: ListKind, item: FieldType, field: String) throws(ManagedFieldsError) -> Bool {
        let la = lhs?.arrayValue, ra = rhs?.arrayValue
        if kind == .atomic || ((la?.isEmpty ?? true) && (ra?.isEmpty ?? true)) { return doLeaf(lhs, rhs) }

        // Items by path element, duplicates kept together, in first-seen order.
        var order: [PathElement] = []
        var left: [String: [JSON]] = [:], right: [String: [JSON]] = [:]
        for v in la ?? [] {
            let pe = try Self.itemElement(v, kind: kind, field: field)
            if left[pe.text] == nil { order.append(pe) }
            left[pe.text, default: []].append(v)
        }
        for v in ra ?? [] {
            let pe = try Self.itemElement(v, kind: kind, field: field)
            if left[pe.text] == nil && right[pe.text] == nil { order.append(pe) }
            right[pe.text, default: []].append(v)
        }
        for pe in order {
            let l = left[pe.text] ?? [], r = right[pe.text] ?? []
            switch (l.count, r.count) {
            case (0...1, 0...1):
                try visitItem(pe, l.first, r.first, item)
            case (2..., 2...):
                // Duplicates before and after: the group is compared as a whole.
                if l != r { path.append(pe); result.modified.insert(path[...]); path.removeLast() }
            case (2..., _):
                if let first = r.first { try visitItem(pe, nil, first, item) }
                path.append(pe); result.removed.insert(path[...]); path.removeLast()
            default:
                if let first = l.first { try visitItem(pe, first, nil, item) }
                path.append(pe); result.added.insert(path[...]); path.removeLast()
            }
        }
        return false
    }

    private mutating func visitItem(_ pe: PathElement, _ lv: JSON?, _ rv: JSON?, _ item: FieldType) throws(ManagedFieldsError) {
        path.append(pe)
        try compare(lv, rv, item)
        path.removeLast()
    }

    /// `listItemToPathElement`: `k:` from the key fields (with upstream's schema defaults for
    /// keys the item omits), `v:` for set items.
    static func itemElement(_ v: JSON, kind: ListKind, field: String) throws(ManagedFieldsError) -> PathElement {
        switch kind {
        case .keyed(let keys):
            guard case .object(let o) = v else {
                throw ManagedFieldsError("associative list with keys may not have non-map elements")
            }
            var fields: [(String, JSON)] = []
            fields.reserveCapacity(keys.count)
            for k in keys {
                if let value = o[k] {
                    fields.append((k, value))
                } else if let def = keyDefault(list: field, key: k) {
                    fields.append((k, def))
                } else {
                    throw ManagedFieldsError("associative list with keys has an element that omits key field \"\(k)\" (and doesn't have default value)")
                }
            }
            return .key(fields)
        case .set, .atomic:
            switch v {
            case .object: throw ManagedFieldsError("associative list without keys has an element that's a map type")
            case .array: throw ManagedFieldsError("not supported: associative list with lists as elements")
            default: return .value(v)
            }
        }
    }

    /// OpenAPI `default`s of list-map key fields in Kubernetes 1.32 (`ContainerPort.protocol`,
    /// `ServicePort.protocol`, `LocalObjectReference.name`), which kemu's documents lack.
    static func keyDefault(list: String, key: String) -> JSON? {
        switch key {
        case "protocol": return .string("TCP")
        case "name" where list == "imagePullSecrets": return .string("")
        default: return nil
        }
    }
}
