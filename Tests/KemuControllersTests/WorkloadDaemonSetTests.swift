import Foundation
import XCTest
@testable import KemuControllers
import KemuAPI
import KemuRegistry
import KemuStore

final class WorkloadDaemonSetTests: XCTestCase {
    func node(_ name: String, labels: [String: String] = [:], taints: [JSON] = [], unschedulable: Bool = false) -> JSONObject {
        var spec = JSONObject()
        if !taints.isEmpty { spec["taints"] = .array(taints) }
        if unschedulable { spec["unschedulable"] = true }
        return ["apiVersion": "v1", "kind": "Node", "metadata": ["name": .string(name), "labels": .stringMap(labels)], "spec": .object(spec)]
    }

    func putNode(_ c: WLCluster, _ n: JSONObject) throws {
        try c.store.write(ResourceKind.node.groupResource, namespace: "", name: n.name) { cur in
            var o = n
            o.metadata["uid"] = cur?.object.metadata["uid"] ?? .string(Identifiers.uuid())
            return .put(o)
        }
    }

    func podNodes(_ c: WLCluster) -> [String] {
        c.pods().filter { $0.object.deletionTimestamp == nil }.map { PodFacts.nodeName($0.object) }.sorted()
    }

    func testOnePodPerMatchingNodeFollowingNodes() throws {
        let c = try WLCluster()
        defer { c.stop() }
        try putNode(c, node("a", labels: ["disk": "ssd"]))
        try putNode(c, node("b", labels: ["disk": "ssd"]))
        try putNode(c, node("c", labels: ["disk": "hdd"]))
        c.start { [DaemonSetController(storage: $0, options: ControllerOptions()), GracefulDeletionController(storage: $0)] }
        var ds = wlWorkload("DaemonSet", "agent", replicas: nil)
        ds.withObject("spec") { $0.withObject("template") { $0.withObject("spec") { $0["nodeSelector"] = ["disk": "ssd"] } } }
        try c.create(.daemonSet, ds)
        c.waitUntil("pods on a, b") { podNodes(c) == ["a", "b"] }
        let pod = c.pods()[0].object
        XCTAssertTrue(pod.name.hasPrefix("agent-"))
        XCTAssertEqual(pod["spec"]?["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchFields"][0]["key"].stringValue, "metadata.name")
        XCTAssertTrue((pod["spec"]?["tolerations"].arrayValue ?? []).contains { $0["key"].stringValue == "node.kubernetes.io/unschedulable" })
        XCTAssertNotNil(pod.labels["controller-revision-hash"])
        c.waitUntil("desired 2") {
            let d = c.get(.daemonSet, "agent")
            return wlInt(d, "status", "desiredNumberScheduled") == 2 && wlInt(d, "status", "currentNumberScheduled") == 2
                && wlInt(d, "status", "updatedNumberScheduled") == 2
        }
        c.readyAll()
        c.waitUntil("ready 2") {
            let d = c.get(.daemonSet, "agent")
            return wlInt(d, "status", "numberReady") == 2 && wlInt(d, "status", "numberAvailable") == 2
        }

        // A new matching node gets a pod; a cordoned one keeps its pod.
        try putNode(c, node("d", labels: ["disk": "ssd"]))
        c.waitUntil("pod on d") { podNodes(c) == ["a", "b", "d"] }
        try putNode(c, node("a", labels: ["disk": "ssd"], taints: [["key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"]], unschedulable: true))
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(podNodes(c), ["a", "b", "d"])
        // An untolerated NoExecute taint evicts; a relabelled node loses its pod; a deleted node too.
        try putNode(c, node("b", labels: ["disk": "ssd"], taints: [["key": "dedicated", "value": "x", "effect": "NoExecute"]]))
        c.waitUntil("b evicted") { podNodes(c) == ["a", "d"] }
        try c.store.write(ResourceKind.node.groupResource, namespace: "", name: "d") { _ in .delete }
        c.waitUntil("d gone") { podNodes(c) == ["a"] }
        c.waitUntil("status follows") {
            let d = c.get(.daemonSet, "agent")
            return wlInt(d, "status", "desiredNumberScheduled") == 1 && wlInt(d, "status", "currentNumberScheduled") == 1
        }
    }

    func testRollingUpdateOneAtATime() throws {
        let c = try WLCluster()
        defer { c.stop() }
        for n in ["a", "b", "c"] { try putNode(c, node(n)) }
        c.start { [DaemonSetController(storage: $0, options: ControllerOptions()), GracefulDeletionController(storage: $0)] }
        try c.create(.daemonSet, wlWorkload("DaemonSet", "agent", replicas: nil))
        c.driveReady("ready 3") { wlInt(c.get(.daemonSet, "agent"), "status", "numberAvailable") == 3 }
        try c.updateSpec(.daemonSet, "agent") { $0["template"] = wlTemplate(["app": "agent"], image: "nginx:2") }
        var maxDown = 0
        c.driveReady("updated") {
            let live = c.pods().filter { $0.object.deletionTimestamp == nil && PodFacts.isReady($0.object) }
            maxDown = max(maxDown, 3 - live.count)
            let d = c.get(.daemonSet, "agent")
            return wlInt(d, "status", "observedGeneration") == 2 && wlInt(d, "status", "updatedNumberScheduled") == 3
                && wlInt(d, "status", "numberAvailable") == 3
        }
        XCTAssertLessThanOrEqual(maxDown, 1)
        XCTAssertTrue(c.pods().allSatisfy { $0.object["spec"]?["containers"][0]["image"].stringValue == "nginx:2" })
    }
}
