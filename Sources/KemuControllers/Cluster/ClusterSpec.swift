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

/// A parsed CIDR (IPv4 or IPv6), with the address as a 128-bit value (hi, lo); IPv4 lives in `lo`.
struct CIDR: Sendable, Equatable {
    var isIPv6: Bool
    var hi: UInt64
    var lo: UInt64
    var prefix: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let p = Int(parts[1]) else { return nil }
        let addr = String(parts[0])
        if addr.contains(":") {
            guard p >= 0, p <= 128, let b = SliceIP.parseIPv6(addr) else { return nil }
            isIPv6 = true
            hi = b[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
            lo = b[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
        } else {
            guard p >= 0, p <= 32, let b = SliceIP.parseIPv4(Substring(addr)) else { return nil }
            isIPv6 = false
            hi = 0
            lo = b.reduce(0) { $0 << 8 | UInt64($1) }
        }
        prefix = p
        // Clear host bits.
        if isIPv6 {
            if prefix <= 64 { hi &= prefix == 0 ? 0 : ~UInt64(0) << UInt64(64 - prefix); lo = 0 } else if prefix < 128 { lo &= ~UInt64(0) << UInt64(128 - prefix) }
        } else {
            lo &= prefix == 0 ? 0 : (0xffff_ffff << UInt64(32 - prefix)) & 0xffff_ffff
        }
    }

    init(isIPv6: Bool, hi: UInt64, lo: UInt64, prefix: Int) { self.isIPv6 = isIPv6; self.hi = hi; self.lo = lo; self.prefix = prefix }

    var bits: Int { isIPv6 ? 128 : 32 }

    /// The `index`-th subnet of size `/mask`; nil when out of range (or mask is not longer than prefix).
    func subnet(_ index: Int, mask: Int) -> CIDR? {
        guard mask >= prefix, mask <= bits, index >= 0 else { return nil }
        let extra = mask - prefix
        if extra < 62, index >= (1 << extra) { return nil }
        let shift = bits - mask
        var n = self
        n.prefix = mask
        if isIPv6 {
            if shift >= 64 { n.hi = hi &+ (UInt64(index) << UInt64(shift - 64)) } else { n.lo = lo &+ (UInt64(index) << UInt64(shift)) }
        } else {
            n.lo = lo &+ (UInt64(index) << UInt64(shift))
        }
        return n
    }

    /// Which `/mask` subnet of this range `sub` is (the inverse of `subnet(_:mask:)`); nil when `sub` is not
    /// a `/mask` inside this range.
    func subnetIndex(of sub: CIDR, mask: Int) -> Int? {
        guard sub.isIPv6 == isIPv6, sub.prefix == mask, mask >= prefix, mask - prefix < 62,
              CIDR((sub.address(0) ?? "") + "/\(prefix)") == self else { return nil }
        let shift = bits - mask
        let shifted = shift >= 64 ? sub.hi >> UInt64(shift - 64) : shift == 0 ? sub.lo : sub.lo >> UInt64(shift) | sub.hi << UInt64(64 - shift)
        return Int(shifted & ((1 << UInt64(mask - prefix)) - 1))
    }

    /// The `offset`-th address inside this CIDR, as text; nil when out of range.
    func address(_ offset: Int) -> String? {
        let hostBits = bits - prefix
        if hostBits < 62, offset >= (1 << hostBits) { return nil }
        if isIPv6 {
            let l = lo &+ UInt64(offset)
            var b: [UInt8] = []
            for i in (0..<8).reversed() { b.append(UInt8((hi >> UInt64(i * 8)) & 0xff)) }
            for i in (0..<8).reversed() { b.append(UInt8((l >> UInt64(i * 8)) & 0xff)) }
            return SliceIP.formatIPv6(b)
        }
        let v = lo &+ UInt64(offset)
        return "\(v >> 24 & 0xff).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)"
    }

    /// The offset of `ip` inside this CIDR; nil when it lies outside.
    func offset(of ip: String) -> Int? {
        guard let host = CIDR(ip + (isIPv6 ? "/128" : "/32")), host.isIPv6 == isIPv6 else { return nil }
        let hostBits = bits - prefix
        if isIPv6 {
            guard hostBits <= 64 ? host.hi == hi : true else { return nil }
            guard host.lo >= lo else { return nil }
            let d = host.lo - lo
            return hostBits < 62 && d >= (1 << UInt64(hostBits)) ? nil : Int(truncatingIfNeeded: d)
        }
        guard host.lo >= lo, host.lo - lo < (1 << UInt64(hostBits)) else { return nil }
        return Int(host.lo - lo)
    }

    /// Usable pod addresses: offsets 2 … size-2 (network, gateway and broadcast left out), capped.
    var podCapacity: Int {
        let hostBits = bits - prefix
        if hostBits >= 20 { return 1 << 20 }
        return max(0, (1 << hostBits) - 3)
    }

    var text: String { (address(0) ?? "") + "/\(prefix)" }
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
