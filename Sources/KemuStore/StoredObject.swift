import KemuAPI
import Synchronization

/// One immutable version of an object: its JSON and the bytes it encodes to, made once
/// and shared by GET, LIST and every watcher.
public final class StoredObject: Sendable {
    public let object: JSONObject
    public let bytes: [UInt8]
    public let resourceVersion: UInt64
    public let namespace: String
    public let name: String
    public let labels: [String: String]

    public init(object: JSONObject, resourceVersion: UInt64) {
        var object = object
        self.labels = object.memoizeLabels()
        self.object = object
        // Exactly sized: the writer's buffer grows by doubling, and every stored version keeps its bytes.
        let encoded = JSONWriter.encode(.object(object))
        self.bytes = [UInt8](unsafeUninitializedCapacity: encoded.count) { buf, n in
            n = buf.initialize(fromContentsOf: encoded)
        }
        self.resourceVersion = resourceVersion
        self.namespace = object.namespace
        self.name = object.name
    }

    public var key: String { StoreKey.make(namespace: namespace, name: name) }

    /// Encodings derived from this version (e.g. a watch event line), built once and shared by
    /// every watcher that sends them.
    private let derived = Mutex<[String: [UInt8]]>([:])

    public func memoized(_ key: String, _ build: () -> [UInt8]) -> [UInt8] {
        if let hit = derived.withLock({ $0[key] }) { return hit }
        let value = build()
        derived.withLock { $0[key] = value }
        return value
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
