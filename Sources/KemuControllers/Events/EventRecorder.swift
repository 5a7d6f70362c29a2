import Dispatch
import FoundationEssentials
import Glibc
import KemuAPI
import KemuRegistry
import KemuStore
import Synchronization

/// What a controller uses to report events, like client-go's `record.EventRecorder`:
/// `recorder.event(object, EventRecorder.normal, "Reason", "message")`. The call only builds the event and
/// queues it; writing happens later on the broadcaster's queue, and failures are dropped.
public struct EventRecorder: Sendable {
    public static let normal = "Normal"
    public static let warning = "Warning"

    /// `source.component` and `reportingComponent` of the events, e.g. `deployment-controller`.
    public let component: String
    let broadcaster: EventBroadcaster

    /// A recorder writing through `storage`'s shared broadcaster.
    public init(storage: ObjectStorage, component: String) {
        self.component = component
        broadcaster = EventBroadcaster.shared(for: storage)
    }

    init(broadcaster: EventBroadcaster, component: String) {
        self.component = component
        self.broadcaster = broadcaster
    }

    /// Reports an event about a stored object (its kind, name, namespace, UID and resourceVersion).
    public func event(_ object: JSONObject, _ type: String, _ reason: String, _ message: String) {
        event(ObjectReference(object), type, reason, message)
    }

    /// Reports an event about a referenced object (upstream's node and taint-eviction events use bare references).
    public func event(_ ref: ObjectReference, _ type: String, _ reason: String, _ message: String) {
        // client-go drops events of any other type.
        guard type == Self.normal || type == Self.warning else { return }
        let nanos = broadcaster.clock.nanos()
        let stamp = Timestamp.format(epochSeconds: Int(nanos / 1_000_000_000))
        let e = RecordedEvent(
            name: EventNames.name(for: ref.name, nanos: nanos), namespace: ref.namespace.isEmpty ? "default" : ref.namespace,
            involvedObject: ref, reason: reason, message: message, type: type, component: component,
            reportingController: component, reportingInstance: "", firstTimestamp: stamp, lastTimestamp: stamp, count: 1)
        broadcaster.submit(e)
    }
}

/// The clock events are stamped with (replaceable in tests).
public struct EventClock: Sendable {
    public let nanos: @Sendable () -> UInt64
    public init(nanos: @escaping @Sendable () -> UInt64) { self.nanos = nanos }

    public static let system = EventClock {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    var seconds: Double { Double(nanos()) / 1_000_000_000 }
}

/// client-go's event broadcaster and sink in one: a bounded queue (1,000 events; more are dropped, as
/// `watch.DropIfChannelFull` does), the correlator, and the writes (create, or a patch of `count`,
/// `lastTimestamp` and `message` for repeats), made through `ObjectStorage` like any client's.
/// One broadcaster per storage serves every controller; its work runs on one serial queue, off the
/// controllers' queues.
public final class EventBroadcaster: @unchecked Sendable {
    public static let defaultCapacity = 1000

    /// Weak: the registry keeps broadcasters, and a broadcaster must not keep its storage alive.
    weak var storage: ObjectStorage?
    let clock: EventClock
    let capacity: Int
    let queue = DispatchQueue(label: "kemu.events")

    public struct Counters: Sendable, Equatable {
        public var queued = 0
        public var dropped = 0
        public var created = 0
        public var patched = 0
        public var skipped = 0
        public var failed = 0
    }
    let counters = Mutex(Counters())
    /// Touched only on `queue`.
    var correlator = EventCorrelator()
    /// Set by tests to hold the queue's work back (so the bound can be observed).
    let paused = Mutex<DispatchSemaphore?>(nil)

    public init(storage: ObjectStorage, capacity: Int = EventBroadcaster.defaultCapacity, clock: EventClock = .system) {
        self.storage = storage
        self.capacity = max(1, capacity)
        self.clock = clock
    }

    static let registry = Mutex<[ObjectIdentifier: EventBroadcaster]>([:])

    /// The broadcaster of `storage`, made on first use and kept (with its correlation caches) while the storage lives.
    public static func shared(for storage: ObjectStorage) -> EventBroadcaster {
        registry.withLock { r in
            let id = ObjectIdentifier(storage)
            if let b = r[id], b.storage === storage { return b }
            r = r.filter { $0.value.storage != nil }
            let b = EventBroadcaster(storage: storage)
            r[id] = b
            return b
        }
    }

    public var stats: Counters { counters.withLock { $0 } }

    /// Queues an event unless `capacity` events are already waiting; never blocks the caller.
    func submit(_ e: RecordedEvent) {
        let accepted = counters.withLock { c -> Bool in
            guard c.queued < capacity else { c.dropped += 1; return false }
            c.queued += 1
            return true
        }
        guard accepted else { return }
        queue.async { [self] in
            if let gate = paused.withLock({ $0 }) { gate.wait(); gate.signal() }
            counters.withLock { $0.queued -= 1 }
            record(e)
        }
    }

    /// Waits until every event queued so far has been written or dropped (tests).
    public func flush() { queue.sync {} }

    /// `recordToSink` with `recordEvent`: correlate, then create or patch; errors are dropped.
    func record(_ event: RecordedEvent) {
        let outcome = correlator.correlate(event, now: clock.seconds)
        switch outcome {
        case .skip:
            counters.withLock { $0.skipped += 1 }
        case .create(let e):
            if let stored = create(e) { correlator.updateState(stored) }
        case .patch(let e):
            switch patch(e) {
            case .stored(let stored): correlator.updateState(stored)
            case .gone: if let stored = create(e) { correlator.updateState(stored) }
            case .failed: break
            }
        }
    }

    func create(_ e: RecordedEvent) -> RecordedEvent? {
        guard let storage else { return nil }
        var body = e
        body.resourceVersion = ""
        do {
            let stored = try storage.create(.event, namespace: e.namespace, body: body.body, options: WriteOptions(fieldManager: e.component))
            counters.withLock { $0.created += 1 }
            return Self.recorded(e, stored)
        } catch {
            counters.withLock { $0.failed += 1 }
            return nil
        }
    }

    enum PatchResult { case stored(RecordedEvent), gone, failed }

    /// The strategic merge patch client-go sends for a repeat: `count`, `lastTimestamp` and `message`.
    /// `.gone` when the event no longer exists (it expired), so the caller creates it again.
    func patch(_ e: RecordedEvent) -> PatchResult {
        guard let storage else { return .failed }
        do {
            let (stored, _) = try storage.update(.event, namespace: e.namespace, name: e.name, options: WriteOptions(fieldManager: e.component)) { cur in
                var c = cur
                c["count"] = .int(Int64(e.count))
                c["lastTimestamp"] = .string(e.lastTimestamp)
                c["message"] = .string(e.message)
                return c
            }
            counters.withLock { $0.patched += 1 }
            return .stored(Self.recorded(e, stored))
        } catch let err as APIError where err.code == 404 {
            return .gone
        } catch {
            counters.withLock { $0.failed += 1 }
            return .failed
        }
    }

    static func recorded(_ e: RecordedEvent, _ stored: StoredObject) -> RecordedEvent {
        var r = e
        r.resourceVersion = String(stored.resourceVersion)
        r.count = Int(stored.object["count"]?.intValue ?? Int64(e.count))
        r.firstTimestamp = stored.object["firstTimestamp"]?.stringValue ?? e.firstTimestamp
        return r
    }
}
