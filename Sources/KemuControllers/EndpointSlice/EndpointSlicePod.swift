import KemuAPI

/// What one selected Pod contributes to its Service's slices: its port set and, per address type,
/// its endpoint. Computed once per pod version and cached by the controller.
public final class PodContribution: Sendable {
    public let podName: String
    /// Not terminal and has an IP: the pod takes part (it creates its port group even without an endpoint).
    public let included: Bool
    public let portKey: PortSetKey
    public let nodeName: String
    /// The pod's Node is unknown; without publishNotReadyAddresses the pod is skipped with an error.
    public let nodeMissing: Bool
    /// Endpoints of the IPv4 and IPv6 types, only when the pod has an address of that family.
    public let ipv4: SliceEndpoint?
    public let ipv6: SliceEndpoint?
    /// Ready condition `lastTransitionTime`, epoch seconds (the trigger time of the pod).
    public let triggerTime: Int?

    init(podName: String, included: Bool, portKey: PortSetKey, nodeName: String, nodeMissing: Bool,
         ipv4: SliceEndpoint?, ipv6: SliceEndpoint?, triggerTime: Int?) {
        self.podName = podName; self.included = included; self.portKey = portKey; self.nodeName = nodeName
        self.nodeMissing = nodeMissing; self.ipv4 = ipv4; self.ipv6 = ipv6; self.triggerTime = triggerTime
    }

    public var ports: [SlicePort] { portKey.ports }

    public func endpoint(_ addressType: String) -> SliceEndpoint? { addressType == "IPv6" ? ipv6 : ipv4 }
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
        findPort(servicePort, containers: PodContainers(pod))
    }

    public static func findPort(_ servicePort: JSON, containers: PodContainers) -> Int? {
        let proto = servicePort["protocol"].stringValue ?? "TCP"
        switch servicePort["targetPort"] {
        case .int(let n): return Int(n)
        case .double(let d): return Int(d)
        case .string(let name):
            for c in containers.containers {
                for p in c["ports"].arrayValue ?? [] where p["name"].stringValue == name && (p["protocol"].stringValue ?? "TCP") == proto {
                    if let n = p["containerPort"].intValue { return Int(n) }
                }
            }
            for c in containers.initContainers where c["restartPolicy"].stringValue == "Always" {
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
    public static func ports(service: SliceServiceView, containers: PodContainers) -> [SlicePort] {
        if service.ports.isEmpty && service.clusterIP == "None" { return [] }
        var out: [SlicePort] = []
        for sp in service.ports {
            guard let n = findPort(sp, containers: containers) else { continue }
            out.append(SlicePort(name: sp["name"].stringValue ?? "", port: n, proto: sp["protocol"].stringValue ?? "TCP",
                                 appProtocol: sp["appProtocol"].stringValue))
        }
        return out
    }

    /// `status.podIPs` of the given family, re-printed canonically.
    public static func addresses(_ pod: JSONObject, addressType: String) -> [String] {
        let (v4, v6) = canonicalIPs(pod)
        return addressType == "IPv6" ? v6 : v4
    }

    /// `status.podIPs` split by family, re-printed canonically (unparsable entries skipped).
    static func canonicalIPs(_ pod: JSONObject) -> (ipv4: [String], ipv6: [String]) {
        var v4: [String] = [], v6: [String] = []
        for entry in pod["status"]?["podIPs"].arrayValue ?? [] {
            guard let ip = entry["ip"].stringValue, let c = IPAddress.sloppyCanonical(ip) else { continue }
            if c.isIPv6 { v6.append(c.text) } else { v4.append(c.text) }
        }
        return (v4, v6)
    }

    /// The endpoint for one address type (its addresses may be empty).
    public static func endpoint(pod: JSONObject, service: SliceServiceView, zone: String?, addressType: String) -> SliceEndpoint {
        endpoint(PodDigest(pod), service: service, zone: zone, addressType: addressType)
    }

    static func endpoint(_ pod: PodDigest, service: SliceServiceView, zone: String?, addressType: String) -> SliceEndpoint {
        let ready = service.publishNotReadyAddresses || (pod.ready && !pod.terminating)
        var ep = SliceEndpoint(addresses: addressType == "IPv6" ? pod.ipv6 : pod.ipv4, ready: ready, serving: pod.ready,
                               terminating: pod.terminating, hostname: nil, nodeName: pod.nodeName.isEmpty ? nil : pod.nodeName,
                               zone: zone?.isEmpty == false ? zone : nil,
                               targetRef: pod.targetRef)
        if !pod.hostname.isEmpty && pod.subdomain == service.name && pod.namespace == service.namespace {
            ep.hostname = pod.hostname
        }
        return ep
    }

    /// Ready condition `lastTransitionTime` in epoch seconds.
    public static func triggerTime(_ pod: JSONObject) -> Int? { readyCondition(pod).time }

    /// The Ready condition: whether it is True, and its `lastTransitionTime` in epoch seconds.
    static func readyCondition(_ pod: JSONObject) -> (ready: Bool, time: Int?) {
        for c in pod["status"]?["conditions"].arrayValue ?? [] where c["type"].stringValue == "Ready" {
            return (c["status"].stringValue == "True", c["lastTransitionTime"].stringValue.flatMap(parseTime))
        }
        return (false, nil)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` without allocating; other forms through `Timestamp.parse`.
    static func parseTime(_ s: String) -> Int? {
        var s = s
        let fast: Int?? = s.withUTF8 { b -> Int?? in
            guard b.count == 20, b[19] == 0x5a, b[4] == 0x2d, b[7] == 0x2d, b[10] == 0x54, b[13] == 0x3a, b[16] == 0x3a else { return .none }
            func num(_ i: Int, _ n: Int) -> Int? {
                var v = 0
                for k in i..<(i + n) {
                    let c = b[k]
                    guard c >= 0x30, c <= 0x39 else { return nil }
                    v = v * 10 + Int(c - 0x30)
                }
                return v
            }
            guard let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2), let sec = num(17, 2)
            else { return .some(nil) }
            let yy = mo <= 2 ? y - 1 : y
            let era = (yy >= 0 ? yy : yy - 399) / 400
            let yoe = yy - era * 400
            let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
            return .some((era * 146097 + doe - 719468) * 86400 + h * 3600 + mi * 60 + sec)
        }
        if let fast { return fast }
        return Timestamp.parse(s)
    }

    /// Everything the pod contributes. `node` is nil when the pod's Node does not exist; otherwise its zone label.
    public static func contribution(pod: JSONObject, service: SliceServiceView, node: SliceNodeView?) -> PodContribution {
        contribution(PodDigest(pod), service: service, node: node)
    }

    static func contribution(_ pod: PodDigest, service: SliceServiceView, node: SliceNodeView?) -> PodContribution {
        let key = !pod.included ? PortSetKey.empty
            : service.podIndependentPortKey ?? PortSetKey(ports(service: service, containers: pod.containers))
        var v4: SliceEndpoint?, v6: SliceEndpoint?
        if pod.included {
            for t in service.addressTypes where !(t == "IPv6" ? pod.ipv6 : pod.ipv4).isEmpty {
                var ep = endpoint(pod, service: service, zone: node?.zone, addressType: t)
                ep.prepare()
                if t == "IPv6" { v6 = ep } else { v4 = ep }
            }
        }
        return PodContribution(podName: pod.name, included: pod.included, portKey: key, nodeName: pod.nodeName,
                               nodeMissing: node == nil, ipv4: v4, ipv6: v6, triggerTime: pod.readySince)
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

/// The containers and init containers of a pod: what named target ports resolve against. The arrays are the
/// pod spec's own (shared, not copied), so a digest that keeps them does not keep the rest of the pod.
public struct PodContainers: Sendable {
    public let containers: [JSON]
    public let initContainers: [JSON]

    public init(_ pod: JSONObject) {
        let spec = pod["spec"] ?? .null
        containers = spec["containers"].arrayValue ?? []
        initContainers = spec["initContainers"].arrayValue ?? []
    }

    public static let none = PodContainers(JSONObject())
}
