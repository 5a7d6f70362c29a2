/// Convenience accessors for the `metadata` of an object held as JSON.
extension JSONObject {
    public var metadata: JSONObject {
        get { self["metadata"]?.objectValue ?? JSONObject() }
        set { self["metadata"] = .object(newValue) }
    }

    public func string(_ key: String) -> String? { self[key]?.stringValue }

    public var name: String { metadata.string("name") ?? "" }
    public var namespace: String { metadata.string("namespace") ?? "" }
    public var uid: String { metadata.string("uid") ?? "" }
    public var resourceVersion: String { metadata.string("resourceVersion") ?? "" }

    public var labels: [String: String] { derived?.labels ?? metadataMap("labels") }
    public var annotations: [String: String] { metadataMap("annotations") }

    /// `spec.selector` as a string map, as a Service's selector is read: nil when it is absent, not an object
    /// or empty (non-string values are skipped).
    public var specSelector: [String: String]? { derived.map(\.specSelector) ?? computedSpecSelector }

    var computedSpecSelector: [String: String]? {
        guard case .object(let spec)? = self["spec"], case .object(let sel)? = spec["selector"], !sel.isEmpty else { return nil }
        return JSON.object(sel).stringMap
    }

    /// `metadata[key]` as a string map.
    func metadataMap(_ key: String) -> [String: String] {
        guard case .object(let meta)? = self["metadata"], let value = meta[key] else { return [:] }
        return value.stringMap ?? [:]
    }
    public var finalizers: [String] { metadata["finalizers"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
    public var deletionTimestamp: String? { metadata.string("deletionTimestamp") }
}

extension JSON {
    /// A `map[string]string` as a dictionary (non-string values are skipped).
    public var stringMap: [String: String]? {
        guard case .object(let o) = self else { return nil }
        var d: [String: String] = [:]
        d.reserveCapacity(o.count)
        for (k, v) in o { if let s = v.stringValue { d[k] = s } }
        return d
    }

    public static func stringMap(_ d: [String: String]) -> JSON {
        .object(JSONObject(d.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) }))
    }
}
