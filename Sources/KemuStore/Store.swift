import KemuAPI
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
public final class Store: Sendable {
    struct Collection {
        var objects: [String: StoredObject] = [:]
        var sortedKeysCache: [String]? = nil

        mutating func sortedKeys() -> [String] {
            if let c = sortedKeysCache { return c }
            let k = objects.keys.sorted()
            sortedKeysCache = k
            return k
        }
    }

    struct State {
        var rv: UInt64 = 0
        var collections: [GroupResource: Collection] = [:]
    }

    let state = Mutex(State())
    let log: EventLog
    public let hub: WatchHub

    public init(eventHistory: Int = 10_000) {
        log = EventLog(capacity: eventHistory)
        hub = WatchHub(log: log)
    }

    public var currentResourceVersion: UInt64 { state.withLock { $0.rv } }
    public var compactedResourceVersion: UInt64 { log.compactedRV }

    public func get(_ r: GroupResource, namespace: String, name: String) -> StoredObject? {
        state.withLock { $0.collections[r]?.objects[StoreKey.make(namespace: namespace, name: name)] }
    }

    public func count(_ r: GroupResource) -> Int { state.withLock { $0.collections[r]?.objects.count ?? 0 } }

    /// Atomically reads the current version, lets `body` decide, and applies the decision.
    /// `body` runs under the store lock: keep it free of I/O.
    @discardableResult
    public func write(_ r: GroupResource, namespace: String, name: String,
                      _ body: (StoredObject?) throws -> WriteDecision) throws -> WriteResult {
        let key = StoreKey.make(namespace: namespace, name: name)
        let (result, event) = try state.withLock { s throws -> (WriteResult, StoreEvent?) in
            let current = s.collections[r]?.objects[key]
            switch try body(current) {
            case .unchanged:
                return (WriteResult(object: current, event: nil), nil)
            case .delete:
                guard let current else { return (WriteResult(object: nil, event: nil), nil) }
                s.rv += 1
                var final = current.object
                final.metadata["resourceVersion"] = .string(String(s.rv))
                let deleted = StoredObject(object: final, resourceVersion: s.rv)
                s.collections[r]!.objects.removeValue(forKey: key)
                s.collections[r]!.sortedKeysCache = nil
                let e = StoreEvent(type: .deleted, resource: r, object: deleted, previous: current)
                log.append(e)
                return (WriteResult(object: deleted, event: .deleted), e)
            case .put(var obj):
                if let current {
                    // A write that changes nothing keeps its resourceVersion and emits no event.
                    obj.metadata["resourceVersion"] = .string(String(current.resourceVersion))
                    if obj == current.object { return (WriteResult(object: current, event: nil), nil) }
                }
                s.rv += 1
                obj.metadata["resourceVersion"] = .string(String(s.rv))
                let stored = StoredObject(object: obj, resourceVersion: s.rv)
                var coll = s.collections[r] ?? Collection()
                s.collections[r] = nil  // keep the dictionary uniquely referenced while mutating
                coll.objects[key] = stored
                if current == nil { coll.sortedKeysCache = nil }
                s.collections[r] = coll
                let e = StoreEvent(type: current == nil ? .added : .modified, resource: r, object: stored, previous: current)
                log.append(e)
                return (WriteResult(object: stored, event: e.type), e)
            }
        }
        if event != nil { hub.nudge() }
        return result
    }

    /// Lists a collection in key order, optionally as of a past resourceVersion, after a key, up to a limit.
    public func list(_ r: GroupResource, namespace: String? = nil, at rv: UInt64? = nil, after startKey: String? = nil,
                     limit: Int? = nil, filter: ((StoredObject) -> Bool)? = nil) throws(StoreError) -> ListPage {
        // Take a consistent view under the lock; filter and page outside it.
        let view: ([String], [String: StoredObject], UInt64) = try state.withLock { s throws(StoreError) in
            var coll = s.collections[r] ?? Collection()
            if let rv, rv < s.rv {
                guard let newer = log.events(after: rv) else {
                    throw StoreError.expired(requested: rv, compacted: log.compactedRV)
                }
                var objects = coll.objects
                for e in newer.reversed() where e.resource == r {
                    let k = e.object.key
                    if let prev = e.previous { objects[k] = prev } else { objects.removeValue(forKey: k) }
                }
                return (objects.keys.sorted(), objects, rv)
            }
            let keys = coll.sortedKeys()
            s.collections[r] = coll
            return (keys, coll.objects, s.rv)
        }
        let (keys, objects, listRV) = view
        var lo = 0, hi = keys.count
        if let namespace, !namespace.isEmpty {
            let prefix = StoreKey.prefix(namespace: namespace)
            lo = lowerBound(keys, prefix)
            hi = lo
            while hi < keys.count, keys[hi].hasPrefix(prefix) { hi += 1 }
        }
        if let startKey {
            lo = max(lo, upperBound(keys, startKey, from: lo, to: hi))
        }
        var items: [StoredObject] = []
        var i = lo
        let max = limit ?? Int.max
        while i < hi, items.count < max {
            let o = objects[keys[i]]!
            if filter?(o) ?? true { items.append(o) }
            i += 1
        }
        var page = ListPage(items: items, resourceVersion: listRV, continueAfter: nil, remainingItemCount: nil)
        if i < hi, limit != nil {
            // More may follow; with a filter we cannot know cheaply whether any match.
            if filter == nil {
                page.continueAfter = keys[i - 1]
                page.remainingItemCount = hi - i
            } else {
                var j = i
                while j < hi, !(filter!(objects[keys[j]]!)) { j += 1 }
                if j < hi { page.continueAfter = keys[i - 1] }
            }
        }
        return page
    }

    func lowerBound(_ keys: [String], _ target: String) -> Int {
        var lo = 0, hi = keys.count
        while lo < hi { let m = (lo + hi) / 2; if keys[m] < target { lo = m + 1 } else { hi = m } }
        return lo
    }

    func upperBound(_ keys: [String], _ target: String, from: Int, to: Int) -> Int {
        var lo = from, hi = to
        while lo < hi { let m = (lo + hi) / 2; if keys[m] <= target { lo = m + 1 } else { hi = m } }
        return lo
    }
}
