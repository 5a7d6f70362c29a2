import Foundation
import XCTest
@testable import KemuControllers
import KemuAPI
import KemuRegistry
import KemuStore

final class WorkloadStatefulSetTests: XCTestCase {
    func cluster() throws -> WLCluster {
        let c = try WLCluster()
        c.start { [StatefulSetController(storage: $0, options: ControllerOptions())] }
        return c
    }

    func names(_ c: WLCluster) -> [String] { c.pods().filter { $0.object.deletionTimestamp == nil }.map(\.name).sorted() }

    func testOrderedReadyCreatesOneAtATime() throws {
        let c = try cluster()
        defer { c.stop() }
        try c.create(.statefulSet, wlWorkload("StatefulSet", "db", replicas: 3, extra: ["serviceName": "db-svc"]))
        c.waitUntil("db-0") { names(c) == ["db-0"] }
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertEqual(names(c), ["db-0"], "db-1 waits for db-0 to be Running and Ready")
        let p0 = c.get(.pod, "db-0")!
        XCTAssertEqual(p0["spec"]?["hostname"].stringValue, "db-0")
        XCTAssertEqual(p0["spec"]?["subdomain"].stringValue, "db-svc")
        XCTAssertEqual(p0.labels["statefulset.kubernetes.io/pod-name"], "db-0")
        XCTAssertEqual(p0.labels["apps.kubernetes.io/pod-index"], "0")
        XCTAssertEqual(p0.labels["app"], "db")
        let rev = p0.labels["controller-revision-hash"] ?? ""
        XCTAssertTrue(rev.hasPrefix("db-"))
        c.markReady("db-0")
        c.waitUntil("db-1") { names(c) == ["db-0", "db-1"] }
        c.markReady("db-1")
        c.waitUntil("db-2") { names(c) == ["db-0", "db-1", "db-2"] }
        c.markReady("db-2")
        c.waitUntil("status") {
            let s = c.get(.statefulSet, "db")
            return wlInt(s, "status", "readyReplicas") == 3 && wlInt(s, "status", "currentReplicas") == 3
                && wlInt(s, "status", "updatedReplicas") == 3 && wlInt(s, "status", "availableReplicas") == 3
        }
        let s = c.get(.statefulSet, "db")
        XCTAssertEqual(s?["status"]?["currentRevision"].stringValue, rev)
        XCTAssertEqual(s?["status"]?["updateRevision"].stringValue, rev)
        XCTAssertEqual(wlInt(s, "status", "observedGeneration"), 1)

        // Scale down removes the highest ordinal first.
        try c.updateSpec(.statefulSet, "db") { $0["replicas"] = 1 }
        c.waitUntil("scaled down") { names(c) == ["db-0"] }
        c.waitUntil("status 1") { wlInt(c.get(.statefulSet, "db"), "status", "replicas") == 1 }
    }

    func testOrderedScaleDownWaitsForTheTerminatingPod() throws {
        let c = try cluster()
        defer { c.stop() }
        try c.create(.statefulSet, wlWorkload("StatefulSet", "db", replicas: 3))
        c.driveReady("3 ready") { wlInt(c.get(.statefulSet, "db"), "status", "readyReplicas") == 3 }
        // A finalizer keeps db-2 terminating after the controller deletes it.
        _ = try c.storage.update(.pod, namespace: "test", name: "db-2") { cur in
            var p = cur
            p.metadata["finalizers"] = ["kemu.dev/test"]
            return p
        }
        try c.updateSpec(.statefulSet, "db") { $0["replicas"] = 1 }
        c.waitUntil("db-2 terminating") { c.get(.pod, "db-2")?.deletionTimestamp != nil }
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(c.pods().map(\.name).sorted(), ["db-0", "db-1", "db-2"], "db-1 waits until db-2 is gone")
        _ = try c.storage.update(.pod, namespace: "test", name: "db-2") { cur in
            var p = cur
            p.metadata["finalizers"] = nil
            return p
        }
        c.waitUntil("scaled down") { c.pods().map(\.name) == ["db-0"] }
    }

    func testParallelCreatesAll() throws {
        let c = try cluster()
        defer { c.stop() }
        try c.create(.statefulSet, wlWorkload("StatefulSet", "db", replicas: 3, extra: ["podManagementPolicy": "Parallel"]))
        c.waitUntil("all") { names(c) == ["db-0", "db-1", "db-2"] }
    }

    func testRollingUpdateReverseOrder() throws {
        let c = try cluster()
        defer { c.stop() }
        try c.create(.statefulSet, wlWorkload("StatefulSet", "db", replicas: 3))
        c.driveReady("3 ready") { wlInt(c.get(.statefulSet, "db"), "status", "readyReplicas") == 3 }
        let oldRev = c.get(.statefulSet, "db")?["status"]?["currentRevision"].stringValue
        try c.updateSpec(.statefulSet, "db") { $0["template"] = wlTemplate(["app": "db"], image: "nginx:2") }
        var order: [String] = []
        c.driveReady("updated") {
            for p in c.pods() where p.object["spec"]?["containers"][0]["image"].stringValue == "nginx:2" && !order.contains(p.name) {
                order.append(p.name)
            }
            let s = c.get(.statefulSet, "db")
            return wlInt(s, "status", "observedGeneration") == 2
                && wlInt(s, "status", "updatedReplicas") == 3 && wlInt(s, "status", "readyReplicas") == 3
                && s?["status"]?["currentRevision"] == s?["status"]?["updateRevision"]
        }
        XCTAssertEqual(order, ["db-2", "db-1", "db-0"])
        XCTAssertNotEqual(c.get(.statefulSet, "db")?["status"]?["currentRevision"].stringValue, oldRev)
        XCTAssertEqual(wlInt(c.get(.statefulSet, "db"), "status", "observedGeneration"), 2)
    }

    func testPartitionStopsUpdate() throws {
        let c = try cluster()
        defer { c.stop() }
        try c.create(.statefulSet, wlWorkload("StatefulSet", "db", replicas: 3, extra: [
            "updateStrategy": ["type": "RollingUpdate", "rollingUpdate": ["partition": 2]],
        ]))
        c.driveReady("3 ready") { wlInt(c.get(.statefulSet, "db"), "status", "readyReplicas") == 3 }
        try c.updateSpec(.statefulSet, "db") { $0["template"] = wlTemplate(["app": "db"], image: "nginx:2") }
        c.driveReady("db-2 updated") {
            let s = c.get(.statefulSet, "db")
            return wlInt(s, "status", "observedGeneration") == 2 && wlInt(s, "status", "updatedReplicas") == 1
                && wlInt(s, "status", "readyReplicas") == 3 && wlInt(s, "status", "currentReplicas") == 2
        }
        Thread.sleep(forTimeInterval: 0.1)
        let images = c.pods().sorted { $0.name < $1.name }.map { $0.object["spec"]?["containers"][0]["image"].stringValue ?? "" }
        XCTAssertEqual(images, ["nginx:1", "nginx:1", "nginx:2"])
        let s = c.get(.statefulSet, "db")
        XCTAssertNotEqual(s?["status"]?["currentRevision"], s?["status"]?["updateRevision"])
        // A deleted pod below the partition comes back at the current revision.
        _ = try c.storage.delete(.pod, namespace: "test", name: "db-0")
        c.waitUntil("db-0 back") { c.get(.pod, "db-0") != nil && c.get(.pod, "db-0")?.deletionTimestamp == nil }
        XCTAssertEqual(c.get(.pod, "db-0")?["spec"]?["containers"][0]["image"].stringValue, "nginx:1")
    }
}
