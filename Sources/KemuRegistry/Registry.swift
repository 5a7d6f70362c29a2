import KemuAPI

/// The set of kinds kemu serves, with the lookups routing and discovery need.
public struct Registry: Sendable {
    public let kinds: [ResourceKind]
    struct GVR: Hashable { let group: String; let version: String; let resource: String }
    struct GV: Hashable { let group: String; let version: String }
    let byGroupVersionResource: [GVR: ResourceKind]
    let byGroupResource: [GroupResource: ResourceKind]
    let byGroupVersion: [GV: [ResourceKind]]
    /// Served groups (other than core) with their versions, in registration order.
    public let groups: [(group: String, versions: [String])]

    public init(kinds: [ResourceKind]) {
        self.kinds = kinds
        var gvr: [GVR: ResourceKind] = [:]
        var gr: [GroupResource: ResourceKind] = [:]
        var gv: [GV: [ResourceKind]] = [:]
        var order: [String] = []
        var versions: [String: [String]] = [:]
        for k in kinds {
            gvr[GVR(group: k.group, version: k.version, resource: k.resource)] = k
            gr[k.groupResource] = k
            gv[GV(group: k.group, version: k.version), default: []].append(k)
            guard !k.group.isEmpty else { continue }
            if versions[k.group] == nil { order.append(k.group); versions[k.group] = [] }
            if !versions[k.group]!.contains(k.version) { versions[k.group]!.append(k.version) }
        }
        byGroupVersionResource = gvr
        byGroupResource = gr
        byGroupVersion = gv
        groups = order.map { ($0, versions[$0]!) }
    }

    /// Every kind kemu serves, with its Table printer.
    public static let standard = Registry(kinds: [
        .namespace, .node, .pod, .service, .endpoints, .event, .endpointSlice, .deployment, .replicaSet, .statefulSet, .daemonSet,
        .controllerRevision, .podDisruptionBudget,
    ].map(ResourceKind.withPrinter))

    public func kind(group: String, version: String, resource: String) -> ResourceKind? {
        byGroupVersionResource[GVR(group: group, version: version, resource: resource)]
    }

    public func kind(_ gr: GroupResource) -> ResourceKind? { byGroupResource[gr] }

    public func kind(named kind: String, apiVersion: String) -> ResourceKind? {
        kinds.first { $0.kind == kind && $0.apiVersion == apiVersion }
    }

    public func kinds(group: String, version: String) -> [ResourceKind] {
        byGroupVersion[GV(group: group, version: version)] ?? []
    }

    public func servesGroup(_ group: String) -> Bool { byGroupVersion.keys.contains { $0.group == group } }
}
