import KemuAPI
import Synchronization

/// A bounded, ordered history of store events. Watches replay from it, and lists at a
/// past resourceVersion (continue tokens, `Exact`) undo it. Events older than the
/// retained window are compacted away; asking for them yields "too old".
final class EventLog: Sendable {
    struct State {
        var ring: [StoreEvent?]
        var head = 0      // index of the oldest event
        var count = 0
        /// Highest resourceVersion no longer retained (0: nothing dropped yet).
        var compactedRV: UInt64 = 0
    }

    let capacity: Int
    let state: Mutex<State>

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        state = Mutex(State(ring: Array(repeating: nil, count: max(1, capacity))))
    }

    func append(_ e: StoreEvent) {
        state.withLock { s in
            if s.count == capacity {
                s.compactedRV = s.ring[s.head]!.resourceVersion
                s.ring[s.head] = e
                s.head = (s.head + 1) % capacity
            } else {
                s.ring[(s.head + s.count) % capacity] = e
                s.count += 1
            }
        }
    }

    var compactedRV: UInt64 { state.withLock { $0.compactedRV } }

    /// Events with resourceVersion > `rv`, oldest first; nil if some of them were compacted.
    func events(after rv: UInt64, limit: Int = Int.max) -> [StoreEvent]? {
        state.withLock { s in
            if rv < s.compactedRV { return nil }
            // Binary search for the first event with RV > rv.
            var lo = 0, hi = s.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if s.ring[(s.head + mid) % capacity]!.resourceVersion <= rv { lo = mid + 1 } else { hi = mid }
            }
            var out: [StoreEvent] = []
            let n = min(s.count - lo, limit)
            if n <= 0 { return out }
            out.reserveCapacity(n)
            for i in lo..<(lo + n) { out.append(s.ring[(s.head + i) % capacity]!) }
            return out
        }
    }
}
