/// `metadata.managedFields` for create/update/patch (non-apply) writes, as kube-apiserver's
/// field manager computes them (`apimachinery pkg/util/managedfields/internal`, on top of
/// structured-merge-diff's `merge.Updater.Update`):
///
/// 1. The base entries are the request's `managedFields` when it carries a valid, non-empty
///    list (`[]` or `[{}]` resets them), else the stored object's; subresource writes always
///    start from the stored object's (`decodeLiveOrNew`).
/// 2. An update of an object that has no entries stays untracked (`skipNonApplied`).
/// 3. The live object (on create: the kind's zero value, as the Go type marshals) is compared
///    with the new one; the strategy's reset fields are excluded (`IgnoreFilter`).
/// 4. Every existing entry loses the fields the write added or modified, and the fields it
///    removed; entries left empty are dropped (`Updater.update`).
/// 5. The added and modified fields, minus the removed ones and minus `apiVersion`, `kind`,
///    `metadata` and its server-owned fields (`stripMeta`), go to the writer's `Update` entry,
///    merged with what it owned; only then is its `time` updated (`managedFieldsUpdater`).
/// 6. More than 10 `Update` entries: the oldest merge into `ancient-changes` (`capManagers`).
/// 7. Entries are sorted by operation, time, manager, apiVersion, subresource.
public enum ManagedFields {
    /// Returns `new` with `metadata.managedFields` set (or removed when there are none).
    ///
    /// - previous: the stored object (`nil` on create).
    /// - new: the object about to be stored; its `metadata.managedFields` are the request's
    ///   (or the previous ones, when the caller replaced them).
    /// - manager: the field manager (`fieldManager` query parameter or user-agent prefix);
    ///   empty becomes `unknown`.
    /// - apiVersion: the group/version written, e.g. `apps/v1`.
    /// - subresource: e.g. `status`; `nil` (or empty) for the main resource.
    /// - time: RFC 3339 time of the write.
    /// - schema: the kind's schema; `nil` treats every object as a granular map and every
    ///   list as atomic.
    /// - resetFields: field paths the strategy resets (and that nobody owns through this
    ///   endpoint); `nil` uses `defaultResetFields` for the kind.
    public static func update(previous: JSONObject?, new: JSONObject, manager: String, apiVersion: String,
                              subresource: String?, time: String, schema: (any PatchSchema)?,
                              resetFields: [[String]]? = nil) -> JSONObject {
        let sub = (subresource?.isEmpty ?? true) ? nil : subresource
        let managerName = manager.isEmpty ? "unknown" : manager
        let previousMF = previous?["metadata"]?.objectValue?["managedFields"]
        let requestMF = new["metadata"]?.objectValue?["managedFields"]

        // 1. Base entries.
        var base: [String: Entry]
        var baseIsPrevious = true
        if sub != nil {
            base = (try? decode(previousMF, keepingStored: true)) ?? [:]
        } else if isReset(requestMF) {
            base = [:]
            baseIsPrevious = false
        } else if let decoded = try? decode(requestMF, keepingStored: requestMF == previousMF), !decoded.isEmpty {
            // (A read-modify-write carries the stored entries back; they are kept as stored.)
            base = decoded
            baseIsPrevious = requestMF == previousMF
        } else {
            base = (try? decode(previousMF, keepingStored: true)) ?? [:]
        }

        // 2. Updates of untracked objects stay untracked.
        if base.isEmpty && previous != nil { return setting(new, nil) }

        // 3. Compare.
        let kind = new["kind"]?.stringValue ?? previous?["kind"]?.stringValue ?? ""
        let live = previous ?? zeroObject(apiVersion: apiVersion, kind: kind)
        var comparer = FieldComparer()
        do {
            try comparer.compare(.object(withoutManagedFields(live)), .object(withoutManagedFields(new)),
                                 .map(schema: schema, atomic: false))
        } catch {
            // UpdateNoErrors: a failed field-manager update clears managedFields.
            return setting(new, nil)
        }
        var cmp = comparer.result
        cmp.exclude(FieldSet(fieldPaths: resetFields ?? defaultResetFields(apiVersion: apiVersion, kind: kind, subresource: sub)))
        if cmp.isEmpty && baseIsPrevious && base.count <= maxUpdateManagers {
            return setting(new, previousMF)
        }

        // 4. Other managers lose what changed.
        let changed = FieldSet.union(cmp.modified, cmp.added)
        let lost = FieldSet.union(changed, cmp.removed)
        for (id, var entry) in base where entry.owns(anyOf: lost) {
            entry.parseStored()
            let set = FieldSet.difference(entry.set, lost)
            if set.isEmpty { base[id] = nil } else { entry.set = set; base[id] = entry }
        }

        // 5. The writer's entry.
        let current = FieldSet.difference(FieldSet.difference(changed, cmp.removed), stripSet)
        if !current.isEmpty {
            var entry = Entry(manager: managerName, operation: "Update", apiVersion: apiVersion,
                              subresource: sub ?? "", time: nil, set: current)
            entry.setTime(time)
            if var previous = base[entry.identifier] {
                previous.parseStored()
                entry.set = FieldSet.union(current, previous.set)
            }
            base[entry.identifier] = entry
        }

        // 6. Cap the number of Update entries.
        capUpdateManagers(&base)

        // 7. Encode.
        return setting(new, encode(base))
    }

    /// The zero value of a kind as its Go type marshals (`scope.Creater.New(kind)`, the live
    /// object of a create): non-pointer structs are `{}`, fields without `omitempty` are
    /// `null`/`""`/`0`. Unknown kinds (custom resources) are empty.
    public static func zeroObject(apiVersion: String, kind: String) -> JSONObject {
        ZeroObjects.byKind[group(of: apiVersion) + "/" + kind] ?? JSONObject()
    }

    /// Paths reset by kube-apiserver's strategies (`GetResetFields`) for the built-in kinds:
    /// `status` for writes to the main resource of kinds with a status, `spec` (and a few
    /// metadata fields) for writes to `/status`, `status` for `namespaces/finalize`. Custom
    /// resources with a status subresource behave like the built-ins, but only the caller
    /// knows that: pass `resetFields` explicitly for them.
    public static func defaultResetFields(apiVersion: String, kind: String, subresource: String?) -> [[String]] {
        let key = group(of: apiVersion) + "/" + kind
        switch subresource {
        case nil:
            return ZeroObjects.withStatus.contains(key) ? [["status"]] : []
        case "status"?:
            switch key {
            case "/Pod": return [["spec"], ["metadata", "deletionTimestamp"], ["metadata", "ownerReferences"]]
            case "apps/Deployment": return [["spec"], ["metadata", "labels"]]
            default: return ZeroObjects.withStatus.contains(key) ? [["spec"]] : []
            }
        case "finalize"?:
            return key == "/Namespace" ? [["status"]] : []
        default:
            return []
        }
    }

    // MARK: - Internals

    static let maxUpdateManagers = 10

    /// `stripMeta`: never owned by anyone.
    static let stripSet = FieldSet(fieldPaths: [
        ["apiVersion"], ["kind"], ["metadata"],
        ["metadata", "name"], ["metadata", "namespace"], ["metadata", "creationTimestamp"],
        ["metadata", "selfLink"], ["metadata", "uid"], ["metadata", "clusterName"],
        ["metadata", "generation"], ["metadata", "managedFields"], ["metadata", "resourceVersion"],
    ])

    static func group(of apiVersion: String) -> String {
        guard let slash = apiVersion.firstIndex(of: "/") else { return "" }
        return String(apiVersion[..<slash])
    }

    /// One managedFields entry, keyed by its manager identifier.
    struct Entry: Equatable {
        // Changing any part of an entry first parses its stored fields: its JSON no longer stands for it.
        var manager: String { didSet { parseStored() } }
        var operation: String { didSet { parseStored() } }
        var apiVersion: String { didSet { parseStored() } }
        var subresource: String { didSet { parseStored() } }
        /// RFC 3339 (UTC, seconds) when parseable, else as sent.
        var time: String? { didSet { parseStored() } }
        var seconds: Int = 0
        /// The fields; not yet parsed while `stored` is set.
        var set: FieldSet
        /// The entry as the stored object has it, while this write leaves it untouched: it is kept as it is,
        /// neither parsed nor encoded again (most writes change one manager's fields, and a pod's other
        /// entries stay shared with its previous version's).
        var stored: Stored?

        struct Stored: Equatable { let json: JSON; let fieldsV1: JSONObject }

        /// Parses the stored fields, before the entry changes.
        mutating func parseStored() {
            guard let stored else { return }
            set = (try? FieldSet.parse(fieldsV1: stored.fieldsV1)) ?? FieldSet()
            self.stored = nil
        }

        /// Whether the entry owns one of the paths of `paths`.
        func owns(anyOf paths: FieldSet) -> Bool {
            if let stored { return paths.overlaps(fieldsV1: stored.fieldsV1) }
            return paths.overlaps(set)
        }

        var applied: Bool { operation == "Apply" }

        /// `BuildManagerIdentifier`: the entry's JSON without time and fields, and without
        /// apiVersion for appliers.
        var identifier: String {
            var o = JSONObject()
            if !manager.isEmpty { o.appendUnchecked("manager", .string(manager)) }
            if !operation.isEmpty { o.appendUnchecked("operation", .string(operation)) }
            if !applied && !apiVersion.isEmpty { o.appendUnchecked("apiVersion", .string(apiVersion)) }
            if !subresource.isEmpty { o.appendUnchecked("subresource", .string(subresource)) }
            return JSONWriter.string(.object(o))
        }

        mutating func setTime(_ text: String?) {
            guard let text else { time = nil; seconds = 0; return }
            if let s = Timestamp.parse(text) {
                seconds = s
                time = Timestamp.format(epochSeconds: s)
            } else {
                seconds = 0
                time = text
            }
        }

        /// The entry's JSON, shared with equal entries made recently (`JSONInterner`), and its encoding. Its
        /// FieldsV1 shares every part it has in common with other entries (a pod's kubelet entry differs from
        /// another's only under `f:podIPs` and `f:hostIPs`).
        var shared: (json: JSON, key: [UInt8]) {
            precondition(stored == nil, "a stored entry is kept as it is")
            let fields = set.sharedFieldsV1()
            var o = JSONObject()
            o.reserveCapacity(7)
            var key: [UInt8] = [UInt8(ascii: "{")]
            func add(_ k: String, _ v: JSON, encoded: [UInt8]? = nil) {
                o.appendUnchecked(k, v)
                if key.count > 1 { key.append(UInt8(ascii: ",")) }
                JSONWriter.writeString(k, into: &key)
                key.append(UInt8(ascii: ":"))
                if let encoded { key += encoded } else { JSONWriter.write(v, into: &key) }
            }
            if !manager.isEmpty { add("manager", .string(manager)) }
            if !operation.isEmpty { add("operation", .string(operation)) }
            if !apiVersion.isEmpty { add("apiVersion", .string(apiVersion)) }
            if let time { add("time", .string(time)) }
            add("fieldsType", .string("FieldsV1"))
            add("fieldsV1", fields.json, encoded: fields.key)
            if !subresource.isEmpty { add("subresource", .string(subresource)) }
            key.append(UInt8(ascii: "}"))
            return (JSONInterner.share(.object(o), key: key), key)
        }
    }

    /// `DecodeManagedFields`: any invalid entry fails the whole list. With `keepingStored`, the entries (the
    /// stored object's, which kemu itself encoded) keep their JSON and their fields stay unparsed until a
    /// write touches them (`Entry.stored`).
    static func decode(_ value: JSON?, keepingStored: Bool = false) throws(ManagedFieldsError) -> [String: Entry] {
        guard let value, !value.isNull else { return [:] }
        guard case .array(let items) = value else { throw ManagedFieldsError("managedFields must be a list") }
        var out: [String: Entry] = [:]
        for (i, item) in items.enumerated() {
            guard case .object(let o) = item else { throw ManagedFieldsError("entry \(i) is not an object") }
            func string(_ k: String) throws(ManagedFieldsError) -> String {
                switch o[k] {
                case nil, .null?: return ""
                case .string(let s)?: return s
                default: throw ManagedFieldsError("\(k) must be a string")
                }
            }
            let operation = try string("operation")
            guard operation == "Apply" || operation == "Update" else {
                throw ManagedFieldsError("operation must be `Apply` or `Update`")
            }
            let apiVersion = try string("apiVersion")
            guard !apiVersion.isEmpty else { throw ManagedFieldsError("apiVersion must not be empty") }
            let fieldsType = try string("fieldsType")
            guard fieldsType == "FieldsV1" else {
                throw ManagedFieldsError(fieldsType.isEmpty ? "missing fieldsType in managed fields entry \(i)"
                                                             : "invalid fieldsType \"\(fieldsType)\" in managed fields entry \(i)")
            }
            var set = FieldSet()
            var stored: Entry.Stored?
            switch o["fieldsV1"] {
            case nil, .null?: break
            case .object(let f)?:
                if keepingStored { stored = Entry.Stored(json: item, fieldsV1: f) } else { set = try FieldSet.parse(fieldsV1: f) }
            default: throw ManagedFieldsError("fieldsV1 must be an object")
            }
            var entry = Entry(manager: try string("manager"), operation: operation, apiVersion: apiVersion,
                              subresource: try string("subresource"), time: nil, set: set)
            let time = try string("time")
            entry.setTime(time.isEmpty ? nil : time)
            entry.stored = stored
            out[entry.identifier] = entry
        }
        return out
    }

    /// `isResetManagedFields`: `[]`, or a single entry with every field at its zero value.
    static func isReset(_ value: JSON?) -> Bool {
        guard case .array(let items)? = value else { return false }
        if items.isEmpty { return true }
        guard items.count == 1, case .object(let o) = items[0] else { return false }
        for key in ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1", "subresource"] {
            switch o[key] {
            case nil, .null?: continue
            case .string(let s)? where s.isEmpty && key != "time": continue
            default: return false
            }
        }
        return true
    }

    /// `capUpdateManagers`: while there are more than 10 Update entries, the oldest are merged
    /// into an `ancient-changes` entry per apiVersion.
    static func capUpdateManagers(_ managed: inout [String: Entry]) {
        var updaters = managed.filter { !$0.value.applied }.map { (id: $0.key, seconds: $0.value.seconds) }
        guard updaters.count > maxUpdateManagers else { return }
        updaters.sort { a, b in a.seconds != b.seconds ? a.seconds < b.seconds : compareBytes(a.id, b.id) < 0 }
        var versionToFirst: [String: String] = [:]
        var length = updaters.count
        var i = 0
        while i < updaters.count && length > maxUpdateManagers {
            let id = updaters[i].id
            i += 1
            guard var entry = managed[id] else { continue }
            entry.parseStored()
            let bucket = Entry(manager: "ancient-changes", operation: "Update", apiVersion: entry.apiVersion,
                               subresource: "", time: nil, set: FieldSet())
            let bucketID = bucket.identifier
            if let first = versionToFirst[entry.apiVersion] {
                if managed[bucketID] == nil, var firstEntry = managed[first] {
                    managed[first] = nil
                    firstEntry.manager = "ancient-changes"
                    firstEntry.subresource = ""
                    managed[bucketID] = firstEntry
                }
                var merged = managed[bucketID] ?? bucket
                merged.parseStored()
                merged.set = FieldSet.union(entry.set, merged.set)
                merged.apiVersion = entry.apiVersion
                merged.manager = "ancient-changes"
                merged.operation = "Update"
                merged.subresource = ""
                merged.time = entry.time
                merged.seconds = entry.seconds
                managed[bucketID] = merged
                managed[id] = nil
                length -= 1
            } else {
                versionToFirst[entry.apiVersion] = id
            }
        }
    }

    /// `encodeManagedFields` + `sortEncodedManagedFields`.
    static func encode(_ managed: [String: Entry]) -> JSON? {
        guard !managed.isEmpty else { return nil }
        let sorted = managed.values.sorted { p, q in
            if p.operation != q.operation { return compareBytes(p.operation, q.operation) < 0 }
            if p.seconds != q.seconds { return p.seconds < q.seconds }
            if p.manager != q.manager { return compareBytes(p.manager, q.manager) < 0 }
            if p.apiVersion != q.apiVersion { return compareBytes(p.apiVersion, q.apiVersion) < 0 }
            return compareBytes(p.subresource, q.subresource) < 0
        }
        // Entries kept as stored make the list unlike any other: it is not worth a lookup in the intern table.
        if sorted.contains(where: { $0.stored != nil }) {
            return .array(sorted.map { $0.stored?.json ?? $0.shared.json })
        }
        let entries = sorted.map(\.shared)
        var key: [UInt8] = [UInt8(ascii: "[")]
        for (i, e) in entries.enumerated() {
            if i > 0 { key.append(UInt8(ascii: ",")) }
            key += e.key
        }
        key.append(UInt8(ascii: "]"))
        return JSONInterner.share(.array(entries.map(\.json)), key: key)
    }

    static func withoutManagedFields(_ obj: JSONObject) -> JSONObject {
        guard case .object(var meta)? = obj["metadata"], meta.index(of: "managedFields") != nil else { return obj }
        meta["managedFields"] = nil
        var out = obj
        out["metadata"] = .object(meta)
        return out
    }

    /// `obj` with `metadata.managedFields` set to `value`, or removed when `nil`/`null`.
    static func setting(_ obj: JSONObject, _ value: JSON?) -> JSONObject {
        var out = obj
        let v: JSON? = (value?.isNull ?? true) ? nil : value
        if case .object(var meta)? = out["metadata"] {
            meta["managedFields"] = v
            out["metadata"] = .object(meta)
        } else if let v {
            out["metadata"] = .object(JSONObject([("managedFields", v)]))
        }
        return out
    }
}
