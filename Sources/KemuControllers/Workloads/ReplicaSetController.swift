import Dispatch
import FoundationEssentials
import KemuAPI
import KemuRegistry
import KemuStore
import Synchronization

/// kube-controller-manager's ReplicaSet controller: keeps `spec.replicas` active pods per ReplicaSet
/// (created from the template with a controller owner reference) and writes the status counts.
public final class ReplicaSetController: Controller, @unchecked Sendable {
    public let name = "replicaset-controller"
    let storage: ObjectStorage
    let options: ControllerOptions
    static let writeOptions = WriteOptions(fieldManager: "replicaset-controller")

    // Touched only on `sq.queue`.
    var sq: WorkQueue!
    var feeds: [EventFeed] = []
    var pods = OwnedIndex(ownerKind: "ReplicaSet")
    var keyByUID: [String: String] = [:]
    /// Active pods with no controller, by namespace, for adoption.
    var orphans: [String: [String: StoredObject]] = [:]
    /// ReplicaSet keys by namespace, to find who may adopt an orphan.
    var setsByNamespace: [String: Set<String>] = [:]
    var syncCount = 0

    public init(storage: ObjectStorage, options: ControllerOptions) {
        self.storage = storage
        self.options = options
        sq = WorkQueue(label: "kemu.replicaset") { [weak self] key in self?.sync(key) }
    }

    public func start() {
        feeds = follow(storage, kinds: [.replicaSet, .pod], queue: sq.queue, initial: { [self] kind, items in
            for o in items {
                if kind.resource == "pods" { pods.put(o); noteOrphan(o, deleted: false) } else {
                    keyByUID[o.object.uid] = o.key; setsByNamespace[o.namespace, default: []].insert(o.key)
                    sq.add(o.key)
                }
            }
        }, handler: { [self] e in handle(e) })
    }

    public func stop() {
        unfollow(storage, feeds)
        sq.stop()
    }

    func handle(_ e: StoreEvent) {
        if e.resource.resource == "pods" {
            let touched = e.type == .deleted ? pods.remove(e.object) : pods.put(e.object)
            for u in touched { if let k = keyByUID[u] { sq.add(k) } }
            if noteOrphan(e.object, deleted: e.type == .deleted) {
                // A new orphan: the ReplicaSets of its namespace whose selector matches may adopt it.
                for k in setsByNamespace[e.object.namespace] ?? [] { sq.add(k) }
            }
        } else {
            let k = e.object.key
            if e.type == .deleted {
                keyByUID[e.object.object.uid] = nil; setsByNamespace[e.object.namespace]?.remove(k)
            } else {
                keyByUID[e.object.object.uid] = k; setsByNamespace[e.object.namespace, default: []].insert(k)
            }
            if e.type == .modified, let p = e.previous, p.object["spec"] == e.object.object["spec"],
               p.object["status"] != e.object.object["status"] { return }
            sq.add(k)
        }
    }

    static let burst = 500

    /// Tracks pods without a controller; true when `o` is an orphan that was not one before.
    @discardableResult
    func noteOrphan(_ o: StoredObject, deleted: Bool) -> Bool {
        let isOrphan = !deleted && WorkloadFacts.isActive(o.object)
            && !(o.object.metadata["ownerReferences"]?.arrayValue ?? []).contains { $0["controller"].boolValue == true }
        let k = o.key
        let was = orphans[o.namespace]?[k] != nil
        if isOrphan { orphans[o.namespace, default: [:]][k] = o } else if was { orphans[o.namespace]?[k] = nil }
        return isOrphan && !was
    }

    /// Adopts matching orphans and releases owned pods the selector no longer matches, as upstream's ref manager.
    func adoptAndRelease(_ rs: JSONObject, owned: [StoredObject]) -> [StoredObject] {
        guard let selector = LabelSelector.from(json: rs["spec"]?["selector"] ?? .null), !selector.isEmpty else { return owned }
        var result: [StoredObject] = []
        for p in owned {
            if selector.matches(p.labels) { result.append(p); continue }
            _ = try? storage.update(.pod, namespace: p.namespace, name: p.name, options: Self.writeOptions) { cur in
                guard cur.uid == p.object.uid else { return cur }
                var c = cur
                let refs = (c.metadata["ownerReferences"]?.arrayValue ?? []).filter { $0["uid"].stringValue != rs.uid }
                c.metadata["ownerReferences"] = refs.isEmpty ? nil : .array(refs)
                return c
            }
        }
        guard rs.deletionTimestamp == nil else { return result }
        for (_, p) in orphans[rs.namespace] ?? [:] where selector.matches(p.labels) {
            let ref = WorkloadFacts.ownerReference(rs, kind: "ReplicaSet")
            let adopted = try? storage.update(.pod, namespace: p.namespace, name: p.name, options: Self.writeOptions) { cur in
                guard cur.uid == p.object.uid,
                      !(cur.metadata["ownerReferences"]?.arrayValue ?? []).contains(where: { $0["controller"].boolValue == true })
                else { return cur }
                var c = cur
                c.metadata["ownerReferences"] = .array((c.metadata["ownerReferences"]?.arrayValue ?? []) + [ref])
                return c
            }
            if let a = adopted?.object, WorkloadFacts.controllerUID(a.object, kind: "ReplicaSet") == rs.uid {
                pods.put(a); noteOrphan(a, deleted: false); result.append(a)
            }
        }
        return result
    }

    func sync(_ key: String) {
        syncCount += 1
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let rs = storage.store.get(ResourceKind.replicaSet.groupResource, namespace: parts[0], name: parts[1])
        else { return }
        let obj = rs.object
        let uid = obj.uid
        let owned = adoptAndRelease(obj, owned: pods.owned(by: uid))
        var active = owned.filter { WorkloadFacts.isActive($0.object) }
        let want = WorkloadFacts.int(obj["spec"]?["replicas"], 1)
        if obj.deletionTimestamp == nil {
            let diff = active.count - want
            if diff < 0 {
                var body = WorkloadFacts.podFromTemplate(obj["spec"]?["template"] ?? .null, owner: obj, ownerKind: "ReplicaSet")
                body.metadata["generateName"] = .string(obj.name + "-")
                let count = min(-diff, Self.burst)
                // Creations run in parallel, as upstream's slow-start batches do.
                let results = Mutex<[StoredObject?]>(Array(repeating: nil, count: count))
                let storage = storage, pod = body, recorder = recorder
                DispatchQueue.concurrentPerform(iterations: count) { i in
                    let created = Result { try storage.create(.pod, namespace: pod.namespace.isEmpty ? obj.namespace : pod.namespace,
                                                              body: pod, options: Self.writeOptions) }
                    recorder.podCreated(obj, created)
                    results.withLock { $0[i] = try? created.get() }
                }
                let made = results.withLock { $0 }
                for case let created? in made {
                    pods.put(created)
                    active.append(created)
                }
                if made.contains(where: { $0 == nil }) { sq.add(key, after: 1) }
            } else if diff > 0 {
                let victims = Self.rankForDeletion(active).prefix(diff)
                for v in victims {
                    var opts = DeleteOptions()
                    opts.preconditionUID = v.object.uid
                    let out = Result { try storage.delete(.pod, namespace: v.namespace, name: v.name, options: opts) }
                    recorder.podDeleted(obj, name: v.name, out.error)
                    if let out = try? out.get() {
                        if out.deleted { pods.remove(v, byController: true) } else { pods.put(out.object) }
                    }
                }
                let gone = Set(victims.map { $0.object.uid })
                active.removeAll { gone.contains($0.object.uid) }
            }
        }
        writeStatus(rs, active: active)
    }

    /// Pods in the order upstream deletes them: unassigned, pending, not ready, ready more recently, more restarts, newer.
    static func rankForDeletion(_ pods: [StoredObject]) -> [StoredObject] {
        func phaseRank(_ p: String) -> Int { p == "Pending" ? 0 : (p == "Unknown" ? 1 : 2) }
        func restarts(_ o: JSONObject) -> Int {
            (o["status"]?["containerStatuses"].arrayValue ?? []).reduce(0) { $0 + WorkloadFacts.int($1["restartCount"]) }
        }
        return pods.sorted { a, b in
            let x = a.object, y = b.object
            let ax = PodFacts.nodeName(x).isEmpty, ay = PodFacts.nodeName(y).isEmpty
            if ax != ay { return ax }
            let px = phaseRank(PodFacts.phase(x)), py = phaseRank(PodFacts.phase(y))
            if px != py { return px < py }
            let rx = PodFacts.isReady(x), ry = PodFacts.isReady(y)
            if rx != ry { return !rx }
            if rx, let tx = WorkloadFacts.readySince(x), let ty = WorkloadFacts.readySince(y), tx != ty { return tx > ty }
            let cx = restarts(x), cy = restarts(y)
            if cx != cy { return cx > cy }
            let kx = x.metadata.string("creationTimestamp") ?? "", ky = y.metadata.string("creationTimestamp") ?? ""
            if kx != ky { return kx > ky }
            return x.name > y.name
        }
    }

    func writeStatus(_ rs: StoredObject, active: [StoredObject]) {
        let obj = rs.object
        let minReady = WorkloadFacts.int(obj["spec"]?["minReadySeconds"])
        let templateLabels = obj["spec"]?["template"]["metadata"]["labels"].stringMap ?? [:]
        let now = WorkloadFacts.now()
        var labeled = 0, ready = 0, available = 0
        var recheck: Int?
        for p in active {
            if templateLabels.allSatisfy({ p.labels[$0.key] == $0.value }) { labeled += 1 }
            if PodFacts.isReady(p.object) { ready += 1 }
            let a = WorkloadFacts.availability(p.object, minReadySeconds: minReady, now: now)
            if a.available { available += 1 } else if let r = a.recheck { recheck = min(recheck ?? r, r) }
        }
        var status = WorkloadFacts.status([
            ("replicas", .int(Int64(active.count))),
            ("fullyLabeledReplicas", .int(Int64(labeled))),
            ("readyReplicas", .int(Int64(ready))),
            ("availableReplicas", .int(Int64(available))),
            ("observedGeneration", obj.metadata["generation"]),
        ], keepZero: ["replicas"])
        if let c = obj["status"]?["conditions"], !c.isNull { status["conditions"] = c }
        if let r = recheck { sq.add(rs.key, after: Double(r) + 0.05) }
        guard obj["status"] != .object(status) else { return }
        _ = try? storage.update(.replicaSet, namespace: obj.namespace, name: obj.name, subresource: "status",
                                options: Self.writeOptions) { cur in
            guard cur.uid == obj.uid else { return cur }
            var c = cur
            c["status"] = .object(status)
            return c
        }
    }
}
