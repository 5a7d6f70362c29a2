import Foundation
import XCTest
@testable import KemuControllers
import KemuAPI
import KemuRegistry
import KemuStore

/// ControllerRevisions kept by the StatefulSet and DaemonSet controllers (upstream's controller history).
final class WorkloadRevisionTests: XCTestCase {
    func revisions(_ c: WLCluster, owner: String) -> [JSONObject] {
        c.list(.controllerRevision).map(\.object)
            .filter { ($0.metadata["ownerReferences"]?.arrayValue ?? []).contains { $0["name"].stringValue == owner } }
            .sorted { wlInt($0, "revision") < wlInt($1, "revision") }
    }

    func image(_ cr: JSONObject) -> String? { cr["data"]?["spec"]["template"]["spec"]["containers"][0]["image"].stringValue }

    func setImage(_ c: WLCluster, _ kind: ResourceKind, _ name: String, _ image: String) throws {
        try c.updateSpec(kind, name) { $0["template"] = wlTemplate(["app": name], image: image) }
    }

    func testFNV32IsFNV1() {
        XCTAssertEqual(RevisionHistory.fnv32([]), 0x811c_9dc5)
        XCTAssertEqual(RevisionHistory.fnv32(Array("a".utf8)), 0x050c_5d7e)
        XCTAssertEqual(RevisionHistory.fnv32(Array("foobar".utf8)), 0x31f0_b262)
    }

    func testDataIsTheTemplatePatchAsGoEncodesIt() throws {
        let data = RevisionHistory.data(template: ["metadata": ["labels": ["app": "web"]],
                                                  "spec": ["containers": [["name": "c", "image": "nginx"]], "restartPolicy": "Always"]])
        XCTAssertEqual(String(decoding: JSONWriter.encode(data), as: UTF8.self),
                       #"{"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null,"labels":{"app":"web"}},"#
                       + #""spec":{"containers":[{"image":"nginx","name":"c","resources":{}}],"restartPolicy":"Always"}}}}"#)
        // The name hash covers the data bytes and the collision count.
        XCTAssertNotEqual(RevisionHistory.hash(data: data, collisionCount: 0), RevisionHistory.hash(data: data, collisionCount: 1))
        XCTAssertTrue(RevisionHistory.hash(data: data, collisionCount: 0).allSatisfy { "bcdfghjklmnpqrstvwxz2456789".contains($0) })
    }

    func testStatefulSetRevisionsFollowTemplatesAndUndoRenumbers() throws {
        let c = try WLCluster()
        defer { c.stop() }
        c.start { [StatefulSetController(storage: $0, options: ControllerOptions())] }
        var sts = wlWorkload("StatefulSet", "db", replicas: 2)
        sts.metadata["annotations"] = ["kubernetes.io/change-cause": "first"]
        try c.create(.statefulSet, sts)
        c.driveReady("2 ready") { wlInt(c.get(.statefulSet, "db"), "status", "readyReplicas") == 2 }
        var crs = revisions(c, owner: "db")
        XCTAssertEqual(crs.count, 1)
        let first = crs[0]
        XCTAssertEqual(wlInt(first, "revision"), 1)
        XCTAssertEqual(first.annotations["kubernetes.io/change-cause"], "first")
        XCTAssertEqual(first.labels["app"], "db")
        let hash = first.labels["controller-revision-hash"] ?? ""
        XCTAssertEqual(first.name, "db-" + hash)
        XCTAssertEqual(first.metadata["ownerReferences"]?[0]["controller"].boolValue, true)
        XCTAssertEqual(first["data"]?["spec"]["template"]["$patch"].stringValue, "replace")
        let status = c.get(.statefulSet, "db")?["status"]
        XCTAssertEqual(status?["currentRevision"].stringValue, first.name)
        XCTAssertEqual(status?["updateRevision"].stringValue, first.name)
        for p in c.pods() { XCTAssertEqual(p.labels["controller-revision-hash"], first.name) }

        try setImage(c, .statefulSet, "db", "nginx:2")
        c.driveReady("rolled to nginx:2") {
            let s = c.get(.statefulSet, "db")
            return wlInt(s, "status", "observedGeneration") == 2 && wlInt(s, "status", "updatedReplicas") == 2
                && s?["status"]?["currentRevision"] == s?["status"]?["updateRevision"]
        }
        crs = revisions(c, owner: "db")
        XCTAssertEqual(crs.map { wlInt($0, "revision") }, [1, 2])
        XCTAssertEqual(crs.map(image), ["nginx:1", "nginx:2"])
        XCTAssertEqual(c.get(.statefulSet, "db")?["status"]?["updateRevision"].stringValue, crs[1].name)

        // Undo: the first template again. Its revision is renumbered 3; no new revision.
        try setImage(c, .statefulSet, "db", "nginx:1")
        c.driveReady("rolled back") {
            let s = c.get(.statefulSet, "db")
            return wlInt(s, "status", "observedGeneration") == 3 && wlInt(s, "status", "updatedReplicas") == 2
                && s?["status"]?["currentRevision"].stringValue == first.name
        }
        crs = revisions(c, owner: "db")
        XCTAssertEqual(crs.map(\.name), [crs[0].name, first.name])
        XCTAssertEqual(crs.map { wlInt($0, "revision") }, [2, 3])
        XCTAssertEqual(c.get(.statefulSet, "db")?["status"]?["updateRevision"].stringValue, first.name)
        for p in c.pods() { XCTAssertEqual(p.labels["controller-revision-hash"], first.name) }
    }

    func testStatefulSetHistoryLimitKeepsLiveRevisions() throws {
        let c = try WLCluster()
        defer { c.stop() }
        c.start { [StatefulSetController(storage: $0, options: ControllerOptions())] }
        try c.create(.statefulSet, wlWorkload("StatefulSet", "db", replicas: 1, extra: ["revisionHistoryLimit": 1]))
        for (i, img) in ["nginx:2", "nginx:3", "nginx:4"].enumerated() {
            c.driveReady("ready") { wlInt(c.get(.statefulSet, "db"), "status", "updatedReplicas") == 1
                && wlInt(c.get(.statefulSet, "db"), "status", "observedGeneration") == i + 1 }
            try setImage(c, .statefulSet, "db", img)
        }
        c.driveReady("on nginx:4") {
            let s = c.get(.statefulSet, "db")
            return wlInt(s, "status", "observedGeneration") == 4 && s?["status"]?["currentRevision"] == s?["status"]?["updateRevision"]
        }
        c.waitUntil("one old revision kept") { revisions(c, owner: "db").count == 2 }
        XCTAssertEqual(revisions(c, owner: "db").map(image), ["nginx:3", "nginx:4"])
    }

    func testDaemonSetRevisionsLabelPodsAndUndoRenumbers() throws {
        let c = try WLCluster()
        defer { c.stop() }
        try c.store.write(ResourceKind.node.groupResource, namespace: "", name: "n1") { _ in
            .put(["apiVersion": "v1", "kind": "Node", "metadata": ["name": "n1", "uid": .string(Identifiers.uuid())]])
        }
        c.start { [DaemonSetController(storage: $0, options: ControllerOptions()), GracefulDeletionController(storage: $0)] }
        try c.create(.daemonSet, wlWorkload("DaemonSet", "agent", replicas: nil, extra: ["revisionHistoryLimit": 1]))
        c.driveReady("available") { wlInt(c.get(.daemonSet, "agent"), "status", "numberAvailable") == 1 }
        let first = revisions(c, owner: "agent")
        XCTAssertEqual(first.count, 1)
        let hash = first[0].labels["controller-revision-hash"] ?? ""
        XCTAssertEqual(first[0].name, "agent-" + hash)
        XCTAssertEqual(c.pods().first?.labels["controller-revision-hash"], hash)

        func rolled(_ generation: Int) -> Bool {
            let d = c.get(.daemonSet, "agent")
            let live = c.pods().filter { $0.object.deletionTimestamp == nil }
            return wlInt(d, "status", "observedGeneration") == generation && wlInt(d, "status", "updatedNumberScheduled") == 1
                && live.count == 1 && PodFacts.isReady(live[0].object)
        }
        try setImage(c, .daemonSet, "agent", "nginx:2")
        c.driveReady("nginx:2") { rolled(2) }
        XCTAssertEqual(revisions(c, owner: "agent").map { wlInt($0, "revision") }, [1, 2])
        try setImage(c, .daemonSet, "agent", "nginx:1")
        c.driveReady("nginx:1 again") { rolled(3) }
        let crs = revisions(c, owner: "agent")
        XCTAssertEqual(crs.map { wlInt($0, "revision") }, [2, 3])
        XCTAssertEqual(crs[1].name, first[0].name, "the first revision is used again")
        XCTAssertEqual(c.pods().filter { $0.object.deletionTimestamp == nil }.first?.labels["controller-revision-hash"], hash)
        try setImage(c, .daemonSet, "agent", "nginx:3")
        c.driveReady("nginx:3") { rolled(4) }
        c.waitUntil("limit 1") { revisions(c, owner: "agent").count == 2 }
        XCTAssertEqual(revisions(c, owner: "agent").map(image), ["nginx:1", "nginx:3"])
    }
}
