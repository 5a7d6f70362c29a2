import KemuAPI
import KemuRegistry

/// The Nodes kemu creates at start: `kemu-node-1` … `kemu-node-N`, spread round-robin over the zones (or the
/// nodes a cluster file describes), Ready, with kubelet-style labels, capacity, nodeInfo, addresses and a
/// podCIDR per IP family.
enum NodeBootstrap {
    static func name(_ i: Int) -> String { "kemu-node-\(i)" }

    /// Deterministic lowercase hex of `count` digits derived from `seed` (FNV-1a, re-mixed).
    static func hex(_ seed: String, _ count: Int) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in seed.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        var out = ""
        while out.count < count {
            h = (h ^ (h >> 29)) &* 0xbf58_476d_1ce4_e5b9
            h ^= h >> 32
            let s = String(h, radix: 16)
            out += String(repeating: "0", count: 16 - s.count) + s
        }
        return String(out.prefix(count))
    }

    static func uuidLike(_ seed: String) -> String {
        let h = Array(hex(seed, 32))
        return String(h[0..<8]) + "-" + String(h[8..<12]) + "-" + String(h[12..<16]) + "-" + String(h[16..<20]) + "-" + String(h[20..<32])
    }

    static func condition(_ type: String, _ status: String, _ reason: String, _ message: String, _ now: String) -> JSON {
        ["type": .string(type), "status": .string(status), "lastHeartbeatTime": .string(now), "lastTransitionTime": .string(now),
         "reason": .string(reason), "message": .string(message)]
    }

    /// The Node object for kemu node number `i` (1-based) as `--nodes` makes it; `cidrs` are its pod ranges.
    static func node(_ i: Int, options o: ClusterOptions, cidrs: [CIDR], now: String = Timestamp.now()) -> JSONObject {
        node(PlannedNode(spec: NodeSpec(name: name(i), zone: o.zone(ofNode: i), origin: "nodes"), index: i, cidrs: cidrs), options: o, now: now)
    }

    /// The Node object for a planned node: kubelet-style labels (the spec's own on top), taints, capacity and pod ranges.
    static func node(_ p: PlannedNode, options o: ClusterOptions, now: String = Timestamp.now()) -> JSONObject {
        let name = p.spec.name
        let zone = p.spec.zone
        var labels: [String: String] = [
            "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", ClusterLabels.hostname: name,
            ClusterLabels.zone: zone, ClusterLabels.region: o.region, ClusterLabels.instanceType: o.instanceType,
            "failure-domain.beta.kubernetes.io/zone": zone, "failure-domain.beta.kubernetes.io/region": o.region,
            ClusterLabels.simulated: "true",
        ]
        labels.merge(p.spec.labels) { _, own in own }
        let meta: JSONObject = [
            "name": .string(name), "labels": .stringMap(labels),
            "annotations": .stringMap([ClusterLabels.simulated: "true", "node.alpha.kubernetes.io/ttl": "0",
                                       "volumes.kubernetes.io/controller-managed-attach-detach": "true"]),
        ]
        var spec: JSONObject = ["providerID": .string("kemu://\(o.region)/\(zone)/\(name)")]
        if let first = p.cidrs.first {
            spec["podCIDR"] = .string(first.text)
            spec["podCIDRs"] = .array(p.cidrs.map { .string($0.text) })
        }
        if p.spec.unschedulable { spec["unschedulable"] = true }
        if !p.spec.taints.isEmpty {
            spec["taints"] = .array(p.spec.taints.map { t in
                var o: JSONObject = ["key": .string(t.key), "effect": .string(t.effect)]
                if !t.value.isEmpty { o["value"] = .string(t.value) }
                return .object(o)
            })
        }
        let resources: JSON = ["cpu": .string(p.spec.cpu ?? o.nodeCPU), "ephemeral-storage": "100Gi", "hugepages-1Gi": "0",
                               "hugepages-2Mi": "0", "memory": .string(p.spec.memory ?? o.nodeMemory),
                               "pods": .string(String(p.spec.pods ?? o.maxPodsPerNode))]
        let status: JSONObject = [
            "capacity": resources, "allocatable": resources,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", now),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", now),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", now),
            ],
            "addresses": [["type": "InternalIP", "address": .string(ClusterOptions.nodeAddress(p.index))],
                          ["type": "Hostname", "address": .string(name)]],
            "daemonEndpoints": ["kubeletEndpoint": ["Port": 10250]],
            "nodeInfo": [
                "machineID": .string(hex(name + "/machine", 32)), "systemUUID": .string(uuidLike(name + "/system")),
                "bootID": .string(uuidLike(name + "/boot")), "kernelVersion": "6.8.0-kemu",
                "osImage": "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion": "containerd://1.7.24",
                "kubeletVersion": .string(o.kubeletVersion), "kubeProxyVersion": .string(o.kubeletVersion),
                "operatingSystem": "linux", "architecture": "amd64",
            ],
            "images": [],
        ]
        return ["apiVersion": "v1", "kind": "Node", "metadata": .object(meta), "spec": .object(spec), "status": .object(status)]
    }

    /// Creates the missing kemu nodes (existing ones are left as they are), with field manager `kubelet`.
    static func create(storage: ObjectStorage, options o: ClusterOptions) throws {
        for p in try o.plan() {
            let name = p.spec.name
            if storage.store.get(ResourceKind.node.groupResource, namespace: "", name: name) != nil { continue }
            _ = try storage.create(.node, namespace: "", body: node(p, options: o), options: WriteOptions(fieldManager: "kubelet"))
            // Should create drop the status, set it through nodes/status.
            if storage.store.get(ResourceKind.node.groupResource, namespace: "", name: name)?.object["status"]?["nodeInfo"] == nil {
                let status = node(p, options: o)["status"]
                _ = try storage.update(.node, namespace: "", name: name, subresource: "status",
                                       options: WriteOptions(fieldManager: "kubelet")) { cur in
                    var n = cur; n["status"] = status; return n
                }
            }
        }
    }
}
