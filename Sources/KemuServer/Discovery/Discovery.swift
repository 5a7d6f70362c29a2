import KemuAPI
import KemuHTTP
import KemuRegistry

/// `/api`, `/apis`, `/apis/<group>`, `/api/v1`, `/apis/<group>/<version>`, in the legacy
/// form and, when the client asks for it, the aggregated `apidiscovery.k8s.io/v2` form.
final class Discovery: Sendable {
    let registry: Registry
    static let aggregatedContentType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    let aggregatedCore: [UInt8]
    let aggregatedGroups: [UInt8]

    init(registry: Registry) {
        self.registry = registry
        aggregatedCore = JSONWriter.encode(Self.aggregatedList(registry, core: true))
        aggregatedGroups = JSONWriter.encode(Self.aggregatedList(registry, core: false))
    }

    static func wantsAggregated(_ request: HTTPRequest) -> Bool {
        guard let accept = request.header("accept") else { return false }
        for raw in accept.split(separator: ",") {
            let params = raw.split(separator: ";").map { $0.trimmingWhitespace() }
            if params.contains("g=apidiscovery.k8s.io"), params.contains("v=v2"), params.contains("as=APIGroupDiscoveryList") {
                return true
            }
        }
        return false
    }

    func aggregatedResponse(_ bytes: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: 200, headers: [("Content-Type", Self.aggregatedContentType), ("Vary", "Accept")], body: .bytes(bytes))
    }

    func apiVersions(_ request: HTTPRequest, serverAddress: String) -> HTTPResponse {
        if Self.wantsAggregated(request) { return aggregatedResponse(aggregatedCore) }
        return Respond.json(200, [
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(serverAddress)]],
        ])
    }

    func apiGroupList(_ request: HTTPRequest) -> HTTPResponse {
        if Self.wantsAggregated(request) { return aggregatedResponse(aggregatedGroups) }
        return Respond.json(200, ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(registry.groups.map { groupJSON($0.group, $0.versions) })])
    }

    func apiGroup(_ group: String) -> HTTPResponse {
        guard let g = registry.groups.first(where: { $0.group == group }) else { return Respond.error(.pathNotFound()) }
        var o = groupJSON(g.group, g.versions).objectValue!
        o = JSONObject([("kind", "APIGroup"), ("apiVersion", "v1")] + o.map { ($0.key, $0.value) })
        return Respond.json(200, .object(o))
    }

    func groupJSON(_ group: String, _ versions: [String]) -> JSON {
        let vs: [JSON] = versions.map { ["groupVersion": .string("\(group)/\($0)"), "version": .string($0)] }
        return ["name": .string(group), "versions": .array(vs), "preferredVersion": vs[0]]
    }

    func resourceList(group: String, version: String) -> HTTPResponse {
        var resources: [JSON] = []
        for k in registry.kinds(group: group, version: version) {
            var r: JSONObject = [
                "name": .string(k.resource), "singularName": .string(k.singular), "namespaced": .bool(k.namespaced),
                "kind": .string(k.kind), "verbs": .array(k.verbs.map(JSON.string)),
            ]
            if !k.shortNames.isEmpty { r["shortNames"] = .array(k.shortNames.map(JSON.string)) }
            if !k.categories.isEmpty { r["categories"] = .array(k.categories.map(JSON.string)) }
            resources.append(.object(r))
            for sub in k.subresources {
                var sr: JSONObject = ["name": .string("\(k.resource)/\(sub.name)"), "singularName": "", "namespaced": .bool(k.namespaced)]
                if let g = sub.group { sr["group"] = .string(g) }
                if let v = sub.version { sr["version"] = .string(v) }
                sr["kind"] = .string(sub.kind ?? k.kind)
                sr["verbs"] = .array(sub.verbs.map(JSON.string))
                resources.append(.object(sr))
            }
        }
        let gv = group.isEmpty ? version : "\(group)/\(version)"
        return Respond.json(200, ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(gv), "resources": .array(resources)])
    }

    static func aggregatedList(_ registry: Registry, core: Bool) -> JSON {
        var items: [JSON] = []
        let groups: [(String, [String])] = core ? [("", ["v1"])] : registry.groups.map { ($0.group, $0.versions) }
        for (group, versions) in groups {
            var versionEntries: [JSON] = []
            for v in versions {
                let resources: [JSON] = registry.kinds(group: group, version: v).map { k in
                    var r: JSONObject = [
                        "resource": .string(k.resource),
                        "responseKind": ["group": .string(k.group), "version": .string(k.version), "kind": .string(k.kind)],
                        "scope": .string(k.namespaced ? "Namespaced" : "Cluster"),
                        "singularResource": .string(k.singular),
                        "verbs": .array(k.verbs.map(JSON.string)),
                    ]
                    if !k.shortNames.isEmpty { r["shortNames"] = .array(k.shortNames.map(JSON.string)) }
                    if !k.categories.isEmpty { r["categories"] = .array(k.categories.map(JSON.string)) }
                    if !k.subresources.isEmpty {
                        r["subresources"] = .array(k.subresources.map { sub in
                            [
                                "subresource": .string(sub.name),
                                "responseKind": [
                                    "group": .string(sub.group ?? k.group), "version": .string(sub.version ?? k.version),
                                    "kind": .string(sub.kind ?? k.kind),
                                ],
                                "verbs": .array(sub.verbs.map(JSON.string)),
                            ]
                        })
                    }
                    return .object(r)
                }
                versionEntries.append(["version": .string(v), "resources": .array(resources), "freshness": "Current"])
            }
            var meta = JSONObject()
            if !group.isEmpty { meta["name"] = .string(group) }
            meta["creationTimestamp"] = .null
            items.append(["metadata": .object(meta), "versions": .array(versionEntries)])
        }
        return ["kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": .object(JSONObject()), "items": .array(items)]
    }
}
