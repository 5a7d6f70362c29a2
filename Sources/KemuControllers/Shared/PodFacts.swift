import KemuAPI

/// What controllers read off a Pod, in one place.
public enum PodFacts {
    /// The `Ready` condition is True.
    public static func isReady(_ pod: JSONObject) -> Bool {
        condition(pod, "Ready") == "True"
    }

    public static func condition(_ pod: JSONObject, _ type: String) -> String? {
        for c in pod["status"]?["conditions"].arrayValue ?? [] where c["type"].stringValue == type {
            return c["status"].stringValue
        }
        return nil
    }

    /// `status.podIPs[*].ip`, falling back to `status.podIP`.
    public static func ips(_ pod: JSONObject) -> [String] {
        let list = (pod["status"]?["podIPs"].arrayValue ?? []).compactMap { $0["ip"].stringValue }.filter { !$0.isEmpty }
        if !list.isEmpty { return list }
        if let ip = pod["status"]?["podIP"].stringValue, !ip.isEmpty { return [ip] }
        return []
    }

    public static func isTerminating(_ pod: JSONObject) -> Bool { pod.deletionTimestamp != nil }

    public static func phase(_ pod: JSONObject) -> String { pod["status"]?["phase"].stringValue ?? "" }

    public static func nodeName(_ pod: JSONObject) -> String { pod["spec"]?["nodeName"].stringValue ?? "" }

    /// Resolves a Service port's `targetPort` against one pod: a number is used as is, a name is
    /// looked up among the pod's container ports with the same protocol; nil when it cannot be found.
    public static func resolveTargetPort(_ servicePort: JSON, pod: JSONObject) -> Int? {
        let proto = servicePort["protocol"].stringValue ?? "TCP"
        switch servicePort["targetPort"] {
        case .int(let n): return Int(n)
        case .string(let name):
            if let n = Int(name) { return n }
            for c in pod["spec"]?["containers"].arrayValue ?? [] {
                for p in c["ports"].arrayValue ?? [] where p["name"].stringValue == name && (p["protocol"].stringValue ?? "TCP") == proto {
                    if let n = p["containerPort"].intValue { return Int(n) }
                }
            }
            return nil
        default:
            return servicePort["port"].intValue.map { Int($0) }
        }
    }
}

/// What controllers read off a Service.
public enum ServiceFacts {
    /// The selector as a label map; nil when the Service has none (selectorless Services are not managed).
    public static func selector(_ svc: JSONObject) -> [String: String]? { svc.specSelector }

    /// `selector(svc)` matches `labels`. Runs once per pod per Service sync; a stored Service's selector map
    /// is made once (`JSONObject.specSelector`).
    public static func matches(_ svc: JSONObject, labels: [String: String]) -> Bool {
        guard let sel = svc.specSelector else { return false }
        for (k, v) in sel where labels[k] != v { return false }
        return true
    }

    public static func publishNotReadyAddresses(_ svc: JSONObject) -> Bool {
        svc["spec"]?["publishNotReadyAddresses"].boolValue ?? false
    }

    public static func type(_ svc: JSONObject) -> String { svc["spec"]?["type"].stringValue ?? "ClusterIP" }
}
