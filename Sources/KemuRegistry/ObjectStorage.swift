import FoundationEssentials
import KemuAPI
import KemuStore

public struct WriteOptions: Sendable {
    public var dryRun = false
    public var fieldManager = ""
    public init(dryRun: Bool = false, fieldManager: String = "") { self.dryRun = dryRun; self.fieldManager = fieldManager }
}

public struct DeleteOptions: Sendable {
    public var gracePeriodSeconds: Int?
    public var propagationPolicy: String?
    public var preconditionUID: String?
    public var preconditionResourceVersion: String?
    public var dryRun = false
    public init() {}
}

public struct DeleteOutcome: Sendable {
    /// The deleted object, or the object now pending deletion.
    public var object: StoredObject
    /// False when the object stays until finalizers or a grace period end.
    public var deleted: Bool
}

/// kube-apiserver's generic registry store, reduced to what kemu needs: create, update,
/// delete with the kind's strategy, preconditions, finalizers and generations. REST
/// handlers and in-process controllers both write through it.
public final class ObjectStorage: Sendable {
    public let store: Store
    public let registry: Registry
    public let context: any StrategyContext
    /// Multiplies pod termination grace periods (0: finish deletions at once).
    public let terminationGraceScale: Double

    /// Schemas for managedFields (list types and keys); without them lists count as atomic.
    public let schemas: OpenAPISchemaIndex?

    public init(store: Store, registry: Registry, context: any StrategyContext, terminationGraceScale: Double = 0,
                schemas: OpenAPISchemaIndex? = nil) {
        self.store = store; self.registry = registry; self.context = context
        self.terminationGraceScale = terminationGraceScale
        self.schemas = schemas
    }

    /// Records the writer in `metadata.managedFields`, as kube-apiserver's field manager does for Update operations.
    func recordManager(_ kind: ResourceKind, previous: JSONObject?, new: JSONObject, options: WriteOptions, subresource: String?) -> JSONObject {
        ManagedFields.update(previous: previous, new: new, manager: options.fieldManager.isEmpty ? "unknown" : options.fieldManager,
                             apiVersion: kind.apiVersion, subresource: subresource, time: Timestamp.now(),
                             schema: schemas?.schema(group: kind.group, version: kind.version, kind: kind.kind))
    }

    public func get(_ kind: ResourceKind, namespace: String, name: String) throws -> StoredObject {
        guard let o = store.get(kind.groupResource, namespace: kind.namespaced ? namespace : "", name: name) else {
            throw APIError.notFound(kind.groupResource, name)
        }
        return o
    }

    // MARK: create

    public func create(_ kind: ResourceKind, namespace: String, body: JSONObject, options: WriteOptions = WriteOptions()) throws -> StoredObject {
        var obj = body
        try checkTypeMeta(&obj, kind)
        var meta = obj.metadata
        let ns = kind.namespaced ? namespace : ""
        if kind.namespaced {
            let bodyNS = meta.string("namespace") ?? ""
            if !bodyNS.isEmpty && bodyNS != ns {
                throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            meta["namespace"] = .string(ns)
            try checkNamespaceAcceptsCreate(ns, kind: kind, name: meta.string("name") ?? "")
        } else {
            meta["namespace"] = nil
        }
        let generateName = meta.string("generateName") ?? ""
        let explicitName = meta.string("name") ?? ""
        meta["uid"] = .string(Identifiers.uuid())
        meta["resourceVersion"] = nil
        meta["creationTimestamp"] = .string(Timestamp.now())
        meta["deletionTimestamp"] = nil
        meta["deletionGracePeriodSeconds"] = nil
        if kind.tracksGeneration { meta["generation"] = 1 } else { meta["generation"] = nil }
        if explicitName.isEmpty && !generateName.isEmpty { meta["name"] = .string(Identifiers.generateName(generateName)) }
        obj.metadata = meta
        try kind.strategy.prepareForCreate(&obj, context)
        obj = recordManager(kind, previous: nil, new: obj, options: options, subresource: nil)
        let errors = kind.strategy.validate(obj)
        if !errors.isEmpty {
            releaseAllocations(kind, obj)
            throw APIError.invalid(kind: kind.kind, group: kind.group, name: obj.name.isEmpty ? generateName : obj.name, errors)
        }
        // A generated name that collides is retried, as upstream does up to 8 times.
        for attempt in 0..<8 {
            do {
                if options.dryRun {
                    if store.get(kind.groupResource, namespace: ns, name: obj.name) != nil {
                        throw APIError.alreadyExists(kind.groupResource, obj.name)
                    }
                    releaseAllocations(kind, obj)
                    return StoredObject(object: obj, resourceVersion: 0)
                }
                var toStore = obj
                toStore.metadata["resourceVersion"] = ""
                MetadataOrder.normalize(&toStore)
                let result = try store.write(kind.groupResource, namespace: ns, name: obj.name) { current in
                    if current != nil { throw APIError.alreadyExists(kind.groupResource, obj.name) }
                    return .put(toStore)
                }
                return result.object!
            } catch let e as APIError where e.reason == "AlreadyExists" && explicitName.isEmpty && !generateName.isEmpty && attempt < 7 {
                obj.metadata["name"] = .string(Identifiers.generateName(generateName))
            } catch {
                releaseAllocations(kind, obj)
                throw error
            }
        }
        throw APIError.alreadyExists(kind.groupResource, obj.name)
    }

    func checkNamespaceAcceptsCreate(_ ns: String, kind: ResourceKind, name: String) throws {
        guard let nsObj = store.get(ResourceKind.namespace.groupResource, namespace: "", name: ns) else {
            throw APIError.notFound(ResourceKind.namespace.groupResource, ns)
        }
        if nsObj.object.deletionTimestamp != nil || nsObj.object["status"]?["phase"].stringValue == "Terminating" {
            var e = APIError.forbidden(kind.groupResource, name,
                                       "unable to create new content in namespace \(ns) because it is being terminated")
            e.causes = [APIError.Cause(reason: "NamespaceTerminating", message: "namespace \(ns) is being terminated", field: "metadata.namespace")]
            throw e
        }
    }

    func releaseAllocations(_ kind: ResourceKind, _ obj: JSONObject) {
        kind.strategy.afterDelete(obj, context)
    }

    /// Fills in or checks `kind` and `apiVersion` against the URL's resource.
    func checkTypeMeta(_ obj: inout JSONObject, _ kind: ResourceKind) throws {
        let bodyKind = obj.string("kind") ?? ""
        let bodyAPIVersion = obj.string("apiVersion") ?? ""
        if !bodyAPIVersion.isEmpty && bodyAPIVersion != kind.apiVersion {
            throw APIError.badRequest("the API version in the data (\(bodyAPIVersion)) does not match the expected API version (\(kind.apiVersion))")
        }
        if !bodyKind.isEmpty && bodyKind != kind.kind {
            let version = bodyAPIVersion.isEmpty ? kind.version : bodyAPIVersion
            throw APIError.badRequest("\(bodyKind) in version \"\(version)\" cannot be handled as a \(kind.kind): the body's kind does not match the resource \(kind.resource) (expected kind \"\(kind.kind)\")")
        }
        // Objects are stored with their type, as the API returns them.
        var ordered = JSONObject()
        ordered["kind"] = .string(kind.kind)
        ordered["apiVersion"] = .string(kind.apiVersion)
        for (k, v) in obj where k != "kind" && k != "apiVersion" { ordered[k] = v }
        if ordered["metadata"] == nil { ordered["metadata"] = .object(JSONObject()) }
        if case .object = ordered["metadata"]! {} else {
            throw APIError.badRequest("metadata must be an object")
        }
        obj = ordered
    }

    // MARK: update

    /// Replaces an object with what `transform` makes of the current version, under the store lock.
    /// `subresource` is nil for the main resource or "status". Returns the result and whether it was created.
    public func update(_ kind: ResourceKind, namespace: String, name: String, subresource: String? = nil,
                       options: WriteOptions = WriteOptions(), allowCreate: Bool = false,
                       transform: (JSONObject) throws -> JSONObject) throws -> (object: StoredObject, created: Bool) {
        let ns = kind.namespaced ? namespace : ""
        var created = false
        var pendingAfterDelete: JSONObject?
        // Read what an update-as-create needs now: the store must not be read inside its own write.
        var namespaceRefusal: Error?
        if allowCreate && kind.namespaced {
            do { try checkNamespaceAcceptsCreate(ns, kind: kind, name: name) } catch { namespaceRefusal = error }
        }
        let result = try store.write(kind.groupResource, namespace: ns, name: name) { current in
            guard let current else {
                guard allowCreate, subresource == nil else { throw APIError.notFound(kind.groupResource, name) }
                // Update-as-create (PUT of a missing object for kinds that allow it).
                var body = try transform(JSONObject())
                try checkTypeMeta(&body, kind)
                try checkNameAndNamespace(body, kind, ns: ns, name: name)
                body.metadata["name"] = .string(name)
                if kind.namespaced {
                    body.metadata["namespace"] = .string(ns)
                    if let namespaceRefusal { throw namespaceRefusal }
                }
                body.metadata["uid"] = .string(Identifiers.uuid())
                body.metadata["creationTimestamp"] = .string(Timestamp.now())
                if !(body.metadata.string("resourceVersion") ?? "").isEmpty {
                    throw APIError.notFound(kind.groupResource, name)
                }
                if kind.tracksGeneration { body.metadata["generation"] = 1 }
                try kind.strategy.prepareForCreate(&body, context)
                body = recordManager(kind, previous: nil, new: body, options: options, subresource: nil)
                let errs = kind.strategy.validate(body)
                if !errs.isEmpty { throw APIError.invalid(kind: kind.kind, group: kind.group, name: name, errs) }
                created = true
                body.metadata["resourceVersion"] = ""
                MetadataOrder.normalize(&body)
                return options.dryRun ? .unchanged : .put(body)
            }
            var new = try transform(current.object)
            try checkTypeMeta(&new, kind)
            try checkNameAndNamespace(new, kind, ns: ns, name: name)
            let requestedUID = new.metadata.string("uid") ?? ""
            if !requestedUID.isEmpty && requestedUID != current.object.uid {
                throw APIError.conflict(kind.groupResource, name,
                                        "Precondition failed: UID in precondition: \(requestedUID), UID in object meta: \(current.object.uid)")
            }
            let requestedRV = new.metadata.string("resourceVersion") ?? ""
            if !requestedRV.isEmpty && requestedRV != String(current.resourceVersion) {
                throw APIError.conflict(kind.groupResource, name, APIError.optimisticLockMessage)
            }
            let old = current.object
            new = mergeSubresource(kind, subresource: subresource, new: new, old: old)
            try carryOverSystemMetadata(&new, old: old, kind: kind)
            if subresource == nil { try kind.strategy.prepareForUpdate(&new, old: old, context) }
            if kind.tracksGeneration, kind.strategy.generationChanged(new, old: old) {
                new.metadata["generation"] = .int((old.metadata["generation"]?.intValue ?? 1) + 1)
            }
            new = recordManager(kind, previous: old, new: new, options: options, subresource: subresource)
            var errs = ObjectMetaValidation.validateUpdate(new, old: old)
            errs += kind.strategy.validateUpdate(new, old: old)
            if old.deletionTimestamp != nil {
                let added = Set(new.finalizers).subtracting(old.finalizers)
                if !added.isEmpty {
                    errs.append(.forbidden("metadata.finalizers", "no new finalizers can be added if the object is being deleted, found new finalizers \(added.sorted().map { "\"\($0)\"" })"))
                }
            }
            if !errs.isEmpty { throw APIError.invalid(kind: kind.kind, group: kind.group, name: name, errs) }
            if options.dryRun {
                throw DryRunResult(object: StoredObject(object: new, resourceVersion: current.resourceVersion))
            }
            // The last finalizer removed from an object being deleted completes the deletion.
            // Only the write that removes the last finalizer completes a deletion; a status write during a
            // pod's grace period does not.
            if new.deletionTimestamp != nil && !hasPendingFinalizers(kind, new)
                && (hasPendingFinalizers(kind, old) || (old.metadata["deletionGracePeriodSeconds"]?.intValue ?? 0) == 0) {
                pendingAfterDelete = new
                return .delete
            }
            if new.metadata["resourceVersion"] == nil { new.metadata["resourceVersion"] = "" }
            MetadataOrder.normalize(&new)
            return .put(new)
        }
        if let gone = pendingAfterDelete { kind.strategy.afterDelete(gone, context) }
        return (result.object!, created)
    }

    /// Thrown out of the write closure to return a dry-run result without storing it.
    struct DryRunResult: Error { let object: StoredObject }

    /// Like `update`, but returns dry-run results instead of throwing them.
    public func updateOrDryRun(_ kind: ResourceKind, namespace: String, name: String, subresource: String? = nil,
                               options: WriteOptions = WriteOptions(), allowCreate: Bool = false,
                               transform: (JSONObject) throws -> JSONObject) throws -> (object: StoredObject, created: Bool) {
        do {
            return try update(kind, namespace: namespace, name: name, subresource: subresource, options: options,
                              allowCreate: allowCreate, transform: transform)
        } catch let d as DryRunResult {
            return (d.object, false)
        }
    }

    func checkNameAndNamespace(_ obj: JSONObject, _ kind: ResourceKind, ns: String, name: String) throws {
        let bodyName = obj.metadata.string("name") ?? ""
        if !bodyName.isEmpty && bodyName != name {
            throw APIError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        if kind.namespaced {
            let bodyNS = obj.metadata.string("namespace") ?? ""
            if !bodyNS.isEmpty && bodyNS != ns {
                throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
        }
    }

    /// A write to the main resource keeps the stored status; a write to /status keeps everything else.
    func mergeSubresource(_ kind: ResourceKind, subresource: String?, new: JSONObject, old: JSONObject) -> JSONObject {
        if subresource == "status" {
            var merged = old
            merged["status"] = new["status"]
            merged.metadata["resourceVersion"] = new.metadata["resourceVersion"]
            return merged
        }
        var n = new
        if kind.hasStatus { n["status"] = old["status"] }
        return n
    }

    /// Metadata the server owns survives any client write.
    func carryOverSystemMetadata(_ new: inout JSONObject, old: JSONObject, kind: ResourceKind) throws {
        var meta = new.metadata
        let oldMeta = old.metadata
        meta["name"] = oldMeta["name"]
        if kind.namespaced { meta["namespace"] = oldMeta["namespace"] } else { meta["namespace"] = nil }
        if (meta.string("uid") ?? "").isEmpty { meta["uid"] = oldMeta["uid"] }
        // Clients may echo the timestamp in another RFC 3339 form; the stored spelling wins if it is the same instant.
        let sentInstant = meta.string("creationTimestamp").flatMap(Timestamp.parse)
        if sentInstant == nil || sentInstant == Timestamp.parse(oldMeta.string("creationTimestamp") ?? "") {
            meta["creationTimestamp"] = oldMeta["creationTimestamp"]
        }
        meta["deletionTimestamp"] = oldMeta["deletionTimestamp"]
        meta["deletionGracePeriodSeconds"] = oldMeta["deletionGracePeriodSeconds"]
        meta["generation"] = oldMeta["generation"]
        meta["generateName"] = meta["generateName"] ?? oldMeta["generateName"]
        if meta["generateName"]?.isNull == true { meta["generateName"] = nil }
        new.metadata = meta
    }

    func hasPendingFinalizers(_ kind: ResourceKind, _ obj: JSONObject) -> Bool {
        if !obj.finalizers.isEmpty { return true }
        if kind.kind == "Namespace", !(obj["spec"]?["finalizers"].arrayValue ?? []).isEmpty { return true }
        return false
    }

    // MARK: delete

    public func delete(_ kind: ResourceKind, namespace: String, name: String, options: DeleteOptions = DeleteOptions()) throws -> DeleteOutcome {
        let ns = kind.namespaced ? namespace : ""
        var finished = false
        var dryRunObject: StoredObject?
        if let p = options.propagationPolicy, !["Orphan", "Background", "Foreground"].contains(p) {
            throw APIError.invalid(kind: "DeleteOptions", group: "", name: "", [
                .notSupported("propagationPolicy", .string(p), ["Foreground", "Background", "Orphan"]),
            ])
        }
        if let g = options.gracePeriodSeconds, g < 0 {
            throw APIError.invalid(kind: "DeleteOptions", group: "", name: "", [
                .invalid("gracePeriodSeconds", .int(Int64(g)), "must be greater than or equal to 0"),
            ])
        }
        let result = try store.write(kind.groupResource, namespace: ns, name: name) { current in
            guard let current else { throw APIError.notFound(kind.groupResource, name) }
            if let uid = options.preconditionUID, uid != current.object.uid {
                throw APIError.conflict(kind.groupResource, name,
                                        "Precondition failed: UID in precondition: \(uid), UID in object meta: \(current.object.uid)")
            }
            if let rv = options.preconditionResourceVersion, rv != String(current.resourceVersion) {
                throw APIError.conflict(kind.groupResource, name,
                                        "Precondition failed: ResourceVersion in precondition: \(rv), ResourceVersion in object meta: \(current.resourceVersion)")
            }
            var obj = current.object
            var meta = obj.metadata
            var fins = obj.finalizers
            switch options.propagationPolicy {
            case "Foreground": if !fins.contains("foregroundDeletion") { fins.append("foregroundDeletion") }
            case "Orphan": if !fins.contains("orphan") { fins.append("orphan") }
            default: break
            }
            if obj.deletionTimestamp != nil && fins == obj.finalizers {
                // Already terminating: nothing more to do (a shorter grace period is not modelled).
                if options.dryRun { dryRunObject = current }
                return .unchanged
            }
            let graceful = gracePeriod(kind, obj, options)
            if !fins.isEmpty || graceful > 0 || kind.kind == "Namespace" {
                if kind.kind == "Namespace" {
                    obj["status"] = ["phase": "Terminating"]
                }
                if !fins.isEmpty { meta["finalizers"] = .array(fins.map(JSON.string)) }
                if meta["deletionTimestamp"] == nil {
                    meta["deletionTimestamp"] = .string(Timestamp.format(epochSeconds: Int(Date().timeIntervalSince1970) + graceful))
                    meta["deletionGracePeriodSeconds"] = .int(Int64(graceful))
                }
                obj.metadata = meta
                MetadataOrder.normalize(&obj)
                if kind.kind == "Namespace" || hasPendingFinalizers(kind, obj) || graceful > 0 {
                    if options.dryRun { dryRunObject = StoredObject(object: obj, resourceVersion: current.resourceVersion); return .unchanged }
                    return .put(obj)
                }
            }
            if options.dryRun { dryRunObject = current; return .unchanged }
            finished = true
            return .delete
        }
        if let d = dryRunObject { return DeleteOutcome(object: d, deleted: true) }
        if finished, let o = result.object { kind.strategy.afterDelete(o.object, context) }
        return DeleteOutcome(object: result.object!, deleted: finished)
    }

    /// Pods bound to a node and still running terminate gracefully; everything else goes at once.
    func gracePeriod(_ kind: ResourceKind, _ obj: JSONObject, _ options: DeleteOptions) -> Int {
        guard kind.kind == "Pod" else { return 0 }
        let phase = obj["status"]?["phase"].stringValue ?? ""
        if (obj["spec"]?["nodeName"].stringValue ?? "").isEmpty || phase == "Succeeded" || phase == "Failed" { return 0 }
        let g = options.gracePeriodSeconds ?? Int(obj["spec"]?["terminationGracePeriodSeconds"].intValue ?? 30)
        return max(0, g)
    }

    /// Removes an object whose grace period has ended, if it has no finalizers left.
    public func finishGracefulDeletion(_ kind: ResourceKind, namespace: String, name: String, uid: String) {
        var removed: JSONObject?
        _ = try? store.write(kind.groupResource, namespace: namespace, name: name) { current in
            guard let current, current.object.uid == uid, current.object.deletionTimestamp != nil,
                  !hasPendingFinalizers(kind, current.object) else { return .unchanged }
            removed = current.object
            return .delete
        }
        if let removed { kind.strategy.afterDelete(removed, context) }
    }
}
