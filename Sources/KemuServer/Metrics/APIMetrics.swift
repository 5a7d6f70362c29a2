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

    /// The verbs upstream reports (HTTP methods, with GET split into GET, LIST and WATCH and PATCH into APPLY).
    enum Verb: UInt8 {
        case GET, LIST, WATCH, POST, PUT, PATCH, APPLY, DELETE, CONNECT, other

        init(method: String) {
            switch method {
            case "GET", "HEAD": self = .GET
            case "POST": self = .POST
            case "PUT": self = .PUT
            case "PATCH": self = .PATCH
            case "DELETE": self = .DELETE
            case "CONNECT": self = .CONNECT
            default: self = .other
            }
        }

        var label: String { "\(self)" }
    }

    /// CleanScope: a named object (or a create), a namespace, the cluster; "" for non-resource paths.
    enum Scope: UInt8 {
        case resource, namespace, cluster, none
        var label: String { self == .none ? "" : "\(self)" }
    }

    /// The labels of one request, as kube-apiserver's RequestInfo and metrics code derive them. Small enums
    /// and one string, so comparing two is cheap: the request path does it per request.
    struct Labels: Hashable {
        /// nil for non-resource paths (discovery, health, /version, /openapi, /metrics).
        var kind: ObjectIdentifier?
        var verb: Verb
        var scope: Scope
        /// `dry_run`: "", "All" or "invalid".
        var dryRun: UInt8
        var code: Int
        /// The subresource, or the path of a non-resource request.
        var subresource: String

        var dryRunLabel: String { ["", "All", "invalid"][Int(dryRun)] }
    }

    /// A request's series, this thread's shards of them.
    final class Children {
        let total: Counter
        let duration: Histogram
        init(total: Counter, duration: Histogram) { self.total = total; self.duration = duration }
    }

    /// Per thread, so that recording a request takes no lock and writes no memory another thread writes. The
    /// previous request's labels are compared before hashing. Only the owning thread touches a cache.
    final class Cache {
        @exclusivity(unchecked) var last: Labels?
        @exclusivity(unchecked) var lastChildren: Children?
        @exclusivity(unchecked) var children: [Labels: Children] = [:]
    }

    static let caches = PerThread { Cache() }

    /// What to record for `route`, or nil for paths kemu does not serve (not instrumented, as upstream's
    /// unregistered paths are not). The kind is only named by identity: the request path does not retain it.
    static func labels(_ route: Route, _ req: HTTPRequest, code: Int) -> Labels? {
        let dryRun = dryRunLabel(req)
        var verb = Verb(method: req.method)
        switch route {
        case .notFound:
            return nil
        case .resource(let r):
            let named = r.name != nil
            let scope: Scope = named || verb == .POST ? .resource : r.namespace.isEmpty ? .cluster : .namespace
            if verb == .GET {
                // kemu serves `?watch` on collections only (a named GET with it is a GET).
                verb = r.legacyWatch || (!named && isWatch(req)) ? .WATCH : named ? .GET : .LIST
            } else if verb == .PATCH, req.header("content-type")?.hasPrefix("application/apply-patch") == true {
                verb = .APPLY
            }
            return Labels(kind: ObjectIdentifier(r.kind), verb: verb, scope: scope, dryRun: dryRun, code: code,
                          subresource: r.subresource ?? "")
        default:
            return Labels(kind: nil, verb: verb, scope: .none, dryRun: dryRun, code: code, subresource: req.path)
        }
    }

    static func kind(_ route: Route) -> ResourceKind? {
        if case .resource(let r) = route { return r.kind }
        return nil
    }

    /// `watch` given and not "0"/"false", as upstream's metrics decide (a bit wider than the handler's test).
    static func isWatch(_ req: HTTPRequest) -> Bool {
        guard let v = req.query("watch")?.lowercased() else { return false }
        return v != "0" && v != "false"
    }

    /// 0: no dryRun; 1: dryRun=All; 2: any other value (upstream's "invalid").
    static func dryRunLabel(_ req: HTTPRequest) -> UInt8 {
        guard req.queryItems.contains(where: { $0.name == "dryRun" }) else { return 0 }
        return req.queryItems.allSatisfy { $0.name != "dryRun" || $0.value == "All" } ? 1 : 2
    }

    static func children(_ l: Labels, _ route: Route) -> Children {
        let cache = caches.value
        if let ch = cache.lastChildren, cache.last == l { return ch }
        let ch = cache.children[l] ?? {
            let kind = kind(route)
            let g = kind?.group ?? "", v = kind?.version ?? "", res = kind?.resource ?? ""
            let values = [l.verb.label, l.dryRunLabel, g, v, res, l.subresource, l.scope.label, component]
            let ch = Children(total: requests.threadChild(values + [String(l.code)]), duration: durations.threadChild(values))
            cache.children[l] = ch
            return ch
        }()
        cache.last = l
        cache.lastChildren = ch
        return ch
    }

    /// Counts a finished request. A stream (a watch) is counted when it ends, with its whole lifetime, and
    /// is a long-running request while it is open.
    static func record(_ route: Route, _ req: HTTPRequest, _ response: HTTPResponse, startNanos: UInt64) -> HTTPResponse {
        guard let l = labels(route, req, code: response.status) else { return response }
        if case .openAPIDocument = route, response.status == 404 { return response }
        guard case .stream(let open) = response.body else {
            let ch = children(l, route)
            ch.total.inc()
            ch.duration.observe(nanos: MonotonicClock.nanos() &- startNanos)
            return response
        }
        let kind = kind(route)
        let gauge = longRunning.labels(l.verb.label, kind?.group ?? "", kind?.version ?? "", kind?.resource ?? "",
                                       l.subresource, l.scope.label, component)
        var wrapped = response
        wrapped.body = .stream { stream in
            gauge.inc()
            stream.onClose {
                gauge.dec()
                let ch = children(l, route)
                ch.total.inc()
                ch.duration.observe(nanos: MonotonicClock.nanos() &- startNanos)
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
