import KemuAPI

/// The set of kinds kemu serves, with the lookups routing and discovery need.
public struct Registry: Sendable {
    public let kinds: [ResourceKind]
    let byGroupVersionResource: [String: ResourceKind]
    let byGroupResource: [GroupResource: ResourceKind]

    public init(kinds: [ResourceKind]) {
        self.kinds = kinds
        var gvr: [String: ResourceKind] = [:]
        var gr: [GroupResource: ResourceKind] = [:]
        for k in kinds {
            gvr["\(k.group)/\(k.version)/\(k.resource)"] = k
            gr[k.groupResource] = k
        }
        byGroupVersionResource = gvr
        byGroupResource = gr
    }

    /// Every kind kemu serves, with its Table printer.
    public static let standard = Registry(kinds: [
        .namespace, .node, .pod, .service, .endpoints, .endpointSlice, .deployment, .replicaSet, .statefulSet, .daemonSet,
    ].map(ResourceKind.withPrinter))

    public func kind(group: String, version: String, resource: String) -> ResourceKind? {
        byGroupVersionResource["\(group)/\(version)/\(resource)"]
    }

    public func kind(_ gr: GroupResource) -> ResourceKind? { byGroupResource[gr] }

    public func kind(named kind: String, apiVersion: String) -> ResourceKind? {
        kinds.first { $0.kind == kind && $0.apiVersion == apiVersion }
    }

    /// Group → versions (all served groups have exactly one version today).
    public var groups: [(group: String, versions: [String])] {
        var order: [String] = []
        var versions: [String: [String]] = [:]
        for k in kinds where !k.group.isEmpty {
            if versions[k.group] == nil { order.append(k.group); versions[k.group] = [] }
            if !versions[k.group]!.contains(k.version) { versions[k.group]!.append(k.version) }
        }
        return order.map { ($0, versions[$0]!) }
    }

    public func kinds(group: String, version: String) -> [ResourceKind] {
        kinds.filter { $0.group == group && $0.version == version }
    }
}
