import Dispatch
import FoundationEssentials
import KemuAPI
import KemuRegistry
import KemuStore

/// Helpers shared by the workload controllers (Deployment, ReplicaSet, StatefulSet, DaemonSet).
enum WorkloadFacts {
    static let podTemplateHashLabel = "pod-template-hash"
    static let revisionHashLabel = "controller-revision-hash"

    // MARK: hashing

    /// FNV-32a over the bytes, as upstream's `hashutil`.
    static func fnv32a(_ bytes: [UInt8]) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for b in bytes { h ^= UInt32(b); h = h &* 16_777_619 }
        return h
    }

    static let safeAlphabet = Array("bcdfghjklmnpqrstvwxz2456789")

    /// `rand.SafeEncodeString`: each character of the string mapped into upstream's alphabet.
    static func safeEncode(_ s: String) -> String {
        String(s.utf8.map { safeAlphabet[Int($0) % safeAlphabet.count] })
    }

    /// A JSON value with object keys sorted, so equal templates hash equally whatever their key order.
    static func canonical(_ v: JSON) -> JSON {
        switch v {
        case .object(let o):
            return .object(JSONObject(o.sorted { $0.key < $1.key }.map { ($0.key, canonical($0.value)) }))
        case .array(let a): return .array(a.map(canonical))
        default: return v
        }
    }

    /// The template without the `pod-template-hash` label (and without empty label/annotation maps), canonically ordered.
    static func templateIdentity(_ template: JSON) -> [UInt8] {
        guard case .object(var t) = template else { return JSONWriter.encode(canonical(template)) }
        var meta = t["metadata"]?.objectValue ?? JSONObject()
        if case .object(var labels)? = meta["labels"] {
            labels[podTemplateHashLabel] = nil
            meta["labels"] = labels.isEmpty ? nil : .object(labels)
        }
        if case .object(let a)? = meta["annotations"], a.isEmpty { meta["annotations"] = nil }
        meta["creationTimestamp"] = nil
        t["metadata"] = .object(meta)
        return JSONWriter.encode(canonical(.object(t)))
    }

    /// Upstream's `ComputeHash`: FNV-32a over the template (and the collision count), safe-encoded.
    static func templateHash(_ template: JSON, collisionCount: Int64? = nil) -> String {
        var bytes = templateIdentity(template)
        if let c = collisionCount { bytes += Array(String(c).utf8) }
        return safeEncode(String(fnv32a(bytes)))
    }

    // MARK: int-or-percent

    /// `GetScaledValueFromIntOrPercent`: an int as is, "N%" scaled to `total`, rounded up or down.
    static func scaled(_ v: JSON, total: Int, roundUp: Bool) -> Int {
        switch v {
        case .int(let i): return Int(i)
        case .string(let s):
            if s.hasSuffix("%"), let p = Int(s.dropLast()) {
                let num = p * total
                return roundUp ? (num + 99) / 100 : num / 100
            }
            return Int(s) ?? 0
        default: return v.intValue.map { Int($0) } ?? 0
        }
    }

    /// `ResolveFenceposts`: (maxSurge, maxUnavailable); both zero makes maxUnavailable one.
    static func fenceposts(surge: JSON, unavailable: JSON, replicas: Int) -> (Int, Int) {
        let s = scaled(surge, total: replicas, roundUp: true)
        var u = scaled(unavailable, total: replicas, roundUp: false)
        if s == 0 && u == 0 { u = 1 }
        return (s, u)
    }

    // MARK: pods

    static func isActive(_ pod: JSONObject) -> Bool {
        let p = PodFacts.phase(pod)
        return pod.deletionTimestamp == nil && p != "Succeeded" && p != "Failed"
    }

    static func readySince(_ pod: JSONObject) -> Int? {
        for c in pod["status"]?["conditions"].arrayValue ?? [] where c["type"].stringValue == "Ready" {
            guard c["status"].stringValue == "True" else { return nil }
            return c["lastTransitionTime"].stringValue.flatMap(Timestamp.parse) ?? 0
        }
        return nil
    }

    /// Ready for at least `minReadySeconds`; `recheck` is how many seconds until it will be, when not yet.
    static func availability(_ pod: JSONObject, minReadySeconds: Int, now: Int) -> (available: Bool, recheck: Int?) {
        guard let since = readySince(pod) else { return (false, nil) }
        if minReadySeconds <= 0 { return (true, nil) }
        let at = since + minReadySeconds
        return at <= now ? (true, nil) : (false, at - now)
    }

    static func isRunningAndReady(_ pod: JSONObject) -> Bool {
        PodFacts.phase(pod) == "Running" && PodFacts.isReady(pod)
    }

    static func now() -> Int { Int(Date().timeIntervalSince1970) }

    // MARK: owners

    /// The UID of the controller owner reference of `kind`, if any.
    static func controllerUID(_ obj: JSONObject, kind: String) -> String? {
        for r in obj.metadata["ownerReferences"]?.arrayValue ?? [] where r["controller"].boolValue == true {
            return r["kind"].stringValue == kind ? r["uid"].stringValue : nil
        }
        return nil
    }

    static func ownerReference(_ owner: JSONObject, kind: String) -> JSON {
        ["apiVersion": "apps/v1", "kind": .string(kind), "name": .string(owner.name), "uid": .string(owner.uid),
         "controller": true, "blockOwnerDeletion": true]
    }

    static func int(_ v: JSON?, _ d: Int = 0) -> Int { v?.intValue.map { Int($0) } ?? d }

    /// Drops zero ints (Go's omitempty) from a status built in upstream's field order.
    static func status(_ fields: [(String, JSON?)], keepZero: Set<String> = []) -> JSONObject {
        var o = JSONObject()
        for (k, v) in fields {
            guard let v else { continue }
            if case .int(0) = v, !keepZero.contains(k) { continue }
            o[k] = v
        }
        return o
    }

    /// Makes a pod body from a template.
    static func podFromTemplate(_ template: JSON, owner: JSONObject, ownerKind: String,
                                extraLabels: [String: String] = [:]) -> JSONObject {
        let tmeta = template["metadata"].objectValue ?? JSONObject()
        var labels = template["metadata"]["labels"].objectValue ?? JSONObject()
        for (k, v) in extraLabels.sorted(by: { $0.key < $1.key }) { labels[k] = .string(v) }
        var meta = JSONObject()
        if !labels.isEmpty { meta["labels"] = .object(labels) }
        if let a = tmeta["annotations"], case .object(let ao) = a, !ao.isEmpty { meta["annotations"] = a }
        if let f = tmeta["finalizers"] { meta["finalizers"] = f }
        meta["ownerReferences"] = [ownerReference(owner, kind: ownerKind)]
        var pod: JSONObject = ["apiVersion": "v1", "kind": "Pod"]
        pod["metadata"] = .object(meta)
        pod["spec"] = template["spec"].isNull ? .object(JSONObject()) : template["spec"]
        return pod
    }
}

/// Objects of one kind held by controller owner, from watch events and the controller's own writes.
/// Keyed by namespace/name; stale events for an object the controller already deleted are ignored.
struct OwnedIndex {
    let ownerKind: String
    var objects: [String: StoredObject] = [:]
    /// Keys by controller owner UID (an object's owner is read off its indexed version).
    var byOwner: [String: Set<String>] = [:]
    var deletedUIDs: Set<String> = []

    init(ownerKind: String) { self.ownerKind = ownerKind }

    /// Records a version; returns the controller owner's UID (old and new) touched.
    @discardableResult
    mutating func put(_ o: StoredObject) -> [String] {
        let k = o.key
        if deletedUIDs.contains(o.object.uid) { return [] }
        if let cur = objects[k], cur.object.uid == o.object.uid, cur.resourceVersion > o.resourceVersion { return [] }
        let u = WorkloadFacts.controllerUID(o.object, kind: ownerKind)
        // Objects no owner of this kind controls are not kept (a DaemonSet controller does not file every
        // ReplicaSet's pods), unless an earlier version was: its newer version must still shadow stale events.
        if u == nil && objects[k] == nil { return [] }
        var touched: [String] = []
        if let old = owner(k) { byOwner[old]?.remove(k); touched.append(old) }
        objects[k] = o
        if let u {
            byOwner[u, default: []].insert(k)
            if !touched.contains(u) { touched.append(u) }
        }
        return touched
    }

    /// Removes an object if the stored one is the same (by UID).
    @discardableResult
    mutating func remove(_ o: StoredObject, byController: Bool = false) -> [String] {
        let k = o.key
        if byController { deletedUIDs.insert(o.object.uid) } else { deletedUIDs.remove(o.object.uid) }
        guard let cur = objects[k], cur.object.uid == o.object.uid else {
            // Already gone from the index (the controller deleted it): its owner still wants a look.
            return WorkloadFacts.controllerUID(o.object, kind: ownerKind).map { [$0] } ?? []
        }
        let old = owner(k)
        objects[k] = nil
        if let old {
            byOwner[old]?.remove(k)
            if byOwner[old]?.isEmpty == true { byOwner[old] = nil }
            return [old]
        }
        return []
    }

    /// The controller owner's UID of the indexed version under `key`.
    func owner(_ key: String) -> String? {
        objects[key].flatMap { WorkloadFacts.controllerUID($0.object, kind: ownerKind) }
    }

    func owned(by uid: String) -> [StoredObject] {
        (byOwner[uid] ?? []).compactMap { objects[$0] }
    }
}
