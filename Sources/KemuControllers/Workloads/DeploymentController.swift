import Dispatch
import FoundationEssentials
import KemuAPI
import KemuRegistry
import KemuStore

/// kube-controller-manager's Deployment controller: one ReplicaSet per pod template
/// (`<name>-<pod-template-hash>`), rolled with RollingUpdate or Recreate, revisions in annotations,
/// old ReplicaSets pruned past `revisionHistoryLimit`, and the status `kubectl rollout status` reads.
public final class DeploymentController: Controller, @unchecked Sendable {
    public let name = "deployment-controller"
    let storage: ObjectStorage
    let options: ControllerOptions
    static let writeOptions = WriteOptions(fieldManager: "deployment-controller")

    static let revisionAnnotation = "deployment.kubernetes.io/revision"
    static let revisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
    static let desiredAnnotation = "deployment.kubernetes.io/desired-replicas"
    static let maxAnnotation = "deployment.kubernetes.io/max-replicas"
    /// Deployment annotations not copied onto its ReplicaSets.
    static let notCopied: Set<String> = [
        "kubectl.kubernetes.io/last-applied-configuration", revisionAnnotation, revisionHistoryAnnotation,
        desiredAnnotation, maxAnnotation, "deprecated.deployment.rollback.to",
    ]

    // Touched only on `sq.queue`.
    var sq: WorkQueue!
    var feeds: [EventFeed] = []
    var sets = OwnedIndex(ownerKind: "Deployment")
    var keyByUID: [String: String] = [:]
    /// Pods not yet terminal (terminating ones included) by ReplicaSet UID, for Recreate's wait for old pods.
    var livePods = OwnedIndex(ownerKind: "ReplicaSet")
    var deploymentOfRS: [String: String] = [:]

    public init(storage: ObjectStorage, options: ControllerOptions) {
        self.storage = storage
        self.options = options
        sq = WorkQueue(label: "kemu.deployment") { [weak self] key in self?.sync(key) }
    }

    public func start() {
        feeds = follow(storage, kinds: [.deployment, .replicaSet, .pod], queue: sq.queue, initial: { [self] kind, items in
            for o in items {
                if kind.resource == "pods" { if !Self.terminal(o.object) { livePods.put(o) } }
                else if kind.resource == "replicasets" { sets.put(o); noteRS(o, deleted: false) } else { keyByUID[o.object.uid] = o.key; sq.add(o.key) }
            }
        }, handler: { [self] e in handle(e) })
    }

    public func stop() {
        unfollow(storage, feeds)
        sq.stop()
    }

    static func terminal(_ pod: JSONObject) -> Bool {
        let p = PodFacts.phase(pod)
        return p == "Succeeded" || p == "Failed"
    }

    func noteRS(_ o: StoredObject, deleted: Bool) {
        deploymentOfRS[o.object.uid] = deleted ? nil : WorkloadFacts.controllerUID(o.object, kind: "Deployment")
    }

    func handle(_ e: StoreEvent) {
        if e.resource.resource == "pods" {
            // Only the end of an old pod matters here (Recreate waits for it).
            let gone = e.type == .deleted || Self.terminal(e.object.object)
            let touched = gone ? livePods.remove(e.object) : livePods.put(e.object)
            if gone { for rs in touched { if let d = deploymentOfRS[rs], let k = keyByUID[d] { sq.add(k) } } }
            return
        }
        if e.resource.resource == "replicasets" {
            noteRS(e.object, deleted: e.type == .deleted)
            let touched = e.type == .deleted ? sets.remove(e.object) : sets.put(e.object)
            for u in touched { if let k = keyByUID[u] { sq.add(k) } }
        } else {
            let k = e.object.key
            if e.type == .deleted { keyByUID[e.object.object.uid] = nil; return }
            keyByUID[e.object.object.uid] = k
            if e.type == .modified, let p = e.previous, p.object["spec"] == e.object.object["spec"],
               p.object.metadata["annotations"] == e.object.object.metadata["annotations"],
               p.object["status"] != e.object.object["status"] { return }
            sq.add(k)
        }
    }

    // MARK: sync

    struct RS {
        var stored: StoredObject
        var obj: JSONObject { stored.object }
        var name: String { stored.name }
        var replicas: Int { WorkloadFacts.int(obj["spec"]?["replicas"]) }
        var statusReplicas: Int { WorkloadFacts.int(obj["status"]?["replicas"]) }
        var ready: Int { WorkloadFacts.int(obj["status"]?["readyReplicas"]) }
        var available: Int { WorkloadFacts.int(obj["status"]?["availableReplicas"]) }
        var revision: Int { Int(obj.annotations[DeploymentController.revisionAnnotation] ?? "") ?? 0 }
        var created: String { obj.metadata.string("creationTimestamp") ?? "" }
    }

    func sync(_ key: String) {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2,
              let d = storage.store.get(ResourceKind.deployment.groupResource, namespace: parts[0], name: parts[1]) else { return }
        let dep = d.object
        if dep.deletionTimestamp != nil { return }
        let spec = dep["spec"] ?? .null
        let replicas = WorkloadFacts.int(spec["replicas"], 1)
        let paused = spec["paused"].boolValue ?? false
        let strategyType = spec["strategy"]["type"].stringValue ?? "RollingUpdate"
        let (maxSurge, maxUnavailable) = strategyType == "RollingUpdate"
            ? WorkloadFacts.fenceposts(surge: spec["strategy"]["rollingUpdate"]["maxSurge"],
                                       unavailable: spec["strategy"]["rollingUpdate"]["maxUnavailable"], replicas: replicas)
            : (0, 0)
        let template = spec["template"]
        let identity = WorkloadFacts.templateIdentity(template)

        var all = sets.owned(by: dep.uid).filter { $0.object.deletionTimestamp == nil }.map { RS(stored: $0) }
            .sorted { ($0.created, $0.name) < ($1.created, $1.name) }
        var newRS = all.first { WorkloadFacts.templateIdentity($0.obj["spec"]?["template"] ?? .null) == identity }
        var old = all.filter { $0.name != newRS?.name }
        let maxOldRevision = old.map(\.revision).max() ?? 0
        var createdName: String?

        // The new ReplicaSet: created (unless paused), its revision and annotations brought up to date.
        // A changed replica count on active ReplicaSets is a scaling event: scale proportionally, roll nothing.
        let scalingEvent = all.contains { rs in
            rs.replicas > 0 && rs.obj.annotations[Self.desiredAnnotation].flatMap(Int.init).map { $0 != replicas } ?? false
        }
        let onlyScale = paused || scalingEvent
        if newRS == nil && !onlyScale {
            let initial: Int
            if strategyType == "Recreate" {
                initial = old.contains { $0.replicas > 0 || $0.statusReplicas > 0 || !livePods.owned(by: $0.obj.uid).isEmpty } ? 0 : replicas
            } else {
                let current = old.reduce(0) { $0 + $1.replicas }
                initial = max(0, min(replicas + maxSurge - current, replicas))
            }
            if let rs = createReplicaSet(dep, template: template, replicas: initial, revision: maxOldRevision + 1, maxSurge: maxSurge) {
                newRS = RS(stored: rs)
                all.append(newRS!)
                createdName = rs.name
            } else {
                sq.add(key, after: 1)
                return
            }
        } else if let n = newRS {
            let wanted = newAnnotations(dep, existing: n.obj.annotations, revision: max(n.revision, maxOldRevision + 1),
                                        replicas: replicas, maxSurge: maxSurge, setReplicas: false)
            let minReady = dep["spec"]?["minReadySeconds"].intValue
            let minReadyDiffers = (n.obj["spec"]?["minReadySeconds"].intValue ?? 0) != (minReady ?? 0)
            if wanted != n.obj.annotations || minReadyDiffers,
               let u = patchRS(n.stored, annotations: wanted, minReadySeconds: minReadyDiffers ? .some(minReady) : nil) {
                newRS = RS(stored: u)
            }
        }
        old = all.filter { $0.name != newRS?.name }

        // Scaling and rollout.
        if onlyScale {
            proportionalScale(dep, newRS: newRS, old: old, replicas: replicas, maxSurge: maxSurge,
                              rolling: strategyType == "RollingUpdate")
        } else if let n = newRS {
            let ann = (replicas, maxSurge)
            if strategyType == "Recreate" {
                for o in old where o.replicas > 0 { scale(o, to: 0, ann) }
                let oldRunning = old.contains { $0.statusReplicas > 0 || $0.replicas > 0 || !livePods.owned(by: $0.obj.uid).isEmpty }
                if !oldRunning && n.replicas != replicas { scale(n, to: replicas, ann) }
            } else {
                rollingUpdate(newRS: n, old: old, replicas: replicas, maxSurge: maxSurge, maxUnavailable: maxUnavailable, ann)
            }
        }

        // Re-read what the scaling changed.
        all = sets.owned(by: dep.uid).filter { $0.object.deletionTimestamp == nil }.map { RS(stored: $0) }
            .sorted { ($0.created, $0.name) < ($1.created, $1.name) }
        newRS = newRS.flatMap { n in all.first { $0.name == n.name } }
        old = all.filter { $0.name != newRS?.name }

        let status = computeStatus(dep, newRS: newRS, all: all, replicas: replicas, maxUnavailable: maxUnavailable,
                                   paused: paused, createdName: createdName)
        if Self.complete(dep, status: status, replicas: replicas) && !paused {
            cleanup(dep, old: old)
        }
        // The deployment carries the new ReplicaSet's revision.
        if let n = newRS, dep.annotations[Self.revisionAnnotation] != String(n.revision) {
            _ = try? storage.update(.deployment, namespace: dep.namespace, name: dep.name, options: Self.writeOptions) { cur in
                guard cur.uid == dep.uid else { return cur }
                var c = cur
                var a = c.metadata["annotations"]?.objectValue ?? JSONObject()
                a[Self.revisionAnnotation] = .string(String(n.revision))
                c.metadata["annotations"] = .object(a)
                return c
            }
        }
        if dep["status"] != .object(status) {
            _ = try? storage.update(.deployment, namespace: dep.namespace, name: dep.name, subresource: "status",
                                    options: Self.writeOptions) { cur in
                guard cur.uid == dep.uid else { return cur }
                var c = cur
                c["status"] = .object(status)
                return c
            }
        }
        // Progress deadline: look again when it would pass.
        if !paused, !Self.complete(dep, status: status, replicas: replicas),
           let deadline = spec["progressDeadlineSeconds"].intValue, deadline < Int64(Int32.max) {
            sq.add(key, after: Double(deadline) + 1)
        }
    }

    /// Upstream's `scale`: the only active (or the latest) ReplicaSet takes the full count; a saturated new
    /// ReplicaSet retires the old ones; otherwise the difference is spread in proportion to each set's size.
    func proportionalScale(_ dep: JSONObject, newRS: RS?, old: [RS], replicas: Int, maxSurge: Int, rolling: Bool) {
        let ann = (replicas, maxSurge)
        let oldNewest = old.sorted { ($0.created, $0.name) > ($1.created, $1.name) }
        let active = (oldNewest + (newRS.map { [$0] } ?? [])).filter { $0.replicas > 0 }
        if active.count <= 1 {
            let target = active.first ?? newRS ?? oldNewest.first
            if let t = target, t.replicas != replicas { scale(t, to: replicas, ann) }
            return
        }
        if let n = newRS, n.obj.annotations[Self.desiredAnnotation] == String(replicas), n.replicas == replicas, n.available == replicas {
            for o in old where o.replicas > 0 { scale(o, to: 0, ann) }
            return
        }
        guard rolling else { return }
        let total = active.reduce(0) { $0 + $1.replicas }
        let allowed = replicas > 0 ? replicas + maxSurge : 0
        let toAdd = allowed - total
        // Larger first; ties newer first when growing, older first when shrinking.
        let ordered = active.sorted { a, b in
            if a.replicas != b.replicas { return a.replicas > b.replicas }
            return toAdd > 0 ? (a.created, a.name) > (b.created, b.name) : (a.created, a.name) < (b.created, b.name)
        }
        var added = 0
        var sizes: [Int] = []
        for rs in ordered {
            var proportion = 0
            if toAdd != 0 && rs.replicas > 0 && toAdd != added {
                let fraction: Int
                if replicas == 0 {
                    fraction = -rs.replicas
                } else {
                    var before = Int(rs.obj.annotations[Self.maxAnnotation] ?? "") ?? 0
                    if before == 0 { before = WorkloadFacts.int(dep["status"]?["replicas"]) }
                    let size = before == 0 ? Double(rs.replicas) : Double(rs.replicas * (replicas + maxSurge)) / Double(before)
                    fraction = Int(size < 0 ? size - 0.5 : size + 0.5) - rs.replicas
                }
                let allowedLeft = toAdd - added
                proportion = toAdd > 0 ? min(fraction, allowedLeft) : max(fraction, allowedLeft)
            }
            sizes.append(rs.replicas + proportion)
            added += proportion
        }
        for (i, rs) in ordered.enumerated() {
            var size = sizes[i]
            if i == 0 && toAdd != 0 { size = max(0, size + toAdd - added) }
            scale(rs, to: size, ann)
        }
    }

    func rollingUpdate(newRS n: RS, old: [RS], replicas: Int, maxSurge: Int, maxUnavailable: Int, _ ann: (Int, Int)) {
        // reconcileNewReplicaSet
        var newReplicas = n.replicas
        if n.replicas > replicas {
            scale(n, to: replicas, ann); newReplicas = replicas
        } else if n.replicas < replicas {
            let current = old.reduce(n.replicas) { $0 + $1.replicas }
            let maxTotal = replicas + maxSurge
            if current < maxTotal {
                let up = min(maxTotal - current, replicas - n.replicas)
                newReplicas = n.replicas + up
                scale(n, to: newReplicas, ann)
            }
        } else if n.obj.annotations[Self.desiredAnnotation] != String(replicas) {
            scale(n, to: n.replicas, ann)
        }
        // reconcileOldReplicaSets
        var olds = old
        let oldCount = olds.reduce(0) { $0 + $1.replicas }
        guard oldCount > 0 else { return }
        let allCount = oldCount + newReplicas
        let minAvailable = replicas - maxUnavailable
        let newUnavailable = newReplicas - n.available
        var maxScaledDown = allCount - minAvailable - newUnavailable
        guard maxScaledDown > 0 else { return }
        // Unhealthy old replicas go first.
        for i in olds.indices where maxScaledDown > 0 {
            let o = olds[i]
            let unhealthy = o.replicas - o.available
            guard o.replicas > 0, unhealthy > 0 else { continue }
            let down = min(unhealthy, maxScaledDown)
            scale(o, to: o.replicas - down, ann)
            olds[i].stored = sets.objects[o.stored.key] ?? o.stored
            maxScaledDown -= down
        }
        // Then as many as availability allows.
        let availableNow = olds.reduce(n.available) { $0 + min($1.available, $1.replicas) }
        guard availableNow > minAvailable else { return }
        var total = availableNow - minAvailable
        for o in olds where total > 0 && o.replicas > 0 {
            let down = min(o.replicas, total)
            scale(o, to: o.replicas - down, ann)
            total -= down
        }
    }

    func newAnnotations(_ dep: JSONObject, existing: [String: String], revision: Int, replicas: Int, maxSurge: Int,
                        setReplicas: Bool) -> [String: String] {
        var a = existing
        for (k, v) in dep.annotations where !Self.notCopied.contains(k) { a[k] = v }
        let oldRev = existing[Self.revisionAnnotation]
        if let oldRev, let o = Int(oldRev), o < revision {
            let history = existing[Self.revisionHistoryAnnotation].map { $0 + "," + oldRev } ?? oldRev
            a[Self.revisionHistoryAnnotation] = history
        }
        if oldRev.flatMap(Int.init) ?? 0 < revision { a[Self.revisionAnnotation] = String(revision) }
        if setReplicas {
            a[Self.desiredAnnotation] = String(replicas)
            a[Self.maxAnnotation] = String(replicas + maxSurge)
        }
        return a
    }

    func createReplicaSet(_ dep: JSONObject, template: JSON, replicas: Int, revision: Int, maxSurge: Int) -> StoredObject? {
        let hash = WorkloadFacts.templateHash(template, collisionCount: dep["status"]?["collisionCount"].intValue)
        var t = template.objectValue ?? JSONObject()
        t.withObject("metadata") { m in
            var labels = m["labels"]?.objectValue ?? JSONObject()
            labels[WorkloadFacts.podTemplateHashLabel] = .string(hash)
            m["labels"] = .object(labels)
        }
        var selector = dep["spec"]?["selector"].objectValue ?? JSONObject()
        var ml = selector["matchLabels"]?.objectValue ?? JSONObject()
        ml[WorkloadFacts.podTemplateHashLabel] = .string(hash)
        selector["matchLabels"] = .object(ml)
        let annotations = newAnnotations(dep, existing: [:], revision: revision, replicas: WorkloadFacts.int(dep["spec"]?["replicas"], 1),
                                         maxSurge: maxSurge, setReplicas: true)
        var meta = JSONObject()
        meta["name"] = .string(dep.name + "-" + hash)
        meta["namespace"] = .string(dep.namespace)
        meta["labels"] = t["metadata"]?["labels"] ?? .null
        meta["annotations"] = .stringMap(annotations)
        meta["ownerReferences"] = [WorkloadFacts.ownerReference(dep, kind: "Deployment")]
        var spec = JSONObject()
        spec["replicas"] = .int(Int64(replicas))
        if let m = dep["spec"]?["minReadySeconds"] { spec["minReadySeconds"] = m }
        spec["selector"] = .object(selector)
        spec["template"] = .object(t)
        let body: JSONObject = ["apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": .object(meta), "spec": .object(spec)]
        do {
            let rs = try storage.create(.replicaSet, namespace: dep.namespace, body: body, options: Self.writeOptions)
            if replicas > 0 { recorder.event(dep, EventRecorder.normal, "ScalingReplicaSet", "Scaled up replica set \(rs.name) from 0 to \(replicas)") }
            sets.put(rs)
            return rs
        } catch {
            recorder.replicaSetCreateFailed(dep, name: dep.name + "-" + hash, error)
            // Already there: adopt it if it is ours and has the same template.
            if let rs = storage.store.get(ResourceKind.replicaSet.groupResource, namespace: dep.namespace, name: dep.name + "-" + hash),
               WorkloadFacts.controllerUID(rs.object, kind: "Deployment") == dep.uid {
                sets.put(rs)
                return rs
            }
            // A real hash collision: bump collisionCount so the next sync uses another name.
            if let rs = storage.store.get(ResourceKind.replicaSet.groupResource, namespace: dep.namespace, name: dep.name + "-" + hash),
               WorkloadFacts.templateIdentity(rs.object["spec"]?["template"] ?? .null) != WorkloadFacts.templateIdentity(template) {
                _ = try? storage.update(.deployment, namespace: dep.namespace, name: dep.name, subresource: "status",
                                        options: Self.writeOptions) { cur in
                    var c = cur
                    var s = c["status"]?.objectValue ?? JSONObject()
                    s["collisionCount"] = .int((s["collisionCount"]?.intValue ?? 0) + 1)
                    c["status"] = .object(s)
                    return c
                }
            }
            return nil
        }
    }

    func patchRS(_ rs: StoredObject, annotations: [String: String], replicas: Int? = nil,
                 minReadySeconds: Int64?? = nil) -> StoredObject? {
        let uid = rs.object.uid
        guard let (u, _) = try? storage.update(.replicaSet, namespace: rs.namespace, name: rs.name, options: Self.writeOptions, transform: { cur in
            guard cur.uid == uid else { return cur }
            var c = cur
            c.metadata["annotations"] = .stringMap(annotations)
            if let replicas { c.withObject("spec") { $0["replicas"] = .int(Int64(replicas)) } }
            if let m = minReadySeconds { c.withObject("spec") { $0["minReadySeconds"] = m.map { .int($0) } } }
            return c
        }) else { return nil }
        sets.put(u)
        return u
    }

    /// Scales a ReplicaSet and stamps desired/max replicas on it, as upstream's `scaleReplicaSet`.
    func scale(_ rs: RS, to n: Int, _ ann: (replicas: Int, maxSurge: Int)) {
        var a = rs.obj.annotations
        a[Self.desiredAnnotation] = String(ann.replicas)
        a[Self.maxAnnotation] = String(ann.replicas + ann.maxSurge)
        guard a != rs.obj.annotations || rs.replicas != n else { return }
        if patchRS(rs.stored, annotations: a, replicas: n) != nil, rs.replicas != n {
            recorder.scaledReplicaSet(WorkloadEvents.owner(of: rs.stored, .deployment, storage), rs.name, from: rs.replicas, to: n)
        }
    }

    func cleanup(_ dep: JSONObject, old: [RS]) {
        guard let limit = dep["spec"]?["revisionHistoryLimit"].intValue else { return }
        let candidates = old.filter { $0.replicas == 0 && $0.statusReplicas == 0 &&
            WorkloadFacts.int($0.obj["status"]?["observedGeneration"]) >= WorkloadFacts.int($0.obj.metadata["generation"]) }
            .sorted { ($0.revision, $0.created) < ($1.revision, $1.created) }
        let excess = candidates.count - Int(limit)
        guard excess > 0 else { return }
        for rs in candidates.prefix(excess) {
            var opts = DeleteOptions()
            opts.preconditionUID = rs.obj.uid
            if (try? storage.delete(.replicaSet, namespace: rs.stored.namespace, name: rs.name, options: opts)) != nil {
                sets.remove(rs.stored, byController: true)
            }
        }
    }

    static func complete(_ dep: JSONObject, status: JSONObject, replicas: Int) -> Bool {
        let s = JSON.object(status)
        return WorkloadFacts.int(s["updatedReplicas"]) == replicas && WorkloadFacts.int(s["replicas"]) == replicas
            && WorkloadFacts.int(s["availableReplicas"]) == replicas
            && WorkloadFacts.int(s["observedGeneration"]) >= WorkloadFacts.int(dep.metadata["generation"])
    }

    func computeStatus(_ dep: JSONObject, newRS: RS?, all: [RS], replicas: Int, maxUnavailable: Int, paused: Bool,
                       createdName: String?) -> JSONObject {
        let total = all.reduce(0) { $0 + $1.statusReplicas }
        let updated = newRS?.statusReplicas ?? 0
        let ready = all.reduce(0) { $0 + $1.ready }
        let available = all.reduce(0) { $0 + $1.available }
        let unavailable = max(0, replicas - available)
        let old = dep["status"]?.objectValue ?? JSONObject()
        var conditions = old["conditions"]?.arrayValue ?? []
        let now = Timestamp.now()

        func set(_ type: String, _ status: String, _ reason: String, _ message: String, refresh: Bool) {
            let idx = conditions.firstIndex { $0["type"].stringValue == type }
            let cur = idx.map { conditions[$0] }
            if let cur, cur["status"].stringValue == status, cur["reason"].stringValue == reason,
               cur["message"].stringValue == message, !refresh { return }
            let transition = (cur?["status"].stringValue == status ? cur?["lastTransitionTime"].stringValue : nil) ?? now
            let c: JSON = ["type": .string(type), "status": .string(status), "lastUpdateTime": .string(now),
                           "lastTransitionTime": .string(transition), "reason": .string(reason), "message": .string(message)]
            if let idx { conditions[idx] = c } else { conditions.append(c) }
        }

        if available >= replicas - maxUnavailable {
            set("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", refresh: false)
        } else {
            set("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", refresh: false)
        }
        var status = WorkloadFacts.status([
            ("observedGeneration", dep.metadata["generation"]),
            ("replicas", .int(Int64(total))),
            ("updatedReplicas", .int(Int64(updated))),
            ("readyReplicas", .int(Int64(ready))),
            ("availableReplicas", .int(Int64(available))),
            ("unavailableReplicas", .int(Int64(unavailable))),
        ])
        let progressing = conditions.first { $0["type"].stringValue == "Progressing" }
        let rsName = newRS?.name ?? ""
        if paused {
            set("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", refresh: false)
        } else if let createdName {
            set("Progressing", "True", "NewReplicaSetCreated", "Created new replica set \"\(createdName)\"", refresh: true)
        } else if progressing == nil, newRS != nil, !(dep["spec"] ?? .null)["progressDeadlineSeconds"].isNull,
                  !Self.complete(dep, status: status, replicas: replicas) {
            set("Progressing", "True", "FoundNewReplicaSet", "Found new replica set \"\(rsName)\"", refresh: true)
        } else if Self.complete(dep, status: status, replicas: replicas) {
            set("Progressing", "True", "NewReplicaSetAvailable", "ReplicaSet \"\(rsName)\" has successfully progressed.", refresh: false)
        } else if progressing?["reason"].stringValue == "DeploymentPaused" {
            set("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", refresh: false)
        } else {
            let s = JSON.object(status), o = JSON.object(old)
            let moved = WorkloadFacts.int(s["updatedReplicas"]) != WorkloadFacts.int(o["updatedReplicas"])
                || WorkloadFacts.int(s["readyReplicas"]) > WorkloadFacts.int(o["readyReplicas"])
                || WorkloadFacts.int(s["availableReplicas"]) > WorkloadFacts.int(o["availableReplicas"])
                || (WorkloadFacts.int(s["replicas"]) - WorkloadFacts.int(s["updatedReplicas"]))
                    < (WorkloadFacts.int(o["replicas"]) - WorkloadFacts.int(o["updatedReplicas"]))
            if moved || progressing == nil {
                set("Progressing", "True", "ReplicaSetUpdated", "ReplicaSet \"\(rsName)\" is progressing.", refresh: true)
            } else if let p = progressing, p["status"].stringValue == "True",
                      let deadline = dep["spec"]?["progressDeadlineSeconds"].intValue,
                      let last = p["lastUpdateTime"].stringValue.flatMap(Timestamp.parse),
                      last + Int(deadline) < WorkloadFacts.now() {
                set("Progressing", "False", "ProgressDeadlineExceeded", "ReplicaSet \"\(rsName)\" has timed out progressing.", refresh: false)
            }
        }
        if !conditions.isEmpty { status["conditions"] = .array(conditions) }
        if let c = old["collisionCount"] { status["collisionCount"] = c }
        return status
    }
}
