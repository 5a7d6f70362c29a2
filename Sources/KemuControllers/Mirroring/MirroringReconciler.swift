import KemuAPI

/// The writes that bring the mirrored EndpointSlices of one Endpoints object up to date.
public struct MirroringPlan: Sendable, Equatable {
    /// New slices (with `generateName`), in order.
    public var creates: [JSONObject] = []
    /// Whole replacement slices (with `name`), written unconditionally.
    public var updates: [JSONObject] = []
    /// Names of slices to delete.
    public var deletes: [String] = []
    /// Addresses skipped because their IP does not parse (upstream event `InvalidIPAddress`).
    public var invalidAddresses = 0
    /// Addresses not mirrored, invalid ones included (more than the invalid count means some
    /// subset exceeded the per-subset limit: upstream event `TooManyAddressesToMirror`).
    public var skippedAddresses = 0

    public init() {}
    public var isEmpty: Bool { creates.isEmpty && updates.isEmpty && deletes.isEmpty }
}

/// Mirrors custom Endpoints of selectorless Services into EndpointSlices (upstream
/// pkg/controller/endpointslicemirroring `reconciler`). Pure: existing slices in, writes out.
public enum MirroringReconciler {
    public static let controllerName = "endpointslicemirroring-controller.k8s.io"
    public static let managedByLabel = "endpointslice.kubernetes.io/managed-by"
    public static let serviceNameLabel = "kubernetes.io/service-name"
    public static let skipMirrorLabel = "endpointslice.kubernetes.io/skip-mirror"
    static let lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

    /// Not mirrored: the skip-mirror label set to exactly "true", or a leader-election record.
    public static func shouldMirror(_ endpoints: JSONObject) -> Bool {
        if endpoints.labels[skipMirrorLabel] == "true" { return false }
        if endpoints.annotations[EndpointsBuilder.leaderElectionAnnotation] != nil { return false }
        return true
    }

    /// A slice this controller owns for the Endpoints `name`: both labels must match.
    public static func isMirrored(_ slice: JSONObject, name: String) -> Bool { isMirrored(labels: slice.labels, name: name) }

    public static func isMirrored(labels l: [String: String], name: String) -> Bool {
        l[serviceNameLabel] == name && l[managedByLabel] == controllerName
    }

    public static func managedByMirroring(_ slice: JSONObject) -> Bool { slice.labels[managedByLabel] == controllerName }

    // MARK: endpoints

    /// One mirrored endpoint: identity (addresses, hostname, targetRef namespace/name) and value.
    struct Desired {
        var order: [String] = []
        var byIdentity: [String: JSON] = [:]
        mutating func insert(_ e: JSON) {
            let id = MirroringReconciler.identity(e)
            if byIdentity[id] == nil { order.append(id) }
            byIdentity[id] = e
        }
        var count: Int { order.count }
        var values: [JSON] { order.map { byIdentity[$0]! } }
    }

    static func identity(_ e: JSON) -> String {
        let addrs = (e["addresses"].arrayValue ?? []).compactMap(\.stringValue).sorted()
        return addrs.joined(separator: ",") + "|" + (e["hostname"].stringValue ?? "") + "|"
            + (e["targetRef"]["namespace"].stringValue ?? "") + "|" + (e["targetRef"]["name"].stringValue ?? "")
    }

    /// Equal beyond identity: node, zone, the three conditions and targetRef (resourceVersion ignored).
    static func equalBeyondIdentity(_ a: JSON, _ b: JSON) -> Bool {
        func ref(_ e: JSON) -> JSON {
            guard case .object(var o) = e["targetRef"] else { return .null }
            o["resourceVersion"] = nil
            return .object(o)
        }
        return a["nodeName"] == b["nodeName"] && a["zone"] == b["zone"]
            && a["conditions"]["ready"] == b["conditions"]["ready"]
            && a["conditions"]["serving"] == b["conditions"]["serving"]
            && a["conditions"]["terminating"] == b["conditions"]["terminating"]
            && ref(a) == ref(b)
    }

    /// An Endpoints address as an EndpointSlice endpoint and its address type; nil for a bad IP.
    static func endpoint(_ address: JSON, ready: Bool) -> (JSON, String)? {
        guard let ip = IPAddress.sloppyCanonical(address["ip"].stringValue ?? "") else { return nil }
        var e = JSONObject()
        e["addresses"] = [.string(ip.text)]
        e["conditions"] = ["ready": .bool(ready)]
        if let h = address["hostname"].stringValue, !h.isEmpty { e["hostname"] = .string(h) }
        if case .object(let ref) = address["targetRef"] { e["targetRef"] = .object(ref) }
        if let n = address["nodeName"].stringValue { e["nodeName"] = .string(n) }
        return (.object(e), ip.isIPv6 ? "IPv6" : "IPv4")
    }

    // MARK: ports

    /// Endpoints ports as EndpointSlice ports, one for one.
    static func slicePorts(_ ports: [JSON]) -> [JSON] {
        ports.map { p in
            var o = JSONObject()
            o["name"] = .string(p["name"].stringValue ?? "")
            o["port"] = p["port"]
            o["protocol"] = .string(p["protocol"].stringValue ?? "TCP")
            if let a = p["appProtocol"].stringValue { o["appProtocol"] = .string(a) }
            return .object(o)
        }
    }

    /// Order-insensitive key of an address type and a set of slice ports.
    static func groupKey(addressType: String, ports: [JSON]) -> String {
        let parts = ports.map { p -> String in
            let port = p["port"].intValue.map(String.init) ?? "nil"
            let app = p["appProtocol"].stringValue.map { "=" + $0 } ?? "~"
            return "\(p["name"].stringValue ?? "")/\(port)/\(p["protocol"].stringValue ?? "TCP")/\(app)"
        }.sorted()
        return addressType + "-" + parts.joined(separator: ",")
    }

    // MARK: slices

    /// A fresh mirrored slice: the Endpoints' labels and annotations, its controller reference.
    static func newSlice(endpoints: JSONObject, ports: [JSON], addressType: String, name: String?, items: [JSON]) -> JSONObject {
        var labels = endpoints.labels
        labels[serviceNameLabel] = endpoints.name
        labels[managedByLabel] = controllerName
        var annotations = endpoints.annotations
        annotations[EndpointsBuilder.triggerTimeAnnotation] = nil
        annotations[lastAppliedAnnotation] = nil
        var meta = JSONObject()
        if let name { meta["name"] = .string(name) } else { meta["generateName"] = .string(endpoints.name + "-") }
        meta["namespace"] = .string(endpoints.namespace)
        meta["labels"] = .stringMap(labels)
        if !annotations.isEmpty { meta["annotations"] = .stringMap(annotations) }
        meta["ownerReferences"] = [[
            "apiVersion": "v1", "kind": "Endpoints",
            "name": .string(endpoints.name), "uid": .string(endpoints.uid),
            "controller": true, "blockOwnerDeletion": true,
        ]]
        return [
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": .object(meta),
            "addressType": .string(addressType),
            "endpoints": .array(items),
            "ports": .array(ports),
        ]
    }

    /// The plan for `endpoints` given the slices already mirrored for it (in list order).
    public static func reconcile(endpoints: JSONObject, existing: [JSONObject], maxEndpointsPerSubset: Int) -> MirroringPlan {
        var plan = MirroringPlan()
        var keyOrder: [String] = []
        var desired: [String: Desired] = [:]
        var portsByKey: [String: [JSON]] = [:]
        var typeByKey: [String: String] = [:]

        for subset in EndpointSubsets.repack(endpoints["subsets"]?.arrayValue ?? []) {
            let ports = slicePorts(subset["ports"].arrayValue ?? [])
            var keys: [String: String] = [:]
            for t in ["IPv4", "IPv6"] {
                let k = groupKey(addressType: t, ports: ports)
                keys[t] = k
                if desired[k] == nil { desired[k] = Desired(); keyOrder.append(k) }
                portsByKey[k] = ports
                typeByKey[k] = t
            }
            let ready = subset["addresses"].arrayValue ?? []
            let notReady = subset["notReadyAddresses"].arrayValue ?? []
            var added = 0
            for (list, isReady) in [(ready, true), (notReady, false)] {
                for a in list {
                    if added >= maxEndpointsPerSubset { break }
                    if case let (e, t)? = endpoint(a, ready: isReady) {
                        desired[keys[t]!]!.insert(e)
                        added += 1
                    } else {
                        plan.invalidAddresses += 1
                    }
                }
            }
            plan.skippedAddresses += ready.count + notReady.count - added
        }

        var existingOrder: [String] = []
        var existingByKey: [String: [JSONObject]] = [:]
        for s in existing {
            let k = groupKey(addressType: s["addressType"]?.stringValue ?? "", ports: s["ports"]?.arrayValue ?? [])
            if existingByKey[k] == nil { existingOrder.append(k) }
            existingByKey[k, default: []].append(s)
        }

        var creates: [JSONObject] = []
        var updates: [JSONObject] = []
        var deletes: [JSONObject] = []
        let compareAnnotations: [String: String] = {
            var a = endpoints.annotations
            a[EndpointsBuilder.triggerTimeAnnotation] = nil
            a[lastAppliedAnnotation] = nil
            return a
        }()

        for k in keyOrder {
            let want = desired[k]!
            let have = existingByKey[k] ?? []
            if want.count == 0 { deletes += have; continue }
            if let first = have.first {
                deletes += have.dropFirst()
                var removed = 0, changed = 0, matched = 0
                for e in first["endpoints"]?.arrayValue ?? [] {
                    if let d = want.byIdentity[identity(e)] {
                        matched += 1
                        if !equalBeyondIdentity(d, e) { changed += 1 }
                    } else {
                        removed += 1
                    }
                }
                var compareLabels = first.labels
                compareLabels[managedByLabel] = nil
                compareLabels[serviceNameLabel] = nil
                if removed == 0 && changed == 0 && want.count - matched == 0
                    && endpoints.labels == compareLabels && compareAnnotations == first.annotations {
                    continue
                }
            }
            let items = Array(want.values.prefix(maxEndpointsPerSubset))
            let slice = newSlice(endpoints: endpoints, ports: portsByKey[k]!, addressType: typeByKey[k]!,
                                 name: have.first?.name, items: items)
            if have.isEmpty { creates.append(slice) } else { updates.append(slice) }
        }
        for k in existingOrder where desired[k] == nil { deletes += existingByKey[k]! }

        // Recycle: a slice about to be deleted takes the place of a new one of the same address type.
        for t in ["IPv4", "IPv6"] {
            let createIdx = creates.indices.filter { creates[$0]["addressType"]?.stringValue == t }
            let deleteIdx = deletes.indices.filter { deletes[$0]["addressType"]?.stringValue == t }
            for (c, d) in zip(createIdx, deleteIdx) {
                var slice = creates[c]
                slice.withObject("metadata") { m in
                    var out = JSONObject()
                    out["name"] = .string(deletes[d].name)
                    for (key, v) in m where key != "generateName" { out[key] = v }
                    m = out
                }
                updates.append(slice)
            }
            let usedC = Set(createIdx.prefix(min(createIdx.count, deleteIdx.count)))
            let usedD = Set(deleteIdx.prefix(min(createIdx.count, deleteIdx.count)))
            creates = creates.indices.filter { !usedC.contains($0) }.map { creates[$0] }
            deletes = deletes.indices.filter { !usedD.contains($0) }.map { deletes[$0] }
        }

        // No new slices for an Endpoints object that is going away.
        plan.creates = endpoints.deletionTimestamp == nil ? creates : []
        plan.updates = updates
        plan.deletes = deletes.map(\.name)
        return plan
    }
}
