import KemuAPI

extension ResourceKind {
    /// Attaches the kind's upstream Table printer.
    static func withPrinter(_ k: ResourceKind) -> ResourceKind {
        switch k.kind {
        case "Pod": k.table = .pod
        case "Service": k.table = .service
        case "Endpoints": k.table = .endpoints
        case "EndpointSlice": k.table = .endpointSlice
        case "Node": k.table = .node
        case "Namespace": k.table = .namespace
        case "Deployment": k.table = .deployment
        case "ReplicaSet": k.table = .replicaSet
        case "StatefulSet": k.table = .statefulSet
        case "DaemonSet": k.table = .daemonSet
        case "ControllerRevision": k.table = .controllerRevision
        case "PodDisruptionBudget": k.table = .podDisruptionBudget
        case "Event": k.table = .event
        default: break
        }
        return k
    }
}
