/// The zero values of the built-in kinds as their Go types marshal (Kubernetes 1.32 json tags):
/// on create the field manager compares the new object with `scope.Creater.New(kind)`, so a
/// struct that is present in the zero value (a non-pointer struct, or a field without
/// `omitempty` such as `PodSpec.containers`) does not get a `".": {}` marker when it is filled,
/// while one that is absent there (pointers, maps, `omitempty` slices) does.
enum ZeroObjects {
    /// Keyed by `<group>/<Kind>` (core group empty).
    static let byKind: [String: JSONObject] = {
        let meta = #"{"creationTimestamp":null}"#
        let template = #"{"metadata":\#(meta),"spec":{"containers":null}}"#
        let table: [String: String] = [
            "/Pod": #"{"metadata":\#(meta),"spec":{"containers":null},"status":{}}"#,
            "/Service": #"{"metadata":\#(meta),"spec":{},"status":{"loadBalancer":{}}}"#,
            "/Namespace": #"{"metadata":\#(meta),"spec":{},"status":{}}"#,
            "/Node": #"{"metadata":\#(meta),"spec":{},"status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":0}},"nodeInfo":{"machineID":"","systemUUID":"","bootID":"","kernelVersion":"","osImage":"","containerRuntimeVersion":"","kubeletVersion":"","kubeProxyVersion":"","operatingSystem":"","architecture":""}}}"#,
            "/Endpoints": #"{"metadata":\#(meta)}"#,
            "/ConfigMap": #"{"metadata":\#(meta)}"#,
            "/Secret": #"{"metadata":\#(meta)}"#,
            "/ServiceAccount": #"{"metadata":\#(meta)}"#,
            "/Event": #"{"metadata":\#(meta),"involvedObject":{},"source":{},"firstTimestamp":null,"lastTimestamp":null,"eventTime":null,"reportingComponent":"","reportingInstance":""}"#,
            "/PersistentVolumeClaim": #"{"metadata":\#(meta),"spec":{"resources":{}},"status":{}}"#,
            "/ReplicationController": #"{"metadata":\#(meta),"spec":{},"status":{"replicas":0}}"#,
            "/LimitRange": #"{"metadata":\#(meta),"spec":{"limits":null}}"#,
            "/ResourceQuota": #"{"metadata":\#(meta),"spec":{},"status":{}}"#,
            "apps/Deployment": #"{"metadata":\#(meta),"spec":{"selector":null,"template":\#(template),"strategy":{}},"status":{}}"#,
            "apps/ReplicaSet": #"{"metadata":\#(meta),"spec":{"selector":null,"template":\#(template)},"status":{"replicas":0}}"#,
            "apps/StatefulSet": #"{"metadata":\#(meta),"spec":{"selector":null,"template":\#(template),"serviceName":"","updateStrategy":{}},"status":{"replicas":0,"availableReplicas":0}}"#,
            "apps/DaemonSet": #"{"metadata":\#(meta),"spec":{"selector":null,"template":\#(template),"updateStrategy":{}},"status":{"currentNumberScheduled":0,"numberMisscheduled":0,"desiredNumberScheduled":0,"numberReady":0}}"#,
            "apps/ControllerRevision": #"{"metadata":\#(meta),"data":null,"revision":0}"#,
            "discovery.k8s.io/EndpointSlice": #"{"metadata":\#(meta),"addressType":"","endpoints":null,"ports":null}"#,
            "autoscaling/HorizontalPodAutoscaler": #"{"metadata":\#(meta),"spec":{"scaleTargetRef":{"kind":"","name":""},"maxReplicas":0},"status":{"currentReplicas":0,"desiredReplicas":0}}"#,
            "policy/PodDisruptionBudget": #"{"metadata":\#(meta),"spec":{},"status":{"disruptionsAllowed":0,"currentHealthy":0,"desiredHealthy":0,"expectedPods":0}}"#,
            "batch/Job": #"{"metadata":\#(meta),"spec":{"template":\#(template)},"status":{}}"#,
            "batch/CronJob": #"{"metadata":\#(meta),"spec":{"schedule":"","jobTemplate":{"metadata":\#(meta),"spec":{"template":\#(template)}}},"status":{}}"#,
        ]
        var out: [String: JSONObject] = [:]
        for (k, text) in table {
            guard case .object(let o)? = try? JSONParser.parse(text) else { preconditionFailure("bad zero object for \(k)") }
            out[k] = o
        }
        return out
    }()

    /// Kinds whose strategies reset `status` on the main resource and `spec` on `/status`.
    static let withStatus: Set<String> = [
        "/Pod", "/Service", "/Namespace", "/Node", "/PersistentVolumeClaim", "/PersistentVolume",
        "/ReplicationController", "/ResourceQuota",
        "apps/Deployment", "apps/ReplicaSet", "apps/StatefulSet", "apps/DaemonSet",
        "autoscaling/HorizontalPodAutoscaler", "policy/PodDisruptionBudget", "batch/Job", "batch/CronJob",
    ]
}
