import Dispatch
import KemuAPI
import KemuRegistry
import KemuStore
import Synchronization

/// Feeds one resource's store events to a controller's serial queue, so the hub thread
/// only enqueues and never waits on controller work.
///
/// With `coalesce`, a MODIFIED event for an object whose previous event still waits in the queue is folded
/// into that one (same type, the newest version, the oldest `previous`) instead of queued again, as an
/// informer's handler that lags sees the object's current state. A controller that keeps up gets every event
/// as before; one that lags does not work through versions already replaced, nor keeps them in memory.
/// Deletions are never folded, nor is anything folded into them. For level-based handlers only.
final class EventFeed: StoreWatcher, @unchecked Sendable {
    let resource: GroupResource
    let queue: DispatchQueue
    let handler: @Sendable (StoreEvent) -> Void
    let coalesce: Bool

    /// Events queued and not yet handled (with `coalesce`), by sequence number, and the latest of each object.
    struct Waiting {
        var events: [UInt64: StoreEvent] = [:]
        var latest: [String: UInt64] = [:]
        var next: UInt64 = 0
    }
    let waiting = Mutex(Waiting())

    init(resource: GroupResource, queue: DispatchQueue, coalesce: Bool = false,
         handler: @escaping @Sendable (StoreEvent) -> Void) {
        self.resource = resource; self.queue = queue; self.coalesce = coalesce; self.handler = handler
    }

    func deliver(_ event: StoreEvent) -> Bool {
        let h = handler
        guard coalesce else {
            queue.async { h(event) }
            return true
        }
        let key = event.object.key
        let seq: UInt64? = waiting.withLock { w in
            if event.type == .modified, let s = w.latest[key], let queued = w.events[s],
               queued.object.object.uid == event.object.object.uid {
                w.events[s] = StoreEvent(type: queued.type, resource: queued.resource, object: event.object, previous: queued.previous)
                return nil
            }
            let s = w.next
            w.next += 1
            w.events[s] = event
            w.latest[key] = event.type == .deleted ? nil : s
            return s
        }
        guard let seq else { return true }
        queue.async { [self] in
            let e: StoreEvent? = waiting.withLock { w in
                guard let e = w.events.removeValue(forKey: seq) else { return nil }
                if w.latest[key] == seq { w.latest[key] = nil }
                // Removing keeps a dictionary's capacity: let a drained backlog's tables go.
                if w.events.isEmpty && w.events.capacity > 1024 { w.events = [:]; w.latest = [:] }
                return e
            }
            if let e { h(e) }
        }
        return true
    }

    func tick(nowMillis: UInt64, dispatchedRV: UInt64) -> Bool { true }
    func ended(reason: WatchEndReason) {}
}

/// A controller inside kemu: it follows store events and writes through `ObjectStorage`, as a client would.
public protocol Controller: Sendable {
    var name: String { get }
    func start()
    func stop()
}

/// Starts and stops kemu's built-in controllers.
public final class ControllerManager: Sendable {
    public let storage: ObjectStorage
    public let options: ControllerOptions
    let controllers: [any Controller]

    public init(storage: ObjectStorage, options: ControllerOptions = ControllerOptions()) {
        self.storage = storage
        self.options = options
        var list: [any Controller] = [
            GarbageCollector(storage: storage),
            NamespaceController(storage: storage),
            GracefulDeletionController(storage: storage),
            DisruptionController(storage: storage),
            EndpointSliceController(storage: storage, options: options),
            EndpointSliceMirroringController(storage: storage, options: options),
        ]
        if options.endpointsControllerEnabled { list.append(EndpointsController(storage: storage, options: options)) }
        list += [
            DeploymentController(storage: storage, options: options),
            ReplicaSetController(storage: storage, options: options),
            StatefulSetController(storage: storage, options: options),
            DaemonSetController(storage: storage, options: options),
        ]
        if options.clusterSimulatorEnabled {
            list.append(ClusterSimulator(storage: storage, options: options, cluster: options.cluster))
        }
        controllers = list
    }

    /// Creates kemu's simulated Nodes. Call before serving.
    public func bootstrap() throws {
        for case let sim as ClusterSimulator in controllers { try sim.bootstrapNodes() }
    }

    public func start() { for c in controllers { c.start() } }
    public func stop() { for c in controllers { c.stop() } }
}

extension Controller {
    /// Lists each resource and registers a feed from the list's resourceVersion, so no event is missed.
    func follow(_ storage: ObjectStorage, kinds: [ResourceKind], queue: DispatchQueue,
                initial: @escaping @Sendable (ResourceKind, [StoredObject]) -> Void,
                handler: @escaping @Sendable (StoreEvent) -> Void) -> [EventFeed] {
        var feeds: [EventFeed] = []
        for k in kinds {
            // Pods are the kind with many changes per object (created, bound, started, ready), and every
            // controller's pod handling reads the latest state: a lagging controller skips superseded versions.
            let feed = EventFeed(resource: k.groupResource, queue: queue, coalesce: k.kind == "Pod", handler: handler)
            if let page = try? storage.store.list(k.groupResource) {
                queue.async { initial(k, page.items) }
                storage.store.hub.register(feed, fromRV: page.resourceVersion)
            }
            feeds.append(feed)
        }
        return feeds
    }

    /// Stops the feeds `follow` registered.
    func unfollow(_ storage: ObjectStorage, _ feeds: [EventFeed]) {
        for f in feeds { storage.store.hub.unregister(f) }
    }
}
