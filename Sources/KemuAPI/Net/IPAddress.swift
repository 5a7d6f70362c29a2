/// An IPv4 or IPv6 address: the one parser and printer kemu uses for IP text.
///
/// Two parsers, as Kubernetes has them:
/// - `IPAddress(_:)`, strict (Go's `net.ParseIP` since Go 1.17, i.e. `netip.ParseAddr` without a zone):
///   no leading zeros in IPv4 fields (also in an IPv6 address's IPv4 tail), at most 4 hex digits a group.
///   kemu's API validation of endpoint addresses and the ClusterIP allocator use it.
/// - `IPAddress(sloppy:)`, Go's `ParseIPSloppy` (the Go 1.16 parser Kubernetes forked): any number of
///   leading zeros in IPv4 fields and IPv6 groups. The controllers read pod IPs, Service ClusterIPs and
///   Endpoints addresses with it, as upstream's do.
/// Both reject zones (`fe80::1%eth0`), as `net.ParseIP` does, and decide the family as it does, by the
/// first `.` or `:` in the text; `::ffff:a.b.c.d` is an IPv6 address (`is6`) that is `isV4Mapped`.
/// Parsing is allocation-free.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address as a number; an IPv4 address (`is4`) is its low 32 bits.
    public let value: UInt128
    /// Written as dotted IPv4 (Go's 4-byte form); false for IPv6 text, IPv4-mapped included.
    public let is4: Bool

    public init(v4: UInt32) { value = UInt128(v4); is4 = true }
    public init(v6: UInt128) { value = v6; is4 = false }

    /// Strict parse; nil when `text` is not an IP address in that form.
    public init?(_ text: String) {
        guard let ip = Self.parse(text, sloppy: false) else { return nil }
        self = ip
    }

    /// Go's `ParseIPSloppy`: leading zeros accepted; nil when `text` is not an IP address.
    public init?(sloppy text: String) {
        guard let ip = Self.parse(text, sloppy: true) else { return nil }
        self = ip
    }

    public var is6: Bool { !is4 }
    /// `::ffff:a.b.c.d`
    public var isV4Mapped: Bool { is6 && value >> 32 == 0xffff }
    /// Go's `ip.To4() != nil` (`utilnet.IsIPv4`): an IPv4 address or an IPv4-mapped IPv6 one.
    /// Its negation on a parsed address is `utilnet.IsIPv6String`.
    public var isIPv4Family: Bool { is4 || isV4Mapped }
    /// 32 or 128.
    public var bitWidth: Int { is4 ? 32 : 128 }

    /// Go's `net.IP.String`: dotted for IPv4 and IPv4-mapped IPv6, else RFC 5952 (lowercase hex,
    /// no leading zeros, the first longest run of two or more zero groups as `::`).
    public var description: String { isIPv4Family ? Self.dotted(UInt32(truncatingIfNeeded: value)) : Self.hexGroups(value) }

    /// The text in the address's own family: dotted for `is4`, RFC 5952 hex groups for every IPv6
    /// address (IPv4-mapped ones too). Addresses carved from a CIDR are printed this way.
    public var familyText: String { is4 ? Self.dotted(UInt32(truncatingIfNeeded: value)) : Self.hexGroups(value) }

    // MARK: arithmetic (allocators)

    /// The address `n` places further on, wrapping within the family's 32 or 128 bits.
    public func adding(_ n: UInt64) -> IPAddress {
        is4 ? IPAddress(v4: UInt32(truncatingIfNeeded: value &+ UInt128(n))) : IPAddress(v6: value &+ UInt128(n))
    }

    /// How far this address lies past `base`; nil for another family, an address before `base`,
    /// or a distance that does not fit in 64 bits.
    public func offset(from base: IPAddress) -> UInt64? {
        guard is4 == base.is4, value >= base.value else { return nil }
        return UInt64(exactly: value - base.value)
    }

    // MARK: validation

    /// Why a Service endpoint may not use this address (upstream `ValidateNonSpecialIP`: not unspecified,
    /// loopback, link-local unicast or link-local multicast); nil when it may. An IPv6 address is judged
    /// on its 128 bits only, so `::ffff:127.0.0.1` passes.
    public var endpointProblem: String? {
        if is4 {
            let v = UInt32(truncatingIfNeeded: value)
            if v == 0 { return "may not be unspecified (0.0.0.0)" }
            if v >> 24 == 127 { return Self.loopback }
            if v >> 16 == 0xa9fe { return Self.linkLocal }
            if v >> 8 == 0xe0_0000 { return Self.linkLocalMulticast }
            return nil
        }
        if value == 0 { return "may not be unspecified (::)" }
        if value == 1 { return Self.loopback }
        if value >> 118 == 0x3fa { return Self.linkLocal }
        if value >> 120 == 0xff && (value >> 112) & 0x0f == 0x02 { return Self.linkLocalMulticast }
        return nil
    }

    static let loopback = "may not be in the loopback range (127.0.0.0/8, ::1/128)"
    static let linkLocal = "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
    static let linkLocalMulticast = "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"

    // MARK: canonical text

    /// Go's `ParseIPSloppy(s).String()` and whether the address is IPv6 (`utilnet.IsIPv6String`);
    /// nil when `s` is not an IP. Text that already is canonical IPv4 comes back as it is, without a
    /// new string (pod IPs take this path for every endpoint the controllers write).
    public static func sloppyCanonical(_ s: String) -> (text: String, isIPv6: Bool)? {
        if let ip = IPAddress(s), ip.is4 { return (s, false) }
        guard let ip = IPAddress(sloppy: s) else { return nil }
        return (ip.description, !ip.isIPv4Family)
    }

    // MARK: parsing

    static func parse(_ text: String, sloppy: Bool) -> IPAddress? {
        if let r = text.utf8.withContiguousStorageIfAvailable({ parse($0, sloppy: sloppy) }) { return r }
        return Array(text.utf8).withUnsafeBufferPointer { parse($0, sloppy: sloppy) }
    }

    /// As Go's `ParseIP`: the first `.` or `:` decides the family.
    static func parse(_ p: UnsafeBufferPointer<UInt8>, sloppy: Bool) -> IPAddress? {
        for b in p {
            if b == dot { return parseV4(p, from: 0, sloppy: sloppy).map(IPAddress.init(v4:)) }
            if b == colon { return parseV6(p, sloppy: sloppy).map(IPAddress.init(v6:)) }
        }
        return nil
    }

    static let dot = UInt8(ascii: "."), colon = UInt8(ascii: ":")

    /// Four decimal fields from `start` to the end of `p`.
    static func parseV4(_ p: UnsafeBufferPointer<UInt8>, from start: Int, sloppy: Bool) -> UInt32? {
        var i = start, out: UInt32 = 0
        for field in 0..<4 {
            if field > 0 {
                guard i < p.count, p[i] == dot else { return nil }
                i += 1
            }
            let first = i
            var v: UInt32 = 0
            while i < p.count, p[i] &- 0x30 < 10 {
                if !sloppy && i > first && p[first] == 0x30 { return nil }
                v = v * 10 + UInt32(p[i] &- 0x30)
                if v > 255 { return nil }
                i += 1
            }
            guard i > first else { return nil }
            out = out << 8 | v
        }
        return i == p.count ? out : nil
    }

    /// Go's `parseIPv6`: hex groups, at most one `::`, an optional IPv4 tail in the last 32 bits.
    static func parseV6(_ p: UnsafeBufferPointer<UInt8>, sloppy: Bool) -> UInt128? {
        let n = p.count
        var head: UInt128 = 0, tail: UInt128 = 0  // the groups before and after the "::"
        var groups = 0, ellipsis = -1, i = 0
        func append(_ v: UInt128, _ width: Int) {
            if ellipsis < 0 { head = head << width | v } else { tail = tail << width | v }
            groups += width / 16
        }
        if n >= 2 && p[0] == colon && p[1] == colon {
            ellipsis = 0
            i = 2
            if i == n { return 0 }
        }
        while groups < 8 {
            let start = i
            var v = 0
            while i < n, let d = hexValue(p[i]) {
                if !sloppy && i - start == 4 { return nil }  // strict: at most 4 hex digits
                v = v << 4 | d
                if v > 0xffff { return nil }
                i += 1
            }
            guard i > start else { return nil }
            if i < n && p[i] == dot {
                // An IPv4 tail: only as the last 32 bits.
                guard ellipsis >= 0 || groups == 6, groups <= 6, let v4 = parseV4(p, from: start, sloppy: sloppy) else { return nil }
                append(UInt128(v4), 32)
                i = n
                break
            }
            append(UInt128(v), 16)
            if i == n { break }
            guard p[i] == colon, i + 1 < n else { return nil }
            i += 1
            if p[i] == colon {
                guard ellipsis < 0 else { return nil }
                ellipsis = groups
                i += 1
                if i == n { break }
            }
        }
        guard i == n else { return nil }
        if ellipsis < 0 { return groups == 8 ? head : nil }
        // "::" stands for at least one zero group.
        guard groups < 8 else { return nil }
        return head << (16 * (8 - ellipsis)) | tail
    }

    static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: return Int(b - 0x30)
        case 0x61...0x66: return Int(b - 0x61 + 10)
        case 0x41...0x46: return Int(b - 0x41 + 10)
        default: return nil
        }
    }

    // MARK: printing

    static func dotted(_ v: UInt32) -> String {
        "\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)"
    }

    static func hexGroups(_ value: UInt128) -> String {
        func group(_ i: Int) -> Int { Int(truncatingIfNeeded: value >> (112 - 16 * i)) & 0xffff }
        var bestStart = -1, bestLen = 1, i = 0
        while i < 8 {
            guard group(i) == 0 else { i += 1; continue }
            var j = i
            while j < 8 && group(j) == 0 { j += 1 }
            if j - i > bestLen { bestStart = i; bestLen = j - i }
            i = j
        }
        var s = ""
        s.reserveCapacity(39)
        i = 0
        while i < 8 {
            if i == bestStart {
                s += "::"
                i += bestLen
                continue
            }
            if !s.isEmpty && s.utf8.last != colon { s += ":" }
            s += String(group(i), radix: 16)
            i += 1
        }
        return s
    }
}
