import Dispatch
import FoundationEssentials
import KemuAPI
import KemuHTTP
import KemuRegistry
import KemuStore
import Synchronization

/// WATCH: a chunked stream of newline-delimited events, fed by the watch hub.
enum WatchHandler {
    static func watch(_ s: APIServer, _ c: RequestContext) throws -> HTTPResponse {
        let opts = try ListOptions(c, watch: true)
        let format = try c.format()
        let filter = try ObjectFilter(c)
        let requestedRV = opts.resourceVersionNumber
        // Unset or "0": start with the current state as synthetic ADDED events.
        let sendInitial = opts.sendInitialEvents ?? (requestedRV == nil || requestedRV == 0)
        let timeout = opts.timeoutSeconds.map { Double($0) } ?? Double.random(in: 1800..<3600)
        let watcher = WatchStream(kind: c.kind, filter: filter, format: format,
                                  bookmarks: opts.allowWatchBookmarks,
                                  bookmarkInterval: s.config.watchBookmarkIntervalSeconds,
                                  timeout: timeout, maxBuffer: s.config.maxWatchBufferBytes)
        let hub = s.store.hub
        let store = s.store
        let initialEventsEnd = opts.sendInitialEvents == true
        return HTTPResponse(status: 200, headers: [Respond.jsonContentType], body: .stream { stream in
            watcher.attach(stream, hub: hub)
            if sendInitial {
                // The current state (NotOlderThan any requested RV), as synthetic ADDED events.
                let page = (try? store.list(c.kind.groupResource, namespace: c.kind.namespaced ? c.namespace : nil,
                                            filter: { filter.matches($0) })) ?? ListPage(items: [], resourceVersion: requestedRV ?? 0)
                hub.register(watcher, fromRV: page.resourceVersion) {
                    for item in page.items { watcher.send(type: "ADDED", object: item) }
                    if initialEventsEnd { watcher.sendBookmark(rv: page.resourceVersion, initialEventsEnd: true) }
                }
            } else {
                hub.register(watcher, fromRV: requestedRV ?? 0)
            }
        })
    }
}

/// One client's watch: filters store events, encodes them, and writes them to the stream.
final class WatchStream: StoreWatcher, @unchecked Sendable {
    let kind: ResourceKind
    let filter: ObjectFilter
    let format: ResponseFormat
    let bookmarks: Bool
    let bookmarkIntervalMillis: UInt64
    let deadlineMillis: UInt64
    let maxBuffer: Int
    let metrics: WatchMetrics
    var resource: GroupResource { kind.groupResource }
    static let wakeIntervalMillis: UInt64 = 10_000

    struct State {
        var stream: ResponseStream?
        var hub: WatchHub?
        var lastBookmarkMillis: UInt64
        var lastWakeMillis: UInt64 = 0
        var sentColumns = false
        var done = false
    }
    let state: Mutex<State>

    init(kind: ResourceKind, filter: ObjectFilter, format: ResponseFormat, bookmarks: Bool, bookmarkInterval: Double,
         timeout: Double, maxBuffer: Int) {
        self.kind = kind
        self.filter = filter
        self.format = format
        self.bookmarks = bookmarks
        let now = DispatchTime.now().uptimeNanoseconds / 1_000_000
        bookmarkIntervalMillis = UInt64(max(0.05, bookmarkInterval) * 1000)
        deadlineMillis = timeout <= 0 ? UInt64.max : now + UInt64(timeout * 1000)
        self.maxBuffer = maxBuffer
        metrics = WatchMetrics(kind: kind)
        state = Mutex(State(lastBookmarkMillis: now))
    }

    func attach(_ stream: ResponseStream, hub: WatchHub) {
        state.withLock { $0.stream = stream; $0.hub = hub }
        stream.onClose { [weak self] in
            guard let self else { return }
            let h = self.state.withLock { s -> WatchHub? in s.done = true; return s.hub }
            h?.unregister(self)
        }
    }

    func deliver(_ e: StoreEvent) -> Bool {
        let matchesNew = e.type != .deleted && filter.matches(e.object)
        let matchesOld = e.previous.map { filter.matches($0) } ?? false
        switch e.type {
        case .added:
            if matchesNew { return send(type: "ADDED", object: e.object) }
        case .modified:
            if matchesNew && matchesOld { return send(type: "MODIFIED", object: e.object) }
            if matchesNew { return send(type: "ADDED", object: e.object) }
            if matchesOld { return send(type: "DELETED", object: e.object) }
        case .deleted:
            if matchesOld { return send(type: "DELETED", object: e.object) }
        }
        return !state.withLock { $0.done }
    }

    @discardableResult
    func send(type: String, object: StoredObject) -> Bool {
        switch format {
        case .json:
            // The version's bytes, shared by every watcher (pieces are queued, not copied).
            return write(WatchLine.prefix(type), object.bytes, WatchLine.suffix)
        case .table(let include):
            let withColumns = state.withLock { s -> Bool in
                let first = !s.sentColumns
                s.sentColumns = true
                return first
            }
            let meta: JSONObject = ["resourceVersion": .string(String(object.resourceVersion))]
            let table = ListEncoder.table(kind: kind, objects: [object.object], meta: meta, includeObject: include, withColumns: withColumns)
            return write(JSONWriter.encode(["type": .string(type), "object": table]) + [0x0a])
        }
    }

    func sendBookmark(rv: UInt64, initialEventsEnd: Bool = false) {
        var meta: JSONObject = ["resourceVersion": .string(String(rv))]
        if initialEventsEnd { meta["annotations"] = ["k8s.io/initial-events-end": "true"] }
        let object: JSON = ["kind": .string(kind.kind), "apiVersion": .string(kind.apiVersion), "metadata": .object(meta)]
        _ = write(JSONWriter.encode(["type": "BOOKMARK", "object": object]) + [0x0a])
        state.withLock { $0.lastBookmarkMillis = DispatchTime.now().uptimeNanoseconds / 1_000_000 }
    }

    /// Writes a line unless the client has fallen too far behind; then ends the watch with an error.
    func write(_ pieces: [UInt8]...) -> Bool {
        guard let stream = state.withLock({ $0.done ? nil : $0.stream }) else { return false }
        if stream.bytesPending > maxBuffer {
            endWithError(APIError(code: 410, reason: "Expired",
                                  message: "watch of \(kind.resource) closed: the client fell more than \(maxBuffer) bytes behind; re-list and watch again"))
            return false
        }
        guard stream.write(pieces) else { return false }
        metrics.sent(pieces.reduce(0) { $0 + $1.count })
        return true
    }

    func endWithError(_ e: APIError) {
        guard let stream = state.withLock({ s -> ResponseStream? in
            if s.done { return nil }
            s.done = true
            return s.stream
        }) else { return }
        stream.write(JSONWriter.encode(["type": "ERROR", "object": e.status]) + [0x0a])
        stream.finish()
    }

    func finish() {
        let stream = state.withLock { s -> ResponseStream? in
            if s.done { return nil }
            s.done = true
            return s.stream
        }
        stream?.finish()
    }

    func tick(nowMillis: UInt64, dispatchedRV: UInt64) -> Bool {
        if state.withLock({ $0.done }) { return false }
        if nowMillis >= deadlineMillis {
            finish()
            return false
        }
        if bookmarks, nowMillis - state.withLock({ $0.lastBookmarkMillis }) >= bookmarkIntervalMillis {
            sendBookmark(rv: dispatchedRV)
        }
        // Quiet watches are woken now and then so a client that went away is reaped.
        let stream = state.withLock { s -> ResponseStream? in
            guard nowMillis - s.lastWakeMillis >= Self.wakeIntervalMillis else { return nil }
            s.lastWakeMillis = nowMillis
            return s.stream
        }
        stream?.wake()
        return true
    }

    func ended(reason: WatchEndReason) {
        switch reason {
        case .tooOld(let requested, let compacted):
            endWithError(.expired("too old resource version: \(requested) (\(compacted))"))
        case .removedByWatcher, .shutdown:
            finish()
        }
    }
}

/// The constant pieces of a JSON watch event line around the object's bytes.
enum WatchLine {
    static let added = Array(#"{"type":"ADDED","object":"#.utf8)
    static let modified = Array(#"{"type":"MODIFIED","object":"#.utf8)
    static let deleted = Array(#"{"type":"DELETED","object":"#.utf8)
    static let suffix: [UInt8] = [UInt8(ascii: "}"), 0x0a]

    static func prefix(_ type: String) -> [UInt8] {
        switch type {
        case "ADDED": added
        case "MODIFIED": modified
        case "DELETED": deleted
        default: Array("{\"type\":\"\(type)\",\"object\":".utf8)
        }
    }
}
