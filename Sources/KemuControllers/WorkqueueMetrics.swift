import Dispatch
import KemuMetrics

/// client-go's workqueue metrics (`workqueue_*{name}`), as kube-controller-manager registers them, for one
/// controller queue. The children are looked up once, so an update is an atomic add.
///
/// Differences from client-go: `depth` also counts keys waiting out a delay, and `retries_total` counts
/// delayed adds (client-go counts every `AddAfter`, zero delays included).
final class WorkqueueMetrics: Sendable {
    static let adds = MetricsRegistry.shared.counter(
        "workqueue_adds_total", help: "[ALPHA] Total number of adds handled by workqueue", labels: ["name"])
    static let depth = MetricsRegistry.shared.gauge(
        "workqueue_depth", help: "[ALPHA] Current depth of workqueue", labels: ["name"])
    static let queueDuration = MetricsRegistry.shared.histogram(
        "workqueue_queue_duration_seconds",
        help: "[ALPHA] How long in seconds an item stays in workqueue before being requested.",
        labels: ["name"], buckets: Histogram.exponentialBuckets(start: 10e-9, factor: 10, count: 10))
    static let workDuration = MetricsRegistry.shared.histogram(
        "workqueue_work_duration_seconds", help: "[ALPHA] How long in seconds processing an item from workqueue takes.",
        labels: ["name"], buckets: Histogram.exponentialBuckets(start: 10e-9, factor: 10, count: 10))
    static let retries = MetricsRegistry.shared.counter(
        "workqueue_retries_total", help: "[ALPHA] Total number of retries handled by workqueue", labels: ["name"])

    let adds: Counter
    let depth: Gauge
    let queueDuration: Histogram
    let workDuration: Histogram
    let retries: Counter

    init(name: String) {
        adds = Self.adds.labels(name)
        depth = Self.depth.labels(name)
        queueDuration = Self.queueDuration.labels(name)
        workDuration = Self.workDuration.labels(name)
        retries = Self.retries.labels(name)
    }

    /// The queue name kube-controller-manager gives the controller whose DispatchQueue has this label
    /// (`kemu.endpoints.work` → `endpoint`, `kemu.deployment` → `deployment`).
    static func upstreamName(label: String) -> String {
        var n = Substring(label)
        if n.hasPrefix("kemu.") { n = n.dropFirst(5) }
        if n.hasSuffix(".work") { n = n.dropLast(5) }
        switch n {
        case "endpoints": return "endpoint"
        case "endpointslice": return "endpoint_slice"
        case "mirroring": return "endpoint_slice_mirroring"
        default: return String(n.map { $0 == "." || $0 == "-" ? "_" : $0 })
        }
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// A key entered the queue (it was not waiting already).
    func added() {
        adds.inc()
        depth.inc()
    }

    /// Runs one key's work: the time since it was due goes to the queue duration, the work to the work duration.
    func process(dueNanos: UInt64, _ work: () -> Void) {
        let start = Self.now()
        depth.dec()
        queueDuration.observe(nanos: start &- min(start, dueNanos))
        work()
        workDuration.observe(nanos: Self.now() &- start)
    }

    /// A key was handed to the queue with a delay.
    func delayed(_ delay: Double) {
        if delay > 0 { retries.inc() }
    }

    static func due(after delay: Double) -> UInt64 { now() &+ UInt64(max(0, delay) * 1e9) }
}
