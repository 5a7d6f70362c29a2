import KemuAPI
import Synchronization

/// Hands out Service ClusterIPs from the service CIDRs and NodePorts from 30000–32767,
/// the way the API server's allocators do (first free address after the last one given).
public final class ClusterAllocators: StrategyContext {
    struct Range {
        var base: [UInt8]      // network address bytes
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
        let r4 = Self.parseCIDR(serviceCIDRv4) ?? Range(base: [10, 96, 0, 0], size: 1 << 20)
        let r6 = Self.parseCIDR(serviceCIDRv6) ?? Range(base: [0xfd, 0, 0, 0x10, 0, 0x96] + Array(repeating: 0, count: 10), size: 1 << 16)
        state = Mutex(State(v4: r4, v6: r6))
    }

    static func parseCIDR(_ cidr: String) -> Range? {
        let parts = cidr.split(separator: "/")
        guard parts.count == 2, let bits = Int(parts[1]), let bytes = IPAddress.parse(String(parts[0])) else { return nil }
        let hostBits = bytes.count * 8 - bits
        guard hostBits > 1 else { return nil }
        let size: UInt64 = hostBits >= 63 ? UInt64(1) << 62 : (UInt64(1) << UInt64(hostBits)) - 1
        return Range(base: bytes, size: size)
    }

    /// The first address of the IPv4 service range (the `kubernetes` Service's ClusterIP).
    public var firstServiceIPv4: String {
        state.withLock { IPAddress.format(IPAddress.add($0.v4.base, 1)) }
    }

    public func allocateClusterIP(family: String) -> String? {
        state.withLock { s in
            func take(_ r: inout Range) -> String? {
                for _ in 0..<min(r.size, 1 << 20) {
                    let off = r.next
                    r.next = r.next + 1 >= r.size ? 1 : r.next + 1
                    if !r.used.contains(off) {
                        r.used.insert(off)
                        return IPAddress.format(IPAddress.add(r.base, off))
                    }
                }
                return nil
            }
            return family == "IPv6" ? take(&s.v6) : take(&s.v4)
        }
    }

    public func reserveClusterIP(_ ip: String) -> Bool {
        guard let bytes = IPAddress.parse(ip) else { return false }
        return state.withLock { s in
            func reserve(_ r: inout Range) -> Bool {
                guard bytes.count == r.base.count, let off = IPAddress.offset(bytes, from: r.base), off > 0, off < r.size else { return false }
                return r.used.insert(off).inserted
            }
            return bytes.count == 4 ? reserve(&s.v4) : reserve(&s.v6)
        }
    }

    public func releaseClusterIP(_ ip: String) {
        guard let bytes = IPAddress.parse(ip) else { return }
        state.withLock { s in
            if bytes.count == 4, let off = IPAddress.offset(bytes, from: s.v4.base) { s.v4.used.remove(off) }
            if bytes.count == 16, let off = IPAddress.offset(bytes, from: s.v6.base) { s.v6.used.remove(off) }
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

/// Minimal IPv4/IPv6 address arithmetic for allocators.
public enum IPAddress {
    public static func parse(_ s: String) -> [UInt8]? {
        if Check.isIPv4(s) { return s.split(separator: ".").map { UInt8($0)! } }
        guard Check.isIPv6(s) else { return nil }
        var head: [UInt16] = [], tail: [UInt16] = []
        let halves = s.split(separator: "::", omittingEmptySubsequences: false)
        func groups(_ t: Substring) -> [UInt16] { t.split(separator: ":").compactMap { UInt16($0, radix: 16) } }
        head = groups(halves[0])
        if halves.count == 2 { tail = groups(halves[1]) }
        let fill = Array(repeating: UInt16(0), count: max(0, 8 - head.count - tail.count))
        return (head + fill + tail).flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    public static func format(_ b: [UInt8]) -> String {
        if b.count == 4 { return b.map(String.init).joined(separator: ".") }
        var groups: [UInt16] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(UInt16(b[i]) << 8 | UInt16(b[i + 1])) }
        // Compress the longest run of zero groups (RFC 5952).
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLen && j - i > 1 { bestStart = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        let hex = groups.map { String($0, radix: 16) }
        if bestStart < 0 { return hex.joined(separator: ":") }
        let left = hex[0..<bestStart].joined(separator: ":")
        let right = hex[(bestStart + bestLen)...].joined(separator: ":")
        return left + "::" + right
    }

    public static func add(_ base: [UInt8], _ offset: UInt64) -> [UInt8] {
        var out = base
        var carry = offset
        var i = out.count - 1
        while carry > 0 && i >= 0 {
            let sum = UInt64(out[i]) + (carry & 0xff)
            out[i] = UInt8(sum & 0xff)
            carry = (carry >> 8) + (sum >> 8)
            i -= 1
        }
        return out
    }

    public static func offset(_ ip: [UInt8], from base: [UInt8]) -> UInt64? {
        guard ip.count == base.count else { return nil }
        // Only the low 8 bytes can differ within a range kemu serves.
        let prefixLen = max(0, ip.count - 8)
        if ip[0..<prefixLen] != base[0..<prefixLen] { return nil }
        var a: UInt64 = 0, b: UInt64 = 0
        for i in prefixLen..<ip.count { a = a << 8 | UInt64(ip[i]); b = b << 8 | UInt64(base[i]) }
        return a >= b ? a - b : nil
    }
}
