import Dispatch
import FoundationEssentials
import KemuAPI
import KemuRegistry
import KemuStore

/// kube-controller-manager's DaemonSet controller: one pod per node the template fits (nodeSelector,
/// required node affinity, taints against the pod's tolerations plus the DaemonSet defaults, so cordoned
/// nodes keep their daemon pods), rolling updates with `maxUnavailable`, and the DaemonSet status.
/// Pods get upstream's `metadata.name` node affinity and, so they run without a scheduler, `spec.nodeName`.
/// Each distinct template is a ControllerRevision `<name>-<hash>` whose hash labels the pods; a template used
/// again (`kubectl rollout undo`) renumbers its revision as the newest.
public final class DaemonSetController: Controller, @unchecked Sendable {
    public let name = "daemonset-controller"
    let storage: ObjectStorage
    let options: ControllerOptions
    static let writeOptions = WriteOptions(fieldManager: "daemonset-controller")

    // Touched only on `sq.queue`.
    var sq: WorkQueue!
    var feeds: [EventFeed] = []
    var pods = OwnedIndex(ownerKind: "DaemonSet")
    var nodes: [String: JSONObject] = [:]
    var keyByUID: [String: String] = [:]
    var history = RevisionHistory(ownerKind: "DaemonSet", writeOptions: DaemonSetController.writeOptions)

    public init(storage: ObjectStorage, options: ControllerOptions) {
        self.storage = storage
        self.options = options
        sq = WorkQueue(label: "kemu.daemonset") { [weak self] key in self?.sync(key) }
    }

    public func start() {
        feeds = follow(storage, kinds: [.node, .daemonSet, .pod, .controllerRevision], queue: sq.queue, initial: { [self] kind, items in
            for o in items {
                switch kind.resource {
                case "pods": pods.put(o)
                case "controllerrevisions": history.index.put(o)
                case "nodes": nodes[o.name] = o.object
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
        switch e.resource.resource {
        case "pods":
            let touched = e.type == .deleted ? pods.remove(e.object) : pods.put(e.object)
            for u in touched { if let k = keyByUID[u] { sq.add(k) } }
        case "controllerrevisions":
            let touched = e.type == .deleted ? history.index.remove(e.object) : history.index.put(e.object)
            for u in touched { if let k = keyByUID[u] { sq.add(k) } }
        case "nodes":
            let old = nodes[e.object.name]
            if e.type == .deleted { nodes[e.object.name] = nil } else { nodes[e.object.name] = e.object.object }
            if e.type == .modified, let old, old.metadata["labels"] == e.object.object.metadata["labels"],
               old["spec"] == e.object.object["spec"] { return }
            for k in Set(keyByUID.values) { sq.add(k) }
        default:
            let k = e.object.key
            if e.type == .deleted { keyByUID[e.object.object.uid] = nil; return }
            keyByUID[e.object.object.uid] = k
            if e.type == .modified, let p = e.previous, p.object["spec"] == e.object.object["spec"],
               p.object["status"] != e.object.object["status"] { return }
            sq.add(k)
        }
    }

    // MARK: placement

    static let defaultTolerations: [JSON] = [
        ["key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"],
        ["key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"],
        ["key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"],
        ["key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"],
        ["key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"],
        ["key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"],
    ]

    /// The template's tolerations with the DaemonSet defaults added, as upstream puts on its pods.
    static func tolerations(_ podSpec: JSON) -> [JSON] {
        var list = podSpec["tolerations"].arrayValue ?? []
        var defaults = defaultTolerations
        if podSpec["hostNetwork"].boolValue == true {
            defaults.append(["key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"])
        }
        for d in defaults where !list.contains(where: { $0["key"] == d["key"] && $0["effect"] == d["effect"] }) { list.append(d) }
        return list
    }

    static func tolerates(_ t: JSON, _ taint: JSON) -> Bool {
        if let e = t["effect"].stringValue, !e.isEmpty, e != taint["effect"].stringValue { return false }
        if t["operator"].stringValue == "Exists" {
            let k = t["key"].stringValue ?? ""
            return k.isEmpty || k == taint["key"].stringValue
        }
        return t["key"].stringValue == taint["key"].stringValue && (t["value"].stringValue ?? "") == (taint["value"].stringValue ?? "")
    }

    static func matchesTerm(_ term: JSON, node: JSONObject) -> Bool {
        let labels = node.labels
        for e in term["matchExpressions"].arrayValue ?? [] {
            let key = e["key"].stringValue ?? "", values = (e["values"].arrayValue ?? []).compactMap(\.stringValue)
            let v = labels[key]
            switch e["operator"].stringValue ?? "" {
            case "In": if v == nil || !values.contains(v!) { return false }
            case "NotIn": if let v, values.contains(v) { return false }
            case "Exists": if v == nil { return false }
            case "DoesNotExist": if v != nil { return false }
            case "Gt": if !(Int(v ?? "").flatMap { a in Int(values.first ?? "").map { a > $0 } } ?? false) { return false }
            case "Lt": if !(Int(v ?? "").flatMap { a in Int(values.first ?? "").map { a < $0 } } ?? false) { return false }
            default: return false
            }
        }
        for f in term["matchFields"].arrayValue ?? [] where f["key"].stringValue == "metadata.name" {
            let values = (f["values"].arrayValue ?? []).compactMap(\.stringValue)
            switch f["operator"].stringValue ?? "" {
            case "In": if !values.contains(node.name) { return false }
            case "NotIn": if values.contains(node.name) { return false }
            default: return false
            }
        }
        return true
    }

    /// (should run, may keep running) on a node, as upstream's `NodeShouldRunDaemonPod`.
    static func placement(_ podSpec: JSON, tolerations: [JSON], node: JSONObject) -> (run: Bool, keep: Bool) {
        let labels = node.labels
        let selector = podSpec["nodeSelector"].stringMap ?? [:]
        if !selector.allSatisfy({ labels[$0.key] == $0.value }) { return (false, false) }
        if let terms = podSpec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"].arrayValue,
           !terms.isEmpty, !terms.contains(where: { matchesTerm($0, node: node) }) { return (false, false) }
        var run = true, keep = true
        for taint in node["spec"]?["taints"].arrayValue ?? [] {
            let effect = taint["effect"].stringValue ?? ""
            guard effect == "NoSchedule" || effect == "NoExecute" else { continue }
            if tolerations.contains(where: { tolerates($0, taint) }) { continue }
            run = false
            if effect == "NoExecute" { keep = false }
        }
        return (run, keep)
    }

    // MARK: sync

    func sync(_ key: String) {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let s = storage.store.get(ResourceKind.daemonSet.groupResource, namespace: parts[0], name: parts[1])
        else { return }
        let ds = s.object
        let template = ds["spec"]?["template"] ?? .null
        let tols = Self.tolerations(template["spec"])
        guard let (cur, old) = constructHistory(s) else { return }
        let hash = cur.labels[WorkloadFacts.revisionHashLabel] ?? cur.name
        let minReady = WorkloadFacts.int(ds["spec"]?["minReadySeconds"])
        let now = WorkloadFacts.now()

        var byNode: [String: [StoredObject]] = [:]
        for p in pods.owned(by: ds.uid) { byNode[PodFacts.nodeName(p.object), default: []].append(p) }
        let live = ds.deletionTimestamp == nil
        var shouldRun: [String] = []
        var toCreate: [String] = []
        var toDelete: [StoredObject] = []
        for (nodeName, node) in nodes.sorted(by: { $0.key < $1.key }) {
            let place = Self.placement(template["spec"], tolerations: tols, node: node)
            var podsHere = (byNode[nodeName] ?? []).filter { $0.object.deletionTimestamp == nil }
            // Failed pods are replaced.
            let failed = podsHere.filter { PodFacts.phase($0.object) == "Failed" || PodFacts.phase($0.object) == "Succeeded" }
            toDelete += failed
            podsHere.removeAll { p in failed.contains { $0 === p } }
            if place.run { shouldRun.append(nodeName) }
            if place.run && podsHere.isEmpty && failed.isEmpty {
                toCreate.append(nodeName)
            } else if !place.keep {
                toDelete += podsHere
            } else if podsHere.count > 1 {
                // Keep the oldest one.
                let sorted = podsHere.sorted { ($0.object.metadata.string("creationTimestamp") ?? "", $0.name) <
                    ($1.object.metadata.string("creationTimestamp") ?? "", $1.name) }
                toDelete += sorted.dropFirst()
            }
        }
        // Pods on nodes that no longer exist go too.
        for (nodeName, list) in byNode where !nodeName.isEmpty && nodes[nodeName] == nil {
            toDelete += list.filter { $0.object.deletionTimestamp == nil }
        }
        if live {
            for n in toCreate { create(ds, node: n, hash: hash, tolerations: tols) }
            for p in toDelete { delete(p) }
            if (ds["spec"]?["updateStrategy"]["type"].stringValue ?? "RollingUpdate") == "RollingUpdate" {
                rollingUpdate(ds, shouldRun: shouldRun, hash: hash, minReady: minReady, now: now)
            }
            cleanupHistory(ds, old: old)
        }
        writeStatus(s, shouldRun: Set(shouldRun), hash: hash, minReady: minReady, now: now)
    }

    /// Upstream's `constructHistory`: the revision whose data is the DaemonSet's template (created when there is
    /// none, renumbered as the newest when an older one is used again; duplicates go) and the others.
    /// On a hash collision with another template's revision, `status.collisionCount` is bumped and nil returned.
    func constructHistory(_ s: StoredObject) -> (cur: StoredObject, old: [StoredObject])? {
        let ds = s.object
        let template = ds["spec"]?["template"] ?? .null
        let data = RevisionHistory.data(template: template)
        let revs = history.owned(by: ds.uid)
        let matching = revs.filter { $0.object["data"] == data }
        let old = revs.filter { $0.object["data"] != data }
        let next = (old.map(RevisionHistory.number).max() ?? 0) + 1
        if let newest = matching.last {
            guard ds.deletionTimestamp == nil else { return (newest, old) }
            history.delete(storage, Array(matching.dropLast()), count: matching.count - 1)
            guard RevisionHistory.number(newest) < next else { return (newest, old) }
            if let renumbered = history.renumber(storage, newest, to: next) { return (renumbered, old) }
        } else if ds.deletionTimestamp == nil {
            let collisions = ds["status"]?["collisionCount"].intValue
            let hash = WorkloadFacts.templateHash(template, collisionCount: collisions)
            var collided = false
            if let cur = history.create(storage, owner: ds, name: "\(ds.name)-\(hash)", hash: hash, data: data, revision: next,
                                        collided: &collided) {
                return (cur, old)
            }
            if collided {
                _ = try? storage.update(.daemonSet, namespace: ds.namespace, name: ds.name, subresource: "status",
                                        options: Self.writeOptions) { cur in
                    guard cur.uid == ds.uid, cur["status"]?["collisionCount"].intValue == collisions else { return cur }
                    var c = cur
                    c.withObject("status") { $0["collisionCount"] = .int((collisions ?? 0) + 1) }
                    return c
                }
            }
        }
        // A write failed or collided: look again. A terminating DaemonSet without its revision just stops here.
        if ds.deletionTimestamp == nil { sq.add(s.key, after: 1) }
        return nil
    }

    /// Upstream's `cleanupHistory`: old revisions beyond `revisionHistoryLimit` go, oldest first, except those
    /// whose hash a pod still carries.
    func cleanupHistory(_ ds: JSONObject, old: [StoredObject]) {
        let live = Set(pods.owned(by: ds.uid).compactMap { $0.labels[WorkloadFacts.revisionHashLabel] })
        let candidates = old.filter { !live.contains($0.labels[WorkloadFacts.revisionHashLabel] ?? "") }
        history.delete(storage, candidates, count: old.count - WorkloadFacts.int(ds["spec"]?["revisionHistoryLimit"], 10))
    }

    func rollingUpdate(_ ds: JSONObject, shouldRun: [String], hash: String, minReady: Int, now: Int) {
        var byNode: [String: [StoredObject]] = [:]
        for p in pods.owned(by: ds.uid) { byNode[PodFacts.nodeName(p.object), default: []].append(p) }
        let maxUnavailable = WorkloadFacts.scaled(ds["spec"]?["updateStrategy"]["rollingUpdate"]["maxUnavailable"] ?? .int(1),
                                                  total: shouldRun.count, roundUp: true)
        var unavailable = 0
        var oldAvailable: [StoredObject] = []
        for n in shouldRun {
            let here = (byNode[n] ?? []).filter { $0.object.deletionTimestamp == nil }
            let available = here.contains { WorkloadFacts.availability($0.object, minReadySeconds: minReady, now: now).available }
            if !available { unavailable += 1 }
            for p in here where p.labels[WorkloadFacts.revisionHashLabel] != hash {
                if WorkloadFacts.availability(p.object, minReadySeconds: minReady, now: now).available {
                    oldAvailable.append(p)
                } else {
                    delete(p) // an old pod that is not available anyway
                }
            }
            if here.isEmpty || here.allSatisfy({ $0.object.deletionTimestamp != nil }) { continue }
        }
        var budget = max(1, maxUnavailable) - unavailable
        for p in oldAvailable.sorted(by: { $0.name < $1.name }) where budget > 0 {
            delete(p)
            budget -= 1
        }
    }

    func create(_ ds: JSONObject, node: String, hash: String, tolerations: [JSON]) {
        var body = WorkloadFacts.podFromTemplate(ds["spec"]?["template"] ?? .null, owner: ds, ownerKind: "DaemonSet", extraLabels: [
            WorkloadFacts.revisionHashLabel: hash,
            "pod-template-generation": String(WorkloadFacts.int(ds.metadata["generation"], 1)),
        ])
        body.metadata["generateName"] = .string(ds.name + "-")
        body.withObject("spec") { spec in
            spec.withObject("affinity") { a in
                a.withObject("nodeAffinity") { na in
                    na["requiredDuringSchedulingIgnoredDuringExecution"] = ["nodeSelectorTerms": [
                        ["matchFields": [["key": "metadata.name", "operator": "In", "values": [.string(node)]]]],
                    ]]
                }
            }
            spec["tolerations"] = .array(tolerations)
            spec["nodeName"] = .string(node)
        }
        let created = Result { try storage.create(.pod, namespace: ds.namespace, body: body, options: Self.writeOptions) }
        recorder.podCreated(ds, created)
        if let p = try? created.get() {
            pods.put(p)
        } else {
            sq.add(StoreKey.make(namespace: ds.namespace, name: ds.name), after: 1)
        }
    }

    func delete(_ p: StoredObject) {
        var opts = DeleteOptions()
        opts.preconditionUID = p.object.uid
        let out = Result { try storage.delete(.pod, namespace: p.namespace, name: p.name, options: opts) }
        recorder.podDeleted(WorkloadEvents.owner(of: p, .daemonSet, storage), name: p.name, out.error)
        if let out = try? out.get() {
            if out.deleted { pods.remove(p, byController: true) } else { pods.put(out.object) }
        }
    }

    func writeStatus(_ s: StoredObject, shouldRun: Set<String>, hash: String, minReady: Int, now: Int) {
        let ds = s.object
        var current = 0, misscheduled = 0, ready = 0, updated = 0, available = 0
        var recheck: Int?
        var seen: Set<String> = []
        for p in pods.owned(by: ds.uid) where p.object.deletionTimestamp == nil {
            let node = PodFacts.nodeName(p.object)
            guard !node.isEmpty, seen.insert(node).inserted else { continue }
            if shouldRun.contains(node) {
                current += 1
                if PodFacts.isReady(p.object) {
                    ready += 1
                    let a = WorkloadFacts.availability(p.object, minReadySeconds: minReady, now: now)
                    if a.available { available += 1 } else if let r = a.recheck { recheck = min(recheck ?? r, r) }
                }
                if p.labels[WorkloadFacts.revisionHashLabel] == hash { updated += 1 }
            } else {
                misscheduled += 1
            }
        }
        var status = WorkloadFacts.status([
            ("currentNumberScheduled", .int(Int64(current))),
            ("numberMisscheduled", .int(Int64(misscheduled))),
            ("desiredNumberScheduled", .int(Int64(shouldRun.count))),
            ("numberReady", .int(Int64(ready))),
            ("observedGeneration", ds.metadata["generation"]),
            ("updatedNumberScheduled", .int(Int64(updated))),
            ("numberAvailable", .int(Int64(available))),
            ("numberUnavailable", .int(Int64(max(0, shouldRun.count - available)))),
            ("collisionCount", ds["status"]?["collisionCount"].intValue.map { .int($0) }),
        ], keepZero: ["currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady", "collisionCount"])
        if let c = ds["status"]?["conditions"], !c.isNull { status["conditions"] = c }
        if let r = recheck { sq.add(s.key, after: Double(r) + 0.05) }
        guard ds["status"] != .object(status) else { return }
        _ = try? storage.update(.daemonSet, namespace: ds.namespace, name: ds.name, subresource: "status",
                                options: Self.writeOptions) { cur in
            guard cur.uid == ds.uid else { return cur }
            var c = cur
            c["status"] = .object(status)
            return c
        }
    }
}
