import Dispatch
import FoundationEssentials
import KemuAPI
import KemuRegistry
import KemuStore

/// Finishes graceful pod deletions once the (scaled) grace period ends, standing in for the
/// kubelet until simulated nodes exist.
final class GracefulDeletionController: Controller, @unchecked Sendable {
    let name = "graceful-deletion"
    let storage: ObjectStorage
    let queue = DispatchQueue(label: "kemu.graceful-deletion")
    var feeds: [EventFeed] = []
    var scheduled: Set<String> = []

    init(storage: ObjectStorage) { self.storage = storage }

    func start() {
        feeds = follow(storage, kinds: [.pod], queue: queue, initial: { [self] _, items in
            for o in items { consider(o) }
        }, handler: { [self] e in
            if e.type == .deleted { scheduled.remove(e.object.object.uid) } else { consider(e.object) }
        })
    }

    func stop() { unfollow(storage, feeds) }

    func consider(_ o: StoredObject) {
        let obj = o.object
        guard obj.deletionTimestamp != nil, obj.finalizers.isEmpty else { return }
        let uid = obj.uid
        guard !scheduled.contains(uid) else { return }
        scheduled.insert(uid)
        let grace = Double(obj.metadata["deletionGracePeriodSeconds"]?.intValue ?? 0) * storage.terminationGraceScale
        let ns = o.namespace, name = o.name
        queue.asyncAfter(deadline: .now() + max(0, grace)) { [self] in
            scheduled.remove(uid)
            storage.finishGracefulDeletion(.pod, namespace: ns, name: name, uid: uid)
        }
    }
}
