/// Serialises `JSON` to compact UTF-8 bytes the way Go's encoding/json does
/// (HTML-safe escaping of <, >, &; U+2028/2029 escaped), without Foundation.
public enum JSONWriter {
    public static func encode(_ value: JSON) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out)
        return out
    }

    public static func string(_ value: JSON) -> String {
        String(decoding: encode(value), as: UTF8.self)
    }

    public static func write(_ value: JSON, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: [0x6e, 0x75, 0x6c, 0x6c])
        case .bool(let b): if b { out.append(contentsOf: [0x74, 0x72, 0x75, 0x65]) } else { out.append(contentsOf: [0x66, 0x61, 0x6c, 0x73, 0x65]) }
        case .int(let i): writeInt(i, into: &out)
        case .double(let d): writeDouble(d, into: &out)
        case .string(let s): writeString(s, into: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            var first = true
            for v in a {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                write(v, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (k, v) in o {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                writeString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                write(v, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    public static func writeInt(_ i: Int64, into out: inout [UInt8]) {
        if i == 0 { out.append(0x30); return }
        var n = i.magnitude
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var len = 0
        withUnsafeMutableBytes(of: &tmp) { p in
            while n > 0 { p[len] = UInt8(n % 10) + 0x30; n /= 10; len += 1 }
            if i < 0 { out.append(UInt8(ascii: "-")) }
            while len > 0 { len -= 1; out.append(p[len]) }
        }
    }

    /// Formats like Go's encoding/json: plain decimal for 1e-6 ≤ |d| < 1e21, otherwise
    /// exponent form with Go's exponent spelling (`1e-7`, `1e+21`).
    static func writeDouble(_ d: Double, into out: inout [UInt8]) {
        if d.isNaN || d.isInfinite { out.append(contentsOf: Array("null".utf8)); return }
        if d == d.rounded(), abs(d) < 9.0e15 {
            writeInt(Int64(d), into: &out)
            return
        }
        out.append(contentsOf: Array(goFloatString(d).utf8))
    }

    static func goFloatString(_ d: Double) -> String {
        let shortest = "\(d)"  // Swift prints the shortest round-tripping digits
        let a = abs(d)
        guard let ePos = shortest.firstIndex(where: { $0 == "e" || $0 == "E" }) else {
            return shortest.hasSuffix(".0") ? String(shortest.dropLast(2)) : shortest
        }
        let mantissa = String(shortest[..<ePos])
        var exponent = Int(shortest[shortest.index(after: ePos)...]) ?? 0
        if a >= 1e-6 && a < 1e21 {
            // Expand the exponent into a plain decimal.
            let negative = mantissa.hasPrefix("-")
            let m = negative ? String(mantissa.dropFirst()) : mantissa
            let point = m.firstIndex(of: ".").map { m.distance(from: m.startIndex, to: $0) } ?? m.count
            var digits = m.replacing(".", with: "")
            while digits.count > 1 && digits.hasSuffix("0") && point < digits.count { digits.removeLast() }
            exponent += point
            var text: String
            if exponent <= 0 {
                text = "0." + String(repeating: "0", count: -exponent) + digits
            } else if exponent >= digits.count {
                text = digits + String(repeating: "0", count: exponent - digits.count)
            } else {
                let i = digits.index(digits.startIndex, offsetBy: exponent)
                text = String(digits[..<i]) + "." + String(digits[i...])
            }
            return (negative ? "-" : "") + text
        }
        var m = mantissa
        if m.hasSuffix(".0") { m.removeLast(2) }
        let sign = exponent < 0 ? "-" : "+"
        return m + "e" + sign + String(abs(exponent))
    }

    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    public static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        var s = s
        s.withUTF8 { bytes in
            var runStart = 0
            var i = 0
            let n = bytes.count
            while i < n {
                let c = bytes[i]
                var escape: [UInt8]? = nil
                var skip = 1
                switch c {
                case 0x22: escape = [0x5c, 0x22]
                case 0x5c: escape = [0x5c, 0x5c]
                case 0x0a: escape = [0x5c, 0x6e]
                case 0x0d: escape = [0x5c, 0x72]
                case 0x09: escape = [0x5c, 0x74]
                case 0x08: escape = [0x5c, 0x62]
                case 0x0c: escape = [0x5c, 0x66]
                case 0x3c, 0x3e, 0x26: escape = [0x5c, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xf)]]
                case 0xe2 where i + 2 < n && bytes[i + 1] == 0x80 && (bytes[i + 2] == 0xa8 || bytes[i + 2] == 0xa9):
                    escape = [0x5c, 0x75, 0x32, 0x30, 0x32, bytes[i + 2] == 0xa8 ? 0x38 : 0x39]
                    skip = 3
                default:
                    if c < 0x20 { escape = [0x5c, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xf)]] }
                }
                if let e = escape {
                    if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                    out.append(contentsOf: e)
                    i += skip
                    runStart = i
                } else {
                    i += 1
                }
            }
            if runStart < n { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<n])) }
        }
        out.append(0x22)
    }
}
