import Dispatch
import Foundation
import XCTest
@testable import KemuControllers
import KemuAPI
import KemuRegistry
import KemuStore
import Synchronization

// MARK: - fixtures shared with MirroringTests

/// A pod as the controllers see it (status included), labelled `foo=bar` by default.
func epPod(_ name: String, ns: String = "test", ip: String? = nil, ips: [String]? = nil, ready: Bool = true,
           labels: [String: String] = ["foo": "bar"], node: String = "node-1", phase: String = "Running",
           ports: [JSON] = [], terminating: Bool = false, hostname: String? = nil, subdomain: String? = nil,
           readySince: String = "2024-01-01T00:00:00Z") -> JSONObject {
    var meta: JSONObject = ["name": .string(name), "namespace": .string(ns), "uid": .string("uid-" + name), "labels": .stringMap(labels)]
    if terminating { meta["deletionTimestamp"] = "2024-01-01T00:00:00Z" }
    var spec: JSONObject = ["containers": [["name": "c", "image": "img", "ports": .array(ports)]], "nodeName": .string(node)]
    if let hostname { spec["hostname"] = .string(hostname) }
    if let subdomain { spec["subdomain"] = .string(subdomain) }
    let all = ips ?? ip.map { [$0] } ?? []
    var status: JSONObject = [
        "phase": .string(phase),
        "conditions": [["type": "Ready", "status": ready ? "True" : "False", "lastTransitionTime": .string(readySince)]],
    ]
    if let first = all.first {
        status["podIP"] = .string(first)
        status["podIPs"] = .array(all.map { ["ip": .string($0)] })
    }
    return ["apiVersion": "v1", "kind": "Pod", "metadata": .object(meta), "spec": .object(spec), "status": .object(status)]
}

/// Service `foo` in `test` selecting `foo=bar`, port 80 → 8080/TCP, IPv4.
func epService(_ name: String = "foo", ns: String = "test", selector: [String: String]? = ["foo": "bar"],
               ports: [JSON] = [["name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"]],
               clusterIP: String? = "10.96.0.10", families: [String]? = ["IPv4"], labels: [String: String] = [:],
               publishNotReady: Bool = false, type: String? = nil) -> JSONObject {
    var spec: JSONObject = ["ports": .array(ports)]
    if let selector { spec["selector"] = .stringMap(selector) }
    if let clusterIP { spec["clusterIP"] = .string(clusterIP) }
    if let families { spec["ipFamilies"] = .array(families.map(JSON.string)) }
    if publishNotReady { spec["publishNotReadyAddresses"] = true }
    if let type { spec["type"] = .string(type) }
    var meta: JSONObject = ["name": .string(name), "namespace": .string(ns), "uid": .string("svc-uid-" + name),
                            "creationTimestamp": "2024-01-01T00:00:00Z"]
    if !labels.isEmpty { meta["labels"] = .stringMap(labels) }
    return ["apiVersion": "v1", "kind": "Service", "metadata": .object(meta), "spec": .object(spec)]
}

/// Counts store events per resource.
final class EPEventCounter: StoreWatcher, @unchecked Sendable {
    let resource: GroupResource
    private let lock = NSLock()
    private var events: [StoreEvent] = []
    init(_ resource: GroupResource) { self.resource = resource }
    func deliver(_ event: StoreEvent) -> Bool { lock.lock(); events.append(event); lock.unlock(); return true }
    func tick(nowMillis: UInt64, dispatchedRV: UInt64) -> Bool { true }
    func ended(reason: WatchEndReason) {}
    var all: [StoreEvent] { lock.lock(); defer { lock.unlock() }; return events }
    func count(_ type: EventType? = nil) -> Int { all.filter { type == nil || $0.type == type }.count }
    func reset() { lock.lock(); events = []; lock.unlock() }
}

/// A store, its storage and a running watch hub, with namespaces `test` and `other`.
final class EPTestCluster: @unchecked Sendable {
    let store = Store(eventHistory: 100_000)
    let storage: ObjectStorage

    init() throws {
        storage = ObjectStorage(store: store, registry: .standard, context: ClusterAllocators())
        for ns in ["test", "other"] {
            _ = try storage.create(.namespace, namespace: "", body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(ns)]])
        }
        store.hub.start(initialRV: store.currentResourceVersion)
    }

    func stop() { store.hub.stop() }

    func counter(_ kind: ResourceKind) -> EPEventCounter {
        let c = EPEventCounter(kind.groupResource)
        store.hub.register(c, fromRV: store.currentResourceVersion)
        return c
    }

    /// Creates a pod, then sets its status through /status (create resets status).
    @discardableResult
    func createPod(_ pod: JSONObject) throws -> StoredObject {
        var body = pod
        body["status"] = nil
        body.metadata["uid"] = nil
        body.metadata["deletionTimestamp"] = nil
        _ = try storage.create(.pod, namespace: pod.namespace, body: body)
        return try setPodStatus(pod)
    }

    @discardableResult
    func setPodStatus(_ pod: JSONObject) throws -> StoredObject {
        try storage.update(.pod, namespace: pod.namespace, name: pod.name, subresource: "status") { cur in
            var o = cur
            o["status"] = pod["status"]
            return o
        }.object
    }

    func createService(_ svc: JSONObject) throws {
        var body = svc
        body.metadata["uid"] = nil
        body.metadata["creationTimestamp"] = nil
        _ = try storage.create(.service, namespace: svc.namespace, body: body)
    }

    func get(_ kind: ResourceKind, _ ns: String, _ name: String) -> JSONObject? {
        store.get(kind.groupResource, namespace: ns, name: name)?.object
    }

    func list(_ kind: ResourceKind, _ ns: String) -> [JSONObject] {
        ((try? store.list(kind.groupResource, namespace: ns))?.items ?? []).map(\.object)
    }

    /// Waits until every event has been dispatched and `drain` finds nothing more to do.
    func settle(_ drain: () -> Void, timeout: Double = 10) {
        let deadline = Date().addingTimeInterval(timeout)
        var lastRV: UInt64 = .max
        while Date() < deadline {
            while store.hub.dispatchedResourceVersion < store.currentResourceVersion && Date() < deadline { usleep(1000) }
            drain()
            let rv = store.currentResourceVersion
            if rv == lastRV { return }
            lastRV = rv
        }
    }

    /// Polls `condition` for up to `timeout` seconds.
    func eventually(timeout: Double = 10, _ condition: () -> Bool) -> Bool { poll(timeout: timeout, condition) }
}

func epIPs(_ subsets: [JSON], _ list: String = "addresses") -> [String] {
    subsets.flatMap { ($0[list].arrayValue ?? []).compactMap { $0["ip"].stringValue } }
}

// MARK: - pure builder

final class EndpointsBuilderTests: XCTestCase {
    func testReadyAndNotReadyPodsShareOneSubset() {
        let svc = epService()
        let subsets = EndpointsBuilder.subsets(service: svc, pods: [
            epPod("pod0", ip: "1.2.3.4"), epPod("pod1", ip: "1.2.3.5", ready: false),
        ])
        XCTAssertEqual(subsets.count, 1)
        XCTAssertEqual(epIPs(subsets), ["1.2.3.4"])
        XCTAssertEqual(epIPs(subsets, "notReadyAddresses"), ["1.2.3.5"])
        XCTAssertEqual(subsets[0]["ports"], [["name": "http", "port": 8080, "protocol": "TCP"]])
        let a = subsets[0]["addresses"][0]
        XCTAssertEqual(a["nodeName"], "node-1")
        XCTAssertEqual(a["targetRef"], ["kind": "Pod", "namespace": "test", "name": "pod0", "uid": "uid-pod0"])
        XCTAssertEqual(a["hostname"], .null)
    }

    func testUnscheduledPodStillHasEmptyNodeName() {
        let subsets = EndpointsBuilder.subsets(service: epService(), pods: [epPod("p", ip: "1.2.3.4", node: "")])
        XCTAssertEqual(subsets[0]["addresses"][0]["nodeName"], "")
    }

    func testExcludedPods() {
        let svc = epService()
        let pods = [
            epPod("failed", ip: "1.1.1.1", phase: "Failed"),
            epPod("succeeded", ip: "1.1.1.2", phase: "Succeeded"),
            epPod("noip"),
            epPod("terminating", ip: "1.1.1.3", terminating: true),
            epPod("pending", ip: "1.1.1.4", ready: false, phase: "Pending"),
        ]
        let subsets = EndpointsBuilder.subsets(service: svc, pods: pods)
        XCTAssertEqual(epIPs(subsets), [])
        XCTAssertEqual(epIPs(subsets, "notReadyAddresses"), ["1.1.1.4"])
    }

    func testPublishNotReadyAddressesIncludesTerminatingAndUnreadyAsReady() {
        let svc = epService(publishNotReady: true)
        let subsets = EndpointsBuilder.subsets(service: svc, pods: [
            epPod("a", ip: "1.1.1.1", ready: false), epPod("b", ip: "1.1.1.2", terminating: true),
        ])
        XCTAssertEqual(epIPs(subsets), ["1.1.1.1", "1.1.1.2"])
        XCTAssertEqual(epIPs(subsets, "notReadyAddresses"), [])
    }

    func testHostnameOnlyWhenSubdomainIsTheService() {
        let svc = epService()
        let subsets = EndpointsBuilder.subsets(service: svc, pods: [
            epPod("a", ip: "1.1.1.1", hostname: "web-a", subdomain: "foo"),
            epPod("b", ip: "1.1.1.2", hostname: "web-b", subdomain: "bar"),
            epPod("c", ip: "1.1.1.3", hostname: "web-c"),
        ])
        let addrs = subsets[0]["addresses"].arrayValue!
        XCTAssertEqual(addrs.map { $0["hostname"].stringValue }, ["web-a", nil, nil])
    }

    func testIPFamilySelection() {
        let dual = ["1.2.3.4", "2000::4"]
        let v6first = epService(families: ["IPv6", "IPv4"])
        XCTAssertEqual(epIPs(EndpointsBuilder.subsets(service: v6first, pods: [epPod("a", ips: dual)])), ["2000::4"])
        XCTAssertEqual(epIPs(EndpointsBuilder.subsets(service: epService(), pods: [epPod("a", ips: dual)])), ["1.2.3.4"])
        // No family of the Service's kind: skipped.
        XCTAssertEqual(epIPs(EndpointsBuilder.subsets(service: epService(), pods: [epPod("a", ips: ["2000::4"])])), [])
        // No ipFamilies (old API server): the cluster IP decides; headless uses the pod's podIP.
        let legacy = epService(clusterIP: "fd00::10", families: nil)
        XCTAssertEqual(epIPs(EndpointsBuilder.subsets(service: legacy, pods: [epPod("a", ips: dual)])), ["2000::4"])
        let headless = epService(clusterIP: "None", families: nil)
        XCTAssertEqual(epIPs(EndpointsBuilder.subsets(service: headless, pods: [epPod("a", ips: ["2000::4", "1.2.3.4"])])), ["2000::4"])
    }

    func testNamedPortsGroupPodsByResolvedNumber() {
        let svc = epService(ports: [["name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"]])
        let p8080: [JSON] = [["name": "web", "containerPort": 8080, "protocol": "TCP"]]
        let p9090: [JSON] = [["name": "web", "containerPort": 9090, "protocol": "TCP"]]
        let subsets = EndpointsBuilder.subsets(service: svc, pods: [
            epPod("a", ip: "1.1.1.1", ports: p8080), epPod("b", ip: "1.1.1.2", ports: p9090),
            epPod("c", ip: "1.1.1.3", ports: p8080), epPod("none", ip: "1.1.1.4"),
        ])
        XCTAssertEqual(subsets.count, 2)
        var byPort: [Int64: [String]] = [:]
        for s in subsets { byPort[s["ports"][0]["port"].intValue!] = epIPs([s]) }
        XCTAssertEqual(byPort[8080], ["1.1.1.1", "1.1.1.3"])
        XCTAssertEqual(byPort[9090], ["1.1.1.2"])
    }

    func testSidecarNamedPort() {
        let svc = epService(ports: [["port": 80, "targetPort": "side", "protocol": "TCP"]])
        var pod = epPod("a", ip: "1.1.1.1")
        pod.withObject("spec") { $0["initContainers"] = [["name": "s", "image": "i", "restartPolicy": "Always",
                                                           "ports": [["name": "side", "containerPort": 7070]]]] }
        XCTAssertEqual(EndpointsBuilder.subsets(service: svc, pods: [pod])[0]["ports"], [["port": 7070, "protocol": "TCP"]])
        var plainInit = pod
        plainInit.withObject("spec") { $0["initContainers"] = [["name": "s", "image": "i", "ports": [["name": "side", "containerPort": 7070]]]] }
        XCTAssertEqual(EndpointsBuilder.subsets(service: svc, pods: [plainInit]), [])
    }

    func testMultiProtocolPortsInOneSubset() {
        let svc = epService(ports: [
            ["name": "tcp", "port": 80, "targetPort": 80, "protocol": "TCP"],
            ["name": "udp", "port": 161, "targetPort": 161, "protocol": "UDP"],
            ["name": "sctp", "port": 3456, "targetPort": 3456, "protocol": "SCTP", "appProtocol": "x.io/y"],
        ])
        let subsets = EndpointsBuilder.subsets(service: svc, pods: [epPod("a", ip: "1.1.1.1")])
        XCTAssertEqual(subsets.count, 1)
        XCTAssertEqual(Set(subsets[0]["ports"].arrayValue!.compactMap { $0["protocol"].stringValue }), ["TCP", "UDP", "SCTP"])
        XCTAssertTrue(subsets[0]["ports"].arrayValue!.contains(["name": "sctp", "port": 3456, "protocol": "SCTP", "appProtocol": "x.io/y"]))
    }

    func testHeadlessWithoutPortsGetsPortlessSubset() {
        let svc = epService(ports: [], clusterIP: "None")
        let subsets = EndpointsBuilder.subsets(service: svc, pods: [epPod("a", ip: "1.1.1.1"), epPod("b", ip: "1.1.1.2", ready: false)])
        XCTAssertEqual(subsets.count, 1)
        XCTAssertEqual(subsets[0]["ports"], .null)
        XCTAssertEqual(epIPs(subsets), ["1.1.1.1"])
        XCTAssertEqual(epIPs(subsets, "notReadyAddresses"), ["1.1.1.2"])
        // Not headless and no ports: nothing.
        XCTAssertEqual(EndpointsBuilder.subsets(service: epService(ports: []), pods: [epPod("a", ip: "1.1.1.1")]), [])
    }

    func testDuplicateIPsFromDifferentPodsAreKept() {
        let subsets = EndpointsBuilder.subsets(service: epService(), pods: [epPod("a", ip: "10.0.0.1"), epPod("b", ip: "10.0.0.1")])
        XCTAssertEqual(epIPs(subsets), ["10.0.0.1", "10.0.0.1"])
    }

    // MARK: repack

    func testRepackNotReadyWinsAndDeduplicates() {
        let a: JSON = ["ip": "1.1.1.1", "targetRef": ["kind": "Pod", "name": "a", "uid": "u1"]]
        let b: JSON = ["ip": "1.1.1.2"]
        let p80: JSON = ["port": 80, "protocol": "TCP"]
        let p81: JSON = ["port": 81, "protocol": "TCP"]
        let out = EndpointSubsets.repack([
            ["addresses": [a, b], "ports": [p80]],
            ["notReadyAddresses": [a], "ports": [p80]],
            ["addresses": [b, a], "ports": [p81]],
        ])
        // Port 80: a not ready, b ready. Port 81: both ready. Different groups.
        XCTAssertEqual(out.count, 2)
        let s80 = out.first { $0["ports"] == [p80] }!
        let s81 = out.first { $0["ports"] == [p81] }!
        XCTAssertEqual(epIPs([s80]), ["1.1.1.2"])
        XCTAssertEqual(epIPs([s80], "notReadyAddresses"), ["1.1.1.1"])
        XCTAssertEqual(epIPs([s81]), ["1.1.1.1", "1.1.1.2"])
    }

    func testRepackMergesPortsOfTheSameAddresses() {
        let a: JSON = ["ip": "1.1.1.9"], b: JSON = ["ip": "1.1.1.10"]
        let out = EndpointSubsets.repack([
            ["addresses": [a, b], "ports": [["name": "x", "port": 80, "protocol": "TCP"]]],
            ["addresses": [b, a, a], "ports": [["name": "y", "port": 81, "protocol": "UDP"]]],
            ["addresses": [a], "ports": []],
        ])
        XCTAssertEqual(out.count, 2)
        let merged = out.first { $0["ports"].arrayValue?.count == 2 }!
        // Sorted by the bytes of the IP string.
        XCTAssertEqual(epIPs([merged]), ["1.1.1.10", "1.1.1.9"])
        // The port-less subset survives through the sentinel.
        XCTAssertTrue(out.contains { $0["ports"].isNull && epIPs([$0]) == ["1.1.1.9"] })
    }

    func testRepackIsStableUnderReordering() {
        let s1: JSON = ["addresses": [["ip": "1.1.1.1"]], "ports": [["port": 1, "protocol": "TCP"]]]
        let s2: JSON = ["addresses": [["ip": "2.2.2.2"]], "ports": [["port": 2, "protocol": "TCP"]]]
        XCTAssertEqual(EndpointSubsets.repack([s1, s2]), EndpointSubsets.repack([s2, s1]))
    }

    // MARK: truncation

    func testTruncateReadyProportionally() {
        func subset(_ prefix: String, ready: Int, notReady: Int, port: Int64) -> JSON {
            ["addresses": .array((0..<ready).map { ["ip": .string("\(prefix).\($0 / 250).\($0 % 250)")] }),
             "notReadyAddresses": .array((0..<notReady).map { ["ip": .string("\(prefix)9.\($0 / 250).\($0 % 250)")] }),
             "ports": [["port": .int(port)]]]
        }
        let (out, truncated) = EndpointsBuilder.truncate([subset("10.1", ready: 600, notReady: 10, port: 1),
                                                          subset("10.2", ready: 600, notReady: 10, port: 2)])
        XCTAssertTrue(truncated)
        XCTAssertEqual(out.map { $0["addresses"].arrayValue?.count ?? 0 }, [500, 500])
        XCTAssertEqual(out.map { $0["notReadyAddresses"].arrayValue?.count ?? 0 }, [0, 0])

        let (out2, t2) = EndpointsBuilder.truncate([subset("10.1", ready: 300, notReady: 400, port: 1),
                                                    subset("10.2", ready: 300, notReady: 401, port: 2)])
        XCTAssertTrue(t2)
        XCTAssertEqual(out2.map { $0["addresses"].arrayValue?.count ?? 0 }, [300, 300])
        // 400 places for 801 not-ready: ceil(400/801*400)=200, then the remaining 200.
        XCTAssertEqual(out2.map { $0["notReadyAddresses"].arrayValue?.count ?? 0 }, [200, 200])
        XCTAssertEqual(EndpointSubsets.addressCount(out2), 1000)

        let (_, t3) = EndpointsBuilder.truncate([subset("10.1", ready: 1000, notReady: 0, port: 1)])
        XCTAssertFalse(t3)
    }

    // MARK: the object

    func testNewObjectLabelsAndAnnotations() {
        let svc = epService(clusterIP: "None", labels: ["app": "web"])
        let obj = EndpointsBuilder.reconcile(service: svc, subsets: [], current: nil, triggerTime: "2024-01-01T00:00:00Z")!
        XCTAssertEqual(obj.name, "foo")
        XCTAssertEqual(obj.namespace, "test")
        XCTAssertEqual(obj.labels, ["app": "web", "endpoints.kubernetes.io/managed-by": "endpoint-controller",
                                    "service.kubernetes.io/headless": ""])
        XCTAssertEqual(obj.annotations, ["endpoints.kubernetes.io/last-change-trigger-time": "2024-01-01T00:00:00Z"])
        XCTAssertNil(obj["subsets"])
        XCTAssertNil(obj.metadata["ownerReferences"])
        let withIP = EndpointsBuilder.reconcile(service: epService(), subsets: [], current: nil, triggerTime: nil)!
        XCTAssertEqual(withIP.labels, ["endpoints.kubernetes.io/managed-by": "endpoint-controller"])
        XCTAssertNil(withIP.metadata["annotations"])
    }

    func testNoWriteWhenOnlyTheTriggerTimeOrPodResourceVersionDiffers() {
        let svc = epService()
        let subsets = EndpointsBuilder.subsets(service: svc, pods: [epPod("a", ip: "1.1.1.1")])
        var current = EndpointsBuilder.reconcile(service: svc, subsets: subsets, current: nil, triggerTime: "2024-01-01T00:00:00Z")!
        XCTAssertNil(EndpointsBuilder.reconcile(service: svc, subsets: subsets, current: current, triggerTime: "2025-01-01T00:00:00Z"))
        // A stored targetRef.resourceVersion and an explicit empty list do not count.
        var s = current["subsets"]!.arrayValue![0].objectValue!
        var addrs = s["addresses"]!.arrayValue!
        var a = addrs[0].objectValue!
        a.withObject("targetRef") { $0["resourceVersion"] = "42" }
        addrs[0] = .object(a)
        s["addresses"] = .array(addrs)
        s["notReadyAddresses"] = []
        current["subsets"] = [.object(s)]
        XCTAssertNil(EndpointsBuilder.reconcile(service: svc, subsets: subsets, current: current, triggerTime: nil))
        // Nil vs empty subsets.
        let empty = EndpointsBuilder.reconcile(service: svc, subsets: [], current: nil, triggerTime: nil)!
        var emptyList = empty
        emptyList["subsets"] = []
        XCTAssertNil(EndpointsBuilder.reconcile(service: svc, subsets: [], current: emptyList, triggerTime: nil))
    }

    func testLabelDriftAndHeadlessLabel() {
        let svc = epService(labels: ["app": "web"])
        let current = EndpointsBuilder.reconcile(service: svc, subsets: [], current: nil, triggerTime: nil)!
        // The headless label is ignored when comparing.
        var withHeadless = current
        withHeadless.metadata["labels"] = .stringMap(current.labels.merging(["service.kubernetes.io/headless": ""]) { $1 })
        XCTAssertNil(EndpointsBuilder.reconcile(service: svc, subsets: [], current: withHeadless, triggerTime: nil))
        // A user label or a missing managed-by label is put right, and the stale headless label goes.
        var edited = withHeadless
        edited.metadata["labels"] = ["app": "web", "extra": "x", "service.kubernetes.io/headless": ""]
        let fixed = EndpointsBuilder.reconcile(service: svc, subsets: [], current: edited, triggerTime: nil)!
        XCTAssertEqual(fixed.labels, ["app": "web", "endpoints.kubernetes.io/managed-by": "endpoint-controller"])
    }

    func testAddressesSortByIPBytesThenTargetRef() {
        func a(_ ip: String, _ uid: String? = nil) -> JSON {
            uid.map { ["ip": .string(ip), "targetRef": ["kind": "Pod", "uid": .string($0)]] } ?? ["ip": .string(ip)]
        }
        let long1 = "fd00:1:2:3:4:5:6:aaab", long2 = "fd00:1:2:3:4:5:6:aaaa"
        let out = EndpointSubsets.repack([["addresses": [a(long1), a("10.1.2.1", "b"), a("10.1.10.1"), a(long2),
                                                         a("10.1.2.1", "a"), a("10.1.2.1"), a("9.0.0.1")],
                                           "ports": [["port": 80]]]])
        let got = (out[0]["addresses"].arrayValue ?? []).map { ($0["ip"].stringValue ?? "") + "/" + ($0["targetRef"]["uid"].stringValue ?? "-") }
        XCTAssertEqual(got, ["10.1.10.1/-", "10.1.2.1/-", "10.1.2.1/a", "10.1.2.1/b", "9.0.0.1/-", long2 + "/-", long1 + "/-"])
    }

    func testOverCapacityAnnotationSetAndCleared() {
        let svc = epService()
        let many: [JSON] = [["addresses": .array((0..<1001).map { ["ip": .string("10.0.\($0 / 250).\($0 % 250)")] }),
                             "ports": [["port": 8080, "protocol": "TCP"]]]]
        let first = EndpointsBuilder.reconcile(service: svc, subsets: many, current: nil, triggerTime: nil)!
        XCTAssertEqual(first.annotations["endpoints.kubernetes.io/over-capacity"], "truncated")
        XCTAssertEqual(EndpointSubsets.addressCount(first["subsets"]!.arrayValue!), 1000)
        // Written once: a resync without a new trigger time finds nothing to change.
        XCTAssertNil(EndpointsBuilder.reconcile(service: svc, subsets: many, current: first, triggerTime: nil))
        // A wrong value is corrected; the annotation goes once the addresses fit.
        var warned = first
        warned.metadata["annotations"] = ["endpoints.kubernetes.io/over-capacity": "warning"]
        XCTAssertEqual(EndpointsBuilder.reconcile(service: svc, subsets: many, current: warned, triggerTime: nil)!
            .annotations["endpoints.kubernetes.io/over-capacity"], "truncated")
        let few = Array(many[0]["addresses"].arrayValue!.prefix(10))
        let small: [JSON] = [["addresses": .array(few), "ports": [["port": 8080, "protocol": "TCP"]]]]
        let after = EndpointsBuilder.reconcile(service: svc, subsets: small, current: first, triggerTime: nil)!
        XCTAssertNil(after.annotations["endpoints.kubernetes.io/over-capacity"])
        var stale = after
        stale.metadata["annotations"] = ["endpoints.kubernetes.io/over-capacity": "truncated", "keep": "me"]
        let cleared = EndpointsBuilder.reconcile(service: svc, subsets: small, current: stale, triggerTime: nil)!
        XCTAssertEqual(cleared.annotations, ["keep": "me"])
    }

    // MARK: triggers

    func testPodChangeTriggers() {
        let services = [epService("a", selector: ["foo": "bar"]), epService("b", selector: ["x": "y"]),
                        epService("c", selector: nil)]
        var old = epPod("p", ip: "1.1.1.1")
        old.metadata["resourceVersion"] = "1"
        var annotated = old
        annotated.metadata["resourceVersion"] = "2"
        annotated.metadata["annotations"] = ["k": "v"]
        XCTAssertEqual(EndpointsPodChange.servicesToUpdate(services, old: old, new: annotated), [])
        var unready = annotated
        unready.withObject("status") { $0["conditions"] = [["type": "Ready", "status": "False"]] }
        XCTAssertEqual(EndpointsPodChange.servicesToUpdate(services, old: old, new: unready), ["test/a"])
        var relabelled = annotated
        relabelled.metadata["labels"] = ["x": "y"]
        XCTAssertEqual(EndpointsPodChange.servicesToUpdate(services, old: old, new: relabelled), ["test/a", "test/b"])
        var both = relabelled
        both.metadata["labels"] = ["x": "y", "foo": "bar"]
        // Labels changed only: the symmetric difference.
        XCTAssertEqual(EndpointsPodChange.servicesToUpdate(services, old: old, new: both), ["test/b"])
        var newIP = annotated
        newIP.withObject("status") { $0["podIPs"] = [["ip": "1.1.1.2"]] }
        XCTAssertEqual(EndpointsPodChange.servicesToUpdate(services, old: old, new: newIP), ["test/a"])
    }

    func testTriggerTimeOverAllPods() {
        // The Endpoints controller passes every selected pod (`full`): a pod that became Ready earlier than the
        // newest change, or that left, does not count.
        var t = TriggerTimeTracker()
        let created = Timestamp.parse("2024-01-01T00:00:00Z")
        func at(_ s: String) -> Int? { Timestamp.parse(s) }
        XCTAssertEqual(t.compute(serviceKey: "test/foo", serviceTime: created, changed: [("a", at("2024-02-01T00:00:00Z"))], full: true), created)
        XCTAssertNil(t.compute(serviceKey: "test/foo", serviceTime: created, changed: [("a", at("2024-02-01T00:00:00Z"))], full: true))
        XCTAssertEqual(t.compute(serviceKey: "test/foo", serviceTime: created,
                                 changed: [("a", at("2024-04-01T00:00:00Z")), ("b", at("2024-03-01T00:00:00Z"))], full: true),
                       at("2024-03-01T00:00:00Z"))
        t.forget("test/foo")
        XCTAssertEqual(t.compute(serviceKey: "test/foo", serviceTime: created, changed: [("b", at("2024-03-01T00:00:00Z"))], full: true), created)
    }
}

// MARK: - in-process end to end

final class EndpointsControllerEndToEndTests: XCTestCase {
    var cluster: EPTestCluster!
    var controller: EndpointsController!

    override func setUpWithError() throws {
        cluster = try EPTestCluster()
    }

    override func tearDown() {
        controller?.stop()
        cluster.stop()
    }

    func startController(batch: Double = 0) {
        var opts = ControllerOptions()
        opts.endpointUpdatesBatchPeriod = batch
        controller = EndpointsController(storage: cluster.storage, options: opts)
        controller.start()
    }

    func settle() {
        cluster.settle { controller.drain() }
    }

    func endpoints(_ name: String = "foo", _ ns: String = "test") -> JSONObject? { cluster.get(.endpoints, ns, name) }

    func testLifecycle() throws {
        startController()
        let counter = cluster.counter(.endpoints)
        try cluster.createService(epService(labels: ["app": "web"]))
        XCTAssertTrue(cluster.eventually { self.endpoints() != nil })
        settle()
        var ep = try XCTUnwrap(endpoints())
        XCTAssertNil(ep["subsets"])
        XCTAssertEqual(ep.labels, ["app": "web", "endpoints.kubernetes.io/managed-by": "endpoint-controller"])
        XCTAssertNotNil(ep.annotations["endpoints.kubernetes.io/last-change-trigger-time"])
        XCTAssertEqual(counter.count(), 1)

        try cluster.createPod(epPod("pod0", ip: "10.0.0.1"))
        try cluster.createPod(epPod("pod1", ip: "10.0.0.2", ready: false))
        try cluster.createPod(epPod("other", ip: "10.0.0.3", labels: ["foo": "baz"]))
        XCTAssertTrue(cluster.eventually { epIPs(self.endpoints()?["subsets"]?.arrayValue ?? []) == ["10.0.0.1"] })
        settle()
        ep = try XCTUnwrap(endpoints())
        let subsets = ep["subsets"]!.arrayValue!
        XCTAssertEqual(epIPs(subsets, "notReadyAddresses"), ["10.0.0.2"])
        XCTAssertEqual(subsets[0]["ports"], [["name": "http", "port": 8080, "protocol": "TCP"]])
        XCTAssertEqual(subsets[0]["addresses"][0]["targetRef"]["name"], "pod0")

        // A change the Endpoints object does not show: no write.
        counter.reset()
        _ = try cluster.storage.update(.pod, namespace: "test", name: "pod0") { cur in
            var o = cur
            o.metadata["annotations"] = ["touched": "yes"]
            return o
        }
        settle()
        XCTAssertEqual(counter.count(), 0)

        // Readiness flips move the address.
        try cluster.setPodStatus(epPod("pod1", ip: "10.0.0.2", ready: true, readySince: "2024-05-01T00:00:00Z"))
        XCTAssertTrue(cluster.eventually { epIPs(self.endpoints()?["subsets"]?.arrayValue ?? []) == ["10.0.0.1", "10.0.0.2"] })
        settle()
        XCTAssertEqual(counter.count(), 1)
        XCTAssertEqual(endpoints()!.annotations["endpoints.kubernetes.io/last-change-trigger-time"], "2024-05-01T00:00:00Z")

        // A graceful pod deletion takes the pod out at once.
        _ = try cluster.storage.delete(.pod, namespace: "test", name: "pod0")
        XCTAssertNotNil(cluster.get(.pod, "test", "pod0")?.deletionTimestamp)
        XCTAssertTrue(cluster.eventually { epIPs(self.endpoints()?["subsets"]?.arrayValue ?? []) == ["10.0.0.2"] })

        // The Endpoints object goes with its Service.
        _ = try cluster.storage.delete(.service, namespace: "test", name: "foo")
        XCTAssertTrue(cluster.eventually { self.endpoints() == nil })
    }

    func testEditsAreReconciledBackAndDeletedEndpointsRecreated() throws {
        startController()
        try cluster.createPod(epPod("pod0", ip: "10.0.0.1"))
        try cluster.createService(epService())
        XCTAssertTrue(cluster.eventually { epIPs(self.endpoints()?["subsets"]?.arrayValue ?? []) == ["10.0.0.1"] })
        settle()
        let uid = endpoints()!.uid

        // kemu (unlike upstream, which waits for the next Service or pod change) restores an edited
        // managed Endpoints object at once, as --derived-writes=warn promises.
        _ = try cluster.storage.update(.endpoints, namespace: "test", name: "foo") { cur in
            var o = cur
            o["subsets"] = [["addresses": [["ip": "9.9.9.9"]], "ports": [["port": 1, "protocol": "TCP"]]]]
            return o
        }
        XCTAssertTrue(cluster.eventually { epIPs(self.endpoints()?["subsets"]?.arrayValue ?? []) == ["10.0.0.1"] })
        settle()
        XCTAssertEqual(endpoints()!.uid, uid)

        _ = try cluster.storage.delete(.endpoints, namespace: "test", name: "foo")
        XCTAssertTrue(cluster.eventually { (self.endpoints()?.uid ?? uid) != uid })
        XCTAssertEqual(epIPs(endpoints()!["subsets"]!.arrayValue!), ["10.0.0.1"])
    }

    func testSelectorlessAndExternalNameServicesAreLeftAlone() throws {
        startController()
        let custom: JSONObject = ["apiVersion": "v1", "kind": "Endpoints",
                                  "metadata": ["name": "custom", "namespace": "test"],
                                  "subsets": [["addresses": [["ip": "192.168.0.1"]], "ports": [["port": 9000]]]]]
        _ = try cluster.storage.create(.endpoints, namespace: "test", body: custom)
        try cluster.createService(epService("custom", selector: nil))
        _ = try cluster.storage.create(.service, namespace: "test", body: [
            "apiVersion": "v1", "kind": "Service", "metadata": ["name": "ext"],
            "spec": ["type": "ExternalName", "externalName": "example.com", "selector": ["foo": "bar"]],
        ])
        try cluster.createPod(epPod("pod0", ip: "10.0.0.1"))
        settle()
        XCTAssertEqual(epIPs(endpoints("custom")!["subsets"]!.arrayValue!), ["192.168.0.1"])
        XCTAssertNil(endpoints("custom")!.labels["endpoints.kubernetes.io/managed-by"])
        XCTAssertNil(endpoints("ext"))
    }

    func testLeftoverEndpointsAreDeletedAtStart() throws {
        for (name, annotations) in [("orphan", JSON.object([:])), ("leader", ["control-plane.alpha.kubernetes.io/leader": "{}"])] {
            _ = try cluster.storage.create(.endpoints, namespace: "test", body: [
                "apiVersion": "v1", "kind": "Endpoints", "metadata": ["name": .string(name), "annotations": annotations],
            ])
        }
        startController()
        XCTAssertTrue(cluster.eventually { self.endpoints("orphan") == nil })
        settle()
        XCTAssertNotNil(endpoints("leader"))
    }

    func testPodBurstIsBatched() throws {
        startController(batch: 0.3)
        try cluster.createService(epService())
        XCTAssertTrue(cluster.eventually { self.endpoints() != nil })
        settle()
        let counter = cluster.counter(.endpoints)
        for i in 0..<3 { try cluster.createPod(epPod("pod\(i)", ip: "10.0.0.\(i + 1)")) }
        XCTAssertTrue(cluster.eventually { epIPs(self.endpoints()?["subsets"]?.arrayValue ?? []).count == 3 })
        usleep(400_000)
        settle()
        XCTAssertEqual(counter.count(), 1)
    }

    func testOverCapacityEndToEnd() throws {
        startController(batch: 0.5)
        try cluster.createService(epService())
        for i in 0..<1005 {
            try cluster.createPod(epPod("p\(i)", ip: "10.1.\(i / 250).\(i % 250)"))
        }
        XCTAssertTrue(cluster.eventually(timeout: 30) {
            self.endpoints()?.annotations["endpoints.kubernetes.io/over-capacity"] == "truncated"
                && EndpointSubsets.addressCount(self.endpoints()?["subsets"]?.arrayValue ?? []) == 1000
        })
        for i in 0..<10 { _ = try cluster.storage.delete(.pod, namespace: "test", name: "p\(i)", options: { var o = DeleteOptions(); o.gracePeriodSeconds = 0; return o }()) }
        XCTAssertTrue(cluster.eventually(timeout: 30) {
            self.endpoints()?.annotations["endpoints.kubernetes.io/over-capacity"] == nil
                && EndpointSubsets.addressCount(self.endpoints()?["subsets"]?.arrayValue ?? []) == 995
        })
    }
}
