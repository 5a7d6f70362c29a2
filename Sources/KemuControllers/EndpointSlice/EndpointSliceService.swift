import KemuAPI

/// What the EndpointSlice controller reads off a Service.
public struct SliceServiceView: Sendable {
    public var namespace: String
    public var name: String
    public var uid: String
    public var labels: [String: String]
    public var annotations: [String: String]
    public var creationTimestamp: String?
    public var deletionTimestamp: String?
    public var type: String
    public var clusterIP: String
    public var ipFamilies: [String]
    public var ports: [JSON]
    public var selector: [String: String]?
    public var publishNotReadyAddresses: Bool
    public var trafficDistribution: String?

    public init(_ svc: JSONObject) {
        let meta = svc.metadata
        namespace = meta.string("namespace") ?? ""
        name = meta.string("name") ?? ""
        uid = meta.string("uid") ?? ""
        labels = svc.labels
        annotations = svc.annotations
        creationTimestamp = meta.string("creationTimestamp")
        deletionTimestamp = meta.string("deletionTimestamp")
        let spec = svc["spec"] ?? .null
        type = ServiceFacts.type(svc)
        clusterIP = spec["clusterIP"].stringValue ?? ""
        ipFamilies = (spec["ipFamilies"].arrayValue ?? []).compactMap(\.stringValue)
        ports = spec["ports"].arrayValue ?? []
        selector = ServiceFacts.selector(svc)
        publishNotReadyAddresses = ServiceFacts.publishNotReadyAddresses(svc)
        trafficDistribution = spec["trafficDistribution"].stringValue
    }

    /// ClusterIP set and not `None`.
    public var isIPSet: Bool { !clusterIP.isEmpty && clusterIP != "None" }

    /// The slice address types this Service wants, in a stable order (IPv4 first).
    public var addressTypes: [String] {
        var set = Set<String>()
        for f in ipFamilies where f == "IPv4" || f == "IPv6" { set.insert(f) }
        if set.isEmpty {
            if isIPSet {
                set.insert(clusterIP.contains(":") ? "IPv6" : "IPv4")
            } else {
                set = ["IPv4", "IPv6"]
            }
        }
        return ["IPv4", "IPv6"].filter(set.contains)
    }

    /// `service.kubernetes.io/topology-aware-hints` (deprecated, wins when present) or `topology-mode`, `Auto`/`auto`.
    public var topologyHintsEnabled: Bool {
        let v = annotations[EndpointSliceNames.deprecatedTopologyHintsAnnotation] ?? annotations[EndpointSliceNames.topologyModeAnnotation]
        return v == "Auto" || v == "auto"
    }

    /// Labels for a slice of this Service and whether the slice's current non-reserved labels drifted from them.
    func sliceLabels(current: [String: String]) -> (labels: [String: String], changed: Bool) {
        var svcLabels: [String: String] = [:]
        for (k, v) in labels where !EndpointSliceNames.isReservedLabel(k) { svcLabels[k] = v }
        var cur: [String: String] = [:]
        for (k, v) in current where !EndpointSliceNames.isReservedLabel(k) { cur[k] = v }
        let changed = cur != svcLabels
        if !isIPSet { svcLabels[EndpointSliceNames.headlessLabel] = "" }
        svcLabels[EndpointSliceNames.serviceNameLabel] = name
        svcLabels[EndpointSliceNames.managedByLabel] = EndpointSliceNames.controllerName
        return (svcLabels, changed)
    }

    /// The one controller ownerReference slices carry.
    var ownerReference: JSON {
        ["apiVersion": "v1", "kind": "Service", "name": .string(name), "uid": .string(uid), "controller": true, "blockOwnerDeletion": true]
    }

    /// A new, empty slice of this Service (generateName `<svc>-`).
    func newSlice(addressType: String, ports: [SlicePort]) -> SliceState {
        SliceState(name: "", generateName: name + "-", namespace: namespace, addressType: addressType,
                   labels: sliceLabels(current: [:]).labels, ownerReferences: [ownerReference], ports: ports,
                   endpoints: [], base: nil)
    }
}
