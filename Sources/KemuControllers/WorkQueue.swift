import Dispatch
import Synchronization

/// A deduplicating, delaying work queue, like client-go's workqueue: a key added while it
/// waits is not added twice, and one worker processes keys in turn. Adding a key again
/// while it is being processed schedules another pass after it.
public final class WorkQueue: Sendable {
    let queue: DispatchQueue
    let handler: @Sendable (String) -> Void
    struct State { var waiting: Set<String> = []; var processedCount = 0 }
    let state = Mutex(State())

    public init(label: String, handler: @escaping @Sendable (String) -> Void) {
        queue = DispatchQueue(label: label)
        self.handler = handler
    }

    /// Schedules `key` after `delay` seconds unless it is already waiting.
    public func add(_ key: String, after delay: Double = 0) {
        let fresh = state.withLock { $0.waiting.insert(key).inserted }
        guard fresh else { return }
        let run: @Sendable () -> Void = { [self] in
            state.withLock { _ = $0.waiting.remove(key) }
            handler(key)
            state.withLock { $0.processedCount += 1 }
        }
        if delay <= 0 { queue.async(execute: run) } else { queue.asyncAfter(deadline: .now() + delay, execute: run) }
    }

    /// Runs `body` on the worker, after everything queued so far without delay.
    public func sync<T>(_ body: () -> T) -> T { queue.sync(execute: body) }

    public var pendingCount: Int { state.withLock { $0.waiting.count } }
    public var processedCount: Int { state.withLock { $0.processedCount } }
}

/// Settings of the built-in controllers (kube-controller-manager flags).
public struct ControllerOptions: Sendable {
    /// `--max-endpoints-per-slice` (1–1000).
    public var maxEndpointsPerSlice = 100
    /// `--endpoint-updates-batch-period`, seconds: pod-triggered syncs wait this long so bursts coalesce.
    public var endpointUpdatesBatchPeriod = 0.0
    /// `--disable-endpoints-controller` turns the legacy Endpoints controller off.
    public var endpointsControllerEnabled = true
    /// `--max-endpoints-per-subset` of the mirroring controller.
    public var mirroringMaxEndpointsPerSubset = 1000
    /// Simulated nodes, scheduler and kubelet (`--nodes`, `--zones`, …); off gives a bare API server.
    public var clusterSimulatorEnabled = true
    public var cluster = ClusterOptions()
    public init() {}
}
