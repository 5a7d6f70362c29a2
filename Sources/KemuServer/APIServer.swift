import FoundationEssentials
import KemuAPI
import KemuControllers
import KemuHTTP
import KemuMetrics
import KemuRegistry
import KemuStore
import KemuYAML

/// Server-wide settings.
public struct ServerConfig: Sendable {
    public var eventHistory = 10_000
    public var watchBookmarkIntervalSeconds = 60.0
    /// A watcher with more than this many bytes unsent is ended with an error event.
    public var maxWatchBufferBytes = 16 * 1024 * 1024
    public var maxBodyBytes = 3 * 1024 * 1024
    public var openAPIDirectory: String?
    public var serviceCIDR = "10.96.0.0/12"
    public var serviceCIDRv6 = "fd00:10:96::/112"
    public var terminationGraceScale = 0.0
    public var advertisedAddress = "127.0.0.1:8080"
    public var controllers = ControllerOptions()
    /// What happens to a client's write of a controller-managed EndpointSlice or Endpoints object.
    public var derivedWrites = DerivedWritePolicy.reject
    /// `--event-ttl`: seconds an Event lives after its last write (0: forever).
    public var eventTTLSeconds = 3600.0
    public init() {}
}

/// `--derived-writes`: how client writes to controller-managed objects are handled.
public enum DerivedWritePolicy: String, Sendable, CaseIterable {
    /// 403 Forbidden naming the controller and the source objects to change instead.
    case reject
    /// Accepted with a `Warning` header; the controller reconciles the object back.
    case warn
    /// Accepted silently, as upstream does.
    case allow
}

/// The Kubernetes REST API: routes each request to discovery, OpenAPI or a resource handler.
public final class APIServer: HTTPHandler {
    public let config: ServerConfig
    public let store: Store
    public let registry: Registry
    public let storage: ObjectStorage
    public let allocators: ClusterAllocators
    let openAPI: OpenAPIDocuments
    let discovery: Discovery
    let controllers: ControllerManager
    let eventExpiry: EventExpiry?

    public init(config: ServerConfig) {
        self.config = config
        registry = Registry.standard
        store = Store(eventHistory: config.eventHistory)
        allocators = ClusterAllocators(serviceCIDRv4: config.serviceCIDR, serviceCIDRv6: config.serviceCIDRv6)
        openAPI = OpenAPIDocuments(directory: config.openAPIDirectory)
        storage = ObjectStorage(store: store, registry: registry, context: allocators,
                                terminationGraceScale: config.terminationGraceScale, schemas: openAPI.schemaIndex)
        discovery = Discovery(registry: registry)
        controllers = ControllerManager(storage: storage, options: config.controllers)
        eventExpiry = config.eventTTLSeconds > 0 ? EventExpiry(store: store, ttlSeconds: config.eventTTLSeconds) : nil
    }

    /// Seeds the objects every cluster has and starts the watch hub and controllers.
    public func start() throws {
        try Bootstrap.seed(storage: storage, allocators: allocators)
        try controllers.bootstrap()
        store.hub.start(initialRV: store.currentResourceVersion)
        eventExpiry?.start()
        controllers.start()
    }

    public func stop() {
        controllers.stop()
        eventExpiry?.stop()
        store.hub.stop()
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let start = MonotonicClock.nanos()
        let route = Router.route(request.path, registry: registry)
        let response = request.bodyTooLarge ? Respond.error(APIError.tooLarge(config.maxBodyBytes)) : respond(route, request)
        return APIMetrics.record(route, request, response, startNanos: start)
    }

    func respond(_ route: Route, _ request: HTTPRequest) -> HTTPResponse {
        switch route {
        case .health:
            return request.method == "GET" || request.method == "HEAD" ? .text(200, "ok") : Respond.error(.methodNotAllowed(request.method, "healthz"))
        case .version:
            return Respond.json(200, Version.info)
        case .metrics:
            return request.method == "GET" || request.method == "HEAD" ? APIMetrics.scrape(self) : Respond.error(.methodNotAllowed(request.method, "metrics"))
        case .apiVersions:
            return discovery.apiVersions(request, serverAddress: config.advertisedAddress)
        case .apiGroupList:
            return discovery.apiGroupList(request)
        case .apiGroup(let g):
            return discovery.apiGroup(g)
        case .resourceList(let g, let v):
            return discovery.resourceList(group: g, version: v)
        case .openAPIIndex:
            return openAPI.index()
        case .openAPIDocument(let path):
            return openAPI.document(path)
        case .resource(let r):
            return handleResource(r, request)
        case .notFound:
            return Respond.error(.pathNotFound())
        }
    }

    func handleResource(_ r: ResourceRequest, _ req: HTTPRequest) -> HTTPResponse {
        do {
            let ctx = RequestContext(request: req, resource: r)
            switch (req.method, r.name, r.subresource) {
            case ("GET", nil, nil):
                if r.legacyWatch || ctx.isWatch { return try WatchHandler.watch(self, ctx) }
                return try ReadHandler.list(self, ctx)
            case ("GET", .some, nil):
                if r.legacyWatch { return try WatchHandler.watch(self, ctx) }
                return try ReadHandler.get(self, ctx)
            case ("POST", nil, nil):
                return try WriteHandler.create(self, ctx)
            case ("PUT", .some, nil):
                return try WriteHandler.update(self, ctx)
            case ("PATCH", .some, nil):
                return try WriteHandler.patch(self, ctx)
            case ("DELETE", .some, nil):
                return try WriteHandler.delete(self, ctx)
            case ("DELETE", nil, nil):
                return try WriteHandler.deleteCollection(self, ctx)
            case (_, .some, .some(let sub)):
                return try SubresourceHandler.handle(self, ctx, subresource: sub)
            default:
                let verb: String
                switch req.method {
                case "POST": verb = "create"
                case "PUT": verb = "update"
                case "PATCH": verb = "patch"
                case "DELETE": verb = "delete"
                case "GET": verb = "get"
                default: verb = req.method
                }
                return Respond.error(.methodNotAllowed(verb, r.kind.resource))
            }
        } catch let e as APIError {
            return Respond.error(e)
        } catch let e as StoreError {
            return Respond.error(e.apiError)
        } catch {
            return Respond.error(.internalError("\(error)"))
        }
    }
}

extension StoreError {
    var apiError: APIError {
        switch self {
        case .expired(let requested, let compacted):
            return .expired("too old resource version: \(requested) (\(compacted))")
        }
    }
}

enum Version {
    static let info: JSON = [
        "major": "1", "minor": "32", "emulationMajor": "1", "emulationMinor": "32",
        "minCompatibilityMajor": "1", "minCompatibilityMinor": "31",
        "gitVersion": "v1.32.4-kemu", "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2026-11-25T00:00:00Z", "goVersion": "go1.23.8", "compiler": "gc", "platform": "linux/amd64",
    ]
}

/// Per-request view: the addressed resource and parsed query parameters.
struct RequestContext {
    let request: HTTPRequest
    let resource: ResourceRequest
    var kind: ResourceKind { resource.kind }
    var namespace: String { resource.namespace }

    init(request: HTTPRequest, resource: ResourceRequest) {
        self.request = request
        self.resource = resource
    }

    func query(_ name: String) -> String? { request.query(name) }

    func bool(_ name: String) -> Bool {
        guard let v = request.query(name) else { return false }
        return v == "true" || v == "1" || v.isEmpty
    }

    var isWatch: Bool {
        guard let v = request.query("watch") else { return false }
        return v == "true" || v == "1"
    }

    var isDryRun: Bool { request.queryItems.contains { $0.name == "dryRun" && $0.value == "All" } }

    func checkDryRun() throws {
        for item in request.queryItems where item.name == "dryRun" && item.value != "All" {
            throw APIError.badRequest("unsupported dryRun value \"\(item.value)\": only \"All\" is supported")
        }
    }

    func format() throws -> ResponseFormat {
        try ResponseFormat.negotiate(accept: request.header("accept"), includeObject: query("includeObject"))
    }

    func parseBody() throws -> JSONObject {
        let ct = (request.header("content-type") ?? "").split(separator: ";").first.map { $0.trimmingWhitespace().lowercased() } ?? ""
        if ct == "application/vnd.kubernetes.protobuf" {
            throw APIError(code: 415, reason: "UnsupportedMediaType",
                           message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (kemu does not decode protobuf bodies yet; kubectl's imperative `create <kind>` sends them: use `kubectl create -f` instead)")
        }
        if ct == "application/yaml" { return try BodyDecoder.yamlObject(request.body, kind: kind) }
        if !ct.isEmpty && ct != "application/json" && ct != "*/*" {
            throw APIError.unsupportedMediaType(ct, accepted: ["application/json", "application/yaml"])
        }
        return try BodyDecoder.object(request.body, kind: kind)
    }
}

enum BodyDecoder {
    static func object(_ body: [UInt8], kind: ResourceKind) throws -> JSONObject {
        if body.isEmpty {
            throw APIError.badRequest("Object 'Kind' is missing in ''")
        }
        let json: JSON
        do {
            json = try JSONParser.parse(body)
        } catch {
            throw APIError.badRequest("the object provided is unrecognized (must be of type \(kind.kind)): couldn't get version/kind; json parse error: \(error.message)")
        }
        guard case .object(let o) = json else {
            throw APIError.badRequest("the object provided is unrecognized (must be of type \(kind.kind)): couldn't get version/kind; json parse error: json: cannot unmarshal \(json.typeName) into Go value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }")
        }
        return o
    }

    /// A YAML body, read as the JSON it stands for (as kube-apiserver's YAML serializer does).
    static func yamlObject(_ body: [UInt8], kind: ResourceKind) throws -> JSONObject {
        guard !body.isEmpty else { return try object(body, kind: kind) }
        do {
            return try object(JSONWriter.encode(YAMLDocument.decode(body)), kind: kind)
        } catch let error as YAMLDocument.Failure {
            throw APIError.badRequest("the object provided is unrecognized (must be of type \(kind.kind)): error converting YAML to JSON: yaml: \(error.message)")
        }
    }
}
