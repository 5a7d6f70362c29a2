import KemuAPI

/// The canonical layout of `Endpoints.subsets` (upstream `RepackSubsets`/`SortSubsets` in
/// pkg/api/v1/endpoints): every address is grouped with exactly the ports it offers, addresses
/// are de-duplicated by (IP, targetRef.uid), and "not ready" wins over "ready" for the same
/// address on the same port. Used by the Endpoints controller and the mirroring controller.
public enum EndpointSubsets {
    /// An Endpoints port as a value: what makes two ports "the same port".
    struct Port: Hashable {
        var name: String
        var port: Int64
        var proto: String
        var appProtocol: String?

        init(_ j: JSON) {
            name = j["name"].stringValue ?? ""
            port = j["port"].intValue ?? 0
            proto = j["protocol"].stringValue ?? ""
            appProtocol = j["appProtocol"].stringValue
        }

        init(name: String, port: Int64, proto: String, appProtocol: String?) {
            self.name = name; self.port = port; self.proto = proto; self.appProtocol = appProtocol
        }

        /// Addresses of a subset without ports are kept under this placeholder port.
        static let sentinel = Port(name: "", port: -1, proto: "", appProtocol: nil)

        /// Serialised as core/v1 EndpointPort (`name` and `protocol` omitted when empty).
        var json: JSON {
            var o = JSONObject()
            if !name.isEmpty { o["name"] = .string(name) }
            o["port"] = .int(port)
            if !proto.isEmpty { o["protocol"] = .string(proto) }
            if let a = appProtocol { o["appProtocol"] = .string(a) }
            return .object(o)
        }

        static func < (a: Port, b: Port) -> Bool {
            if a.name != b.name { return a.name < b.name }
            if a.port != b.port { return a.port < b.port }
            if a.proto != b.proto { return a.proto < b.proto }
            return (a.appProtocol ?? "") < (b.appProtocol ?? "")
        }
    }

    /// One subset: addresses (ready and not) and the ports they all offer.
    struct Subset<A: SubsetAddress> {
        var addresses: [A] = []
        var notReadyAddresses: [A] = []
        var ports: [Port] = []

        var json: JSON {
            var s = JSONObject()
            if !addresses.isEmpty { s["addresses"] = .array(addresses.map(\.json)) }
            if !notReadyAddresses.isEmpty { s["notReadyAddresses"] = .array(notReadyAddresses.map(\.json)) }
            if !ports.isEmpty { s["ports"] = .array(ports.map(\.json)) }
            return .object(s)
        }
    }

    /// Repacks subsets into the canonical layout and sorts them.
    public static func repack(_ subsets: [JSON]) -> [JSON] {
        repack(subsets.map(subset)).map(\.json)
    }

    static func subset(_ j: JSON) -> Subset<WrittenAddress> {
        Subset(addresses: (j["addresses"].arrayValue ?? []).map(WrittenAddress.init),
               notReadyAddresses: (j["notReadyAddresses"].arrayValue ?? []).map(WrittenAddress.init),
               ports: (j["ports"].arrayValue ?? []).map(Port.init))
    }

    static func repack<A: SubsetAddress>(_ subsets: [Subset<A>]) -> [Subset<A>] {
        // Each distinct address once; per port, each address's state: 0 absent, 1 ready, 2 not ready.
        var addresses: [A] = []
        var addressIndex: [A.Identity: Int] = [:]
        var portOrder: [Port] = []
        var portPosition: [Port: Int] = [:]
        var columns: [[UInt8]] = []

        func record(_ address: A, _ port: Port, ready: Bool) {
            let key = address.identity
            let index: Int
            if let i = addressIndex[key] { index = i } else {
                index = addresses.count
                addresses.append(address)
                addressIndex[key] = index
            }
            let p: Int
            if let known = portPosition[port] { p = known } else {
                p = portOrder.count
                portPosition[port] = p
                portOrder.append(port)
                columns.append([])
            }
            if columns[p].count <= index { columns[p].append(contentsOf: repeatElement(0, count: index + 1 - columns[p].count)) }
            // Not ready always trumps ready for the same address on the same port.
            if columns[p][index] != 2 { columns[p][index] = ready ? 1 : 2 }
        }

        for s in subsets {
            for port in s.ports.isEmpty ? [Port.sentinel] : s.ports {
                for a in s.addresses { record(a, port, ready: true) }
                for a in s.notReadyAddresses { record(a, port, ready: false) }
            }
        }

        // Ports offered by the same (address, readiness) pairs form one subset.
        var groupOrder: [[UInt8]] = []
        var groupPorts: [[UInt8]: [Port]] = [:]
        for (p, port) in portOrder.enumerated() {
            var column = columns[p]
            column.append(contentsOf: repeatElement(0, count: addresses.count - column.count))
            if groupPorts[column] == nil { groupPorts[column] = []; groupOrder.append(column) }
            if port != .sentinel { groupPorts[column]!.append(port) }
        }

        let out = groupOrder.map { column in
            var ready: [A] = [], notReady: [A] = []
            for (i, state) in column.enumerated() where state != 0 {
                if state == 1 { ready.append(addresses[i]) } else { notReady.append(addresses[i]) }
            }
            return Subset(addresses: sortAddresses(ready), notReadyAddresses: sortAddresses(notReady),
                          ports: groupPorts[column]!.sorted(by: <))
        }
        return sortSubsets(out)
    }

    /// Upstream orders subsets by a hash of their content; any deterministic order will do. Every port
    /// belongs to one subset and at most one subset has none, so ordering by ports is total.
    static func sortSubsets<A: SubsetAddress>(_ subsets: [Subset<A>]) -> [Subset<A>] {
        if subsets.count < 2 { return subsets }
        return subsets.map { ($0, JSONWriter.encode(.array($0.ports.map(\.json)))) }
            .sorted { $0.1.lexicographicallyPrecedes($1.1) }
            .map(\.0)
    }

    /// Addresses by the bytes of their IP string, then by targetRef UID (no targetRef first).
    static func sortAddresses<A: SubsetAddress>(_ list: [A]) -> [A] {
        // The first 16 bytes of the IP (all of an IPv4 one) as two big-endian integers decide most comparisons.
        func keyed(_ a: A) -> (hi: UInt64, lo: UInt64, address: A) {
            var hi: UInt64 = 0, lo: UInt64 = 0, i = 0
            for b in a.ip.utf8.prefix(16) {
                if i < 8 { hi |= UInt64(b) << (56 - 8 * i) } else { lo |= UInt64(b) << (56 - 8 * (i - 8)) }
                i += 1
            }
            return (hi, lo, a)
        }
        return list.map(keyed).sorted { x, y in
            if x.hi != y.hi { return x.hi < y.hi }
            if x.lo != y.lo { return x.lo < y.lo }
            let (a, b) = (x.address, y.address)
            if a.ip.utf8.count > 16 || b.ip.utf8.count > 16, a.ip != b.ip { return a.ip.utf8.lexicographicallyPrecedes(b.ip.utf8) }
            guard let yUID = b.refUID else { return false }
            guard let xUID = a.refUID else { return true }
            return xUID.utf8.lexicographicallyPrecedes(yUID.utf8)
        }.map(\.address)
    }

    /// Caps the addresses at `capacity`, preferring ready ones and sharing the room among subsets in
    /// proportion to their size (upstream `truncateEndpoints`). Returns whether anything had to be cut.
    static func truncate<A: SubsetAddress>(_ subsets: [Subset<A>], capacity: Int) -> (subsets: [Subset<A>], truncated: Bool) {
        let totalReady = subsets.reduce(0) { $0 + $1.addresses.count }
        let totalNotReady = subsets.reduce(0) { $0 + $1.notReadyAddresses.count }
        if totalReady + totalNotReady <= capacity { return (subsets, false) }
        let truncateReady = totalReady > capacity
        let room = truncateReady ? capacity : capacity - totalReady
        let total = truncateReady ? totalReady : totalNotReady
        var canBeAdded = room
        var out: [Subset<A>] = []
        for var s in subsets {
            let inSubset = truncateReady ? s.addresses.count : s.notReadyAddresses.count
            let toBeAdded = min(canBeAdded, Int((Double(inSubset) / Double(total) * Double(room)).rounded(.up)))
            if truncateReady {
                s.addresses = Array(s.addresses.prefix(toBeAdded))
                s.notReadyAddresses = []
                canBeAdded -= s.addresses.count
            } else {
                s.notReadyAddresses = Array(s.notReadyAddresses.prefix(toBeAdded))
                canBeAdded -= s.notReadyAddresses.count
            }
            out.append(s)
        }
        return (out, true)
    }

    /// Subsets as Go would decode them, for "is anything different" checks: empty lists equal
    /// missing ones, empty optional strings are dropped, and `targetRef.resourceVersion` is ignored.
    public static func comparable(_ subsets: JSON?) -> [JSON] {
        (subsets?.arrayValue ?? []).map { s in
            var o = JSONObject()
            for list in ["addresses", "notReadyAddresses"] {
                let addrs = (s[list].arrayValue ?? []).map(comparableAddress)
                if !addrs.isEmpty { o[list] = .array(addrs) }
            }
            let ports = (s["ports"].arrayValue ?? []).map { Port($0).json }
            if !ports.isEmpty { o["ports"] = .array(ports) }
            return .object(o)
        }
    }

    static func comparableAddress(_ a: JSON) -> JSON {
        var o = JSONObject()
        o["ip"] = .string(a["ip"].stringValue ?? "")
        if let h = a["hostname"].stringValue, !h.isEmpty { o["hostname"] = .string(h) }
        if let n = a["nodeName"].stringValue { o["nodeName"] = .string(n) }
        if case .object(let ref) = a["targetRef"] {
            var r = ObjectReference(json: ref)
            r.resourceVersion = ""
            o["targetRef"] = .object(r.json)
        }
        return .object(o)
    }

    /// Total addresses (ready and not ready) across subsets.
    public static func addressCount(_ subsets: [JSON]) -> Int {
        subsets.reduce(0) { $0 + ($1["addresses"].arrayValue?.count ?? 0) + ($1["notReadyAddresses"].arrayValue?.count ?? 0) }
    }
}

/// What the repacking needs of an address: its identity (IP, targetRef UID) and its JSON form.
protocol SubsetAddress {
    /// Equal for the same address: the same IP and targetRef UID.
    associatedtype Identity: Hashable
    var identity: Identity { get }
    var ip: String { get }
    /// nil when the address has no targetRef.
    var refUID: String? { get }
    var json: JSON { get }
}

/// An address as a client wrote it (custom Endpoints), with its identity read once.
struct WrittenAddress: SubsetAddress {
    let json: JSON
    let ip: String
    let refUID: String?

    init(_ json: JSON) {
        self.json = json
        ip = json["ip"].stringValue ?? ""
        refUID = json["targetRef"].isNull ? nil : json["targetRef"]["uid"].stringValue ?? ""
    }

    struct Identity: Hashable { let ip: String; let uid: String }
    var identity: Identity { Identity(ip: ip, uid: refUID ?? "") }
}
