import Dispatch
import Foundation
import XCTest
@testable import KemuControllers
import KemuAPI
import KemuRegistry
import KemuStore

/// A store with kemu's nodes and the cluster simulator running.
final class SimTestCluster: @unchecked Sendable {
    let store = Store(eventHistory: 100_000)
    let storage: ObjectStorage
    let sim: ClusterSimulator

    init(_ configure: (inout ClusterOptions) -> Void = { _ in }, graceScale: Double = 0, bootstrap: Bool = true) throws {
        storage = ObjectStorage(store: store, registry: .standard, context: ClusterAllocators(), terminationGraceScale: graceScale)
        var o = ClusterOptions()
        configure(&o)
        sim = ClusterSimulator(storage: storage, options: ControllerOptions(), cluster: o)
        _ = try storage.create(.namespace, namespace: "", body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "test"]])
        if bootstrap { try sim.bootstrapNodes() }
        store.hub.start(initialRV: store.currentResourceVersion)
        sim.start()
    }

    func stop() { sim.stop(); store.hub.stop() }

    @discardableResult
    func pod(_ name: String, node: String? = nil, annotations: [String: String] = [:], spec extra: JSONObject = [:],
             containers: [JSON] = [["name": "app", "image": "nginx"]]) throws -> StoredObject {
        var spec: JSONObject = ["containers": .array(containers)]
        if let node { spec["nodeName"] = .string(node) }
        for (k, v) in extra { spec[k] = v }
        var meta: JSONObject = ["name": .string(name), "labels": ["app": "web"]]
        if !annotations.isEmpty { meta["annotations"] = .stringMap(annotations) }
        return try storage.create(.pod, namespace: "test", body: ["apiVersion": "v1", "kind": "Pod", "metadata": .object(meta), "spec": .object(spec)])
    }

    func get(_ name: String) -> JSONObject? { store.get(ResourceKind.pod.groupResource, namespace: "test", name: name)?.object }
    func node(_ name: String) -> JSONObject? { store.get(ResourceKind.node.groupResource, namespace: "", name: name)?.object }
    func nodes() -> [JSONObject] { ((try? store.list(ResourceKind.node.groupResource))?.items ?? []).map(\.object) }

    func patchNode(_ name: String, status: Bool = false, _ body: @escaping (inout JSONObject) -> Void) throws {
        _ = try storage.update(.node, namespace: "", name: name, subresource: status ? "status" : nil) { cur in
            var n = cur; body(&n); return n
        }
    }

    /// Sets the status of a node's Ready condition (as its kubelet, or its silence, would).
    func setNodeReady(_ name: String, _ status: String) throws {
        try patchNode(name, status: true) { n in
            n.withObject("status") { st in
                st["conditions"] = .array((st["conditions"]?.arrayValue ?? []).map { cond in
                    guard cond["type"].stringValue == "Ready", case .object(var o) = cond else { return cond }
                    o["status"] = .string(status)
                    return .object(o)
                })
            }
        }
    }

    func annotate(_ name: String, _ key: String, _ value: String?) throws {
        _ = try storage.update(.pod, namespace: "test", name: name) { cur in
            var p = cur
            p.withObject("metadata") { m in m.withObject("annotations") { $0[key] = value.map(JSON.string) } }
            return p
        }
    }

    func eventually(timeout: Double = 10, _ condition: () -> Bool) -> Bool { poll(timeout: timeout, condition) }

    /// Waits until the store is quiet for `quiet` seconds.
    func settle(quiet: Double = 0.3, timeout: Double = 10) {
        let deadline = Date().addingTimeInterval(timeout)
        var last = store.currentResourceVersion
        var since = Date()
        while Date() < deadline {
            usleep(10_000)
            let rv = store.currentResourceVersion
            if rv != last { last = rv; since = Date() } else if Date().timeIntervalSince(since) >= quiet { return }
        }
    }
}

func isRunningReady(_ p: JSONObject?) -> Bool {
    guard let p else { return false }
    return PodFacts.phase(p) == "Running" && PodFacts.isReady(p)
}

final class ClusterCIDRTests: XCTestCase {
    // Parsing and carving: KemuAPITests/IPAddressTests.
    func testPodCapacity() {
        XCTAssertEqual(CIDR("10.244.1.0/24")!.podCapacity, 253)
        XCTAssertEqual(CIDR("10.244.1.0/30")!.podCapacity, 1)
        XCTAssertEqual(CIDR("10.244.1.0/31")!.podCapacity, 0)
        XCTAssertEqual(CIDR("fd00::/64")!.podCapacity, 1 << 20)
    }

    func testDualRangesAndAllocator() {
        var o = ClusterOptions()
        o.ipFamily = "dual"
        let c = o.nodeCIDRs(3)!
        XCTAssertEqual(c.map(\.text), ["10.244.3.0/24", "fd00:10:244:3::/64"])
        var a = PodIPAllocator(cidrs: c)
        XCTAssertEqual(a.allocate()?.ips, ["10.244.3.2", "fd00:10:244:3::2"])
        let second = a.allocate()!
        XCTAssertEqual(second.ips, ["10.244.3.3", "fd00:10:244:3::3"])
        a.release(second.offset)
        XCTAssertEqual(a.allocate()?.ips, ["10.244.3.3", "fd00:10:244:3::3"])
        XCTAssertEqual(a.reserve("10.244.3.4"), 4)
        XCTAssertEqual(a.allocate()?.offset, 5)
        XCTAssertEqual(a.reserve("fd00:10:244:3::0007"), 7)
        XCTAssertEqual(a.reserve("010.244.3.008"), 8)  // pod IPs are read sloppily
        XCTAssertNil(a.reserve("10.244.4.9"))
        XCTAssertNil(a.reserve("fd00:10:244:4::9"))
        XCTAssertEqual(a.allocate()?.offset, 6)
        XCTAssertEqual(a.allocate()?.offset, 9)
    }

    func testImageNormalisation() {
        XCTAssertEqual(ClusterSimulator.normalizedImage("nginx"), "docker.io/library/nginx:latest")
        XCTAssertEqual(ClusterSimulator.normalizedImage("nginx:1.27"), "docker.io/library/nginx:1.27")
        XCTAssertEqual(ClusterSimulator.normalizedImage("foo/bar"), "docker.io/foo/bar:latest")
        XCTAssertEqual(ClusterSimulator.normalizedImage("registry.k8s.io/pause:3.10"), "registry.k8s.io/pause:3.10")
        XCTAssertEqual(ClusterSimulator.normalizedImage("localhost:5000/app"), "localhost:5000/app:latest")
        XCTAssertTrue(ClusterSimulator.imageID("nginx").hasPrefix("docker.io/library/nginx@sha256:"))
    }

    func testSchedulingIndexOrderMatchesTheRule() {
        // The index must list nodes by (pods in the zone, pods on the node, zone, name), as the scheduler's rule,
        // through random placements, moves between zones and removals; zones with equal totals interleave.
        var index = SchedulingIndex()
        var nodes: [String: (zone: String, count: Int)] = [:]
        var rng = SystemRandomNumberGenerator()
        for step in 0..<400 {
            let name = "n\(Int.random(in: 0..<12, using: &rng))"
            if Int.random(in: 0..<10, using: &rng) == 0 {
                nodes[name] = nil
                index.update(name, zone: nil, count: 0)
            } else {
                let zone = nodes[name].map { Int.random(in: 0..<8, using: &rng) == 0 ? "z\(Int.random(in: 0..<3, using: &rng))" : $0.zone }
                    ?? ["", "z0", "z1", "z2"][Int.random(in: 0..<4, using: &rng)]
                let count = max(0, (nodes[name]?.count ?? 0) + Int.random(in: -1...2, using: &rng))
                nodes[name] = (zone, count)
                index.update(name, zone: zone, count: count)
            }
            var totals: [String: Int] = [:]
            for n in nodes.values { totals[n.zone, default: 0] += n.count }
            let want = nodes.sorted { a, b in
                (totals[a.value.zone]!, a.value.count, a.value.zone, a.key) < (totals[b.value.zone]!, b.value.count, b.value.zone, b.key)
            }.map(\.key)
            var got: [String] = []
            index.forEachInOrder { got.append($0); return true }
            XCTAssertEqual(got, want, "step \(step)")
            var first: [String] = []
            index.forEachInOrder { first.append($0); return false }
            XCTAssertEqual(first, Array(want.prefix(1)), "step \(step): stops when told")
        }
    }
}

final class ClusterSimulatorTests: XCTestCase {
    func testBootstrapNodes() throws {
        let c = try SimTestCluster()
        defer { c.stop() }
        let nodes = c.nodes().sorted { $0.name < $1.name }
        XCTAssertEqual(nodes.map(\.name), ["kemu-node-1", "kemu-node-2", "kemu-node-3"])
        let n = nodes[1]
        XCTAssertEqual(n.labels["topology.kubernetes.io/zone"], "zone-b")
        XCTAssertEqual(n.labels["topology.kubernetes.io/region"], "region-1")
        XCTAssertEqual(n.labels["kubernetes.io/hostname"], "kemu-node-2")
        XCTAssertEqual(n.labels["kubernetes.io/os"], "linux")
        XCTAssertEqual(n.labels["kubernetes.io/arch"], "amd64")
        XCTAssertEqual(n.annotations["kemu.dev/simulated"], "true")
        XCTAssertEqual(n["spec"]?["podCIDR"].stringValue, "10.244.1.0/24")
        XCTAssertEqual(n["spec"]?["podCIDRs"], ["10.244.1.0/24"])
        XCTAssertNotNil(n["spec"]?["providerID"].stringValue)
        let st = n["status"] ?? .null
        XCTAssertEqual(st["nodeInfo"]["kubeletVersion"].stringValue, "v1.32.4")
        for f in ["machineID", "systemUUID", "bootID", "kernelVersion", "osImage", "containerRuntimeVersion", "kubeletVersion",
                  "kubeProxyVersion", "operatingSystem", "architecture"] {
            XCTAssertFalse((st["nodeInfo"][f].stringValue ?? "").isEmpty, f)
        }
        XCTAssertEqual(st["capacity"]["pods"].stringValue, "110")
        XCTAssertEqual(st["allocatable"]["cpu"].stringValue, "8")
        XCTAssertEqual(st["addresses"][0]["address"].stringValue, "172.18.0.3")
        XCTAssertEqual((st["conditions"].arrayValue ?? []).map { $0["type"].stringValue ?? "" },
                       ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"])
        XCTAssertTrue((n.metadata["managedFields"]?.arrayValue ?? []).contains { $0["manager"].stringValue == "kubelet" })
        // Idempotent.
        try c.sim.bootstrapNodes()
        XCTAssertEqual(c.nodes().count, 3)
    }

    func testSchedulesSpreadsAndRunsPods() throws {
        let c = try SimTestCluster()
        defer { c.stop() }
        for i in 0..<6 { try c.pod("p\(i)") }
        XCTAssertTrue(c.eventually { (0..<6).allSatisfy { isRunningReady(c.get("p\($0)")) } })
        var perNode: [String: Int] = [:]
        var ips: Set<String> = []
        for i in 0..<6 {
            let p = c.get("p\(i)")!
            let node = PodFacts.nodeName(p)
            perNode[node, default: 0] += 1
            let ip = PodFacts.ips(p).first!
            ips.insert(ip)
            let idx = Int(node.split(separator: "-").last!)! - 1
            XCTAssertTrue(ip.hasPrefix("10.244.\(idx)."), "\(ip) on \(node)")
            let st = p["status"]!
            XCTAssertEqual(st["hostIP"].stringValue, "172.18.0.\(idx + 2)")
            XCTAssertEqual(st["hostIPs"][0]["ip"].stringValue, "172.18.0.\(idx + 2)")
            XCTAssertNotNil(st["startTime"].stringValue)
            XCTAssertEqual(st["qosClass"].stringValue, "BestEffort")
            let cs = st["containerStatuses"][0]
            XCTAssertEqual(cs["name"].stringValue, "app")
            XCTAssertEqual(cs["ready"].boolValue, true)
            XCTAssertEqual(cs["started"].boolValue, true)
            XCTAssertEqual(cs["restartCount"].intValue, 0)
            XCTAssertEqual(cs["image"].stringValue, "docker.io/library/nginx:latest")
            XCTAssertTrue(cs["containerID"].stringValue?.hasPrefix("containerd://") ?? false)
            XCTAssertNotNil(cs["state"]["running"]["startedAt"].stringValue)
            XCTAssertEqual((st["conditions"].arrayValue ?? []).map { $0["type"].stringValue ?? "" },
                           ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"])
            XCTAssertTrue((p.metadata["managedFields"]?.arrayValue ?? []).contains { $0["manager"].stringValue == "default-scheduler" })
        }
        XCTAssertEqual(ips.count, 6)
        XCTAssertEqual(perNode, ["kemu-node-1": 2, "kemu-node-2": 2, "kemu-node-3": 2])
        // No write loop: quiet once settled.
        c.settle()
        let rv = c.store.currentResourceVersion
        usleep(300_000)
        XCTAssertEqual(c.store.currentResourceVersion, rv)
    }

    func testSelectorCordonTaintsAndUnschedulable() throws {
        let c = try SimTestCluster()
        defer { c.stop() }
        try c.pod("sel", spec: ["nodeSelector": ["topology.kubernetes.io/zone": "zone-b"]])
        XCTAssertTrue(c.eventually { c.get("sel").map(PodFacts.nodeName) == "kemu-node-2" })
        try c.patchNode("kemu-node-1") { $0.withObject("spec") { $0["unschedulable"] = true } }
        try c.patchNode("kemu-node-3") { $0.withObject("spec") { $0["taints"] = [["key": "dedicated", "value": "x", "effect": "NoSchedule"]] } }
        c.settle(quiet: 0.1)
        for i in 0..<3 { try c.pod("q\(i)") }
        XCTAssertTrue(c.eventually { (0..<3).allSatisfy { c.get("q\($0)").map(PodFacts.nodeName) == "kemu-node-2" } })
        try c.pod("tol", spec: ["nodeSelector": ["kubernetes.io/hostname": "kemu-node-3"],
                                "tolerations": [["key": "dedicated", "operator": "Exists", "effect": "NoSchedule"]]])
        XCTAssertTrue(c.eventually { c.get("tol").map(PodFacts.nodeName) == "kemu-node-3" })
        // Fits nowhere: PodScheduled False, stays Pending; uncordoning schedules it.
        try c.pod("stuck", spec: ["nodeSelector": ["kubernetes.io/hostname": "kemu-node-1"]])
        XCTAssertTrue(c.eventually { c.get("stuck").flatMap { PodFacts.condition($0, "PodScheduled") } == "False" })
        let cond = (c.get("stuck")!["status"]?["conditions"].arrayValue ?? []).first { $0["type"].stringValue == "PodScheduled" }!
        XCTAssertEqual(cond["reason"].stringValue, "Unschedulable")
        XCTAssertTrue(cond["message"].stringValue?.hasPrefix("0/3 nodes are available:") ?? false, cond["message"].stringValue ?? "")
        XCTAssertEqual(PodFacts.phase(c.get("stuck")!), "Pending")
        try c.patchNode("kemu-node-1") { $0.withObject("spec") { $0["unschedulable"] = nil } }
        XCTAssertTrue(c.eventually { isRunningReady(c.get("stuck")) && c.get("stuck").map(PodFacts.nodeName) == "kemu-node-1" })
    }

    func testPodsOnOtherNodesAreLeftAlone() throws {
        let c = try SimTestCluster { $0.nodes = 0 }
        defer { c.stop() }
        _ = try c.storage.create(.node, namespace: "", body: ["apiVersion": "v1", "kind": "Node", "metadata": ["name": "real-1"],
                                                             "status": ["conditions": [["type": "Ready", "status": "True"]]]])
        try c.pod("bound", node: "real-1")
        try c.pod("ghost", node: "ghost")
        c.settle()
        XCTAssertEqual(PodFacts.phase(c.get("bound")!), "Pending")
        XCTAssertTrue(c.get("bound")!["status"]?["podIP"].isNull ?? true)
        XCTAssertEqual(PodFacts.phase(c.get("ghost")!), "Pending")
        // The scheduler may bind to a real Ready node, but the kubelet leaves the pod alone.
        try c.pod("free")
        XCTAssertTrue(c.eventually { c.get("free").map(PodFacts.nodeName) == "real-1" })
        XCTAssertTrue(c.eventually { c.get("free").flatMap { PodFacts.condition($0, "PodScheduled") } == "True" })
        c.settle()
        XCTAssertEqual(PodFacts.phase(c.get("free")!), "Pending")
        // A node without a Ready condition is not scheduled to.
        try c.patchNode("real-1", status: true) { $0["status"] = [:] }
        try c.pod("nowhere")
        XCTAssertTrue(c.eventually { c.get("nowhere").flatMap { PodFacts.condition($0, "PodScheduled") } == "False" })
    }

    func testUserCreatedSimulatedNodeGetsCIDRAndRunsPods() throws {
        let c = try SimTestCluster { $0.nodes = 1 }
        defer { c.stop() }
        _ = try c.storage.create(.node, namespace: "", body: [
            "apiVersion": "v1", "kind": "Node",
            "metadata": ["name": "mine", "annotations": ["kemu.dev/simulated": "true"]],
            "status": ["conditions": [["type": "Ready", "status": "True"]],
                       "addresses": [["type": "InternalIP", "address": "192.168.5.5"]]],
        ])
        XCTAssertTrue(c.eventually { c.node("mine")?["spec"]?["podCIDR"].stringValue == "10.244.1.0/24" })
        try c.pod("p", node: "mine")
        XCTAssertTrue(c.eventually { isRunningReady(c.get("p")) })
        XCTAssertEqual(PodFacts.ips(c.get("p")!), ["10.244.1.2"])
        XCTAssertEqual(c.get("p")!["status"]?["hostIP"].stringValue, "192.168.5.5")
    }

    func testBareSimulatedNodeRegistersAndRunsEarlierPods() throws {
        let c = try SimTestCluster { $0.nodes = 0 }
        defer { c.stop() }
        try c.pod("early", node: "bare")
        _ = try c.storage.create(.node, namespace: "", body: [
            "apiVersion": "v1", "kind": "Node", "metadata": ["name": "bare", "labels": ["kemu.dev/simulated": "true"]],
        ])
        XCTAssertTrue(c.eventually { c.node("bare").map { PodFacts.condition($0, "Ready") == "True" } ?? false })
        let st = c.node("bare")!["status"]!
        XCTAssertEqual(st["nodeInfo"]["kubeletVersion"].stringValue, "v1.32.4")
        XCTAssertEqual(st["addresses"][0]["address"].stringValue, "172.18.0.2")
        XCTAssertTrue(c.eventually { isRunningReady(c.get("early")) })
        XCTAssertEqual(PodFacts.ips(c.get("early")!), ["10.244.0.2"])
        XCTAssertEqual(c.get("early")!["status"]?["hostIP"].stringValue, "172.18.0.2")
    }

    func testDualStack() throws {
        let c = try SimTestCluster { $0.ipFamily = "dual"; $0.nodes = 2 }
        defer { c.stop() }
        XCTAssertEqual(c.node("kemu-node-2")?["spec"]?["podCIDRs"], ["10.244.1.0/24", "fd00:10:244:1::/64"])
        try c.pod("p", node: "kemu-node-2")
        XCTAssertTrue(c.eventually { isRunningReady(c.get("p")) })
        XCTAssertEqual(PodFacts.ips(c.get("p")!), ["10.244.1.2", "fd00:10:244:1::2"])
        XCTAssertEqual(c.get("p")!["status"]?["podIP"].stringValue, "10.244.1.2")
    }

    func testAnnotations() throws {
        let c = try SimTestCluster { $0.nodes = 1 }
        defer { c.stop() }
        try c.pod("hold", annotations: ["kemu.dev/hold-not-ready": "true"])
        try c.pod("fail", annotations: ["kemu.dev/fail": "true"])
        try c.pod("later", annotations: ["kemu.dev/ready-after": "0.5"])
        try c.pod("flip", annotations: ["kemu.dev/not-ready-after": "0.5"])
        XCTAssertTrue(c.eventually { c.get("hold").map(PodFacts.phase) == "Running" })
        XCTAssertFalse(PodFacts.isReady(c.get("hold")!))
        XCTAssertEqual(PodFacts.condition(c.get("hold")!, "ContainersReady"), "False")
        XCTAssertTrue(c.eventually { c.get("fail").map(PodFacts.phase) == "Failed" })
        let fs = c.get("fail")!["status"]!["containerStatuses"][0]
        XCTAssertEqual(fs["state"]["terminated"]["exitCode"].intValue, 1)
        XCTAssertEqual(fs["ready"].boolValue, false)
        XCTAssertTrue(c.eventually { c.get("later").map(PodFacts.phase) == "Running" })
        XCTAssertTrue(c.eventually { isRunningReady(c.get("flip")) })
        XCTAssertTrue(c.eventually(timeout: 3) { isRunningReady(c.get("later")) })
        XCTAssertTrue(c.eventually(timeout: 3) { c.get("flip").map(PodFacts.isReady) == false })
        XCTAssertEqual(PodFacts.phase(c.get("flip")!), "Running")
        try c.annotate("hold", "kemu.dev/hold-not-ready", nil)
        XCTAssertTrue(c.eventually { isRunningReady(c.get("hold")) })
        try c.annotate("flip", "kemu.dev/not-ready-after", nil)
        XCTAssertTrue(c.eventually { isRunningReady(c.get("flip")) })
    }

    func testPodReadyDelay() throws {
        let c = try SimTestCluster({ $0.nodes = 1; $0.podReadyDelay = 0.4 })
        defer { c.stop() }
        try c.pod("p")
        XCTAssertTrue(c.eventually { c.get("p").map(PodFacts.phase) == "Running" })
        XCTAssertFalse(PodFacts.isReady(c.get("p")!))
        XCTAssertTrue(c.eventually(timeout: 3) { isRunningReady(c.get("p")) })
    }

    func testGracefulDeletionOnSimulatedNode() throws {
        let c = try SimTestCluster({ $0.nodes = 1 }, graceScale: 0.02)
        defer { c.stop() }
        try c.pod("p", spec: ["terminationGracePeriodSeconds": 30])
        XCTAssertTrue(c.eventually { isRunningReady(c.get("p")) })
        _ = try c.storage.delete(.pod, namespace: "test", name: "p")
        // 30 × 0.02 = 0.6 s of Running, still Ready (serving), terminating; then gone.
        usleep(200_000)
        let p = c.get("p")
        XCTAssertNotNil(p?.deletionTimestamp)
        XCTAssertTrue(isRunningReady(p))
        XCTAssertTrue(c.eventually(timeout: 5) { c.get("p") == nil })
    }

    /// Needs ObjectStorage to keep a terminating pod (grace > 0, no finalizers) on a status write.
    func testNotReadyWhileTerminatingOption() throws {
        let c = try SimTestCluster({ $0.nodes = 1; $0.readyWhileTerminating = false }, graceScale: 0.02)
        defer { c.stop() }
        // Probe: a status write to a pod in its grace period must not complete the deletion.
        try c.pod("probe", node: "elsewhere", spec: ["terminationGracePeriodSeconds": 3000])
        _ = try c.storage.update(.pod, namespace: "test", name: "probe", subresource: "status") { cur in
            var p = cur; p.withObject("status") { $0["phase"] = "Running" }; return p
        }
        _ = try c.storage.delete(.pod, namespace: "test", name: "probe")
        _ = try? c.storage.update(.pod, namespace: "test", name: "probe", subresource: "status") { cur in
            var p = cur; p.withObject("status") { $0["message"] = "probe" }; return p
        }
        if c.get("probe") == nil { throw XCTSkip("ObjectStorage completes a graceful deletion on any write (see ClusterSimulator report)") }
        try c.pod("p", spec: ["terminationGracePeriodSeconds": 30])
        XCTAssertTrue(c.eventually { isRunningReady(c.get("p")) })
        _ = try c.storage.delete(.pod, namespace: "test", name: "p")
        XCTAssertTrue(c.eventually(timeout: 0.5) { c.get("p").map { !PodFacts.isReady($0) } ?? false })
        let p = c.get("p")
        XCTAssertNotNil(p?.deletionTimestamp)
        XCTAssertEqual(p.map(PodFacts.phase), "Running")
        XCTAssertTrue(c.eventually(timeout: 5) { c.get("p") == nil })
    }

    func testNotReadyNodeEvictsAndDeletedNodeTakesPods() throws {
        let c = try SimTestCluster({ $0.nodes = 2; $0.nodeNotReadyEvictionSeconds = 0.3 })
        defer { c.stop() }
        try c.pod("a", node: "kemu-node-1")
        try c.pod("b", node: "kemu-node-2")
        try c.pod("forever", node: "kemu-node-1", spec: ["tolerations": [["operator": "Exists"]]])
        XCTAssertTrue(c.eventually { ["a", "b", "forever"].allSatisfy { isRunningReady(c.get($0)) } })
        try c.setNodeReady("kemu-node-1", "Unknown")
        // Marked not ready at once, evicted after the timeout; the tolerating pod stays.
        XCTAssertTrue(c.eventually { c.get("a").map(PodFacts.isReady) == false })
        XCTAssertTrue(c.eventually(timeout: 5) { c.get("a") == nil })
        XCTAssertNotNil(c.get("forever"))
        try c.pod("next")
        XCTAssertTrue(c.eventually { c.get("next").map(PodFacts.nodeName) == "kemu-node-2" })
        _ = try c.storage.delete(.node, namespace: "", name: "kemu-node-2")
        XCTAssertTrue(c.eventually { c.get("b") == nil && c.get("next") == nil })
        XCTAssertNotNil(c.get("forever"))
    }

    func testManyPodsQuickly() throws {
        let c = try SimTestCluster { $0.nodes = 10 }
        defer { c.stop() }
        let start = Date()
        for i in 0..<1000 { try c.pod("m\(i)") }
        XCTAssertTrue(c.eventually(timeout: 60) { (0..<1000).allSatisfy { isRunningReady(c.get("m\($0)")) } })
        let perNode = Dictionary(grouping: (0..<1000).map { PodFacts.nodeName(c.get("m\($0)")!) }, by: { $0 }).mapValues(\.count)
        // Zones first (zone-a has 4 of the 10 nodes), then nodes, at most 110 pods a node.
        XCTAssertEqual(perNode.count, 10)
        XCTAssertTrue(perNode.values.allSatisfy { $0 <= 110 }, "\(perNode)")
        XCTAssertEqual(perNode["kemu-node-2"], 110)
        XCTAssertEqual(perNode["kemu-node-1"], 85)
        print("1000 pods scheduled and running in \(Date().timeIntervalSince(start))s")
    }
}
