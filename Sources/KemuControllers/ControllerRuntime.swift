import Dispatch
import KemuAPI
import KemuRegistry
import KemuStore
import Synchronization

/// Feeds one resource's store events to a controller's serial queue, so the hub thread
/// only enqueues and never waits on controller work.
final class EventFeed: StoreWatcher, @unchecked Sendable {
    let resource: GroupResource
    let queue: DispatchQueue
    let handler: @Sendable (StoreEvent) -> Void

    init(resource: GroupResource, queue: DispatchQueue, handler: @escaping @Sendable (StoreEvent) -> Void) {
        self.resource = resource; self.queue = queue; self.handler = handler
    }

    func deliver(_ event: StoreEvent) -> Bool {
        let h = handler
        queue.async { h(event) }
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
            let feed = EventFeed(resource: k.groupResource, queue: queue, handler: handler)
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
