/// A failure a client can cause, rendered as a `metav1.Status` with upstream's
/// code, reason and message (constructors mirror apimachinery's errors package).
public struct APIError: Error, Sendable, CustomStringConvertible {
    public struct Cause: Sendable, Equatable {
        public var reason: String
        public var message: String
        public var field: String
        public init(reason: String, message: String, field: String) {
            self.reason = reason; self.message = message; self.field = field
        }
    }

    public var code: Int
    public var reason: String
    public var message: String
    public var name: String?
    public var group: String?
    public var kind: String?
    public var uid: String?
    public var causes: [Cause]
    public var retryAfterSeconds: Int?

    public init(code: Int, reason: String, message: String, name: String? = nil, group: String? = nil,
                kind: String? = nil, uid: String? = nil, causes: [Cause] = [], retryAfterSeconds: Int? = nil) {
        self.code = code; self.reason = reason; self.message = message; self.name = name
        self.group = group; self.kind = kind; self.uid = uid; self.causes = causes
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(code) \(reason): \(message)" }

    public var status: JSON {
        var o = JSONObject()
        o["kind"] = "Status"
        o["apiVersion"] = "v1"
        o["metadata"] = .object(JSONObject())
        o["status"] = "Failure"
        o["message"] = .string(message)
        if !reason.isEmpty { o["reason"] = .string(reason) }
        if name != nil || group != nil || kind != nil || !causes.isEmpty || retryAfterSeconds != nil || uid != nil {
            var d = JSONObject()
            if let name, !name.isEmpty { d["name"] = .string(name) }
            if let group { d["group"] = .string(group) }
            if let kind { d["kind"] = .string(kind) }
            if let uid { d["uid"] = .string(uid) }
            if !causes.isEmpty {
                d["causes"] = .array(causes.map { c in
                    var co = JSONObject()
                    co["reason"] = .string(c.reason)
                    co["message"] = .string(c.message)
                    if !c.field.isEmpty { co["field"] = .string(c.field) }
                    return .object(co)
                })
            }
            if let retryAfterSeconds { d["retryAfterSeconds"] = .int(Int64(retryAfterSeconds)) }
            o["details"] = .object(d)
        }
        o["code"] = .int(Int64(code))
        return .object(o)
    }
}

/// A resource qualified by its API group, as upstream prints it: `deployments.apps`, `pods`.
public struct GroupResource: Sendable, Hashable {
    public var group: String
    public var resource: String
    public init(group: String, resource: String) { self.group = group; self.resource = resource }
    public var qualified: String { group.isEmpty ? resource : "\(resource).\(group)" }
}

extension APIError {
    public static func notFound(_ gr: GroupResource, _ name: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "\(gr.qualified) \"\(name)\" not found",
                 name: name, group: gr.group, kind: gr.resource)
    }

    public static func pathNotFound() -> APIError {
        APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource",
                 name: nil, group: nil, kind: nil)
    }

    public static func alreadyExists(_ gr: GroupResource, _ name: String) -> APIError {
        APIError(code: 409, reason: "AlreadyExists", message: "\(gr.qualified) \"\(name)\" already exists",
                 name: name, group: gr.group, kind: gr.resource)
    }

    public static func conflict(_ gr: GroupResource, _ name: String, _ why: String) -> APIError {
        APIError(code: 409, reason: "Conflict",
                 message: "Operation cannot be fulfilled on \(gr.qualified) \"\(name)\": \(why)",
                 name: name, group: gr.group, kind: gr.resource)
    }

    public static let optimisticLockMessage =
        "the object has been modified; please apply your changes to the latest version and try again"

    public static func badRequest(_ message: String) -> APIError {
        APIError(code: 400, reason: "BadRequest", message: message)
    }

    public static func forbidden(_ gr: GroupResource, _ name: String, _ why: String) -> APIError {
        let subject = name.isEmpty ? gr.qualified : "\(gr.qualified) \"\(name)\""
        return APIError(code: 403, reason: "Forbidden", message: "\(subject) is forbidden: \(why)",
                        name: name, group: gr.group, kind: gr.resource)
    }

    /// 422 with one cause per field error; `kind` is the Kind here, as upstream does for Invalid.
    public static func invalid(kind: String, group: String, name: String, _ errors: [FieldError]) -> APIError {
        let qualifiedKind = group.isEmpty ? kind : "\(kind).\(group)"
        // Repeated messages are shown once, as upstream's aggregate does; causes keep every error.
        var messages: [String] = []
        for e in errors where !messages.contains(e.message) { messages.append(e.message) }
        let msg: String
        switch messages.count {
        case 0: msg = "\(qualifiedKind) \"\(name)\" is invalid"
        case 1: msg = "\(qualifiedKind) \"\(name)\" is invalid: \(messages[0])"
        default: msg = "\(qualifiedKind) \"\(name)\" is invalid: [\(messages.joined(separator: ", "))]"
        }
        return APIError(code: 422, reason: "Invalid", message: msg, name: name, group: group, kind: kind,
                        causes: errors.map { Cause(reason: $0.type.reason, message: $0.detailMessage, field: $0.field) })
    }

    public static func methodNotAllowed(_ verb: String, _ resource: String) -> APIError {
        APIError(code: 405, reason: "MethodNotAllowed",
                 message: "\(verb) is not supported on resources of kind \"\(resource)\"")
    }

    public static func unsupportedMediaType(_ contentType: String, accepted: [String]) -> APIError {
        APIError(code: 415, reason: "UnsupportedMediaType",
                 message: "the body of the request was in an unknown format - accepted media types include: \(accepted.joined(separator: ", "))")
    }

    public static func notAcceptable(_ accepted: [String]) -> APIError {
        APIError(code: 406, reason: "NotAcceptable",
                 message: "only the following media types are accepted: \(accepted.joined(separator: ", "))")
    }

    public static func expired(_ message: String) -> APIError {
        APIError(code: 410, reason: "Expired", message: message)
    }

    public static func tooLarge(_ limit: Int) -> APIError {
        APIError(code: 413, reason: "RequestEntityTooLarge",
                 message: "Request entity too large: limit is \(limit)")
    }

    public static func internalError(_ message: String) -> APIError {
        APIError(code: 500, reason: "InternalError", message: "Internal error occurred: \(message)")
    }

    public static func tooManyRequests(_ message: String, retryAfter: Int) -> APIError {
        APIError(code: 429, reason: "TooManyRequests", message: message, retryAfterSeconds: retryAfter)
    }
}
