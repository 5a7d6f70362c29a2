import KemuAPI
import KemuRegistry
import KemuStore

/// A controller that reports events: its upstream `source.component` (also the `reportingComponent`, and kemu's
/// field manager for the event writes). The list below is every controller's identity in one place.
protocol RecordsEvents {
    var storage: ObjectStorage { get }
    static var eventComponent: String { get }
}

extension RecordsEvents {
    var recorder: EventRecorder { EventRecorder(storage: storage, component: Self.eventComponent) }
}

extension DeploymentController: RecordsEvents { static let eventComponent = "deployment-controller" }
extension ReplicaSetController: RecordsEvents { static let eventComponent = "replicaset-controller" }
extension StatefulSetController: RecordsEvents { static let eventComponent = "statefulset-controller" }
extension DaemonSetController: RecordsEvents { static let eventComponent = "daemonset-controller" }
extension DisruptionController: RecordsEvents { static let eventComponent = "controllermanager" }
extension EndpointSliceController: RecordsEvents { static let eventComponent = "endpoint-slice-controller" }
extension EndpointsController: RecordsEvents { static let eventComponent = "endpoint-controller" }
extension EndpointSliceMirroringController: RecordsEvents { static let eventComponent = "endpoint-slice-mirroring-controller" }

extension ClusterSimulator {
    /// The scheduler's events. Against a server without events.k8s.io/v1 (kemu serves only core/v1 events)
    /// kube-scheduler's broadcaster adapter falls back to the core/v1 recorder, so these look like every other.
    var schedulerEvents: EventRecorder { EventRecorder(storage: storage, component: "default-scheduler") }
    /// The node lifecycle controller's events (RegisteredNode, RemovingNode, NodeNotReady).
    var nodeEvents: EventRecorder { EventRecorder(storage: storage, component: "node-controller") }
    /// The taint eviction controller's events (TaintManagerEviction).
    var taintEvictionEvents: EventRecorder { EventRecorder(storage: storage, component: "taint-eviction-controller") }

    /// `RecordNodeEvent`: an event about a Node (reported in `default`), "Node <name> event: <text>".
    func recordNodeEvent(_ node: JSONObject, _ type: String, _ reason: String, _ text: String) {
        let ref = ObjectReference(kind: "Node", name: node.name, uid: node.uid, apiVersion: "v1")
        nodeEvents.event(ref, type, reason, "Node \(node.name) event: \(text)")
    }

    /// The node lifecycle controller when a node's Ready condition stops being True: `RecordNodeStatusChange`
    /// on the node, and `MarkPodsNotReady`'s event on each of its pods that was ready.
    func recordNodeNotReady(_ node: JSONObject, pods keys: Set<String>) {
        let ref = ObjectReference(kind: "Node", name: node.name, uid: node.uid, apiVersion: "v1")
        nodeEvents.event(ref, EventRecorder.normal, "NodeNotReady", "Node \(node.name) status is now: NodeNotReady")
        for key in keys.sorted() {
            guard let pod = podObject(key), PodFacts.isReady(pod) else { continue }
            nodeEvents.event(pod, EventRecorder.warning, "NodeNotReady", "Node is not ready")
        }
    }
}

/// Helpers for the workload controllers' pod events, which are about the owning workload.
enum WorkloadEvents {
    /// The workload of `kind` that controls `pod`, as stored now.
    static func owner(of pod: StoredObject, _ kind: ResourceKind, _ storage: ObjectStorage) -> JSONObject? {
        guard let ref = (pod.object.metadata["ownerReferences"]?.arrayValue ?? []).first(where: { $0["controller"].boolValue == true }),
              ref["kind"].stringValue == kind.kind, let name = ref["name"].stringValue,
              let owner = storage.store.get(kind.groupResource, namespace: pod.namespace, name: name)?.object,
              owner.uid == ref["uid"].stringValue else { return nil }
        return owner
    }

    /// The error text client-go prints for a failed request (`%v` of a StatusError is its message).
    static func text(_ error: Error) -> String { (error as? APIError)?.message ?? "\(error)" }

    /// Whether a create failed because the namespace is terminating (upstream records no event then).
    static func namespaceTerminating(_ error: Error) -> Bool {
        (error as? APIError)?.causes.contains { $0.reason == "NamespaceTerminating" } ?? false
    }
}

extension EventRecorder {
    /// `PodControl.CreatePods`' events on the owner: SuccessfulCreate "Created pod: <name>", or FailedCreate
    /// "Error creating: <error>" (none when the namespace is terminating).
    func podCreated(_ owner: JSONObject, _ result: Result<StoredObject, Error>) {
        switch result {
        case .success(let pod):
            event(owner, Self.normal, "SuccessfulCreate", "Created pod: \(pod.name)")
        case .failure(let error) where !WorkloadEvents.namespaceTerminating(error):
            event(owner, Self.warning, "FailedCreate", "Error creating: \(WorkloadEvents.text(error))")
        case .failure:
            break
        }
    }

    /// `PodControl.DeletePod`'s events on the owner: SuccessfulDelete "Deleted pod: <name>", or FailedDelete
    /// "Error deleting: <error>" (none when the pod was already gone).
    func podDeleted(_ owner: JSONObject?, name: String, _ error: Error?) {
        guard let owner else { return }
        if let error {
            if (error as? APIError)?.code == 404 { return }
            event(owner, Self.warning, "FailedDelete", "Error deleting: \(WorkloadEvents.text(error))")
        } else {
            event(owner, Self.normal, "SuccessfulDelete", "Deleted pod: \(name)")
        }
    }
}

extension Result {
    /// The failure, if any.
    var error: Failure? { if case .failure(let e) = self { return e }; return nil }
}

extension EventRecorder {
    /// `recordPodEvent` of the StatefulSet pod control: SuccessfulCreate "create Pod web-0 in StatefulSet web
    /// successful", or FailedCreate "create Pod web-0 in StatefulSet web failed error: <error>" (likewise delete).
    func statefulPodEvent(_ set: JSONObject, verb: String, pod: String, _ error: Error?) {
        let Verb = verb.prefix(1).uppercased() + verb.dropFirst()
        if let error {
            // A pod that already exists is not reported (the create path sinks AlreadyExists).
            if verb == "create", (error as? APIError)?.reason == "AlreadyExists" { return }
            event(set, Self.warning, "Failed\(Verb)",
                  "\(verb) Pod \(pod) in StatefulSet \(set.name) failed error: \(WorkloadEvents.text(error))")
        } else {
            event(set, Self.normal, "Successful\(Verb)", "\(verb) Pod \(pod) in StatefulSet \(set.name) successful")
        }
    }

    /// The StatefulSet controller replacing a pod that finished: RecreatingFailedPod / RecreatingTerminatedPod.
    func recreatingPod(_ set: JSONObject, pod: String, failed: Bool) {
        if failed {
            event(set, Self.warning, "RecreatingFailedPod", "StatefulSet \(set.namespace)/\(set.name) is recreating failed Pod \(pod)")
        } else {
            event(set, Self.normal, "RecreatingTerminatedPod", "StatefulSet \(set.namespace)/\(set.name) is recreating terminated Pod \(pod)")
        }
    }
}

extension EventRecorder {
    /// The Deployment controller's ScalingReplicaSet: "Scaled up replica set web-5d9c7 from 1 to 3".
    func scaledReplicaSet(_ deployment: JSONObject?, _ rs: String, from old: Int, to new: Int) {
        guard let deployment else { return }
        event(deployment, Self.normal, "ScalingReplicaSet", "Scaled \(new > old ? "up" : "down") replica set \(rs) from \(old) to \(new)")
    }

    /// A new ReplicaSet that could not be created (other than one already there): ReplicaSetCreateError.
    func replicaSetCreateFailed(_ deployment: JSONObject, name: String, _ error: Error) {
        guard (error as? APIError)?.reason != "AlreadyExists" else { return }
        event(deployment, Self.warning, "ReplicaSetCreateError", "Failed to create new replica set \"\(name)\": \(WorkloadEvents.text(error))")
    }
}

extension EventRecorder {
    /// The mirroring reconciler's warnings on the Endpoints: InvalidIPAddress and TooManyAddressesToMirror.
    func mirroringSkipped(_ endpoints: JSONObject, _ plan: MirroringPlan, maxPerSubset: Int) {
        if plan.invalidAddresses > 0 {
            event(endpoints, Self.warning, "InvalidIPAddress",
                  "Skipped \(plan.invalidAddresses) invalid IP addresses when mirroring to EndpointSlices")
        }
        if plan.skippedAddresses > plan.invalidAddresses {
            event(endpoints, Self.warning, "TooManyAddressesToMirror",
                  "A max of \(maxPerSubset) addresses can be mirrored to EndpointSlices per Endpoints subset. \(plan.skippedAddresses) addresses were skipped")
        }
    }

    /// The Endpoints controller's FailedToCreateEndpoint / FailedToUpdateEndpoint on the Endpoints object, after a
    /// failed write for a Service with a selector (not when its namespace is terminating).
    func endpointsWriteFailed(_ storage: ObjectStorage, namespace ns: String, name: String, _ error: Error) {
        guard !WorkloadEvents.namespaceTerminating(error),
              let svc = storage.store.get(ResourceKind.service.groupResource, namespace: ns, name: name)?.object,
              ServiceFacts.selector(svc) != nil else { return }
        let text = WorkloadEvents.text(error)
        if let current = storage.store.get(ResourceKind.endpoints.groupResource, namespace: ns, name: name)?.object {
            event(current, Self.warning, "FailedToUpdateEndpoint", "Failed to update endpoint \(ns)/\(name): \(text)")
        } else {
            event(ObjectReference(kind: "Endpoints", namespace: ns, name: name, apiVersion: "v1"), Self.warning,
                  "FailedToCreateEndpoint", "Failed to create endpoint for service \(ns)/\(name): \(text)")
        }
    }
}
