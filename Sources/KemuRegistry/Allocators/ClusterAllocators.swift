import KemuAPI
import Synchronization

/// Hands out Service ClusterIPs from the service CIDRs and NodePorts from 30000–32767,
/// the way the API server's allocators do (first free address after the last one given).
public final class ClusterAllocators: StrategyContext {
    struct Range {
        var base: IPAddress    // the range's address as written (host bits kept)
        var size: UInt64       // number of usable offsets
        var next: UInt64 = 10  // the first addresses are kept for well-known services
        var used: Set<UInt64> = []
    }

    struct State {
        var v4: Range
        var v6: Range
        var nodePortsUsed: Set<Int> = []
        var nextNodePort = 30000
    }

    let state: Mutex<State>
    public let serviceCIDRv4: String
    public let serviceCIDRv6: String

    /// CIDRs such as `10.96.0.0/12` and `fd00:10:96::/112`.
    public init(serviceCIDRv4: String = "10.96.0.0/12", serviceCIDRv6: String = "fd00:10:96::/112") {
        self.serviceCIDRv4 = serviceCIDRv4
        self.serviceCIDRv6 = serviceCIDRv6
        let r4 = Self.parseCIDR(serviceCIDRv4) ?? Range(base: IPAddress(v4: 0x0a60_0000), size: 1 << 20)
        let r6 = Self.parseCIDR(serviceCIDRv6) ?? Range(base: IPAddress(v6: 0xfd00_0010_0096 << 80), size: 1 << 16)
        state = Mutex(State(v4: r4, v6: r6))
    }

    /// The address is parsed strictly and kept as written: the first ClusterIP is that address + 1.
    static func parseCIDR(_ cidr: String) -> Range? {
        guard let (ip, network) = CIDR.parse(cidr, sloppy: false) else { return nil }
        let hostBits = network.bits - network.prefix
        guard hostBits > 1 else { return nil }
        let size: UInt64 = hostBits >= 63 ? UInt64(1) << 62 : (UInt64(1) << UInt64(hostBits)) - 1
        return Range(base: ip, size: size)
    }

    /// The first address of the IPv4 service range (the `kubernetes` Service's ClusterIP).
    public var firstServiceIPv4: String {
        state.withLock { $0.v4.base.adding(1).familyText }
    }

    public func allocateClusterIP(family: String) -> String? {
        state.withLock { s in
            func take(_ r: inout Range) -> String? {
                for _ in 0..<min(r.size, 1 << 20) {
                    let off = r.next
                    r.next = r.next + 1 >= r.size ? 1 : r.next + 1
                    if !r.used.contains(off) {
                        r.used.insert(off)
                        return r.base.adding(off).familyText
                    }
                }
                return nil
            }
            return family == "IPv6" ? take(&s.v6) : take(&s.v4)
        }
    }

    public func reserveClusterIP(_ ip: String) -> Bool {
        guard let addr = IPAddress(ip) else { return false }
        return state.withLock { s in
            func reserve(_ r: inout Range) -> Bool {
                guard let off = addr.offset(from: r.base), off > 0, off < r.size else { return false }
                return r.used.insert(off).inserted
            }
            return addr.is4 ? reserve(&s.v4) : reserve(&s.v6)
        }
    }

    public func releaseClusterIP(_ ip: String) {
        guard let addr = IPAddress(ip) else { return }
        state.withLock { s in
            if addr.is4, let off = addr.offset(from: s.v4.base) { s.v4.used.remove(off) }
            if addr.is6, let off = addr.offset(from: s.v6.base) { s.v6.used.remove(off) }
        }
    }

    public func allocateNodePort() -> Int? {
        state.withLock { s in
            for _ in 0..<2768 {
                let p = s.nextNodePort
                s.nextNodePort = p >= 32767 ? 30000 : p + 1
                if s.nodePortsUsed.insert(p).inserted { return p }
            }
            return nil
        }
    }

    public static let nodePortRange = 30000...32767

    public func reserveNodePort(_ port: Int) -> Bool {
        guard Self.nodePortRange.contains(port) else { return false }
        return state.withLock { $0.nodePortsUsed.insert(port).inserted }
    }

    public func releaseNodePort(_ port: Int) { _ = state.withLock { $0.nodePortsUsed.remove(port) } }
}
