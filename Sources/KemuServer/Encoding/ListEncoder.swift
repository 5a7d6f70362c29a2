import FoundationEssentials
import Glibc
import KemuAPI
import KemuRegistry
import KemuStore

/// Builds list and Table bodies from the stored versions' encodings (made on their first read).
enum ListEncoder {
    /// Items in a list carry no kind/apiVersion on the wire, as kube-apiserver sends them. Stored objects begin with
    /// exactly `{"kind":"K","apiVersion":"V",` (ObjectStorage puts them first); an item that does not is copied whole.
    static func appendItem(_ b: [UInt8], typePrefix: [UInt8], into out: inout [UInt8]) {
        if b.count > typePrefix.count, hasPrefix(b, typePrefix) {
            out.append(UInt8(ascii: "{"))
            out.append(contentsOf: b[typePrefix.count...])
        } else {
            out.append(contentsOf: b)
        }
    }

    /// One memcmp per item: LIST copies a thousand items per request.
    static func hasPrefix(_ b: [UInt8], _ prefix: [UInt8]) -> Bool {
        b.withUnsafeBytes { p in prefix.withUnsafeBytes { q in memcmp(p.baseAddress!, q.baseAddress!, q.count) == 0 } }
    }

    /// `{"kind":"K","apiVersion":"V",`: how a stored object of `kind` begins.
    static func typePrefix(_ kind: ResourceKind) -> [UInt8] {
        Array("{\"kind\":\"\(kind.kind)\",\"apiVersion\":\"\(kind.apiVersion)\",".utf8)
    }

    static func list(kind: ResourceKind, page: ListPage, continueToken: String?) -> [UInt8] {
        let encoded = page.items.map(\.bytes)  // each read once: a first read encodes
        var out: [UInt8] = []
        out.reserveCapacity(128 + encoded.reduce(0) { $0 + $1.count })
        out.append(contentsOf: Array("{\"kind\":\"\(kind.listKind)\",\"apiVersion\":\"\(kind.apiVersion)\",\"metadata\":".utf8))
        JSONWriter.write(.object(listMeta(page: page, continueToken: continueToken)), into: &out)
        out.append(contentsOf: Array(",\"items\":[".utf8))
        let prefix = typePrefix(kind)
        for (i, item) in encoded.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            appendItem(item, typePrefix: prefix, into: &out)
        }
        out.append(contentsOf: Array("]}".utf8))
        return out
    }

    static func listMeta(page: ListPage, continueToken: String?) -> JSONObject {
        var meta = JSONObject()
        meta["resourceVersion"] = .string(String(page.resourceVersion))
        if let continueToken { meta["continue"] = .string(continueToken) }
        if let r = page.remainingItemCount, continueToken != nil { meta["remainingItemCount"] = .int(Int64(r)) }
        return meta
    }

    static func now() -> Int { Int(Date().timeIntervalSince1970) }

    /// A `meta.k8s.io/v1` Table for the given objects.
    static func table(kind: ResourceKind, objects: [JSONObject], meta: JSONObject, includeObject: String,
                      withColumns: Bool = true) -> JSON {
        var t = JSONObject()
        t["kind"] = "Table"
        t["apiVersion"] = "meta.k8s.io/v1"
        t["metadata"] = .object(meta)
        t["columnDefinitions"] = withColumns ? .array(kind.table.columns.map(\.json)) : .null
        let now = now()
        t["rows"] = .array(objects.map { row(kind: kind, obj: $0, includeObject: includeObject, now: now) })
        return .object(t)
    }

    static func row(kind: ResourceKind, obj: JSONObject, includeObject: String, now: Int) -> JSON {
        var r = JSONObject()
        r["cells"] = .array(kind.table.cells(obj, now))
        let conditions = kind.table.conditions(obj)
        if !conditions.isEmpty { r["conditions"] = .array(conditions) }
        switch includeObject {
        case "None": break
        case "Object": r["object"] = .object(obj)
        default:
            r["object"] = ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": .object(obj.metadata)]
        }
        return .object(r)
    }
}

/// Opaque continue tokens: base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"}`, as etcd3 storage makes them.
enum ContinueToken {
    static func encode(rv: UInt64, after key: String) -> String {
        let json: JSON = ["v": "meta.k8s.io/v1", "rv": .int(Int64(rv)), "start": .string(key + "\u{0}")]
        return Data(JSONWriter.encode(json)).base64EncodedString()
    }

    static func decode(_ token: String) throws -> (rv: UInt64, after: String) {
        var padded = token.replacing("-", with: "+").replacing("_", with: "/")
        while padded.count % 4 != 0 { padded += "=" }
        guard let data = Data(base64Encoded: padded),
              let json = try? JSONParser.parse(Array(data)),
              json["v"].stringValue == "meta.k8s.io/v1",
              let rv = json["rv"].intValue, rv > 0,
              var start = json["start"].stringValue
        else {
            throw APIError.badRequest("continue key is not valid: the continue token is malformed or was not issued by this server")
        }
        if start.hasSuffix("\u{0}") { start.removeLast() }
        return (UInt64(rv), start)
    }
}
