import KemuAPI

/// What the legacy Endpoints controller wants an `Endpoints` object to be, from a Service and
/// its Pods (upstream pkg/controller/endpoint `syncService`). Pure: no storage, no clocks.
public enum EndpointsBuilder {
    public static let managedByLabel = "endpoints.kubernetes.io/managed-by"
    public static let controllerName = "endpoint-controller"
    public static let headlessLabel = "service.kubernetes.io/headless"
    public static let overCapacityAnnotation = "endpoints.kubernetes.io/over-capacity"
    public static let triggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time"
    public static let leaderElectionAnnotation = "control-plane.alpha.kubernetes.io/leader"
    /// At most this many addresses (ready + not ready) are stored in one Endpoints object.
    public static let maxCapacity = 1000

    // MARK: pods

    /// Terminal pods and pods without an IP never appear; terminating pods only when the
    /// Service publishes not-ready addresses.
    public static func shouldPodBeInEndpoints(_ pod: JSONObject, includeTerminating: Bool) -> Bool {
        let phase = PodFacts.phase(pod)
        if phase == "Succeeded" || phase == "Failed" { return false }
        let podIP = pod["status"]?["podIP"].stringValue ?? ""
        let podIPs = pod["status"]?["podIPs"].arrayValue ?? []
        if podIP.isEmpty && podIPs.isEmpty { return false }
        if !includeTerminating && PodFacts.isTerminating(pod) { return false }
        return true
    }

    /// The one address a pod contributes: the first `status.podIPs` entry of the Service's primary
    /// IP family; nil when the pod has none.
    public static func address(service: JSONObject, pod: JSONObject) -> JSON? {
        var wantV6 = false
        if let first = service["spec"]?["ipFamilies"].arrayValue?.first?.stringValue {
            wantV6 = first == "IPv6"
        } else {
            let clusterIP = service["spec"]?["clusterIP"].stringValue ?? ""
            if !clusterIP.isEmpty && clusterIP != "None" {
                wantV6 = isIPv6String(clusterIP)
            } else {
                wantV6 = isIPv6String(pod["status"]?["podIP"].stringValue ?? "")
            }
        }
        var ip: String?
        for entry in pod["status"]?["podIPs"].arrayValue ?? [] {
            let s = entry["ip"].stringValue ?? ""
            if wantV6 == isIPv6String(s) { ip = s; break }
        }
        guard let ip, !ip.isEmpty else { return nil }
        var a = JSONObject()
        a["ip"] = .string(ip)
        if shouldSetHostname(pod: pod, service: service), let h = pod["spec"]?["hostname"].stringValue {
            a["hostname"] = .string(h)
        }
        // Always present, even when the pod is not scheduled yet.
        a["nodeName"] = .string(PodFacts.nodeName(pod))
        a["targetRef"] = [
            "kind": "Pod",
            "namespace": .string(pod.namespace),
            "name": .string(pod.name),
            "uid": .string(pod.uid),
        ]
        return .object(a)
    }

    /// A pod's hostname is published when its subdomain names this Service (same namespace).
    public static func shouldSetHostname(pod: JSONObject, service: JSONObject) -> Bool {
        let hostname = pod["spec"]?["hostname"].stringValue ?? ""
        return !hostname.isEmpty && pod["spec"]?["subdomain"].stringValue == service.name && pod.namespace == service.namespace
    }

    /// Resolves a Service port's targetPort on a pod: numbers as is; names among the containers'
    /// ports with the same protocol, then among restartable init containers (sidecars).
    public static func findPort(pod: JSONObject, servicePort: JSON) -> Int? {
        let proto = servicePort["protocol"].stringValue ?? "TCP"
        switch servicePort["targetPort"] {
        case .int(let n): return Int(n)
        case .double(let d): return Int(d)
        case .string(let name):
            func search(_ containers: [JSON]) -> Int? {
                for c in containers {
                    for p in c["ports"].arrayValue ?? [] where p["name"].stringValue == name && (p["protocol"].stringValue ?? "TCP") == proto {
                        if let n = p["containerPort"].intValue { return Int(n) }
                    }
                }
                return nil
            }
            if let n = search(pod["spec"]?["containers"].arrayValue ?? []) { return n }
            let sidecars = (pod["spec"]?["initContainers"].arrayValue ?? []).filter { $0["restartPolicy"].stringValue == "Always" }
            return search(sidecars)
        case .null:
            // The API defaults targetPort to port; tolerate objects that skipped defaulting.
            return servicePort["port"].intValue.map { Int($0) }
        default:
            return nil
        }
    }

    // MARK: subsets

    /// The repacked (not yet truncated) subsets for a Service and the pods its selector matches.
    public static func subsets(service: JSONObject, pods: [JSONObject]) -> [JSON] {
        let publishNotReady = ServiceFacts.publishNotReadyAddresses(service)
        let ports = service["spec"]?["ports"].arrayValue ?? []
        let headless = service["spec"]?["clusterIP"].stringValue == "None"
        var raw: [JSON] = []
        for pod in pods {
            guard shouldPodBeInEndpoints(pod, includeTerminating: publishNotReady) else { continue }
            guard let address = address(service: service, pod: pod) else { continue }
            let ready = publishNotReady || PodFacts.isReady(pod)
            func subset(_ port: JSON?) -> JSON {
                var s = JSONObject()
                s[ready ? "addresses" : "notReadyAddresses"] = [address]
                if let port { s["ports"] = [port] }
                return .object(s)
            }
            if ports.isEmpty {
                // A headless Service may have no ports: one port-less subset per pod.
                if headless { raw.append(subset(nil)) }
            } else {
                for sp in ports {
                    guard let n = findPort(pod: pod, servicePort: sp) else { continue }
                    var p = JSONObject()
                    if let name = sp["name"].stringValue, !name.isEmpty { p["name"] = .string(name) }
                    p["port"] = .int(Int64(n))
                    p["protocol"] = .string(sp["protocol"].stringValue ?? "TCP")
                    if let a = sp["appProtocol"].stringValue { p["appProtocol"] = .string(a) }
                    raw.append(subset(.object(p)))
                }
            }
        }
        return EndpointSubsets.repack(raw)
    }

    /// Caps the addresses at `maxCapacity`, preferring ready ones and sharing the room among
    /// subsets in proportion to their size. Returns whether anything had to be cut.
    public static func truncate(_ subsets: [JSON], capacity: Int = maxCapacity) -> (subsets: [JSON], truncated: Bool) {
        var totalReady = 0, totalNotReady = 0
        for s in subsets {
            totalReady += s["addresses"].arrayValue?.count ?? 0
            totalNotReady += s["notReadyAddresses"].arrayValue?.count ?? 0
        }
        if totalReady + totalNotReady <= capacity { return (subsets, false) }
        let truncateReady = totalReady > capacity
        let room = truncateReady ? capacity : capacity - totalReady
        let total = truncateReady ? totalReady : totalNotReady
        var canBeAdded = room
        var out: [JSON] = []
        for s in subsets {
            guard case .object(var o) = s else { out.append(s); continue }
            let ready = s["addresses"].arrayValue ?? []
            let notReady = s["notReadyAddresses"].arrayValue ?? []
            let inSubset = truncateReady ? ready.count : notReady.count
            var toBeAdded = Int((Double(inSubset) / Double(total) * Double(room)).rounded(.up))
            if toBeAdded > canBeAdded { toBeAdded = canBeAdded }
            if truncateReady {
                let kept = Array(ready.prefix(toBeAdded))
                o["addresses"] = kept.isEmpty ? nil : .array(kept)
                o["notReadyAddresses"] = nil
                canBeAdded -= kept.count
            } else {
                let kept = Array(notReady.prefix(toBeAdded))
                o["notReadyAddresses"] = kept.isEmpty ? nil : .array(kept)
                canBeAdded -= kept.count
            }
            out.append(.object(o))
        }
        return (out, true)
    }

    // MARK: the object

    /// A Service "has an IP" unless its clusterIP is empty or `None` (headless).
    public static func isServiceIPSet(_ service: JSONObject) -> Bool {
        let ip = service["spec"]?["clusterIP"].stringValue ?? ""
        return !ip.isEmpty && ip != "None"
    }

    /// The Service's labels plus the controller's managed-by label.
    static func serviceLabelsWithManagedBy(_ service: JSONObject) -> [String: String] {
        var labels = service.labels
        labels[managedByLabel] = controllerName
        return labels
    }

    /// Labels the controller writes: the Service's, managed-by, and the headless marker when the
    /// Service has no cluster IP.
    public static func desiredLabels(_ service: JSONObject) -> [String: String] {
        var labels = serviceLabelsWithManagedBy(service)
        if isServiceIPSet(service) { labels[headlessLabel] = nil } else { labels[headlessLabel] = "" }
        return labels
    }

    /// The over-capacity annotation is right when the stored addresses fit and it is absent.
    static func capacityAnnotationSetCorrectly(_ current: JSONObject) -> Bool {
        let stored = current["subsets"]?.arrayValue ?? []
        if EndpointSubsets.addressCount(stored) > maxCapacity { return false }
        return current.annotations[overCapacityAnnotation] == nil
    }

    /// The object to write for `service`, given the desired (repacked) `subsets` and what is
    /// stored; nil when the stored object is already right (trigger time alone never causes a
    /// write). `triggerTime` is the RFC 3339 last-change trigger time, nil when there is none.
    public static func reconcile(service: JSONObject, subsets: [JSON], current: JSONObject?, triggerTime: String?) -> JSONObject? {
        // Compared after truncation: upstream compares the full desired subsets, so a Service with more
        // than 1,000 addresses is rewritten on every sync; kemu, which also resyncs after edits, would
        // otherwise write such an object twice.
        let (written, truncated) = truncate(subsets)
        if let current {
            var compareLabels = current.labels
            compareLabels[headlessLabel] = nil
            if EndpointSubsets.comparable(current["subsets"]) == EndpointSubsets.comparable(.array(written)),
               compareLabels == serviceLabelsWithManagedBy(service),
               capacityAnnotationSetCorrectly(current) {
                return nil
            }
        }
        var obj: JSONObject = current ?? [
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": ["name": .string(service.name), "namespace": .string(service.namespace)],
        ]
        var annotations = current?.annotations ?? [:]
        annotations[triggerTimeAnnotation] = triggerTime
        annotations[overCapacityAnnotation] = truncated ? "truncated" : nil
        var meta = obj.metadata
        meta["labels"] = .stringMap(desiredLabels(service))
        meta["annotations"] = annotations.isEmpty ? nil : .stringMap(annotations)
        obj.metadata = meta
        obj["subsets"] = written.isEmpty ? nil : .array(written)
        return obj
    }

    // MARK: helpers

    /// Go's `utilnet.IsIPv6String`: parses as an IP that has no IPv4 form.
    static func isIPv6String(_ s: String) -> Bool {
        guard let bytes = IPText.parse(s) else { return false }
        return bytes.count == 16 && !IPText.isV4Mapped(bytes)
    }
}

/// Which Services a pod event concerns (upstream `GetServicesToUpdateOnPodChange`).
public enum EndpointsPodChange {
    /// (pod changed in a way endpoints show, labels/hostname/subdomain changed).
    public static func changes(old: JSONObject, new: JSONObject) -> (podChanged: Bool, labelsChanged: Bool) {
        let labelsChanged = old.labels != new.labels
            || old["spec"]?["hostname"].stringValue != new["spec"]?["hostname"].stringValue
            || old["spec"]?["subdomain"].stringValue != new["spec"]?["subdomain"].stringValue
        if old.deletionTimestamp != new.deletionTimestamp { return (true, labelsChanged) }
        if PodFacts.isReady(old) != PodFacts.isReady(new) { return (true, labelsChanged) }
        let oldIPs = (old["status"]?["podIPs"].arrayValue ?? []).map { $0["ip"].stringValue ?? "" }
        let newIPs = (new["status"]?["podIPs"].arrayValue ?? []).map { $0["ip"].stringValue ?? "" }
        return (oldIPs != newIPs, labelsChanged)
    }

    /// Keys (`ns/name`) of the Services among `services` whose selector matches `labels`.
    public static func memberships(_ services: [JSONObject], labels: [String: String]) -> Set<String> {
        var keys = Set<String>()
        for s in services where ServiceFacts.matches(s, labels: labels) { keys.insert(s.namespace + "/" + s.name) }
        return keys
    }

    /// The Services to resync after a pod update.
    public static func servicesToUpdate(_ services: [JSONObject], old: JSONObject, new: JSONObject) -> Set<String> {
        if old.resourceVersion == new.resourceVersion && !old.resourceVersion.isEmpty { return [] }
        let (podChanged, labelsChanged) = changes(old: old, new: new)
        if !podChanged && !labelsChanged { return [] }
        let current = memberships(services, labels: new.labels)
        guard labelsChanged else { return current }
        let previous = memberships(services, labels: old.labels)
        return podChanged ? current.union(previous) : current.symmetricDifference(previous)
    }
}

/// The `endpoints.kubernetes.io/last-change-trigger-time` bookkeeping (upstream
/// `TriggerTimeTracker`): per Service, the pods' Ready transition times seen at the last sync.
public struct EndpointsTriggerTimeTracker: Sendable {
    struct ServiceState: Sendable { var podTimes: [String: Int] = [:]; var serviceTime: Int? }
    var services: [String: ServiceState] = [:]

    public init() {}

    /// The trigger time (epoch seconds) for a sync of `service` over `pods`: the Service creation
    /// time on the first sync, else the earliest newer Ready transition; nil when nothing changed.
    public mutating func compute(service: JSONObject, pods: [JSONObject]) -> Int? {
        let key = service.namespace + "/" + service.name
        let known = services[key] != nil
        let state = services[key] ?? ServiceState()
        var minChanged: Int?
        var podTimes: [String: Int] = [:]
        for pod in pods {
            guard let t = Self.podTriggerTime(pod) else { continue }
            podTimes[pod.name] = t
            if t > (state.podTimes[pod.name] ?? Int.min) { minChanged = min(minChanged ?? t, t) }
        }
        let serviceTime = service.metadata.string("creationTimestamp").flatMap(Timestamp.parse)
        if let st = serviceTime, st > (state.serviceTime ?? Int.min) { minChanged = min(minChanged ?? st, st) }
        services[key] = ServiceState(podTimes: podTimes, serviceTime: serviceTime)
        if !known { return serviceTime }
        return minChanged
    }

    public mutating func forget(namespace: String, name: String) { services[namespace + "/" + name] = nil }

    static func podTriggerTime(_ pod: JSONObject) -> Int? {
        for c in pod["status"]?["conditions"].arrayValue ?? [] where c["type"].stringValue == "Ready" {
            return c["lastTransitionTime"].stringValue.flatMap(Timestamp.parse)
        }
        return nil
    }
}

/// Lenient IP text handling shared by the endpoints and mirroring code (Go's `ParseIPSloppy`
/// and `net.IP.String`): IPv4 fields may carry leading zeros; IPv6 may embed an IPv4 tail.
public enum IPText {
    /// 4 bytes for IPv4 text, 16 bytes for IPv6 text; nil when unparsable.
    public static func parse(_ s: String) -> [UInt8]? {
        if s.contains(":") { return parseV6(Substring(s)) }
        return parseV4(Substring(s))
    }

    static func parseV4(_ s: Substring) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 10, p.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(p), n <= 255 else { return nil }
            out.append(UInt8(n))
        }
        return out
    }

    static func parseV6(_ s: Substring) -> [UInt8]? {
        var text = s
        var tail: [UInt8] = []
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard let v4 = parseV4(text[text.index(after: lastColon)...]) else { return nil }
            tail = v4
            text = text[...lastColon]
            // "a:b::1.2.3.4" keeps its "::"; "a:...:1.2.3.4" drops the separator.
            if text.hasSuffix(":") && !text.hasSuffix("::") { text = text.dropLast() }
        }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ t: String) -> [UInt16]? {
            if t.isEmpty { return [] }
            var g: [UInt16] = []
            for part in t.split(separator: ":", omittingEmptySubsequences: false) {
                guard !part.isEmpty, part.count <= 4, let v = UInt16(part, radix: 16) else { return nil }
                g.append(v)
            }
            return g
        }
        guard let head = groups(halves[0]) else { return nil }
        let rest = halves.count == 2 ? groups(halves[1]) : []
        guard let rest else { return nil }
        let tailGroups = tail.count / 2
        let used = head.count + rest.count + tailGroups
        var all: [UInt16]
        if halves.count == 2 {
            guard used < 8 else { return nil }
            all = head + Array(repeating: 0, count: 8 - used) + rest
        } else {
            guard used == 8 else { return nil }
            all = head
        }
        var bytes = all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
        bytes += tail
        return bytes.count == 16 ? bytes : nil
    }

    /// `::ffff:a.b.c.d`
    public static func isV4Mapped(_ b: [UInt8]) -> Bool {
        b.count == 16 && b[0..<10].allSatisfy { $0 == 0 } && b[10] == 0xff && b[11] == 0xff
    }

    /// Go's `net.IP.String` of parsed bytes: dotted for IPv4 (and IPv4-mapped IPv6), else
    /// lowercase hex with the longest run of two or more zero groups compressed.
    public static func format(_ b: [UInt8]) -> String {
        if b.count == 4 { return b.map { String($0) }.joined(separator: ".") }
        if isV4Mapped(b) { return b[12...].map { String($0) }.joined(separator: ".") }
        var groups: [UInt16] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(UInt16(b[i]) << 8 | UInt16(b[i + 1])) }
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        let hex = groups.map { String($0, radix: 16) }
        if bestStart < 0 { return hex.joined(separator: ":") }
        return hex[0..<bestStart].joined(separator: ":") + "::" + hex[(bestStart + bestLen)...].joined(separator: ":")
    }

    /// True when the IP has a 4-byte form (IPv4 or IPv4-mapped IPv6).
    public static func isV4(_ b: [UInt8]) -> Bool { b.count == 4 || isV4Mapped(b) }
}
