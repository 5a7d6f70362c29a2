import KemuAPI
import KemuRegistry
import Synchronization

/// Applies `--derived-writes` to client writes of objects a kemu controller keeps.
final class DerivedWriteGuard: DerivedContext, @unchecked Sendable {
    let server: APIServer
    let kind: ResourceKind
    let verb: String
    let warnings = Mutex<[String]>([])

    init(_ server: APIServer, _ kind: ResourceKind, verb: String) {
        self.server = server; self.kind = kind; self.verb = verb
    }

    /// May run inside a store write closure: the store's lock is recursive, so reading is safe there.
    func service(namespace: String, name: String) -> JSONObject? {
        server.store.get(ResourceKind.service.groupResource, namespace: namespace, name: name)?.object
    }

    var endpointsControllerEnabled: Bool { server.config.controllers.endpointsControllerEnabled }

    /// Throws 403 in `reject` mode when `obj` is derived; records a warning in `warn` mode.
    func check(_ obj: JSONObject?) throws {
        guard let obj, let rule = kind.derivedOwner, server.config.derivedWrites != .allow,
              let owner = rule(obj, self) else { return }
        let what = "\(kind.kind) \(obj.namespace)/\(obj.name)"
        switch server.config.derivedWrites {
        case .reject:
            throw APIError.forbidden(kind.groupResource, obj.name,
                "\(what) is managed by \(owner.controller) and derived from \(owner.sources); kemu rejects client \(verb)s of derived objects (--derived-writes=reject): change the source objects instead\(customHint)")
        case .warn:
            let text = "\(what) is managed by \(owner.controller), derived from \(owner.sources): this \(verb) is accepted but the controller will reconcile it back; change the source objects instead"
            warnings.withLock { if !$0.contains(text) { $0.append(text) } }
        case .allow:
            break
        }
    }

    var customHint: String {
        kind.kind == "EndpointSlice"
            ? ", or create a custom EndpointSlice without the \(DerivedRules.managedByLabel) label of a kemu controller"
            : ""
    }

    var headers: [(String, String)] { warnings.withLock { $0.map { Respond.warning($0) } } }
}
