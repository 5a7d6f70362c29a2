import Dispatch
import FoundationEssentials
import KemuAPI
import KemuRegistry
import KemuStore
import Synchronization

/// kube-apiserver's `--event-ttl`: etcd keeps each Event under a lease of that length, renewed by every write,
/// and deletes it when the lease runs out (watchers see DELETED).
///
/// kemu follows the events resource like a watcher: every ADDED or MODIFIED event appends (deadline, object,
/// resourceVersion) to a FIFO. The TTL is one constant, so deadlines arrive in order and the FIFO's head is always
/// the next to expire: expiry never scans the store and costs writers nothing. When the head is due, the object
/// is deleted only if it still has that resourceVersion (a later write left a later entry behind it).
final class EventExpiry: StoreWatcher, @unchecked Sendable {
    let resource = ResourceKind.event.groupResource
    let store: Store
    let ttl: Double
    let queue = DispatchQueue(label: "kemu.event-ttl")

    struct Entry { let deadline: Double; let namespace: String; let name: String; let rv: UInt64 }
    struct State {
        var fifo: [Entry] = []
        var head = 0
        var armed = false
        var stopped = false
        var expired = 0
    }
    let state = Mutex(State())

    init(store: Store, ttlSeconds: Double) {
        self.store = store
        ttl = ttlSeconds
    }

    static func now() -> Double { Date().timeIntervalSince1970 }

    /// Lists the events there are (each gets a full TTL from now) and follows later writes.
    func start() {
        state.withLock { $0.stopped = false }
        follow()
    }

    func stop() {
        state.withLock { $0.stopped = true }
        store.hub.unregister(self)
    }

    func follow() {
        guard let page = try? store.list(resource) else { return }
        let deadline = Self.now() + ttl
        for o in page.items { push(Entry(deadline: deadline, namespace: o.namespace, name: o.name, rv: o.resourceVersion)) }
        store.hub.register(self, fromRV: page.resourceVersion)
    }

    var pending: Int { state.withLock { $0.fifo.count - $0.head } }
    var expiredCount: Int { state.withLock { $0.expired } }

    func push(_ e: Entry) {
        let arm = state.withLock { s -> Bool in
            s.fifo.append(e)
            if s.armed || s.stopped { return false }
            s.armed = true
            return true
        }
        if arm { schedule(at: e.deadline) }
    }

    func schedule(at deadline: Double) {
        queue.asyncAfter(deadline: .now() + max(0, deadline - Self.now()) + 0.001) { [self] in expireDue() }
    }

    /// Deletes every due event still at the version its entry names, then waits for the next head.
    func expireDue() {
        let now = Self.now()
        var due: [Entry] = []
        let next: Double? = state.withLock { s in
            while s.head < s.fifo.count, s.fifo[s.head].deadline <= now {
                due.append(s.fifo[s.head])
                s.head += 1
            }
            if s.head > 1024 && s.head * 2 > s.fifo.count {
                s.fifo.removeFirst(s.head)
                s.head = 0
            }
            if s.stopped || s.head == s.fifo.count { s.armed = false; return nil }
            return s.fifo[s.head].deadline
        }
        var expired = 0
        for e in due {
            let r = try? store.write(resource, namespace: e.namespace, name: e.name) { cur in
                guard let cur, cur.resourceVersion == e.rv else { return .unchanged }
                return .delete
            }
            if r?.event == .deleted { expired += 1 }
        }
        if expired > 0 { state.withLock { $0.expired += expired } }
        if let next { schedule(at: next) }
    }

    // MARK: StoreWatcher

    func deliver(_ event: StoreEvent) -> Bool {
        if event.type != .deleted {
            push(Entry(deadline: Self.now() + ttl, namespace: event.object.namespace, name: event.object.name,
                       rv: event.object.resourceVersion))
        }
        return true
    }

    func tick(nowMillis: UInt64, dispatchedRV: UInt64) -> Bool { true }

    /// The hub drops every watcher when its history wraps before dispatch catches up: list again and go on
    /// (events written meanwhile get a full TTL from now, never a shorter one).
    func ended(reason: WatchEndReason) {
        guard case .tooOld = reason, !state.withLock({ $0.stopped }) else { return }
        queue.async { [self] in follow() }
    }
}

/// Go's `time.ParseDuration` for the duration flags kube-apiserver takes (`1h`, `5m30s`, `1.5s`, `500ms`).
public enum GoDuration {
    static let units: [(String, Double)] = [
        ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("μs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600),
    ]

    /// Seconds, or nil when `text` is not a duration (negative durations are rejected too).
    public static func seconds(_ text: String) -> Double? {
        if text == "0" { return 0 }
        var rest = Substring(text)
        if rest.hasPrefix("+") { rest = rest.dropFirst() }
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, number != ".", let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { !($0.isNumber || $0 == ".") }
            guard let unit = units.first(where: { $0.0 == String(unitText) }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            total += value * unit.1
        }
        return total
    }
}
