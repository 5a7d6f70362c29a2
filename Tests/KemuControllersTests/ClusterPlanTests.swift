import XCTest
@testable import KemuControllers
import KemuAPI

/// `ClusterOptions.plan()`: the nodes kemu creates, their pod ranges, and the settings it refuses.
final class ClusterPlanTests: XCTestCase {
    func spec(_ name: String, zone: String = "zone-a", _ configure: (inout NodeSpec) -> Void = { _ in }) -> NodeSpec {
        var s = NodeSpec(name: name, zone: zone, origin: "nodes[\(name)]")
        configure(&s)
        return s
    }

    func problem(_ configure: (inout ClusterOptions) -> Void) -> ClusterProblem? {
        var o = ClusterOptions()
        configure(&o)
        do { try o.validate() } catch { return error }
        return nil
    }

    func testDefaultPlanIsTheFlagsCluster() throws {
        let plan = try ClusterOptions().plan()
        XCTAssertEqual(plan.map(\.spec.name), ["kemu-node-1", "kemu-node-2", "kemu-node-3"])
        XCTAssertEqual(plan.map(\.spec.zone), ["zone-a", "zone-b", "zone-c"])
        XCTAssertEqual(plan.map { $0.cidrs.map(\.text) }, [["10.244.0.0/24"], ["10.244.1.0/24"], ["10.244.2.0/24"]])
        XCTAssertEqual(plan.map(\.index), [1, 2, 3])
    }

    func testOwnPodCIDRsAreSkippedByTheOthers() throws {
        var o = ClusterOptions()
        o.ipFamily = "dual"
        o.nodeSpecs = [spec("a"), spec("b") { $0.podCIDRs = ["fd00:10:244::/64", "10.244.0.0/24"] }, spec("c")]
        let plan = try o.plan()
        XCTAssertEqual(plan.map { $0.cidrs.map(\.text) }, [["10.244.1.0/24", "fd00:10:244:1::/64"],
                                                          ["10.244.0.0/24", "fd00:10:244::/64"],
                                                          ["10.244.2.0/24", "fd00:10:244:2::/64"]])
    }

    func testProblems() {
        XCTAssertEqual(problem { $0.clusterCIDR = "10.244.0.0/16,10.1.0.0/16" }?.path, "clusterCIDR")
        XCTAssertEqual(problem { $0.clusterCIDR = "10.244.0.0" }, ClusterProblem("clusterCIDR", "\"10.244.0.0\" is not a CIDR (address/prefix length)"))
        XCTAssertEqual(problem { $0.ipFamily = "both" }?.path, "ipFamily")
        XCTAssertEqual(problem { $0.nodeMaskV4 = 12 }?.path, "nodeCIDRMaskSizeIPv4")
        XCTAssertEqual(problem { $0.nodes = 257 }?.message,
                       "257 nodes do not fit: the cluster CIDR 10.244.0.0/16 has room for 256 node subnets")
        XCTAssertNil(problem { $0.nodes = 256 })
        XCTAssertEqual(problem { $0.nodeMaskV4 = 28 }?.path, "maxPodsPerNode")
        XCTAssertEqual(problem { $0.nodeSpecs = [spec("a"), spec("a")] }, ClusterProblem("nodes[a]", "node name \"a\" is used twice (also by nodes[a])"))
        XCTAssertEqual(problem { $0.nodeSpecs = [spec("a", zone: "zone-z")] },
                       ClusterProblem("nodes[a].zone", "zone \"zone-z\" is not listed in zones (zone-a, zone-b, zone-c)"))
        XCTAssertEqual(problem { $0.nodeSpecs = [spec("a") { $0.labels = ["topology.kubernetes.io/zone": "x"] }] }?.path,
                       "nodes[a].labels[\"topology.kubernetes.io/zone\"]")
        XCTAssertEqual(problem { $0.nodeSpecs = [spec("a") { $0.labels = ["a/b/c": "x"] }] }?.path, "nodes[a].labels[\"a/b/c\"]")
        XCTAssertEqual(problem { $0.nodeSpecs = [spec("a") { $0.taints = [NodeTaint(key: "k", effect: "Never")] }] }?.path, "nodes[a].taints[0]")
        XCTAssertEqual(problem { $0.nodeSpecs = [spec("a") { $0.memory = "32 GB" }] }?.path, "nodes[a].capacity.memory")
        XCTAssertEqual(problem { $0.nodeSpecs = [spec("a") { $0.pods = 0 }] }?.path, "nodes[a].capacity.pods")
        XCTAssertEqual(problem { $0.nodeSpecs = [spec("a") { $0.podCIDRs = ["10.244.1.0/25"] }] }?.message,
                       "podCIDR 10.244.1.0/25 must be a /24, the node subnet size")
        XCTAssertEqual(problem { $0.nodeSpecs = [spec("a") { $0.podCIDRs = ["fd00::/64"] }] }?.message,
                       "podCIDR fd00::/64 is IPv6, but the cluster's pods are IPv4 (ipFamily ipv4)")
        XCTAssertEqual(problem { $0.nodeSpecs = [spec("a") { $0.podCIDRs = ["10.244.1.0/24"] }, spec("b") { $0.podCIDRs = ["10.244.1.0/24"] }] }?.message,
                       "podCIDR 10.244.1.0/24 is also the range of node a")
        XCTAssertEqual(problem { $0.ipFamily = "dual"; $0.nodeSpecs = [spec("a") { $0.podCIDRs = ["10.244.1.0/24"] }] }?.message,
                       "podCIDRs needs one range per IP family in use: IPv4 and IPv6")
        XCTAssertEqual(problem { $0.ipFamily = "dual"; $0.nodeSpecs = [spec("a") { $0.podCIDRs = ["10.244.1.0/24", "fd00:10:244:2::/64"] }] }?.message,
                       "podCIDRs must be the same node subnet number in each family (10.244.1.0/24 is #1, fd00:10:244:2::/64 is #2)")
    }

    func testQuantities() {
        for q in ["8", "500m", "32Gi", "1.5", ".5", "1e3", "2E", "+4k"] {
            XCTAssertNoThrow(try ClusterOptions.checkQuantity(q, "q"), q)
        }
        for q in ["", "Gi", "1.2.3", "32GB", "-1", "1e", "lots"] {
            XCTAssertThrowsError(try ClusterOptions.checkQuantity(q, "q"), q)
        }
    }

    func testBootstrapCreatesDescribedNodes() throws {
        let c = try SimTestCluster { o in
            o.nodeSpecs = [
                spec("gpu-1", zone: "zone-b") {
                    $0.labels = ["pool": "gpu", "node.kubernetes.io/instance-type": "big"]
                    $0.taints = [NodeTaint(key: "gpu", value: "true", effect: "NoSchedule"), NodeTaint(key: "x", effect: "NoExecute")]
                    $0.cpu = "32"; $0.memory = "128Gi"; $0.pods = 7
                    $0.unschedulable = true
                    $0.podCIDRs = ["10.244.9.0/24"]
                },
                spec("plain"),
            ]
        }
        defer { c.stop() }
        let gpu = try XCTUnwrap(c.node("gpu-1"))
        XCTAssertEqual(gpu.labels["pool"], "gpu")
        XCTAssertEqual(gpu.labels["node.kubernetes.io/instance-type"], "big")
        XCTAssertEqual(gpu.labels["topology.kubernetes.io/zone"], "zone-b")
        XCTAssertEqual(gpu["spec"]?["taints"], [["key": "gpu", "effect": "NoSchedule", "value": "true"], ["key": "x", "effect": "NoExecute"]])
        XCTAssertEqual(gpu["spec"]?["unschedulable"], true)
        XCTAssertEqual(gpu["spec"]?["podCIDRs"], ["10.244.9.0/24"])
        XCTAssertEqual(gpu["status"]?["capacity"]["cpu"], "32")
        XCTAssertEqual(gpu["status"]?["allocatable"]["memory"], "128Gi")
        XCTAssertEqual(gpu["status"]?["capacity"]["pods"], "7")
        let plain = try XCTUnwrap(c.node("plain"))
        XCTAssertEqual(plain["spec"]?["podCIDRs"], ["10.244.0.0/24"])
        XCTAssertEqual(plain["spec"]?["taints"], .null)
        XCTAssertEqual(plain["status"]?["capacity"]["pods"], "110")
        XCTAssertEqual(plain["status"]?["addresses"][0]["address"], "172.18.0.3")
        // A node created later gets a subnet neither of them has.
        _ = try c.storage.create(.node, namespace: "", body: ["apiVersion": "v1", "kind": "Node",
                                                               "metadata": ["name": "later", "labels": ["kemu.dev/simulated": "true"]]])
        XCTAssertTrue(c.eventually { c.node("later")?["spec"]?["podCIDR"].stringValue == "10.244.10.0/24" })
    }
}
