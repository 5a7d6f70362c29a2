import KemuAPI
import KemuHTTP
import KemuRegistry

/// `pods/eviction` (policy/v1): deletes the pod; PodDisruptionBudgets are not modelled yet.
enum Eviction {
    static func evict(_ s: APIServer, _ c: RequestContext) throws -> HTTPResponse {
        let body = try JSONParser.parse(c.request.body.isEmpty ? Array("{}".utf8) : c.request.body)
        if let k = body["kind"].stringValue, k != "Eviction" {
            throw APIError.badRequest("\(k) in version \"\(body["apiVersion"].stringValue ?? "")\" cannot be handled as a Eviction")
        }
        if let n = body["metadata"]["name"].stringValue, !n.isEmpty, n != c.resource.name! {
            throw APIError.badRequest("name in URL does not match name in Eviction object")
        }
        var opts = DeleteOptions()
        if let g = body["deleteOptions"]["gracePeriodSeconds"].intValue { opts.gracePeriodSeconds = Int(g) }
        if let uid = body["deleteOptions"]["preconditions"]["uid"].stringValue { opts.preconditionUID = uid }
        if let rv = body["deleteOptions"]["preconditions"]["resourceVersion"].stringValue { opts.preconditionResourceVersion = rv }
        opts.dryRun = c.isDryRun || (body["deleteOptions"]["dryRun"].arrayValue?.contains("All") ?? false)
        _ = try s.storage.delete(c.kind, namespace: c.namespace, name: c.resource.name!, options: opts)
        return Respond.json(201, Respond.success())
    }
}
