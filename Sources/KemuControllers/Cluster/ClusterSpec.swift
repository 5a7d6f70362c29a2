import KemuAPI

/// The simulated cluster kemu runs: how many nodes, in which zones, and the pod network.
/// (`--nodes`, `--zones`, `--cluster-cidr`, `--ip-family`, `--pod-ready-delay`, or `--cluster FILE.yaml`.)
public struct ClusterOptions: Sendable {
    /// Nodes kemu creates at start (`kemu-node-1` … `kemu-node-N`); 0 creates none. Unused when `nodeSpecs` is set.
    public var nodes = 3
    /// The nodes kemu creates at start, one by one (a cluster file's `nodes:`); nil: `nodes` nodes as above.
    public var nodeSpecs: [NodeSpec]?
    /// Zones the nodes are spread over, round-robin: node i gets `zones[(i-1) % zones.count]`.
    public var zones = ["zone-a", "zone-b", "zone-c"]
    /// Region label of every node kemu creates.
    public var region = "region-1"
    /// `--cluster-cidr`: one CIDR, or `v4,v6` for dual stack. Each node gets a /24 (IPv4) or /64 (IPv6) of it.
    public var clusterCIDR = "10.244.0.0/16"
    /// IPv6 pod range used with `ipFamily == "dual"` when `clusterCIDR` names no IPv6 range.
    public var clusterCIDRv6 = "fd00:10:244::/56"
    /// `ipv4`, `ipv6` or `dual` (IPv4 primary).
    public var ipFamily = "ipv4"
    /// `--node-cidr-mask-size` for IPv4 (24) and IPv6 (64).
    public var nodeMaskV4 = 24
    public var nodeMaskV6 = 64
    /// `--pod-ready-delay`, seconds between a pod starting and its Ready condition turning True.
    public var podReadyDelay = 0.0
    /// A node whose Ready condition is not True for this long has its pods evicted (taint-based eviction,
    /// with the pods' `tolerationSeconds` replaced by this short timeout).
    public var nodeNotReadyEvictionSeconds = 5.0
    /// The scheduler binds pods without `spec.nodeName` (`--no-scheduler` turns it off: such pods stay Pending
    /// with no status change, as in a cluster without kube-scheduler).
    public var schedulerEnabled = true
    /// A terminating pod on a simulated node keeps its Ready condition during its grace period (upstream:
    /// readiness probes go on, so its endpoint is `serving: true, terminating: true`); false turns it not
    /// ready as soon as deletion starts.
    public var readyWhileTerminating = true
    /// `status.capacity.pods` of kemu's nodes; the scheduler places at most this many pods on a node.
    public var maxPodsPerNode = 110
    public var nodeCPU = "8"
    public var nodeMemory = "32Gi"
    public var instanceType = "kemu.standard"
    public var kubeletVersion = "v1.32.4"
    public init() {}
}

/// One node kemu creates at start, as a cluster file describes it.
public struct NodeSpec: Sendable, Equatable {
    public var name: String
    public var zone: String
    /// Added to kemu's kubelet-style labels (replacing those with the same key).
    public var labels: [String: String] = [:]
    public var taints: [NodeTaint] = []
    /// Capacity (and allocatable); nil: the cluster's `nodeCPU`, `nodeMemory`, `maxPodsPerNode`.
    public var cpu: String?
    public var memory: String?
    public var pods: Int?
    /// `spec.unschedulable` (cordoned).
    public var unschedulable = false
    /// Pod ranges, one per IP family in use; empty: the next free node subnet of the cluster CIDR.
    public var podCIDRs: [String] = []
    /// Where the node is described (`nodes[2]`), for messages.
    public var origin: String

    public init(name: String, zone: String, origin: String) {
        self.name = name
        self.zone = zone
        self.origin = origin
    }
}

public struct NodeTaint: Sendable, Equatable {
    public var key: String
    public var value: String
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    public var effect: String

    public init(key: String, value: String = "", effect: String) {
        self.key = key
        self.value = value
        self.effect = effect
    }
}

/// A setting of `ClusterOptions` kemu cannot run with: `path` names it as a cluster file would
/// (`clusterCIDR`, `nodes[2].podCIDRs`), `message` says what is wrong.
public struct ClusterProblem: Error, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Labels and annotations of the simulation.
public enum ClusterLabels {
    /// On a Node (label or annotation): kemu's kubelet runs its pods.
    public static let simulated = "kemu.dev/simulated"
    public static let zone = "topology.kubernetes.io/zone"
    public static let region = "topology.kubernetes.io/region"
    public static let hostname = "kubernetes.io/hostname"
    public static let instanceType = "node.kubernetes.io/instance-type"

    public static func isSimulated(_ node: JSONObject) -> Bool {
        node.labels[simulated] == "true" || node.annotations[simulated] == "true"
    }
}

extension ClusterOptions {
    /// The pod ranges in family order (primary first).
    func podRanges() -> [CIDR] {
        let given = clusterCIDR.split(separator: ",").compactMap { CIDR(String($0).trimmingSpaces) }
        let v4 = given.first { !$0.isIPv6 } ?? CIDR("10.244.0.0/16")!
        let v6 = given.first { $0.isIPv6 } ?? CIDR(clusterCIDRv6) ?? CIDR("fd00:10:244::/56")!
        switch ipFamily.lowercased() {
        case "ipv6": return [v6]
        case "dual", "dualstack", "ipv4,ipv6": return [v4, v6]
        case "ipv6,ipv4": return [v6, v4]
        default: return [v4]
        }
    }

    /// The node subnets (one per family) for node subnet index `index`.
    func nodeCIDRs(_ index: Int) -> [CIDR]? {
        var out: [CIDR] = []
        for r in podRanges() {
            guard let s = r.subnet(index, mask: r.isIPv6 ? nodeMaskV6 : nodeMaskV4) else { return nil }
            out.append(s)
        }
        return out
    }

    /// The zone of kemu node number `i` (1-based).
    func zone(ofNode i: Int) -> String { zones.isEmpty ? "zone-a" : zones[(i - 1) % zones.count] }

    /// The InternalIP of kemu node number `i` (1-based): 172.18.0.2, 172.18.0.3, …
    static func nodeAddress(_ i: Int) -> String {
        let v = 0xAC12_0000 + UInt32(i + 1)
        return "\(v >> 24 & 0xff).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)"
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
