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

    struct AddressKey: Hashable { let ip: String; let uid: String }

    struct Member: Hashable { let index: Int; let ready: Bool }

    /// Repacks subsets into the canonical layout and sorts them.
    public static func repack(_ subsets: [JSON]) -> [JSON] {
        var addresses: [JSON] = []
        var addressIndex: [AddressKey: Int] = [:]
        var portOrder: [Port] = []
        var readiness: [Port: [Int: Bool]] = [:]

        func record(_ address: JSON, _ port: Port, ready: Bool) {
            let key = AddressKey(ip: address["ip"].stringValue ?? "", uid: address["targetRef"]["uid"].stringValue ?? "")
            let index: Int
            if let i = addressIndex[key] { index = i } else {
                index = addresses.count
                addresses.append(address)
                addressIndex[key] = index
            }
            if readiness[port] == nil { readiness[port] = [:]; portOrder.append(port) }
            // Not ready always trumps ready for the same address on the same port.
            if let was = readiness[port]![index], !was { return }
            readiness[port]![index] = ready
        }

        for s in subsets {
            let ports = (s["ports"].arrayValue ?? []).map(Port.init)
            for port in ports.isEmpty ? [Port.sentinel] : ports {
                for a in s["addresses"].arrayValue ?? [] { record(a, port, ready: true) }
                for a in s["notReadyAddresses"].arrayValue ?? [] { record(a, port, ready: false) }
            }
        }

        // Ports offered by the same set of (address, readiness) pairs form one subset.
        var groupOrder: [[Member]] = []
        var groupPorts: [[Member]: [Port]] = [:]
        for port in portOrder {
            let members = readiness[port]!.map { Member(index: $0.key, ready: $0.value) }.sorted { $0.index < $1.index }
            if groupPorts[members] == nil { groupPorts[members] = []; groupOrder.append(members) }
            if port != .sentinel { groupPorts[members]!.append(port) }
        }

        var out: [JSON] = []
        for members in groupOrder {
            let ready = sortAddresses(members.filter(\.ready).map { addresses[$0.index] })
            let notReady = sortAddresses(members.filter { !$0.ready }.map { addresses[$0.index] })
            let ports = groupPorts[members]!.sorted(by: <)
            var s = JSONObject()
            if !ready.isEmpty { s["addresses"] = .array(ready) }
            if !notReady.isEmpty { s["notReadyAddresses"] = .array(notReady) }
            if !ports.isEmpty { s["ports"] = .array(ports.map(\.json)) }
            out.append(.object(s))
        }
        return sortSubsets(out)
    }

    /// Upstream orders subsets by a hash of their content; any deterministic order will do,
    /// so kemu orders them by their serialised form.
    static func sortSubsets(_ subsets: [JSON]) -> [JSON] {
        if subsets.count < 2 { return subsets }  // the common case: nothing to order, nothing to encode
        return subsets.map { ($0, JSONWriter.encode($0)) }
            .sorted { $0.1.lexicographicallyPrecedes($1.1) }
            .map(\.0)
    }

    /// Addresses by the bytes of their IP string, then by targetRef UID (no targetRef first).
    static func sortAddresses(_ list: [JSON]) -> [JSON] {
        // Extract the keys once; comparing JSON objects directly costs lookups on every comparison.
        struct Keyed { let ip: String; let hasRef: Bool; let uid: String; let value: JSON }
        return list.map { a in
            Keyed(ip: a["ip"].stringValue ?? "", hasRef: !a["targetRef"].isNull,
                  uid: a["targetRef"]["uid"].stringValue ?? "", value: a)
        }.sorted { x, y in
            if x.ip != y.ip { return x.ip.utf8.lexicographicallyPrecedes(y.ip.utf8) }
            if !y.hasRef { return false }
            if !x.hasRef { return true }
            return x.uid.utf8.lexicographicallyPrecedes(y.uid.utf8)
        }.map(\.value)
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
            var r = JSONObject()
            for (k, v) in ref where k != "resourceVersion" {
                if case .string(let s) = v, s.isEmpty { continue }
                r[k] = v
            }
            o["targetRef"] = .object(r)
        }
        return .object(o)
    }

    /// Total addresses (ready and not ready) across subsets.
    public static func addressCount(_ subsets: [JSON]) -> Int {
        subsets.reduce(0) { $0 + ($1["addresses"].arrayValue?.count ?? 0) + ($1["notReadyAddresses"].arrayValue?.count ?? 0) }
    }
}
