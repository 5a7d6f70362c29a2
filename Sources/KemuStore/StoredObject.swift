import Synchronization
import KemuAPI

/// One immutable version of an object. Its JSON encoding is made when a client first reads the version
/// (GET, LIST or a watch event) and then kept with it while it is current, so repeated reads copy bytes;
/// versions no client reads (most of a simulated cluster's pods and events) never pay for an encoding.
public final class StoredObject: Sendable {
    public let object: JSONObject
    public let resourceVersion: UInt64
    public let namespace: String
    public let name: String
    public let labels: [String: String]
    /// `namespace/name`: one string shared by the store and by every index that files the object under it.
    public let key: String

    /// `previous`: the version this one replaces, whose derived facts (labels) it shares when they are unchanged.
    /// `key`: the store's key for the object, when the caller has it.
    public init(object: JSONObject, resourceVersion: UInt64, previous: StoredObject? = nil, key: String? = nil) {
        var object = object
        self.labels = object.memoizeLabels(like: previous?.object)
        self.object = object
        self.resourceVersion = resourceVersion
        self.namespace = object.namespace
        self.name = object.name
        self.key = previous?.key ?? key ?? StoreKey.make(namespace: namespace, name: name)
    }

    /// Whether a newer version (or a deletion) replaced this one.
    public var isSuperseded: Bool { superseded.load(ordering: .relaxed) }

    /// Marks the version replaced (the store does, on the next write or the deletion of the object) and drops
    /// its encoding.
    func supersede() {
        superseded.store(true, ordering: .relaxed)
        dropEncoding()
    }

    func dropEncoding() { encoding.withLock { $0 = nil } }

    var hasEncoding: Bool { encoding.withLock { $0 != nil } }

    /// One value derived from this version by a reader (a controller's digest of a pod), made by the first
    /// reader that asks and shared by the others, as informers sharing one cache share decoded objects.
    private let derivedValue = Mutex<(any AnyObject & Sendable)?>(nil)

    public func derived<T: AnyObject & Sendable>(_ make: () -> T) -> T {
        if let v = derivedValue.withLock({ $0 }) as? T { return v }
        let v = make()
        return derivedValue.withLock { slot in
            if let existing = slot as? T { return existing }
            if slot == nil { slot = v }
            return v
        }
    }

    private let encoding = Mutex<[UInt8]?>(nil)
    private let superseded = Atomic<Bool>(false)

    /// The version's JSON encoding, made on first use and kept while the version is the current one.
    public var bytes: [UInt8] {
        if let b = encoding.withLock({ $0 }) { return b }
        let encoded = JSONWriter.encode(.object(object))
        // A replaced version is only read by the watch events still being sent and by resumed watches; it
        // does not keep its bytes, which the event history would otherwise hold for thousands of versions.
        if superseded.load(ordering: .relaxed) { return encoded }
        // Exactly sized: the writer's buffer grows by doubling, and the bytes stay with the version.
        let exact = [UInt8](unsafeUninitializedCapacity: encoded.count) { buf, n in n = buf.initialize(fromContentsOf: encoded) }
        return encoding.withLock { slot in
            if let b = slot { return b }
            // Checked again under the lock: `supersede` sets the flag before it takes the lock to drop.
            if !superseded.load(ordering: .relaxed) { slot = exact }
            return exact
        }
    }
}

public enum StoreKey {
    /// Keys sort by namespace, then name, as etcd's `/registry/<resource>/<ns>/<name>` do.
    public static func make(namespace: String, name: String) -> String { namespace + "/" + name }
    public static func prefix(namespace: String) -> String { namespace + "/" }
}

public enum EventType: String, Sendable {
    case added = "ADDED"
    case modified = "MODIFIED"
    case deleted = "DELETED"
}

/// A change to one object, at one resourceVersion.
public struct StoreEvent: Sendable {
    public let type: EventType
    public let resource: GroupResource
    public let object: StoredObject
    /// The version before this change (nil for ADDED).
    public let previous: StoredObject?
    public var resourceVersion: UInt64 { object.resourceVersion }

    public init(type: EventType, resource: GroupResource, object: StoredObject, previous: StoredObject?) {
        self.type = type; self.resource = resource; self.object = object; self.previous = previous
    }
}
