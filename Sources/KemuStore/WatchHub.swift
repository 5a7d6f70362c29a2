import Dispatch
import FoundationEssentials
import KemuAPI
import Synchronization

/// Something that follows store events: a client's watch stream or an in-process controller.
public protocol StoreWatcher: AnyObject, Sendable {
    var resource: GroupResource { get }
    /// Called on the hub's thread, in resourceVersion order. Return false to be removed.
    func deliver(_ event: StoreEvent) -> Bool
    /// Called about once a second on the hub's thread with the newest dispatched RV; return false to be removed.
    func tick(nowMillis: UInt64, dispatchedRV: UInt64) -> Bool
    /// Called once when the hub removes the watcher (including history it could not replay).
    func ended(reason: WatchEndReason)
}

public enum WatchEndReason: Sendable {
    case removedByWatcher
    /// The watcher asked for history the log no longer holds.
    case tooOld(requested: UInt64, compacted: UInt64)
    case shutdown
}

/// Fans store events out to watchers on one dispatcher thread, so writers never wait for
/// watchers and every watcher sees events in resourceVersion order.
public final class WatchHub: Sendable {
    struct Entry: @unchecked Sendable {
        let watcher: any StoreWatcher
        /// Events at or below this RV were already covered by the watcher's snapshot.
        let startRV: UInt64
    }

    struct State {
        var watchers: [GroupResource: [ObjectIdentifier: Entry]] = [:]
        var dispatchedRV: UInt64 = 0
        var stopped = false
    }

    let log: EventLog
    let state = Mutex(State())
    let wake = DispatchSemaphore(value: 0)
    let pendingWake = Atomic<Bool>(false)
    let started = Atomic<Bool>(false)

    init(log: EventLog) { self.log = log }

    /// Starts the dispatcher thread (idempotent).
    public func start(initialRV: UInt64) {
        state.withLock { $0.dispatchedRV = max($0.dispatchedRV, initialRV) }
        guard started.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        // A dedicated thread: the dispatcher blocks on its semaphore between batches.
        DispatchQueue(label: "kemu-watch-hub").async { [self] in self.run() }
    }

    func nudge() {
        if !pendingWake.exchange(true, ordering: .acquiringAndReleasing) { wake.signal() }
    }

    public var dispatchedResourceVersion: UInt64 { state.withLock { $0.dispatchedRV } }

    public var watcherCount: Int { state.withLock { $0.watchers.values.reduce(0) { $0 + $1.count } } }

    /// Registers a watcher that has seen everything up to `fromRV`; missed events are replayed first.
    /// `before` runs under the hub lock just before replay, so initial events go out ahead of live ones.
    public func register(_ w: any StoreWatcher, fromRV: UInt64, before: (() -> Void)? = nil) {
        let endReason: WatchEndReason? = state.withLock { s in
            if s.stopped { return .shutdown }
            guard let missed = log.events(after: fromRV) else { return .tooOld(requested: fromRV, compacted: log.compactedRV) }
            before?()
            for e in missed where e.resourceVersion <= s.dispatchedRV && e.resource == w.resource {
                if !w.deliver(e) { return .removedByWatcher }
            }
            s.watchers[w.resource, default: [:]][ObjectIdentifier(w)] = Entry(watcher: w, startRV: fromRV)
            return nil
        }
        if let endReason { w.ended(reason: endReason) }
    }

    public func unregister(_ w: any StoreWatcher) {
        let removed = state.withLock { s in
            s.watchers[w.resource]?.removeValue(forKey: ObjectIdentifier(w)) != nil
        }
        if removed { w.ended(reason: .removedByWatcher) }
    }

    /// Ends every watcher (server shutdown).
    public func stop() {
        let all = state.withLock { s -> [any StoreWatcher] in
            s.stopped = true
            let w = s.watchers.values.flatMap { $0.values.map(\.watcher) }
            s.watchers = [:]
            return w
        }
        for w in all { w.ended(reason: .shutdown) }
        nudge()
    }

    func run() {
        var lastTick = DispatchTime.now().uptimeNanoseconds
        while true {
            _ = wake.wait(timeout: .now() + .milliseconds(250))
            pendingWake.store(false, ordering: .releasing)
            if state.withLock({ $0.stopped }) { return }
            dispatchPending()
            let now = DispatchTime.now().uptimeNanoseconds
            if now - lastTick >= 1_000_000_000 {
                lastTick = now
                tickAll(nowMillis: now / 1_000_000)
            }
        }
    }

    func dispatchPending() {
        while true {
            var ended: [(any StoreWatcher, WatchEndReason)] = []
            let more: Bool = state.withLock { s in
                guard let batch = log.events(after: s.dispatchedRV, limit: 1024) else {
                    // The log wrapped before dispatch caught up: every watcher lost events.
                    let compacted = log.compactedRV
                    for (_, group) in s.watchers {
                        for (_, e) in group { ended.append((e.watcher, .tooOld(requested: s.dispatchedRV, compacted: compacted))) }
                    }
                    s.watchers = [:]
                    s.dispatchedRV = compacted
                    return true
                }
                if batch.isEmpty { return false }
                for e in batch {
                    if var group = s.watchers[e.resource] {
                        var changed = false
                        for (id, entry) in group where e.resourceVersion > entry.startRV {
                            if !entry.watcher.deliver(e) {
                                group.removeValue(forKey: id)
                                changed = true
                                ended.append((entry.watcher, .removedByWatcher))
                            }
                        }
                        if changed { s.watchers[e.resource] = group }
                    }
                    // Sent to every watcher: a deleted object's last version, or one replaced meanwhile, is not
                    // read again (but by a resumed watch), so the event history does not keep its bytes.
                    if e.type == .deleted || e.object.isSuperseded { e.object.dropEncoding() }
                    s.dispatchedRV = e.resourceVersion
                }
                return batch.count == 1024
            }
            for (w, r) in ended { w.ended(reason: r) }
            if !more { return }
        }
    }

    func tickAll(nowMillis: UInt64) {
        var ended: [any StoreWatcher] = []
        state.withLock { s in
            let rv = s.dispatchedRV
            for (res, group) in s.watchers {
                var g = group
                var changed = false
                for (id, entry) in group where !entry.watcher.tick(nowMillis: nowMillis, dispatchedRV: rv) {
                    g.removeValue(forKey: id)
                    changed = true
                    ended.append(entry.watcher)
                }
                if changed { s.watchers[res] = g }
            }
        }
        for w in ended { w.ended(reason: .removedByWatcher) }
    }
}
