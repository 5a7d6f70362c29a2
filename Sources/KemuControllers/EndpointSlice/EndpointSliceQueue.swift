import Dispatch

/// A delaying, deduplicating key queue on a serial DispatchQueue, like client-go's delaying queue:
/// a key waits once; adding it again with an earlier due time moves it earlier. Must be used on `queue`.
final class EndpointSliceKeyQueue {
    let queue: DispatchQueue
    let handler: (String) -> Void
    /// Key → (due time, token of the scheduled run that may fire it).
    var waiting: [String: (due: DispatchTime, token: UInt64)] = [:]
    var nextToken: UInt64 = 0
    let metrics: WorkqueueMetrics

    init(queue: DispatchQueue, name: String = "endpoint_slice", handler: @escaping (String) -> Void) {
        self.queue = queue
        self.handler = handler
        metrics = WorkqueueMetrics(name: name)
    }

    func add(_ key: String, after seconds: Double) {
        metrics.delayed(seconds)
        let due = DispatchTime.now() + max(0, seconds)
        if let w = waiting[key], w.due <= due { return }
        if waiting[key] == nil { metrics.added() }
        nextToken += 1
        let token = nextToken
        waiting[key] = (due, token)
        let fire = UncheckedBox { [self] in
            guard let w = waiting[key], w.token == token else { return }
            waiting[key] = nil
            metrics.process(dueNanos: w.due.uptimeNanoseconds) { handler(key) }
        }
        if seconds <= 0 { queue.async { fire.value() } } else { queue.asyncAfter(deadline: due) { fire.value() } }
    }

    var count: Int { waiting.count }
}

/// Carries a non-Sendable closure onto the serial queue it is confined to.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
