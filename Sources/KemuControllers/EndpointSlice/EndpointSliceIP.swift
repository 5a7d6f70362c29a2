/// Lenient IP parsing and canonical printing, as the controller re-prints pod IPs
/// (IPv4 with leading zeros accepted; IPv6 printed in RFC 5952 form).
enum SliceIP {
    /// The canonical text of `s` and whether it is an IPv6 address; nil when it is not an IP.
    /// IPv4-mapped IPv6 addresses count as IPv4, as Go's `net.IP` treats them.
    static func canonical(_ s: String) -> (text: String, isIPv6: Bool)? {
        if canonicalIPv4Fast(s) == true { return (s, false) }
        if !s.contains(":") {
            guard let b = parseIPv4(Substring(s)) else { return nil }
            return (b.map(String.init).joined(separator: "."), false)
        }
        guard let b = parseIPv6(s) else { return nil }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff {
            return (b[12...].map(String.init).joined(separator: "."), false)
        }
        return (formatIPv6(b), true)
    }

    /// True when `s` is an IPv4 address already in canonical form; nil when the slow path must decide.
    static func canonicalIPv4Fast(_ s: String) -> Bool? {
        var parts = 0, digits = 0, value = 0, leadingZero = false
        for b in s.utf8 {
            if b == 0x2e {
                if digits == 0 { return nil }
                parts += 1
                digits = 0; value = 0; leadingZero = false
            } else if b >= 0x30 && b <= 0x39 {
                if digits == 0 && b == 0x30 { leadingZero = true } else if leadingZero { return nil }
                digits += 1
                value = value * 10 + Int(b - 0x30)
                if digits > 3 || value > 255 { return nil }
            } else {
                return nil
            }
        }
        return digits > 0 && parts == 3 ? true : nil
    }

    static func parseIPv4(_ s: Substring) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Int(p), v <= 255 else { return nil }
            out.append(UInt8(v))
        }
        return out
    }

    static func parseIPv6(_ s: String) -> [UInt8]? {
        if s.contains("%") { return nil }
        var groups: [UInt16] = []
        var ellipsis: Int?
        var rest = Substring(s)
        if rest.hasPrefix("::") {
            ellipsis = 0
            rest = rest.dropFirst(2)
        }
        while !rest.isEmpty {
            // An embedded IPv4 tail.
            if let dot = rest.firstIndex(of: "."), !rest[..<dot].contains(":") {
                guard let v4 = parseIPv4(rest) else { return nil }
                groups.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                groups.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                rest = rest[rest.endIndex...]
                break
            }
            let end = rest.firstIndex(of: ":") ?? rest.endIndex
            let hex = rest[..<end]
            guard !hex.isEmpty, hex.count <= 4, let v = UInt16(hex, radix: 16) else { return nil }
            groups.append(v)
            rest = rest[end...]
            if rest.hasPrefix("::") {
                guard ellipsis == nil else { return nil }
                ellipsis = groups.count
                rest = rest.dropFirst(2)
            } else if rest.hasPrefix(":") {
                rest = rest.dropFirst()
                if rest.isEmpty { return nil }
            }
            if groups.count > 8 { return nil }
        }
        if let e = ellipsis {
            guard groups.count < 8 else { return nil }
            let fill = [UInt16](repeating: 0, count: 8 - groups.count)
            groups.insert(contentsOf: fill, at: e)
        }
        guard groups.count == 8 else { return nil }
        var out: [UInt8] = []
        for g in groups { out.append(UInt8(g >> 8)); out.append(UInt8(g & 0xff)) }
        return out
    }

    /// RFC 5952: lowercase hex, no leading zeros, the first longest run of two or more zero groups as `::`.
    static func formatIPv6(_ b: [UInt8]) -> String {
        var groups: [Int] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(Int(b[i]) << 8 | Int(b[i + 1])) }
        var bestStart = -1, bestLen = 0
        var i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLen { bestStart = i; bestLen = j - i }
                i = j
            } else {
                i += 1
            }
        }
        if bestLen < 2 { bestStart = -1 }
        var s = ""
        i = 0
        while i < 8 {
            if i == bestStart {
                s += "::"
                i += bestLen
                continue
            }
            if !s.isEmpty && !s.hasSuffix(":") { s += ":" }
            s += String(groups[i], radix: 16)
            i += 1
        }
        return s
    }
}
