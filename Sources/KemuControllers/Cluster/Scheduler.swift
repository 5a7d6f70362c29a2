import Dispatch
import KemuAPI
import KemuRegistry

/// The scheduler part of `ClusterSimulator` (acts as `default-scheduler`).
///
/// Binds pods that have no `spec.nodeName`, `spec.schedulerName` empty or `default-scheduler`, no
/// `schedulingGates` and no deletionTimestamp, to a node (simulated or not) that:
/// - has a `Ready` condition that is True and is not cordoned (`spec.unschedulable`);
/// - matches the pod's `nodeSelector` and `requiredDuringScheduling` node affinity (matchExpressions
///   In/NotIn/Exists/DoesNotExist/Gt/Lt on labels; matchFields on metadata.name);
/// - has no NoSchedule/NoExecute taint the pod does not tolerate;
/// - holds fewer than `status.allocatable.pods` pods (and, if simulated, has pod addresses left).
/// Among those it picks the zone with the fewest pods, then the node with the fewest pods (ties by name).
/// Resource requests, pod (anti-)affinity, topology spread constraints, host ports and preemption are
/// not modelled. A pod that fits nowhere gets `PodScheduled=False` (reason `Unschedulable`) and is
/// retried whenever a node changes or a pod leaves a node.
enum Scheduler {
    static func wantsScheduling(_ pod: JSONObject) -> Bool {
        guard pod.deletionTimestamp == nil, PodFacts.nodeName(pod).isEmpty, !ClusterSimulator.isTerminal(pod) else { return false }
        let s = pod["spec"]?["schedulerName"].stringValue ?? ""
        guard s.isEmpty || s == "default-scheduler" else { return false }
        return (pod["spec"]?["schedulingGates"].arrayValue ?? []).isEmpty
    }

    static func tolerates(_ tolerations: [JSON], _ taint: JSON) -> Bool {
        let tk = taint["key"].stringValue ?? "", tv = taint["value"].stringValue ?? "", te = taint["effect"].stringValue ?? ""
        for t in tolerations {
            let effect = t["effect"].stringValue ?? ""
            guard effect.isEmpty || effect == te else { continue }
            let key = t["key"].stringValue ?? ""
            switch t["operator"].stringValue ?? "Equal" {
            case "Exists": if key.isEmpty || key == tk { return true }
            default: if key == tk && (t["value"].stringValue ?? "") == tv { return true }
            }
        }
        return false
    }

    static func matchesRequirement(_ r: JSON, labels: [String: String]) -> Bool {
        let key = r["key"].stringValue ?? ""
        let values = (r["values"].arrayValue ?? []).compactMap(\.stringValue)
        let v = labels[key]
        switch r["operator"].stringValue ?? "" {
        case "In": return v.map(values.contains) ?? false
        case "NotIn": return !(v.map(values.contains) ?? false)
        case "Exists": return v != nil
        case "DoesNotExist": return v == nil
        case "Gt": if let v, let a = Int(v), let b = values.first.flatMap({ Int($0) }) { return a > b }; return false
        case "Lt": if let v, let a = Int(v), let b = values.first.flatMap({ Int($0) }) { return a < b }; return false
        default: return false
        }
    }

    /// nodeSelector and required node affinity.
    static func matchesNode(_ pod: JSONObject, name: String, labels: [String: String]) -> Bool {
        if let sel = pod["spec"]?["nodeSelector"].stringMap, !sel.allSatisfy({ labels[$0.key] == $0.value }) { return false }
        let terms = pod["spec"]?["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"].arrayValue
        guard let terms, !terms.isEmpty else { return true }
        return terms.contains { term in
            let exprs = term["matchExpressions"].arrayValue ?? [], fields = term["matchFields"].arrayValue ?? []
            if exprs.isEmpty && fields.isEmpty { return false }
            return exprs.allSatisfy { matchesRequirement($0, labels: labels) }
                && fields.allSatisfy { matchesRequirement($0, labels: ["metadata.name": name]) }
        }
    }
}

extension ClusterSimulator {
    /// Why `node` cannot take `pod`; nil when it can.
    func unfit(_ pod: JSONObject, _ n: SimNode) -> String? {
        if !n.isReady { return "node(s) had untolerated taint {node.kubernetes.io/not-ready: }" }
        if n.unschedulable { return "node(s) were unschedulable" }
        if !Scheduler.matchesNode(pod, name: n.name, labels: n.labels) { return "node(s) didn't match Pod's node affinity/selector" }
        let tolerations = pod["spec"]?["tolerations"].arrayValue ?? []
        for t in n.taints {
            let e = t["effect"].stringValue ?? ""
            if (e == "NoSchedule" || e == "NoExecute") && !Scheduler.tolerates(tolerations, t) {
                return "node(s) had untolerated taint {\(t["key"].stringValue ?? ""): \(t["value"].stringValue ?? "")}"
            }
        }
        if n.pods.count >= n.maxPods { return "Too many pods" }
        if n.simulated, let a = n.allocator, a.allocatedCount >= a.capacity { return "node(s) had no free pod addresses" }
        if n.simulated, n.allocator == nil { return "node(s) had no pod CIDR" }
        return nil
    }

    func schedule(_ key: String) {
        guard let pod = podObject(key), Scheduler.wantsScheduling(pod) else { pending.remove(key); return }
        var best: SimNode?
        var reasons: [String: Int] = [:]
        // Candidates in preference order; the first that fits is the best. Those passed over are unfit,
        // and when none fits every node has been tried, so `reasons` counts them all.
        schedulingIndex.forEachInOrder { name in
            guard let n = nodes[name] else { return true }
            if let why = unfit(pod, n) { reasons[why, default: 0] += 1; return true }
            best = n
            return false
        }
        guard let node = best else {
            let detail = reasons.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            let msg = "0/\(nodes.count) nodes are available" + (detail.isEmpty ? "." : ": " + detail + ".")
                + " preemption: 0/\(nodes.count) nodes are available: \(nodes.count) Preemption is not helpful for scheduling."
            setScheduledCondition(key, status: "False", reason: "Unschedulable", message: msg)
            schedulerEvents.event(pod, EventRecorder.warning, "FailedScheduling", msg)
            return
        }
        let uid = pod.uid
        struct Raced: Error {}
        do {
            _ = try storage.update(.pod, namespace: pod.namespace, name: pod.name,
                                   options: WriteOptions(fieldManager: "default-scheduler")) { cur in
                guard cur.uid == uid, PodFacts.nodeName(cur).isEmpty, cur.deletionTimestamp == nil else { throw Raced() }
                var p = cur
                p.withObject("spec") { $0["nodeName"] = .string(node.name) }
                return p
            }
        } catch {
            return
        }
        schedulerEvents.event(pod, EventRecorder.normal, "Scheduled", "Successfully assigned \(pod.namespace)/\(pod.name) to \(node.name)")
        pending.remove(key)
        pods[key] = SimPod(uid: uid, node: node.name)
        nodes[node.name]?.pods.insert(key)
        nodeCountsChanged(node.name)
        if !node.simulated { setScheduledCondition(key, status: "True", reason: nil, message: nil) }
    }

    /// Writes the `PodScheduled` condition (scheduler's status write); no write when it already says so.
    func setScheduledCondition(_ key: String, status: String, reason: String?, message: String?) {
        guard let pod = podObject(key) else { return }
        var conds = pod["status"]?["conditions"].arrayValue ?? []
        let i = conds.firstIndex { $0["type"].stringValue == "PodScheduled" }
        if let i, conds[i]["status"].stringValue == status, conds[i]["message"].stringValue == message { return }
        var c: JSONObject = ["type": "PodScheduled", "status": .string(status), "lastProbeTime": nil,
                             "lastTransitionTime": .string(Timestamp.now())]
        if let i, conds[i]["status"].stringValue == status, case let t = conds[i]["lastTransitionTime"], !t.isNull { c["lastTransitionTime"] = t }
        if let reason { c["reason"] = .string(reason) }
        if let message { c["message"] = .string(message) }
        if let i { conds[i] = .object(c) } else { conds.append(.object(c)) }
        let uid = pod.uid
        _ = try? storage.update(.pod, namespace: pod.namespace, name: pod.name, subresource: "status",
                                options: WriteOptions(fieldManager: "default-scheduler")) { cur in
            guard cur.uid == uid else { return cur }
            var p = cur
            p.withObject("status") { $0["conditions"] = .array(conds) }
            return p
        }
    }

    /// Retries every pending pod once, soon (coalesced).
    func retryPendingSoon() {
        guard !retryScheduled else { return }
        retryScheduled = true
        let delay = 0.05
        queue.asyncAfter(deadline: .now() + delay) { [self] in
            retryScheduled = false
            guard !stopped else { return }
            for key in pending.sorted() { schedule(key) }
        }
    }
}

/// The nodes in the scheduler's order of preference: the zone with the fewest pods, then the node with the
/// fewest pods, then zone and node name; that is, by (pods in the node's zone, pods on the node, zone, name).
/// Kept up to date as pods are bound and released, so choosing a node does not visit every node.
struct SchedulingIndex {
    struct Slot: Comparable {
        var count: Int
        var name: String
        static func < (a: Slot, b: Slot) -> Bool { (a.count, a.name) < (b.count, b.name) }
    }

    /// What the index holds for each node.
    private var placed: [String: (zone: String, count: Int)] = [:]
    /// Per zone: its nodes by (pods, name), and its pod total.
    private var zones: [String: [Slot]] = [:]
    private var totals: [String: Int] = [:]

    /// Records a node's zone and pod count (nil: the node is gone).
    mutating func update(_ name: String, zone: String?, count: Int) {
        if let old = placed[name] {
            if old.zone == zone && old.count == count { return }
            let slot = Slot(count: old.count, name: name)
            if let i = Self.position(zones[old.zone] ?? [], slot), zones[old.zone]![i] == slot { zones[old.zone]!.remove(at: i) }
            totals[old.zone, default: 0] -= old.count
            if zones[old.zone]?.isEmpty == true { zones[old.zone] = nil; totals[old.zone] = nil }
            placed[name] = nil
        }
        guard let zone else { return }
        let slot = Slot(count: count, name: name)
        zones[zone, default: []].insert(slot, at: Self.position(zones[zone] ?? [], slot) ?? 0)
        totals[zone, default: 0] += count
        placed[name] = (zone, count)
    }

    /// The first index whose slot is not less than `slot`.
    private static func position(_ slots: [Slot], _ slot: Slot) -> Int? {
        var lo = 0, hi = slots.count
        while lo < hi { let m = (lo + hi) / 2; if slots[m] < slot { lo = m + 1 } else { hi = m } }
        return lo
    }

    /// Calls `body` with node names in order of preference until it returns false.
    func forEachInOrder(_ body: (String) -> Bool) {
        // Zones with equal totals interleave: their nodes are merged by (pods, zone, name).
        let order = totals.sorted { ($0.value, $0.key) < ($1.value, $1.key) }
        var g = 0
        while g < order.count {
            var end = g + 1
            while end < order.count && order[end].value == order[g].value { end += 1 }
            let group = order[g..<end].map { (zone: $0.key, slots: zones[$0.key] ?? []) }
            var next = Array(repeating: 0, count: group.count)
            while true {
                var pick = -1
                for z in group.indices where next[z] < group[z].slots.count {
                    if pick < 0 { pick = z; continue }
                    let a = group[z].slots[next[z]], b = group[pick].slots[next[pick]]
                    if (a.count, group[z].zone, a.name) < (b.count, group[pick].zone, b.name) { pick = z }
                }
                if pick < 0 { break }
                if !body(group[pick].slots[next[pick]].name) { return }
                next[pick] += 1
            }
            g = end
        }
    }
}
