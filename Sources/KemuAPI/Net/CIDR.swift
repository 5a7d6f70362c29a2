/// An IPv4 or IPv6 network: an address with its host bits cleared, and a prefix length.
/// The family is the address's (`::ffff:a.b.c.d/n` is an IPv6 network).
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    /// The network address (host bits cleared).
    public let address: IPAddress
    public let prefix: Int

    /// Go's `ParseCIDRSloppy` (how upstream reads `--cluster-cidr` and node podCIDRs); nil when `text`
    /// is not ADDRESS/PREFIX with a prefix length of the address's family.
    public init?(_ text: String) {
        guard let c = Self.parse(text, sloppy: true) else { return nil }
        self = c.network
    }

    /// The network of the first `prefix` bits of `ip`; nil when `prefix` does not fit its family.
    public init?(_ ip: IPAddress, prefix: Int) {
        guard prefix >= 0, prefix <= ip.bitWidth else { return nil }
        let host = Self.hostMask(ip.bitWidth - prefix)
        address = ip.is4 ? IPAddress(v4: UInt32(truncatingIfNeeded: ip.value & ~host)) : IPAddress(v6: ip.value & ~host)
        self.prefix = prefix
    }

    /// Go's `ParseCIDR`: the address as written and its network. The address is parsed as
    /// `IPAddress(_:)` or `IPAddress(sloppy:)`; the prefix length is decimal digits only.
    public static func parse(_ text: String, sloppy: Bool) -> (ip: IPAddress, network: CIDR)? {
        func parse(_ p: UnsafeBufferPointer<UInt8>) -> (ip: IPAddress, network: CIDR)? {
            guard let slash = p.firstIndex(of: UInt8(ascii: "/")), slash + 1 < p.count,
                  let ip = IPAddress.parse(UnsafeBufferPointer(rebasing: p[..<slash]), sloppy: sloppy) else { return nil }
            var bits = 0
            for b in p[(slash + 1)...] {
                guard b &- 0x30 < 10 else { return nil }
                bits = bits * 10 + Int(b &- 0x30)
                if bits > 128 { return nil }
            }
            guard let network = CIDR(ip, prefix: bits) else { return nil }
            return (ip, network)
        }
        if let r = text.utf8.withContiguousStorageIfAvailable(parse) { return r }
        return Array(text.utf8).withUnsafeBufferPointer(parse)
    }

    public var isIPv6: Bool { address.is6 }
    /// 32 or 128.
    public var bits: Int { address.bitWidth }
    /// `address/prefix`, the address in its own family's form.
    public var text: String { "\(address.familyText)/\(prefix)" }
    public var description: String { text }

    static func hostMask(_ hostBits: Int) -> UInt128 { (UInt128(1) << hostBits) &- 1 }

    public func contains(_ ip: IPAddress) -> Bool {
        ip.is4 == address.is4 && ip.value & ~Self.hostMask(bits - prefix) == address.value
    }

    /// The address `offset` places into the network; nil past its end.
    public func address(at offset: UInt64) -> IPAddress? {
        let hostBits = bits - prefix
        if hostBits < 64, offset >> hostBits != 0 { return nil }
        return address.adding(offset)
    }

    /// How far `ip` lies into the network; nil when it is outside, or further than 64 bits can tell.
    public func offset(of ip: IPAddress) -> UInt64? {
        contains(ip) ? ip.offset(from: address) : nil
    }

    /// The `index`-th subnet of size `/mask`; nil when `mask` is shorter than the prefix or longer than
    /// the family, or there is no such subnet.
    public func subnet(_ index: Int, mask: Int) -> CIDR? {
        guard mask >= prefix, mask <= bits, index >= 0 else { return nil }
        if mask - prefix < 63, index >> (mask - prefix) != 0 { return nil }
        let v = address.value &+ UInt128(index) << (bits - mask)
        return CIDR(address.is4 ? IPAddress(v4: UInt32(truncatingIfNeeded: v)) : IPAddress(v6: v), prefix: mask)
    }

    /// Which `/mask` subnet of this network `sub` is (the inverse of `subnet(_:mask:)`); nil when `sub`
    /// is not a `/mask` inside it.
    public func subnetIndex(of sub: CIDR, mask: Int) -> Int? {
        guard sub.prefix == mask, mask >= prefix, mask - prefix < 63, contains(sub.address) else { return nil }
        return Int((sub.address.value - address.value) >> (bits - mask))
    }
}
