import FoundationEssentials
import KemuAPI
import KemuHTTP
import KemuRegistry
import KemuStore

/// `/status`, `/scale`, `/eviction`, `/binding` and `/finalize`.
enum SubresourceHandler {
    static func handle(_ s: APIServer, _ c: RequestContext, subresource: String) throws -> HTTPResponse {
        guard let info = c.kind.subresource(subresource) else { throw APIError.pathNotFound() }
        let verb = verbFor(c.request.method)
        guard info.verbs.contains(verb) else { throw APIError.methodNotAllowed(verb, "\(c.kind.resource)/\(subresource)") }
        switch subresource {
        case "status": return try status(s, c, verb: verb)
        case "scale": return try scale(s, c, verb: verb)
        case "eviction": return try Eviction.evict(s, c)
        case "binding": return try bind(s, c)
        case "finalize": return try finalize(s, c)
        default:
            throw APIError(code: 404, reason: "NotFound",
                           message: "the server could not find the requested resource (kemu does not serve \(c.kind.resource)/\(subresource))")
        }
    }

    static func verbFor(_ method: String) -> String {
        switch method {
        case "GET": return "get"
        case "PUT": return "update"
        case "PATCH": return "patch"
        case "POST": return "create"
        case "DELETE": return "delete"
        default: return method.lowercased()
        }
    }

    static func status(_ s: APIServer, _ c: RequestContext, verb: String) throws -> HTTPResponse {
        let name = c.resource.name!
        switch verb {
        case "get":
            return try ReadHandler.get(s, c)
        case "update":
            let opts = try WriteHandler.options(c)
            let body = try c.parseBody()
            let (obj, _) = try s.storage.updateOrDryRun(c.kind, namespace: c.namespace, name: name, subresource: "status",
                                                        options: opts) { _ in body }
            return Respond.bytes(200, obj.bytes)
        default:
            return try WriteHandler.patch(s, c, subresource: "status")
        }
    }

    // MARK: scale (autoscaling/v1 Scale)

    static func scaleObject(_ kind: ResourceKind, _ obj: JSONObject) -> JSONObject {
        var meta = JSONObject()
        for k in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] { meta[k] = obj.metadata[k] }
        let selector = LabelSelector.from(json: obj["spec"]?["selector"] ?? .null)?.description ?? ""
        var status: JSONObject = ["replicas": .int(obj["status"]?["replicas"].intValue ?? 0)]
        if !selector.isEmpty { status["selector"] = .string(selector) }
        return [
            "kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": .object(meta),
            "spec": ["replicas": .int(obj["spec"]?["replicas"].intValue ?? 1)],
            "status": .object(status),
        ]
    }

    static func scale(_ s: APIServer, _ c: RequestContext, verb: String) throws -> HTTPResponse {
        let name = c.resource.name!
        if verb == "get" {
            let obj = try s.storage.get(c.kind, namespace: c.namespace, name: name)
            return Respond.json(200, .object(scaleObject(c.kind, obj.object)))
        }
        let opts = try WriteHandler.options(c)
        let patcher: Patcher? = verb == "patch" ? try Patcher(s, c, schemaKind: ("autoscaling", "v1", "Scale")) : nil
        let body: JSONObject? = verb == "update" ? try BodyDecoder.object(c.request.body, kind: c.kind) : nil
        let (obj, _) = try s.storage.updateOrDryRun(c.kind, namespace: c.namespace, name: name, options: opts) { current in
            let currentScale = scaleObject(c.kind, current)
            var scale = try patcher?.apply(to: currentScale) ?? body!
            if let k = scale.string("kind"), k != "Scale" {
                throw APIError.badRequest("\(k) in version \"\(scale.string("apiVersion") ?? "")\" cannot be handled as a Scale")
            }
            scale.metadata["name"] = scale.metadata["name"] ?? .string(name)
            let rv = scale.metadata.string("resourceVersion") ?? ""
            if !rv.isEmpty && rv != current.resourceVersion {
                throw APIError.conflict(c.kind.groupResource, name, APIError.optimisticLockMessage)
            }
            guard let replicas = scale["spec"]?["replicas"].intValue else {
                throw APIError.invalid(kind: "Scale", group: "autoscaling", name: name, [.required("spec.replicas")])
            }
            if replicas < 0 {
                throw APIError.invalid(kind: "Scale", group: "autoscaling", name: name,
                                       [.invalid("spec.replicas", .int(replicas), "must be greater than or equal to 0")])
            }
            var updated = current
            updated.withObject("spec") { $0["replicas"] = .int(replicas) }
            return updated
        }
        return Respond.json(200, .object(scaleObject(c.kind, obj.object)))
    }

    // MARK: binding and finalize

    static func bind(_ s: APIServer, _ c: RequestContext) throws -> HTTPResponse {
        let body = try JSONParser.parse(c.request.body)
        guard let node = body["target"]["name"].stringValue, !node.isEmpty else {
            throw APIError.invalid(kind: "Binding", group: "", name: c.resource.name!, [.required("target.name")])
        }
        _ = try s.storage.update(c.kind, namespace: c.namespace, name: c.resource.name!) { current in
            if let existing = current["spec"]?["nodeName"].stringValue, !existing.isEmpty {
                throw APIError.conflict(c.kind.groupResource, c.resource.name!, "pod \(c.resource.name!) is already assigned to node \"\(existing)\"")
            }
            var o = current
            o.withObject("spec") { $0["nodeName"] = .string(node) }
            return o
        }
        return Respond.json(201, Respond.success())
    }

    static func finalize(_ s: APIServer, _ c: RequestContext) throws -> HTTPResponse {
        let body = try c.parseBody()
        let finalizers = body["spec"]?["finalizers"] ?? .array([])
        let (obj, _) = try s.storage.update(c.kind, namespace: "", name: c.resource.name!, subresource: "finalize") { current in
            var o = current
            o.withObject("spec") { $0["finalizers"] = finalizers }
            return o
        }
        return Respond.bytes(200, obj.bytes)
    }
}
