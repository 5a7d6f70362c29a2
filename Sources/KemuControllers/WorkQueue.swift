import Dispatch
import Synchronization

/// A deduplicating, delaying work queue, like client-go's workqueue: a key added while it
/// waits is not added twice, and one worker processes keys in turn. Adding a key again
/// while it is being processed schedules another pass after it. As client-go's delaying queue, only the
/// earliest delayed add of a key is kept (a controller that asks to look again at each sync, such as the
/// Deployment controller for a progress deadline, would otherwise stack one timer per sync), and a delayed
/// add never holds back an immediate one.
public final class WorkQueue: Sendable {
    let queue: DispatchQueue
    let handler: @Sendable (String) -> Void
    let metrics: WorkqueueMetrics
    struct State {
        /// Keys waiting to run, with the time they became due (ns, monotonic).
        var waiting: [String: UInt64] = [:]
        /// Keys with a delayed add on its way, and when it is due (ns, monotonic).
        var delayedUntil: [String: UInt64] = [:]
        var processedCount = 0
        var stopped = false
    }
    let state = Mutex(State())

    /// `name` is the queue's metrics name; by default the upstream name for `label` (`WorkqueueMetrics`).
    public init(label: String, name: String? = nil, handler: @escaping @Sendable (String) -> Void) {
        queue = DispatchQueue(label: label)
        self.handler = handler
        metrics = WorkqueueMetrics(name: name ?? WorkqueueMetrics.upstreamName(label: label))
    }

    /// Schedules `key` now, or after `delay` seconds; either way at most once while it waits.
    public func add(_ key: String, after delay: Double = 0) {
        if delay > 0 {
            metrics.delayed(delay)
            let due = WorkqueueMetrics.due(after: delay)
            let fresh = state.withLock { s -> Bool in
                if s.stopped { return false }
                if let earlier = s.delayedUntil[key], earlier <= due { return false }
                s.delayedUntil[key] = due
                return true
            }
            guard fresh else { return }
            queue.asyncAfter(deadline: .now() + delay) { [self] in
                // Superseded by an earlier delayed add of the key, which has run or will run it.
                let current = state.withLock { s -> Bool in
                    guard s.delayedUntil[key] == due else { return false }
                    s.delayedUntil[key] = nil
                    return true
                }
                if current { add(key) }
            }
            return
        }
        let fresh = state.withLock { s -> Bool in
            if s.stopped || s.waiting[key] != nil { return false }
            s.waiting[key] = WorkqueueMetrics.now()
            return true
        }
        guard fresh else { return }
        metrics.added()
        queue.async { [self] in
            let (due, stopped) = state.withLock { ($0.waiting.removeValue(forKey: key) ?? WorkqueueMetrics.now(), $0.stopped) }
            if stopped {
                metrics.depth.dec()
                return
            }
            metrics.process(dueNanos: due) { handler(key) }
            state.withLock { $0.processedCount += 1 }
        }
    }

    /// Drops every add from now on and waits for the key being processed, if any. Not to be called on `queue`.
    public func stop() {
        state.withLock { $0.stopped = true }
        queue.sync {}
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
