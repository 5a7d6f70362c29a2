import Dispatch
import KemuAPI
import KemuRegistry
import KemuStore
import Synchronization

/// The legacy Endpoints controller (kube-controller-manager `endpoint-controller`): keeps one
/// `Endpoints` object per Service with a selector, named like the Service, listing the matching
/// pods' addresses; deletes it when the Service goes.
///
/// Triggers, as upstream: Service add/update/delete (immediately), pod add/update/delete (after
/// `endpointUpdatesBatchPeriod`), Endpoints delete; at start every Endpoints object (except
/// leader-election records) is queued once so orphans without a Service are removed.
public final class EndpointsController: Controller, @unchecked Sendable {
    public let name = "endpoints-controller"
    let storage: ObjectStorage
    let options: ControllerOptions
    var feeds: [EventFeed] = []
    /// Events and syncs run one at a time on the work queue's worker.
    private(set) var work: WorkQueue!
    /// Worker-only state: the informer view of Services and Pods, and sync bookkeeping.
    var services: [String: JSONObject] = [:]
    let index = ServicePodIndex()
    var triggerTimes = TriggerTimeTracker()
    var retries: [String: Int] = [:]
    let stopped = Atomic<Bool>(false)

    static let maxRetries = 15

    public init(storage: ObjectStorage, options: ControllerOptions) {
        self.storage = storage
        self.options = options
        work = WorkQueue(label: "kemu.endpoints.work") { [weak self] key in self?.sync(key) }
    }

    public func start() {
        stopped.store(false, ordering: .sequentiallyConsistent)
        feeds = follow(storage, kinds: [.service, .pod, .endpoints], queue: work.queue, initial: { [self] kind, items in
            switch kind.kind {
            case "Service":
                for o in items { putService(o); work.add(o.key) }
            case "Pod":
                for o in items { index.putPod(ns: o.namespace, name: o.name, o) }
            case "Endpoints":
                // checkLeftoverEndpoints: Endpoints whose Service is gone get deleted.
                for o in items where o.object.annotations[EndpointsBuilder.leaderElectionAnnotation] == nil {
                    work.add(o.key)
                }
            default:
                break
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
        let key = e.object.key
        switch e.resource {
        case ResourceKind.service.groupResource:
            if e.type == .deleted {
                services[key] = nil
                index.putService(ns: e.object.namespace, name: e.object.name, selector: nil)
            } else {
                putService(e.object)
            }
            work.add(key)
        case ResourceKind.endpoints.groupResource:
            // Upstream only reacts to deletions; kemu also resyncs on edits of Endpoints it manages (those of
            // a Service with a selector) so that a client's change is reconciled back, as --derived-writes=warn
            // promises. Endpoints of other Services stay the user's. A resync after the controller's own
            // write finds nothing to change and writes nothing.
            if e.type == .deleted || managesEndpoints(namespace: e.object.namespace, name: e.object.name) { work.add(key) }
        case ResourceKind.pod.groupResource:
            let pod = e.object.object
            let selecting = { [index] (labels: [String: String]) in index.servicesSelecting(pod.namespace, labels) }
            var keys: Set<String>
            switch e.type {
            case .added, .deleted:
                keys = selecting(pod.labels)
            case .modified:
                guard let old = e.previous?.object else { return }
                keys = EndpointsPodChange.servicesToUpdate(old: old, new: pod, selecting: selecting)
            }
            index.putPod(ns: pod.namespace, name: pod.name, e.type == .deleted ? nil : e.object)
            for k in keys.sorted() { work.add(k, after: options.endpointUpdatesBatchPeriod) }
        default:
            break
        }
    }

    func putService(_ o: StoredObject) {
        services[o.key] = o.object
        index.putService(ns: o.namespace, name: o.name, selector: ServiceFacts.selector(o.object))
    }

    func managesEndpoints(namespace: String, name: String) -> Bool {
        guard let svc = services[StoreKey.make(namespace: namespace, name: name)] else { return false }
        return ServiceFacts.selector(svc) != nil && ServiceFacts.type(svc) != "ExternalName"
    }

    // MARK: sync

    func sync(_ key: String) {
        guard !stopped.load(ordering: .sequentiallyConsistent) else { return }
        guard let slash = key.firstIndex(of: "/") else { return }
        let ns = String(key[..<slash]), name = String(key[key.index(after: slash)...])
        do {
            try syncService(namespace: ns, name: name)
            retries[key] = nil
        } catch {
            recorder.endpointsWriteFailed(storage, namespace: ns, name: name, error)
            // Retry with exponential backoff (5ms doubling), up to 15 times, like the rate-limited queue.
            let n = retries[key, default: 0]
            if n < Self.maxRetries {
                retries[key] = n + 1
                work.add(key, after: min(1000, 0.005 * Double(1 << n)))
            } else {
                retries[key] = nil
            }
        }
    }

    func syncService(namespace ns: String, name: String) throws {
        guard let service = services[StoreKey.make(namespace: ns, name: name)] else {
            // The Service is gone: so is its Endpoints object.
            do {
                _ = try storage.delete(.endpoints, namespace: ns, name: name)
            } catch let e as APIError where e.code == 404 {}
            triggerTimes.forget(StoreKey.make(namespace: ns, name: name))
            return
        }
        if ServiceFacts.type(service) == "ExternalName" { return }
        // Selectorless Services get their Endpoints from users (and slices from the mirroring controller).
        guard ServiceFacts.selector(service) != nil else { return }

        let key = StoreKey.make(namespace: ns, name: name)
        let pods = index.selectedPods(key).compactMap { index.pod(ns, $0) }
        let trigger = triggerTimes.compute(serviceKey: key, serviceTime: service.metadata.string("creationTimestamp").flatMap(Timestamp.parse),
                                           changed: pods.map { ($0.name, $0.readySince) }, full: true)
            .map { Timestamp.format(epochSeconds: $0) }
        // Only the addresses that are written become JSON: a big Service's are cut to 1,000 first.
        let (kept, truncated) = EndpointSubsets.truncate(EndpointsBuilder.subsets(service: SliceServiceView(service), pods: pods),
                                                         capacity: EndpointsBuilder.maxCapacity)
        let written = kept.map(\.json)
        func desired(_ current: JSONObject?) -> JSONObject? {
            EndpointsBuilder.reconcile(service: service, written: written, truncated: truncated, current: current, triggerTime: trigger)
        }

        let options = WriteOptions(fieldManager: EndpointsBuilder.controllerName)
        let stored = storage.store.get(ResourceKind.endpoints.groupResource, namespace: ns, name: name)?.object
        guard let body = desired(stored) else { return }
        if stored == nil {
            do {
                _ = try storage.create(.endpoints, namespace: ns, body: body, options: options)
            } catch let e as APIError where e.code == 403 && e.causes.contains(where: { $0.reason == "NamespaceTerminating" }) {
                // Creates keep failing in a terminating namespace: drop the item.
            }
            return
        }
        _ = try storage.update(.endpoints, namespace: ns, name: name, options: options) { current in desired(current) ?? current }
    }

    /// Waits until queued work has run (tests).
    func drain() { work.sync {} }
}
