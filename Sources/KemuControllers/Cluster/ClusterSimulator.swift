import Dispatch
import FoundationEssentials
import KemuAPI
import KemuRegistry
import KemuStore

/// Simulated nodes, scheduler, kubelet and node lifecycle in one controller, sharing one view of
/// nodes and bound pods on one serial queue:
///
/// - `bootstrapNodes()` creates `kemu-node-1…N` (call it before the server listens);
/// - the scheduler (`Scheduler.swift`) binds pending pods without `spec.nodeName`;
/// - the kubelet (`Kubelet.swift`) runs pods bound to simulated nodes (labelled or annotated
///   `kemu.dev/simulated: "true"`); pods on other nodes are left alone;
/// - the node lifecycle part (`NodeLifecycle.swift`) evicts pods from NotReady nodes and deletes
///   the pods of deleted simulated nodes.
public final class ClusterSimulator: Controller, @unchecked Sendable {
    public let name = "cluster-simulator"
    let storage: ObjectStorage
    let options: ControllerOptions
    let cluster: ClusterOptions
    let queue = DispatchQueue(label: "kemu.cluster")
    var feeds: [EventFeed] = []
    let podRanges: [CIDR]

    struct SimNode {
        var name: String
        var simulated = false
        var unschedulable = false
        /// The Ready condition: nil when absent.
        var ready: String?
        var notReadySince: Double?
        var labels: [String: String] = [:]
        var taints: [JSON] = []
        var zone = ""
        var hostIPs: [String] = []
        var maxPods = 110
        var allocator: PodIPAllocator?
        var subnetIndex: Int?
        /// Keys of non-terminal pods bound here.
        var pods: Set<String> = []
        var isReady: Bool { ready == "True" }
    }

    struct SimPod {
        var uid: String
        var node: String
        var ipOffset: Int?
        /// When kemu's kubelet started it (epoch seconds, sub-second).
        var startedAt: Double?
    }

    // Queue-only state.
    var nodes: [String: SimNode] = [:]
    var pods: [String: SimPod] = [:]
    var pending: Set<String> = []
    var retryScheduled = false
    var finishing: Set<String> = []
    var wakeups: [String: Double] = [:]
    var nextSubnetCandidate = 0
    var schedulingIndex = SchedulingIndex()
    var usedSubnets: Set<Int> = []
    var stopped = false

    public init(storage: ObjectStorage, options: ControllerOptions = ControllerOptions(), cluster: ClusterOptions = ClusterOptions()) {
        self.storage = storage
        self.options = options
        self.cluster = cluster
        podRanges = cluster.podRanges()
    }

    /// Creates the configured nodes that do not exist yet. Call before `start()` and before serving.
    public func bootstrapNodes() throws {
        try NodeBootstrap.create(storage: storage, options: cluster)
    }

    public func start() {
        queue.sync { stopped = false }
        feeds = follow(storage, kinds: [.node, .pod], queue: queue, initial: { [self] kind, items in
            for o in items {
                if kind.kind == "Node" { nodeChanged(o.object) } else { podChanged(o.object, key: o.key) }
            }
        }, handler: { [self] e in
            guard !stopped else { return }
            if e.resource == ResourceKind.node.groupResource {
                if e.type == .deleted { nodeDeleted(e.object.object) } else { nodeChanged(e.object.object) }
            } else if e.resource == ResourceKind.pod.groupResource {
                if e.type == .deleted { podDeleted(e.object.object, key: e.object.key) } else { podChanged(e.object.object, key: e.object.key) }
            }
        })
    }

    public func stop() {
        unfollow(storage, feeds)
        feeds = []
        queue.sync { stopped = true }
    }

    /// Runs `body` on the controller's queue after what is queued so far (tests).
    func sync<T>(_ body: () -> T) -> T { queue.sync(execute: body) }

    static func now() -> Double { Date().timeIntervalSince1970 }

    func podObject(_ key: String) -> JSONObject? {
        guard let slash = key.firstIndex(of: "/") else { return nil }
        return storage.store.get(ResourceKind.pod.groupResource, namespace: String(key[..<slash]),
                                 name: String(key[key.index(after: slash)...]))?.object
    }

    /// Runs `body` for `key` on the queue after `delay` seconds, once per key for the earliest time asked.
    func wake(_ key: String, at time: Double, _ body: @escaping @Sendable () -> Void) {
        if let t = wakeups[key], t <= time, t > Self.now() - 1 { return }
        wakeups[key] = time
        queue.asyncAfter(deadline: .now() + max(0, time - Self.now()) + 0.001) { [self] in
            guard !stopped else { return }
            if wakeups[key] == time { wakeups[key] = nil }
            body()
        }
    }

    // MARK: pods

    static func isTerminal(_ pod: JSONObject) -> Bool {
        let p = PodFacts.phase(pod)
        return p == "Succeeded" || p == "Failed"
    }

    /// `key`: the stored version's key (one string shared with the store).
    func podChanged(_ pod: JSONObject, key: String) {
        if let old = pods[key], old.uid != pod.uid { release(key) }
        let nodeName = PodFacts.nodeName(pod)
        if nodeName.isEmpty {
            if cluster.schedulerEnabled && Scheduler.wantsScheduling(pod) {
                pending.insert(key)
                schedule(key)
            } else {
                pending.remove(key)
            }
            return
        }
        pending.remove(key)
        if Self.isTerminal(pod) {
            // Terminal pods hold no node slot; their IP stays recorded in status but is free for reuse.
            if pods[key] != nil { release(key) }
            if nodes[nodeName]?.simulated == true, pod.deletionTimestamp != nil { finishDeletion(pod, graceful: false) }
            return
        }
        if pods[key] == nil {
            pods[key] = SimPod(uid: pod.uid, node: nodeName)
            nodes[nodeName]?.pods.insert(key)
            nodeCountsChanged(nodeName)
        }
        if let n = nodes[nodeName] {
            evictIfNodeLongNotReady(n, podKey: key, pod: pod)
            if n.simulated { runKubelet(key, pod: pod) }
        }
    }

    func podDeleted(_ pod: JSONObject, key: String) {
        pending.remove(key)
        finishing.remove(pod.uid)
        if let p = pods[key], p.uid == pod.uid { release(key) }
    }

    /// Forgets a bound pod: frees its node slot and address.
    func release(_ key: String) {
        guard let p = pods.removeValue(forKey: key) else { return }
        if nodes[p.node] != nil {
            nodes[p.node]!.pods.remove(key)
            if let off = p.ipOffset { nodes[p.node]!.allocator?.release(off) }
            nodeCountsChanged(p.node)
        }
        if !pending.isEmpty { retryPendingSoon() }
    }

    // MARK: nodes

    /// Tells the scheduler's index a node's zone or pod count may have changed (or that it is gone).
    func nodeCountsChanged(_ name: String) {
        let n = nodes[name]
        schedulingIndex.update(name, zone: n?.zone, count: n?.pods.count ?? 0)
    }

    func nodeChanged(_ node: JSONObject) {
        let name = node.name
        var n: SimNode
        if let existing = nodes[name] {
            n = existing
        } else {
            // Pods bound before their node appeared.
            n = SimNode(name: name)
            for (key, p) in pods where p.node == name { n.pods.insert(key) }
            recordNodeEvent(node, EventRecorder.normal, "RegisteredNode", "Registered Node \(name) in Controller")
        }
        let wasReady = n.isReady
        let wasSchedulable = n.isReady && !n.unschedulable
        n.simulated = ClusterLabels.isSimulated(node)
        n.unschedulable = node["spec"]?["unschedulable"].boolValue ?? false
        n.labels = node.labels
        n.taints = node["spec"]?["taints"].arrayValue ?? []
        n.zone = n.labels[ClusterLabels.zone] ?? ""
        n.hostIPs = (node["status"]?["addresses"].arrayValue ?? []).filter { $0["type"].stringValue == "InternalIP" }
            .compactMap { $0["address"].stringValue }
        if let p = node["status"]?["allocatable"]["pods"], let v = p.stringValue.flatMap({ Int($0) }) ?? p.intValue.map({ Int($0) }) {
            n.maxPods = v
        } else {
            n.maxPods = cluster.maxPodsPerNode
        }
        var ready: String?
        for c in node["status"]?["conditions"].arrayValue ?? [] where c["type"].stringValue == "Ready" { ready = c["status"].stringValue }
        n.ready = ready
        if wasReady && ready != nil && !n.isReady { recordNodeNotReady(node, pods: n.pods) }
        if n.isReady || ready == nil { n.notReadySince = nil } else if n.notReadySince == nil { n.notReadySince = Self.now() }
        // Pod ranges of simulated nodes.
        let cidrTexts = (node["spec"]?["podCIDRs"].arrayValue ?? []).compactMap(\.stringValue)
        let cidrs = (cidrTexts.isEmpty ? [node["spec"]?["podCIDR"].stringValue ?? ""] : cidrTexts).compactMap { CIDR($0) }
        if let first = cidrs.first, let r = podRanges.first(where: { $0.isIPv6 == first.isIPv6 }) {
            let mask = first.isIPv6 ? cluster.nodeMaskV6 : cluster.nodeMaskV4
            if let idx = r.subnetIndex(of: first, mask: mask) {
                n.subnetIndex = idx
                usedSubnets.insert(idx)
                nextSubnetCandidate = max(nextSubnetCandidate, idx + 1)
            }
        }
        if n.simulated {
            if !cidrs.isEmpty {
                if n.allocator == nil || n.allocator!.cidrs != cidrs {
                    // Pods already here re-reserve their addresses from their status when the kubelet next looks.
                    n.allocator = PodIPAllocator(cidrs: cidrs)
                    for key in n.pods { pods[key]?.ipOffset = nil }
                }
            } else {
                nodes[name] = n
                nodeCountsChanged(name)
                assignPodCIDR(name)
                n = nodes[name]!
            }
        }
        nodes[name] = n
        nodeCountsChanged(name)
        if n.simulated && ready == nil { registerSimulatedNode(node) }
        if n.notReadySince != nil { scheduleEvictionCheck(name) }
        if (n.isReady && !n.unschedulable) || !wasSchedulable, !pending.isEmpty { retryPendingSoon() }
        if n.simulated { for key in n.pods { if let pod = podObject(key) { runKubelet(key, pod: pod) } } }
    }

    /// A simulated node created without a Ready condition gets what its kubelet would post when it registers:
    /// the standard conditions, capacity/allocatable, nodeInfo and (when missing) addresses.
    func registerSimulatedNode(_ node: JSONObject) {
        let idx = nodes[node.name]?.subnetIndex ?? usedSubnets.count
        let template = NodeBootstrap.node(idx + 1, options: cluster, cidrs: [])["status"]?.objectValue ?? JSONObject()
        _ = try? storage.update(.node, namespace: "", name: node.name, subresource: "status",
                                options: WriteOptions(fieldManager: "kubelet")) { cur in
            var n = cur
            n.withObject("status") { st in
                for (k, v) in template where st[k] == nil || k == "conditions" {
                    if k == "addresses" {
                        st[k] = [["type": "InternalIP", "address": .string(ClusterOptions.nodeAddress(idx + 1))],
                                 ["type": "Hostname", "address": .string(node.name)]]
                    } else if k == "conditions" {
                        var conds = st["conditions"]?.arrayValue ?? []
                        guard !conds.contains(where: { $0["type"].stringValue == "Ready" }) else { continue }
                        let have = Set(conds.compactMap { $0["type"].stringValue })
                        conds += (v.arrayValue ?? []).filter { !have.contains($0["type"].stringValue ?? "") }
                        st[k] = .array(conds)
                    } else {
                        st[k] = v
                    }
                }
            }
            return n
        }
    }

    /// Gives a simulated node without `spec.podCIDR` the first free node subnet (as the node IPAM controller).
    func assignPodCIDR(_ name: String) {
        // Like the node IPAM range allocator, continue after the last subnet handed out, so a subnet
        // released by a deleted node is not reused at once (a replacement node gets fresh pod IPs).
        var idx = nextSubnetCandidate
        var wrapped = false
        while usedSubnets.contains(idx) || cluster.nodeCIDRs(idx) == nil {
            if cluster.nodeCIDRs(idx) == nil {
                if wrapped { return }
                wrapped = true
                idx = 0
                continue
            }
            idx += 1
        }
        guard let cidrs = cluster.nodeCIDRs(idx) else { return }
        nextSubnetCandidate = idx + 1
        usedSubnets.insert(idx)
        nodes[name]?.subnetIndex = idx
        _ = try? storage.update(.node, namespace: "", name: name, options: WriteOptions(fieldManager: "kube-controller-manager")) { cur in
            var n = cur
            n.withObject("spec") { spec in
                if spec["podCIDR"] == nil {
                    spec["podCIDR"] = .string(cidrs[0].text)
                    spec["podCIDRs"] = .array(cidrs.map { .string($0.text) })
                }
            }
            return n
        }
    }

    func nodeDeleted(_ node: JSONObject) {
        guard let n = nodes.removeValue(forKey: node.name) else { return }
        recordNodeEvent(node, EventRecorder.normal, "RemovingNode", "Removing Node \(node.name) from Controller")
        nodeCountsChanged(node.name)
        if let idx = n.subnetIndex { usedSubnets.remove(idx) }
        for key in n.pods { pods[key]?.ipOffset = nil }
        if n.simulated { deletePodsOfDeletedNode(n) }
    }
}
