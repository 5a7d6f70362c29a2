import Dispatch
import KemuAPI
import KemuRegistry
import KemuStore

/// Keeps PodDisruptionBudget status (expected, healthy and allowed disruptions) current as
/// pods come, go and change readiness, like kube-controller-manager's disruption controller.
final class DisruptionController: Controller, @unchecked Sendable {
    let name = "disruption-controller"
    let storage: ObjectStorage
    let queue = DispatchQueue(label: "kemu.disruption")
    var feeds: [EventFeed] = []
    private(set) var work: WorkQueue!
    static let writeOptions = WriteOptions(fieldManager: "disruption-controller")

    init(storage: ObjectStorage) {
        self.storage = storage
        work = WorkQueue(label: "kemu.disruption.work") { [weak self] key in self?.sync(key) }
    }

    func start() {
        feeds = follow(storage, kinds: [.podDisruptionBudget, .pod], queue: queue, initial: { [self] kind, items in
            if kind.kind == "PodDisruptionBudget" { for o in items { work.add(o.key) } }
        }, handler: { [self] e in
            if e.resource == ResourceKind.podDisruptionBudget.groupResource {
                if e.type != .deleted { work.add(e.object.key) }
                return
            }
            // A pod change can move any budget of its namespace.
            let pdbs = (try? storage.store.list(ResourceKind.podDisruptionBudget.groupResource, namespace: e.object.namespace))?.items ?? []
            for p in pdbs { work.add(p.key) }
        })
    }

    func stop() { unfollow(storage, feeds) }

    func sync(_ key: String) {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let pdb = storage.store.get(ResourceKind.podDisruptionBudget.groupResource, namespace: parts[0], name: parts[1]) else { return }
        let pods = podsCovered(by: pdb.object)
        if pods.isEmpty { recorder.event(pdb.object, EventRecorder.normal, "NoPods", "No matching pods found") }
        let expected = expectedCount(pods)
        let podNames = Set(pods.map(\.name))
        _ = try? storage.update(.podDisruptionBudget, namespace: parts[0], name: parts[1], subresource: "status",
                                options: Self.writeOptions) { current in
            // Computed from the stored budget, inside the write: an eviction that consumed a disruption since
            // the budget was read is in its disruptedPods, so the pod no longer counts as healthy.
            var merged = Self.status(current, pods: pods, expected: expected)
            // Evictions still in flight: forget the ones whose pod is gone.
            var disrupted = current["status"]?["disruptedPods"].objectValue ?? JSONObject()
            for k in disrupted.keys where !podNames.contains(k) { disrupted[k] = nil }
            merged["disruptedPods"] = disrupted.isEmpty ? nil : .object(disrupted)
            var o = current
            o["status"] = .object(merged)
            return o
        }
    }

    func podsCovered(by pdb: JSONObject) -> [JSONObject] {
        guard let selector = LabelSelector.from(json: pdb["spec"]?["selector"] ?? .null) else { return [] }
        let pods = (try? storage.store.list(ResourceKind.pod.groupResource, namespace: pdb.namespace))?.items ?? []
        // An empty selector selects every pod in the namespace in policy/v1.
        return pods.map(\.object).filter { selector.matches($0.labels) }
    }

    /// How many pods the budget expects: the scale of each controller owning matching pods (a
    /// ReplicaSet's Deployment, a StatefulSet, …), as upstream's disruption controller counts, plus one
    /// per pod without a controller. A pod evicted and not yet replaced is still expected.
    func expectedCount(_ pods: [JSONObject]) -> Int {
        var scales: [String: Int] = [:]
        var bare = 0
        for pod in pods {
            guard let ref = (pod.metadata["ownerReferences"]?.arrayValue ?? []).first(where: { $0["controller"].boolValue == true }),
                  let kindName = ref["kind"].stringValue, let name = ref["name"].stringValue else {
                if pod.deletionTimestamp == nil { bare += 1 }
                continue
            }
            var owner: (kind: ResourceKind, name: String)?
            switch kindName {
            case "ReplicaSet":
                owner = (.replicaSet, name)
                if let rs = storage.store.get(ResourceKind.replicaSet.groupResource, namespace: pod.namespace, name: name),
                   let dref = (rs.object.metadata["ownerReferences"]?.arrayValue ?? []).first(where: { $0["kind"].stringValue == "Deployment" }),
                   let dname = dref["name"].stringValue {
                    owner = (.deployment, dname)
                }
            case "StatefulSet": owner = (.statefulSet, name)
            default: owner = nil
            }
            guard let owner else { if pod.deletionTimestamp == nil { bare += 1 }; continue }
            let key = owner.kind.kind + "/" + owner.name
            if scales[key] != nil { continue }
            let replicas = storage.store.get(owner.kind.groupResource, namespace: pod.namespace, name: owner.name)?
                .object["spec"]?["replicas"].intValue ?? 1
            scales[key] = Int(replicas)
        }
        return scales.values.reduce(bare, +)
    }

    /// The status the budget should show for these pods.
    static func status(_ pdb: JSONObject, pods: [JSONObject], expected expectedPods: Int? = nil) -> JSONObject {
        let live = pods.filter { $0.deletionTimestamp == nil && !["Succeeded", "Failed"].contains(PodFacts.phase($0)) }
        let expected = expectedPods ?? live.count
        // Pods with an eviction in flight (listed in disruptedPods) no longer count as healthy.
        let disrupted = Set(pdb["status"]?["disruptedPods"].objectValue?.keys ?? [])
        let healthy = live.filter { PodFacts.isReady($0) && !disrupted.contains($0.name) }.count
        let desired = DisruptionMath.desiredHealthy(spec: pdb["spec"] ?? .null, expected: expected)
        let allowed = max(0, healthy - desired)
        let condition: JSON = [
            "type": "DisruptionAllowed", "status": allowed > 0 ? "True" : "False",
            "reason": allowed > 0 ? "SufficientPods" : "InsufficientPods", "message": "",
            "observedGeneration": .int(pdb.metadata["generation"]?.intValue ?? 1),
            "lastTransitionTime": .string(pdb["status"]?["conditions"][0]["status"].stringValue == (allowed > 0 ? "True" : "False")
                ? (pdb["status"]?["conditions"][0]["lastTransitionTime"].stringValue ?? Timestamp.now()) : Timestamp.now()),
        ]
        return [
            "observedGeneration": .int(pdb.metadata["generation"]?.intValue ?? 1),
            "disruptionsAllowed": .int(Int64(allowed)),
            "currentHealthy": .int(Int64(healthy)),
            "desiredHealthy": .int(Int64(desired)),
            "expectedPods": .int(Int64(expected)),
            "conditions": [condition],
        ]
    }
}
