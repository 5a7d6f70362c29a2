import KemuAPI

/// What one selected Pod contributes to its Service's slices: its port set and, per address type,
/// its endpoint. Computed once per pod version and cached by the controller.
public struct PodContribution: Sendable {
    public var podName: String
    /// Not terminal and has an IP: the pod takes part (it creates its port group even without an endpoint).
    public var included: Bool
    public var ports: [SlicePort]
    public var portKey: PortSetKey
    public var nodeName: String
    /// The pod's Node is unknown; without publishNotReadyAddresses the pod is skipped with an error.
    public var nodeMissing: Bool
    /// Endpoint per address type, only for types the pod has an address of.
    public var endpoints: [String: SliceEndpoint]
    /// Ready condition `lastTransitionTime`, epoch seconds (the trigger time of the pod).
    public var triggerTime: Int?
}

/// Builds endpoints and ports from Pods, as upstream's `podToEndpoint` and `getEndpointPorts`.
public enum SlicePodRules {
    /// Phase not Succeeded/Failed and `podIP` or `podIPs` set.
    public static func shouldBeInEndpoints(_ pod: JSONObject) -> Bool {
        let phase = PodFacts.phase(pod)
        if phase == "Succeeded" || phase == "Failed" { return false }
        let status = pod["status"] ?? .null
        let podIP = status["podIP"].stringValue ?? ""
        let podIPs = status["podIPs"].arrayValue ?? []
        return !podIP.isEmpty || !podIPs.isEmpty
    }

    /// Resolves a Service port's target port for a pod: a number as is; a name among the containers'
    /// ports with the same protocol, then among restartable init containers (sidecars); nil if absent.
    public static func findPort(_ servicePort: JSON, pod: JSONObject) -> Int? {
        let proto = servicePort["protocol"].stringValue ?? "TCP"
        switch servicePort["targetPort"] {
        case .int(let n): return Int(n)
        case .double(let d): return Int(d)
        case .string(let name):
            let spec = pod["spec"] ?? .null
            for c in spec["containers"].arrayValue ?? [] {
                for p in c["ports"].arrayValue ?? [] where p["name"].stringValue == name && (p["protocol"].stringValue ?? "TCP") == proto {
                    if let n = p["containerPort"].intValue { return Int(n) }
                }
            }
            for c in spec["initContainers"].arrayValue ?? [] where c["restartPolicy"].stringValue == "Always" {
                for p in c["ports"].arrayValue ?? [] where p["name"].stringValue == name && (p["protocol"].stringValue ?? "TCP") == proto {
                    if let n = p["containerPort"].intValue { return Int(n) }
                }
            }
            return nil
        default:
            // The API server defaults targetPort to port; tolerate objects that skipped defaulting.
            return servicePort["port"].intValue.map { Int($0) }
        }
    }

    /// The pod's endpoint ports for the Service, in the Service's port order (unresolvable ports omitted).
    public static func ports(service: SliceServiceView, pod: JSONObject) -> [SlicePort] {
        if service.ports.isEmpty && service.clusterIP == "None" { return [] }
        var out: [SlicePort] = []
        for sp in service.ports {
            guard let n = findPort(sp, pod: pod) else { continue }
            out.append(SlicePort(name: sp["name"].stringValue ?? "", port: n, proto: sp["protocol"].stringValue ?? "TCP",
                                 appProtocol: sp["appProtocol"].stringValue))
        }
        return out
    }

    /// `status.podIPs` of the given family, re-printed canonically.
    public static func addresses(_ pod: JSONObject, addressType: String) -> [String] {
        var out: [String] = []
        for entry in pod["status"]?["podIPs"].arrayValue ?? [] {
            guard let ip = entry["ip"].stringValue, let c = SliceIP.canonical(ip) else { continue }
            if c.isIPv6 == (addressType == "IPv6") { out.append(c.text) }
        }
        return out
    }

    /// The endpoint for one address type (its addresses may be empty).
    public static func endpoint(pod: JSONObject, service: SliceServiceView, zone: String?, addressType: String) -> SliceEndpoint {
        let serving = PodFacts.isReady(pod)
        let terminating = pod.deletionTimestamp != nil
        let ready = service.publishNotReadyAddresses || (serving && !terminating)
        let meta = pod.metadata
        let spec = pod["spec"] ?? .null
        var ep = SliceEndpoint(addresses: addresses(pod, addressType: addressType), ready: ready, serving: serving, terminating: terminating)
        ep.targetRef = SliceTargetRef(kind: "Pod", namespace: meta.string("namespace") ?? "", name: meta.string("name") ?? "",
                                      uid: meta.string("uid") ?? "")
        let nodeName = spec["nodeName"].stringValue ?? ""
        if !nodeName.isEmpty { ep.nodeName = nodeName }
        if let zone, !zone.isEmpty { ep.zone = zone }
        let hostname = spec["hostname"].stringValue ?? ""
        if !hostname.isEmpty && (spec["subdomain"].stringValue ?? "") == service.name && pod.namespace == service.namespace {
            ep.hostname = hostname
        }
        return ep
    }

    /// Ready condition `lastTransitionTime` in epoch seconds.
    public static func triggerTime(_ pod: JSONObject) -> Int? {
        for c in pod["status"]?["conditions"].arrayValue ?? [] where c["type"].stringValue == "Ready" {
            return c["lastTransitionTime"].stringValue.flatMap(Timestamp.parse)
        }
        return nil
    }

    /// Everything the pod contributes. `node` is nil when the pod's Node does not exist; otherwise its zone label.
    public static func contribution(pod: JSONObject, service: SliceServiceView, node: SliceNodeView?) -> PodContribution {
        let included = shouldBeInEndpoints(pod)
        let p = included ? ports(service: service, pod: pod) : []
        let nodeName = PodFacts.nodeName(pod)
        var eps: [String: SliceEndpoint] = [:]
        if included {
            for t in service.addressTypes {
                let ep = endpoint(pod: pod, service: service, zone: node?.zone, addressType: t)
                if !ep.addresses.isEmpty { eps[t] = ep }
            }
        }
        return PodContribution(podName: pod.name, included: included, ports: p, portKey: PortSetKey(p), nodeName: nodeName,
                               nodeMissing: node == nil, endpoints: eps, triggerTime: triggerTime(pod))
    }
}

/// What the controller reads off a Node.
public struct SliceNodeView: Sendable, Equatable {
    public var name: String
    public var zone: String?
    public var ready: Bool
    /// Allocatable CPU in millicores (0 when missing).
    public var allocatableMilliCPU: Int64
    /// Has a control-plane or master role label.
    public var excluded: Bool

    public init(name: String, zone: String? = nil, ready: Bool = true, allocatableMilliCPU: Int64 = 0, excluded: Bool = false) {
        self.name = name; self.zone = zone; self.ready = ready; self.allocatableMilliCPU = allocatableMilliCPU; self.excluded = excluded
    }

    public init(_ node: JSONObject) {
        name = node.name
        let labels = node.labels
        zone = labels[EndpointSliceNames.zoneLabel]
        excluded = labels["node-role.kubernetes.io/control-plane"] != nil || labels["node-role.kubernetes.io/master"] != nil
        var r = false
        for c in node["status"]?["conditions"].arrayValue ?? [] where c["type"].stringValue == "Ready" {
            r = c["status"].stringValue == "True"
            break
        }
        ready = r
        allocatableMilliCPU = SliceNodeView.milliCPU(node["status"]?["allocatable"]["cpu"] ?? .null)
    }

    /// A CPU quantity ("4", "3500m", "2.5", 4) in millicores.
    static func milliCPU(_ q: JSON) -> Int64 {
        switch q {
        case .int(let n): return n * 1000
        case .double(let d): return Int64((d * 1000).rounded(.up))
        case .string(let s):
            if s.hasSuffix("m") { return Int64(s.dropLast()) ?? 0 }
            if let d = Double(s) { return Int64((d * 1000).rounded(.up)) }
            let suffixes: [(String, Double)] = [("k", 1e3), ("M", 1e6), ("G", 1e9), ("u", 1e-6), ("n", 1e-9)]
            for (suf, mul) in suffixes where s.hasSuffix(suf) {
                if let d = Double(s.dropLast(suf.count)) { return Int64((d * mul * 1000).rounded(.up)) }
            }
            return 0
        default: return 0
        }
    }
}
