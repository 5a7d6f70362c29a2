import Dispatch
import KemuAPI
import KemuHTTP
import KemuMetrics
import KemuRegistry
import KemuStore
import Synchronization

/// kube-apiserver's request, watch and storage metrics, and `GET /metrics`.
enum APIMetrics {
    static let registry = MetricsRegistry.shared
    static let requests = registry.counter(
        "apiserver_request_total",
        help: "[STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
        labels: ["verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component", "code"])
    static let durations = registry.histogram(
        "apiserver_request_duration_seconds",
        help: "[STABLE] Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
        labels: ["verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component"],
        buckets: [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60])
    static let longRunning = registry.gauge(
        "apiserver_longrunning_requests",
        help: "[ALPHA] Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component. Not all requests are tracked this way.",
        labels: ["verb", "group", "version", "resource", "subresource", "scope", "component"])
    static let watchEvents = registry.counter(
        "apiserver_watch_events_total", help: "[ALPHA] Number of events sent in watch clients",
        labels: ["group", "version", "resource"])
    static let watchEventSizes = registry.histogram(
        "apiserver_watch_events_sizes", help: "[ALPHA] Watch event size distribution in bytes",
        labels: ["group", "version", "resource"], buckets: Histogram.exponentialBuckets(start: 1024, factor: 2, count: 8))
    static let watchSentBytes = registry.counter(
        "kemu_watch_sent_bytes_total",
        help: "Bytes queued to watch streams (event lines, bookmarks and error events) per resource: what watchers of that resource cost the server's network.",
        labels: ["resource"])
    static let storageObjectsHelp =
        "[STABLE] Number of stored objects at the time of last check split by kind. In case of a fetching error, the value will be -1."
    static let component = "apiserver"

    /// The labels of one request, as kube-apiserver's RequestInfo and metrics code derive them.
    struct Labels: Hashable {
        /// nil for non-resource paths (discovery, health, /version, /openapi, /metrics).
        var kind: ObjectIdentifier?
        var verb: String
        var dryRun: String
        /// The subresource, or the path of a non-resource request.
        var subresource: String
        var scope: String
    }

    struct Children {
        let total: Counter
        let duration: Histogram
    }

    struct Key: Hashable {
        var labels: Labels
        var code: Int
    }

    static let cache = Mutex<[Key: Children]>([:])

    static let verbs: Set<String> = ["APPLY", "CONNECT", "CREATE", "DELETE", "DELETECOLLECTION", "GET", "LIST", "PATCH",
                                     "POST", "PROXY", "PUT", "UPDATE", "WATCH", "WATCHLIST"]

    /// What to record for `route`, or nil for paths kemu does not serve (not instrumented, as upstream's
    /// unregistered paths are not).
    static func labels(_ route: Route, _ req: HTTPRequest) -> (Labels, ResourceKind?)? {
        let method = req.method.uppercased()
        let dryRun = dryRunLabel(req)
        switch route {
        case .notFound:
            return nil
        case .resource(let r):
            let scope = r.name != nil || method == "POST" ? "resource" : r.namespace.isEmpty ? "cluster" : "namespace"
            var verb = method
            if method == "GET" || method == "HEAD" {
                verb = scope == "resource" ? "GET" : "LIST"
                if r.legacyWatch || isWatch(req) { verb = "WATCH" }
            } else if method == "PATCH", req.header("content-type")?.hasPrefix("application/apply-patch") == true {
                verb = "APPLY"
            }
            if !verbs.contains(verb) { verb = "other" }
            return (Labels(kind: ObjectIdentifier(r.kind), verb: verb, dryRun: dryRun, subresource: r.subresource ?? "",
                           scope: scope), r.kind)
        default:
            let verb = method == "HEAD" ? "GET" : verbs.contains(method) ? method : "other"
            return (Labels(kind: nil, verb: verb, dryRun: dryRun, subresource: req.path, scope: ""), nil)
        }
    }

    /// `watch` given and not "0"/"false", as upstream's metrics decide (a bit wider than the handler's test).
    static func isWatch(_ req: HTTPRequest) -> Bool {
        guard let v = req.query("watch")?.lowercased() else { return false }
        return v != "0" && v != "false"
    }

    static func dryRunLabel(_ req: HTTPRequest) -> String {
        var values: Set<String> = []
        for item in req.queryItems where item.name == "dryRun" { values.insert(item.value) }
        if values.isEmpty { return "" }
        return values == ["All"] ? "All" : "invalid"
    }

    static func children(_ l: Labels, kind: ResourceKind?, code: Int) -> Children {
        let key = Key(labels: l, code: code)
        return cache.withLock { c in
            if let hit = c[key] { return hit }
            let g = kind?.group ?? "", v = kind?.version ?? "", res = kind?.resource ?? ""
            let ch = Children(
                total: requests.labels(l.verb, l.dryRun, g, v, res, l.subresource, l.scope, component, String(code)),
                duration: durations.labels(l.verb, l.dryRun, g, v, res, l.subresource, l.scope, component))
            c[key] = ch
            return ch
        }
    }

    /// Counts a finished request. A stream (a watch) is counted when it ends, with its whole lifetime, and
    /// is a long-running request while it is open.
    static func record(_ route: Route, _ req: HTTPRequest, _ response: HTTPResponse, startNanos: UInt64) -> HTTPResponse {
        guard let (l, kind) = labels(route, req) else { return response }
        if case .openAPIDocument = route, response.status == 404 { return response }
        guard case .stream(let open) = response.body else {
            let ch = children(l, kind: kind, code: response.status)
            ch.total.inc()
            ch.duration.observe(nanos: DispatchTime.now().uptimeNanoseconds &- startNanos)
            return response
        }
        let status = response.status
        let gauge = longRunning.labels(l.verb, kind?.group ?? "", kind?.version ?? "", kind?.resource ?? "", l.subresource,
                                       l.scope, component)
        var wrapped = response
        wrapped.body = .stream { stream in
            gauge.inc()
            stream.onClose {
                gauge.dec()
                let ch = children(l, kind: kind, code: status)
                ch.total.inc()
                ch.duration.observe(nanos: DispatchTime.now().uptimeNanoseconds &- startNanos)
            }
            open(stream)
        }
        return wrapped
    }

    /// `GET /metrics`: everything registered, plus the object counts of every served resource.
    static func scrape(_ s: APIServer) -> HTTPResponse {
        let counts = s.store.counts()
        let objects = s.registry.kinds.map { k in
            Sample(labels: [k.groupResource.qualified], value: .scalar(Double(counts[k.groupResource] ?? 0)))
        }
        let extra = FamilySnapshot(name: "apiserver_storage_objects", help: storageObjectsHelp, type: .gauge,
                                   labelNames: ["resource"], samples: objects)
        return HTTPResponse(status: 200, headers: [("Content-Type", Exposition.contentType)],
                            body: .bytes(registry.exposition(extra: [extra])))
    }
}

/// The watch metrics of one watch stream, looked up once: sending an event is then four atomic adds.
struct WatchMetrics: Sendable {
    let events: Counter
    let sizes: Histogram
    let sentBytes: Counter

    init(kind: ResourceKind) {
        events = APIMetrics.watchEvents.labels(kind.group, kind.version, kind.resource)
        sizes = APIMetrics.watchEventSizes.labels(kind.group, kind.version, kind.resource)
        sentBytes = APIMetrics.watchSentBytes.labels(kind.groupResource.qualified)
    }

    func sent(_ bytes: Int) {
        events.inc()
        sizes.observe(Double(bytes))
        sentBytes.inc(bytes)
    }
}
