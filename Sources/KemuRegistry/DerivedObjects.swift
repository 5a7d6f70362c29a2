import KemuAPI

/// Who keeps a derived object, and what a user should change instead.
public struct DerivedOwner: Sendable, Equatable {
    /// The managing controller's name, e.g. `endpointslice-controller.k8s.io`.
    public var controller: String
    /// A human description of the source objects, e.g. `Service default/web and the Pods it selects`.
    public var sources: String
}

/// What a kind's "derived" rule may look up.
public protocol DerivedContext: Sendable {
    func service(namespace: String, name: String) -> JSONObject?
    var endpointsControllerEnabled: Bool { get }
}

public enum DerivedRules {
    public static let sliceControllerName = "endpointslice-controller.k8s.io"
    public static let mirroringControllerName = "endpointslicemirroring-controller.k8s.io"
    public static let managedByLabel = "endpointslice.kubernetes.io/managed-by"
    public static let serviceNameLabel = "kubernetes.io/service-name"

    /// EndpointSlices carrying a kemu controller's managed-by label; custom slices are the user's.
    public static func endpointSlice(_ obj: JSONObject, _ ctx: any DerivedContext) -> DerivedOwner? {
        let labels = obj.labels
        let service = labels[serviceNameLabel].map { "\(obj.namespace)/\($0)" } ?? "\(obj.namespace)/<unknown>"
        switch labels[managedByLabel] {
        case sliceControllerName?:
            return DerivedOwner(controller: sliceControllerName, sources: "Service \(service) and the Pods it selects")
        case mirroringControllerName?:
            return DerivedOwner(controller: mirroringControllerName, sources: "the Endpoints \(service) of the selectorless Service \(service)")
        default:
            return nil
        }
    }

    /// Endpoints of a Service with a selector are the Endpoints controller's (when it runs).
    public static func endpoints(_ obj: JSONObject, _ ctx: any DerivedContext) -> DerivedOwner? {
        guard ctx.endpointsControllerEnabled,
              let svc = ctx.service(namespace: obj.namespace, name: obj.name),
              case .object(let sel)? = svc["spec"]?["selector"], !sel.isEmpty else { return nil }
        return DerivedOwner(controller: "endpoint-controller",
                            sources: "Service \(obj.namespace)/\(obj.name) and the Pods it selects")
    }
}
