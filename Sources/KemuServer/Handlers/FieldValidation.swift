import KemuAPI
import KemuRegistry

extension APIServer {
    /// `fieldValidation=Strict` rejects unknown fields, `Warn` reports them as warnings, `Ignore` drops them silently.
    func fieldValidation(_ c: RequestContext, _ body: JSONObject) throws -> [(String, String)] {
        let mode = c.query("fieldValidation") ?? "Warn"
        if mode == "Ignore" { return [] }
        guard let index = openAPI.schemaIndex,
              let schema = index.schema(group: c.kind.group, version: c.kind.version, kind: c.kind.kind) else { return [] }
        var unknown: [String] = []
        UnknownFields.collect(.object(body), schema: schema, path: "", into: &unknown)
        if unknown.isEmpty { return [] }
        if mode == "Strict" {
            let list = unknown.map { "unknown field \"\($0)\"" }
            throw APIError.badRequest("strict decoding error: " + list.joined(separator: ", "))
        }
        return unknown.map { Respond.warning("unknown field \"\($0)\"") }
    }
}

enum UnknownFields {
    static func collect(_ value: JSON, schema: any PatchSchema, path: String, into out: inout [String]) {
        guard case .object(let o) = value else { return }
        for (k, v) in o {
            let p = path.isEmpty ? k : path + "." + k
            guard let field = schema.field(k) else {
                if !schema.acceptsAnyField { out.append(p) }
                continue
            }
            guard let element = field.element else { continue }
            if case .array(let items) = v {
                for (i, item) in items.enumerated() { collect(item, schema: element, path: "\(p)[\(i)]", into: &out) }
            } else {
                collect(v, schema: element, path: p, into: &out)
            }
        }
    }
}
