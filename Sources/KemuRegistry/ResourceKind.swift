import KemuAPI

/// A subresource served under `<resource>/<name>/<subresource>`.
public struct SubresourceInfo: Sendable {
    public var name: String
    /// Group, version and kind of the subresource's body when it differs from the parent's.
    public var group: String?
    public var version: String?
    public var kind: String?
    public var verbs: [String]
    public init(name: String, group: String? = nil, version: String? = nil, kind: String? = nil, verbs: [String]) {
        self.name = name; self.group = group; self.version = version; self.kind = kind; self.verbs = verbs
    }
}

/// Everything that is specific to one resource kind, in one place; the generic REST
/// machinery reads it for routing, discovery, defaulting, validation, field selectors and Tables.
/// A class so requests pass a reference rather than copying a dozen fields; its properties are
/// only set while the registry is built, before any request is served.
public final class ResourceKind: @unchecked Sendable {
    public var group: String
    public var version: String
    public var kind: String
    public var resource: String
    public var singular: String
    public var namespaced: Bool
    public var shortNames: [String] = []
    public var categories: [String] = []
    public var verbs: [String] = ResourceKind.allVerbs
    public var subresources: [SubresourceInfo] = []
    /// metadata.generation is bumped on spec changes.
    public var tracksGeneration = false
    /// DELETE answers with the object rather than a Status.
    public var returnsDeletedObject = false
    /// Extra selectable fields beyond metadata.name/metadata.namespace.
    public var fieldSelectors = FieldSelectorSet()
    public var table: TableDefinition = .default
    /// For objects a controller keeps (derived objects): who keeps this one, or nil if it is the user's.
    public var derivedOwner: (@Sendable (JSONObject, any DerivedContext) -> DerivedOwner?)?
    public var strategy: any KindStrategy = DefaultStrategy()

    public static let allVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    public init(group: String, version: String, kind: String, resource: String, singular: String, namespaced: Bool) {
        self.group = group; self.version = version; self.kind = kind; self.resource = resource
        self.singular = singular; self.namespaced = namespaced
    }

    public var groupResource: GroupResource { GroupResource(group: group, resource: resource) }
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    public var groupVersion: String { apiVersion }
    public var listKind: String { kind + "List" }
    public var hasStatus: Bool { subresources.contains { $0.name == "status" } }
    public func subresource(_ name: String) -> SubresourceInfo? { subresources.first { $0.name == name } }

    /// `/api/v1` or `/apis/<group>/<version>`.
    public var groupVersionPath: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }

    public static func statusSubresource() -> SubresourceInfo { SubresourceInfo(name: "status", verbs: ["get", "patch", "update"]) }
    public static func scaleSubresource() -> SubresourceInfo {
        SubresourceInfo(name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get", "patch", "update"])
    }
}

/// Selectable fields for a kind. `customConversion` changes upstream's error wording for unknown fields.
public struct FieldSelectorSet: Sendable {
    public var fields: [String: @Sendable (JSONObject) -> String] = [:]
    /// Kinds with their own conversion function say "field label not supported"; others use the default message.
    public var customConversion = false
    /// Whether `metadata.namespace` is selectable (false for nodes, whose conversion omits it).
    public var namespaceSelectable = true
    public init() {}
    public init(_ fields: [String: @Sendable (JSONObject) -> String], namespaceSelectable: Bool = true) {
        self.fields = fields; self.customConversion = true; self.namespaceSelectable = namespaceSelectable
    }

    public func value(_ field: String, _ obj: JSONObject) -> String? {
        switch field {
        case "metadata.name": return obj.name
        case "metadata.namespace": return namespaceSelectable ? obj.namespace : nil
        default: return fields[field]?(obj)
        }
    }

    /// nil if every field is known; otherwise the upstream error message for the first unknown one.
    public func unknownFieldMessage(_ selector: FieldSelector) -> String? {
        for r in selector.requirements {
            if r.field == "metadata.name" { continue }
            if r.field == "metadata.namespace" && namespaceSelectable { continue }
            if fields[r.field] != nil { continue }
            if customConversion { return "field label not supported: \(r.field)" }
            return "\"\(r.field)\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        }
        return nil
    }
}
