import KemuAPI
import KemuRegistry

/// Applies one PATCH body to the current object, by content type.
struct Patcher {
    enum PatchType: String {
        case json = "application/json-patch+json"
        case merge = "application/merge-patch+json"
        case strategic = "application/strategic-merge-patch+json"
        case apply = "application/apply-patch+yaml"
    }

    static let accepted = [PatchType.json, .merge, .strategic, .apply].map(\.rawValue)

    let type: PatchType
    let patch: JSON
    let schema: (any PatchSchema)?

    init(_ s: APIServer, _ c: RequestContext, schemaKind: (group: String, version: String, kind: String)? = nil) throws {
        let raw = (c.request.header("content-type") ?? "").split(separator: ";").first
            .map { $0.trimmingWhitespace().lowercased() } ?? ""
        guard let t = PatchType(rawValue: raw) else {
            throw APIError.unsupportedMediaType(raw, accepted: Self.accepted)
        }
        if t == .apply {
            throw APIError(code: 415, reason: "UnsupportedMediaType",
                           message: "server-side apply (application/apply-patch+yaml) is not supported by kemu yet - accepted media types include: \(Self.accepted.filter { $0 != t.rawValue }.joined(separator: ", ")); use client-side apply (kubectl apply without --server-side)")
        }
        if c.query("force") != nil {
            throw APIError.invalid(kind: "PatchOptions", group: "meta.k8s.io", name: "", [
                .forbidden("force", "may not be specified for non-apply patch"),
            ])
        }
        type = t
        do {
            patch = try JSONParser.parse(c.request.body)
        } catch {
            throw APIError.badRequest("error decoding patch: \(error.message)")
        }
        switch (t, patch) {
        case (.json, .array): break
        case (.json, _): throw APIError.badRequest("json: cannot unmarshal \(patch.typeName) into Go value of type jsonpatch.Patch")
        case (_, .object): break
        default: throw APIError.badRequest("json: cannot unmarshal \(patch.typeName) into Go value of type map[string]interface {}")
        }
        let k = schemaKind ?? (c.kind.group, c.kind.version, c.kind.kind)
        schema = t == .strategic ? s.openAPI.schemaIndex?.schema(group: k.group, version: k.version, kind: k.kind) : nil
    }

    func apply(to current: JSONObject) throws -> JSONObject {
        let result: JSON
        switch type {
        case .json: result = try JSONPatch.apply(original: .object(current), patch: patch)
        case .merge: result = try MergePatch.apply(original: .object(current), patch: patch)
        case .strategic: result = try StrategicMergePatch.apply(original: .object(current), patch: patch, schema: schema)
        case .apply: throw APIError.unsupportedMediaType(type.rawValue, accepted: Self.accepted)
        }
        guard case .object(let o) = result else {
            throw APIError.badRequest("the patch did not produce an object")
        }
        return o
    }
}
