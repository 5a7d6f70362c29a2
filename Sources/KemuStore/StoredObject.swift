import Synchronization
import KemuAPI

/// One immutable version of an object. Its JSON encoding is not kept: it is made when a client reads
/// the version (as kube-apiserver's watch cache encodes on LIST), and once per watch event for all the
/// watchers it goes to (`StoreEvent.encoded`). Kept per version it would be a third of the memory of a
/// large simulated cluster, most of it for objects no client ever reads.
public final class StoredObject: Sendable {
    public let object: JSONObject
    public let resourceVersion: UInt64
    public let namespace: String
    public let name: String
    public let labels: [String: String]

    /// `previous`: the version this one replaces, whose derived facts (labels) it shares when they are unchanged.
    public init(object: JSONObject, resourceVersion: UInt64, previous: StoredObject? = nil) {
        var object = object
        self.labels = object.memoizeLabels(like: previous?.object)
        self.object = object
        self.resourceVersion = resourceVersion
        self.namespace = object.namespace
        self.name = object.name
    }

    public var key: String { StoreKey.make(namespace: namespace, name: name) }

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

    /// The version's JSON encoding, made now.
    public var bytes: [UInt8] { JSONWriter.encode(.object(object)) }
}

/// A stored version's encoding made on first use and then shared: one watch event's object is encoded
/// once for all the watchers it is sent to, and released once they all have it.
public final class SharedEncoding: Sendable {
    let object: StoredObject
    private let made = Mutex<[UInt8]?>(nil)

    init(_ object: StoredObject) { self.object = object }

    public var bytes: [UInt8] {
        if let b = made.withLock({ $0 }) { return b }
        let b = object.bytes
        made.withLock { $0 = b }
        return b
    }

    /// Forgets the encoding (made again if asked for).
    public func release() { made.withLock { $0 = nil } }
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
    /// `object`'s encoding, shared by the watchers the event is sent to.
    public let encoded: SharedEncoding
    public var resourceVersion: UInt64 { object.resourceVersion }

    public init(type: EventType, resource: GroupResource, object: StoredObject, previous: StoredObject?) {
        self.type = type; self.resource = resource; self.object = object; self.previous = previous
        encoded = SharedEncoding(object)
    }
}
