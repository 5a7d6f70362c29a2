import Foundation
import XCTest
@testable import KemuClusterFile
import KemuControllers

final class ClusterFileTests: XCTestCase {
    func parse(_ yaml: String, flags: Set<ClusterFile.Setting> = [], _ configure: (inout ClusterOptions) -> Void = { _ in }) throws(ClusterFileError) -> ClusterOptions {
        var defaults = ClusterOptions()
        configure(&defaults)
        return try ClusterFile.parse(yaml, file: "c.yaml", defaults: defaults, flagsGiven: flags)
    }

    /// The error a file gives, as kemu prints it.
    func error(_ yaml: String, flags: Set<ClusterFile.Setting> = [], _ configure: (inout ClusterOptions) -> Void = { _ in }) -> String {
        do {
            _ = try parse(yaml, flags: flags, configure)
            return "no error"
        } catch {
            return error.description
        }
    }

    func testExampleFile() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/cluster.yaml").standardized.path
        let o = try ClusterFile.load(path: path, defaults: ClusterOptions())
        XCTAssertEqual(o.clusterCIDR, "10.244.0.0/16,fd00:10:244::/56")
        XCTAssertEqual(o.ipFamily, "dual")
        XCTAssertEqual(o.region, "eu-west-1")
        XCTAssertEqual(o.podReadyDelay, 0.5)
        XCTAssertEqual(o.zones, ["eu-west-1a", "eu-west-1b", "eu-west-1c"])
        let nodes = try XCTUnwrap(o.nodeSpecs)
        XCTAssertEqual(nodes.map(\.name), ["general-1", "general-2", "general-3", "gpu-1", "spare-1"])
        XCTAssertEqual(nodes.map(\.zone), ["eu-west-1a", "eu-west-1b", "eu-west-1c", "eu-west-1b", "eu-west-1c"])
        XCTAssertEqual(nodes[0].labels, ["node-pool": "general"])
        XCTAssertEqual(nodes[3].taints, [NodeTaint(key: "nvidia.com/gpu", value: "true", effect: "NoSchedule")])
        XCTAssertEqual(nodes[3].cpu, "32")
        XCTAssertEqual(nodes[3].pods, 50)
        XCTAssertEqual(nodes[3].podCIDRs, ["10.244.100.0/24", "fd00:10:244:64::/64"])
        XCTAssertTrue(nodes[4].unschedulable)
        XCTAssertEqual(nodes[4].taints, [NodeTaint(key: "maintenance", effect: "NoExecute")])
    }

    func testEmptyFileKeepsTheFlags() throws {
        let o = try parse("# nothing\n") { $0.nodes = 5 }
        XCTAssertEqual(o.nodes, 5)
        XCTAssertNil(o.nodeSpecs)
    }

    func testNodeCountsGroupsAndNames() throws {
        XCTAssertEqual(try parse("nodes: 4").nodeSpecs?.map(\.zone), ["zone-a", "zone-b", "zone-c", "zone-a"])
        let o = try parse("""
            zones: [a, b]
            nodes:
              - count: 2
              - {name: kemu-node-2, zone: a}
              - count: 2
                zone: b
                namePrefix: pool
              - {}
            """)
        XCTAssertEqual(o.nodeSpecs?.map(\.name), ["kemu-node-1", "kemu-node-3", "kemu-node-2", "pool-1", "pool-2", "kemu-node-4"])
        XCTAssertEqual(o.nodeSpecs?.map(\.zone), ["a", "b", "a", "b", "b", "a"])
        XCTAssertEqual(o.nodeSpecs?.map(\.origin), ["nodes[0]", "nodes[0]", "nodes[1]", "nodes[2]", "nodes[2]", "nodes[3]"])
    }

    func testFlagsAndFilePrecedence() throws {
        // A flag fills in what the file leaves out.
        let o = try parse("zones: [x, y]", flags: [.nodes]) { $0.nodes = 4 }
        XCTAssertEqual(o.nodeList.map(\.zone), ["x", "y", "x", "y"])
        // Both stating a setting is an error.
        XCTAssertEqual(error("zones: [x, y]", flags: [.zones]),
                       "cluster file c.yaml, line 1, column 8: zones: --zones was given too; state this setting either in the file or on the command line")
        XCTAssertTrue(error("nodeCapacity: {pods: 20}", flags: [.maxPodsPerNode]).contains("--max-pods-per-node was given too"))
        XCTAssertTrue(error("maxPodsPerNode: 20\nnodeCapacity: {pods: 20}").hasSuffix("nodeCapacity.pods: maxPodsPerNode says the same; give one of them"))
    }

    func testIPFamilyFollowsClusterCIDR() throws {
        XCTAssertEqual(try parse("clusterCIDR: fd00:1::/48").ipFamily, "ipv6")
        XCTAssertEqual(try parse("clusterCIDR: 10.1.0.0/16, fd00:1::/48").ipFamily, "dual")
        XCTAssertEqual(try parse("clusterCIDR: [10.1.0.0/16]\nipFamily: dual").clusterCIDR, "10.1.0.0/16")
        XCTAssertEqual(error("clusterCIDR: fd00:1::/48\nipFamily: ipv4"),
                       "cluster file c.yaml, line 1, column 14: clusterCIDR: names an IPv6 range, but ipFamily is ipv4")
        XCTAssertTrue(error("clusterCIDR: fd00:1::/48", flags: [.ipFamily]) { $0.ipFamily = "ipv4" }.hasSuffix("but --ip-family is ipv4"))
    }

    func testErrorsNameLineKeyPathAndProblem() {
        let cases: [(String, String)] = [
            ("zones: [a, b\nnodes: 3", "line 2, column 6: not valid YAML: did not find expected ',' or ']' (while parsing a flow sequence, from line 1)"),
            ("zones: [a]\nzones: [b]", "line 1, column 1: a mapping repeats the key \"zones\""),
            ("nodes:\n  - name: a\n    zonee: b", "line 3, column 5: nodes[0].zonee: unknown key \"zonee\"; known keys here: name, namePrefix, count, zone, labels, taints, capacity, unschedulable, podCIDR, podCIDRs"),
            ("- a", "line 1, column 1: must be a mapping of apiVersion, kind, clusterCIDR"),
            ("clusterCIDR: 10.244.0.0/33", "line 1, column 14: clusterCIDR: \"10.244.0.0/33\" is not a CIDR (address/prefix length)"),
            ("clusterCIDR: [10.1.0.0/16, 10.2.0.0/16]", "clusterCIDR: names two IPv4 ranges; give at most one per IP family"),
            ("ipFamily: ipv5", "line 1, column 11: ipFamily: \"ipv5\" is not one of: ipv4, ipv6, dual"),
            ("zones: []", "zones: must list at least one zone"),
            ("zones: {a: 1}", "zones: must be a single value, not a mapping"),
            ("nodes: many", "line 1, column 8: nodes: must be a number of nodes or a list of nodes and node groups"),
            ("nodes: [{name: a}, {name: a}]", "line 1, column 20: nodes[1]: node name \"a\" is used twice (also by nodes[0])"),
            ("zones: [a]\nnodes:\n  - {name: x, zone: b}", "line 3, column 21: nodes[0].zone: zone \"b\" is not listed in zones (a)"),
            ("nodes: [{count: 2, name: x}]", "nodes[0].name: a group (count) names its nodes with namePrefix"),
            ("nodes: [{namePrefix: x}]", "nodes[0].namePrefix: names the nodes of a group; add count, or give this node a name"),
            ("nodes: [{count: -1}]", "nodes[0].count: -1: must be between 0 and 100000"),
            ("nodes: [{count: 2, podCIDR: 10.244.1.0/24}]", "nodes[0].podCIDR: a group's nodes get the next free node subnets; give podCIDR to single nodes"),
            ("nodes: [{name: x, podCIDR: 10.244.1.0/24, podCIDRs: [10.244.1.0/24]}]", "nodes[0].podCIDRs: give podCIDR or podCIDRs, not both"),
            ("nodes: [{name: x, podCIDR: 10.9.1.0/24}]", "nodes[0]: podCIDR 10.9.1.0/24 is not inside the cluster CIDR 10.244.0.0/16"),
            ("nodes: [{name: x, unschedulable: maybe}]", "nodes[0].unschedulable: must be true or false"),
            ("nodes: [{name: x, labels: [a]}]", "nodes[0].labels: must be a mapping of label keys to values"),
            ("nodes:\n- name: x\n  labels:\n    gpu:", "line 4, column 9: nodes[0].labels[\"gpu\"]: needs a value"),
            ("nodes:\n- name: x\n  labels: {kemu.dev/simulated: \"false\"}", "line 3, column 32: nodes[0].labels[\"kemu.dev/simulated\"]: kemu sets this label"),
            ("nodes: [{name: x, taints: [gpu]}]", "nodes[0].taints[0]: \"gpu\" is not key[=value]:Effect"),
            ("nodes: [{name: x, taints: [\"gpu=yes:Sometimes\"]}]", "nodes[0].taints[0]: effect \"Sometimes\" is not one of: NoSchedule, PreferNoSchedule, NoExecute"),
            ("nodes: [{name: x, taints: [{key: gpu}]}]", "nodes[0].taints[0]: needs an effect (NoSchedule, PreferNoSchedule or NoExecute)"),
            ("nodes: [{name: x, capacity: {cpu: lots}}]", "line 1, column 35: nodes[0].capacity.cpu: \"lots\" is not a resource quantity (like 500m, 8, 32Gi)"),
            ("nodes: [{name: x, capacity: {pods: \"20\"}}]", "nodes[0].capacity.pods: must be a whole number"),
            ("nodes: [{name: x, capacity: {gpus: 2}}]", "nodes[0].capacity.gpus: unknown key \"gpus\"; known keys here: cpu, memory, pods"),
            ("podReadyDelay: soon", "podReadyDelay: must be a number of seconds"),
            ("podReadyDelay: -1", "podReadyDelay: must not be negative"),
            ("maxPodsPerNode: 500", "maxPodsPerNode: 500: must be between 1 and 250"),
            ("clusterCIDR: 10.244.0.0/30", "nodeCIDRMaskSizeIPv4: /24 node subnets do not fit in the cluster CIDR 10.244.0.0/30"),
            ("clusterCIDR: 10.244.0.0/22\nnodes: 5", "line 2, column 8: nodes: 5 nodes do not fit: the cluster CIDR 10.244.0.0/22 has room for 4 node subnets"),
            ("region: \"eu west\"", "region: \"eu west\": a valid label"),
            ("apiVersion: v1", "apiVersion: must be kemu.dev/v1alpha1 (or left out)"),
            ("kind: Node", "kind: must be Cluster (or left out)"),
        ]
        for (yaml, expected) in cases {
            let got = error(yaml)
            XCTAssertTrue(got.hasPrefix("cluster file c.yaml"), got)
            XCTAssertTrue(got.contains(expected), "\(yaml)\n  got:      \(got)\n  expected: \(expected)")
        }
    }

    func testUnreadableFiles() {
        func loadError(_ path: String) -> String {
            do { _ = try ClusterFile.load(path: path, defaults: ClusterOptions()); return "no error" } catch { return error.description }
        }
        XCTAssertEqual(loadError("/nonexistent/cluster.yaml"), "cluster file /nonexistent/cluster.yaml: no such file")
        XCTAssertEqual(loadError(NSTemporaryDirectory()), "cluster file \(NSTemporaryDirectory()): is a directory")
    }
}
