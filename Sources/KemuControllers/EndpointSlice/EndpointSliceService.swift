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
        addressTypes = Self.addressTypes(ipFamilies: ipFamilies, clusterIP: clusterIP, isIPSet: isIPSet)
        (copiedLabels, sliceLabels) = Self.labelSets(labels, name: name, isIPSet: isIPSet)
        if ports.allSatisfy({ $0["targetPort"].stringValue == nil }) {
            podIndependentPortKey = PortSetKey(SlicePodRules.ports(service: self, containers: .none))
        }
    }

    /// The port set every pod gets when no target port is named (so it need not be resolved per pod).
    public private(set) var podIndependentPortKey: PortSetKey?

    /// ClusterIP set and not `None`.
    public var isIPSet: Bool { !clusterIP.isEmpty && clusterIP != "None" }

    /// The slice address types this Service wants, in a stable order (IPv4 first).
    public private(set) var addressTypes: [String] = []

    static func addressTypes(ipFamilies: [String], clusterIP: String, isIPSet: Bool) -> [String] {
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

    /// The Service's labels without the reserved keys (what slices must carry besides the reserved ones).
    public private(set) var copiedLabels: [String: String] = [:]
    /// The full label set of this Service's slices.
    public private(set) var sliceLabels: [String: String] = [:]

    static func labelSets(_ labels: [String: String], name: String, isIPSet: Bool) -> ([String: String], [String: String]) {
        var copied: [String: String] = [:]
        for (k, v) in labels where !EndpointSliceNames.isReservedLabel(k) { copied[k] = v }
        var full = copied
        if !isIPSet { full[EndpointSliceNames.headlessLabel] = "" }
        full[EndpointSliceNames.serviceNameLabel] = name
        full[EndpointSliceNames.managedByLabel] = EndpointSliceNames.controllerName
        return (copied, full)
    }

    /// Whether a slice's non-reserved labels differ from the Service's (reserved labels are not compared).
    func labelsDrifted(_ current: [String: String]) -> Bool {
        var n = 0
        for (k, v) in current where !EndpointSliceNames.isReservedLabel(k) {
            guard copiedLabels[k] == v else { return true }
            n += 1
        }
        return n != copiedLabels.count
    }

    /// The one controller ownerReference slices carry.
    var ownerReference: JSON {
        ["apiVersion": "v1", "kind": "Service", "name": .string(name), "uid": .string(uid), "controller": true, "blockOwnerDeletion": true]
    }

    /// A new, empty slice of this Service (generateName `<svc>-`).
    func newSlice(addressType: String, ports: [SlicePort]) -> SliceState {
        SliceState(name: "", generateName: name + "-", namespace: namespace, addressType: addressType,
                   labels: sliceLabels, ownerReferences: [ownerReference], ports: ports,
                   endpoints: [], base: nil)
    }
}
