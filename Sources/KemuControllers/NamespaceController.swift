import Dispatch
import KemuAPI
import KemuRegistry
import KemuStore

/// Empties a namespace that is being deleted, then removes its `kubernetes` finalizer so it goes.
final class NamespaceController: Controller, @unchecked Sendable {
    let name = "namespace-controller"
    let storage: ObjectStorage
    let queue = DispatchQueue(label: "kemu.namespace")
    var feeds: [EventFeed] = []

    init(storage: ObjectStorage) { self.storage = storage }

    func start() {
        feeds = follow(storage, kinds: [.namespace], queue: queue, initial: { [self] _, items in
            for o in items where o.object.deletionTimestamp != nil { sweep(o.name, uid: o.object.uid, attempt: 0) }
        }, handler: { [self] e in
            if e.type != .deleted, e.object.object.deletionTimestamp != nil { sweep(e.object.name, uid: e.object.object.uid, attempt: 0) }
        })
    }

    func stop() { unfollow(storage, feeds) }

    func sweep(_ ns: String, uid: String, attempt: Int) {
        guard let cur = storage.store.get(ResourceKind.namespace.groupResource, namespace: "", name: ns), cur.object.uid == uid else { return }
        var remaining = 0
        for kind in storage.registry.kinds where kind.namespaced {
            guard let page = try? storage.store.list(kind.groupResource, namespace: ns) else { continue }
            for o in page.items {
                remaining += 1
                if o.object.deletionTimestamp == nil {
                    var opts = DeleteOptions()
                    opts.preconditionUID = o.object.uid
                    _ = try? storage.delete(kind, namespace: ns, name: o.name, options: opts)
                }
            }
        }
        if remaining > 0 {
            let delay = min(1000, 20 * (attempt + 1))
            queue.asyncAfter(deadline: .now() + .milliseconds(delay)) { [self] in sweep(ns, uid: uid, attempt: attempt + 1) }
            return
        }
        // Empty: drop the "kubernetes" finalizer (what PUT .../finalize does for the real controller).
        _ = try? storage.update(.namespace, namespace: "", name: ns, subresource: "finalize",
                                options: WriteOptions(fieldManager: "namespace-controller")) { c in
            var o = c
            guard o.uid == uid else { return o }
            let rest = (o["spec"]?["finalizers"].arrayValue ?? []).filter { $0.stringValue != "kubernetes" }
            o.withObject("spec") { $0["finalizers"] = .array(rest) }
            return o
        }
    }
}
