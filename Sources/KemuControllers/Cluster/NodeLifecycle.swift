import Dispatch
import KemuAPI
import KemuRegistry

/// The node lifecycle part of `ClusterSimulator` (node lifecycle controller and pod GC):
/// - a node whose `Ready` condition is present and not True for `nodeNotReadyEvictionSeconds` has its
///   pods evicted (deleted gracefully), like taint-based eviction; pods that tolerate
///   `node.kubernetes.io/not-ready` / `unreachable` NoExecute without `tolerationSeconds` stay (the
///   default 300 s tolerations are treated as the short timeout). Nodes without a Ready condition are
///   left alone (they are never scheduled to either);
/// - a deleted simulated node takes its pods with it (deleted at once, as the pod GC does for orphans);
///   pods of deleted non-simulated nodes are left alone;
/// - cordoning (`spec.unschedulable`) only affects scheduling.
/// The `node.kubernetes.io/not-ready` taints themselves are not written to the Node.
extension ClusterSimulator {
    func scheduleEvictionCheck(_ name: String) {
        guard let since = nodes[name]?.notReadySince else { return }
        wake("evict:" + name, at: since + cluster.nodeNotReadyEvictionSeconds) { [self] in
            guard let n = nodes[name], let s = n.notReadySince, Self.now() >= s + cluster.nodeNotReadyEvictionSeconds else { return }
            for key in n.pods.sorted() { if let pod = podObject(key) { evictIfNodeLongNotReady(n, podKey: key, pod: pod) } }
        }
    }

    static func toleratesNotReadyForever(_ pod: JSONObject) -> Bool {
        for t in pod["spec"]?["tolerations"].arrayValue ?? [] {
            let effect = t["effect"].stringValue ?? ""
            guard effect.isEmpty || effect == "NoExecute", t["tolerationSeconds"].isNull else { continue }
            let key = t["key"].stringValue ?? ""
            let op = t["operator"].stringValue ?? "Equal"
            if op == "Exists" && (key.isEmpty || key == "node.kubernetes.io/not-ready" || key == "node.kubernetes.io/unreachable") { return true }
            if op == "Equal" && (key == "node.kubernetes.io/not-ready" || key == "node.kubernetes.io/unreachable") { return true }
        }
        return false
    }

    func evictIfNodeLongNotReady(_ n: SimNode, podKey: String, pod: JSONObject) {
        guard let since = n.notReadySince, Self.now() >= since + cluster.nodeNotReadyEvictionSeconds,
              pod.deletionTimestamp == nil, !Self.toleratesNotReadyForever(pod) else { return }
        var opts = DeleteOptions()
        opts.preconditionUID = pod.uid
        taintEvictionEvents.event(ObjectReference(kind: "Pod", namespace: pod.namespace, name: pod.name, apiVersion: "v1"),
                                  EventRecorder.normal, "TaintManagerEviction", "Marking for deletion Pod \(pod.namespace)/\(pod.name)")
        _ = try? storage.delete(.pod, namespace: pod.namespace, name: pod.name, options: opts)
    }

    func deletePodsOfDeletedNode(_ n: SimNode) {
        for key in n.pods.sorted() {
            guard let pod = podObject(key), PodFacts.nodeName(pod) == n.name else { continue }
            var opts = DeleteOptions()
            opts.gracePeriodSeconds = 0
            opts.preconditionUID = pod.uid
            _ = try? storage.delete(.pod, namespace: pod.namespace, name: pod.name, options: opts)
            if pod.deletionTimestamp != nil { storage.finishGracefulDeletion(.pod, namespace: pod.namespace, name: pod.name, uid: pod.uid) }
        }
    }
}
