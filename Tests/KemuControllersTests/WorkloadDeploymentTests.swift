import Foundation
import XCTest
@testable import KemuControllers
import KemuAPI
import KemuRegistry
import KemuStore

final class WorkloadDeploymentTests: XCTestCase {
    func cluster() throws -> WLCluster {
        let c = try WLCluster()
        c.start { [DeploymentController(storage: $0, options: ControllerOptions()), ReplicaSetController(storage: $0, options: ControllerOptions())] }
        return c
    }

    /// What `kubectl rollout status` waits for.
    func rolledOut(_ d: JSONObject?) -> Bool {
        guard let d else { return false }
        let want = wlInt(d, "spec", "replicas")
        return wlInt(d, "status", "observedGeneration") >= wlInt(d, "metadata", "generation")
            && wlInt(d, "status", "updatedReplicas") >= want
            && wlInt(d, "status", "replicas") == wlInt(d, "status", "updatedReplicas")
            && wlInt(d, "status", "availableReplicas") >= wlInt(d, "status", "updatedReplicas")
    }

    func condition(_ d: JSONObject?, _ type: String) -> JSON? {
        d?["status"]?["conditions"].arrayValue?.first { $0["type"].stringValue == type }
    }

    func replicaSets(_ c: WLCluster) -> [JSONObject] { c.list(.replicaSet).map(\.object) }

    func testCreateRollsOutAndReportsStatus() throws {
        let c = try cluster()
        defer { c.stop() }
        try c.create(.deployment, wlWorkload("Deployment", "web", replicas: 4))
        c.waitUntil("rs") { replicaSets(c).count == 1 }
        let rs = replicaSets(c)[0]
        let hash = rs.labels["pod-template-hash"] ?? ""
        XCTAssertFalse(hash.isEmpty)
        XCTAssertEqual(rs.name, "web-\(hash)")
        XCTAssertEqual(rs["spec"]?["selector"]["matchLabels"]["pod-template-hash"].stringValue, hash)
        XCTAssertEqual(rs["spec"]?["template"]["metadata"]["labels"]["pod-template-hash"].stringValue, hash)
        XCTAssertEqual(rs.annotations["deployment.kubernetes.io/revision"], "1")
        XCTAssertEqual(rs.annotations["deployment.kubernetes.io/desired-replicas"], "4")
        XCTAssertEqual(rs.annotations["deployment.kubernetes.io/max-replicas"], "5")
        XCTAssertEqual(rs.metadata["ownerReferences"]?[0]["kind"].stringValue, "Deployment")
        c.driveReady("rolled out") { rolledOut(c.get(.deployment, "web")) }
        let d = c.get(.deployment, "web")
        XCTAssertEqual(d?.annotations["deployment.kubernetes.io/revision"], "1")
        XCTAssertEqual(condition(d, "Available")?["reason"].stringValue, "MinimumReplicasAvailable")
        XCTAssertEqual(condition(d, "Available")?["message"].stringValue, "Deployment has minimum availability.")
        c.waitUntil("NewReplicaSetAvailable") { condition(c.get(.deployment, "web"), "Progressing")?["reason"].stringValue == "NewReplicaSetAvailable" }
        XCTAssertEqual(condition(c.get(.deployment, "web"), "Progressing")?["message"].stringValue,
                       "ReplicaSet \"web-\(hash)\" has successfully progressed.")
        XCTAssertEqual(c.pods().count, 4)
        XCTAssertTrue(c.pods().allSatisfy { $0.labels["pod-template-hash"] == hash })
    }

    func testRollingUpdateRespectsSurgeAndUnavailable() throws {
        let c = try cluster()
        defer { c.stop() }
        try c.create(.deployment, wlWorkload("Deployment", "web", replicas: 4, extra: [
            "strategy": ["type": "RollingUpdate", "rollingUpdate": ["maxSurge": 1, "maxUnavailable": 0]],
        ]))
        c.driveReady("rolled out") { rolledOut(c.get(.deployment, "web")) }
        try c.updateSpec(.deployment, "web") { $0["template"] = wlTemplate(["app": "web"], image: "nginx:2") }
        // Drive readiness while watching the bounds: never more than 5 pods, never fewer than 4 ready.
        var maxPods = 0, minReady = 100
        let end = Date().addingTimeInterval(15)
        while Date() < end {
            let pods = c.pods().filter { $0.object.deletionTimestamp == nil }
            maxPods = max(maxPods, pods.count)
            minReady = min(minReady, pods.filter { PodFacts.isReady($0.object) }.count)
            let d = c.get(.deployment, "web")
            if rolledOut(d) && wlInt(d, "metadata", "generation") == 2 && replicaSets(c).count == 2
                && replicaSets(c).allSatisfy({ wlInt($0, "status", "replicas") == wlInt($0, "spec", "replicas") }) && pods.count == 4 { break }
            c.readyAll()
            Thread.sleep(forTimeInterval: 0.03)
        }
        XCTAssertTrue(rolledOut(c.get(.deployment, "web")))
        XCTAssertLessThanOrEqual(maxPods, 5)
        XCTAssertGreaterThanOrEqual(minReady, 4)
        let sets = replicaSets(c).sorted { ($0.annotations["deployment.kubernetes.io/revision"] ?? "") < ($1.annotations["deployment.kubernetes.io/revision"] ?? "") }
        XCTAssertEqual(sets.map { $0.annotations["deployment.kubernetes.io/revision"] ?? "" }, ["1", "2"])
        XCTAssertEqual(sets.map { wlInt($0, "spec", "replicas") }, [0, 4])
        XCTAssertEqual(c.get(.deployment, "web")?.annotations["deployment.kubernetes.io/revision"], "2")
        XCTAssertEqual(c.pods().count, 4)
        XCTAssertTrue(c.pods().allSatisfy { $0.object["spec"]?["containers"][0]["image"].stringValue == "nginx:2" })

        // Undo: the template goes back to revision 1's, whose ReplicaSet becomes revision 3.
        let rev1 = sets[0]
        try c.updateSpec(.deployment, "web") { spec in
            var t = rev1["spec"]!["template"].objectValue!
            t.withObject("metadata") { m in
                var l = m["labels"]!.objectValue!; l["pod-template-hash"] = nil; m["labels"] = .object(l)
            }
            spec["template"] = .object(t)
        }
        c.driveReady("undone") {
            let d = c.get(.deployment, "web")
            return rolledOut(d) && wlInt(d, "metadata", "generation") == 3 && d?.annotations["deployment.kubernetes.io/revision"] == "3"
        }
        let back = c.get(.replicaSet, rev1.name)
        XCTAssertEqual(back?.annotations["deployment.kubernetes.io/revision"], "3")
        XCTAssertEqual(back?.annotations["deployment.kubernetes.io/revision-history"], "1")
        XCTAssertEqual(replicaSets(c).count, 2)
    }

    func testRecreateScalesOldToZeroFirst() throws {
        let c = try cluster()
        defer { c.stop() }
        try c.create(.deployment, wlWorkload("Deployment", "web", replicas: 3, extra: ["strategy": ["type": "Recreate"]]))
        c.driveReady("rolled out") { rolledOut(c.get(.deployment, "web")) }
        try c.updateSpec(.deployment, "web") { $0["template"] = wlTemplate(["app": "web"], image: "nginx:2") }
        var mixed = false
        c.driveReady("recreated") {
            let imgs = Set(c.pods().map { $0.object["spec"]?["containers"][0]["image"].stringValue ?? "" })
            if imgs.count > 1 { mixed = true }
            let d = c.get(.deployment, "web")
            return rolledOut(d) && wlInt(d, "metadata", "generation") == 2 && c.pods().count == 3 && imgs == ["nginx:2"]
        }
        XCTAssertFalse(mixed, "old and new pods ran together")
    }

    func testRecreateWaitsForTerminatingPods() throws {
        let c = try cluster()
        defer { c.stop() }
        try c.create(.deployment, wlWorkload("Deployment", "web", replicas: 2, extra: ["strategy": ["type": "Recreate"]]))
        c.waitUntil("2 pods") { c.pods().count == 2 }
        // Bind the pods to a node, so deleting them is graceful and they linger as terminating.
        for p in c.pods() {
            try c.store.write(ResourceKind.pod.groupResource, namespace: "test", name: p.name) { cur in
                var o = cur!.object
                o.withObject("spec") { $0["nodeName"] = "n1" }
                return .put(o)
            }
        }
        c.driveReady("rolled out") { rolledOut(c.get(.deployment, "web")) }
        try c.updateSpec(.deployment, "web") { $0["template"] = wlTemplate(["app": "web"], image: "nginx:2") }
        c.waitUntil("old terminating") { c.pods().count == 2 && c.pods().allSatisfy { $0.object.deletionTimestamp != nil } }
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(c.pods().count, 2, "no new pod while old ones terminate")
        XCTAssertTrue(replicaSets(c).allSatisfy { wlInt($0, "spec", "replicas") == 0 })
        for p in c.pods() { c.storage.finishGracefulDeletion(.pod, namespace: "test", name: p.name, uid: p.object.uid) }
        c.driveReady("recreated") {
            rolledOut(c.get(.deployment, "web")) && c.pods().count == 2
                && c.pods().allSatisfy { $0.object["spec"]?["containers"][0]["image"].stringValue == "nginx:2" }
        }
    }

    func testScaleAndPauseAndHistoryLimit() throws {
        let c = try cluster()
        defer { c.stop() }
        try c.create(.deployment, wlWorkload("Deployment", "web", replicas: 2, extra: ["revisionHistoryLimit": 1]))
        c.driveReady("rolled out") { rolledOut(c.get(.deployment, "web")) }
        try c.updateSpec(.deployment, "web") { $0["replicas"] = 5 }
        c.driveReady("scaled") { let d = c.get(.deployment, "web"); return rolledOut(d) && wlInt(d, "status", "replicas") == 5 }
        XCTAssertEqual(replicaSets(c).count, 1)
        for img in ["nginx:2", "nginx:3"] {
            try c.updateSpec(.deployment, "web") { $0["template"] = wlTemplate(["app": "web"], image: img) }
            c.driveReady("rollout \(img)") {
                let d = c.get(.deployment, "web")
                return rolledOut(d) && wlInt(d, "status", "observedGeneration") == wlInt(d, "metadata", "generation")
                    && condition(d, "Progressing")?["reason"].stringValue == "NewReplicaSetAvailable"
            }
        }
        // Three revisions with a history limit of one: the oldest ReplicaSet is gone.
        c.waitUntil("history pruned") { replicaSets(c).count == 2 }
        XCTAssertEqual(Set(replicaSets(c).map { $0.annotations["deployment.kubernetes.io/revision"] ?? "" }), ["2", "3"])

        try c.updateSpec(.deployment, "web") { $0["paused"] = true }
        c.waitUntil("paused condition") { condition(c.get(.deployment, "web"), "Progressing")?["reason"].stringValue == "DeploymentPaused" }
        try c.updateSpec(.deployment, "web") { $0["template"] = wlTemplate(["app": "web"], image: "nginx:4") }
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(replicaSets(c).count, 2, "paused deployments do not roll")
        try c.updateSpec(.deployment, "web") { $0["paused"] = false }
        c.driveReady("resumed rollout") {
            let d = c.get(.deployment, "web")
            return rolledOut(d) && d?.annotations["deployment.kubernetes.io/revision"] == "4"
                && c.pods().allSatisfy { $0.object["spec"]?["containers"][0]["image"].stringValue == "nginx:4" }
        }
    }

    func testScalingMidRolloutIsProportional() throws {
        let c = try cluster()
        defer { c.stop() }
        // maxSurge 3, maxUnavailable 0 with 10 replicas: the new set gets 3 pods that never become ready.
        try c.create(.deployment, wlWorkload("Deployment", "web", replicas: 10, extra: [
            "strategy": ["type": "RollingUpdate", "rollingUpdate": ["maxSurge": 3, "maxUnavailable": 0]],
        ]))
        c.driveReady("rolled out") { rolledOut(c.get(.deployment, "web")) }
        let oldHash = replicaSets(c)[0].name
        try c.updateSpec(.deployment, "web") { $0["template"] = wlTemplate(["app": "web"], image: "nginx:2") }
        c.waitUntil("surge") { replicaSets(c).count == 2 && replicaSets(c).map { wlInt($0, "spec", "replicas") }.sorted() == [3, 10] }
        // Scale 10 -> 20: allowed 23, 13 active, 10 to add: old 10*23/13 = 18 (+8), new 3*23/13 = 5 (+2).
        try c.updateSpec(.deployment, "web") { $0["replicas"] = 20 }
        c.waitUntil("proportional") {
            let sizes = Dictionary(uniqueKeysWithValues: replicaSets(c).map { ($0.name, wlInt($0, "spec", "replicas")) })
            return sizes[oldHash] == 18 && sizes.values.reduce(0, +) == 23
        }
        XCTAssertTrue(replicaSets(c).allSatisfy { $0.annotations["deployment.kubernetes.io/desired-replicas"] == "20" })
        XCTAssertTrue(replicaSets(c).allSatisfy { $0.annotations["deployment.kubernetes.io/max-replicas"] == "23" })
        c.driveReady("rolled out at 20") {
            let d = c.get(.deployment, "web")
            return rolledOut(d) && wlInt(d, "status", "replicas") == 20 && wlInt(d, "status", "updatedReplicas") == 20
        }
    }

    func testManyDeploymentsScale() throws {
        let c = try cluster()
        defer { c.stop() }
        let n = Int(ProcessInfo.processInfo.environment["WL_N"] ?? "100") ?? 100
        let start = Date()
        for i in 0..<n { try c.create(.deployment, wlWorkload("Deployment", "d\(i)", replicas: 10)) }
        c.driveReady("all ready", timeout: 60) {
            c.list(.deployment).allSatisfy { rolledOut($0.object) }
        }
        let took = Date().timeIntervalSince(start)
        XCTAssertEqual(c.pods().count, n * 10)
        print("\(n) deployments x 10 replicas rolled out in \(took)s")
    }
}
