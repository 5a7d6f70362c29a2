import Foundation
import XCTest
@testable import KemuControllers
import KemuAPI
import KemuRegistry
import KemuStore

/// Custom Endpoints `foo` in `test`.
func mirEndpoints(_ name: String = "foo", ns: String = "test", subsets: [JSON], labels: [String: String] = [:],
                  annotations: [String: String] = [:], deleting: Bool = false) -> JSONObject {
    var meta: JSONObject = ["name": .string(name), "namespace": .string(ns), "uid": .string("ep-uid-" + name)]
    if !labels.isEmpty { meta["labels"] = .stringMap(labels) }
    if !annotations.isEmpty { meta["annotations"] = .stringMap(annotations) }
    if deleting { meta["deletionTimestamp"] = "2024-01-01T00:00:00Z" }
    return ["apiVersion": "v1", "kind": "Endpoints", "metadata": .object(meta), "subsets": .array(subsets)]
}

/// Gives planned slices the names and defaults the API server would, so they can be fed back.
func mirStore(_ plan: MirroringPlan, into existing: [JSONObject]) -> [JSONObject] {
    var out = existing.filter { s in !plan.deletes.contains(s.name) && !plan.updates.contains { $0.name == s.name } }
    out += plan.updates
    for (i, var c) in plan.creates.enumerated() {
        c.metadata["name"] = .string((c.metadata.string("generateName") ?? "x-") + "gen\(i)\(existing.count)")
        c.metadata["generateName"] = nil
        out.append(c)
    }
    return out
}

final class MirroringReconcilerTests: XCTestCase {
    let readyAddr: JSON = ["ip": "10.0.0.1", "nodeName": "node-1", "hostname": "h1",
                           "targetRef": ["kind": "Pod", "namespace": "test", "name": "p1", "uid": "u1"]]
    let notReadyAddr: JSON = ["ip": "10.0.0.2"]
    let port: JSON = ["name": "http", "port": 80, "protocol": "TCP"]

    func testShouldMirror() {
        XCTAssertTrue(MirroringReconciler.shouldMirror(mirEndpoints(subsets: [])))
        XCTAssertFalse(MirroringReconciler.shouldMirror(mirEndpoints(subsets: [], labels: ["endpointslice.kubernetes.io/skip-mirror": "true"])))
        XCTAssertTrue(MirroringReconciler.shouldMirror(mirEndpoints(subsets: [], labels: ["endpointslice.kubernetes.io/skip-mirror": "false"])))
        XCTAssertTrue(MirroringReconciler.shouldMirror(mirEndpoints(subsets: [], labels: ["endpointslice.kubernetes.io/skip-mirror": "True"])))
        XCTAssertFalse(MirroringReconciler.shouldMirror(mirEndpoints(subsets: [], annotations: ["control-plane.alpha.kubernetes.io/leader": "x"])))
    }

    func testMirroredSliceShape() throws {
        let ep = mirEndpoints(subsets: [["addresses": [readyAddr], "notReadyAddresses": [notReadyAddr], "ports": [port]]],
                              labels: ["app": "web", "kubernetes.io/service-name": "spoof"],
                              annotations: ["note": "x", "endpoints.kubernetes.io/last-change-trigger-time": "t",
                                            "kubectl.kubernetes.io/last-applied-configuration": "{}"])
        let plan = MirroringReconciler.reconcile(endpoints: ep, existing: [], maxEndpointsPerSubset: 1000)
        XCTAssertEqual(plan.creates.count, 1)
        XCTAssertTrue(plan.updates.isEmpty && plan.deletes.isEmpty)
        let s = plan.creates[0]
        XCTAssertEqual(s.metadata.string("generateName"), "foo-")
        XCTAssertEqual(s.namespace, "test")
        XCTAssertEqual(s.labels, ["app": "web", "kubernetes.io/service-name": "foo",
                                  "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"])
        XCTAssertEqual(s.annotations, ["note": "x"])
        XCTAssertEqual(s.metadata["ownerReferences"], [["apiVersion": "v1", "kind": "Endpoints", "name": "foo", "uid": "ep-uid-foo",
                                                        "controller": true, "blockOwnerDeletion": true]])
        XCTAssertEqual(s["addressType"], "IPv4")
        XCTAssertEqual(s["ports"], [["name": "http", "port": 80, "protocol": "TCP"]])
        let eps = try XCTUnwrap(s["endpoints"]?.arrayValue)
        XCTAssertEqual(eps.count, 2)
        XCTAssertEqual(eps[0], ["addresses": ["10.0.0.1"], "conditions": ["ready": true], "hostname": "h1",
                                "targetRef": ["kind": "Pod", "namespace": "test", "name": "p1", "uid": "u1"], "nodeName": "node-1"])
        XCTAssertEqual(eps[1], ["addresses": ["10.0.0.2"], "conditions": ["ready": false]])
    }

    func testAddressFamiliesInvalidIPsAndCanonicalForm() {
        let ep = mirEndpoints(subsets: [["addresses": [["ip": "10.0.0.1"], ["ip": "2001:0db8:0000:0000:0000:0000:0000:0001"],
                                                       ["ip": "not-an-ip"], ["ip": "::ffff:10.0.0.9"]],
                                         "ports": [port]]])
        let plan = MirroringReconciler.reconcile(endpoints: ep, existing: [], maxEndpointsPerSubset: 1000)
        XCTAssertEqual(plan.creates.count, 2)
        XCTAssertEqual(plan.invalidAddresses, 1)
        XCTAssertEqual(plan.skippedAddresses, 1)
        let byType = Dictionary(uniqueKeysWithValues: plan.creates.map { ($0["addressType"]!.stringValue!, $0) })
        XCTAssertEqual(byType["IPv4"]?["endpoints"]?.arrayValue?.map { $0["addresses"][0] }, ["10.0.0.1", "10.0.0.9"])
        XCTAssertEqual(byType["IPv6"]?["endpoints"]?.arrayValue?.map { $0["addresses"][0] }, ["2001:db8::1"])
    }

    func testPerSubsetLimitPrefersReadyAddresses() {
        let ready: [JSON] = (1...3).map { ["ip": .string("10.0.0.\($0)")] }
        let notReady: [JSON] = (4...5).map { ["ip": .string("10.0.0.\($0)")] }
        let ep = mirEndpoints(subsets: [
            ["addresses": .array(ready), "notReadyAddresses": .array(notReady), "ports": [port]],
            ["addresses": [["ip": "10.1.0.1"]], "ports": [["name": "other", "port": 81, "protocol": "TCP"]]],
        ])
        let plan = MirroringReconciler.reconcile(endpoints: ep, existing: [], maxEndpointsPerSubset: 2)
        XCTAssertEqual(plan.creates.count, 2)
        XCTAssertEqual(plan.skippedAddresses, 3)
        XCTAssertEqual(plan.invalidAddresses, 0)
        let http = plan.creates.first { $0["ports"]?[0]["name"] == "http" }!
        XCTAssertEqual(http["endpoints"]?.arrayValue?.map { $0["conditions"]["ready"] }, [true, true])
    }

    func testUpToDateSlicesAreLeftAlone() {
        let ep = mirEndpoints(subsets: [["addresses": [readyAddr], "ports": [port]]], labels: ["app": "web"], annotations: ["a": "b"])
        let first = MirroringReconciler.reconcile(endpoints: ep, existing: [], maxEndpointsPerSubset: 1000)
        let stored = mirStore(first, into: [])
        XCTAssertEqual(MirroringReconciler.reconcile(endpoints: ep, existing: stored, maxEndpointsPerSubset: 1000), MirroringPlan())
        // A trigger-time annotation on the Endpoints does not matter.
        var ep2 = ep
        ep2.metadata["annotations"] = ["a": "b", "endpoints.kubernetes.io/last-change-trigger-time": "now"]
        XCTAssertTrue(MirroringReconciler.reconcile(endpoints: ep2, existing: stored, maxEndpointsPerSubset: 1000).isEmpty)
        // A stored targetRef.resourceVersion does not matter either.
        var withRV = stored[0]
        var e0 = withRV["endpoints"]!.arrayValue![0].objectValue!
        e0.withObject("targetRef") { $0["resourceVersion"] = "7" }
        withRV["endpoints"] = [.object(e0)]
        XCTAssertTrue(MirroringReconciler.reconcile(endpoints: ep, existing: [withRV], maxEndpointsPerSubset: 1000).isEmpty)
    }

    func testLabelAnnotationAndEndpointChangesRewriteTheFirstSlice() {
        let ep = mirEndpoints(subsets: [["addresses": [readyAddr], "ports": [port]]])
        let stored = mirStore(MirroringReconciler.reconcile(endpoints: ep, existing: [], maxEndpointsPerSubset: 1000), into: [])
        let name = stored[0].name
        for changed in [
            mirEndpoints(subsets: [["addresses": [readyAddr], "ports": [port]]], labels: ["new": "l"]),
            mirEndpoints(subsets: [["addresses": [readyAddr], "ports": [port]]], annotations: ["new": "a"]),
            mirEndpoints(subsets: [["notReadyAddresses": [readyAddr], "ports": [port]]]),
            mirEndpoints(subsets: [["addresses": [readyAddr, notReadyAddr], "ports": [port]]]),
        ] {
            let plan = MirroringReconciler.reconcile(endpoints: changed, existing: stored, maxEndpointsPerSubset: 1000)
            XCTAssertEqual(plan.updates.map(\.name), [name])
            XCTAssertTrue(plan.creates.isEmpty && plan.deletes.isEmpty)
            XCTAssertNil(plan.updates[0].metadata["generateName"])
        }
        // A user-added slice annotation is reverted.
        var edited = stored[0]
        edited.metadata["annotations"] = ["user": "x"]
        XCTAssertEqual(MirroringReconciler.reconcile(endpoints: ep, existing: [edited], maxEndpointsPerSubset: 1000).updates.count, 1)
    }

    func testDuplicatesAreDeletedAndPortChangesRecycle() {
        let ep = mirEndpoints(subsets: [["addresses": [readyAddr], "ports": [port]]])
        let stored = mirStore(MirroringReconciler.reconcile(endpoints: ep, existing: [], maxEndpointsPerSubset: 1000), into: [])
        var dup = stored[0]
        dup.metadata["name"] = "foo-dup"
        let plan = MirroringReconciler.reconcile(endpoints: ep, existing: stored + [dup], maxEndpointsPerSubset: 1000)
        XCTAssertEqual(plan.deletes, ["foo-dup"])
        XCTAssertTrue(plan.creates.isEmpty && plan.updates.isEmpty)

        // New ports: the old slice is rewritten in place instead of create + delete.
        let moved = mirEndpoints(subsets: [["addresses": [readyAddr], "ports": [["name": "https", "port": 443, "protocol": "TCP"]]]])
        let recycle = MirroringReconciler.reconcile(endpoints: moved, existing: stored, maxEndpointsPerSubset: 1000)
        XCTAssertTrue(recycle.creates.isEmpty && recycle.deletes.isEmpty)
        XCTAssertEqual(recycle.updates.map(\.name), [stored[0].name])
        XCTAssertEqual(recycle.updates[0]["ports"], [["name": "https", "port": 443, "protocol": "TCP"]])
    }

    func testNoAddressesMeansNoSlices() {
        let ep = mirEndpoints(subsets: [["addresses": [readyAddr], "ports": [port]]])
        let stored = mirStore(MirroringReconciler.reconcile(endpoints: ep, existing: [], maxEndpointsPerSubset: 1000), into: [])
        let empty = mirEndpoints(subsets: [["ports": [port]]])
        let plan = MirroringReconciler.reconcile(endpoints: empty, existing: stored, maxEndpointsPerSubset: 1000)
        XCTAssertEqual(plan.deletes, [stored[0].name])
        XCTAssertTrue(plan.creates.isEmpty && plan.updates.isEmpty)
        XCTAssertEqual(MirroringReconciler.reconcile(endpoints: mirEndpoints(subsets: []), existing: [], maxEndpointsPerSubset: 1000), MirroringPlan())
    }

    func testNoCreatesWhileTheEndpointsAreBeingDeleted() {
        let ep = mirEndpoints(subsets: [["addresses": [readyAddr], "ports": [port]]], deleting: true)
        XCTAssertTrue(MirroringReconciler.reconcile(endpoints: ep, existing: [], maxEndpointsPerSubset: 1000).creates.isEmpty)
    }

    func testSubsetsAreRepackedFirst() {
        // Two subsets with the same port collapse into one slice.
        let ep = mirEndpoints(subsets: [["addresses": [["ip": "10.0.0.1"]], "ports": [port]],
                                        ["addresses": [["ip": "10.0.0.2"]], "ports": [port]]])
        let plan = MirroringReconciler.reconcile(endpoints: ep, existing: [], maxEndpointsPerSubset: 1000)
        XCTAssertEqual(plan.creates.count, 1)
        XCTAssertEqual(plan.creates[0]["endpoints"]?.arrayValue?.count, 2)
    }
}

final class MirroringEndToEndTests: XCTestCase {
    var cluster: EPTestCluster!
    var mirroring: EndpointSliceMirroringController!
    var endpointsController: EndpointsController?

    override func setUpWithError() throws {
        cluster = try EPTestCluster()
    }

    override func tearDown() {
        mirroring?.stop()
        endpointsController?.stop()
        cluster.stop()
    }

    func start(maxPerSubset: Int = 1000, withEndpointsController: Bool = false) {
        var opts = ControllerOptions()
        opts.mirroringMaxEndpointsPerSubset = maxPerSubset
        mirroring = EndpointSliceMirroringController(storage: cluster.storage, options: opts)
        mirroring.start()
        if withEndpointsController {
            endpointsController = EndpointsController(storage: cluster.storage, options: opts)
            endpointsController!.start()
        }
    }

    func settle() {
        cluster.settle {
            mirroring.events.sync {}
            mirroring.drain()
            endpointsController?.drain()
        }
    }

    func slices(_ name: String = "foo") -> [JSONObject] {
        cluster.list(.endpointSlice, "test").filter { MirroringReconciler.isMirrored($0, name: name) }
    }

    func createEndpoints(_ ips: [String], name: String = "foo", labels: [String: String] = [:]) throws {
        var body: JSONObject = ["apiVersion": "v1", "kind": "Endpoints",
                                "metadata": ["name": .string(name), "labels": .stringMap(labels)],
                                "subsets": [["addresses": .array(ips.map { ["ip": .string($0)] }), "ports": [["name": "http", "port": 80]]]]]
        if labels.isEmpty { body.withObject("metadata") { $0["labels"] = nil } }
        _ = try cluster.storage.create(.endpoints, namespace: "test", body: body)
    }

    func updateEndpoints(_ name: String = "foo", _ change: (inout JSONObject) -> Void) throws {
        _ = try cluster.storage.update(.endpoints, namespace: "test", name: name) { cur in
            var o = cur
            change(&o)
            return o
        }
    }

    func sliceIPs(_ s: JSONObject) -> [String] {
        (s["endpoints"]?.arrayValue ?? []).compactMap { $0["addresses"][0].stringValue }
    }

    func testMirrorsCustomEndpointsOfSelectorlessServices() throws {
        start()
        let counter = cluster.counter(.endpointSlice)
        try cluster.createService(epService(selector: nil))
        try createEndpoints(["10.0.0.1", "10.0.0.2"], labels: ["team": "a"])
        XCTAssertTrue(cluster.eventually { self.slices().count == 1 })
        settle()
        var s = try XCTUnwrap(slices().first)
        let name = s.name
        XCTAssertTrue(name.hasPrefix("foo-"))
        XCTAssertEqual(sliceIPs(s), ["10.0.0.1", "10.0.0.2"])
        XCTAssertEqual(s["ports"], [["name": "http", "port": 80, "protocol": "TCP"]])
        XCTAssertEqual(s.labels["team"], "a")
        let endpointsUID = cluster.get(.endpoints, "test", "foo")!.uid
        XCTAssertEqual(s.metadata["ownerReferences"]?[0]["uid"].stringValue, endpointsUID)
        XCTAssertEqual(s.metadata["ownerReferences"]?[0]["kind"], "Endpoints")
        XCTAssertEqual(counter.count(), 1)

        // An Endpoints change rewrites the same slice.
        try updateEndpoints { $0["subsets"] = [["addresses": [["ip": "10.0.0.3"]], "ports": [["name": "http", "port": 80]]]] }
        XCTAssertTrue(cluster.eventually { self.slices().first.map(self.sliceIPs) == ["10.0.0.3"] })
        settle()
        s = slices()[0]
        XCTAssertEqual(s.name, name)
        XCTAssertEqual(counter.count(), 2)

        // A change that does not show on the slice writes nothing.
        counter.reset()
        try updateEndpoints { $0.metadata["annotations"] = ["kubectl.kubernetes.io/last-applied-configuration": "{}"] }
        settle()
        XCTAssertEqual(counter.count(), 0)

        // Deleting the Endpoints removes the slices.
        _ = try cluster.storage.delete(.endpoints, namespace: "test", name: "foo")
        XCTAssertTrue(cluster.eventually { self.slices().isEmpty })
    }

    func testSelectorSkipLabelAndMissingServiceStopMirroring() throws {
        start()
        try createEndpoints(["10.0.0.1"])
        settle()
        XCTAssertTrue(slices().isEmpty, "no Service: nothing mirrored")
        try cluster.createService(epService(selector: nil))
        XCTAssertTrue(cluster.eventually { self.slices().count == 1 })

        // Gaining a selector: mirrored slices go. Losing it again: they come back.
        _ = try cluster.storage.update(.service, namespace: "test", name: "foo") { cur in
            var o = cur
            o.withObject("spec") { $0["selector"] = ["app": "x"] }
            return o
        }
        XCTAssertTrue(cluster.eventually { self.slices().isEmpty })
        _ = try cluster.storage.update(.service, namespace: "test", name: "foo") { cur in
            var o = cur
            o.withObject("spec") { $0["selector"] = nil }
            return o
        }
        XCTAssertTrue(cluster.eventually { self.slices().count == 1 })

        // skip-mirror=true removes them; any other value mirrors.
        try updateEndpoints { $0.metadata["labels"] = ["endpointslice.kubernetes.io/skip-mirror": "true"] }
        XCTAssertTrue(cluster.eventually { self.slices().isEmpty })
        try updateEndpoints { $0.metadata["labels"] = ["endpointslice.kubernetes.io/skip-mirror": "false"] }
        XCTAssertTrue(cluster.eventually { self.slices().count == 1 })

        // The Service going takes the slices with it.
        _ = try cluster.storage.delete(.service, namespace: "test", name: "foo")
        XCTAssertTrue(cluster.eventually { self.slices().isEmpty })
    }

    func testUserChangesToMirroredSlicesAreReconciled() throws {
        start()
        try cluster.createService(epService(selector: nil))
        try createEndpoints(["10.0.0.1"])
        XCTAssertTrue(cluster.eventually { self.slices().count == 1 })
        settle()
        let original = slices()[0]

        // Endpoints edited by hand: restored.
        _ = try cluster.storage.update(.endpointSlice, namespace: "test", name: original.name) { cur in
            var o = cur
            o["endpoints"] = [["addresses": ["10.9.9.9"], "conditions": ["ready": true]]]
            return o
        }
        XCTAssertTrue(cluster.eventually { self.slices().first.map(self.sliceIPs) == ["10.0.0.1"] })

        // An annotation-only edit does not trigger a sync (no generation bump).
        _ = try cluster.storage.update(.endpointSlice, namespace: "test", name: original.name) { cur in
            var o = cur
            o.metadata["annotations"] = ["user": "note"]
            return o
        }
        settle()
        XCTAssertEqual(slices()[0].annotations["user"], "note")

        // Deleted by hand: recreated.
        _ = try cluster.storage.delete(.endpointSlice, namespace: "test", name: original.name)
        XCTAssertTrue(cluster.eventually { self.slices().count == 1 && self.slices()[0].name != original.name })

        // A stray slice claiming to be mirrored for foo is folded away.
        var stray = slices()[0]
        stray.metadata = ["name": "foo-stray", "labels": stray.metadata["labels"]!]
        _ = try cluster.storage.create(.endpointSlice, namespace: "test", body: stray)
        XCTAssertTrue(cluster.eventually { self.slices().count == 1 })
        settle()
        XCTAssertEqual(slices().count, 1)

        // Slices of other managers are never touched.
        _ = try cluster.storage.create(.endpointSlice, namespace: "test", body: [
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": ["name": "foo-mine", "labels": ["kubernetes.io/service-name": "foo", "endpointslice.kubernetes.io/managed-by": "me"]],
            "addressType": "IPv4", "endpoints": [], "ports": [],
        ])
        settle()
        XCTAssertNotNil(cluster.get(.endpointSlice, "test", "foo-mine"))
    }

    /// The controller lists slices only for Endpoints it may have mirrored: a mirrored-labelled slice of a
    /// Service with a selector, whether there before the controller started or made while it runs, still goes.
    func testStrayMirroredSlicesOfSelectedServicesAreDeleted() throws {
        try cluster.createService(epService())
        try createEndpoints(["10.0.0.1"])
        func stray(_ name: String) -> JSONObject {
            ["apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": ["name": .string(name), "labels": ["kubernetes.io/service-name": "foo",
                                                            "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"]],
             "addressType": "IPv4", "endpoints": [], "ports": []]
        }
        _ = try cluster.storage.create(.endpointSlice, namespace: "test", body: stray("foo-before"))
        start()
        XCTAssertTrue(cluster.eventually { self.slices().isEmpty }, "found at start")
        try updateEndpoints { $0.metadata["annotations"] = ["note": "1"] }
        settle()
        _ = try cluster.storage.create(.endpointSlice, namespace: "test", body: stray("foo-after"))
        XCTAssertTrue(cluster.eventually { self.slices().isEmpty }, "made while running")
    }

    func testPerSubsetLimit() throws {
        start(maxPerSubset: 2)
        try cluster.createService(epService(selector: nil))
        try createEndpoints(["10.0.0.1", "10.0.0.2", "10.0.0.3"])
        XCTAssertTrue(cluster.eventually { self.slices().count == 1 })
        settle()
        XCTAssertEqual(slices()[0]["endpoints"]?.arrayValue?.count, 2)
    }

    func testControllerManagedEndpointsAreNotMirrored() throws {
        start(withEndpointsController: true)
        try cluster.createService(epService())
        try cluster.createPod(epPod("pod0", ip: "10.0.0.1"))
        XCTAssertTrue(cluster.eventually { epIPs(self.cluster.get(.endpoints, "test", "foo")?["subsets"]?.arrayValue ?? []) == ["10.0.0.1"] })
        settle()
        XCTAssertTrue(slices().isEmpty)
    }
}
