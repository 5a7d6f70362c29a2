import KemuAPI

/// Well-known names the EndpointSlice controller reads and writes.
public enum EndpointSliceNames {
    public static let controllerName = "endpointslice-controller.k8s.io"
    public static let serviceNameLabel = "kubernetes.io/service-name"
    public static let managedByLabel = "endpointslice.kubernetes.io/managed-by"
    public static let headlessLabel = "service.kubernetes.io/headless"
    public static let triggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time"
    public static let zoneLabel = "topology.kubernetes.io/zone"
    public static let topologyModeAnnotation = "service.kubernetes.io/topology-mode"
    public static let deprecatedTopologyHintsAnnotation = "service.kubernetes.io/topology-aware-hints"
    public static let fieldManager = "endpointslice-controller"

    static func isReservedLabel(_ key: String) -> Bool {
        key == serviceNameLabel || key == managedByLabel || key == headlessLabel
    }
}

/// One entry of an EndpointSlice's `ports`.
public struct SlicePort: Hashable, Sendable, Comparable {
    public var name: String?
    public var port: Int?
    public var proto: String?
    public var appProtocol: String?

    public init(name: String?, port: Int?, proto: String?, appProtocol: String?) {
        self.name = name; self.port = port; self.proto = proto; self.appProtocol = appProtocol
    }

    init(json: JSON) {
        name = json["name"].stringValue
        port = json["port"].intValue.map { Int($0) }
        proto = json["protocol"].stringValue
        appProtocol = json["appProtocol"].stringValue
    }

    var json: JSON {
        var o = JSONObject()
        if let name { o["name"] = .string(name) }
        if let port { o["port"] = .int(Int64(port)) }
        if let proto { o["protocol"] = .string(proto) }
        if let appProtocol { o["appProtocol"] = .string(appProtocol) }
        return .object(o)
    }

    public static func < (a: SlicePort, b: SlicePort) -> Bool {
        func cmp<T: Comparable>(_ x: T?, _ y: T?) -> Int {
            switch (x, y) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case let (x?, y?): return x < y ? -1 : (x == y ? 0 : 1)
            }
        }
        for c in [cmp(a.name, b.name), cmp(a.port, b.port), cmp(a.proto, b.proto), cmp(a.appProtocol, b.appProtocol)] where c != 0 {
            return c < 0
        }
        return false
    }
}

/// The order-insensitive identity of a port list: slices are grouped by it (nil and empty lists are the same key).
public struct PortSetKey: Hashable, Sendable {
    public let ports: [SlicePort]
    let hash: Int
    public init(_ ports: [SlicePort]?) {
        let p = (ports ?? []).sorted()
        self.ports = p
        hash = p.hashValue
    }
    static let empty = PortSetKey([])
    public static func == (a: PortSetKey, b: PortSetKey) -> Bool { a.hash == b.hash && a.ports == b.ports }
    public func hash(into h: inout Hasher) { h.combine(hash) }
}

/// `hints` of an endpoint: zone and node names.
public struct SliceHints: Equatable, Sendable {
    public var forZones: [String]
    public var forNodes: [String]
    public init(forZones: [String] = [], forNodes: [String] = []) { self.forZones = forZones; self.forNodes = forNodes }
}

/// One endpoint of an EndpointSlice. Its fields live in one shared box, copied on write: the controller keeps
/// every endpoint in several places (the pod's contribution, the desired lists, the slices' states), and a copy
/// of the value costs a reference instead of the ~320 bytes of fields.
public struct SliceEndpoint: Equatable, Sendable {
    struct Fields {
        var addresses: [String]
        var ready: Bool?, serving: Bool?, terminating: Bool?
        var hostname: String?, nodeName: String?, zone: String?
        var targetRef: ObjectReference?
        var hints: SliceHints?
        /// The endpoint's JSON, kept while no field changes (built once per pod version, or the stored JSON).
        var rendered: JSON?
        /// (identityHash, detailHash), kept while no field they cover changes.
        var hashes: (identity: Int, detail: Int)?
    }

    /// Mutated only through `edit`, which copies it first unless this value is its only owner.
    final class Box: @unchecked Sendable {
        var f: Fields
        init(_ f: Fields) { self.f = f }
    }

    private var box: Box

    private mutating func edit(_ body: (inout Fields) -> Void) {
        if !isKnownUniquelyReferenced(&box) { box = Box(box.f) }
        body(&box.f)
    }

    /// Sets a field; the JSON form and (unless only hints change) the hashes are made again when next needed.
    private mutating func set<T>(_ field: WritableKeyPath<Fields, T>, _ value: T, keepHashes: Bool = false) {
        edit { f in
            f[keyPath: field] = value
            f.rendered = nil
            if !keepHashes { f.hashes = nil }
        }
    }

    public var addresses: [String] { get { box.f.addresses } set { set(\.addresses, newValue) } }
    public var ready: Bool? { get { box.f.ready } set { set(\.ready, newValue) } }
    public var serving: Bool? { get { box.f.serving } set { set(\.serving, newValue) } }
    public var terminating: Bool? { get { box.f.terminating } set { set(\.terminating, newValue) } }
    public var hostname: String? { get { box.f.hostname } set { set(\.hostname, newValue) } }
    public var nodeName: String? { get { box.f.nodeName } set { set(\.nodeName, newValue) } }
    public var zone: String? { get { box.f.zone } set { set(\.zone, newValue) } }
    public var targetRef: ObjectReference? { get { box.f.targetRef } set { set(\.targetRef, newValue) } }
    public var hints: SliceHints? { get { box.f.hints } set { set(\.hints, newValue, keepHashes: true) } }
    var rendered: JSON? { box.f.rendered }
    var hashes: (identity: Int, detail: Int)? { box.f.hashes }

    /// Computes and keeps the JSON form and the hashes (desired endpoints are built once per pod version).
    mutating func prepare() {
        let json = build(), hashes = (computeIdentityHash(), computeDetailHash())
        edit { $0.rendered = json; $0.hashes = hashes }
    }

    public static func == (a: SliceEndpoint, b: SliceEndpoint) -> Bool {
        if a.box === b.box { return true }
        return a.addresses == b.addresses && a.ready == b.ready && a.serving == b.serving && a.terminating == b.terminating
            && a.hostname == b.hostname && a.nodeName == b.nodeName && a.zone == b.zone && a.targetRef == b.targetRef && a.hints == b.hints
    }

    /// Hash of the identity (sorted addresses, hostname, targetRef namespace and name).
    var identityHash: Int { hashes?.identity ?? computeIdentityHash() }

    func computeIdentityHash() -> Int {
        var h = Hasher()
        if addresses.count > 1 { h.combine(addresses.sorted()) } else { h.combine(addresses) }
        h.combine(hostname ?? "")
        h.combine(targetRef?.namespace ?? "")
        h.combine(targetRef?.name ?? "")
        return h.finalize()
    }

    /// Hash of what `equalBeyondIdentity` compares.
    var detailHash: Int { hashes?.detail ?? computeDetailHash() }

    func computeDetailHash() -> Int {
        var h = Hasher()
        h.combine(nodeName); h.combine(zone); h.combine(ready); h.combine(serving); h.combine(terminating)
        h.combine(targetRef == nil)
        if let t = targetRef {
            h.combine(t.kind); h.combine(t.namespace); h.combine(t.name); h.combine(t.uid); h.combine(t.apiVersion); h.combine(t.fieldPath)
        }
        return h.finalize()
    }

    public init(addresses: [String], ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil,
                hostname: String? = nil, nodeName: String? = nil, zone: String? = nil,
                targetRef: ObjectReference? = nil, hints: SliceHints? = nil) {
        box = Box(Fields(addresses: addresses, ready: ready, serving: serving, terminating: terminating, hostname: hostname,
                         nodeName: nodeName, zone: zone, targetRef: targetRef, hints: hints, rendered: nil, hashes: nil))
    }

    /// `ready` read as consumers do (nil is not ready for hint purposes, as upstream's `EndpointReady`).
    var isReady: Bool { ready == true }

    /// Same endpoint identity: sorted addresses, hostname, targetRef namespace and name.
    func sameIdentity(_ o: SliceEndpoint) -> Bool {
        (hostname ?? "") == (o.hostname ?? "")
            && (targetRef?.name ?? "") == (o.targetRef?.name ?? "")
            && (targetRef?.namespace ?? "") == (o.targetRef?.namespace ?? "")
            && (addresses == o.addresses || addresses.sorted() == o.addresses.sorted())
    }

    /// Equal in everything the identity does not cover (hints excluded, targetRef resourceVersion ignored).
    func equalBeyondIdentity(_ o: SliceEndpoint) -> Bool {
        guard nodeName == o.nodeName, zone == o.zone, ready == o.ready, serving == o.serving, terminating == o.terminating else {
            return false
        }
        switch (targetRef, o.targetRef) {
        case (nil, nil): return true
        case let (a?, b?): return a.equalIgnoringResourceVersion(b)
        default: return false
        }
    }

    init(json: JSON) {
        let c = json["conditions"]
        var f = Fields(addresses: (json["addresses"].arrayValue ?? []).compactMap(\.stringValue),
                       ready: c["ready"].boolValue, serving: c["serving"].boolValue, terminating: c["terminating"].boolValue,
                       hostname: json["hostname"].stringValue, nodeName: json["nodeName"].stringValue,
                       zone: json["zone"].stringValue, targetRef: nil, hints: nil, rendered: json, hashes: nil)
        if case .object(let t) = json["targetRef"] {
            f.targetRef = ObjectReference(json: t)
        }
        if case .object(let h) = json["hints"] {
            f.hints = SliceHints(forZones: (h["forZones"]?.arrayValue ?? []).compactMap { $0["name"].stringValue },
                                 forNodes: (h["forNodes"]?.arrayValue ?? []).compactMap { $0["name"].stringValue })
        }
        box = Box(f)
    }

    /// Serialised in upstream's field order (the cached form when nothing changed).
    var json: JSON { rendered ?? build() }

    /// The 27 possible `conditions` objects, made once: every endpoint shares one of them.
    private static let conditionsTable: [JSON] = {
        let values: [Bool?] = [nil, false, true]
        var table: [JSON] = []
        for ready in values { for serving in values { for terminating in values {
            var c = JSONObject()
            if let ready { c["ready"] = .bool(ready) }
            if let serving { c["serving"] = .bool(serving) }
            if let terminating { c["terminating"] = .bool(terminating) }
            table.append(.object(c))
        } } }
        return table
    }()

    static func conditions(_ ready: Bool?, _ serving: Bool?, _ terminating: Bool?) -> JSON {
        func index(_ b: Bool?) -> Int { b.map { $0 ? 2 : 1 } ?? 0 }
        return conditionsTable[index(ready) * 9 + index(serving) * 3 + index(terminating)]
    }

    func build() -> JSON {
        var o = JSONObject()
        // Exactly sized: the endpoint is stored in a slice and lives long.
        let present = [hostname != nil, targetRef != nil, nodeName != nil, zone != nil, hints != nil]
        o.reserveCapacity(2 + present.count { $0 })
        o["addresses"] = .array(addresses.map(JSON.string))
        o["conditions"] = Self.conditions(ready, serving, terminating)
        if let hostname { o["hostname"] = .string(hostname) }
        if let t = targetRef { o["targetRef"] = .object(t.json) }
        if let nodeName { o["nodeName"] = .string(nodeName) }
        if let zone { o["zone"] = .string(zone) }
        if let h = hints {
            var ho = JSONObject()
            if !h.forZones.isEmpty { ho["forZones"] = .array(h.forZones.map { ["name": .string($0)] }) }
            if !h.forNodes.isEmpty { ho["forNodes"] = .array(h.forNodes.map { ["name": .string($0)] }) }
            o["hints"] = .object(ho)
        }
        return .object(o)
    }
}

/// An EndpointSlice as the reconciler sees it: an existing one (with the stored object it came from)
/// or one to be written.
public struct SliceState: Sendable {
    /// Empty for a slice to be created (the server expands `generateName`).
    public var name: String
    public var generateName: String?
    public var namespace: String
    public var addressType: String
    public var labels: [String: String]
    public var ownerReferences: [JSON]
    /// nil when the stored object has `ports: null`.
    public var ports: [SlicePort]?
    public var endpoints: [SliceEndpoint]
    /// The stored object this slice came from; nil for new slices and for recycled ones
    /// (a recycled slice is written as a fresh object under an existing name).
    public var base: JSONObject?
    /// Per-endpoint lookup data of an existing slice, computed once per stored version.
    var index: SliceIndex?
    /// For a slice built from desired endpoints: their positions in the desired list (kept after writing,
    /// so the next sync need not look them up).
    var sourcePositions: (layout: UInt64, at: [Int])?

    /// What the packing step needs of an existing slice's endpoints, without copying them.
    struct SliceIndex: Sendable {
        var podNames: [String?]
        var identityHashes: [Int]
        var detailHashes: [Int]
        var hasHints: Bool
        /// Desired-list positions of the endpoints' pods (-1: none), valid for one list layout.
        var positions: (layout: UInt64, at: [Int])?
        init(_ endpoints: [SliceEndpoint]) {
            podNames = endpoints.map { $0.targetRef?.name }
            identityHashes = endpoints.map(\.identityHash)
            detailHashes = endpoints.map(\.detailHash)
            hasHints = endpoints.contains { $0.hints != nil }
        }
    }

    /// Computes the lookup data (existing slices only).
    mutating func buildIndex() { index = SliceIndex(endpoints) }

    var hasHints: Bool { index?.hasHints ?? endpoints.contains { $0.hints != nil } }

    public init(name: String, generateName: String?, namespace: String, addressType: String, labels: [String: String],
                ownerReferences: [JSON], ports: [SlicePort]?, endpoints: [SliceEndpoint], base: JSONObject?) {
        self.name = name; self.generateName = generateName; self.namespace = namespace; self.addressType = addressType
        self.labels = labels; self.ownerReferences = ownerReferences; self.ports = ports; self.endpoints = endpoints; self.base = base
    }

    /// Parses a stored EndpointSlice.
    public init(object: JSONObject) {
        let meta = object.metadata
        name = meta.string("name") ?? ""
        generateName = meta.string("generateName")
        namespace = meta.string("namespace") ?? ""
        addressType = object["addressType"]?.stringValue ?? ""
        labels = object.labels
        ownerReferences = meta["ownerReferences"]?.arrayValue ?? []
        ports = object["ports"]?.arrayValue.map { $0.map(SlicePort.init(json:)) }
        endpoints = (object["endpoints"]?.arrayValue ?? []).map(SliceEndpoint.init(json:))
        base = object
        buildIndex()
    }

    public var uid: String { base?.uid ?? "" }
    public var annotations: [String: String] { base?.annotations ?? [:] }

    /// An ownerReference with the Service's UID, kind Service and apiVersion v1.
    func isOwned(byServiceUID uid: String) -> Bool {
        ownerReferences.contains { $0["uid"].stringValue == uid && $0["kind"].stringValue == "Service" && $0["apiVersion"].stringValue == "v1" }
    }

    /// The object to send: the stored object with the controller's fields replaced, or a fresh one.
    /// `triggerTime` nil removes the trigger-time annotation.
    public func render(triggerTime: String?) -> JSONObject {
        var obj: JSONObject
        if let base {
            obj = base
        } else {
            obj = JSONObject()
            obj["apiVersion"] = "discovery.k8s.io/v1"
            obj["kind"] = "EndpointSlice"
            var meta = JSONObject()
            if !name.isEmpty { meta["name"] = .string(name) }
            if let generateName { meta["generateName"] = .string(generateName) }
            meta["namespace"] = .string(namespace)
            meta["ownerReferences"] = .array(ownerReferences)
            obj["metadata"] = .object(meta)
        }
        var meta = obj.metadata
        meta["labels"] = .stringMap(labels)
        var ann = meta["annotations"]?.objectValue ?? JSONObject()
        if let triggerTime { ann[EndpointSliceNames.triggerTimeAnnotation] = .string(triggerTime) } else {
            ann[EndpointSliceNames.triggerTimeAnnotation] = nil
        }
        meta["annotations"] = ann.isEmpty ? nil : .object(ann)
        obj.metadata = meta
        obj["addressType"] = .string(addressType)
        var eps: [JSON] = []
        eps.reserveCapacity(endpoints.count)
        for i in endpoints.indices { eps.append(endpoints[i].rendered ?? endpoints[i].build()) }
        obj["endpoints"] = .array(eps)
        obj["ports"] = ports.map { .array($0.map(\.json)) } ?? .null
        return obj
    }
}
