import Dispatch
import FoundationEssentials
import KemuAPI
import KemuRegistry
import KemuStore

/// kube-controller-manager's EndpointSlice controller: keeps the EndpointSlices of every selector Service
/// in line with the Pods it selects. Services sync at once when they change, pod changes after
/// `endpointUpdatesBatchPeriod`, and managed slices that someone else changed or deleted are put back.
public final class EndpointSliceController: Controller, @unchecked Sendable {
    public let name = "endpointslice-controller"
    let storage: ObjectStorage
    let options: ControllerOptions
    let queue = DispatchQueue(label: "kemu.endpointslice")

    // Everything below is touched only on `queue`.
    var feeds: [EventFeed] = []
    var reconciler: EndpointSliceReconciler
    let index = EndpointSliceIndex()
    var keys: EndpointSliceKeyQueue!
    var topology = TopologyCache()
    var topologyPending = false
    var triggerTimes = TriggerTimeTracker()
    var tracker = SliceWriteTracker()
    /// Parsed slices by UID, valid for the stored resourceVersion.
    var parsed: [String: (rv: UInt64, state: SliceState)] = [:]
    var retries: [String: Int] = [:]
    var stopped = false
    var stats = Stats()
    let sliceMetrics = EndpointSliceMetrics()

    struct Stats {
        var syncs = 0
        var syncNanos: UInt64 = 0
        var lastSyncNanos: UInt64 = 0
        var writes = 0
        /// Time of the last sync's phases: cache refresh, slice listing, reconcile, writes.
        var lastPhases: [UInt64] = [0, 0, 0, 0]
    }

    static let maxRetries = 15
    /// Slice-triggered syncs wait at least this long (upstream's endpointSliceChangeMinSyncDelay).
    static let sliceChangeMinDelay = 1.0

    public init(storage: ObjectStorage, options: ControllerOptions) {
        self.storage = storage
        self.options = options
        reconciler = EndpointSliceReconciler(maxEndpointsPerSlice: min(1000, max(1, options.maxEndpointsPerSlice)))
        keys = EndpointSliceKeyQueue(queue: queue) { [weak self] key in self?.syncService(key) }
    }

    public func start() {
        feeds = follow(storage, kinds: [.node, .service, .pod, .endpointSlice], queue: queue, initial: { [self] kind, items in
            initial(kind, items)
        }, handler: { [self] e in handle(e) })
    }

    public func stop() {
        unfollow(storage, feeds)
        queue.sync { stopped = true }
    }

    var batchPeriod: Double { max(0, options.endpointUpdatesBatchPeriod) }

    func enqueue(_ key: String, after delay: Double) {
        guard !stopped else { return }
        keys.add(key, after: delay)
    }

    // MARK: events

    func initial(_ kind: ResourceKind, _ items: [StoredObject]) {
        switch kind.resource {
        case "nodes":
            for o in items { index.putNode(o.name, SliceNodeView(o.object)) }
            scheduleTopology()
        case "services":
            for o in items { index.putService(o); enqueue(EndpointSliceIndex.key(o.namespace, o.name), after: 0) }
        case "pods":
            for o in items { index.putPod(ns: o.namespace, name: o.name, o) }
        default:
            break
        }
    }

    func handle(_ e: StoreEvent) {
        switch e.resource.resource {
        case "pods": handlePod(e)
        case "services": handleService(e)
        case "endpointslices": handleSlice(e)
        case "nodes": handleNode(e)
        default: break
        }
    }

    func handleService(_ e: StoreEvent) {
        let o = e.object
        if e.type == .deleted { index.removeService(o.namespace, o.name) } else { index.putService(o) }
        enqueue(EndpointSliceIndex.key(o.namespace, o.name), after: 0)
    }

    func handlePod(_ e: StoreEvent) {
        let ns = e.object.namespace, name = e.object.name
        let new: StoredObject? = e.type == .deleted ? nil : e.object
        let old: StoredObject? = e.type == .added ? nil : (e.previous ?? e.object)
        index.putPod(ns: ns, name: name, new)
        let targets: Set<String>
        switch e.type {
        case .added: targets = index.servicesSelecting(ns, e.object.labels)
        case .deleted: targets = index.servicesSelecting(ns, e.object.labels)
        case .modified:
            guard let old, let new, old.resourceVersion != new.resourceVersion else { return }
            let (podChanged, labelsChanged) = Self.podEndpointsChanged(old.object, new.object)
            if !podChanged && !labelsChanged { return }
            let now = index.servicesSelecting(ns, new.labels)
            if !labelsChanged {
                targets = now
            } else {
                let before = index.servicesSelecting(ns, old.labels)
                targets = podChanged ? now.union(before) : now.symmetricDifference(before)
            }
        }
        for k in targets { enqueue(k, after: batchPeriod) }
    }

    /// (pod changed in a way its endpoint shows, labels/hostname/subdomain changed), as upstream decides.
    static func podEndpointsChanged(_ a: JSONObject, _ b: JSONObject) -> (Bool, Bool) {
        let labelsChanged = a.metadata["labels"] != b.metadata["labels"]
            || a["spec"]?["hostname"] != b["spec"]?["hostname"] || a["spec"]?["subdomain"] != b["spec"]?["subdomain"]
        // Upstream compares the timestamp pointers, so any set deletionTimestamp counts as a change.
        if a.deletionTimestamp != nil || b.deletionTimestamp != nil { return (true, labelsChanged) }
        if PodFacts.isReady(a) != PodFacts.isReady(b) { return (true, labelsChanged) }
        let ipsA = (a["status"]?["podIPs"].arrayValue ?? []).map { $0["ip"].stringValue ?? "" }
        let ipsB = (b["status"]?["podIPs"].arrayValue ?? []).map { $0["ip"].stringValue ?? "" }
        return (ipsA != ipsB, labelsChanged)
    }

    func handleSlice(_ e: StoreEvent) {
        let o = e.object
        let delay = max(Self.sliceChangeMinDelay, batchPeriod)
        func key(_ s: StoredObject) -> String? {
            guard let svc = s.labels[EndpointSliceNames.serviceNameLabel], !svc.isEmpty else { return nil }
            return EndpointSliceIndex.key(s.namespace, svc)
        }
        func managed(_ s: StoredObject) -> Bool { s.labels[EndpointSliceNames.managedByLabel] == EndpointSliceNames.controllerName }
        switch e.type {
        case .deleted:
            parsed[o.object.uid] = nil
            if managed(o), tracker.handleDeletion(o.object.uid), let k = key(o) {
                // A deletion is restored sooner than an edit: nothing can be gained by waiting.
                enqueue(k, after: batchPeriod)
            }
        case .added:
            if managed(o), tracker.shouldSync(o, previous: StoredObject?.none), let k = key(o) { enqueue(k, after: delay) }
        case .modified:
            let prev = e.previous
            if let prev, key(prev) != key(o) {
                if let k = key(o) { enqueue(k, after: delay) }
                if let k = key(prev) { enqueue(k, after: delay) }
                return
            }
            let managedChanged = prev.map { managed($0) != managed(o) } ?? false
            if managedChanged || (managed(o) && tracker.shouldSync(o, previous: prev)), let k = key(o) {
                enqueue(k, after: delay)
            }
        }
    }

    func handleNode(_ e: StoreEvent) {
        let new = e.type == .deleted ? nil : SliceNodeView(e.object.object)
        let old = index.nodes[e.object.name]
        index.putNode(e.object.name, new)
        if e.type != .modified || old?.ready != new?.ready || old?.zone != new?.zone { scheduleTopology() }
    }

    /// Recomputes zone ratios from the Nodes and resyncs Services whose hints became overloaded.
    func scheduleTopology() {
        guard !topologyPending else { return }
        topologyPending = true
        queue.async { [self] in
            topologyPending = false
            topology.setNodes(Array(index.nodes.values))
            for k in topology.overloadedServices() { enqueue(k, after: 0) }
        }
    }

    // MARK: sync

    func syncService(_ key: String) {
        guard !stopped else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        let error = sync(key)
        sliceMetrics.synced(key, error: error)
        let took = DispatchTime.now().uptimeNanoseconds - start
        stats.syncs += 1
        stats.syncNanos += took
        stats.lastSyncNanos = took
        if let error {
            record(key, SliceEvent(type: "Warning", reason: "FailedToUpdateEndpointSlices",
                                   message: "Error updating Endpoint Slices for Service \(key): \(error)"))
            let n = (retries[key] ?? 0) + 1
            if n <= Self.maxRetries {
                retries[key] = n
                enqueue(key, after: min(1000, Double(1 << min(n - 1, 20))))
            } else {
                retries[key] = nil
            }
        } else {
            retries[key] = nil
        }
    }

    /// One sync of a Service; returns an error text when it must be retried.
    func sync(_ key: String) -> String? {
        guard let entry = index.services[key] else {
            triggerTimes.forget(key)
            topology.forgetService(key)
            return nil
        }
        let view = entry.view
        if view.type == "ExternalName" || view.selector == nil { return nil }
        var t = DispatchTime.now().uptimeNanoseconds
        func lap(_ i: Int) { let n = DispatchTime.now().uptimeNanoseconds; stats.lastPhases[i] = n - t; t = n }
        let (cache, changed, full) = index.refresh(key, entry)
        lap(0)
        let existing = listSlices(view)
        lap(1)
        let triggerSecs = triggerTimes.compute(serviceKey: key, serviceTime: view.creationTimestamp.flatMap(Timestamp.parse),
                                               changed: changed, full: full)
        let trigger = triggerSecs.map { Timestamp.format(epochSeconds: $0) }
        let plan = reconciler.reconcile(service: view, desired: cache.desired, existing: existing, topology: &topology)
        sliceMetrics.plan(key, view, cache.desired, existing: existing.count, plan, maxPerSlice: reconciler.maxEndpointsPerSlice)
        for (uid, idx) in plan.refreshedIndexes { parsed[uid]?.state.index = idx }
        lap(2)
        defer { lap(3) }
        for e in plan.events { record(key, e) }
        var errors = plan.errors
        for w in plan.byAddressType {
            if let err = finalize(view, w, trigger: trigger) { errors.append(err) }
        }
        for d in plan.unsupportedDeletes {
            if let err = delete(view, d) { errors.append(err) }
        }
        return errors.isEmpty ? nil : errors.joined(separator: "; ")
    }

    /// Managed slices of the Service (both labels), not being deleted, parsed once per version.
    func listSlices(_ view: SliceServiceView) -> [SliceState] {
        let page = try? storage.store.list(ResourceKind.endpointSlice.groupResource, namespace: view.namespace) { o in
            o.labels[EndpointSliceNames.serviceNameLabel] == view.name
                && o.labels[EndpointSliceNames.managedByLabel] == EndpointSliceNames.controllerName
        }
        var out: [SliceState] = []
        for o in page?.items ?? [] where o.object.deletionTimestamp == nil {
            let uid = o.object.uid
            if let p = parsed[uid], p.rv == o.resourceVersion {
                out.append(p.state)
            } else {
                let s = SliceState(object: o.object)
                parsed[uid] = (o.resourceVersion, s)
                out.append(s)
            }
        }
        return out
    }

    /// Writes one address type's plan: creates (unless the namespace is terminating), updates, deletes.
    func finalize(_ view: SliceServiceView, _ w: SlicePlan.Writes, trigger: String?) -> String? {
        let opts = WriteOptions(fieldManager: EndpointSliceNames.fieldManager)
        let svc = "\(view.namespace)/\(view.name)"
        for c in w.creates {
            do {
                let stored = try storage.create(.endpointSlice, namespace: view.namespace, body: c.render(triggerTime: trigger), options: opts)
                wrote(c, stored)
            } catch let e as APIError where e.causes.contains(where: { $0.reason == "NamespaceTerminating" }) {
                return nil
            } catch {
                return "failed to create EndpointSlice for Service \(svc): \(error)"
            }
        }
        for u in w.updates {
            do {
                let body = u.render(triggerTime: trigger)
                let (stored, _) = try storage.update(.endpointSlice, namespace: view.namespace, name: u.name, options: opts) { _ in body }
                wrote(u, stored)
            } catch {
                return "failed to update \(u.name) EndpointSlice for Service \(svc): \(error)"
            }
        }
        for d in w.deletes {
            if let err = delete(view, d) { return err }
        }
        return nil
    }

    /// Remembers a slice this controller wrote, and keeps its parsed form for the next sync.
    func wrote(_ s: SliceState, _ stored: StoredObject) {
        let uid = stored.object.uid
        tracker.wrote(uid, stored.resourceVersion)
        stats.writes += 1
        var st = s
        st.name = stored.name
        st.base = stored.object
        st.buildIndex()
        if let sp = s.sourcePositions, sp.at.count == st.endpoints.count { st.index!.positions = sp }
        parsed[uid] = (stored.resourceVersion, st)
    }

    func delete(_ view: SliceServiceView, _ d: SliceState) -> String? {
        do {
            tracker.deleting(d.uid)
            _ = try storage.delete(.endpointSlice, namespace: view.namespace, name: d.name)
            stats.writes += 1
        } catch let e as APIError where e.code == 404 {
            tracker.expectedDeletes.remove(d.uid)
        } catch {
            tracker.expectedDeletes.remove(d.uid)
            return "error deleting \(d.name) EndpointSlice for Service \(view.namespace)/\(view.name): \(error)"
        }
        return nil
    }

    /// Reports an event on the Service (`service` is its `namespace/name` key).
    func record(_ service: String, _ e: SliceEvent) {
        guard let slash = service.firstIndex(of: "/"),
              let svc = storage.store.get(ResourceKind.service.groupResource, namespace: String(service[..<slash]),
                                          name: String(service[service.index(after: slash)...])) else { return }
        recorder.event(svc.object, e.type, e.reason, e.message)
    }
}
