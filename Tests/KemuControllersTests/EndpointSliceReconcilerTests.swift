import XCTest
@testable import KemuControllers
import KemuAPI

// MARK: - fixtures (prefixed `es` to stay apart from other controllers' test helpers)

/// Pod `name` in `test`, labelled `foo=bar`, on `node-1`, Ready, with the given IPs.
func esPod(_ name: String, ips: [String], ready: Bool = true, labels: [String: String] = ["foo": "bar"],
           node: String? = "node-1", phase: String = "Running", terminating: Bool = false, hostname: String? = nil,
           subdomain: String? = nil, ports: [JSON] = [], ns: String = "test",
           readySince: String = "2024-01-01T00:00:00Z") -> JSONObject {
    var meta: JSONObject = ["name": .string(name), "namespace": .string(ns), "uid": .string("uid-" + name), "labels": .stringMap(labels)]
    if terminating { meta["deletionTimestamp"] = "2024-01-01T00:00:30Z" }
    var spec: JSONObject = ["containers": [["name": "c", "image": "img", "ports": .array(ports)]]]
    if let node { spec["nodeName"] = .string(node) }
    if let hostname { spec["hostname"] = .string(hostname) }
    if let subdomain { spec["subdomain"] = .string(subdomain) }
    var status: JSONObject = ["phase": .string(phase),
                              "conditions": [["type": "Ready", "status": ready ? "True" : "False", "lastTransitionTime": .string(readySince)]]]
    if let first = ips.first {
        status["podIP"] = .string(first)
        status["podIPs"] = .array(ips.map { ["ip": .string($0)] })
    }
    return ["apiVersion": "v1", "kind": "Pod", "metadata": .object(meta), "spec": .object(spec), "status": .object(status)]
}

/// Service `foo` in `test` (§5 conventions): selector foo=bar, port {foo, TCP, 80}, IPv4, no ClusterIP.
func esService(_ name: String = "foo", selector: [String: String]? = ["foo": "bar"],
               ports: [JSON] = [["name": "foo", "protocol": "TCP", "port": 80, "targetPort": 80]],
               clusterIP: String? = nil, families: [String]? = ["IPv4"], labels: [String: String] = [:],
               annotations: [String: String] = [:], publishNotReady: Bool = false, type: String? = nil,
               trafficDistribution: String? = nil, deleting: Bool = false, uid: String? = nil) -> JSONObject {
    var spec: JSONObject = ["ports": .array(ports)]
    if let selector { spec["selector"] = .stringMap(selector) }
    if let clusterIP { spec["clusterIP"] = .string(clusterIP) }
    if let families { spec["ipFamilies"] = .array(families.map(JSON.string)) }
    if publishNotReady { spec["publishNotReadyAddresses"] = true }
    if let type { spec["type"] = .string(type) }
    if let trafficDistribution { spec["trafficDistribution"] = .string(trafficDistribution) }
    var meta: JSONObject = ["name": .string(name), "namespace": "test", "uid": .string(uid ?? "svc-uid-" + name),
                            "creationTimestamp": "2024-01-01T00:00:00Z"]
    if !labels.isEmpty { meta["labels"] = .stringMap(labels) }
    if !annotations.isEmpty { meta["annotations"] = .stringMap(annotations) }
    if deleting { meta["deletionTimestamp"] = "2024-01-02T00:00:00Z" }
    return ["apiVersion": "v1", "kind": "Service", "metadata": .object(meta), "spec": .object(spec)]
}

func esNode(_ name: String, zone: String? = nil, cpu: String = "4", ready: Bool = true, labels: [String: String] = [:]) -> JSONObject {
    var l = labels
    if let zone { l["topology.kubernetes.io/zone"] = zone }
    return ["apiVersion": "v1", "kind": "Node", "metadata": ["name": .string(name), "labels": .stringMap(l)],
            "status": ["allocatable": ["cpu": .string(cpu)],
                       "conditions": [["type": "Ready", "status": ready ? "True" : "False"]]]]
}

func esIP(_ i: Int) -> String { "10.\(i / 65536 % 256).\(i / 256 % 256).\(i % 256)" }

/// A stand-in for the API server: applies plans to a list of slices, naming created slices.
struct ESFakeServer {
    var slices: [JSONObject] = []
    var counter = 0
    var creates = 0, updates = 0, deletes = 0

    var writes: Int { creates + updates + deletes }

    mutating func apply(_ plan: SlicePlan, trigger: String? = "2024-01-01T00:00:00Z") {
        for c in plan.creates {
            var o = c.render(triggerTime: trigger)
            counter += 1
            o.metadata["name"] = .string((c.generateName ?? "") + "s\(counter)")
            o.metadata["uid"] = .string("slice-uid-\(counter)")
            slices.append(o)
            creates += 1
        }
        for u in plan.updates {
            var o = u.render(triggerTime: trigger)
            guard let i = slices.firstIndex(where: { $0.name == u.name }) else { XCTFail("update of missing \(u.name)"); continue }
            o.metadata["uid"] = slices[i].metadata["uid"]
            slices[i] = o
            updates += 1
        }
        for d in plan.deletes {
            slices.removeAll { $0.name == d.name }
            deletes += 1
        }
    }

    mutating func resetCounts() { creates = 0; updates = 0; deletes = 0 }

    func sizes(_ type: String? = nil) -> [Int] {
        slices.filter { type == nil || $0["addressType"]?.stringValue == type }
            .map { $0["endpoints"]?.arrayValue?.count ?? 0 }.sorted(by: >)
    }

    var allEndpoints: [JSON] { slices.flatMap { $0["endpoints"]?.arrayValue ?? [] } }
}

func esReconcile(_ svc: JSONObject, _ pods: [JSONObject], nodes: [JSONObject] = [esNode("node-1")], slices: [JSONObject] = [],
                 max: Int = 100, topology: inout TopologyCache) -> SlicePlan {
    var byName: [String: JSONObject] = [:]
    for n in nodes { byName[n.name] = n }
    return EndpointSliceReconciler(maxEndpointsPerSlice: max).reconcile(service: svc, pods: pods, nodes: byName, slices: slices, topology: &topology)
}

func esReconcile(_ svc: JSONObject, _ pods: [JSONObject], nodes: [JSONObject] = [esNode("node-1")], slices: [JSONObject] = [],
                 max: Int = 100) -> SlicePlan {
    var t = TopologyCache()
    return esReconcile(svc, pods, nodes: nodes, slices: slices, max: max, topology: &t)
}

// MARK: - §5 scenarios and the pure reconciler

final class EndpointSliceReconcilerTests: XCTestCase {
    let svc = esService()

    func pods(_ n: Int, from: Int = 0, ready: Bool = true) -> [JSONObject] {
        (from..<(from + n)).map { esPod("pod\($0)", ips: [esIP($0)], ready: ready) }
    }

    /// §5.1: no pods → one placeholder slice.
    func testEmptySelectorServiceGetsPlaceholder() {
        let plan = esReconcile(svc, [])
        XCTAssertEqual(plan.creates.count, 1)
        XCTAssertEqual(plan.writeCount, 1)
        let o = plan.creates[0].render(triggerTime: "2024-01-01T00:00:00Z")
        XCTAssertEqual(o.metadata.string("generateName"), "foo-")
        XCTAssertEqual(o["addressType"], "IPv4")
        XCTAssertEqual(o["ports"], .array([]))
        XCTAssertEqual(o["endpoints"], .array([]))
        XCTAssertEqual(o.labels["kubernetes.io/service-name"], "foo")
        XCTAssertEqual(o.labels["endpointslice.kubernetes.io/managed-by"], "endpointslice-controller.k8s.io")
        XCTAssertEqual(o.annotations["endpoints.kubernetes.io/last-change-trigger-time"], "2024-01-01T00:00:00Z")
        XCTAssertEqual(o.metadata["ownerReferences"], [["apiVersion": "v1", "kind": "Service", "name": "foo", "uid": "svc-uid-foo",
                                                         "controller": true, "blockOwnerDeletion": true]])
    }

    /// §5.4: a Service being deleted gets no placeholder (creates are skipped).
    func testServicePendingDeletionCreatesNothing() {
        XCTAssertEqual(esReconcile(esService(deleting: true), []).writeCount, 0)
        XCTAssertEqual(esReconcile(esService(deleting: true), pods(3)).writeCount, 0)
    }

    /// §5.6: one ready pod with IPv4 and IPv6 addresses, IPv4 Service.
    func testSingleReadyPodIPv4() {
        let pod = esPod("pod1", ips: ["1.2.3.4", "1234::5678:0000:0000:9abc:def0"], hostname: "example-hostname")
        let plan = esReconcile(svc, [pod], nodes: [esNode("node-1", zone: "us-central1-a")])
        XCTAssertEqual(plan.creates.count, 1)
        let o = plan.creates[0].render(triggerTime: nil)
        XCTAssertEqual(o["addressType"], "IPv4")
        XCTAssertEqual(o["endpoints"], [[
            "addresses": ["1.2.3.4"],
            "conditions": ["ready": true, "serving": true, "terminating": false],
            "targetRef": ["kind": "Pod", "namespace": "test", "name": "pod1", "uid": "uid-pod1"],
            "nodeName": "node-1", "zone": "us-central1-a",
        ]])
        XCTAssertEqual(o.labels, ["kubernetes.io/service-name": "foo", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                                  "service.kubernetes.io/headless": ""])
        XCTAssertEqual(o["ports"], [["name": "foo", "port": 80, "protocol": "TCP"]])
        XCTAssertNil(o.annotations["endpoints.kubernetes.io/last-change-trigger-time"])
    }

    /// §5.7: ClusterIP set → no headless label.
    func testClusterIPServiceHasNoHeadlessLabel() {
        let plan = esReconcile(esService(clusterIP: "1.1.1.1"), [esPod("pod1", ips: ["1.2.3.4"])])
        XCTAssertEqual(plan.creates.count, 1)
        XCTAssertNil(plan.creates[0].labels["service.kubernetes.io/headless"])
        XCTAssertEqual(plan.creates[0].endpoints.map(\.addresses), [["1.2.3.4"]])
    }

    /// §5.8: IPv6 family → address normalised.
    func testIPv6AddressIsNormalised() {
        let plan = esReconcile(esService(families: ["IPv6"]), [esPod("pod1", ips: ["1.2.3.4", "1234::5678:0000:0000:9abc:def0"])])
        XCTAssertEqual(plan.creates.count, 1)
        XCTAssertEqual(plan.creates[0].addressType, "IPv6")
        XCTAssertEqual(plan.creates[0].endpoints.map(\.addresses), [["1234::5678:0:0:9abc:def0"]])
    }

    /// §5.9: dual stack → one slice per family.
    func testDualStack() {
        let plan = esReconcile(esService(clusterIP: "10.0.0.10", families: ["IPv4", "IPv6"]),
                               [esPod("pod1", ips: ["1.2.3.4", "1234::5678:0000:0000:9abc:def0"])])
        XCTAssertEqual(plan.creates.count, 2)
        XCTAssertEqual(Set(plan.creates.map(\.addressType)), ["IPv4", "IPv6"])
        XCTAssertEqual(plan.creates.map(\.endpoints.count), [1, 1])
        // No pods: a placeholder per family.
        let empty = esReconcile(esService(clusterIP: "10.0.0.10", families: ["IPv4", "IPv6"]), [])
        XCTAssertEqual(empty.creates.map(\.addressType), ["IPv4", "IPv6"])
    }

    /// §5.10: no ipFamilies, ClusterIP set → the ClusterIP's family only; headless → both.
    func testLegacyNoFamilyService() {
        let pod = esPod("pod1", ips: ["1.2.3.4", "1234::5678:0000:0000:9abc:def0"])
        let plan = esReconcile(esService(clusterIP: "10.0.0.10", families: nil), [pod])
        XCTAssertEqual(plan.creates.map(\.addressType), ["IPv4"])
        XCTAssertEqual(SliceServiceView(esService(clusterIP: "fd00::10", families: nil)).addressTypes, ["IPv6"])
        XCTAssertEqual(SliceServiceView(esService(clusterIP: "None", families: nil)).addressTypes, ["IPv4", "IPv6"])
        XCTAssertEqual(SliceServiceView(esService(clusterIP: nil, families: nil)).addressTypes, ["IPv4", "IPv6"])
    }

    /// §5.11: Service labels are copied; reserved keys on the Service are ignored.
    func testLabelCopyingAndReservedLabels() {
        let pod = esPod("pod1", ips: ["1.2.3.4"])
        let plan = esReconcile(esService(labels: ["foo": "bar"]), [pod])
        XCTAssertEqual(plan.creates[0].labels["foo"], "bar")
        let evil = esReconcile(esService(labels: ["kubernetes.io/service-name": "bad", "endpointslice.kubernetes.io/managed-by": "actor",
                                                  "service.kubernetes.io/headless": "invalid"]), [pod])
        XCTAssertEqual(evil.creates[0].labels, ["kubernetes.io/service-name": "foo",
                                                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                                                "service.kubernetes.io/headless": ""])
    }

    /// §5.12: the condition matrix of §2.8.
    func testConditionMatrix() {
        func conds(_ pod: JSONObject, publish: Bool = false) -> [Bool?] {
            let ep = SlicePodRules.endpoint(pod: pod, service: SliceServiceView(esService(publishNotReady: publish)), zone: nil, addressType: "IPv4")
            return [ep.ready, ep.serving, ep.terminating]
        }
        XCTAssertEqual(conds(esPod("p", ips: ["1.2.3.4"])), [true, true, false])
        XCTAssertEqual(conds(esPod("p", ips: ["1.2.3.4"], ready: false)), [false, false, false])
        XCTAssertEqual(conds(esPod("p", ips: ["1.2.3.4"], ready: false), publish: true), [true, false, false])
        XCTAssertEqual(conds(esPod("p", ips: ["1.2.3.4"], terminating: true)), [false, true, true])
        XCTAssertEqual(conds(esPod("p", ips: ["1.2.3.4"], ready: false, terminating: true)), [false, false, true])
        XCTAssertEqual(conds(esPod("p", ips: ["1.2.3.4"], terminating: true), publish: true), [true, true, true])
        // Terminating pods are included in slices.
        let plan = esReconcile(svc, [esPod("p", ips: ["1.2.3.4"], terminating: true)])
        XCTAssertEqual(plan.creates[0].endpoints.count, 1)
    }

    /// §5.13: hostname only when the pod's subdomain is the Service name.
    func testHostname() {
        let view = SliceServiceView(svc)
        let with = SlicePodRules.endpoint(pod: esPod("p", ips: ["1.2.3.4"], hostname: "example-hostname", subdomain: "foo"),
                                          service: view, zone: nil, addressType: "IPv4")
        XCTAssertEqual(with.hostname, "example-hostname")
        let other = SlicePodRules.endpoint(pod: esPod("p", ips: ["1.2.3.4"], hostname: "example-hostname", subdomain: "bar"),
                                           service: view, zone: nil, addressType: "IPv4")
        XCTAssertNil(other.hostname)
    }

    /// §5.14: terminal and IP-less pods give no endpoint (placeholder); Pending/Unknown/Running with IP do.
    func testTerminalAndIPlessPods() {
        let none = esReconcile(svc, [esPod("a", ips: ["1.2.3.4"], phase: "Failed"), esPod("b", ips: ["1.2.3.5"], phase: "Succeeded"),
                                     esPod("c", ips: [])])
        XCTAssertEqual(none.creates.count, 1)
        XCTAssertEqual(none.creates[0].endpoints.count, 0)
        XCTAssertEqual(none.creates[0].ports, [])
        let some = esReconcile(svc, [esPod("a", ips: ["1.2.3.4"], phase: "Pending"), esPod("b", ips: ["1.2.3.5"], phase: "Unknown"),
                                     esPod("c", ips: ["1.2.3.6"], phase: "Running")])
        XCTAssertEqual(some.creates.map(\.endpoints.count), [3])
    }

    /// §5.15: two pods with the same IP are two endpoints.
    func testDuplicateIPs() {
        let both = esReconcile(svc, [esPod("pod0", ips: ["10.0.0.1"]), esPod("pod1", ips: ["10.0.0.1"])])
        XCTAssertEqual(both.creates[0].endpoints.count, 2)
        let one = esReconcile(svc, [esPod("pod0", ips: ["10.0.0.1"]), esPod("pod1", ips: ["10.0.0.1"], ready: false)])
        let eps = one.creates[0].endpoints
        XCTAssertEqual(eps.count, 2)
        XCTAssertEqual(eps.first { $0.targetRef?.name == "pod1" }?.ready, false)
        XCTAssertEqual(eps.first { $0.targetRef?.name == "pod1" }?.serving, false)
        XCTAssertEqual(eps.first { $0.targetRef?.name == "pod0" }?.ready, true)
    }

    /// §5.16: several protocols in one slice (ports compared as a set).
    func testMultiProtocolPorts() {
        let s = esService(ports: [["name": "tcp-example", "protocol": "TCP", "port": 80, "targetPort": 80],
                                  ["name": "udp-example", "protocol": "UDP", "port": 161, "targetPort": 161],
                                  ["name": "sctp-example", "protocol": "SCTP", "port": 3456, "targetPort": 3456]])
        let plan = esReconcile(s, [esPod("pod1", ips: ["1.2.3.4"])])
        XCTAssertEqual(plan.creates.count, 1)
        XCTAssertEqual(Set(plan.creates[0].ports ?? []), [SlicePort(name: "tcp-example", port: 80, proto: "TCP", appProtocol: nil),
                                                        SlicePort(name: "udp-example", port: 161, proto: "UDP", appProtocol: nil),
                                                        SlicePort(name: "sctp-example", port: 3456, proto: "SCTP", appProtocol: nil)])
    }

    /// Headless Service without ports: endpoints with an empty port list.
    func testHeadlessWithoutPorts() {
        let plan = esReconcile(esService(ports: [], clusterIP: "None"), [esPod("pod1", ips: ["1.2.3.4"])])
        XCTAssertEqual(plan.creates.count, 1)
        XCTAssertEqual(plan.creates[0].ports, [])
        XCTAssertEqual(plan.creates[0].endpoints.count, 1)
    }

    // MARK: packing

    func testFromNothing250EndpointsIs100_100_50() {
        var server = ESFakeServer()
        server.apply(esReconcile(svc, pods(250)))
        XCTAssertEqual(server.creates, 3)
        XCTAssertEqual(server.sizes(), [100, 100, 50])
        // A second pass changes nothing.
        let again = esReconcile(svc, pods(250), slices: server.slices)
        XCTAssertEqual(again.writeCount, 0)
    }

    func testScaleDown250To3DeletesExtraSlices() {
        var server = ESFakeServer()
        server.apply(esReconcile(svc, pods(250)))
        server.resetCounts()
        let plan = esReconcile(svc, pods(3), slices: server.slices)
        server.apply(plan)
        XCTAssertEqual(server.sizes(), [3])
        XCTAssertEqual(server.updates, 1)
        XCTAssertEqual(server.deletes, 2)
        XCTAssertEqual(server.creates, 0)
    }

    func testScaleToZeroLeavesPlaceholder() {
        var server = ESFakeServer()
        server.apply(esReconcile(svc, pods(150)))
        server.resetCounts()
        server.apply(esReconcile(svc, [], slices: server.slices))
        XCTAssertEqual(server.sizes(), [0])
        // The placeholder is recycled from a deleted slice: 1 update + 1 delete, no create.
        XCTAssertEqual([server.creates, server.updates, server.deletes], [0, 1, 1])
        XCTAssertEqual(server.slices[0]["ports"], .array([]))
        // An equal placeholder is left alone.
        XCTAssertEqual(esReconcile(svc, [], slices: server.slices).writeCount, 0)
    }

    func testOneReadinessFlipUpdatesExactlyOneSlice() {
        var server = ESFakeServer()
        var all = pods(1000)
        server.apply(esReconcile(svc, all))
        XCTAssertEqual(server.sizes(), Array(repeating: 100, count: 10))
        server.resetCounts()
        all[537] = esPod("pod537", ips: [esIP(537)], ready: false)
        let plan = esReconcile(svc, all, slices: server.slices)
        XCTAssertEqual(plan.writeCount, 1)
        XCTAssertEqual(plan.updates.count, 1)
        server.apply(plan)
        let flipped = server.allEndpoints.filter { $0["targetRef"]["name"] == "pod537" }
        XCTAssertEqual(flipped.count, 1)
        XCTAssertEqual(flipped[0]["conditions"]["ready"], false)
        XCTAssertEqual(server.sizes(), Array(repeating: 100, count: 10))
    }

    /// Existing 62 and 61, 127 new: one full new slice, the remaining 27 into the 62 slice (→ 89).
    func testRemainderGoesToClosestFittingUnchangedSlice() {
        var server = ESFakeServer()
        let a = esReconcile(svc, pods(62)).creates[0]
        let b = esReconcile(svc, pods(61, from: 62)).creates[0]
        server.apply(SlicePlan(byAddressType: [.init(addressType: "IPv4", creates: [a, b])]))
        XCTAssertEqual(server.sizes(), [62, 61])
        server.resetCounts()
        server.apply(esReconcile(svc, pods(123 + 127), slices: server.slices))
        XCTAssertEqual([server.creates, server.updates, server.deletes], [1, 1, 0])
        XCTAssertEqual(server.sizes(), [100, 89, 61])
    }

    /// Existing 74 and 74, 152 new: two new slices (100 and 52), no update.
    func testRemainderThatFitsNowhereGetsNewSlice() {
        var server = ESFakeServer()
        let a = esReconcile(svc, pods(74)).creates[0]
        let b = esReconcile(svc, pods(74, from: 74)).creates[0]
        server.apply(SlicePlan(byAddressType: [.init(addressType: "IPv4", creates: [a, b])]))
        server.resetCounts()
        server.apply(esReconcile(svc, pods(300), slices: server.slices))
        XCTAssertEqual([server.creates, server.updates, server.deletes], [2, 0, 0])
        XCTAssertEqual(server.sizes(), [100, 74, 74, 52])
    }

    /// S1=80 and S2=20 both changed, 15 new: the fuller slice is topped up first (→ 95).
    func testTopUpFullestUpdatedSliceFirst() {
        var server = ESFakeServer()
        let a = esReconcile(svc, pods(80)).creates[0]
        let b = esReconcile(svc, pods(20, from: 80)).creates[0]
        server.apply(SlicePlan(byAddressType: [.init(addressType: "IPv4", creates: [a, b])]))
        server.resetCounts()
        var all = pods(115)
        all[3] = esPod("pod3", ips: [esIP(3)], ready: false)
        all[85] = esPod("pod85", ips: [esIP(85)], ready: false)
        server.apply(esReconcile(svc, all, slices: server.slices))
        XCTAssertEqual([server.creates, server.updates, server.deletes], [0, 2, 0])
        XCTAssertEqual(server.sizes(), [95, 20])
    }

    /// A port change moves every endpoint to a new group: creates and deletes recycle into updates.
    func testPortChangeRecyclesSlices() {
        var server = ESFakeServer()
        server.apply(esReconcile(svc, pods(250)))
        server.resetCounts()
        let changed = esService(ports: [["name": "foo", "protocol": "TCP", "port": 80, "targetPort": 8080]])
        let plan = esReconcile(changed, pods(250), slices: server.slices)
        server.apply(plan)
        XCTAssertEqual([server.creates, server.updates, server.deletes], [0, 3, 0])
        XCTAssertEqual(server.sizes(), [100, 100, 50])
        XCTAssertTrue(server.slices.allSatisfy { $0["ports"] == [["name": "foo", "port": 8080, "protocol": "TCP"]] })
        // The recycled object is a fresh one written under the old name (no resourceVersion: unconditional update).
        XCTAssertNil(plan.updates[0].base)
    }

    /// Named target ports resolve per pod; pods with different numbers land in different slices.
    func testNamedPortsGroupPods() {
        let s = esService(ports: [["name": "http", "protocol": "TCP", "port": 80, "targetPort": "http"]])
        let a = (0..<3).map { esPod("a\($0)", ips: [esIP($0)], ports: [["name": "http", "containerPort": 8080, "protocol": "TCP"]]) }
        let b = (3..<5).map { esPod("b\($0)", ips: [esIP($0)], ports: [["name": "http", "containerPort": 9090, "protocol": "TCP"]]) }
        let c = [esPod("c", ips: [esIP(9)], ports: [["name": "other", "containerPort": 1, "protocol": "TCP"]])]
        let plan = esReconcile(s, a + b + c)
        XCTAssertEqual(plan.creates.count, 3)
        var byPort: [Int: Int] = [:]
        for sl in plan.creates { byPort[sl.ports?.first?.port ?? -1] = sl.endpoints.count }
        XCTAssertEqual(byPort, [8080: 3, 9090: 2, -1: 1])
        // The unresolvable pod still has an endpoint, in an empty-ports slice.
        XCTAssertEqual(plan.creates.first { $0.ports == [] }?.endpoints.map { $0.targetRef?.name }, ["c"])
    }

    func testSidecarNamedPortAndContainerPrecedence() {
        let sp: JSON = ["name": "http", "protocol": "TCP", "port": 80, "targetPort": "http"]
        var pod = esPod("p", ips: ["1.2.3.4"])
        pod.withObject("spec") { spec in
            spec["initContainers"] = [["name": "side", "restartPolicy": "Always", "ports": [["name": "http", "containerPort": 7070]]],
                                      ["name": "init", "ports": [["name": "http", "containerPort": 6060]]]]
        }
        XCTAssertEqual(SlicePodRules.findPort(sp, pod: pod), 7070)
        pod.withObject("spec") { $0["containers"] = [["name": "c", "ports": [["name": "http", "containerPort": 8080, "protocol": "TCP"]]]] }
        XCTAssertEqual(SlicePodRules.findPort(sp, pod: pod), 8080)
        XCTAssertNil(SlicePodRules.findPort(["name": "u", "protocol": "UDP", "port": 80, "targetPort": "http"], pod: pod))
    }

    // MARK: user edits and ownership

    func testUserEditsAreReconciledBack() {
        var server = ESFakeServer()
        server.apply(esReconcile(svc, pods(5)))
        server.resetCounts()
        // A foreign endpoint and a missing one.
        var s = server.slices[0]
        var eps = s["endpoints"]!.arrayValue!
        eps.removeFirst()
        eps.append(["addresses": ["9.9.9.9"], "conditions": ["ready": true]])
        s["endpoints"] = .array(eps)
        s.metadata["labels"] = .stringMap(s.labels.merging(["user": "label"]) { $1 })
        server.slices[0] = s
        let plan = esReconcile(svc, pods(5), slices: server.slices)
        XCTAssertEqual(plan.writeCount, 1)
        server.apply(plan)
        XCTAssertEqual(Set(server.allEndpoints.map { $0["targetRef"]["name"].stringValue ?? "" }), Set((0..<5).map { "pod\($0)" }))
        XCTAssertNil(server.slices[0].labels["user"])
    }

    func testReservedLabelEditAloneIsNotRewritten() {
        var server = ESFakeServer()
        server.apply(esReconcile(svc, pods(5)))
        var s = server.slices[0]
        var l = s.labels
        l["service.kubernetes.io/headless"] = nil
        s.metadata["labels"] = .stringMap(l)
        server.slices[0] = s
        XCTAssertEqual(esReconcile(svc, pods(5), slices: server.slices).writeCount, 0)
        // Service label changes are copied.
        let plan = esReconcile(esService(labels: ["team": "a"]), pods(5), slices: server.slices)
        XCTAssertEqual(plan.updates.count, 1)
        XCTAssertEqual(plan.updates[0].labels["team"], "a")
        XCTAssertEqual(plan.updates[0].labels["service.kubernetes.io/headless"], "")
    }

    func testSliceOwnedByOtherServiceUIDIsReplaced() {
        var server = ESFakeServer()
        server.apply(esReconcile(esService(uid: "old-uid"), pods(5)))
        server.resetCounts()
        server.apply(esReconcile(svc, pods(5), slices: server.slices))
        // The old slice is not owned: it is deleted, and not recycled (only owned slices are).
        XCTAssertEqual([server.creates, server.updates, server.deletes], [1, 0, 1])
        XCTAssertEqual(server.slices.count, 1)
        XCTAssertEqual(server.slices[0].metadata["ownerReferences"]?[0]["uid"], "svc-uid-foo")
    }

    func testDifferentPlaceholderIsUpdatedInPlace() {
        var server = ESFakeServer()
        server.apply(esReconcile(svc, []))
        server.resetCounts()
        server.apply(esReconcile(esService(labels: ["x": "y"]), [], slices: server.slices))
        XCTAssertEqual([server.creates, server.updates, server.deletes], [0, 1, 0])
        XCTAssertEqual(server.slices[0].labels["x"], "y")
    }

    func testUnsupportedAddressTypeDeleted() {
        var server = ESFakeServer()
        server.apply(esReconcile(esService(families: ["IPv4", "IPv6"]), [esPod("p", ips: ["1.2.3.4", "fd00::1"])]))
        XCTAssertEqual(server.slices.count, 2)
        server.resetCounts()
        server.apply(esReconcile(esService(families: ["IPv4"]), [esPod("p", ips: ["1.2.3.4", "fd00::1"])], slices: server.slices))
        XCTAssertEqual([server.creates, server.updates, server.deletes], [0, 0, 1])
        XCTAssertEqual(server.slices.map { $0["addressType"] }, ["IPv4"])
    }

    // MARK: nodes

    func testPodOnMissingNodeSkippedWithError() {
        let plan = esReconcile(svc, [esPod("a", ips: ["1.2.3.4"]), esPod("b", ips: ["1.2.3.5"], node: "gone")])
        XCTAssertEqual(plan.creates.map { $0.endpoints.map { $0.targetRef?.name } }, [["a"]])
        XCTAssertEqual(plan.errors, ["skipping Pod b for Service test/foo: Node gone Not Found"])
        // With publishNotReadyAddresses the pod is kept, without a zone.
        let kept = esReconcile(esService(publishNotReady: true), [esPod("b", ips: ["1.2.3.5"], node: "gone")])
        XCTAssertEqual(kept.creates[0].endpoints.count, 1)
        XCTAssertNil(kept.creates[0].endpoints[0].zone)
        XCTAssertTrue(kept.errors.isEmpty)
        // Only pods on missing nodes: a placeholder.
        let only = esReconcile(svc, [esPod("b", ips: ["1.2.3.5"], node: "gone")])
        XCTAssertEqual(only.creates.map(\.endpoints.count), [0])
    }

    // MARK: hints

    func testTrafficDistributionPreferCloseAndSameNode() {
        let nodes = [esNode("node-1", zone: "z1"), esNode("node-2", zone: "z2")]
        let ps = [esPod("a", ips: ["1.2.3.4"]), esPod("b", ips: ["1.2.3.5"], node: "node-2"), esPod("c", ips: ["1.2.3.6"], ready: false)]
        let close = esReconcile(esService(trafficDistribution: "PreferClose"), ps, nodes: nodes)
        let eps = Dictionary(uniqueKeysWithValues: close.creates[0].endpoints.map { ($0.targetRef!.name, $0.hints) })
        XCTAssertEqual(eps["a"]!, SliceHints(forZones: ["z1"]))
        XCTAssertEqual(eps["b"]!, SliceHints(forZones: ["z2"]))
        XCTAssertNil(eps["c"]!)
        let node = esReconcile(esService(trafficDistribution: "PreferSameNode"), ps, nodes: nodes)
        XCTAssertEqual(node.creates[0].endpoints.first { $0.targetRef?.name == "a" }?.hints, SliceHints(forZones: ["z1"], forNodes: ["node-1"]))
        // Stable: a second pass writes nothing; removing the field strips the hints (1 update).
        var server = ESFakeServer()
        server.apply(node)
        XCTAssertEqual(esReconcile(esService(trafficDistribution: "PreferSameNode"), ps, nodes: nodes, slices: server.slices).writeCount, 0)
        let off = esReconcile(svc, ps, nodes: nodes, slices: server.slices)
        XCTAssertEqual(off.updates.count, 1)
        XCTAssertTrue(off.updates[0].endpoints.allSatisfy { $0.hints == nil })
        // Switching PreferSameNode → PreferClose drops the node hints.
        let zoneOnly = esReconcile(esService(trafficDistribution: "PreferClose"), ps, nodes: nodes, slices: server.slices)
        XCTAssertEqual(zoneOnly.updates.count, 1)
        XCTAssertEqual(zoneOnly.updates[0].endpoints.first { $0.targetRef?.name == "a" }?.hints, SliceHints(forZones: ["z1"]))
    }

    func testTopologyAwareHintsAuto() {
        let nodes = [esNode("n1", zone: "z1", cpu: "4"), esNode("n2", zone: "z2", cpu: "4"),
                     esNode("cp", zone: "z3", cpu: "4", labels: ["node-role.kubernetes.io/control-plane": ""])]
        var topo = TopologyCache()
        topo.setNodes(nodes.map(SliceNodeView.init))
        XCTAssertEqual(topo.cpuRatiosByZone, ["z1": 0.5, "z2": 0.5])
        let s = esService(annotations: ["service.kubernetes.io/topology-mode": "Auto"])
        // 3 endpoints in z1, 1 in z2: one z1 endpoint is re-hinted to z2.
        let ps = (0..<3).map { esPod("a\($0)", ips: [esIP($0)], node: "n1") } + [esPod("b", ips: [esIP(9)], node: "n2")]
        let plan = esReconcile(s, ps, nodes: nodes, topology: &topo)
        let hinted = plan.creates[0].endpoints.map { $0.hints?.forZones.first ?? "-" }
        XCTAssertEqual(hinted.filter { $0 == "z1" }.count, 2)
        XCTAssertEqual(hinted.filter { $0 == "z2" }.count, 2)
        XCTAssertEqual(plan.events.map(\.reason), ["TopologyAwareHintsEnabled"])
        XCTAssertEqual(plan.events[0].message, "Topology Aware Hints has been enabled, addressType: IPv4")
        XCTAssertTrue(topo.hasPopulatedHints("test/foo"))
        // Stable on the next pass.
        var server = ESFakeServer()
        server.apply(plan)
        let again = esReconcile(s, ps, nodes: nodes, slices: server.slices, topology: &topo)
        XCTAssertEqual(again.writeCount, 0)
        XCTAssertEqual(again.events, [])
        // Annotation removed: hints stripped with a warning.
        let off = esReconcile(svc, ps, nodes: nodes, slices: server.slices, topology: &topo)
        XCTAssertEqual(off.updates.count, 1)
        XCTAssertTrue(off.updates[0].endpoints.allSatisfy { $0.hints == nil })
        XCTAssertEqual(off.events.map(\.message), ["Topology Aware Hints has been disabled, addressType: IPv4"])
    }

    func testTopologyAwareHintsInsufficientInfo() {
        var topo = TopologyCache()
        topo.setNodes([SliceNodeView(esNode("n1", zone: "z1")), SliceNodeView(esNode("n2", zone: nil))])
        XCTAssertNil(topo.cpuRatiosByZone)
        let s = esService(annotations: ["service.kubernetes.io/topology-aware-hints": "auto", "service.kubernetes.io/topology-mode": "Disabled"])
        let plan = esReconcile(s, [esPod("a", ips: ["1.2.3.4"], node: "n1")], nodes: [esNode("n1", zone: "z1")], topology: &topo)
        XCTAssertEqual(plan.events.map(\.message),
                       ["Insufficient Node information: allocatable CPU or zone not specified on one or more nodes, addressType: IPv4"])
        XCTAssertNil(plan.creates[0].endpoints[0].hints)
        // Too few endpoints for the zones.
        topo.setNodes([SliceNodeView(esNode("n1", zone: "z1")), SliceNodeView(esNode("n2", zone: "z2"))])
        let few = esReconcile(s, [esPod("a", ips: ["1.2.3.4"], node: "n1")], nodes: [esNode("n1", zone: "z1")], topology: &topo)
        XCTAssertEqual(few.events.map(\.message), ["Insufficient number of endpoints (1 endpoints, 2 zones), addressType: IPv4"])
    }

    func testHintsEnabledParsing() {
        func on(_ a: [String: String]) -> Bool { SliceServiceView(esService(annotations: a)).topologyHintsEnabled }
        XCTAssertTrue(on(["service.kubernetes.io/topology-mode": "Auto"]))
        XCTAssertTrue(on(["service.kubernetes.io/topology-mode": "auto"]))
        XCTAssertFalse(on(["service.kubernetes.io/topology-mode": "aUto"]))
        XCTAssertFalse(on(["service.kubernetes.io/topology-mode": "enabled"]))
        XCTAssertFalse(on(["service.kubernetes.io/topology-aware-hints": "Disabled", "service.kubernetes.io/topology-mode": "Auto"]))
        XCTAssertTrue(on(["service.kubernetes.io/topology-aware-hints": "Auto", "service.kubernetes.io/topology-mode": "Disabled"]))
    }

    // MARK: helpers

    /// The packing step compares hashes; they must agree with the identity / detail definitions.
    func testEndpointHashesMatchComparisons() {
        let base = SliceEndpoint(addresses: ["1.2.3.4", "1.2.3.5"], ready: true, serving: true, terminating: false, hostname: "h",
                                 nodeName: "n", zone: "z", targetRef: ObjectReference(kind: "Pod", namespace: "test", name: "p", uid: "u"))
        var variants: [SliceEndpoint] = []
        var v = base; v.addresses = ["1.2.3.5", "1.2.3.4"]; variants.append(v)
        v = base; v.addresses = ["1.2.3.4"]; variants.append(v)
        v = base; v.hostname = nil; variants.append(v)
        v = base; v.targetRef?.name = "q"; variants.append(v)
        v = base; v.targetRef?.namespace = "other"; variants.append(v)
        v = base; v.targetRef?.resourceVersion = "9"; variants.append(v)
        v = base; v.targetRef?.uid = "u2"; variants.append(v)
        v = base; v.ready = false; variants.append(v)
        v = base; v.serving = nil; variants.append(v)
        v = base; v.terminating = true; variants.append(v)
        v = base; v.nodeName = nil; variants.append(v)
        v = base; v.zone = "z2"; variants.append(v)
        v = base; v.hints = SliceHints(forZones: ["z"]); variants.append(v)
        v = base; v.targetRef = nil; variants.append(v)
        var prepared = base
        prepared.prepare()
        for e in variants {
            XCTAssertEqual(e.sameIdentity(base), e.identityHash == prepared.identityHash, "\(e)")
            if e.sameIdentity(base) {
                XCTAssertEqual(e.equalBeyondIdentity(base), e.detailHash == prepared.detailHash, "\(e)")
            }
        }
    }

    func testTriggerTimeTracker() {
        var t = TriggerTimeTracker()
        XCTAssertEqual(t.compute(serviceKey: "a", serviceTime: 100, changed: [("p", 50)], full: true), 100)
        XCTAssertNil(t.compute(serviceKey: "a", serviceTime: 100, changed: [("p", 50)], full: false))
        XCTAssertEqual(t.compute(serviceKey: "a", serviceTime: 100, changed: [("p", 200), ("q", 150)], full: false), 150)
        XCTAssertNil(t.compute(serviceKey: "a", serviceTime: 100, changed: [], full: false))
    }
}
