import KemuAPI
import KemuRegistry

/// What a resource URL addresses, as kube-apiserver's RequestInfoFactory resolves it.
struct ResourceRequest {
    var kind: ResourceKind
    /// Namespace from the URL ("" for cluster-scoped kinds or across all namespaces).
    var namespace: String
    var name: String?
    var subresource: String?
    /// Requested through the legacy `/watch/` prefix.
    var legacyWatch: Bool
}

enum Route {
    case health
    case version
    case metrics                           // /metrics (Prometheus text format)
    case apiVersions                       // /api
    case apiGroupList                      // /apis
    case apiGroup(String)                  // /apis/<group>
    case resourceList(group: String, version: String)
    case openAPIIndex
    case openAPIDocument(String)           // e.g. "api/v1"
    case resource(ResourceRequest)
    case notFound
}

enum Router {
    static func route(_ path: String, registry: Registry) -> Route {
        // Split on bytes: Character-based splitting costs grapheme breaking on every request.
        var parts = path.utf8.split(separator: UInt8(ascii: "/")).map { String(decoding: $0, as: UTF8.self) }
        guard let first = parts.first else { return .notFound }
        switch first {
        case "healthz", "livez", "readyz":
            return parts.count == 1 ? .health : .notFound
        case "version":
            return parts.count == 1 ? .version : .notFound
        case "metrics":
            return parts.count == 1 ? .metrics : .notFound
        case "openapi":
            if parts.count == 2 && parts[1] == "v3" { return .openAPIIndex }
            if parts.count >= 3 && parts[1] == "v3" { return .openAPIDocument(parts[2...].joined(separator: "/")) }
            return .notFound
        case "api":
            if parts.count == 1 { return .apiVersions }
            parts.removeFirst()
            return resourceRoute(group: "", parts: parts, registry: registry)
        case "apis":
            if parts.count == 1 { return .apiGroupList }
            let group = parts[1]
            guard registry.servesGroup(group) else { return .notFound }
            if parts.count == 2 { return .apiGroup(group) }
            parts.removeFirst(2)
            return resourceRoute(group: group, parts: parts, registry: registry)
        default:
            return .notFound
        }
    }

    /// `parts` starts at the version: `v1/namespaces/default/pods/x/status`.
    static func resourceRoute(group: String, parts: [String], registry: Registry) -> Route {
        guard let version = parts.first else { return .notFound }
        guard !registry.kinds(group: group, version: version).isEmpty else { return .notFound }
        var rest = Array(parts.dropFirst())
        if rest.isEmpty { return .resourceList(group: group, version: version) }
        var legacyWatch = false
        if rest.first == "watch" { legacyWatch = true; rest.removeFirst() }
        guard !rest.isEmpty else { return .notFound }

        // /namespaces/<ns>/<resource>/... addresses namespaced kinds, unless what follows
        // <ns> is a subresource of the namespace itself (status, finalize).
        if rest[0] == "namespaces", rest.count >= 3,
           let kind = registry.kind(group: group, version: version, resource: rest[2]), kind.namespaced {
            let ns = rest[1]
            let name = rest.count >= 4 ? rest[3] : nil
            let sub = rest.count >= 5 ? rest[4] : nil
            if rest.count > 5 { return .notFound }
            return .resource(ResourceRequest(kind: kind, namespace: ns, name: name, subresource: sub, legacyWatch: legacyWatch))
        }
        if rest[0] == "namespaces", rest.count >= 3, !group.isEmpty {
            return .notFound
        }
        guard let kind = registry.kind(group: group, version: version, resource: rest[0]) else { return .notFound }
        if rest.count > 3 { return .notFound }
        if kind.namespaced {
            // Only a collection may be addressed across namespaces.
            if rest.count > 1 { return .notFound }
            return .resource(ResourceRequest(kind: kind, namespace: "", name: nil, subresource: nil, legacyWatch: legacyWatch))
        }
        let name = rest.count >= 2 ? rest[1] : nil
        let sub = rest.count >= 3 ? rest[2] : nil
        return .resource(ResourceRequest(kind: kind, namespace: "", name: name, subresource: sub, legacyWatch: legacyWatch))
    }
}
