import FoundationEssentials
import KemuAPI
import KemuRegistry
import KemuStore

/// The ControllerRevisions of one owner kind (StatefulSet or DaemonSet), as upstream's `controller/history`:
/// each holds `data` = the strategic merge patch that puts a pod template back (`{"spec":{"template":{…,
/// "$patch":"replace"}}}`, what `kubectl rollout undo` sends), a `revision` number, the template's labels plus
/// `controller-revision-hash`, the owner's annotations and a controller owner reference.
/// Touched only on the owning controller's queue.
struct RevisionHistory {
    let ownerKind: String
    let writeOptions: WriteOptions
    var index: OwnedIndex

    init(ownerKind: String, writeOptions: WriteOptions) {
        self.ownerKind = ownerKind
        self.writeOptions = writeOptions
        index = OwnedIndex(ownerKind: ownerKind)
    }

    /// The owner's live revisions, oldest revision first.
    func owned(by uid: String) -> [StoredObject] {
        index.owned(by: uid).filter { $0.object.deletionTimestamp == nil }
            .sorted { (Self.number($0), $0.name) < (Self.number($1), $1.name) }
    }

    static func number(_ cr: StoredObject) -> Int { WorkloadFacts.int(cr.object["revision"]) }

    // MARK: data

    /// The revision data of a template, as upstream's `getPatch` serialises it: the typed template encoded by Go
    /// (so `metadata.creationTimestamp: null` and each container's `resources: {}` are there) with keys sorted.
    static func data(template: JSON) -> JSON {
        var t = template.objectValue ?? JSONObject()
        t.withObject("metadata") { m in if m["creationTimestamp"] == nil { m["creationTimestamp"] = .null } }
        t.withObject("spec") { spec in
            for list in ["initContainers", "containers"] {
                guard let containers = spec[list]?.arrayValue else { continue }
                spec[list] = .array(containers.map { c in
                    guard var o = c.objectValue else { return c }
                    if o["resources"] == nil { o["resources"] = .object(JSONObject()) }
                    return .object(o)
                })
            }
        }
        t["$patch"] = "replace"
        return WorkloadFacts.canonical(["spec": ["template": .object(t)]])
    }

    /// The template a revision puts back (upstream's `ApplyRevision`, whose patch replaces the whole template).
    static func template(of cr: StoredObject) -> JSON {
        guard var t = cr.object["data"]?["spec"]["template"].objectValue else { return .null }
        t["$patch"] = nil
        return .object(t)
    }

    /// FNV-32 (not 1a) over the bytes, as Go's `fnv.New32`.
    static func fnv32(_ bytes: [UInt8]) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for b in bytes { h = h &* 16_777_619; h ^= UInt32(b) }
        return h
    }

    /// `HashControllerRevision`: the data's JSON bytes and the collision count in decimal, safe-encoded.
    static func hash(data: JSON, collisionCount: Int64) -> String {
        WorkloadFacts.safeEncode(String(fnv32(JSONWriter.encode(data) + Array(String(collisionCount).utf8))))
    }

    // MARK: writes

    /// Creates a revision; an existing one of that name with the same data is returned instead, one with other data
    /// is a hash collision (nil, and `collided` is set).
    mutating func create(_ storage: ObjectStorage, owner: JSONObject, name: String, hash: String, data: JSON,
                         revision: Int, collided: inout Bool) -> StoredObject? {
        var labels = owner["spec"]?["template"]["metadata"]["labels"].objectValue ?? JSONObject()
        labels[WorkloadFacts.revisionHashLabel] = .string(hash)
        var meta: JSONObject = ["name": .string(name), "namespace": .string(owner.namespace), "labels": .object(labels)]
        if let a = owner.metadata["annotations"], case .object(let o) = a, !o.isEmpty { meta["annotations"] = a }
        meta["ownerReferences"] = [WorkloadFacts.ownerReference(owner, kind: ownerKind)]
        let body: JSONObject = ["apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": .object(meta),
                                "data": data, "revision": .int(Int64(revision))]
        do {
            let cr = try storage.create(.controllerRevision, namespace: owner.namespace, body: body, options: writeOptions)
            index.put(cr)
            return cr
        } catch {
            guard let existing = storage.store.get(ResourceKind.controllerRevision.groupResource, namespace: owner.namespace, name: name)
            else { return nil }
            if existing.object["data"] == data, WorkloadFacts.controllerUID(existing.object, kind: ownerKind) == owner.uid {
                index.put(existing)
                return existing
            }
            collided = existing.object["data"] != data
            return nil
        }
    }

    /// Gives a revision a new number (a template used again becomes the newest revision).
    mutating func renumber(_ storage: ObjectStorage, _ cr: StoredObject, to revision: Int) -> StoredObject? {
        let uid = cr.object.uid
        guard let (u, _) = try? storage.update(.controllerRevision, namespace: cr.namespace, name: cr.name, options: writeOptions,
                                               transform: { cur in
            guard cur.uid == uid else { return cur }
            var c = cur
            c["revision"] = .int(Int64(revision))
            return c
        }) else { return nil }
        index.put(u)
        return u
    }

    /// Deletes the first `count` of `candidates`.
    mutating func delete(_ storage: ObjectStorage, _ candidates: [StoredObject], count: Int) {
        guard count > 0 else { return }
        for cr in candidates.prefix(count) {
            var opts = DeleteOptions()
            opts.preconditionUID = cr.object.uid
            if (try? storage.delete(.controllerRevision, namespace: cr.namespace, name: cr.name, options: opts)) != nil {
                index.remove(cr, byController: true)
            }
        }
    }
}
