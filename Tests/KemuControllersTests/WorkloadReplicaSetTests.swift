import Foundation
import XCTest
@testable import KemuControllers
import KemuAPI
import KemuRegistry
import KemuStore

final class WorkloadReplicaSetTests: XCTestCase {
    func testCreatesPodsWithOwnerAndStatus() throws {
        let c = try WLCluster()
        defer { c.stop() }
        c.start { [ReplicaSetController(storage: $0, options: ControllerOptions())] }
        try c.create(.replicaSet, wlWorkload("ReplicaSet", "web", replicas: 3))
        c.waitUntil("3 pods") { c.pods(owner: "web").count == 3 }
        let pod = c.pods(owner: "web")[0].object
        XCTAssertTrue(pod.name.hasPrefix("web-"))
        XCTAssertEqual(pod.labels["app"], "web")
        let ref = pod.metadata["ownerReferences"]?.arrayValue?.first
        XCTAssertEqual(ref?["kind"].stringValue, "ReplicaSet")
        XCTAssertEqual(ref?["controller"].boolValue, true)
        XCTAssertEqual(ref?["blockOwnerDeletion"].boolValue, true)
        c.waitUntil("status replicas") { wlInt(c.get(.replicaSet, "web"), "status", "replicas") == 3 }
        XCTAssertEqual(wlInt(c.get(.replicaSet, "web"), "status", "fullyLabeledReplicas"), 3)
        XCTAssertEqual(wlInt(c.get(.replicaSet, "web"), "status", "observedGeneration"), 1)
        c.readyAll(owner: "web")
        c.waitUntil("ready+available") {
            let rs = c.get(.replicaSet, "web")
            return wlInt(rs, "status", "readyReplicas") == 3 && wlInt(rs, "status", "availableReplicas") == 3
        }
    }

    func testScaleDownPrefersNotReadyThenNewest() throws {
        let c = try WLCluster()
        defer { c.stop() }
        c.start { [ReplicaSetController(storage: $0, options: ControllerOptions())] }
        try c.create(.replicaSet, wlWorkload("ReplicaSet", "web", replicas: 4))
        c.waitUntil("4 pods") { c.pods(owner: "web").count == 4 }
        let names = c.pods(owner: "web").map(\.name).sorted()
        // Three ready, one not.
        for n in names.prefix(3) { c.markReady(n) }
        c.waitUntil("ready 3") { wlInt(c.get(.replicaSet, "web"), "status", "readyReplicas") == 3 }
        try c.updateSpec(.replicaSet, "web") { $0["replicas"] = 3 }
        c.waitUntil("3 pods") { c.pods(owner: "web").count == 3 }
        XCTAssertEqual(Set(c.pods(owner: "web").map(\.name)), Set(names.prefix(3)))
        c.waitUntil("status 3 / gen 2") {
            let rs = c.get(.replicaSet, "web")
            return wlInt(rs, "status", "replicas") == 3 && wlInt(rs, "status", "observedGeneration") == 2
        }
        try c.updateSpec(.replicaSet, "web") { $0["replicas"] = 0 }
        c.waitUntil("0 pods") { c.pods(owner: "web").isEmpty }
        c.waitUntil("status 0") { wlInt(c.get(.replicaSet, "web"), "status", "replicas") == 0 }
    }

    func testReplacesDeletedPodAndHonoursMinReadySeconds() throws {
        let c = try WLCluster()
        defer { c.stop() }
        c.start { [ReplicaSetController(storage: $0, options: ControllerOptions())] }
        try c.create(.replicaSet, wlWorkload("ReplicaSet", "web", replicas: 2, extra: ["minReadySeconds": 2]))
        c.waitUntil("2 pods") { c.pods(owner: "web").count == 2 }
        let victim = c.pods(owner: "web")[0].name
        _ = try c.storage.delete(.pod, namespace: "test", name: victim)
        c.waitUntil("replacement") { let p = c.pods(owner: "web"); return p.count == 2 && !p.contains { $0.name == victim } }
        c.readyAll(owner: "web")
        c.waitUntil("ready 2") { wlInt(c.get(.replicaSet, "web"), "status", "readyReplicas") == 2 }
        XCTAssertEqual(wlInt(c.get(.replicaSet, "web"), "status", "availableReplicas"), 0)
        c.waitUntil("available after minReadySeconds", timeout: 5) { wlInt(c.get(.replicaSet, "web"), "status", "availableReplicas") == 2 }
    }

    func testAdoptsOrphansAndReleasesRelabelled() throws {
        let c = try WLCluster()
        defer { c.stop() }
        c.start { [ReplicaSetController(storage: $0, options: ControllerOptions())] }
        try c.create(.pod, ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "bare", "labels": ["app": "web"]],
                            "spec": ["containers": [["name": "c", "image": "nginx"]]]])
        try c.create(.replicaSet, wlWorkload("ReplicaSet", "web", replicas: 2))
        c.waitUntil("adopted + 1 created") { c.pods(owner: "web").count == 2 }
        XCTAssertTrue(c.pods(owner: "web").contains { $0.name == "bare" })
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(c.pods().count, 2)
        // Relabelling an owned pod releases it; a replacement is made.
        _ = try c.storage.update(.pod, namespace: "test", name: "bare") { cur in
            var o = cur; o.metadata["labels"] = ["app": "debug"]; return o
        }
        c.waitUntil("released + replaced") { c.pods(owner: "web").count == 2 && !c.pods(owner: "web").contains { $0.name == "bare" } }
        XCTAssertEqual(c.pods().count, 3)
        XCTAssertNil(c.get(.pod, "bare")?.metadata["ownerReferences"])
    }

    func testRankForDeletion() {
        func pod(_ name: String, node: String, phase: String, ready: Bool, created: String) -> StoredObject {
            var o: JSONObject = ["metadata": ["name": .string(name), "namespace": "test", "creationTimestamp": .string(created)],
                                 "spec": ["nodeName": .string(node)],
                                 "status": ["phase": .string(phase), "conditions": [["type": "Ready", "status": .string(ready ? "True" : "False")]]]]
            if node.isEmpty { o["spec"] = .object(JSONObject()) }
            return StoredObject(object: o, resourceVersion: 1)
        }
        let ranked = ReplicaSetController.rankForDeletion([
            pod("ready-old", node: "n", phase: "Running", ready: true, created: "2024-01-01T00:00:00Z"),
            pod("ready-new", node: "n", phase: "Running", ready: true, created: "2024-01-02T00:00:00Z"),
            pod("notready", node: "n", phase: "Running", ready: false, created: "2024-01-01T00:00:00Z"),
            pod("pending", node: "n", phase: "Pending", ready: false, created: "2024-01-01T00:00:00Z"),
            pod("unscheduled", node: "", phase: "Pending", ready: false, created: "2024-01-01T00:00:00Z"),
        ]).map(\.name)
        XCTAssertEqual(ranked, ["unscheduled", "pending", "notready", "ready-new", "ready-old"])
    }
}

final class WorkloadFactsTests: XCTestCase {
    func testPercentRounding() {
        XCTAssertEqual(WorkloadFacts.scaled("25%", total: 10, roundUp: true), 3)
        XCTAssertEqual(WorkloadFacts.scaled("25%", total: 10, roundUp: false), 2)
        XCTAssertEqual(WorkloadFacts.scaled(.int(2), total: 10, roundUp: false), 2)
        XCTAssertTrue(WorkloadFacts.fenceposts(surge: "25%", unavailable: "25%", replicas: 1) == (1, 0))
        XCTAssertTrue(WorkloadFacts.fenceposts(surge: .int(0), unavailable: "25%", replicas: 1) == (0, 1))
    }

    func testTemplateHashStableAndSafe() {
        let a = wlTemplate(["app": "x"]), b = wlTemplate(["app": "x"], image: "nginx:2")
        let h = WorkloadFacts.templateHash(a)
        XCTAssertEqual(h, WorkloadFacts.templateHash(a))
        XCTAssertNotEqual(h, WorkloadFacts.templateHash(b))
        XCTAssertTrue(h.allSatisfy { WorkloadFacts.safeAlphabet.contains($0) })
        // The pod-template-hash label does not change identity.
        var withHash = a.objectValue!
        withHash.withObject("metadata") { $0["labels"] = ["app": "x", "pod-template-hash": .string(h)] }
        XCTAssertEqual(WorkloadFacts.templateHash(.object(withHash)), h)
    }
}
