import Dispatch
import Synchronization

/// A deduplicating, delaying work queue, like client-go's workqueue: a key added while it
/// waits is not added twice, and one worker processes keys in turn. Adding a key again
/// while it is being processed schedules another pass after it.
public final class WorkQueue: Sendable {
    let queue: DispatchQueue
    let handler: @Sendable (String) -> Void
    let metrics: WorkqueueMetrics
    /// Waiting keys with the time they are due (ns, monotonic).
    struct State { var waiting: [String: UInt64] = [:]; var processedCount = 0 }
    let state = Mutex(State())

    /// `name` is the queue's metrics name; by default the upstream name for `label` (`WorkqueueMetrics`).
    public init(label: String, name: String? = nil, handler: @escaping @Sendable (String) -> Void) {
        queue = DispatchQueue(label: label)
        self.handler = handler
        metrics = WorkqueueMetrics(name: name ?? WorkqueueMetrics.upstreamName(label: label))
    }

    /// Schedules `key` after `delay` seconds unless it is already waiting.
    public func add(_ key: String, after delay: Double = 0) {
        metrics.delayed(delay)
        let due = WorkqueueMetrics.due(after: delay)
        let fresh = state.withLock { s -> Bool in
            if s.waiting[key] != nil { return false }
            s.waiting[key] = due
            return true
        }
        guard fresh else { return }
        metrics.added()
        let run: @Sendable () -> Void = { [self] in
            let due = state.withLock { $0.waiting.removeValue(forKey: key) } ?? WorkqueueMetrics.now()
            metrics.process(dueNanos: due) { handler(key) }
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
