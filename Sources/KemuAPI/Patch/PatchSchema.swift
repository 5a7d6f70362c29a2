/// Patch metadata for strategic merge patch: which lists merge (and by which key),
/// which maps retain only listed keys, and the schema of nested values.
///
/// Upstream takes this from Go struct tags (`patchStrategy`, `patchMergeKey`); kemu takes the
/// same information from the `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key`
/// extensions of the OpenAPI documents it serves.
public protocol PatchSchema: Sendable {
    /// Metadata for the field `name` of an object of this schema. For a map
    /// (`additionalProperties`) every key yields the schema of the map's values.
    /// `nil` means the field is unknown: maps still merge, lists are replaced.
    func field(_ name: String) -> PatchField?
}

public struct PatchField: Sendable {
    /// `x-kubernetes-patch-merge-key`, for lists of objects merged by key.
    public var mergeKey: String?
    /// `x-kubernetes-patch-strategy`, split on commas: "merge", "retainKeys", "replace".
    public var strategies: Set<String>
    /// The field holds a JSON array.
    public var isList: Bool
    /// Schema of the value (for objects and maps) or of the list items (for lists).
    public var element: (any PatchSchema)?
    /// `x-kubernetes-list-type` of a list field: "atomic", "set" or "map" (nil when absent).
    public var listType: String?
    /// `x-kubernetes-list-map-keys` of a `map` list (empty otherwise).
    public var listMapKeys: [String]
    /// `x-kubernetes-map-type` ("atomic" or "granular") of the value: the property's own extension,
    /// else that of the referenced definition. For a list, the map type of its items.
    public var mapType: String?

    public init(mergeKey: String? = nil, strategies: Set<String> = [], isList: Bool = false,
                element: (any PatchSchema)? = nil, listType: String? = nil, listMapKeys: [String] = [],
                mapType: String? = nil) {
        self.mergeKey = mergeKey
        self.strategies = strategies
        self.isList = isList
        self.element = element
        self.listType = listType
        self.listMapKeys = listMapKeys
        self.mapType = mapType
    }
}

/// Patch schemas for every component of one or more OpenAPI v3 (or v2) documents.
/// Everything is resolved once at construction; lookups are a dictionary hit per field.
public final class OpenAPISchemaIndex: Sendable {
    private let store: PatchSchemaStore
    private let byGVK: [String: String]

    public init(documents: [JSON]) {
        var raw: [String: JSONObject] = [:]
        var order: [String] = []
        var gvk: [String: String] = [:]
        for doc in documents {
            let schemas = doc["components"]["schemas"].objectValue ?? doc["definitions"].objectValue ?? JSONObject()
            for (name, value) in schemas {
                guard raw[name] == nil, let def = value.objectValue else { continue }
                raw[name] = def
                order.append(name)
                for entry in def["x-kubernetes-group-version-kind"]?.arrayValue ?? [] {
                    guard let kind = entry["kind"].stringValue, let version = entry["version"].stringValue else { continue }
                    let key = Self.gvkKey(entry["group"].stringValue ?? "", version, kind)
                    if gvk[key] == nil { gvk[key] = name }
                }
            }
        }
        var shapes: [String: PatchSchemaShape] = [:]
        shapes.reserveCapacity(order.count)
        for name in order {
            shapes[name] = PatchSchemaShape(definition: name, raw: raw)
        }
        store = PatchSchemaStore(shapes: shapes)
        byGVK = gvk
    }

    /// The schema of a component, e.g. `io.k8s.api.core.v1.PodSpec`.
    public func schema(forDefinition name: String) -> (any PatchSchema)? {
        guard let shape = store.shapes[name] else { return nil }
        return PatchSchemaNode(shape: shape, store: store)
    }

    /// The component carrying `x-kubernetes-group-version-kind` = {group, version, kind}.
    public func schema(group: String, version: String, kind: String) -> (any PatchSchema)? {
        guard let name = byGVK[Self.gvkKey(group, version, kind)] else { return nil }
        return schema(forDefinition: name)
    }

    /// The component name registered for a group/version/kind.
    public func definitionName(group: String, version: String, kind: String) -> String? {
        byGVK[Self.gvkKey(group, version, kind)]
    }

    /// Number of components indexed.
    public var definitionCount: Int { store.shapes.count }

    private static func gvkKey(_ group: String, _ version: String, _ kind: String) -> String {
        "\(group)/\(version)/\(kind)"
    }
}

// MARK: - Resolved schema graph

final class PatchSchemaStore: Sendable {
    let shapes: [String: PatchSchemaShape]
    init(shapes: [String: PatchSchemaShape]) { self.shapes = shapes }
}

/// Where a field's value (or list item) schema lives.
indirect enum PatchSchemaElement: Sendable {
    case none
    case definition(String)
    case inline(PatchSchemaShape)
}

struct PatchFieldSpec: Sendable {
    var mergeKey: String?
    var strategies: Set<String>
    var isList: Bool
    var element: PatchSchemaElement
    var listType: String? = nil
    var listMapKeys: [String] = []
    var mapType: String? = nil
}

/// The fields of one object schema (or the value schema of a map).
final class PatchSchemaShape: Sendable {
    let fields: [String: PatchFieldSpec]
    let additional: PatchFieldSpec?
    /// The object's own `x-kubernetes-map-type` (e.g. `atomic` on `LabelSelector`).
    let mapType: String?

    init(fields: [String: PatchFieldSpec], additional: PatchFieldSpec?, mapType: String? = nil) {
        self.fields = fields
        self.additional = additional
        self.mapType = mapType
    }

    /// Builds the shape of a named component, following `$ref` / `allOf` wrappers at its top.
    convenience init(definition name: String, raw: [String: JSONObject]) {
        var current = raw[name] ?? JSONObject()
        var mapType = current["x-kubernetes-map-type"]?.stringValue
        var hops = 0
        while hops < 16, current.index(of: "properties") == nil, current.index(of: "additionalProperties") == nil {
            guard let next = Self.singleRef(current), let target = raw[next] else { break }
            current = target
            if mapType == nil { mapType = current["x-kubernetes-map-type"]?.stringValue }
            hops += 1
        }
        self.init(object: current, mapType: mapType)
    }

    /// Builds the shape of an inline object schema.
    convenience init(object: JSONObject, mapType: String? = nil) {
        var fields: [String: PatchFieldSpec] = [:]
        if let props = object["properties"]?.objectValue {
            fields.reserveCapacity(props.count)
            for (key, value) in props {
                fields[key] = Self.fieldSpec(value.objectValue ?? JSONObject())
            }
        }
        var additional: PatchFieldSpec?
        switch object["additionalProperties"] {
        case .object(let o)?: additional = Self.fieldSpec(o)
        case .bool(true)?: additional = PatchFieldSpec(mergeKey: nil, strategies: [], isList: false, element: .none)
        default: additional = nil
        }
        self.init(fields: fields, additional: additional,
                  mapType: mapType ?? object["x-kubernetes-map-type"]?.stringValue)
    }

    static func fieldSpec(_ prop: JSONObject) -> PatchFieldSpec {
        var strategies = Set<String>()
        if let s = prop["x-kubernetes-patch-strategy"]?.stringValue {
            for part in s.split(separator: ",") {
                let t = part.trimmingASCIISpaces()
                if !t.isEmpty { strategies.insert(t) }
            }
        }
        let mergeKey = prop["x-kubernetes-patch-merge-key"]?.stringValue
        let isList = prop["type"]?.stringValue == "array" || (prop.index(of: "items") != nil && prop.index(of: "type") == nil)
        let element = isList ? elementRef(prop["items"]) : elementRef(.object(prop))
        var listMapKeys: [String] = []
        for key in prop["x-kubernetes-list-map-keys"]?.arrayValue ?? [] {
            if let k = key.stringValue { listMapKeys.append(k) }
        }
        return PatchFieldSpec(mergeKey: mergeKey, strategies: strategies, isList: isList, element: element,
                              listType: prop["x-kubernetes-list-type"]?.stringValue, listMapKeys: listMapKeys,
                              mapType: prop["x-kubernetes-map-type"]?.stringValue)
    }

    static func elementRef(_ schema: JSON?) -> PatchSchemaElement {
        guard let o = schema?.objectValue else { return .none }
        if let ref = o["$ref"]?.stringValue { return .definition(refName(ref)) }
        if o.index(of: "properties") != nil || o["additionalProperties"]?.objectValue != nil {
            return .inline(PatchSchemaShape(object: o))
        }
        for wrapper in ["allOf", "anyOf", "oneOf"] {
            for item in o[wrapper]?.arrayValue ?? [] {
                let r = elementRef(item)
                if case .none = r { continue }
                return r
            }
        }
        return .none
    }

    static func singleRef(_ o: JSONObject) -> String? {
        if let ref = o["$ref"]?.stringValue { return refName(ref) }
        for item in o["allOf"]?.arrayValue ?? [] {
            if let ref = item["$ref"].stringValue { return refName(ref) }
        }
        return nil
    }

    static func refName(_ ref: String) -> String {
        if let slash = ref.lastIndex(of: "/") { return String(ref[ref.index(after: slash)...]) }
        return ref
    }
}

struct PatchSchemaNode: PatchSchema {
    let shape: PatchSchemaShape
    let store: PatchSchemaStore

    func field(_ name: String) -> PatchField? {
        guard let spec = shape.fields[name] ?? shape.additional else { return nil }
        let element: PatchSchemaNode?
        switch spec.element {
        case .none: element = nil
        case .definition(let def):
            if let s = store.shapes[def] { element = PatchSchemaNode(shape: s, store: store) } else { element = nil }
        case .inline(let s): element = PatchSchemaNode(shape: s, store: store)
        }
        return PatchField(mergeKey: spec.mergeKey, strategies: spec.strategies, isList: spec.isList, element: element,
                          listType: spec.listType, listMapKeys: spec.listMapKeys,
                          mapType: spec.mapType ?? element?.shape.mapType)
    }
}

extension Substring {
    fileprivate func trimmingASCIISpaces() -> String {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
