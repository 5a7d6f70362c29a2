import Synchronization

/// Values equal to ones handed out recently, by key: two generations of at most `limit` entries. When the young
/// one is full the old one is dropped (a value still in use is carried into the young one when next asked for),
/// so values that never repeat cost nothing for long and values that keep repeating stay shared.
public struct InternTable<Key: Hashable, Value> {
    let limit: Int
    var young: [Key: Value] = [:]
    var old: [Key: Value] = [:]

    public init(limit: Int) { self.limit = limit }

    /// The value handed out before for `key`, or `value`.
    public mutating func share(_ key: Key, _ value: Value) -> Value { share(key) { value } }

    /// The value handed out before for `key`, or the one `make` makes (called only when there is none).
    public mutating func share(_ key: Key, make: () -> Value) -> Value {
        if let hit = young[key] { return hit }
        let v = old[key] ?? make()
        if young.count >= limit { old = young; young = [:] }
        young[key] = v
        return v
    }
}

/// Equal JSON values made recently, shared. Many stored objects carry parts that are equal to the letter
/// (the defaulted spec of every pod of a ReplicaSet, the managedFields entries of one manager, the kubelet's
/// conditions written in the same second); handing out one value for them instead of equal copies keeps one
/// copy in memory (arrays and strings are shared by reference). Keyed by the value's JSON encoding.
public enum JSONInterner {
    static let table = Mutex(InternTable<Key, JSON>(limit: 2048))

    /// An encoding, hashed as one block of bytes (not byte by byte, as `[UInt8]` hashes).
    struct Key: Hashable {
        let bytes: [UInt8]
        func hash(into h: inout Hasher) { bytes.withUnsafeBytes { h.combine(bytes: $0) } }
    }

    /// A value equal to `v`: the one handed out before, or `v`.
    public static func share(_ v: JSON) -> JSON { share(v, key: JSONWriter.encode(v)) }

    /// Like `share(_:)`, with `key` the encoding of `v`, when the caller has it.
    public static func share(_ v: JSON, key: [UInt8]) -> JSON {
        let k = Key(bytes: key)
        return table.withLock { $0.share(k, v) }
    }
}
