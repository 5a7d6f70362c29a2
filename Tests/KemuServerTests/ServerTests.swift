import Foundation
import XCTest
import KemuAPI
@testable import KemuHTTP
@testable import KemuServer

/// Drives `APIServer.handle` in-process: routing, discovery, CRUD, patches, Tables, paging,
/// errors, dry runs and namespace deletion, with no sockets involved.
final class ServerTests: XCTestCase {

    // MARK: - Harness

    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }  // ServerTests.swift, KemuServerTests, Tests
        return url.path
    }()

    static let tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
    static let aggregatedAccept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
    static let aggregatedContentType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

    var servers: [APIServer] = []

    /// A started server. OpenAPI schemas (needed by strategic merge patch and field validation) are
    /// loaded only when asked for: parsing the documents is most of a server's start-up time.
    func makeServer(openAPI: Bool = false, _ tweak: (inout ServerConfig) -> Void = { _ in }) throws -> APIServer {
        var config = ServerConfig()
        config.openAPIDirectory = Self.repoRoot + (openAPI ? "/openapi" : "/.no-openapi-in-this-test")
        // A bare API server: no simulated nodes or scheduler acting on the pods these tests create.
        config.controllers.clusterSimulatorEnabled = false
        tweak(&config)
        let s = APIServer(config: config)
        try s.start()
        servers.append(s)
        return s
    }

    override func tearDown() {
        for s in servers { s.stop() }
        servers = []
        super.tearDown()
    }

    struct Reply {
        let status: Int
        let headers: [(String, String)]
        let bytes: [UInt8]
        let response: HTTPResponse

        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        var text: String { String(decoding: bytes, as: UTF8.self) }
        var json: JSON { (try? JSONParser.parse(bytes)) ?? .string("<not JSON: \(text)>") }
        var items: [JSON] { json["items"].arrayValue ?? [] }
        var names: [String] { items.map { $0["metadata"]["name"].stringValue ?? "?" } }
        var rv: String { json["metadata"]["resourceVersion"].stringValue ?? "" }
    }

    @discardableResult
    func call(_ s: APIServer, _ method: String, _ path: String, query: [(String, String)] = [],
              accept: String? = "application/json", contentType: String? = nil, body: String? = nil,
              tooLarge: Bool = false) -> Reply {
        var headers: [String: String] = [:]
        if let accept { headers["accept"] = accept }
        if let contentType { headers["content-type"] = contentType }
        let req = HTTPRequest(method: method, path: path, queryItems: query.map { (name: $0.0, value: $0.1) },
                              headers: headers, body: body.map { Array($0.utf8) } ?? [], bodyTooLarge: tooLarge)
        let r = s.handle(req)
        var bytes: [UInt8] = []
        if case .bytes(let b) = r.body { bytes = b }
        return Reply(status: r.status, headers: r.headers, bytes: bytes, response: r)
    }

    func assertStatus(_ r: Reply, _ code: Int, _ reason: String, message: String? = nil,
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, code, r.text, file: file, line: line)
        XCTAssertEqual(r.json["kind"], "Status", r.text, file: file, line: line)
        XCTAssertEqual(r.json["apiVersion"], "v1", file: file, line: line)
        XCTAssertEqual(r.json["status"], "Failure", file: file, line: line)
        XCTAssertEqual(r.json["code"].intValue, Int64(code), file: file, line: line)
        XCTAssertEqual(r.json["reason"].stringValue, reason, r.text, file: file, line: line)
        if let message { XCTAssertEqual(r.json["message"].stringValue, message, file: file, line: line) }
        XCTAssertEqual(r.header("Content-Type"), "application/json", file: file, line: line)
    }

    /// Polls until `cond` holds, for at most `seconds`.
    @discardableResult
    func eventually(_ seconds: Double = 10, _ cond: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if cond() { return true }
            usleep(5_000)
        }
        return cond()
    }

    let servicesPath = "/api/v1/namespaces/default/services"

    func serviceBody(_ name: String, labels: String = #"{"app":"web"}"#, ns: String? = nil) -> String {
        let nsField = ns.map { #","namespace":"\#($0)""# } ?? ""
        return #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"\#(name)"\#(nsField),"labels":\#(labels)},"spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":8080}]}}"#
    }

    func podBody(_ name: String, finalizers: [String] = []) -> String {
        let fin = finalizers.isEmpty ? "" : #","finalizers":[\#(finalizers.map { "\"\($0)\"" }.joined(separator: ","))]"#
        return #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)"\#(fin)},"spec":{"containers":[{"name":"c","image":"nginx"}]}}"#
    }

    let deploymentBody = #"""
    {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
     "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
             "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}
    """#

    func createService(_ s: APIServer, _ name: String = "web", file: StaticString = #filePath, line: UInt = #line) -> Reply {
        let r = call(s, "POST", servicesPath, contentType: "application/json", body: serviceBody(name))
        XCTAssertEqual(r.status, 201, r.text, file: file, line: line)
        return r
    }

    // MARK: - Routing, version, health

    func testVersionAndHealth() throws {
        let s = try makeServer()
        let v = call(s, "GET", "/version")
        XCTAssertEqual(v.status, 200)
        XCTAssertEqual(v.json["major"], "1")
        XCTAssertEqual(v.json["minor"], "32")
        XCTAssertTrue(v.json["gitVersion"].stringValue?.hasPrefix("v1.32.") ?? false)
        for p in ["/healthz", "/livez", "/readyz"] {
            let h = call(s, "GET", p)
            XCTAssertEqual(h.status, 200, p)
            XCTAssertEqual(h.text, "ok")
        }
        assertStatus(call(s, "POST", "/healthz"), 405, "MethodNotAllowed")
    }

    func testUnknownPathsAre404() throws {
        let s = try makeServer()
        for p in ["/", "/nope", "/api/v2", "/api/v1/nopes", "/apis/nope.io", "/apis/nope.io/v1", "/apis/apps/v2",
                  "/apis/apps/v1/namespaces/default/pods", "/api/v1/namespaces/default/pods/x/status/extra",
                  "/api/v1/pods/x", "/healthz/x", "/version/x", "/openapi/v2", "/api/v1/namespaces/default/nopes"] {
            assertStatus(call(s, "GET", p), 404, "NotFound", message: "the server could not find the requested resource")
        }
    }

    func testUnknownSubresourceIs404() throws {
        let s = try makeServer()
        _ = createService(s)
        let r = call(s, "GET", servicesPath + "/web/nope")
        XCTAssertEqual(r.status, 404, r.text)
        XCTAssertEqual(r.json["reason"], "NotFound")
    }

    func testTrailingSlashIsTheSamePath() throws {
        let s = try makeServer()
        let r = call(s, "GET", "/api/v1/namespaces/")
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json["kind"], "NamespaceList")
    }

    // MARK: - Discovery

    func testLegacyCoreDiscovery() throws {
        let s = try makeServer()
        let api = call(s, "GET", "/api")
        XCTAssertEqual(api.status, 200)
        XCTAssertEqual(api.header("Content-Type"), "application/json")
        XCTAssertEqual(api.json["kind"], "APIVersions")
        XCTAssertEqual(api.json["versions"], ["v1"])
        XCTAssertEqual(api.json["serverAddressByClientCIDRs"].arrayValue?.first?["clientCIDR"], "0.0.0.0/0")

        let v1 = call(s, "GET", "/api/v1")
        XCTAssertEqual(v1.status, 200)
        XCTAssertEqual(v1.json["kind"], "APIResourceList")
        XCTAssertEqual(v1.json["groupVersion"], "v1")
        let resources = v1.json["resources"].arrayValue ?? []
        func res(_ name: String) -> JSON { resources.first { $0["name"].stringValue == name } ?? .null }
        XCTAssertEqual(res("pods")["kind"], "Pod")
        XCTAssertEqual(res("pods")["namespaced"], true)
        XCTAssertEqual(res("pods")["singularName"], "pod")
        XCTAssertEqual(res("pods")["shortNames"], ["po"])
        XCTAssertEqual(res("pods")["categories"], ["all"])
        XCTAssertEqual(res("pods/eviction")["group"], "policy")
        XCTAssertEqual(res("pods/eviction")["version"], "v1")
        XCTAssertEqual(res("pods/eviction")["kind"], "Eviction")
        XCTAssertEqual(res("pods/eviction")["verbs"], ["create"])
        XCTAssertEqual(res("pods/eviction")["singularName"], "")
        XCTAssertEqual(res("pods/status")["verbs"], ["get", "patch", "update"])
        XCTAssertNil(res("pods/status").objectValue?["group"], "group only when the subresource kind lives elsewhere")
        XCTAssertEqual(res("namespaces")["namespaced"], false)
        XCTAssertEqual(res("namespaces")["shortNames"], ["ns"])
        XCTAssertFalse(res("namespaces")["verbs"].arrayValue?.contains("deletecollection") ?? true)
        XCTAssertEqual(res("endpoints")["singularName"], "endpoints")
        XCTAssertEqual(res("endpoints")["shortNames"], ["ep"])
        XCTAssertEqual(res("services")["shortNames"], ["svc"])
        XCTAssertEqual(res("nodes")["namespaced"], false)
    }

    func testLegacyGroupDiscovery() throws {
        let s = try makeServer()
        let apis = call(s, "GET", "/apis")
        XCTAssertEqual(apis.status, 200)
        XCTAssertEqual(apis.header("Content-Type"), "application/json")
        XCTAssertEqual(apis.json["kind"], "APIGroupList")
        let groups = apis.json["groups"].arrayValue ?? []
        let names = groups.compactMap { $0["name"].stringValue }
        XCTAssertTrue(names.contains("apps"))
        XCTAssertTrue(names.contains("discovery.k8s.io"))
        let apps = groups.first { $0["name"] == "apps" } ?? .null
        XCTAssertEqual(apps["preferredVersion"], ["groupVersion": "apps/v1", "version": "v1"])
        XCTAssertEqual(apps["versions"], [["groupVersion": "apps/v1", "version": "v1"]])

        let group = call(s, "GET", "/apis/apps")
        XCTAssertEqual(group.json["kind"], "APIGroup")
        XCTAssertEqual(group.json["apiVersion"], "v1")
        XCTAssertEqual(group.json["name"], "apps")

        let list = call(s, "GET", "/apis/apps/v1")
        XCTAssertEqual(list.json["groupVersion"], "apps/v1")
        let resources = list.json["resources"].arrayValue ?? []
        let scale = resources.first { $0["name"] == "deployments/scale" } ?? .null
        XCTAssertEqual(scale["group"], "autoscaling")
        XCTAssertEqual(scale["version"], "v1")
        XCTAssertEqual(scale["kind"], "Scale")
        let deploy = resources.first { $0["name"] == "deployments" } ?? .null
        XCTAssertEqual(deploy["shortNames"], ["deploy"])
        XCTAssertEqual(Set(deploy["verbs"].arrayValue?.compactMap(\.stringValue) ?? []),
                       ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"])
        let slices = call(s, "GET", "/apis/discovery.k8s.io/v1").json["resources"].arrayValue ?? []
        let eps = slices.first { $0["name"] == "endpointslices" } ?? .null
        XCTAssertEqual(eps["kind"], "EndpointSlice")
        XCTAssertNil(eps.objectValue?["shortNames"], "EndpointSlice has no short name")
    }

    func testAggregatedDiscovery() throws {
        let s = try makeServer()
        let api = call(s, "GET", "/api", accept: Self.aggregatedAccept)
        XCTAssertEqual(api.status, 200)
        XCTAssertEqual(api.header("Content-Type"), Self.aggregatedContentType)
        XCTAssertEqual(api.header("Vary"), "Accept")
        XCTAssertEqual(api.json["kind"], "APIGroupDiscoveryList")
        XCTAssertEqual(api.json["apiVersion"], "apidiscovery.k8s.io/v2")
        let core = api.items
        XCTAssertEqual(core.count, 1)
        XCTAssertNil(core.first?["metadata"].objectValue?["name"], "the core group has no name")
        let v1 = core.first?["versions"].arrayValue?.first ?? .null
        XCTAssertEqual(v1["version"], "v1")
        XCTAssertEqual(v1["freshness"], "Current")
        let pods = v1["resources"].arrayValue?.first { $0["resource"] == "pods" } ?? .null
        XCTAssertEqual(pods["scope"], "Namespaced")
        XCTAssertEqual(pods["singularResource"], "pod")
        XCTAssertEqual(pods["responseKind"], ["group": "", "version": "v1", "kind": "Pod"])
        let eviction = pods["subresources"].arrayValue?.first { $0["subresource"] == "eviction" } ?? .null
        XCTAssertEqual(eviction["responseKind"], ["group": "policy", "version": "v1", "kind": "Eviction"])
        let ns = v1["resources"].arrayValue?.first { $0["resource"] == "namespaces" } ?? .null
        XCTAssertEqual(ns["scope"], "Cluster")

        let apis = call(s, "GET", "/apis", accept: Self.aggregatedAccept)
        XCTAssertEqual(apis.header("Content-Type"), Self.aggregatedContentType)
        let groupNames = apis.items.compactMap { $0["metadata"]["name"].stringValue }
        XCTAssertTrue(groupNames.contains("apps"))
        XCTAssertTrue(groupNames.contains("discovery.k8s.io"))
        XCTAssertFalse(groupNames.contains(""), "the core group is only under /api")
        let apps = apis.items.first { $0["metadata"]["name"] == "apps" } ?? .null
        let deploy = apps["versions"].arrayValue?.first?["resources"].arrayValue?.first { $0["resource"] == "deployments" } ?? .null
        let scale = deploy["subresources"].arrayValue?.first { $0["subresource"] == "scale" } ?? .null
        XCTAssertEqual(scale["responseKind"], ["group": "autoscaling", "version": "v1", "kind": "Scale"])

        // Parameter order does not matter, and plain JSON still gets the legacy form.
        let reordered = call(s, "GET", "/apis", accept: "application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io")
        XCTAssertEqual(reordered.header("Content-Type"), Self.aggregatedContentType)
        XCTAssertEqual(call(s, "GET", "/apis", accept: "application/json").json["kind"], "APIGroupList")
        XCTAssertEqual(call(s, "GET", "/apis", accept: nil).json["kind"], "APIGroupList")
        XCTAssertEqual(call(s, "GET", "/api", accept: "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList").json["kind"],
                       "APIVersions", "only v2 is served aggregated")
    }

    func testOpenAPIIndexAndDocuments() throws {
        let s = try makeServer(openAPI: true)
        let index = call(s, "GET", "/openapi/v3")
        XCTAssertEqual(index.status, 200)
        let url = index.json["paths"]["api/v1"]["serverRelativeURL"].stringValue ?? ""
        XCTAssertTrue(url.hasPrefix("/openapi/v3/api/v1?hash="), url)
        XCTAssertNotNil(index.json["paths"]["apis/apps/v1"].objectValue)
        let doc = call(s, "GET", "/openapi/v3/apis/apps/v1")
        XCTAssertEqual(doc.status, 200)
        XCTAssertNotNil(doc.json["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"].objectValue)
        assertStatus(call(s, "GET", "/openapi/v3/apis/nope/v1"), 404, "NotFound")
    }

    // MARK: - Create, get, list, update, delete

    func testCreateSetsServerFieldsAndDefaults() throws {
        let s = try makeServer()
        let r = createService(s)
        XCTAssertEqual(r.header("Content-Type"), "application/json")
        let o = r.json
        XCTAssertEqual(o["kind"], "Service")
        XCTAssertEqual(o["apiVersion"], "v1")
        XCTAssertEqual(o["metadata"]["name"], "web")
        XCTAssertEqual(o["metadata"]["namespace"], "default", "the URL supplies the namespace")
        XCTAssertEqual(o["metadata"]["uid"].stringValue?.count, 36)
        XCTAssertNotNil(Timestamp.parse(o["metadata"]["creationTimestamp"].stringValue ?? ""))
        let rv = try XCTUnwrap(UInt64(o["metadata"]["resourceVersion"].stringValue ?? ""))
        XCTAssertGreaterThan(rv, 0)
        XCTAssertEqual(o["spec"]["type"], "ClusterIP")
        XCTAssertEqual(o["spec"]["sessionAffinity"], "None")
        XCTAssertEqual(o["spec"]["ports"], [["name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"]])
        XCTAssertFalse((o["spec"]["clusterIP"].stringValue ?? "").isEmpty)
        XCTAssertEqual(o["spec"]["clusterIPs"], [o["spec"]["clusterIP"]])

        let got = call(s, "GET", servicesPath + "/web")
        XCTAssertEqual(got.status, 200)
        XCTAssertEqual(got.json, o, "GET returns what create stored")

        let ns = call(s, "POST", "/api/v1/namespaces", contentType: "application/json",
                      body: #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team-a"}}"#)
        XCTAssertEqual(ns.status, 201, ns.text)
        XCTAssertEqual(ns.json["status"]["phase"], "Active")
        XCTAssertEqual(ns.json["metadata"]["labels"]["kubernetes.io/metadata.name"], "team-a")
        XCTAssertNil(ns.json["metadata"].objectValue?["namespace"])
    }

    func testCreateWithoutContentTypeOrKindDefaultsToJSON() throws {
        let s = try makeServer()
        // The Python client sends no Content-Type; kind/apiVersion may be omitted too.
        let r = call(s, "POST", servicesPath, contentType: nil,
                     body: #"{"metadata":{"name":"bare"},"spec":{"ports":[{"port":80}]}}"#)
        XCTAssertEqual(r.status, 201, r.text)
        XCTAssertEqual(r.json["kind"], "Service")
        XCTAssertEqual(r.json["apiVersion"], "v1")
    }

    func testGenerateName() throws {
        let s = try makeServer()
        let r = call(s, "POST", servicesPath, contentType: "application/json",
                     body: #"{"apiVersion":"v1","kind":"Service","metadata":{"generateName":"gen-"},"spec":{"ports":[{"port":80}]}}"#)
        XCTAssertEqual(r.status, 201, r.text)
        let name = r.json["metadata"]["name"].stringValue ?? ""
        XCTAssertTrue(name.hasPrefix("gen-"))
        XCTAssertEqual(name.count, 9)
        XCTAssertEqual(r.json["metadata"]["generateName"], "gen-")
        XCTAssertEqual(call(s, "GET", servicesPath + "/" + name).status, 200)
    }

    func testListsAndSelectors() throws {
        let s = try makeServer()
        _ = createService(s, "web")
        XCTAssertEqual(call(s, "POST", servicesPath, contentType: "application/json",
                            body: serviceBody("db", labels: #"{"app":"db","tier":"data"}"#)).status, 201)
        let all = call(s, "GET", servicesPath)
        XCTAssertEqual(all.status, 200)
        XCTAssertEqual(all.json["kind"], "ServiceList")
        XCTAssertEqual(all.json["apiVersion"], "v1")
        XCTAssertEqual(all.names, ["db", "kubernetes", "web"], "sorted by name")
        XCTAssertNil(all.items.first?.objectValue?["kind"], "items carry no kind on the wire")
        XCTAssertEqual(all.items.first?["metadata"]["namespace"], "default")
        XCTAssertNotNil(UInt64(all.rv))
        XCTAssertNil(all.json["metadata"].objectValue?["continue"])

        XCTAssertEqual(call(s, "GET", servicesPath, query: [("labelSelector", "app=web")]).names, ["web"])
        XCTAssertEqual(call(s, "GET", servicesPath, query: [("labelSelector", "app in (web,db)")]).names, ["db", "web"])
        XCTAssertEqual(call(s, "GET", servicesPath, query: [("labelSelector", "!tier")]).names, ["kubernetes", "web"])
        XCTAssertEqual(call(s, "GET", servicesPath, query: [("labelSelector", "app!=web")]).names, ["db", "kubernetes"])
        XCTAssertEqual(call(s, "GET", servicesPath, query: [("fieldSelector", "metadata.name=db")]).names, ["db"])
        XCTAssertEqual(call(s, "GET", servicesPath, query: [("fieldSelector", "metadata.name!=db"), ("labelSelector", "app")]).names, ["web"])
        XCTAssertEqual(call(s, "GET", servicesPath, query: [("fieldSelector", "spec.type=ClusterIP")]).names.count, 3)
        XCTAssertEqual(call(s, "GET", servicesPath, query: [("labelSelector", "app=nothing")]).items.count, 0)
        XCTAssertEqual(call(s, "GET", servicesPath, query: [("labelSelector", "app=nothing")]).text.contains(#""items":[]"#), true,
                       "an empty list has items: []")

        // Across namespaces and in an empty namespace.
        XCTAssertEqual(call(s, "GET", "/api/v1/services").names, ["db", "kubernetes", "web"])
        XCTAssertEqual(call(s, "GET", "/api/v1/namespaces/kube-system/services").items.count, 0)
        XCTAssertEqual(call(s, "GET", "/api/v1/namespaces", query: [("fieldSelector", "metadata.name=kube-public")]).names, ["kube-public"])
    }

    func testUpdateOptimisticConcurrencyAndNoOp() throws {
        let s = try makeServer()
        let created = createService(s).json
        let rv1 = created["metadata"]["resourceVersion"].stringValue ?? ""

        var changed = created.objectValue!
        changed.withObject("metadata") { $0.withObject("labels") { $0["extra"] = "1" } }
        let u = call(s, "PUT", servicesPath + "/web", contentType: "application/json", body: JSONWriter.string(.object(changed)))
        XCTAssertEqual(u.status, 200, u.text)
        XCTAssertEqual(u.json["metadata"]["labels"]["extra"], "1")
        let rv2 = u.json["metadata"]["resourceVersion"].stringValue ?? ""
        XCTAssertGreaterThan(UInt64(rv2) ?? 0, UInt64(rv1) ?? 0)
        XCTAssertEqual(u.json["metadata"]["uid"], created["metadata"]["uid"], "uid survives an update")
        XCTAssertEqual(u.json["metadata"]["creationTimestamp"], created["metadata"]["creationTimestamp"])

        // The same body again (with the old RV) is stale.
        let stale = call(s, "PUT", servicesPath + "/web", contentType: "application/json", body: JSONWriter.string(.object(changed)))
        assertStatus(stale, 409, "Conflict",
                     message: "Operation cannot be fulfilled on services \"web\": the object has been modified; please apply your changes to the latest version and try again")
        XCTAssertEqual(stale.json["details"]["kind"], "services")
        XCTAssertEqual(stale.json["details"]["name"], "web")

        // Re-sending the current object changes nothing: same RV.
        let same = call(s, "PUT", servicesPath + "/web", contentType: "application/json", body: u.text)
        XCTAssertEqual(same.status, 200, same.text)
        XCTAssertEqual(same.json["metadata"]["resourceVersion"].stringValue, rv2)

        // No resourceVersion in the body: unconditional.
        var unconditional = u.json.objectValue!
        unconditional.withObject("metadata") { $0["resourceVersion"] = nil; $0.withObject("labels") { $0["extra"] = "2" } }
        let uc = call(s, "PUT", servicesPath + "/web", contentType: "application/json", body: JSONWriter.string(.object(unconditional)))
        XCTAssertEqual(uc.status, 200, uc.text)
        XCTAssertEqual(uc.json["metadata"]["labels"]["extra"], "2")

        // Name in the body must match the URL.
        var renamed = uc.json.objectValue!
        renamed.withObject("metadata") { $0["name"] = "other" }
        assertStatus(call(s, "PUT", servicesPath + "/web", contentType: "application/json", body: JSONWriter.string(.object(renamed))),
                     400, "BadRequest")
    }

    func testUpdateOfMissingObjectIs404ForKindsWithoutCreateOnUpdate() throws {
        let s = try makeServer()
        let r = call(s, "PUT", "/apis/apps/v1/namespaces/default/deployments/ghost", contentType: "application/json", body: deploymentBody)
        assertStatus(r, 404, "NotFound", message: "deployments.apps \"ghost\" not found")
    }

    func testDeleteReturnsObjectOrStatusByKind() throws {
        let s = try makeServer()
        let svc = createService(s).json
        let d = call(s, "DELETE", servicesPath + "/web")
        XCTAssertEqual(d.status, 200, d.text)
        XCTAssertEqual(d.json["kind"], "Service", "services return the deleted object")
        XCTAssertEqual(d.json["metadata"]["uid"], svc["metadata"]["uid"])
        let gone = call(s, "GET", servicesPath + "/web")
        assertStatus(gone, 404, "NotFound", message: "services \"web\" not found")
        XCTAssertEqual(gone.json["details"]["kind"], "services")
        XCTAssertEqual(gone.json["details"]["name"], "web")
        assertStatus(call(s, "DELETE", servicesPath + "/web"), 404, "NotFound")

        let dep = call(s, "POST", "/apis/apps/v1/namespaces/default/deployments", contentType: "application/json", body: deploymentBody)
        XCTAssertEqual(dep.status, 201, dep.text)
        XCTAssertEqual(dep.json["metadata"]["generation"], 1)
        let dd = call(s, "DELETE", "/apis/apps/v1/namespaces/default/deployments/web", contentType: "application/json",
                      body: #"{"propagationPolicy":"Background"}"#)
        XCTAssertEqual(dd.status, 200, dd.text)
        XCTAssertEqual(dd.json["kind"], "Status")
        XCTAssertEqual(dd.json["status"], "Success")
        XCTAssertEqual(dd.json["details"]["name"], "web")
        XCTAssertEqual(dd.json["details"]["group"], "apps")
        XCTAssertEqual(dd.json["details"]["kind"], "deployments")
        XCTAssertEqual(dd.json["details"]["uid"], dep.json["metadata"]["uid"])
        let dgone = call(s, "GET", "/apis/apps/v1/namespaces/default/deployments/web")
        assertStatus(dgone, 404, "NotFound", message: "deployments.apps \"web\" not found")
        XCTAssertEqual(dgone.json["details"]["group"], "apps")
        XCTAssertEqual(dgone.json["details"]["kind"], "deployments")
    }

    func testDeletePreconditions() throws {
        let s = try makeServer()
        let svc = createService(s).json
        let r = call(s, "DELETE", servicesPath + "/web", contentType: "application/json",
                     body: #"{"preconditions":{"uid":"not-the-uid"}}"#)
        assertStatus(r, 409, "Conflict")
        XCTAssertEqual(call(s, "GET", servicesPath + "/web").status, 200)
        let uid = svc["metadata"]["uid"].stringValue ?? ""
        XCTAssertEqual(call(s, "DELETE", servicesPath + "/web", contentType: "application/json",
                            body: #"{"preconditions":{"uid":"\#(uid)"}}"#).status, 200)
    }

    func testDeleteCollection() throws {
        let s = try makeServer()
        for n in ["a", "b", "c"] {
            XCTAssertEqual(call(s, "POST", "/api/v1/namespaces/default/pods", contentType: "application/json", body: podBody(n)).status, 201)
        }
        let r = call(s, "DELETE", "/api/v1/namespaces/default/pods", query: [("fieldSelector", "metadata.name!=b")])
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.json["kind"], "PodList")
        XCTAssertEqual(Set(r.names), ["a", "c"])
        XCTAssertEqual(call(s, "GET", "/api/v1/namespaces/default/pods").names, ["b"])
    }

    // MARK: - Patch

    func testMergePatch() throws {
        let s = try makeServer()
        let rv1 = createService(s).json["metadata"]["resourceVersion"].stringValue
        let p = call(s, "PATCH", servicesPath + "/web", contentType: "application/merge-patch+json",
                     body: #"{"metadata":{"labels":{"app":null,"team":"a"}}}"#)
        XCTAssertEqual(p.status, 200, p.text)
        XCTAssertEqual(p.json["metadata"]["labels"], ["team": "a"])
        XCTAssertNotEqual(p.json["metadata"]["resourceVersion"].stringValue, rv1)
        XCTAssertEqual(p.json["spec"]["ports"].arrayValue?.count, 1, "untouched fields stay")

        let again = call(s, "PATCH", servicesPath + "/web", contentType: "application/merge-patch+json",
                         body: #"{"metadata":{"labels":{"team":"a"}}}"#)
        XCTAssertEqual(again.status, 200)
        XCTAssertEqual(again.json["metadata"]["resourceVersion"], p.json["metadata"]["resourceVersion"], "a no-op patch keeps the RV")

        let stale = call(s, "PATCH", servicesPath + "/web", contentType: "application/merge-patch+json",
                         body: #"{"metadata":{"resourceVersion":"\#(rv1 ?? "")","labels":{"x":"y"}}}"#)
        assertStatus(stale, 409, "Conflict")

        // Merge patches replace lists wholesale.
        let lists = call(s, "PATCH", servicesPath + "/web", contentType: "application/merge-patch+json",
                         body: #"{"spec":{"ports":[{"port":81}]}}"#)
        XCTAssertEqual(lists.status, 200, lists.text)
        XCTAssertEqual(lists.json["spec"]["ports"].arrayValue?.count, 1)
        XCTAssertNil(lists.json["spec"]["ports"].arrayValue?.first?.objectValue?["name"])
        XCTAssertEqual(lists.json["spec"]["ports"].arrayValue?.first?["port"], 81)
    }

    func testJSONPatch() throws {
        let s = try makeServer()
        _ = createService(s)
        let p = call(s, "PATCH", servicesPath + "/web", contentType: "application/json-patch+json",
                     body: #"[{"op":"add","path":"/metadata/annotations","value":{"a":"1"}},{"op":"replace","path":"/spec/ports/0/port","value":8081}]"#)
        XCTAssertEqual(p.status, 200, p.text)
        XCTAssertEqual(p.json["metadata"]["annotations"], ["a": "1"])
        XCTAssertEqual(p.json["spec"]["ports"].arrayValue?.first?["port"], 8081)

        let failedTest = call(s, "PATCH", servicesPath + "/web", contentType: "application/json-patch+json",
                              body: #"[{"op":"test","path":"/metadata/annotations/a","value":"2"}]"#)
        XCTAssertEqual(failedTest.status, 422, failedTest.text)
        XCTAssertEqual(failedTest.json["reason"], "Invalid")

        assertStatus(call(s, "PATCH", servicesPath + "/web", contentType: "application/json-patch+json", body: #"{"op":"add"}"#),
                     400, "BadRequest")
    }

    func testStrategicMergePatchUsesMergeKeys() throws {
        let s = try makeServer(openAPI: true)
        _ = createService(s)
        let p = call(s, "PATCH", servicesPath + "/web", contentType: "application/strategic-merge-patch+json",
                     body: #"{"spec":{"$setElementOrder/ports":[{"port":80}],"ports":[{"port":80,"targetPort":9090}]}}"#)
        XCTAssertEqual(p.status, 200, p.text)
        let port = p.json["spec"]["ports"].arrayValue?.first ?? .null
        XCTAssertEqual(p.json["spec"]["ports"].arrayValue?.count, 1)
        XCTAssertEqual(port["name"], "http", "the element is merged by port, keeping its name")
        XCTAssertEqual(port["targetPort"], 9090)
        XCTAssertEqual(port["protocol"], "TCP")

        let add = call(s, "PATCH", servicesPath + "/web", contentType: "application/strategic-merge-patch+json",
                       body: #"{"spec":{"ports":[{"name":"https","port":443}]}}"#)
        XCTAssertEqual(add.status, 200, add.text)
        XCTAssertEqual(Set(add.json["spec"]["ports"].arrayValue?.compactMap { $0["port"].intValue } ?? []), [80, 443])

        let del = call(s, "PATCH", servicesPath + "/web", contentType: "application/strategic-merge-patch+json",
                       body: #"{"spec":{"ports":[{"port":443,"$patch":"delete"}]}}"#)
        XCTAssertEqual(del.status, 200, del.text)
        XCTAssertEqual(del.json["spec"]["ports"].arrayValue?.compactMap { $0["port"].intValue }, [80])

        let deploy = call(s, "POST", "/apis/apps/v1/namespaces/default/deployments", contentType: "application/json", body: deploymentBody)
        XCTAssertEqual(deploy.status, 201, deploy.text)
        let restart = call(s, "PATCH", "/apis/apps/v1/namespaces/default/deployments/web",
                           contentType: "application/strategic-merge-patch+json",
                           body: #"{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2024-01-01T00:00:00Z"}}}}}"#)
        XCTAssertEqual(restart.status, 200, restart.text)
        XCTAssertEqual(restart.json["metadata"]["generation"], 2, "a spec change bumps the generation")
        XCTAssertEqual(restart.json["spec"]["template"]["spec"]["containers"].arrayValue?.first?["name"], "c")
    }

    func testPatchErrors() throws {
        let s = try makeServer()
        _ = createService(s)
        let unsupported = call(s, "PATCH", servicesPath + "/web", contentType: "text/plain", body: "{}")
        assertStatus(unsupported, 415, "UnsupportedMediaType")
        XCTAssertTrue(unsupported.json["message"].stringValue?.hasPrefix("the body of the request was in an unknown format - accepted media types include: ") ?? false)
        assertStatus(call(s, "PATCH", servicesPath + "/web", contentType: nil, body: "{}"), 415, "UnsupportedMediaType")
        assertStatus(call(s, "PATCH", servicesPath + "/missing", contentType: "application/merge-patch+json", body: "{}"),
                     404, "NotFound", message: "services \"missing\" not found")
        assertStatus(call(s, "PATCH", servicesPath + "/web", contentType: "application/merge-patch+json", body: "{nope"), 400, "BadRequest")
        assertStatus(call(s, "PATCH", servicesPath + "/web", contentType: "application/merge-patch+json", body: "[]"), 400, "BadRequest")
        assertStatus(call(s, "PATCH", servicesPath + "/web", query: [("force", "true")], contentType: "application/merge-patch+json", body: "{}"),
                     422, "Invalid")
        // A patch that makes the object invalid is rejected and not stored.
        let invalid = call(s, "PATCH", servicesPath + "/web", contentType: "application/merge-patch+json", body: #"{"spec":{"ports":null}}"#)
        assertStatus(invalid, 422, "Invalid", message: "Service \"web\" is invalid: spec.ports: Required value")
        XCTAssertEqual(call(s, "GET", servicesPath + "/web").json["spec"]["ports"].arrayValue?.count, 1)
    }

    // MARK: - Tables

    func testTableList() throws {
        let s = try makeServer()
        let t = call(s, "GET", "/api/v1/namespaces", accept: Self.tableAccept)
        XCTAssertEqual(t.status, 200, t.text)
        XCTAssertEqual(t.json["kind"], "Table")
        XCTAssertEqual(t.json["apiVersion"], "meta.k8s.io/v1")
        XCTAssertNotNil(UInt64(t.rv), "Table.metadata.resourceVersion is what get -w watches from")
        let columns = t.json["columnDefinitions"].arrayValue ?? []
        XCTAssertEqual(columns.compactMap { $0["name"].stringValue }, ["Name", "Status", "Age"])
        XCTAssertEqual(columns.first?["type"], "string")
        XCTAssertEqual(columns.first?["format"], "name")
        let rows = t.json["rows"].arrayValue ?? []
        XCTAssertEqual(rows.compactMap { $0["cells"].arrayValue?.first?.stringValue }, ["default", "kube-node-lease", "kube-public", "kube-system"])
        XCTAssertEqual(rows.first?["cells"].arrayValue?[1], "Active")
        let obj = rows.first?["object"] ?? .null
        XCTAssertEqual(obj["kind"], "PartialObjectMetadata")
        XCTAssertEqual(obj["apiVersion"], "meta.k8s.io/v1")
        XCTAssertEqual(obj["metadata"]["name"], "default")
        XCTAssertNil(obj.objectValue?["spec"], "metadata only by default")

        let full = call(s, "GET", "/api/v1/namespaces", query: [("includeObject", "Object")], accept: Self.tableAccept)
        XCTAssertEqual(full.json["rows"].arrayValue?.first?["object"]["kind"], "Namespace")
        XCTAssertNotNil(full.json["rows"].arrayValue?.first?["object"]["spec"].objectValue)
        let none = call(s, "GET", "/api/v1/namespaces", query: [("includeObject", "None")], accept: Self.tableAccept)
        XCTAssertNil(none.json["rows"].arrayValue?.first?.objectValue?["object"])

        let paged = call(s, "GET", "/api/v1/namespaces", query: [("limit", "1")], accept: Self.tableAccept)
        XCTAssertEqual(paged.json["rows"].arrayValue?.count, 1)
        XCTAssertFalse((paged.json["metadata"]["continue"].stringValue ?? "").isEmpty, "Tables page like lists")

        let v1beta1 = call(s, "GET", "/api/v1/namespaces", accept: "application/json;as=Table;v=v1beta1;g=meta.k8s.io")
        XCTAssertEqual(v1beta1.json["kind"], "Table")
    }

    func testTableForOneObjectAndOtherKinds() throws {
        let s = try makeServer()
        _ = createService(s)
        let t = call(s, "GET", servicesPath + "/web", accept: Self.tableAccept)
        XCTAssertEqual(t.status, 200, t.text)
        XCTAssertEqual(t.json["kind"], "Table")
        let rows = t.json["rows"].arrayValue ?? []
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows.first?["cells"].arrayValue?.first, "web")
        XCTAssertEqual(rows.first?["object"]["metadata"]["namespace"], "default")
        let names = t.json["columnDefinitions"].arrayValue?.compactMap { $0["name"].stringValue } ?? []
        XCTAssertEqual(Array(names.prefix(3)), ["Name", "Type", "Cluster-IP"])
    }

    func testNotAcceptable() throws {
        let s = try makeServer()
        assertStatus(call(s, "GET", "/api/v1/namespaces", accept: "application/yaml"), 406, "NotAcceptable")
        assertStatus(call(s, "GET", "/api/v1/namespaces", accept: "application/json;as=Table;v=v2;g=meta.k8s.io"), 406, "NotAcceptable")
        XCTAssertEqual(call(s, "GET", "/api/v1/namespaces", accept: "application/vnd.kubernetes.protobuf,application/json").status, 200)
        XCTAssertEqual(call(s, "GET", "/api/v1/namespaces", accept: "*/*").status, 200)
    }

    // MARK: - Paging and resourceVersion

    func testContinueTokens() throws {
        let s = try makeServer()
        let p1 = call(s, "GET", "/api/v1/namespaces", query: [("limit", "2")])
        XCTAssertEqual(p1.status, 200)
        XCTAssertEqual(p1.names, ["default", "kube-node-lease"])
        let token = try XCTUnwrap(p1.json["metadata"]["continue"].stringValue)
        XCTAssertFalse(token.isEmpty)
        XCTAssertEqual(p1.json["metadata"]["remainingItemCount"], 2)

        // A write between pages does not show up: pages are a snapshot at the first page's RV.
        XCTAssertEqual(call(s, "POST", "/api/v1/namespaces", contentType: "application/json",
                            body: #"{"metadata":{"name":"zzz"}}"#).status, 201)
        let p2 = call(s, "GET", "/api/v1/namespaces", query: [("limit", "2"), ("continue", token)])
        XCTAssertEqual(p2.status, 200, p2.text)
        XCTAssertEqual(p2.names, ["kube-public", "kube-system"])
        XCTAssertEqual(p2.rv, p1.rv, "continued pages report the snapshot RV")
        XCTAssertNil(p2.json["metadata"].objectValue?["continue"], "last page of the snapshot")
        XCTAssertNil(p2.json["metadata"].objectValue?["remainingItemCount"])

        XCTAssertEqual(call(s, "GET", "/api/v1/namespaces").names.last, "zzz")

        assertStatus(call(s, "GET", "/api/v1/namespaces", query: [("continue", token), ("resourceVersion", "3")]), 400, "BadRequest",
                     message: "specifying resource version is not allowed when using continue")
        assertStatus(call(s, "GET", "/api/v1/namespaces", query: [("continue", "garbage!")]), 400, "BadRequest")
        assertStatus(call(s, "GET", "/api/v1/namespaces", query: [("continue", token), ("resourceVersionMatch", "NotOlderThan")]),
                     422, "Invalid")
    }

    func testExpiredContinueTokenAndResourceVersionAre410() throws {
        let s = try makeServer { $0.eventHistory = 4 }
        let p1 = call(s, "GET", "/api/v1/namespaces", query: [("limit", "1")])
        let token = try XCTUnwrap(p1.json["metadata"]["continue"].stringValue)
        let firstRV = p1.rv
        for i in 0..<6 {
            XCTAssertEqual(call(s, "POST", "/api/v1/namespaces", contentType: "application/json",
                                body: #"{"metadata":{"name":"n\#(i)"}}"#).status, 201)
        }
        let expired = call(s, "GET", "/api/v1/namespaces", query: [("limit", "1"), ("continue", token)])
        assertStatus(expired, 410, "Expired")
        XCTAssertTrue(expired.json["message"].stringValue?.hasPrefix("The provided continue parameter is too old") ?? false, expired.text)

        let tooOld = call(s, "GET", "/api/v1/namespaces", query: [("limit", "1"), ("resourceVersion", firstRV), ("resourceVersionMatch", "Exact")])
        assertStatus(tooOld, 410, "Expired")
        XCTAssertTrue(tooOld.json["message"].stringValue?.hasPrefix("too old resource version: \(firstRV) (") ?? false, tooOld.text)
    }

    func testListAtExactResourceVersion() throws {
        let s = try makeServer()
        let before = call(s, "GET", "/api/v1/namespaces").rv
        XCTAssertEqual(call(s, "POST", "/api/v1/namespaces", contentType: "application/json", body: #"{"metadata":{"name":"later"}}"#).status, 201)
        let exact = call(s, "GET", "/api/v1/namespaces", query: [("resourceVersion", before), ("resourceVersionMatch", "Exact")])
        XCTAssertEqual(exact.status, 200, exact.text)
        XCTAssertEqual(exact.rv, before)
        XCTAssertFalse(exact.names.contains("later"))
        let notOlder = call(s, "GET", "/api/v1/namespaces", query: [("resourceVersion", before), ("resourceVersionMatch", "NotOlderThan")])
        XCTAssertTrue(notOlder.names.contains("later"))
        let any = call(s, "GET", "/api/v1/namespaces", query: [("resourceVersion", "0")])
        XCTAssertTrue(any.names.contains("later"))
    }

    func testListOptionValidation() throws {
        let s = try makeServer()
        assertStatus(call(s, "GET", "/api/v1/namespaces", query: [("resourceVersionMatch", "Exact")]), 422, "Invalid")
        assertStatus(call(s, "GET", "/api/v1/namespaces", query: [("resourceVersion", "0"), ("resourceVersionMatch", "Exact")]), 422, "Invalid")
        assertStatus(call(s, "GET", "/api/v1/namespaces", query: [("resourceVersion", "1"), ("resourceVersionMatch", "Bogus")]), 422, "Invalid")
        assertStatus(call(s, "GET", "/api/v1/namespaces", query: [("sendInitialEvents", "true")]), 422, "Invalid")
        assertStatus(call(s, "GET", "/api/v1/namespaces", query: [("resourceVersion", "abc")]), 400, "BadRequest")
        assertStatus(call(s, "GET", "/api/v1/namespaces", query: [("limit", "many")]), 400, "BadRequest")
    }

    // MARK: - Errors

    func testSelectorErrorsAre400() throws {
        let s = try makeServer()
        assertStatus(call(s, "GET", servicesPath, query: [("labelSelector", "a in b")]), 400, "BadRequest")
        assertStatus(call(s, "GET", servicesPath, query: [("fieldSelector", "foo=bar")]), 400, "BadRequest",
                     message: "field label not supported: foo")
        assertStatus(call(s, "GET", "/apis/apps/v1/deployments", query: [("fieldSelector", "spec.replicas=1")]), 400, "BadRequest",
                     message: "\"spec.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")
        assertStatus(call(s, "GET", servicesPath, query: [("fieldSelector", #"metadata.name=a\b"#)]), 400, "BadRequest")
        assertStatus(call(s, "GET", "/api/v1/nodes", query: [("fieldSelector", "metadata.namespace=x")]), 400, "BadRequest",
                     message: "field label not supported: metadata.namespace")
    }

    func testCreateConflictsAndValidation() throws {
        let s = try makeServer()
        _ = createService(s)
        let dup = call(s, "POST", servicesPath, contentType: "application/json", body: serviceBody("web"))
        assertStatus(dup, 409, "AlreadyExists", message: "services \"web\" already exists")
        XCTAssertEqual(dup.json["details"]["kind"], "services")

        let invalid = call(s, "POST", servicesPath, contentType: "application/json",
                           body: #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"},"spec":{}}"#)
        assertStatus(invalid, 422, "Invalid", message: "Service \"x\" is invalid: spec.ports: Required value")
        XCTAssertEqual(invalid.json["details"]["kind"], "Service", "Invalid uses the Kind")
        XCTAssertEqual(invalid.json["details"]["name"], "x")
        XCTAssertEqual(invalid.json["details"]["causes"], [["reason": "FieldValueRequired", "message": "Required value", "field": "spec.ports"]])
        assertStatus(call(s, "GET", servicesPath + "/x"), 404, "NotFound")

        let multi = call(s, "POST", servicesPath, contentType: "application/json",
                         body: #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"Bad_Name"},"spec":{}}"#)
        assertStatus(multi, 422, "Invalid")
        let msg = multi.json["message"].stringValue ?? ""
        XCTAssertTrue(msg.hasPrefix("Service \"Bad_Name\" is invalid: [metadata.name: Invalid value: \"Bad_Name\": "), msg)
        XCTAssertTrue(msg.hasSuffix(", spec.ports: Required value]"), msg)

        let noName = call(s, "POST", servicesPath, contentType: "application/json",
                          body: #"{"apiVersion":"v1","kind":"Service","metadata":{},"spec":{"ports":[{"port":80}]}}"#)
        assertStatus(noName, 422, "Invalid", message: "Service \"\" is invalid: metadata.name: Required value: name or generateName is required")
    }

    func testBadBodiesAre400() throws {
        let s = try makeServer()
        assertStatus(call(s, "POST", servicesPath, contentType: "application/json", body: "{not json"), 400, "BadRequest")
        assertStatus(call(s, "POST", servicesPath, contentType: "application/json", body: "[]"), 400, "BadRequest")
        assertStatus(call(s, "POST", servicesPath, contentType: "application/json", body: ""), 400, "BadRequest")
        assertStatus(call(s, "POST", servicesPath, contentType: "application/json",
                          body: #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}"#), 400, "BadRequest")
        assertStatus(call(s, "POST", servicesPath, contentType: "application/json",
                          body: #"{"apiVersion":"apps/v1","kind":"Service","metadata":{"name":"x"}}"#), 400, "BadRequest")
        assertStatus(call(s, "POST", servicesPath, contentType: "application/json", body: serviceBody("x", ns: "kube-system")),
                     400, "BadRequest", message: "the namespace of the provided object does not match the namespace sent on the request")
        assertStatus(call(s, "POST", servicesPath, query: [("dryRun", "Some")], contentType: "application/json", body: serviceBody("x")),
                     400, "BadRequest")
    }

    func testCreateInMissingNamespaceIs404() throws {
        let s = try makeServer()
        let r = call(s, "POST", "/api/v1/namespaces/nope/services", contentType: "application/json", body: serviceBody("x"))
        assertStatus(r, 404, "NotFound", message: "namespaces \"nope\" not found")
    }

    func testUnsupportedBodyMediaTypeIs415() throws {
        let s = try makeServer()
        let r = call(s, "POST", servicesPath, contentType: "application/xml", body: "<metadata/>")
        assertStatus(r, 415, "UnsupportedMediaType")
        XCTAssertEqual(call(s, "POST", servicesPath, contentType: "application/json; charset=utf-8", body: serviceBody("cs")).status, 201)
    }

    func testBodyTooLargeIs413() throws {
        let s = try makeServer()
        let r = call(s, "POST", servicesPath, contentType: "application/json", tooLarge: true)
        assertStatus(r, 413, "RequestEntityTooLarge", message: "Request entity too large: limit is \(ServerConfig().maxBodyBytes)")
    }

    func testMethodNotAllowed() throws {
        let s = try makeServer()
        _ = createService(s)
        assertStatus(call(s, "DELETE", "/api/v1/namespaces"), 405, "MethodNotAllowed",
                     message: "deletecollection is not supported on resources of kind \"namespaces\"")
        assertStatus(call(s, "POST", servicesPath + "/web", contentType: "application/json", body: serviceBody("web")), 405, "MethodNotAllowed")
        assertStatus(call(s, "PUT", servicesPath, contentType: "application/json", body: serviceBody("web")), 405, "MethodNotAllowed")
        assertStatus(call(s, "PATCH", servicesPath, contentType: "application/merge-patch+json", body: "{}"), 405, "MethodNotAllowed")
        assertStatus(call(s, "POST", "/api/v1/services", contentType: "application/json", body: serviceBody("web")), 405, "MethodNotAllowed")
        XCTAssertEqual(call(s, "POST", "/api/v1/namespaces/default/pods", contentType: "application/json", body: podBody("p")).status, 201)
        assertStatus(call(s, "GET", "/api/v1/namespaces/default/pods/p/eviction"), 405, "MethodNotAllowed",
                     message: "get is not supported on resources of kind \"pods/eviction\"")
    }

    func testFieldValidationAgainstOpenAPISchemas() throws {
        let s = try makeServer(openAPI: true)
        let body = #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"fv","bogus":1},"spec":{"ports":[{"port":80,"nope":true}]}}"#
        let strict = call(s, "POST", servicesPath, query: [("fieldValidation", "Strict")], contentType: "application/json", body: body)
        assertStatus(strict, 400, "BadRequest")
        let msg = strict.json["message"].stringValue ?? ""
        XCTAssertTrue(msg.hasPrefix("Service in version \"v1\" cannot be handled as a Service: strict decoding error: "), msg)
        XCTAssertTrue(msg.contains("unknown field \"metadata.bogus\""), msg)
        XCTAssertTrue(msg.contains("unknown field \"spec.ports[0].nope\""), msg)
        assertStatus(call(s, "GET", servicesPath + "/fv"), 404, "NotFound")

        let warn = call(s, "POST", servicesPath, query: [("fieldValidation", "Warn")], contentType: "application/json", body: body)
        XCTAssertEqual(warn.status, 201, warn.text)
        let warnings = warn.headers.filter { $0.0.lowercased() == "warning" }.map(\.1)
        XCTAssertTrue(warnings.contains("299 - \"unknown field \\\"metadata.bogus\\\"\""), "\(warnings)")
        XCTAssertEqual(warnings.count, 2)
        // Like a typed decode upstream, unknown fields are dropped, not stored.
        let stored = call(s, "GET", servicesPath + "/fv").json
        XCTAssertNil(stored["metadata"].objectValue?["bogus"], JSONWriter.string(stored))
        XCTAssertNil(stored["spec"]["ports"].arrayValue?.first?.objectValue?["nope"])

        let ignore = call(s, "POST", servicesPath, query: [("fieldValidation", "Ignore")], contentType: "application/json",
                          body: body.replacingOccurrences(of: "\"fv\"", with: "\"fv2\""))
        XCTAssertEqual(ignore.status, 201, ignore.text)
        XCTAssertTrue(ignore.headers.filter { $0.0.lowercased() == "warning" }.isEmpty)
        assertStatus(call(s, "POST", servicesPath, query: [("fieldValidation", "Loud")], contentType: "application/json",
                          body: serviceBody("fv3")), 400, "BadRequest")
    }

    // MARK: - Dry run

    func testDryRunDoesNotPersist() throws {
        let s = try makeServer()
        let rvBefore = s.store.currentResourceVersion
        let c = call(s, "POST", servicesPath, query: [("dryRun", "All")], contentType: "application/json", body: serviceBody("dry"))
        XCTAssertEqual(c.status, 201, c.text)
        XCTAssertEqual(c.json["metadata"]["name"], "dry")
        XCTAssertFalse((c.json["metadata"]["uid"].stringValue ?? "").isEmpty, "dry run still fills server fields")
        assertStatus(call(s, "GET", servicesPath + "/dry"), 404, "NotFound")
        XCTAssertEqual(s.store.currentResourceVersion, rvBefore, "nothing was written")

        let real = createService(s).json
        let rvAfterCreate = s.store.currentResourceVersion
        let dryPatch = call(s, "PATCH", servicesPath + "/web", query: [("dryRun", "All")], contentType: "application/merge-patch+json",
                            body: #"{"metadata":{"labels":{"dry":"yes"}}}"#)
        XCTAssertEqual(dryPatch.status, 200, dryPatch.text)
        XCTAssertEqual(dryPatch.json["metadata"]["labels"]["dry"], "yes", "the reply shows the would-be result")
        XCTAssertNil(call(s, "GET", servicesPath + "/web").json["metadata"]["labels"].objectValue?["dry"])

        var updated = real.objectValue!
        updated.withObject("metadata") { $0.withObject("labels") { $0["dry"] = "put" } }
        let dryPut = call(s, "PUT", servicesPath + "/web", query: [("dryRun", "All")], contentType: "application/json",
                          body: JSONWriter.string(.object(updated)))
        XCTAssertEqual(dryPut.status, 200, dryPut.text)
        XCTAssertEqual(dryPut.json["metadata"]["labels"]["dry"], "put")
        XCTAssertNil(call(s, "GET", servicesPath + "/web").json["metadata"]["labels"].objectValue?["dry"])

        let dryDelete = call(s, "DELETE", servicesPath + "/web", query: [("dryRun", "All")])
        XCTAssertEqual(dryDelete.status, 200, dryDelete.text)
        XCTAssertEqual(call(s, "GET", servicesPath + "/web").status, 200, "dry-run delete keeps the object")
        // Controllers may write other objects (the Service's Endpoints and slices) meanwhile; the Service itself is untouched.
        _ = rvAfterCreate
        XCTAssertEqual(call(s, "GET", servicesPath + "/web").json["metadata"]["resourceVersion"],
                       real["metadata"]["resourceVersion"], "no dry run wrote anything")
    }

    // MARK: - Namespace deletion

    func testDeletingANamespaceEmptiesAndRemovesIt() throws {
        let s = try makeServer()
        XCTAssertEqual(call(s, "POST", "/api/v1/namespaces", contentType: "application/json",
                            body: #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"doomed"}}"#).status, 201)
        let base = "/api/v1/namespaces/doomed"
        XCTAssertEqual(call(s, "POST", base + "/services", contentType: "application/json", body: serviceBody("svc")).status, 201)
        XCTAssertEqual(call(s, "POST", base + "/pods", contentType: "application/json", body: podBody("p1")).status, 201)
        XCTAssertEqual(call(s, "POST", base + "/pods", contentType: "application/json", body: podBody("p2")).status, 201)
        XCTAssertEqual(call(s, "POST", "/apis/apps/v1/namespaces/doomed/deployments", contentType: "application/json",
                            body: deploymentBody).status, 201)

        let d = call(s, "DELETE", base)
        XCTAssertEqual(d.status, 200, d.text)
        XCTAssertEqual(d.json["kind"], "Namespace")
        XCTAssertEqual(d.json["status"]["phase"], "Terminating")
        XCTAssertNotNil(d.json["metadata"]["deletionTimestamp"].stringValue)

        XCTAssertTrue(eventually { call(s, "GET", base).status == 404 }, "namespace should disappear")
        XCTAssertEqual(call(s, "GET", base + "/pods").items.count, 0)
        XCTAssertEqual(call(s, "GET", base + "/services").items.count, 0)
        XCTAssertEqual(call(s, "GET", "/apis/apps/v1/namespaces/doomed/deployments").items.count, 0)
        XCTAssertEqual(call(s, "GET", "/api/v1/namespaces/default/services").names, ["kubernetes"], "other namespaces are untouched")
    }

    func testTerminatingNamespaceRefusesNewContentUntilFinalizersClear() throws {
        let s = try makeServer()
        XCTAssertEqual(call(s, "POST", "/api/v1/namespaces", contentType: "application/json",
                            body: #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"held"}}"#).status, 201)
        let base = "/api/v1/namespaces/held"
        XCTAssertEqual(call(s, "POST", base + "/pods", contentType: "application/json", body: podBody("p", finalizers: ["example.com/hold"])).status, 201)
        XCTAssertEqual(call(s, "DELETE", base).status, 200)

        // The controller asks the pod to go; its finalizer keeps it (and so the namespace).
        XCTAssertTrue(eventually { call(s, "GET", base + "/pods/p").json["metadata"]["deletionTimestamp"].stringValue != nil })
        XCTAssertEqual(call(s, "GET", base).json["status"]["phase"], "Terminating")

        let refused = call(s, "POST", base + "/services", contentType: "application/json", body: serviceBody("late"))
        assertStatus(refused, 403, "Forbidden",
                     message: "services \"late\" is forbidden: unable to create new content in namespace held because it is being terminated")
        XCTAssertEqual(refused.json["details"]["causes"].arrayValue?.first?["reason"], "NamespaceTerminating")

        let release = call(s, "PATCH", base + "/pods/p", contentType: "application/merge-patch+json", body: #"{"metadata":{"finalizers":null}}"#)
        XCTAssertEqual(release.status, 200, release.text)
        XCTAssertTrue(eventually { call(s, "GET", base).status == 404 }, "namespace should go once its last object is gone")
        assertStatus(call(s, "GET", base + "/pods/p"), 404, "NotFound")
    }

    // MARK: - Watch (stream body fed in-process)

    /// Runs a watch response's stream callback against an unattached stream and returns its parsed lines.
    func watchLines(_ stream: ResponseStream) -> [JSON] {
        let bytes = stream.state.withLock { s -> [UInt8] in
            guard s.head < s.pending.count else { return [] }
            return Array(s.pending[s.head][s.offset...]) + s.pending[(s.head + 1)...].flatMap { $0 }
        }
        return bytes.split(separator: 0x0a).compactMap { try? JSONParser.parse(Array($0)) }
    }

    func startWatch(_ r: Reply) -> ResponseStream? {
        guard case .stream(let feed) = r.response.body else { XCTFail("not a stream: \(r.text)"); return nil }
        let stream = ResponseStream()
        feed(stream)
        return stream
    }

    func testWatchSendsInitialStateThenChanges() throws {
        let s = try makeServer()
        let r = call(s, "GET", "/api/v1/namespaces", query: [("watch", "true")])
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.header("Content-Type"), "application/json")
        let stream = try XCTUnwrap(startWatch(r))
        let initial = watchLines(stream)
        XCTAssertEqual(initial.map { $0["type"].stringValue ?? "" }, ["ADDED", "ADDED", "ADDED", "ADDED"])
        XCTAssertEqual(initial.first?["object"]["kind"], "Namespace")

        XCTAssertEqual(call(s, "POST", "/api/v1/namespaces", contentType: "application/json", body: #"{"metadata":{"name":"w1"}}"#).status, 201)
        XCTAssertEqual(call(s, "PATCH", "/api/v1/namespaces/w1", contentType: "application/merge-patch+json",
                            body: #"{"metadata":{"labels":{"x":"y"}}}"#).status, 200)
        XCTAssertTrue(eventually(5) { watchLines(stream).count >= 6 })
        let lines = watchLines(stream)
        XCTAssertEqual(lines.dropFirst(4).map { $0["type"].stringValue ?? "" }, ["ADDED", "MODIFIED"])
        XCTAssertEqual(lines.last?["object"]["metadata"]["labels"]["x"], "y")
    }

    func testWatchFromResourceVersionWithSelector() throws {
        let s = try makeServer()
        let rv = call(s, "GET", "/api/v1/namespaces").rv
        let r = call(s, "GET", "/api/v1/namespaces", query: [("watch", "1"), ("resourceVersion", rv), ("fieldSelector", "metadata.name=w2")])
        let stream = try XCTUnwrap(startWatch(r))
        XCTAssertEqual(watchLines(stream).count, 0, "no synthetic ADDED when starting from an RV")
        XCTAssertEqual(call(s, "POST", "/api/v1/namespaces", contentType: "application/json", body: #"{"metadata":{"name":"other"}}"#).status, 201)
        XCTAssertEqual(call(s, "POST", "/api/v1/namespaces", contentType: "application/json", body: #"{"metadata":{"name":"w2"}}"#).status, 201)
        XCTAssertTrue(eventually(5) { watchLines(stream).count >= 1 })
        let lines = watchLines(stream)
        XCTAssertEqual(lines.count, 1)
        XCTAssertEqual(lines.first?["type"], "ADDED")
        XCTAssertEqual(lines.first?["object"]["metadata"]["name"], "w2")
    }

    func testWatchFromCompactedResourceVersionEndsWith410Event() throws {
        let s = try makeServer { $0.eventHistory = 3 }
        for i in 0..<5 {
            XCTAssertEqual(call(s, "POST", "/api/v1/namespaces", contentType: "application/json", body: #"{"metadata":{"name":"c\#(i)"}}"#).status, 201)
        }
        let r = call(s, "GET", "/api/v1/namespaces", query: [("watch", "true"), ("resourceVersion", "1")])
        XCTAssertEqual(r.status, 200, "too-old watches are accepted, then ended with an ERROR event")
        let stream = try XCTUnwrap(startWatch(r))
        let lines = watchLines(stream)
        XCTAssertEqual(lines.count, 1)
        XCTAssertEqual(lines.first?["type"], "ERROR")
        let status = lines.first?["object"] ?? .null
        XCTAssertEqual(status["kind"], "Status")
        XCTAssertEqual(status["code"], 410)
        XCTAssertEqual(status["reason"], "Expired")
        XCTAssertTrue(status["message"].stringValue?.hasPrefix("too old resource version: 1 (") ?? false)
        XCTAssertTrue(stream.state.withLock { $0.finishing }, "the stream is finished after the error")
    }
}
