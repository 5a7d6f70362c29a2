import Synchronization

/// The keys of a JSON object, in order. Objects built with the same keys in the same order (every pod's
/// metadata, every container status) share one shape, so an object keeps only its values: a key costs
/// memory once per shape instead of once per object.
///
/// Shapes form a tree: appending a key to a shared shape follows (or makes) its transition to the next one,
/// as hidden classes do in JavaScript engines. Objects with many keys (maps such as annotations) and, once
/// `sharedLimit` shapes exist, objects with keys never seen before get a private shape, which keeps the
/// tree small whatever keys clients send.
public final class JSONShape: @unchecked Sendable {
    /// The keys, in order; `JSONObject.values` holds their values at the same positions. Never changed on a
    /// shared shape; a private one is changed in place only while one object holds it (so no other thread can
    /// be reading it), which keeps building a large map key by key linear.
    private(set) var keys: [String]
    /// Positions of the keys of a private shape with more than `maxSharedKeys`, so that lookups in large maps
    /// are not scans.
    private var positions: [String: Int]?
    /// Whether the shape is in the tree (immutable, reachable by transitions).
    let isShared: Bool
    /// For a memo shape: the facts memoized for one stored version (see `JSONObject.memoizeLabels`), and
    /// the plain shape with the same keys.
    let derived: JSONObject.Derived?
    let plain: JSONShape?
    private let next = Mutex<[String: JSONShape]>([:])
    /// Recently taken transitions, read without the lock: building an object takes one per key, and most
    /// objects repeat shapes seen before. Shared shapes live as long as the process (their parents keep
    /// them), so a slot can hold one unretained.
    private let recent0 = Atomic<UInt>(0), recent1 = Atomic<UInt>(0), recent2 = Atomic<UInt>(0), recent3 = Atomic<UInt>(0)

    /// Objects with more keys than this are maps rather than records: their shapes are not shared.
    static let maxSharedKeys = 32
    /// At most this many shared shapes are made; beyond it new shapes are private.
    static let sharedLimit = 16_384
    /// A shape followed by this many different keys sits where keys are data (a FieldsV1 `k:{"ip":…}` of each
    /// pod, a map's keys): further keys there get private shapes, so that they do not use up `sharedLimit`.
    /// Not for the empty shape, which every object's first key follows.
    static let maxTransitions = 256
    private static let sharedCount = Atomic<Int>(0)

    public static let empty = JSONShape(keys: [], shared: true)

    private init(keys: [String], shared: Bool, derived: JSONObject.Derived? = nil, plain: JSONShape? = nil) {
        self.keys = keys; self.isShared = shared; self.derived = derived; self.plain = plain
        positions = shared ? nil : plain?.positions ?? Self.positions(of: keys)
    }

    private static func positions(of keys: [String]) -> [String: Int]? {
        guard keys.count > maxSharedKeys else { return nil }
        var p = [String: Int](minimumCapacity: keys.count)
        for (i, k) in keys.enumerated() where p[k] == nil { p[k] = i }
        return p
    }

    @inline(__always)
    func index(of key: String) -> Int? {
        if !isShared, let positions { return positions[key] }
        return keys.firstIndex(of: key)
    }

    /// Appends `key` to the shape held at `shape`: in place when it is private and held only there.
    static func append(_ key: String, to shape: inout JSONShape) {
        guard !shape.isShared, shape.plain == nil, isKnownUniquelyReferenced(&shape) else {
            shape = shape.appending(key)
            return
        }
        shape.keys.append(key)
        if shape.positions != nil { shape.positions![key] = shape.keys.count - 1 }
        else { shape.positions = positions(of: shape.keys) }
    }

    /// Removes the key at `i` from the shape held at `shape`: in place when it is private and held only there.
    static func remove(at i: Int, from shape: inout JSONShape) {
        guard !shape.isShared, shape.plain == nil, isKnownUniquelyReferenced(&shape) else {
            shape = shape.removing(at: i)
            return
        }
        shape.keys.remove(at: i)
        shape.positions = positions(of: shape.keys)
    }

    /// This shape without its memo.
    var unmemoized: JSONShape { plain ?? self }

    /// The shape with `key` appended.
    func appending(_ key: String) -> JSONShape {
        if let plain { return plain.appending(key) }
        guard isShared, keys.count < Self.maxSharedKeys else {
            return JSONShape(keys: Self.exactly(keys + [key]), shared: false)
        }
        let slot = Self.slot(for: key)
        if let s = recent(slot), s.keys.last == key { return s }
        let s = next.withLock { next in
            if let s = next[key] { return s }
            guard next.count < Self.maxTransitions || self === Self.empty,
                  Self.sharedCount.add(1, ordering: .relaxed).newValue <= Self.sharedLimit else {
                return JSONShape(keys: Self.exactly(keys + [key]), shared: false)
            }
            let s = JSONShape(keys: keys + [key], shared: true)
            next[key] = s
            return s
        }
        if s.isShared { remember(s, in: slot) }
        return s
    }

    /// A cheap spread of keys over the four slots (no hashing of the whole key).
    @inline(__always)
    private static func slot(for key: String) -> Int {
        let utf8 = key.utf8
        return (utf8.count &+ Int(utf8.last ?? 0)) & 3
    }

    private func recent(_ i: Int) -> JSONShape? {
        let bits = withSlot(i) { $0.load(ordering: .acquiring) }
        guard bits != 0, let p = UnsafeRawPointer(bitPattern: bits) else { return nil }
        return Unmanaged<JSONShape>.fromOpaque(p).takeUnretainedValue()
    }

    private func remember(_ s: JSONShape, in i: Int) {
        let bits = UInt(bitPattern: Unmanaged.passUnretained(s).toOpaque())
        withSlot(i) { $0.store(bits, ordering: .releasing) }
    }

    private func withSlot<R>(_ i: Int, _ body: (borrowing Atomic<UInt>) -> R) -> R {
        switch i {
        case 0: body(recent0)
        case 1: body(recent1)
        case 2: body(recent2)
        default: body(recent3)
        }
    }

    /// The shape for `keys`, shared when it can be.
    static func of(_ keys: [String]) -> JSONShape {
        if keys.count > maxSharedKeys { return JSONShape(keys: exactly(keys), shared: false) }
        var s = empty
        for k in keys { s = s.appending(k) }
        return s
    }

    /// The shape without the key at `i`.
    func removing(at i: Int) -> JSONShape {
        var keys = self.keys
        keys.remove(at: i)
        return Self.of(keys)
    }

    /// An exactly sized copy: private shapes are kept as long as their objects.
    private static func exactly(_ keys: [String]) -> [String] {
        [String](unsafeUninitializedCapacity: keys.count) { buf, n in n = buf.initialize(fromContentsOf: keys) }
    }

    /// Memo shapes, one per (shape, facts): the pods of one ReplicaSet share one.
    private static let memos = Mutex(InternTable<MemoKey, JSONShape>(limit: 8192))

    /// Identities of a plain shape and a memo; the table's value keeps both alive, so neither can be reused.
    private struct MemoKey: Hashable {
        let shape: ObjectIdentifier
        let derived: ObjectIdentifier
    }

    /// This shape's keys with `derived` memoized.
    func memoizing(_ derived: JSONObject.Derived) -> JSONShape {
        let base = unmemoized
        let key = MemoKey(shape: ObjectIdentifier(base), derived: ObjectIdentifier(derived))
        return Self.memos.withLock {
            $0.share(key) { JSONShape(keys: base.keys, shared: false, derived: derived, plain: base) }
        }
    }
}
