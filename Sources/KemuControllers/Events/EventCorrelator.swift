import KemuAPI

/// One core/v1 Event as client-go's recorder builds it, before and after correlation.
public struct RecordedEvent: Sendable, Equatable {
    public var name: String
    public var namespace: String
    public var involvedObject: ObjectReference
    public var reason: String
    public var message: String
    public var type: String
    public var component: String
    public var host = ""
    public var reportingController: String
    public var reportingInstance: String
    public var firstTimestamp: String
    public var lastTimestamp: String
    public var count: Int
    /// Set for events the correlator wants patched (a repeat of one already written).
    public var resourceVersion = ""

    /// The v1 Event body, fields in the order Go writes them.
    public var body: JSONObject {
        var meta: JSONObject = ["name": .string(name), "namespace": .string(namespace)]
        if !resourceVersion.isEmpty { meta["resourceVersion"] = .string(resourceVersion) }
        var source: JSONObject = [:]
        if !component.isEmpty { source["component"] = .string(component) }
        if !host.isEmpty { source["host"] = .string(host) }
        var o: JSONObject = ["kind": "Event", "apiVersion": "v1", "metadata": .object(meta),
                             "involvedObject": .object(involvedObject.json)]
        if !reason.isEmpty { o["reason"] = .string(reason) }
        if !message.isEmpty { o["message"] = .string(message) }
        o["source"] = JSONInterner.share(.object(source))  // one copy per component, not per event
        o["firstTimestamp"] = .string(firstTimestamp)
        o["lastTimestamp"] = .string(lastTimestamp)
        o["count"] = .int(Int64(count))
        if !type.isEmpty { o["type"] = .string(type) }
        o["eventTime"] = .null
        o["reportingComponent"] = .string(reportingController)
        o["reportingInstance"] = .string(reportingInstance)
        return o
    }

    /// client-go's `getEventKey`: everything that makes two events the same occurrence.
    var key: String {
        let r = involvedObject
        return [component, host, r.kind, r.namespace, r.name, r.fieldPath, r.uid, r.apiVersion, type, reason, message].joined()
    }

    /// `getSpamKey`: the source and the object.
    var spamKey: String {
        let r = involvedObject
        return [component, host, r.kind, r.namespace, r.name, r.uid, r.apiVersion].joined()
    }

    /// `EventAggregatorByReasonFunc`: similar events differ only in their message.
    var aggregateKey: String {
        let r = involvedObject
        return [component, host, r.kind, r.namespace, r.name, r.uid, r.apiVersion, type, reason,
                reportingController, reportingInstance].joined()
    }
}

/// A least-recently-used map of fixed capacity (groupcache's `lru.Cache`, which client-go's caches use).
struct LRUCache<Value> {
    struct Node { var key: String; var value: Value; var prev: Int; var next: Int }
    let capacity: Int
    var index: [String: Int] = [:]
    var nodes: [Node] = []
    var head = -1, tail = -1

    init(capacity: Int) { self.capacity = max(1, capacity) }

    var count: Int { index.count }

    mutating func get(_ key: String) -> Value? {
        guard let i = index[key] else { return nil }
        moveToFront(i)
        return nodes[i].value
    }

    mutating func set(_ key: String, _ value: Value) {
        if let i = index[key] {
            nodes[i].value = value
            moveToFront(i)
            return
        }
        let i: Int
        if nodes.count < capacity {
            i = nodes.count
            nodes.append(Node(key: key, value: value, prev: -1, next: -1))
        } else {
            // Reuse the least recently used slot.
            i = tail
            unlink(i)
            index[nodes[i].key] = nil
            nodes[i] = Node(key: key, value: value, prev: -1, next: -1)
        }
        index[key] = i
        pushFront(i)
    }

    private mutating func unlink(_ i: Int) {
        let p = nodes[i].prev, n = nodes[i].next
        if p >= 0 { nodes[p].next = n } else { head = n }
        if n >= 0 { nodes[n].prev = p } else { tail = p }
        nodes[i].prev = -1; nodes[i].next = -1
    }

    private mutating func pushFront(_ i: Int) {
        nodes[i].next = head
        nodes[i].prev = -1
        if head >= 0 { nodes[head].prev = i }
        head = i
        if tail < 0 { tail = i }
    }

    private mutating func moveToFront(_ i: Int) {
        guard head != i else { return }
        unlink(i)
        pushFront(i)
    }
}

/// client-go's `EventCorrelator` (tools/record/events_cache.go) with its defaults:
/// - aggregation: the 10th event within 10 minutes that differs from earlier ones of the same source, object,
///   type and reason only in its message becomes one "(combined from similar events): …" event, and later
///   ones update that event;
/// - deduplication: a repeat of an event already written is a patch of its `count`, `lastTimestamp` and
///   `message`;
/// - spam filter: a token bucket per source and object (burst 25, one more every 5 minutes); events over it
///   are skipped, though still counted, so the next write carries the full count.
/// Caches are LRUs of 4,096 entries. Not thread-safe: the broadcaster calls it from its one queue.
struct EventCorrelator {
    static let cacheSize = 4096
    static let aggregateMaxEvents = 10
    static let aggregateIntervalSeconds = 600.0
    static let spamBurst = 25.0
    static let spamQPS = 1.0 / 300.0
    static let combinedPrefix = "(combined from similar events): "

    struct AggregateRecord { var localKeys: Set<String>; var lastTimestamp: Double }
    struct Observation { var count: Int; var firstTimestamp: String; var name: String; var resourceVersion: String }
    struct Bucket { var tokens: Double; var last: Double }

    var aggregates = LRUCache<AggregateRecord>(capacity: cacheSize)
    var observations = LRUCache<Observation>(capacity: cacheSize)
    var spam = LRUCache<Bucket>(capacity: cacheSize)

    enum Outcome: Equatable {
        case create(RecordedEvent)
        /// A repeat: patch these fields of the named event (create it if it is gone).
        case patch(RecordedEvent)
        case skip
    }

    /// `EventCorrelate`: aggregate, then observe (dedupe), then the spam filter. `now` is epoch seconds.
    mutating func correlate(_ event: RecordedEvent, now: Double) -> Outcome {
        let (aggregated, key) = aggregate(event, now: now)
        let observed = observe(aggregated, key: key)
        if filtered(observed, now: now) { return .skip }
        return observed.count > 1 ? .patch(observed) : .create(observed)
    }

    /// `EventAggregate`: the event itself and its full key, or the combined event keyed by the aggregate key.
    mutating func aggregate(_ event: RecordedEvent, now: Double) -> (RecordedEvent, String) {
        let aggKey = event.aggregateKey
        var record = aggregates.get(aggKey) ?? AggregateRecord(localKeys: [], lastTimestamp: -.infinity)
        if now - record.lastTimestamp > Self.aggregateIntervalSeconds { record = AggregateRecord(localKeys: [], lastTimestamp: now) }
        record.localKeys.insert(event.message)
        record.lastTimestamp = now
        let overThreshold = record.localKeys.count >= Self.aggregateMaxEvents
        // Keep the set from growing past the threshold (upstream pops an arbitrary member).
        if overThreshold, let any = record.localKeys.first { record.localKeys.remove(any) }
        aggregates.set(aggKey, record)
        guard overThreshold else { return (event, event.key) }
        let stamp = Timestamp.format(epochSeconds: Int(now))
        // The combined event carries no reporting fields: upstream builds it from source, object, type and reason only.
        let combined = RecordedEvent(
            name: EventNames.name(for: event.involvedObject.name, nanos: EventNames.nanos(now)), namespace: event.namespace,
            involvedObject: event.involvedObject, reason: event.reason, message: Self.combinedPrefix + event.message,
            type: event.type, component: event.component, host: event.host, reportingController: "", reportingInstance: "",
            firstTimestamp: stamp, lastTimestamp: stamp, count: 1)
        return (combined, aggKey)
    }

    /// `eventObserve`: a key seen before turns the event into a repeat of the first one (same name, next count).
    mutating func observe(_ event: RecordedEvent, key: String) -> RecordedEvent {
        var e = event
        if let last = observations.get(key), last.count > 0 {
            e.name = last.name
            e.resourceVersion = last.resourceVersion
            e.firstTimestamp = last.firstTimestamp
            e.count = last.count + 1
        }
        observations.set(key, Observation(count: e.count, firstTimestamp: e.firstTimestamp, name: e.name,
                                          resourceVersion: e.resourceVersion))
        return e
    }

    /// `UpdateState`: what the server stored, under the stored event's own key.
    mutating func updateState(_ stored: RecordedEvent) {
        observations.set(stored.key, Observation(count: stored.count, firstTimestamp: stored.firstTimestamp,
                                                 name: stored.name, resourceVersion: stored.resourceVersion))
    }

    /// `EventSourceObjectSpamFilter.Filter`: true when the source has used up its budget for the object.
    mutating func filtered(_ event: RecordedEvent, now: Double) -> Bool {
        let key = event.spamKey
        var b = spam.get(key) ?? Bucket(tokens: Self.spamBurst, last: now)
        b.tokens = min(Self.spamBurst, b.tokens + (now - b.last) * Self.spamQPS)
        b.last = now
        let allowed = b.tokens >= 1
        if allowed { b.tokens -= 1 }
        spam.set(key, b)
        return !allowed
    }
}

/// Event names as client-go makes them: `<object name>.<hex of the Unix time in nanoseconds>`.
public enum EventNames {
    public static func name(for objectName: String, nanos: UInt64) -> String { objectName + "." + String(nanos, radix: 16) }
    static func nanos(_ epochSeconds: Double) -> UInt64 { UInt64(max(0, epochSeconds) * 1_000_000_000) }
}
