import Dispatch
import KemuAPI
import KemuRegistry
import KemuStore
import Synchronization

/// Deletes dependents whose owners are gone (background cascading deletion) and honours the
/// `orphan` and `foregroundDeletion` finalizers, like kube-controller-manager's garbage collector.
final class GarbageCollector: Controller, @unchecked Sendable {
    let name = "garbage-collector"
    let storage: ObjectStorage
    let queue = DispatchQueue(label: "kemu.gc")

    struct Ref: Hashable { let resource: GroupResource; let namespace: String; let name: String; let uid: String }

    /// An object as last seen: its stored version (which the store holds anyway) is the record, so that names
    /// and owner references are not kept a second time.
    struct Seen {
        let resource: GroupResource
        let object: StoredObject
        var ref: Ref { Ref(resource: resource, namespace: object.namespace, name: object.name, uid: object.object.uid) }
        var ownerUIDs: [String] { GarbageCollector.ownerUIDs(object) }
    }

    // Touched only on `queue`.
    var dependents: [String: Set<String>] = [:]   // owner uid → dependent uids
    var live: [String: Seen] = [:]                // uid → object
    var feeds: [EventFeed] = []

    static let writeOptions = WriteOptions(fieldManager: "garbage-collector")

    init(storage: ObjectStorage) { self.storage = storage }

    func start() {
        // Events are among upstream's ignored resources: the collector neither watches nor indexes them.
        let kinds = storage.registry.kinds.filter { $0.groupResource != ResourceKind.event.groupResource }
        feeds = follow(storage, kinds: kinds, queue: queue, initial: { [self] kind, items in
            for o in items { observe(kind.groupResource, o, deleted: false) }
        }, handler: { [self] e in handle(e) })
    }

    func stop() { unfollow(storage, feeds) }

    func ref(_ r: GroupResource, _ o: StoredObject) -> Ref { Seen(resource: r, object: o).ref }

    static func ownerUIDs(_ o: StoredObject) -> [String] {
        (o.object.metadata["ownerReferences"]?.arrayValue ?? []).compactMap { $0["uid"].stringValue }
    }

    /// The owner UIDs of the version last seen of `uid` (none once it is gone).
    func owners(of uid: String) -> [String] { live[uid]?.ownerUIDs ?? [] }

    func observe(_ r: GroupResource, _ o: StoredObject, deleted: Bool) {
        let uid = o.object.uid
        for old in owners(of: uid) {
            dependents[old]?.remove(uid)
            if dependents[old]?.isEmpty == true { dependents[old] = nil }
        }
        if deleted {
            live[uid] = nil
            return
        }
        live[uid] = Seen(resource: r, object: o)
        for u in Self.ownerUIDs(o) { dependents[u, default: []].insert(uid) }
    }

    func handle(_ e: StoreEvent) {
        observe(e.resource, e.object, deleted: e.type == .deleted)
        let me = ref(e.resource, e.object)
        if e.type == .deleted {
            // Background propagation: the owner is gone, so are its dependents.
            for d in dependentRefs(me.uid) { deleteDependent(d, ownerUID: me.uid) }
            dependents[me.uid] = nil
            return
        }
        // A dependent whose owners all vanished before it was seen.
        let owners = owners(of: me.uid)
        if !owners.isEmpty && owners.allSatisfy({ live[$0] == nil }) && e.type == .added {
            queue.asyncAfter(deadline: .now() + .milliseconds(50)) { [self] in
                if live[me.uid] != nil, self.owners(of: me.uid).allSatisfy({ live[$0] == nil }) { deleteDependent(me, ownerUID: owners[0]) }
            }
        }
        if e.object.object.deletionTimestamp != nil { processDeletionFinalizers(e.resource, e.object) }
    }

    /// The live dependents of an owner.
    func dependentRefs(_ ownerUID: String) -> [Ref] { (dependents[ownerUID] ?? []).compactMap { live[$0]?.ref } }

    func deleteDependent(_ d: Ref, ownerUID: String) {
        guard let kind = storage.registry.kind(d.resource) else { return }
        // Only if every owner is gone (a dependent may have several owners); otherwise the
        // reference to the vanished owner is dropped, as upstream's collector does.
        let remaining = owners(of: d.uid).filter { $0 != ownerUID && live[$0] != nil }
        if !remaining.isEmpty {
            _ = try? storage.update(kind, namespace: d.namespace, name: d.name, options: Self.writeOptions) { cur in
                guard cur.uid == d.uid else { return cur }
                var c = cur
                let refs = (c.metadata["ownerReferences"]?.arrayValue ?? []).filter { $0["uid"].stringValue != ownerUID }
                c.metadata["ownerReferences"] = refs.isEmpty ? nil : .array(refs)
                return c
            }
            return
        }
        var opts = DeleteOptions()
        opts.preconditionUID = d.uid
        opts.propagationPolicy = "Background"
        _ = try? storage.delete(kind, namespace: d.namespace, name: d.name, options: opts)
    }

    func processDeletionFinalizers(_ r: GroupResource, _ o: StoredObject) {
        guard let kind = storage.registry.kind(r) else { return }
        let fins = o.object.finalizers
        let uid = o.object.uid
        if fins.contains("orphan") {
            for d in dependentRefs(uid) {
                guard let dk = storage.registry.kind(d.resource) else { continue }
                _ = try? storage.update(dk, namespace: d.namespace, name: d.name, options: Self.writeOptions) { cur in
                    var c = cur
                    let refs = (c.metadata["ownerReferences"]?.arrayValue ?? []).filter { $0["uid"].stringValue != uid }
                    c.metadata["ownerReferences"] = refs.isEmpty ? nil : .array(refs)
                    return c
                }
            }
            removeFinalizer(kind, o, "orphan")
        } else if fins.contains("foregroundDeletion") {
            let deps = dependentRefs(uid)
            if deps.isEmpty {
                removeFinalizer(kind, o, "foregroundDeletion")
            } else {
                for d in deps { deleteDependent(d, ownerUID: uid) }
                queue.asyncAfter(deadline: .now() + .milliseconds(100)) { [self] in
                    if let cur = storage.store.get(r, namespace: o.namespace, name: o.name), cur.object.uid == uid {
                        processDeletionFinalizers(r, cur)
                    }
                }
            }
        }
    }

    func removeFinalizer(_ kind: ResourceKind, _ o: StoredObject, _ f: String) {
        _ = try? storage.update(kind, namespace: o.namespace, name: o.name, options: Self.writeOptions) { cur in
            guard cur.uid == o.object.uid else { return cur }
            var c = cur
            let rest = c.finalizers.filter { $0 != f }
            c.metadata["finalizers"] = rest.isEmpty ? nil : .array(rest.map(JSON.string))
            return c
        }
    }
}
