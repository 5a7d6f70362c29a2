import Foundation
import XCTest
@testable import KemuControllers
import KemuAPI
import KemuRegistry
import KemuStore

/// The events kemu's controllers record, with upstream's reasons, messages and components.
final class ControllerEventsTests: XCTestCase {
    /// (component, reason, message) of the events about one object, oldest first.
    func events(_ store: Store, storage: ObjectStorage, about name: String) -> [String] {
        EventBroadcaster.shared(for: storage).flush()
        return ((try? store.list(ResourceKind.event.groupResource))?.items ?? []).map(\.object)
            .filter { $0["involvedObject"]?["name"].stringValue == name }
            .sorted { ($0.metadata["resourceVersion"]?.stringValue.flatMap { Int($0) } ?? 0)
                < ($1.metadata["resourceVersion"]?.stringValue.flatMap { Int($0) } ?? 0) }
            .map { "\($0["source"]?["component"].stringValue ?? "") \($0["reason"]?.stringValue ?? ""): \($0["message"]?.stringValue ?? "")" }
    }

    /// A ReplicaSet creating 100 pods leaves 10 Events, not 100: nine single ones and one combined event
    /// (patched until the spam filter's burst of 25 is used up).
    func testReplicaSetScaleUpEventVolumeIsBounded() throws {
        let c = try WLCluster()
        defer { c.stop() }
        c.start { [ReplicaSetController(storage: $0, options: ControllerOptions())] }
        try c.create(.replicaSet, wlWorkload("ReplicaSet", "big", replicas: 100))
        c.waitUntil("100 pods") { c.pods(owner: "big").count == 100 }
        EventBroadcaster.shared(for: c.storage).flush()
        let evs = c.list(.event).map(\.object).filter { $0["involvedObject"]?["name"] == "big" }
        XCTAssertEqual(evs.count, 10)
        XCTAssertTrue(evs.allSatisfy { $0["reason"] == "SuccessfulCreate" && $0["source"]?["component"] == "replicaset-controller" })
        let combined = evs.filter { ($0["message"]?.stringValue ?? "").hasPrefix("(combined from similar events): Created pod: big-") }
        XCTAssertEqual(combined.count, 1)
        XCTAssertEqual(combined.first?["count"], 16)
    }

    func testDeploymentScalingEvents() throws {
        let c = try WLCluster()
        defer { c.stop() }
        c.start { [DeploymentController(storage: $0, options: ControllerOptions()), ReplicaSetController(storage: $0, options: ControllerOptions())] }
        try c.create(.deployment, wlWorkload("Deployment", "web", replicas: 3))
        c.waitUntil("a ReplicaSet") { !c.list(.replicaSet).isEmpty }
        let rs = c.list(.replicaSet)[0].name
        c.driveReady("3 available", owner: rs) { wlInt(c.get(.deployment, "web"), "status", "availableReplicas") == 3 }
        try c.updateSpec(.deployment, "web") { $0["replicas"] = 5 }
        c.driveReady("5 available", owner: rs) { wlInt(c.get(.deployment, "web"), "status", "availableReplicas") == 5 }
        try c.updateSpec(.deployment, "web") { $0["replicas"] = 1 }
        c.waitUntil("scaled down") { c.pods(owner: rs).filter { $0.object.deletionTimestamp == nil }.count == 1 }
        c.waitUntil("three events") { self.events(c.store, storage: c.storage, about: "web").count == 3 }
        c.waitUntil("nine pod events") { self.events(c.store, storage: c.storage, about: rs).count == 9 }
        XCTAssertEqual(events(c.store, storage: c.storage, about: "web"), [
            "deployment-controller ScalingReplicaSet: Scaled up replica set \(rs) from 0 to 3",
            "deployment-controller ScalingReplicaSet: Scaled up replica set \(rs) from 3 to 5",
            "deployment-controller ScalingReplicaSet: Scaled down replica set \(rs) from 5 to 1",
        ])
        let rsEvents = events(c.store, storage: c.storage, about: rs)
        XCTAssertEqual(rsEvents.filter { $0.contains("SuccessfulCreate: Created pod: \(rs)-") }.count, 5)
        XCTAssertEqual(rsEvents.filter { $0.contains("SuccessfulDelete: Deleted pod: \(rs)-") }.count, 4)
        XCTAssertTrue(rsEvents.allSatisfy { $0.hasPrefix("replicaset-controller ") })
    }

    func testStatefulSetPodEvents() throws {
        let c = try WLCluster()
        defer { c.stop() }
        c.start { [StatefulSetController(storage: $0, options: ControllerOptions())] }
        try c.create(.statefulSet, wlWorkload("StatefulSet", "db", replicas: 2, extra: ["serviceName": "db"]))
        c.driveReady("2 ready", owner: "db") { wlInt(c.get(.statefulSet, "db"), "status", "readyReplicas") == 2 }
        try c.updateSpec(.statefulSet, "db") { $0["replicas"] = 1 }
        c.waitUntil("db-1 gone") { c.pods(owner: "db").count == 1 }
        XCTAssertEqual(events(c.store, storage: c.storage, about: "db"), [
            "statefulset-controller SuccessfulCreate: create Pod db-0 in StatefulSet db successful",
            "statefulset-controller SuccessfulCreate: create Pod db-1 in StatefulSet db successful",
            "statefulset-controller SuccessfulDelete: delete Pod db-1 in StatefulSet db successful",
        ])
    }

    func testSchedulerAndNodeLifecycleEvents() throws {
        let c = try SimTestCluster({ $0.nodes = 2; $0.nodeNotReadyEvictionSeconds = 0.3 })
        defer { c.stop() }
        _ = try c.storage.create(.namespace, namespace: "", body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "default"]])
        try c.pod("a", spec: ["nodeSelector": ["kubernetes.io/hostname": "kemu-node-1"]])
        try c.pod("nowhere", spec: ["nodeSelector": ["no": "such"]])
        XCTAssertTrue(c.eventually { isRunningReady(c.get("a")) })
        XCTAssertTrue(c.eventually { self.events(c.store, storage: c.storage, about: "nowhere").count == 1 })
        XCTAssertEqual(events(c.store, storage: c.storage, about: "a"),
                       ["default-scheduler Scheduled: Successfully assigned test/a to kemu-node-1"])
        XCTAssertEqual(events(c.store, storage: c.storage, about: "nowhere"), [
            "default-scheduler FailedScheduling: 0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. "
                + "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
        ])
        // The node goes NotReady: the node controller reports it and its ready pod, then the pod is evicted.
        try c.setNodeReady("kemu-node-1", "Unknown")
        XCTAssertTrue(c.eventually(timeout: 5) { c.get("a") == nil })
        _ = try c.storage.delete(.node, namespace: "", name: "kemu-node-1")
        // Its RegisteredNode may come before or after this test's "default" namespace exists (dropped before it): ignored.
        func nodeEvents() -> [String] {
            events(c.store, storage: c.storage, about: "kemu-node-1").filter { !$0.contains(" RegisteredNode: ") }
        }
        XCTAssertTrue(c.eventually { nodeEvents().count == 2 })
        XCTAssertEqual(nodeEvents(), [
            "node-controller NodeNotReady: Node kemu-node-1 status is now: NodeNotReady",
            "node-controller RemovingNode: Node kemu-node-1 event: Removing Node kemu-node-1 from Controller",
        ])
        XCTAssertEqual(events(c.store, storage: c.storage, about: "a"), [
            "default-scheduler Scheduled: Successfully assigned test/a to kemu-node-1",
            "node-controller NodeNotReady: Node is not ready",
            "taint-eviction-controller TaintManagerEviction: Marking for deletion Pod test/a",
        ])
        _ = try c.storage.create(.node, namespace: "", body: ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "late"]])
        XCTAssertTrue(c.eventually { !self.events(c.store, storage: c.storage, about: "late").isEmpty })
        XCTAssertEqual(events(c.store, storage: c.storage, about: "late"),
                       ["node-controller RegisteredNode: Node late event: Registered Node late in Controller"])
    }
}
