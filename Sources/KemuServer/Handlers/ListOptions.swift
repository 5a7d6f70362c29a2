import KemuAPI
import KemuRegistry
import KemuStore

/// Decides which objects a list or watch sees: namespace, label and field selectors.
struct ObjectFilter: Sendable {
    let kind: ResourceKind
    let namespace: String
    let labels: LabelSelector
    let fields: FieldSelector

    init(_ c: RequestContext) throws {
        kind = c.kind
        namespace = c.namespace
        do {
            labels = try LabelSelector.parse(c.query("labelSelector") ?? "")
        } catch {
            throw APIError.badRequest(error.message)
        }
        var f: FieldSelector
        do {
            f = try FieldSelector.parse(c.query("fieldSelector") ?? "")
        } catch {
            throw APIError.badRequest(error.message)
        }
        if let msg = c.kind.fieldSelectors.unknownFieldMessage(f) { throw APIError.badRequest(msg) }
        // A watch on an item URL (legacy /watch/ paths) is a watch filtered by name.
        if let name = c.resource.name {
            if let pinned = f.exactName, pinned != name {
                throw APIError.badRequest("fieldSelector metadata.name doesn't match requested name")
            }
            f.requirements.append(.init(field: "metadata.name", value: name, negated: false))
        }
        fields = f
    }

    var isEverything: Bool { labels.isEmpty && fields.isEmpty }

    func matches(_ o: StoredObject) -> Bool {
        if !namespace.isEmpty && kind.namespaced && o.namespace != namespace { return false }
        if !labels.isEmpty && !labels.matches(o.labels) { return false }
        if !fields.isEmpty && !fields.matches({ kind.fieldSelectors.value($0, o.object) }) { return false }
        return true
    }
}

/// The resourceVersion parameters of a list or watch, validated as upstream does.
struct ListOptions {
    var resourceVersion: String?
    var resourceVersionMatch: String?
    var limit: Int?
    var continueToken: String?
    var sendInitialEvents: Bool?
    var allowWatchBookmarks: Bool
    var timeoutSeconds: Int?

    init(_ c: RequestContext, watch: Bool) throws {
        resourceVersion = c.query("resourceVersion")
        if resourceVersion == "" { resourceVersion = nil }
        resourceVersionMatch = c.query("resourceVersionMatch")
        if resourceVersionMatch == "" { resourceVersionMatch = nil }
        continueToken = c.query("continue")
        if continueToken == "" { continueToken = nil }
        allowWatchBookmarks = c.bool("allowWatchBookmarks")
        if let l = c.query("limit"), !l.isEmpty {
            guard let n = Int(l) else { throw APIError.badRequest("invalid limit \"\(l)\": must be an integer") }
            limit = n > 0 ? n : nil
        }
        if let t = c.query("timeoutSeconds"), !t.isEmpty {
            guard let n = Int(t) else { throw APIError.badRequest("invalid timeoutSeconds \"\(t)\": must be an integer") }
            timeoutSeconds = n
        }
        if let s = c.query("sendInitialEvents") {
            sendInitialEvents = s == "true" || s == "1"
        }
        var errs: [FieldError] = []
        if let m = resourceVersionMatch {
            if !["NotOlderThan", "Exact"].contains(m) {
                errs.append(.notSupported("resourceVersionMatch", .string(m), ["Exact", "NotOlderThan", ""]))
            } else if resourceVersion == nil && !(watch && sendInitialEvents != nil) {
                errs.append(.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"))
            } else if m == "Exact" && resourceVersion == "0" {
                errs.append(.forbidden("resourceVersionMatch", "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""))
            }
            if continueToken != nil {
                errs.append(.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided"))
            }
        }
        if let sie = sendInitialEvents {
            if !watch {
                errs.append(.forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
            } else {
                if resourceVersionMatch != "NotOlderThan" {
                    errs.append(.forbidden("resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
                }
                if sie && !allowWatchBookmarks {
                    errs.append(.forbidden("allowWatchBookmarks", "allowWatchBookmarks must be set to true when sendInitialEvents is true"))
                }
            }
        } else if watch, resourceVersionMatch != nil {
            errs.append(.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
        }
        if !errs.isEmpty { throw APIError.invalid(kind: "ListOptions", group: "meta.k8s.io", name: "", errs) }
        if continueToken != nil, let rv = resourceVersion, rv != "0" {
            throw APIError.badRequest("specifying resource version is not allowed when using continue")
        }
        if let rv = resourceVersion, UInt64(rv) == nil {
            throw APIError.badRequest("invalid resource version \"\(rv)\": must be a non-negative integer")
        }
    }

    var resourceVersionNumber: UInt64? { resourceVersion.flatMap { UInt64($0) } }
}
