import KemuAPI

/// A node kemu creates at start: its description, its number (1-based; it picks the InternalIP) and its pod ranges.
struct PlannedNode {
    var spec: NodeSpec
    var index: Int
    var cidrs: [CIDR]
}

extension ClusterOptions {
    /// The nodes kemu creates at start: `nodeSpecs`, or `kemu-node-1…N` spread round-robin over `zones`.
    public var nodeList: [NodeSpec] {
        nodeSpecs ?? (0..<max(0, nodes)).map { NodeSpec(name: NodeBootstrap.name($0 + 1), zone: zone(ofNode: $0 + 1), origin: "nodes") }
    }

    /// The IP families (`ipv4`, `ipv6`) of the ranges `clusterCIDR` names, in its order.
    public var clusterCIDRFamilies: [String] {
        clusterCIDR.split(separator: ",").compactMap { CIDR(String($0).trimmingSpaces) }.map { $0.isIPv6 ? "ipv6" : "ipv4" }
    }

    /// Throws the first setting kemu cannot build the cluster from.
    public func validate() throws(ClusterProblem) { _ = try plan() }

    /// Every node with its pod ranges: a node's own `podCIDRs`, else the next node subnet no other node has.
    func plan() throws(ClusterProblem) -> [PlannedNode] {
        let ranges = try checkedPodRanges()
        try checkClusterWide()
        let specs = nodeList
        var names: [String: String] = [:]
        var taken: [Int: String] = [:]
        var own: [Int: [CIDR]] = [:]
        for (i, s) in specs.enumerated() {
            try check(s)
            if let other = names[s.name] { throw ClusterProblem(s.origin, "node name \"\(s.name)\" is used twice (also by \(other))") }
            names[s.name] = s.origin
            guard !s.podCIDRs.isEmpty else { continue }
            let (cidrs, idx) = try ownCIDRs(s, ranges)
            if let other = taken[idx] { throw ClusterProblem(s.origin, "podCIDR \(cidrs[0].text) is also the range of node \(other)") }
            taken[idx] = s.name
            own[i] = cidrs
        }
        var next = 0
        var out: [PlannedNode] = []
        for (i, s) in specs.enumerated() {
            var cidrs = own[i]
            if cidrs == nil {
                while taken[next] != nil { next += 1 }
                guard let c = nodeCIDRs(next) else {
                    let room = ranges.map { 1 << min(30, ($0.isIPv6 ? nodeMaskV6 : nodeMaskV4) - $0.prefix) }.min() ?? 0
                    throw ClusterProblem("nodes", "\(specs.count) nodes do not fit: the cluster CIDR \(ranges.map(\.text).joined(separator: ",")) "
                                         + "has room for \(room) node subnets")
                }
                taken[next] = s.name
                cidrs = c
            }
            let pods = s.pods ?? maxPodsPerNode
            if let c = cidrs!.min(by: { $0.podCapacity < $1.podCapacity }), c.podCapacity < pods {
                throw ClusterProblem(s.pods == nil ? "maxPodsPerNode" : s.origin + ".capacity.pods",
                                     "\(pods) pods do not fit in node \(s.name)'s \(c.text) (\(c.podCapacity) pod addresses)")
            }
            out.append(PlannedNode(spec: s, index: i + 1, cidrs: cidrs!))
        }
        return out
    }

    public static let ipFamilies = ["ipv4", "ipv6", "dual"]

    /// `podRanges()`, after checking that `clusterCIDR`, `ipFamily` and the node mask sizes make sense.
    func checkedPodRanges() throws(ClusterProblem) -> [CIDR] {
        guard Self.ipFamilies.contains(ipFamily) else {
            throw ClusterProblem("ipFamily", "\"\(ipFamily)\" is not one of: \(Self.ipFamilies.joined(separator: ", "))")
        }
        var seen: Set<Bool> = []
        for part in clusterCIDR.split(separator: ",", omittingEmptySubsequences: false) {
            let text = String(part).trimmingSpaces
            guard let c = CIDR(text) else { throw ClusterProblem("clusterCIDR", "\"\(text)\" is not a CIDR (address/prefix length)") }
            guard seen.insert(c.isIPv6).inserted else {
                throw ClusterProblem("clusterCIDR", "names two \(c.isIPv6 ? "IPv6" : "IPv4") ranges; give at most one per IP family")
            }
        }
        let ranges = podRanges()
        for r in ranges {
            let mask = r.isIPv6 ? nodeMaskV6 : nodeMaskV4
            guard mask >= r.prefix, mask <= r.bits else {
                throw ClusterProblem(r.isIPv6 ? "nodeCIDRMaskSizeIPv6" : "nodeCIDRMaskSizeIPv4",
                                     "/\(mask) node subnets do not fit in the cluster CIDR \(r.text); use a larger range or smaller node subnets")
            }
        }
        return ranges
    }

    func checkClusterWide() throws(ClusterProblem) {
        if let e = NameValidation.labelValue(region).first { throw ClusterProblem("region", "\"\(region)\": \(e)") }
        for (i, z) in zones.enumerated() {
            if z.isEmpty { throw ClusterProblem("zones[\(i)]", "a zone name must not be empty") }
            if let e = NameValidation.labelValue(z).first { throw ClusterProblem("zones[\(i)]", "\"\(z)\": \(e)") }
        }
        if podReadyDelay < 0 { throw ClusterProblem("podReadyDelay", "must not be negative") }
        try Self.checkPods(maxPodsPerNode, "maxPodsPerNode")
        try Self.checkQuantity(nodeCPU, "nodeCapacity.cpu")
        try Self.checkQuantity(nodeMemory, "nodeCapacity.memory")
    }

    /// Labels kemu sets from a node's name, zone and the cluster's region.
    static let derivedLabels = [ClusterLabels.hostname, ClusterLabels.zone, ClusterLabels.region, ClusterLabels.simulated,
                                "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region"]

    func check(_ s: NodeSpec) throws(ClusterProblem) {
        if let e = NameValidation.dns1123Subdomain(s.name).first { throw ClusterProblem(s.origin, "node name \"\(s.name)\": \(e)") }
        if !zones.isEmpty, !zones.contains(s.zone) {
            throw ClusterProblem(s.origin + ".zone", "zone \"\(s.zone)\" is not listed in zones (\(zones.joined(separator: ", ")))")
        }
        for (k, v) in s.labels.sorted(by: { $0.key < $1.key }) {
            let path = s.origin + ".labels[\"\(k)\"]"
            if Self.derivedLabels.contains(k) { throw ClusterProblem(path, "kemu sets this label from the node's name, zone and region") }
            if let e = NameValidation.qualifiedName(k).first { throw ClusterProblem(path, "key: \(e)") }
            if let e = NameValidation.labelValue(v).first { throw ClusterProblem(path, "value \"\(v)\": \(e)") }
        }
        for (i, t) in s.taints.enumerated() {
            let path = s.origin + ".taints[\(i)]"
            if let e = NameValidation.qualifiedName(t.key).first { throw ClusterProblem(path, "key \"\(t.key)\": \(e)") }
            if let e = NameValidation.labelValue(t.value).first { throw ClusterProblem(path, "value \"\(t.value)\": \(e)") }
            if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(t.effect) {
                throw ClusterProblem(path, "effect \"\(t.effect)\" is not one of: NoSchedule, PreferNoSchedule, NoExecute")
            }
        }
        if let cpu = s.cpu { try Self.checkQuantity(cpu, s.origin + ".capacity.cpu") }
        if let memory = s.memory { try Self.checkQuantity(memory, s.origin + ".capacity.memory") }
        if let pods = s.pods { try Self.checkPods(pods, s.origin + ".capacity.pods") }
    }

    static func checkPods(_ pods: Int, _ path: String) throws(ClusterProblem) {
        guard (1...250).contains(pods) else { throw ClusterProblem(path, "\(pods) pods: must be between 1 and 250") }
    }

    /// A resource quantity: a non-negative decimal number with an optional suffix (`500m`, `8`, `32Gi`, `1e3`).
    static func checkQuantity(_ q: String, _ path: String) throws(ClusterProblem) {
        var s = Substring(q)
        if s.first == "+" { s = s.dropFirst() }
        let number = s.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let suffix = s.dropFirst(number.count)
        let digits = number.filter { $0 != "." }
        let exponent = suffix.first.map { "eE".contains($0) } == true
            && suffix.dropFirst().drop { $0 == "+" || $0 == "-" }.allSatisfy { $0.isASCII && $0.isNumber }
            && suffix.dropFirst().contains { $0.isNumber }
        guard !digits.isEmpty, number.count - digits.count <= 1,
              ["", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].contains(String(suffix)) || exponent else {
            throw ClusterProblem(path, "\"\(q)\" is not a resource quantity (like 500m, 8, 32Gi)")
        }
    }

    /// A node's own pod ranges in family order, and their node subnet number.
    func ownCIDRs(_ s: NodeSpec, _ ranges: [CIDR]) throws(ClusterProblem) -> ([CIDR], Int) {
        var byFamily: [Bool: (CIDR, Int)] = [:]
        let families = ranges.map { $0.isIPv6 ? "IPv6" : "IPv4" }.joined(separator: " and ")
        for text in s.podCIDRs {
            guard let c = CIDR(text.trimmingSpaces) else { throw ClusterProblem(s.origin, "podCIDR \"\(text)\" is not a CIDR (address/prefix length)") }
            let family = c.isIPv6 ? "IPv6" : "IPv4"
            guard let r = ranges.first(where: { $0.isIPv6 == c.isIPv6 }) else {
                throw ClusterProblem(s.origin, "podCIDR \(text) is \(family), but the cluster's pods are \(families) (ipFamily \(ipFamily))")
            }
            let mask = c.isIPv6 ? nodeMaskV6 : nodeMaskV4
            guard c.prefix == mask else { throw ClusterProblem(s.origin, "podCIDR \(text) must be a /\(mask), the node subnet size") }
            guard let idx = r.subnetIndex(of: c, mask: mask) else {
                throw ClusterProblem(s.origin, "podCIDR \(text) is not inside the cluster CIDR \(r.text)")
            }
            guard byFamily[c.isIPv6] == nil else { throw ClusterProblem(s.origin, "podCIDRs names two \(family) ranges") }
            byFamily[c.isIPv6] = (c, idx)
        }
        let own = ranges.compactMap { byFamily[$0.isIPv6] }
        guard own.count == ranges.count else { throw ClusterProblem(s.origin, "podCIDRs needs one range per IP family in use: \(families)") }
        guard Set(own.map(\.1)).count == 1 else {
            throw ClusterProblem(s.origin, "podCIDRs must be the same node subnet number in each family (\(own.map { "\($0.0.text) is #\($0.1)" }.joined(separator: ", ")))")
        }
        return (own.map(\.0), own[0].1)
    }
}
