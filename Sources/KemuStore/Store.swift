import KemuAPI
import KemuMetrics
import Synchronization

public enum StoreError: Error, Sendable {
    /// The requested resourceVersion is older than the retained history; carries the compaction point.
    case expired(requested: UInt64, compacted: UInt64)
}

/// What a write closure decides, given the current version of the object.
public enum WriteDecision: Sendable {
    case put(JSONObject)
    case delete
    case unchanged
}

public struct WriteResult: Sendable {
    /// The stored version after the write (for a delete, the deleted object at the deletion RV).
    public var object: StoredObject?
    /// The event emitted, or nil if nothing changed.
    public var event: EventType?
}

public struct ListPage: Sendable {
    public var items: [StoredObject]
    public var resourceVersion: UInt64
    /// The key of the last item returned, when more items follow.
    public var continueAfter: String?
    /// Items left after this page (only computed when no filter is applied).
    public var remainingItemCount: Int?

    public init(items: [StoredObject], resourceVersion: UInt64, continueAfter: String? = nil, remainingItemCount: Int? = nil) {
        self.items = items; self.resourceVersion = resourceVersion
        self.continueAfter = continueAfter; self.remainingItemCount = remainingItemCount
    }
}

/// The object store: one global, monotonic resourceVersion, and one lock that owns every
/// mutation. Writers append to the event log and nudge the watch hub; they never wait
/// for watchers.
public final class Store: @unchecked Sendable {
    /// One resource's objects by key, plus the objects in key order for LIST. The ordered view is kept
    /// up to date cheaply: a modification replaces its entry in place (binary search), while additions and
    /// removals are only noted and merged into the view by the next LIST (one O(n) pass instead of a sort
    /// per LIST while objects are being created).
    struct Collection {
        var objects: [String: StoredObject] = [:]
        /// Keys and objects in key order, as of the last LIST, with modifications applied since.
        var sortedKeys: [String]? = nil
        var sortedObjects: [StoredObject] = []
        /// Keys added (not yet in the view) and keys removed (still in it) since the view was built.
        var added: Set<String> = []
        var removed: Set<String> = []

        mutating func put(_ key: String, _ o: StoredObject, isNew: Bool) {
            objects[key] = o
            guard let keys = sortedKeys else { return }
            if isNew {
                added.insert(key)
            } else if !added.contains(key) {
                let i = lowerBound(keys, key)
                sortedObjects[i] = o
            }
        }

        mutating func remove(_ key: String) {
            objects.removeValue(forKey: key)
            guard sortedKeys != nil else { return }
            if added.remove(key) == nil { removed.insert(key) }
        }

        /// The ordered view, brought up to date.
        mutating func sorted() -> (keys: [String], objects: [StoredObject]) {
            if let keys = sortedKeys, added.isEmpty, removed.isEmpty { return (keys, sortedObjects) }
            let old = sortedKeys ?? []
            let oldObjects = sortedObjects
            let fresh = sortedKeys == nil ? objects.keys.sorted() : added.sorted()
            var keys: [String] = []
            var objs: [StoredObject] = []
            keys.reserveCapacity(objects.count)
            objs.reserveCapacity(objects.count)
            // Merge the old view (minus removals) with the new keys, both in order.
            var i = 0, j = 0
            while i < old.count || j < fresh.count {
                if i < old.count, removed.contains(old[i]) { i += 1; continue }
                if j >= fresh.count || (i < old.count && old[i] < fresh[j]) {
                    keys.append(old[i]); objs.append(oldObjects[i]); i += 1
                } else {
                    keys.append(fresh[j]); objs.append(objects[fresh[j]]!); j += 1
                }
            }
            sortedKeys = keys
            sortedObjects = objs
            added = []
            removed = []
            return (keys, objs)
        }
    }

    struct State {
        var rv: UInt64 = 0
        var collections: [GroupResource: Collection] = [:]
        /// `etcd_requests_total` children for create, update and delete, per resource.
        var writeCounters: [GroupResource: [Counter]] = [:]
    }

    static let requests = MetricsRegistry.shared.counter(
        "etcd_requests_total", help: "[ALPHA] Etcd request counts for each operation and object type.",
        labels: ["operation", "group", "resource"])

    /// Guarded by `lock`; never touched without it.
    private var state = State()
    private let lock = RecursiveLock()
    let log: EventLog
    public let hub: WatchHub

    public init(eventHistory: Int = 10_000) {
        log = EventLog(capacity: eventHistory)
        hub = WatchHub(log: log)
    }

    public var currentResourceVersion: UInt64 { lock.withLock { state.rv } }
    public var compactedResourceVersion: UInt64 { log.compactedRV }

    public func get(_ r: GroupResource, namespace: String, name: String) -> StoredObject? {
        lock.withLock { state.collections[r]?.objects[StoreKey.make(namespace: namespace, name: name)] }
    }

    public func count(_ r: GroupResource) -> Int { lock.withLock { state.collections[r]?.objects.count ?? 0 } }

    /// The number of objects of every resource that has had any.
    public func counts() -> [GroupResource: Int] { lock.withLock { state.collections.mapValues { $0.objects.count } } }

    /// Counts a write that changed the store (0 create, 1 update, 2 delete); the caller holds the lock.
    private func countWrite(_ r: GroupResource, _ op: Int) {
        if let c = state.writeCounters[r] { c[op].inc(); return }
        let c = ["create", "update", "delete"].map { Self.requests.labels($0, r.group, r.resource) }
        state.writeCounters[r] = c
        c[op].inc()
    }

    /// Atomically reads the current version, lets `body` decide, and applies the decision.
    /// `body` runs under the store lock: keep it free of I/O. It may read the store (the lock is
    /// recursive) but must not write to it.
    @discardableResult
    public func write(_ r: GroupResource, namespace: String, name: String,
                      _ body: (StoredObject?) throws -> WriteDecision) throws -> WriteResult {
        let key = StoreKey.make(namespace: namespace, name: name)
        let (result, event) = try lock.withLock { () throws -> (WriteResult, StoreEvent?) in
            let current = state.collections[r]?.objects[key]
            let decision = try body(current)
            return apply(decision, r, key: key, current: current)
        }
        if event != nil { hub.nudge() }
        return result
    }

    /// Applies a write decision; the caller holds the lock.
    private func apply(_ decision: WriteDecision, _ r: GroupResource, key: String, current: StoredObject?) -> (WriteResult, StoreEvent?) {
        switch decision {
        case .unchanged:
            return (WriteResult(object: current, event: nil), nil)
        case .delete:
            guard let current else { return (WriteResult(object: nil, event: nil), nil) }
            state.rv += 1
            var final = current.object
            final.metadata["resourceVersion"] = .string(String(state.rv))
            let deleted = StoredObject(object: final, resourceVersion: state.rv, previous: current, key: key)
            current.supersede()
            state.collections[r]!.remove(key)
            let e = StoreEvent(type: .deleted, resource: r, object: deleted, previous: current)
            log.append(e)
            countWrite(r, 2)
            return (WriteResult(object: deleted, event: .deleted), e)
        case .put(var obj):
            if let current {
                // A write that changes nothing keeps its resourceVersion and emits no event.
                obj.metadata["resourceVersion"] = .string(String(current.resourceVersion))
                if obj == current.object { return (WriteResult(object: current, event: nil), nil) }
            }
            state.rv += 1
            obj.metadata["resourceVersion"] = .string(String(state.rv))
            let stored = StoredObject(object: obj, resourceVersion: state.rv, previous: current, key: key)
            current?.supersede()
            state.collections[r, default: Collection()].put(key, stored, isNew: current == nil)
            let e = StoreEvent(type: current == nil ? .added : .modified, resource: r, object: stored, previous: current)
            log.append(e)
            countWrite(r, current == nil ? 0 : 1)
            return (WriteResult(object: stored, event: e.type), e)
        }
    }

    /// Lists a collection in key order, optionally as of a past resourceVersion, after a key, up to a limit.
    public func list(_ r: GroupResource, namespace: String? = nil, at rv: UInt64? = nil, after startKey: String? = nil,
                     limit: Int? = nil, filter: ((StoredObject) -> Bool)? = nil) throws(StoreError) -> ListPage {
        // Take a consistent view under the lock; filter and page outside it.
        let view: ([String], [StoredObject], UInt64) = try lock.withLock { () throws(StoreError) in
            if let rv, rv < state.rv {
                guard let newer = log.events(after: rv) else {
                    throw StoreError.expired(requested: rv, compacted: log.compactedRV)
                }
                var objects = state.collections[r]?.objects ?? [:]
                for e in newer.reversed() where e.resource == r {
                    let k = e.object.key
                    if let prev = e.previous { objects[k] = prev } else { objects.removeValue(forKey: k) }
                }
                let keys = objects.keys.sorted()
                return (keys, keys.map { objects[$0]! }, rv)
            }
            guard state.collections[r] != nil else { return ([], [], state.rv) }
            let (keys, objects) = state.collections[r]!.sorted()
            return (keys, objects, state.rv)
        }
        let (keys, objects, listRV) = view
        var lo = 0, hi = keys.count
        if let namespace, !namespace.isEmpty {
            // The keys of a namespace run from "ns/" up to (not including) "ns0", "0" following "/" in ASCII
            // (namespaces and names are ASCII).
            lo = lowerBound(keys, StoreKey.prefix(namespace: namespace))
            hi = lowerBound(keys, namespace + "0")
        }
        if let startKey {
            lo = max(lo, upperBound(keys, startKey, from: lo, to: hi))
        }
        var items: [StoredObject] = []
        var i = lo
        let max = limit ?? Int.max
        if filter == nil {
            i = min(hi, lo + min(max, hi - lo))
            items = lo == 0 && i == objects.count ? objects : Array(objects[lo..<i])
        } else {
            while i < hi, items.count < max {
                let o = objects[i]
                if filter!(o) { items.append(o) }
                i += 1
            }
        }
        var page = ListPage(items: items, resourceVersion: listRV, continueAfter: nil, remainingItemCount: nil)
        if i < hi, limit != nil {
            // More may follow; with a filter we cannot know cheaply whether any match.
            if filter == nil {
                page.continueAfter = keys[i - 1]
                page.remainingItemCount = hi - i
            } else {
                var j = i
                while j < hi, !(filter!(objects[j])) { j += 1 }
                if j < hi { page.continueAfter = keys[i - 1] }
            }
        }
        return page
    }

    func upperBound(_ keys: [String], _ target: String, from: Int, to: Int) -> Int {
        var lo = from, hi = to
        while lo < hi { let m = (lo + hi) / 2; if keys[m] <= target { lo = m + 1 } else { hi = m } }
        return lo
    }
}

/// The first index whose key is not less than `target`.
func lowerBound(_ keys: [String], _ target: String) -> Int {
    var lo = 0, hi = keys.count
    while lo < hi { let m = (lo + hi) / 2; if keys[m] < target { lo = m + 1 } else { hi = m } }
    return lo
}
