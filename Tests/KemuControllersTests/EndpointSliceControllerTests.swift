import Dispatch
import Foundation
import XCTest
@testable import KemuControllers
import KemuAPI
import KemuRegistry
import KemuStore

/// Counts store events of one resource.
final class ESEventCounter: StoreWatcher, @unchecked Sendable {
    let resource: GroupResource
    private let lock = NSLock()
    private var events: [StoreEvent] = []
    init(_ resource: GroupResource) { self.resource = resource }
    func deliver(_ event: StoreEvent) -> Bool { lock.lock(); events.append(event); lock.unlock(); return true }
    func tick(nowMillis: UInt64, dispatchedRV: UInt64) -> Bool { true }
    func ended(reason: WatchEndReason) {}
    var all: [StoreEvent] { lock.lock(); defer { lock.unlock() }; return events }
    func count(_ type: EventType) -> Int { all.filter { $0.type == type }.count }
    func reset() { lock.lock(); events = []; lock.unlock() }
}

/// A store with namespaces `test` and `other`, a running hub and the EndpointSlice controller.
final class ESCluster: @unchecked Sendable {
    let store = Store(eventHistory: 200_000)
    let storage: ObjectStorage
    let controller: EndpointSliceController
    var gc: GarbageCollector?

    init(options: ControllerOptions = ControllerOptions(), withGC: Bool = false, nodes: [JSONObject] = [esNode("node-1")]) throws {
        storage = ObjectStorage(store: store, registry: .standard, context: ClusterAllocators())
        for ns in ["test", "other"] {
            _ = try storage.create(.namespace, namespace: "", body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(ns)]])
        }
        controller = EndpointSliceController(storage: storage, options: options)
        for n in nodes { try putNode(n) }
        store.hub.start(initialRV: store.currentResourceVersion)
        if withGC { gc = GarbageCollector(storage: storage); gc!.start() }
        controller.start()
    }

    func stop() {
        controller.stop()
        gc?.stop()
        store.hub.stop()
    }

    func counter() -> ESEventCounter {
        let c = ESEventCounter(ResourceKind.endpointSlice.groupResource)
        store.hub.register(c, fromRV: store.currentResourceVersion)
        return c
    }

    /// Writes a pod as a kubelet would have left it (status included), bypassing create-time defaulting.
    func putPod(_ pod: JSONObject) throws {
        try store.write(ResourceKind.pod.groupResource, namespace: pod.namespace, name: pod.name) { cur in
            var o = pod
            if let cur {
                o.metadata["uid"] = cur.object.metadata["uid"]
                o.metadata["creationTimestamp"] = cur.object.metadata["creationTimestamp"]
            } else {
                o.metadata["creationTimestamp"] = "2024-01-01T00:00:00Z"
            }
            return .put(o)
        }
    }

    func deletePod(_ name: String, ns: String = "test") throws {
        try store.write(ResourceKind.pod.groupResource, namespace: ns, name: name) { _ in .delete }
    }

    func putNode(_ node: JSONObject) throws {
        try store.write(ResourceKind.node.groupResource, namespace: "", name: node.name) { _ in .put(node) }
    }

    func createService(_ svc: JSONObject) throws {
        var body = svc
        body.metadata["uid"] = nil
        body.metadata["creationTimestamp"] = nil
        _ = try storage.create(.service, namespace: svc.namespace, body: body)
    }

    func slices(_ ns: String = "test", service: String = "foo") -> [JSONObject] {
        ((try? store.list(ResourceKind.endpointSlice.groupResource, namespace: ns))?.items ?? []).map(\.object)
            .filter { $0.labels["kubernetes.io/service-name"] == service }
    }

    func sizes(_ service: String = "foo") -> [Int] {
        slices(service: service).map { $0["endpoints"]?.arrayValue?.count ?? 0 }.sorted(by: >)
    }

    /// Waits until every store event has reached the controller and it has nothing queued.
    func settle(timeout: Double = 20) {
        let deadline = Date().addingTimeInterval(timeout)
        var lastRV: UInt64 = .max
        while Date() < deadline {
            while store.hub.dispatchedResourceVersion < store.currentResourceVersion && Date() < deadline { usleep(500) }
            // Keys waiting for a retry backoff do not count.
            let pending = controller.queue.sync { controller.keys.waiting.keys.filter { controller.retries[$0] == nil }.count }
            let rv = store.currentResourceVersion
            if pending == 0 && rv == lastRV { return }
            lastRV = rv
            usleep(pending == 0 ? 2000 : 10_000)
        }
        XCTFail("controller did not settle")
    }

    var stats: EndpointSliceController.Stats { controller.queue.sync { controller.stats } }

    /// Reasons of the Events recorded so far (waits for the event queue first).
    func eventReasons() -> [String] {
        EventBroadcaster.shared(for: storage).flush()
        return ((try? store.list(ResourceKind.event.groupResource))?.items ?? []).compactMap { $0.object["reason"]?.stringValue }
    }
}

final class EndpointSliceControllerTests: XCTestCase {
    /// §5.1 and §5.5 through the running controller: placeholder, then selector filtering.
    func testPlaceholderThenSelectedPodsOnly() throws {
        let c = try ESCluster()
        defer { c.stop() }
        try c.createService(esService())
        c.settle()
        var s = c.slices()
        XCTAssertEqual(s.count, 1)
        XCTAssertTrue(s[0].name.hasPrefix("foo-"))
        XCTAssertEqual(s[0]["endpoints"], .array([]))
        XCTAssertEqual(s[0]["ports"], .array([]))
        let svcCreated = c.store.get(ResourceKind.service.groupResource, namespace: "test", name: "foo")!.object.metadata.string("creationTimestamp")
        XCTAssertEqual(s[0].annotations["endpoints.kubernetes.io/last-change-trigger-time"], svcCreated)
        XCTAssertEqual(s[0].metadata["generation"], 1)

        try c.putPod(esPod("pod1", ips: ["1.2.3.4"], readySince: "2024-05-05T05:05:05Z"))
        try c.putPod(esPod("pod2", ips: ["1.2.3.5"], labels: ["foo": "boo"]))
        c.settle()
        s = c.slices()
        XCTAssertEqual(s.count, 1)
        XCTAssertEqual(s[0]["endpoints"]?.arrayValue?.map { $0["targetRef"] },
                       [["kind": "Pod", "namespace": "test", "name": "pod1", "uid": "uid-pod1"]])
        XCTAssertEqual(s[0].annotations["endpoints.kubernetes.io/last-change-trigger-time"], "2024-05-05T05:05:05Z")
        XCTAssertEqual(s[0]["ports"], [["name": "foo", "port": 80, "protocol": "TCP"]])
    }

    /// §5.2, §5.3: no selector, ExternalName → no slices.
    func testNoSelectorAndExternalNameGetNothing() throws {
        let c = try ESCluster()
        defer { c.stop() }
        try c.putPod(esPod("pod1", ips: ["1.2.3.4"]))
        try c.createService(esService("nosel", selector: nil))
        var ext = esService("ext", type: "ExternalName")
        ext.withObject("spec") { $0["externalName"] = "example.com"; $0["ipFamilies"] = nil }
        try c.createService(ext)
        c.settle()
        XCTAssertEqual(c.slices(service: "nosel").count, 0)
        XCTAssertEqual(c.slices(service: "ext").count, 0)
    }

    func testReadinessFlipInLargeServiceIsOneWrite() throws {
        let c = try ESCluster()
        defer { c.stop() }
        for i in 0..<1000 { try c.putPod(esPod("pod\(i)", ips: [esIP(i)])) }
        try c.createService(esService())
        c.settle()
        XCTAssertEqual(c.sizes(), Array(repeating: 100, count: 10))
        let events = c.counter()
        try c.putPod(esPod("pod421", ips: [esIP(421)], ready: false, readySince: "2024-06-01T00:00:00Z"))
        c.settle()
        XCTAssertEqual(events.count(.modified), 1)
        XCTAssertEqual(events.count(.added), 0)
        XCTAssertEqual(events.count(.deleted), 0)
        let changed = events.all.first!.object.object
        XCTAssertEqual(changed.annotations["endpoints.kubernetes.io/last-change-trigger-time"], "2024-06-01T00:00:00Z")
        // A pod change the endpoint does not show (an annotation) writes nothing.
        events.reset()
        var p = esPod("pod7", ips: [esIP(7)])
        p.metadata["annotations"] = ["x": "y"]
        try c.putPod(p)
        c.settle()
        XCTAssertEqual(events.all.count, 0)
    }

    func testScaleUpAndDown() throws {
        let c = try ESCluster()
        defer { c.stop() }
        try c.createService(esService())
        c.settle()
        for i in 0..<250 { try c.putPod(esPod("pod\(i)", ips: [esIP(i)])) }
        c.settle()
        XCTAssertEqual(c.sizes().reduce(0, +), 250)
        XCTAssertTrue(c.sizes().allSatisfy { $0 <= 100 })
        for i in 3..<250 { try c.deletePod("pod\(i)") }
        c.settle()
        // Deletions race with syncs: the survivors stay where they were (the controller never
        // merges slices), so they may end up in one slice or spread over the ones that remain.
        XCTAssertEqual(c.sizes().reduce(0, +), 3)
        XCTAssertTrue(c.sizes().allSatisfy { $0 > 0 }, "\(c.sizes())")
        for i in 0..<3 { try c.deletePod("pod\(i)") }
        c.settle()
        XCTAssertEqual(c.sizes(), [0])
    }

    func testUserDeletedSliceIsRecreated() throws {
        let c = try ESCluster()
        defer { c.stop() }
        for i in 0..<5 { try c.putPod(esPod("pod\(i)", ips: [esIP(i)])) }
        try c.createService(esService())
        c.settle()
        let name = c.slices()[0].name
        _ = try c.storage.delete(.endpointSlice, namespace: "test", name: name)
        c.settle()
        XCTAssertEqual(c.sizes(), [5])
        XCTAssertNotEqual(c.slices()[0].name, name)
    }

    func testUserEditsRestoredButAnnotationKept() throws {
        let c = try ESCluster()
        defer { c.stop() }
        for i in 0..<5 { try c.putPod(esPod("pod\(i)", ips: [esIP(i)])) }
        try c.createService(esService(labels: ["app": "web"]))
        c.settle()
        let name = c.slices()[0].name
        let events = c.counter()
        // Annotation-only edit: no resync, annotation survives.
        _ = try c.storage.update(.endpointSlice, namespace: "test", name: name) { cur in
            var o = cur
            o.metadata["annotations"] = .stringMap(cur.annotations.merging(["user": "note"]) { $1 })
            return o
        }
        c.settle()
        XCTAssertEqual(events.all.count, 1)
        XCTAssertEqual(c.slices()[0].annotations["user"], "note")
        // Endpoint and label edits are put back (after the ≥1 s slice delay).
        events.reset()
        _ = try c.storage.update(.endpointSlice, namespace: "test", name: name) { cur in
            var o = cur
            var eps = cur["endpoints"]!.arrayValue!
            eps.removeFirst()
            eps.append(["addresses": ["9.9.9.9"], "conditions": ["ready": true]])
            o["endpoints"] = .array(eps)
            o.metadata["labels"] = .stringMap(cur.labels.merging(["app": "hijack"]) { $1 })
            return o
        }
        c.settle()
        let s = c.slices()
        XCTAssertEqual(s.count, 1)
        XCTAssertEqual(Set(s[0]["endpoints"]!.arrayValue!.compactMap { $0["targetRef"]["name"].stringValue }), Set((0..<5).map { "pod\($0)" }))
        XCTAssertEqual(s[0].labels["app"], "web")
        XCTAssertEqual(s[0].annotations["user"], "note")
        XCTAssertEqual(events.count(.modified), 2)
    }

    func testManagedByChangeMakesReplacement() throws {
        let c = try ESCluster()
        defer { c.stop() }
        try c.putPod(esPod("pod0", ips: [esIP(0)]))
        try c.createService(esService())
        c.settle()
        let name = c.slices()[0].name
        _ = try c.storage.update(.endpointSlice, namespace: "test", name: name) { cur in
            var o = cur
            o.metadata["labels"] = .stringMap(cur.labels.merging(["endpointslice.kubernetes.io/managed-by": "someone-else"]) { $1 })
            return o
        }
        c.settle()
        let s = c.slices()
        XCTAssertEqual(s.count, 2)
        XCTAssertEqual(s.first { $0.name == name }?.labels["endpointslice.kubernetes.io/managed-by"], "someone-else")
        XCTAssertEqual(s.first { $0.name != name }?["endpoints"]?.arrayValue?.count, 1)
    }

    func testServiceDeletionGarbageCollectsSlices() throws {
        let c = try ESCluster(withGC: true)
        defer { c.stop() }
        for i in 0..<150 { try c.putPod(esPod("pod\(i)", ips: [esIP(i)])) }
        try c.createService(esService())
        c.settle()
        XCTAssertEqual(c.slices().count, 2)
        _ = try c.storage.delete(.service, namespace: "test", name: "foo")
        let deadline = Date().addingTimeInterval(10)
        while !c.slices().isEmpty && Date() < deadline { usleep(5000) }
        XCTAssertEqual(c.slices().count, 0)
        c.settle()
        XCTAssertEqual(c.slices().count, 0)
    }

    func testPodBatching() throws {
        var opts = ControllerOptions()
        opts.endpointUpdatesBatchPeriod = 0.5
        let c = try ESCluster(options: opts)
        defer { c.stop() }
        try c.createService(esService())
        c.settle()
        let events = c.counter()
        for i in 0..<3 { try c.putPod(esPod("pod\(i)", ips: [esIP(i)])); usleep(50_000) }
        c.settle()
        XCTAssertEqual(events.all.count, 1)
        XCTAssertEqual(c.sizes(), [3])
    }

    func testMissingNodeRetriedUntilNodeAppears() throws {
        let c = try ESCluster()
        defer { c.stop() }
        try c.putPod(esPod("a", ips: [esIP(1)]))
        try c.putPod(esPod("b", ips: [esIP(2)], node: "late"))
        try c.createService(esService())
        c.settle()
        XCTAssertEqual(c.sizes(), [1])
        XCTAssertTrue(c.eventReasons().contains("FailedToUpdateEndpointSlices"))
        try c.putNode(esNode("late", zone: "z9"))
        // Node events do not resync Services; the retry (1 s backoff) picks the pod up.
        let deadline = Date().addingTimeInterval(10)
        while c.sizes() != [2] && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(c.sizes(), [2])
        let b = c.slices()[0]["endpoints"]!.arrayValue!.first { $0["targetRef"]["name"] == "b" }
        XCTAssertEqual(b?["zone"], "z9")
    }

    func testDualStackServiceThroughStorage() throws {
        let c = try ESCluster()
        defer { c.stop() }
        try c.putPod(esPod("pod1", ips: ["1.2.3.4", "fd00::4"]))
        var svc = esService(families: ["IPv4", "IPv6"])
        svc.withObject("spec") { $0["ipFamilyPolicy"] = "RequireDualStack"; $0["clusterIP"] = "None" }
        try c.createService(svc)
        c.settle()
        let s = c.slices()
        XCTAssertEqual(Set(s.compactMap { $0["addressType"]?.stringValue }), ["IPv4", "IPv6"])
        XCTAssertTrue(s.allSatisfy { $0["endpoints"]?.arrayValue?.count == 1 })
        XCTAssertTrue(s.allSatisfy { $0.labels["service.kubernetes.io/headless"] == "" })
    }

    func testServiceChangesRewriteInPlace() throws {
        let c = try ESCluster()
        defer { c.stop() }
        for i in 0..<250 { try c.putPod(esPod("pod\(i)", ips: [esIP(i)])) }
        try c.createService(esService())
        c.settle()
        let names = Set(c.slices().map(\.name))
        let events = c.counter()
        // A target port change moves every endpoint to a new port group: recycled into 3 updates.
        _ = try c.storage.update(.service, namespace: "test", name: "foo") { cur in
            var o = cur
            o.withObject("spec") { $0["ports"] = [["name": "foo", "protocol": "TCP", "port": 80, "targetPort": 8080]] }
            return o
        }
        c.settle()
        XCTAssertEqual(events.count(.modified), 3)
        XCTAssertEqual(events.all.count, 3)
        XCTAssertEqual(Set(c.slices().map(\.name)), names)
        XCTAssertTrue(c.slices().allSatisfy { $0["ports"] == [["name": "foo", "port": 8080, "protocol": "TCP"]] })
        // A label change is copied; nothing triggered it, so the trigger-time annotation is dropped.
        events.reset()
        _ = try c.storage.update(.service, namespace: "test", name: "foo") { cur in
            var o = cur
            o.metadata["labels"] = ["team": "a"]
            return o
        }
        c.settle()
        XCTAssertEqual(events.count(.modified), 3)
        XCTAssertTrue(c.slices().allSatisfy { $0.labels["team"] == "a" })
        XCTAssertTrue(c.slices().allSatisfy { $0.annotations["endpoints.kubernetes.io/last-change-trigger-time"] == nil })
    }

    func testPodLabelChangeMovesEndpointBetweenServices() throws {
        let c = try ESCluster()
        defer { c.stop() }
        try c.putPod(esPod("pod0", ips: [esIP(0)]))
        try c.putPod(esPod("pod1", ips: [esIP(1)]))
        try c.createService(esService())
        try c.createService(esService("bar", selector: ["foo": "baz"]))
        c.settle()
        XCTAssertEqual(c.sizes("foo"), [2])
        XCTAssertEqual(c.sizes("bar"), [0])
        try c.putPod(esPod("pod1", ips: [esIP(1)], labels: ["foo": "baz"]))
        c.settle()
        XCTAssertEqual(c.sizes("foo"), [1])
        XCTAssertEqual(c.sizes("bar"), [1])
    }

    func testTopologyAwareHintsThroughController() throws {
        let nodes = [esNode("n1", zone: "z1"), esNode("n2", zone: "z2")]
        let c = try ESCluster(nodes: nodes)
        defer { c.stop() }
        for i in 0..<6 { try c.putPod(esPod("pod\(i)", ips: [esIP(i)], node: i < 3 ? "n1" : "n2")) }
        try c.createService(esService(annotations: ["service.kubernetes.io/topology-mode": "Auto"]))
        c.settle()
        let eps = c.slices()[0]["endpoints"]!.arrayValue!
        XCTAssertEqual(eps.filter { $0["hints"]["forZones"][0]["name"] == "z1" }.count, 3)
        XCTAssertEqual(eps.filter { $0["hints"]["forZones"][0]["name"] == "z2" }.count, 3)
        XCTAssertTrue(c.eventReasons().contains("TopologyAwareHintsEnabled"))
    }

    /// Timings for the brief: 10,000 pods reconciled from nothing, then one flip. Prints, asserts only correctness.
    func testTimings10kPods() throws {
        let c = try ESCluster()
        defer { c.stop() }
        let nodes = (0..<10).map { esNode("n\($0)", zone: "z\($0 % 3)") }
        for n in nodes { try c.putNode(n) }
        for i in 0..<10_000 { try c.putPod(esPod("pod\(i)", ips: [esIP(i)], node: "n\(i % 10)")) }
        c.settle()
        let before = c.stats
        try c.createService(esService())
        c.settle()
        let after = c.stats
        XCTAssertEqual(c.sizes(), Array(repeating: 100, count: 100))
        let fromNothing = Double(after.syncNanos - before.syncNanos) / 1e6
        print("endpointslice phases from nothing (refresh, list, reconcile, write) ms:", after.lastPhases.map { Double($0) / 1e6 })
        let events = c.counter()
        var flips: [Double] = []
        for round in 0..<5 {
            let i = 1234 + round * 1000
            let s0 = c.stats
            try c.putPod(esPod("pod\(i)", ips: [esIP(i)], ready: false, node: "n\(i % 10)", readySince: "2024-06-01T00:00:00Z"))
            c.settle()
            let s1 = c.stats
            XCTAssertEqual(s1.syncs - s0.syncs, 1)
            flips.append(Double(s1.syncNanos - s0.syncNanos) / 1e6)
            print("endpointslice phases flip (refresh, list, reconcile, write) ms:", s1.lastPhases.map { Double($0) / 1e6 })
        }
        XCTAssertEqual(events.count(.modified), 5)
        XCTAssertEqual(events.all.count, 5)
        print(String(format: "endpointslice timings: 10000 pods from nothing %.2f ms in %d sync(s), %d writes; one flip %@ ms",
                     fromNothing, after.syncs - before.syncs, after.writes - before.writes,
                     flips.map { String(format: "%.3f", $0) }.joined(separator: ", ")))
    }
}
