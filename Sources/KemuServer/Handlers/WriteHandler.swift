import KemuAPI
import KemuHTTP
import KemuRegistry
import KemuStore

/// POST, PUT, PATCH and DELETE on resources.
enum WriteHandler {
    static func options(_ c: RequestContext) throws -> WriteOptions {
        try c.checkDryRun()
        if let fv = c.query("fieldValidation"), !["", "Ignore", "Warn", "Strict"].contains(fv) {
            throw APIError.badRequest("fieldValidation must be one of \"Ignore\", \"Warn\" or \"Strict\", got \"\(fv)\"")
        }
        return WriteOptions(dryRun: c.isDryRun, fieldManager: try fieldManager(c))
    }

    /// The `fieldManager` parameter, or else the User-Agent's product name, as upstream derives it.
    static func fieldManager(_ c: RequestContext) throws -> String {
        if let m = c.query("fieldManager"), !m.isEmpty {
            if m.count > 128 {
                throw APIError.invalid(kind: "PatchOptions", group: "meta.k8s.io", name: "", [
                    FieldError(.tooLong, "fieldManager", value: .string(m), "may not be more than 128 characters"),
                ])
            }
            return m
        }
        let agent = c.request.header("user-agent") ?? ""
        let product = agent.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
        return product.isEmpty ? "unknown" : String(product.prefix(128))
    }

    static func create(_ s: APIServer, _ c: RequestContext) throws -> HTTPResponse {
        guard c.kind.verbs.contains("create") else { throw APIError.methodNotAllowed("create", c.kind.resource) }
        if c.kind.namespaced && c.namespace.isEmpty { throw APIError.methodNotAllowed("create", c.kind.resource) }
        let opts = try options(c)
        let (body, warnings) = try s.pruneUnknownFields(c, try c.parseBody())
        let guardian = DerivedWriteGuard(s, c.kind, verb: "create")
        var labeled = body
        labeled.metadata["namespace"] = .string(c.namespace)
        try guardian.check(labeled)
        let obj = try s.storage.create(c.kind, namespace: c.namespace, body: body, options: opts)
        return Respond.bytes(201, obj.bytes, headers: warnings + guardian.headers)
    }

    static func update(_ s: APIServer, _ c: RequestContext) throws -> HTTPResponse {
        let opts = try options(c)
        let (body, warnings) = try s.pruneUnknownFields(c, try c.parseBody())
        let guardian = DerivedWriteGuard(s, c.kind, verb: "update")
        let (obj, created) = try s.storage.updateOrDryRun(c.kind, namespace: c.namespace, name: c.resource.name!,
                                                          subresource: nil, options: opts,
                                                          allowCreate: c.kind.allowsCreateOnUpdate) { current in
            try guardian.check(current.isEmpty ? nil : current)
            var named = body
            named.metadata["namespace"] = .string(c.namespace)
            named.metadata["name"] = .string(c.resource.name!)
            try guardian.check(named)
            return body
        }
        return Respond.bytes(created ? 201 : 200, obj.bytes, headers: warnings + guardian.headers)
    }

    static func patch(_ s: APIServer, _ c: RequestContext, subresource: String? = nil) throws -> HTTPResponse {
        let opts = try options(c)
        let patcher = try Patcher(s, c)
        var warnings: [(String, String)] = []
        let guardian = DerivedWriteGuard(s, c.kind, verb: "patch")
        let (obj, _) = try s.storage.updateOrDryRun(c.kind, namespace: c.namespace, name: c.resource.name!,
                                                    subresource: subresource, options: opts) { current in
            try guardian.check(current)
            let (pruned, w) = try s.pruneUnknownFields(c, try patcher.apply(to: current))
            try guardian.check(pruned)
            warnings = w
            return pruned
        }
        return Respond.bytes(200, obj.bytes, headers: warnings + guardian.headers)
    }

    static func deleteOptions(_ c: RequestContext) throws -> DeleteOptions {
        try c.checkDryRun()
        var o = DeleteOptions()
        o.dryRun = c.isDryRun
        if !c.request.body.isEmpty {
            let json: JSON
            do { json = try JSONParser.parse(c.request.body) } catch {
                throw APIError.badRequest("the body of the request was in an unknown format - accepted media types include: application/json: \(error.message)")
            }
            if let kind = json["kind"].stringValue, kind != "DeleteOptions" {
                throw APIError.badRequest("\(kind) in version \"\(json["apiVersion"].stringValue ?? "")\" cannot be handled as a DeleteOptions")
            }
            if let g = json["gracePeriodSeconds"].intValue { o.gracePeriodSeconds = Int(g) }
            if let p = json["propagationPolicy"].stringValue { o.propagationPolicy = p }
            if json["orphanDependents"].boolValue == true, o.propagationPolicy == nil { o.propagationPolicy = "Orphan" }
            if let uid = json["preconditions"]["uid"].stringValue { o.preconditionUID = uid }
            if let rv = json["preconditions"]["resourceVersion"].stringValue { o.preconditionResourceVersion = rv }
            if let dr = json["dryRun"].arrayValue, dr.contains("All") { o.dryRun = true }
        }
        if let g = c.query("gracePeriodSeconds") {
            guard let n = Int(g) else { throw APIError.badRequest("invalid gracePeriodSeconds \"\(g)\"") }
            o.gracePeriodSeconds = n
        }
        if let p = c.query("propagationPolicy"), !p.isEmpty { o.propagationPolicy = p }
        if c.query("orphanDependents") == "true", o.propagationPolicy == nil { o.propagationPolicy = "Orphan" }
        return o
    }

    static func delete(_ s: APIServer, _ c: RequestContext) throws -> HTTPResponse {
        let opts = try deleteOptions(c)
        let guardian = DerivedWriteGuard(s, c.kind, verb: "delete")
        try guardian.check(s.store.get(c.kind.groupResource, namespace: c.namespace, name: c.resource.name!)?.object)
        let outcome = try s.storage.delete(c.kind, namespace: c.namespace, name: c.resource.name!, options: opts)
        if c.kind.returnsDeletedObject || !outcome.deleted {
            return Respond.bytes(200, outcome.object.bytes, headers: guardian.headers)
        }
        let details: JSON = [
            "name": .string(outcome.object.name), "group": .string(c.kind.group),
            "kind": .string(c.kind.resource), "uid": .string(outcome.object.object.uid),
        ]
        return Respond.json(200, Respond.success(details: details), headers: guardian.headers)
    }

    static func deleteCollection(_ s: APIServer, _ c: RequestContext) throws -> HTTPResponse {
        guard c.kind.verbs.contains("deletecollection") else { throw APIError.methodNotAllowed("deletecollection", c.kind.resource) }
        let opts = try deleteOptions(c)
        let filter = try ObjectFilter(c)
        let page = try s.store.list(c.kind.groupResource, namespace: c.kind.namespaced ? c.namespace : nil,
                                    filter: { filter.matches($0) })
        var deleted: [StoredObject] = []
        let guardian = DerivedWriteGuard(s, c.kind, verb: "delete")
        for item in page.items { try guardian.check(item.object) }
        for item in page.items {
            if let outcome = try? s.storage.delete(c.kind, namespace: item.namespace, name: item.name, options: opts) {
                deleted.append(outcome.object)
            }
        }
        let result = ListPage(items: deleted, resourceVersion: s.store.currentResourceVersion)
        return Respond.bytes(200, ListEncoder.list(kind: c.kind, page: result, continueToken: nil), headers: guardian.headers)
    }
}

extension ResourceKind {
    /// Kinds whose PUT creates a missing object (upstream's AllowCreateOnUpdate).
    var allowsCreateOnUpdate: Bool { ["Endpoints", "Event", "Service"].contains(kind) }
}
