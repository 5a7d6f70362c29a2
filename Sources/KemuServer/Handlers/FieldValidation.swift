import KemuAPI
import KemuRegistry

extension APIServer {
    /// Built-in kinds decode into typed structs upstream, so unknown fields never reach storage.
    /// `fieldValidation=Strict` rejects them, `Warn` (the default) reports them as warnings,
    /// `Ignore` drops them silently. Returns the pruned body and the warning headers.
    func pruneUnknownFields(_ c: RequestContext, _ body: JSONObject) throws -> (JSONObject, [(String, String)]) {
        let mode = c.query("fieldValidation") ?? "Warn"
        guard let index = openAPI.schemaIndex,
              let schema = index.schema(group: c.kind.group, version: c.kind.version, kind: c.kind.kind) else { return (body, []) }
        var unknown: [String] = []
        let pruned = UnknownFields.prune(.object(body), schema: schema, path: "", unknown: &unknown)
        if unknown.isEmpty { return (body, []) }
        switch mode {
        case "Strict":
            let list = unknown.map { "unknown field \"\($0)\"" }.joined(separator: ", ")
            let version = body.string("apiVersion") ?? c.kind.apiVersion
            throw APIError.badRequest("\(c.kind.kind) in version \"\(version)\" cannot be handled as a \(c.kind.kind): strict decoding error: \(list)")
        case "Ignore":
            return (pruned.objectValue ?? body, [])
        default:
            return (pruned.objectValue ?? body, unknown.map { Respond.warning("unknown field \"\($0)\"") })
        }
    }
}

enum UnknownFields {
    /// Returns `value` without the fields its schema does not know, collecting their paths.
    static func prune(_ value: JSON, schema: any PatchSchema, path: String, unknown: inout [String]) -> JSON {
        guard case .object(let o) = value, !schema.acceptsAnyField else { return value }
        var out = JSONObject()
        for (k, v) in o {
            let p = path.isEmpty ? k : path + "." + k
            if path.isEmpty && (k == "kind" || k == "apiVersion") { out[k] = v; continue }
            guard let field = schema.field(k) else {
                unknown.append(p)
                continue
            }
            guard let element = field.element else { out[k] = v; continue }
            if case .array(let items) = v {
                out[k] = .array(items.enumerated().map { i, item in prune(item, schema: element, path: "\(p)[\(i)]", unknown: &unknown) })
            } else {
                out[k] = prune(v, schema: element, path: p, unknown: &unknown)
            }
        }
        return .object(out)
    }
}
