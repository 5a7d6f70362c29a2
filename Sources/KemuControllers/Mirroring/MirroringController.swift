import Dispatch
import KemuAPI
import KemuRegistry
import KemuStore
import Synchronization

/// The EndpointSlice mirroring controller (kube-controller-manager
/// `endpointslice-mirroring-controller`): custom Endpoints of selectorless Services appear as
/// EndpointSlices managed by `endpointslicemirroring-controller.k8s.io`.
///
/// Triggers, as upstream: Endpoints add/update/delete (when mirrorable before or after), Service
/// add/delete without a selector and updates that add or remove the selector, and changes to
/// mirrored slices that the controller did not write itself.
public final class EndpointSliceMirroringController: Controller, @unchecked Sendable {
    public let name = "endpointslice-mirroring-controller"
    let storage: ObjectStorage
    let options: ControllerOptions
    let events = DispatchQueue(label: "kemu.mirroring.events")
    var feeds: [EventFeed] = []
    private(set) var work: WorkQueue!
    var retries: [String: Int] = [:]
    let stopped = Atomic<Bool>(false)

    /// What the controller itself did to slices, so its own watch events do not trigger syncs
    /// (the role of upstream's generation tracker).
    struct Tracker {
        /// slice uid → resourceVersion the controller wrote.
        var written: [String: UInt64] = [:]
        /// slice uids the controller deleted.
        var expectedDeletions: Set<String> = []
        /// Endpoints keys that mirrored slices may exist for (some were seen or written, and not all deleted
        /// since), so that syncing any other Endpoints, such as the Endpoints controller's, needs no list.
        var mirrored: Set<String> = []
    }
    let tracker = Mutex(Tracker())

    static let maxRetries = 15
    static let fieldManager = "endpointslicemirroring-controller"

    public init(storage: ObjectStorage, options: ControllerOptions) {
        self.storage = storage
        self.options = options
        work = WorkQueue(label: "kemu.mirroring.work") { [weak self] key in self?.sync(key) }
    }

    public func start() {
        stopped.store(false, ordering: .sequentiallyConsistent)
        feeds = follow(storage, kinds: [.endpoints, .service, .endpointSlice], queue: events, initial: { [self] kind, items in
            for o in items {
                switch kind.kind {
                case "Endpoints":
                    if MirroringReconciler.shouldMirror(o.object) { work.add(o.key) }
                case "Service":
                    if ServiceFacts.selector(o.object) == nil { work.add(o.key) }
                default:
                    if MirroringReconciler.managedByMirroring(o.object), let key = endpointsKey(o.object) {
                        noteMirrored(o.object)
                        work.add(key)
                    }
                }
            }
        }, handler: { [self] e in handle(e) })
    }

    public func stop() {
        stopped.store(true, ordering: .sequentiallyConsistent)
        unfollow(storage, feeds)
        feeds = []
    }

    // MARK: events

    func handle(_ e: StoreEvent) {
        let obj = e.object.object
        let key = e.object.key
        switch e.resource {
        case ResourceKind.endpoints.groupResource:
            let before = e.previous.map { MirroringReconciler.shouldMirror($0.object) } ?? false
            if MirroringReconciler.shouldMirror(obj) || (e.type == .modified && before) { work.add(key) }
        case ResourceKind.service.groupResource:
            let hasSelector = ServiceFacts.selector(obj) != nil
            switch e.type {
            case .added, .deleted:
                if !hasSelector { work.add(key) }
            case .modified:
                let had = e.previous.map { ServiceFacts.selector($0.object) != nil } ?? hasSelector
                if had != hasSelector { work.add(key) }
            }
        case ResourceKind.endpointSlice.groupResource:
            // Decided on the worker, after any sync in progress has recorded its own writes, so the
            // controller's own events are never mistaken for someone else's change.
            work.queue.async { [self] in handleSlice(e) }
        default:
            break
        }
    }

    func handleSlice(_ e: StoreEvent) {
        let slice = e.object.object
        let uid = slice.uid
        let delay = options.endpointUpdatesBatchPeriod
        switch e.type {
        case .added:
            guard MirroringReconciler.managedByMirroring(slice) else { return }
            noteMirrored(slice)
            let own = tracker.withLock { $0.written[uid].map { $0 >= e.resourceVersion } ?? false }
            if !own, let k = endpointsKey(slice) { work.add(k, after: delay) }
        case .modified:
            guard let old = e.previous?.object else { return }
            // A changed service-name label concerns both the old and the new Endpoints.
            if old.labels[MirroringReconciler.serviceNameLabel] != slice.labels[MirroringReconciler.serviceNameLabel] {
                if MirroringReconciler.managedByMirroring(slice) { noteMirrored(slice) }
                for s in [slice, old] { if let k = endpointsKey(s) { work.add(k, after: delay) } }
                return
            }
            let managedNow = MirroringReconciler.managedByMirroring(slice)
            if managedNow { noteMirrored(slice) }
            if managedNow != MirroringReconciler.managedByMirroring(old) {
                if let k = endpointsKey(slice) { work.add(k, after: delay) }
                return
            }
            guard managedNow else { return }
            let own = tracker.withLock { $0.written[uid].map { $0 >= e.resourceVersion } ?? false }
            // Like a generation bump: anything but annotations and bookkeeping metadata changed.
            if !own && Self.generationChanged(old: old, new: slice), let k = endpointsKey(slice) { work.add(k, after: delay) }
        case .deleted:
            guard MirroringReconciler.managedByMirroring(slice) else { return }
            let (tracked, expected) = tracker.withLock { t -> (Bool, Bool) in
                let tracked = t.written.removeValue(forKey: uid) != nil
                let expected = t.expectedDeletions.remove(uid) != nil
                return (tracked || expected, expected)
            }
            // An unexpected deletion of a slice the controller wrote: put it back.
            if tracked && !expected, let k = endpointsKey(slice) { work.add(k, after: delay) }
        }
    }

    /// EndpointSlice generation semantics: bumped by any change outside metadata, or to labels.
    static func generationChanged(old: JSONObject, new: JSONObject) -> Bool {
        if old.labels != new.labels { return true }
        var a = old, b = new
        a["metadata"] = nil
        b["metadata"] = nil
        return a != b
    }

    /// Records that mirrored slices may exist for the Endpoints `slice` belongs to.
    func noteMirrored(_ slice: JSONObject) {
        guard let key = endpointsKey(slice) else { return }
        tracker.withLock { _ = $0.mirrored.insert(key) }
    }

    func endpointsKey(_ slice: JSONObject) -> String? {
        guard let svc = slice.labels[MirroringReconciler.serviceNameLabel], !svc.isEmpty else { return nil }
        return slice.namespace + "/" + svc
    }

    // MARK: sync

    func sync(_ key: String) {
        guard !stopped.load(ordering: .sequentiallyConsistent) else { return }
        guard let slash = key.firstIndex(of: "/") else { return }
        let ns = String(key[..<slash]), name = String(key[key.index(after: slash)...])
        do {
            try syncEndpoints(namespace: ns, name: name)
            retries[key] = nil
        } catch {
            // Upstream backs off from 1s doubling up to 100s, 15 times.
            let n = retries[key, default: 0]
            if n < Self.maxRetries {
                retries[key] = n + 1
                work.add(key, after: min(100, Double(1 << n)))
            } else {
                retries[key] = nil
            }
        }
    }

    func mirroredSlices(namespace ns: String, name: String) -> [StoredObject] {
        // Every Endpoints write comes here (the Endpoints controller's too): read the stored labels only.
        let page = try? storage.store.list(ResourceKind.endpointSlice.groupResource, namespace: ns) {
            MirroringReconciler.isMirrored(labels: $0.labels, name: name)
        }
        return page?.items ?? []
    }

    func syncEndpoints(namespace ns: String, name: String) throws {
        guard let endpoints = storage.store.get(ResourceKind.endpoints.groupResource, namespace: ns, name: name)?.object,
              MirroringReconciler.shouldMirror(endpoints),
              let service = storage.store.get(ResourceKind.service.groupResource, namespace: ns, name: name)?.object,
              ServiceFacts.selector(service) == nil
        else {
            // Nothing (more) to mirror: remove what was mirrored, if anything may have been. Slice events are
            // handled on this queue, so none can note a new slice between the list and the removal.
            let key = StoreKey.make(namespace: ns, name: name)
            guard tracker.withLock({ $0.mirrored.contains(key) }) else { return }
            try delete(mirroredSlices(namespace: ns, name: name).map(\.name), namespace: ns)
            tracker.withLock { _ = $0.mirrored.remove(key) }
            return
        }
        let existing = mirroredSlices(namespace: ns, name: name)
        let plan = MirroringReconciler.reconcile(endpoints: endpoints, existing: existing.map(\.object),
                                                 maxEndpointsPerSubset: options.mirroringMaxEndpointsPerSubset)
        recorder.mirroringSkipped(endpoints, plan, maxPerSubset: options.mirroringMaxEndpointsPerSubset)
        try apply(plan, namespace: ns)
    }

    func apply(_ plan: MirroringPlan, namespace ns: String) throws {
        let opts = WriteOptions(fieldManager: Self.fieldManager)
        for body in plan.creates {
            do {
                let created = try storage.create(.endpointSlice, namespace: ns, body: body, options: opts)
                record(created)
            } catch let e as APIError where e.code == 403 && e.causes.contains(where: { $0.reason == "NamespaceTerminating" }) {
                return
            }
        }
        for body in plan.updates {
            // A full replacement: no resourceVersion, so the write is unconditional.
            let (updated, _) = try storage.update(.endpointSlice, namespace: ns, name: body.name, options: opts) { _ in body }
            record(updated)
        }
        try delete(plan.deletes, namespace: ns)
    }

    func delete(_ names: [String], namespace ns: String) throws {
        var firstError: Error?
        for n in names {
            guard let uid = storage.store.get(ResourceKind.endpointSlice.groupResource, namespace: ns, name: n)?.object.uid else { continue }
            tracker.withLock { _ = $0.expectedDeletions.insert(uid) }
            var opts = DeleteOptions()
            opts.preconditionUID = uid
            do {
                _ = try storage.delete(.endpointSlice, namespace: ns, name: n, options: opts)
            } catch let e as APIError where e.code == 404 {
                tracker.withLock { _ = $0.expectedDeletions.remove(uid) }
            } catch {
                tracker.withLock { _ = $0.expectedDeletions.remove(uid) }
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
    }

    func record(_ o: StoredObject) {
        noteMirrored(o.object)
        let uid = o.object.uid
        tracker.withLock { $0.written[uid] = max($0.written[uid] ?? 0, o.resourceVersion) }
    }

    /// Waits until queued work has run (tests).
    func drain() { work.sync {} }
}
