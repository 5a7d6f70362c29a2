import Dispatch
import FoundationEssentials
import KemuAPI
import KemuRegistry
import KemuStore

/// kube-controller-manager's StatefulSet controller: pods `<name>-<ordinal>` with stable hostname and
/// subdomain, created in order (`OrderedReady`) or all at once (`Parallel`), removed from the highest
/// ordinal, rolled in reverse ordinal order above `partition`, and the status `rollout status` reads.
/// Each distinct template is a ControllerRevision (`<name>-<hash>`, the pods' `controller-revision-hash`);
/// a template used again (`kubectl rollout undo`) renumbers its revision as the newest.
public final class StatefulSetController: Controller, @unchecked Sendable {
    public let name = "statefulset-controller"
    let storage: ObjectStorage
    let options: ControllerOptions
    static let writeOptions = WriteOptions(fieldManager: "statefulset-controller")
    static let podNameLabel = "statefulset.kubernetes.io/pod-name"
    static let podIndexLabel = "apps.kubernetes.io/pod-index"

    // Touched only on `sq.queue`.
    var sq: WorkQueue!
    var feeds: [EventFeed] = []
    var pods = OwnedIndex(ownerKind: "StatefulSet")
    var keyByUID: [String: String] = [:]
    var history = RevisionHistory(ownerKind: "StatefulSet", writeOptions: StatefulSetController.writeOptions)

    public init(storage: ObjectStorage, options: ControllerOptions) {
        self.storage = storage
        self.options = options
        sq = WorkQueue(label: "kemu.statefulset") { [weak self] key in self?.sync(key) }
    }

    public func start() {
        feeds = follow(storage, kinds: [.statefulSet, .pod, .controllerRevision], queue: sq.queue, initial: { [self] kind, items in
            for o in items {
                switch kind.resource {
                case "pods": pods.put(o)
                case "controllerrevisions": history.index.put(o)
                default: keyByUID[o.object.uid] = o.key; sq.add(o.key)
                }
            }
        }, handler: { [self] e in handle(e) })
    }

    public func stop() {
        unfollow(storage, feeds)
        sq.stop()
    }

    func handle(_ e: StoreEvent) {
        if e.resource.resource == "pods" || e.resource.resource == "controllerrevisions" {
            let touched = e.resource.resource == "pods"
                ? (e.type == .deleted ? pods.remove(e.object) : pods.put(e.object))
                : (e.type == .deleted ? history.index.remove(e.object) : history.index.put(e.object))
            for u in touched { if let k = keyByUID[u] { sq.add(k) } }
        } else {
            let k = e.object.key
            if e.type == .deleted { keyByUID[e.object.object.uid] = nil; return }
            keyByUID[e.object.object.uid] = k
            if e.type == .modified, let p = e.previous, p.object["spec"] == e.object.object["spec"],
               p.object["status"] != e.object.object["status"] { return }
            sq.add(k)
        }
    }

    static func ordinal(_ podName: String, set: String) -> Int? {
        guard podName.hasPrefix(set + "-") else { return nil }
        return Int(podName.dropFirst(set.count + 1))
    }

    static func revision(_ pod: JSONObject) -> String { pod.labels[WorkloadFacts.revisionHashLabel] ?? "" }

    func sync(_ key: String) {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2,
              let s = storage.store.get(ResourceKind.statefulSet.groupResource, namespace: parts[0], name: parts[1]) else { return }
        let set = s.object
        let spec = set["spec"] ?? .null
        let replicas = WorkloadFacts.int(spec["replicas"], 1)
        let parallel = spec["podManagementPolicy"].stringValue == "Parallel"
        let rolling = (spec["updateStrategy"]["type"].stringValue ?? "RollingUpdate") == "RollingUpdate"
        let partition = WorkloadFacts.int(spec["updateStrategy"]["rollingUpdate"]["partition"])
        let maxUnavailable = rolling
            ? max(1, WorkloadFacts.scaled(spec["updateStrategy"]["rollingUpdate"]["maxUnavailable"].isNull ? .int(1)
                                          : spec["updateStrategy"]["rollingUpdate"]["maxUnavailable"], total: replicas, roundUp: false))
            : 1
        guard let revs = revisions(s) else { return }
        let updateRevision = revs.update.name, currentRevision = revs.current.name

        var byOrdinal: [Int: StoredObject] = [:]
        var condemned: [(Int, StoredObject)] = []
        for p in pods.owned(by: set.uid) {
            guard let o = Self.ordinal(p.name, set: set.name) else { continue }
            if o < replicas { byOrdinal[o] = p } else { condemned.append((o, p)) }
        }
        condemned.sort { $0.0 > $1.0 }

        if set.deletionTimestamp == nil {
            var blocked = false
            // Create missing pods and replace failed ones, in ordinal order.
            for o in 0..<replicas {
                if let p = byOrdinal[o] {
                    let phase = PodFacts.phase(p.object)
                    if (phase == "Failed" || phase == "Succeeded") && p.object.deletionTimestamp == nil {
                        recorder.recreatingPod(set, pod: p.name, failed: phase == "Failed")
                        delete(p); byOrdinal[o] = nil
                        if !parallel { blocked = true; break }
                        continue
                    }
                    if !parallel && (p.object.deletionTimestamp != nil || !WorkloadFacts.isRunningAndReady(p.object)) {
                        blocked = true; break
                    }
                } else {
                    // Below the partition a pod comes back at the current revision.
                    let atCurrent = rolling && o < partition && currentRevision != updateRevision
                    if let created = create(set, ordinal: o, revision: atCurrent ? currentRevision : updateRevision,
                                            template: atCurrent ? RevisionHistory.template(of: revs.current) : spec["template"]) {
                        byOrdinal[o] = created
                    }
                    if !parallel { blocked = true; break }
                }
            }
            // Scale down from the highest ordinal; when ordered, one at a time (waiting for the terminating one
            // to be gone) and only when all others are healthy.
            if !blocked || parallel {
                for (_, p) in condemned {
                    if p.object.deletionTimestamp == nil { delete(p) }
                    if !parallel { blocked = true; break }
                }
            }
            // Rolling update: reverse ordinal order down to the partition, `maxUnavailable` at a time.
            if rolling && !blocked {
                let unavailable = (0..<replicas).filter { o in
                    guard let p = byOrdinal[o] else { return true }
                    return p.object.deletionTimestamp != nil || !WorkloadFacts.isRunningAndReady(p.object)
                }.count
                var budget = maxUnavailable - unavailable
                for o in stride(from: replicas - 1, through: max(0, partition), by: -1) where budget > 0 {
                    guard let p = byOrdinal[o], p.object.deletionTimestamp == nil, Self.revision(p.object) != updateRevision else { continue }
                    delete(p)
                    budget -= 1
                }
            }
        }
        let current = writeStatus(s, updateRevision: updateRevision, currentRevision: currentRevision, rolling: rolling,
                                  replicas: replicas, collisionCount: revs.collisionCount)
        truncateHistory(set, current: current, update: updateRevision)
    }

    /// Upstream's `getStatefulSetRevisions`: the update revision holds the set's template (an equal older revision
    /// is renumbered as the newest, else one is created); the current one is `status.currentRevision`'s, or the
    /// update revision when that is gone. A terminating set only reads what there is.
    func revisions(_ s: StoredObject) -> (current: StoredObject, update: StoredObject, collisionCount: Int)? {
        let set = s.object
        let revs = history.owned(by: set.uid)
        let data = RevisionHistory.data(template: set["spec"]?["template"] ?? .null)
        var collisions = WorkloadFacts.int(set["status"]?["collisionCount"])
        var update: StoredObject?
        let next = (revs.last.map(RevisionHistory.number) ?? 0) + 1
        if let equal = revs.last(where: { $0.object["data"] == data }) {
            update = equal.name == revs.last?.name || set.deletionTimestamp != nil
                ? equal : history.renumber(storage, equal, to: next)
        } else if set.deletionTimestamp == nil {
            for _ in 0..<8 where update == nil {
                let hash = RevisionHistory.hash(data: data, collisionCount: Int64(collisions))
                var collided = false
                update = history.create(storage, owner: set, name: "\(set.name.prefix(223))-\(hash)", hash: hash, data: data,
                                        revision: next, collided: &collided)
                guard collided else { break }
                collisions += 1
            }
        }
        guard let update else {
            if set.deletionTimestamp == nil { sq.add(s.key, after: 1) }
            return nil
        }
        let current = revs.first { $0.name == set["status"]?["currentRevision"].stringValue } ?? update
        return (current, update, collisions)
    }

    /// Upstream's `truncateHistory`: revisions neither current, update nor on a pod, oldest first, beyond
    /// `revisionHistoryLimit`.
    func truncateHistory(_ set: JSONObject, current: String, update: String) {
        var live: Set<String> = [current, update]
        for p in pods.owned(by: set.uid) { live.insert(Self.revision(p.object)) }
        let old = history.owned(by: set.uid).filter { !live.contains($0.name) }
        history.delete(storage, old, count: old.count - WorkloadFacts.int(set["spec"]?["revisionHistoryLimit"], 10))
    }

    func create(_ set: JSONObject, ordinal: Int, revision: String, template: JSON) -> StoredObject? {
        let name = "\(set.name)-\(ordinal)"
        var body = WorkloadFacts.podFromTemplate(template, owner: set, ownerKind: "StatefulSet", extraLabels: [
            WorkloadFacts.revisionHashLabel: revision,
            Self.podNameLabel: name,
            Self.podIndexLabel: String(ordinal),
        ])
        body.metadata["name"] = .string(name)
        body.withObject("spec") { spec in
            spec["hostname"] = .string(name)
            if let svc = set["spec"]?["serviceName"].stringValue, !svc.isEmpty { spec["subdomain"] = .string(svc) }
        }
        do {
            let p = try storage.create(.pod, namespace: set.namespace, body: body, options: Self.writeOptions)
            recorder.statefulPodEvent(set, verb: "create", pod: name, nil)
            pods.put(p)
            return p
        } catch {
            recorder.statefulPodEvent(set, verb: "create", pod: name, error)
            sq.add(StoreKey.make(namespace: set.namespace, name: set.name), after: 1)
            return nil
        }
    }

    func delete(_ p: StoredObject) {
        var opts = DeleteOptions()
        opts.preconditionUID = p.object.uid
        let out = Result { try storage.delete(.pod, namespace: p.namespace, name: p.name, options: opts) }
        if let set = WorkloadEvents.owner(of: p, .statefulSet, storage) { recorder.statefulPodEvent(set, verb: "delete", pod: p.name, out.error) }
        if let out = try? out.get() {
            if out.deleted { pods.remove(p, byController: true) } else { pods.put(out.object) }
        }
    }

    /// Returns the current revision written (the update revision once a rolling update is done).
    @discardableResult
    func writeStatus(_ s: StoredObject, updateRevision: String, currentRevision: String, rolling: Bool, replicas: Int,
                     collisionCount: Int) -> String {
        let set = s.object
        let minReady = WorkloadFacts.int(set["spec"]?["minReadySeconds"])
        let now = WorkloadFacts.now()
        var total = 0, ready = 0, available = 0, current = 0, updated = 0
        var recheck: Int?
        for p in pods.owned(by: set.uid) where Self.ordinal(p.name, set: set.name) != nil {
            let o = p.object
            total += 1
            if WorkloadFacts.isRunningAndReady(o) {
                ready += 1
                let a = WorkloadFacts.availability(o, minReadySeconds: minReady, now: now)
                if a.available { available += 1 } else if let r = a.recheck { recheck = min(recheck ?? r, r) }
            }
            if o.deletionTimestamp == nil {
                if Self.revision(o) == currentRevision { current += 1 }
                if Self.revision(o) == updateRevision { updated += 1 }
            }
        }
        var currentRev = currentRevision
        // A finished rolling update makes the update revision current.
        if rolling && updated == total && ready == total && total == replicas {
            currentRev = updateRevision
            current = updated
        }
        var status = WorkloadFacts.status([
            ("observedGeneration", set.metadata["generation"]),
            ("replicas", .int(Int64(total))),
            ("readyReplicas", .int(Int64(ready))),
            ("currentReplicas", .int(Int64(current))),
            ("updatedReplicas", .int(Int64(updated))),
            ("currentRevision", .string(currentRev)),
            ("updateRevision", .string(updateRevision)),
            ("collisionCount", .int(Int64(collisionCount))),
            ("availableReplicas", .int(Int64(available))),
        ], keepZero: ["replicas", "collisionCount", "availableReplicas"])
        if let c = set["status"]?["conditions"], !c.isNull { status["conditions"] = c }
        if let r = recheck { sq.add(s.key, after: Double(r) + 0.05) }
        guard set["status"] != .object(status) else { return currentRev }
        _ = try? storage.update(.statefulSet, namespace: set.namespace, name: set.name, subresource: "status",
                                options: Self.writeOptions) { cur in
            guard cur.uid == set.uid else { return cur }
            var c = cur
            c["status"] = .object(status)
            return c
        }
        return currentRev
    }
}
