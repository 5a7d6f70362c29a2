import KemuAPI

/// Hands out pod addresses from one node's podCIDRs (one per IP family). A pod gets the same
/// host offset in every family, so a dual-stack pod is `10.244.1.5` and `fd00:10:244:1::5`.
/// Offsets start at 2 (`.1` is the node's bridge/gateway, as with kindnet); freed offsets are reused.
struct PodIPAllocator: Sendable {
    let cidrs: [CIDR]
    private var next = 2
    private var free: [Int] = []
    private var used: Set<Int> = []

    init(cidrs: [CIDR]) { self.cidrs = cidrs }

    var capacity: Int { cidrs.map(\.podCapacity).min() ?? 0 }
    var allocatedCount: Int { used.count }

    /// The next free offset's addresses, or nil when the node's range is exhausted.
    mutating func allocate() -> (offset: Int, ips: [String])? {
        var off: Int?
        while let f = free.popLast() { if !used.contains(f) { off = f; break } }
        if off == nil {
            while used.contains(next) { next += 1 }
            guard next < capacity + 2 else { return nil }
            off = next
            next += 1
        }
        guard let o = off else { return nil }
        used.insert(o)
        return (o, ips(o))
    }

    /// Marks an address seen on an existing pod as taken; returns its offset when it is in this node's range.
    @discardableResult
    mutating func reserve(_ ip: String) -> Int? {
        guard let addr = IPAddress(sloppy: ip) else { return nil }
        for c in cidrs {
            if let o = c.offset(of: addr).flatMap(Int.init(exactly:)) { used.insert(o); return o }
        }
        return nil
    }

    mutating func release(_ offset: Int) {
        if used.remove(offset) != nil { free.append(offset) }
    }

    func ips(_ offset: Int) -> [String] { cidrs.compactMap { $0.address(at: UInt64(offset))?.familyText } }
}

extension CIDR {
    /// Usable pod addresses: offsets 2 … size-2 (network, gateway and broadcast left out), capped.
    var podCapacity: Int {
        let hostBits = bits - prefix
        if hostBits >= 20 { return 1 << 20 }
        return max(0, (1 << hostBits) - 3)
    }
}
