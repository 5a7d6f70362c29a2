/// A strict RFC 8259 parser over UTF-8 bytes, producing `JSON` with ordered keys.
/// Errors read like Go's encoding/json, which is what kube-apiserver reports.
public struct JSONParseError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let offset: Int
    public var description: String { message }
}

public enum JSONParser {
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 512) throws(JSONParseError) -> JSON {
        try bytes.withUnsafeBufferPointer { buf throws(JSONParseError) in
            var p = Cursor(buf: buf, maxDepth: maxDepth)
            p.skipWhitespace()
            let v = try p.parseValue(depth: 0)
            p.skipWhitespace()
            if p.pos < buf.count {
                throw p.error("invalid character \(p.describe(buf[p.pos])) after top-level value")
            }
            return v
        }
    }

    public static func parse(_ text: String) throws(JSONParseError) -> JSON {
        try parse(Array(text.utf8))
    }

    struct Cursor {
        let buf: UnsafeBufferPointer<UInt8>
        let maxDepth: Int
        var pos = 0

        init(buf: UnsafeBufferPointer<UInt8>, maxDepth: Int) { self.buf = buf; self.maxDepth = maxDepth }

        func error(_ msg: String) -> JSONParseError { JSONParseError(message: msg, offset: pos) }

        /// Go's quoteChar: how encoding/json names a byte in its syntax errors.
        func describe(_ c: UInt8) -> String {
            switch c {
            case UInt8(ascii: "'"): return "'\\''"
            case UInt8(ascii: "\""): return "'\"'"
            case 0x07: return "'\\a'"
            case 0x08: return "'\\b'"
            case 0x0c: return "'\\f'"
            case 0x0a: return "'\\n'"
            case 0x0d: return "'\\r'"
            case 0x09: return "'\\t'"
            case 0x0b: return "'\\v'"
            case 0x5c: return "'\\\\'"
            default:
                if c >= 0x20 && c < 0x7f { return "'\(Character(Unicode.Scalar(c)))'" }
                let hex = String(c, radix: 16)
                if c < 0x20 || c == 0x7f { return "'\\x" + (hex.count == 1 ? "0" : "") + hex + "'" }
                return "'\\u00" + hex + "'"
            }
        }

        mutating func skipWhitespace() {
            while pos < buf.count {
                let c = buf[pos]
                if c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09 { pos += 1 } else { break }
            }
        }

        mutating func parseValue(depth: Int) throws(JSONParseError) -> JSON {
            guard pos < buf.count else { throw error("unexpected end of JSON input") }
            if depth > maxDepth { throw error("exceeded max depth") }
            let c = buf[pos]
            switch c {
            case UInt8(ascii: "{"): return try parseObject(depth: depth)
            case UInt8(ascii: "["): return try parseArray(depth: depth)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
            case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
            case UInt8(ascii: "n"): try expectLiteral("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
            default: throw error("invalid character \(describe(c)) looking for beginning of value")
            }
        }

        mutating func expectLiteral(_ lit: StaticString) throws(JSONParseError) {
            let n = lit.utf8CodeUnitCount
            let p = lit.utf8Start
            for i in 0..<n {
                guard pos + i < buf.count else { throw error("unexpected end of JSON input") }
                if buf[pos + i] != p[i] {
                    pos += i
                    throw error("invalid character \(describe(buf[pos])) in literal \(lit) (expecting \(describe(p[i])))")
                }
            }
            pos += n
        }

        mutating func parseObject(depth: Int) throws(JSONParseError) -> JSON {
            pos += 1
            skipWhitespace()
            if pos < buf.count && buf[pos] == UInt8(ascii: "}") { pos += 1; return .object(JSONObject()) }
            // Collected first, so that the object's shape is looked up once, not once per key.
            var keys: [String] = []
            var values: [JSON] = []
            // Past the size of a shared shape, the object itself: its private shape grows in place and finds
            // duplicates by hashing, so a body of one object with a hundred thousand keys takes no scans.
            var large: JSONObject?
            while true {
                skipWhitespace()
                guard pos < buf.count else { throw error("unexpected end of JSON input") }
                guard buf[pos] == UInt8(ascii: "\"") else {
                    throw error("invalid character \(describe(buf[pos])) looking for beginning of object key string")
                }
                let key = try parseString()
                skipWhitespace()
                guard pos < buf.count else { throw error("unexpected end of JSON input") }
                guard buf[pos] == UInt8(ascii: ":") else {
                    throw error("invalid character \(describe(buf[pos])) after object key")
                }
                pos += 1
                skipWhitespace()
                let v = try parseValue(depth: depth + 1)
                // Duplicate keys: last one wins, as in Go.
                if large != nil {
                    large![key] = v
                } else if let i = keys.firstIndex(of: key) {
                    values[i] = v
                } else {
                    keys.append(key)
                    values.append(v)
                    if keys.count > JSONShape.maxSharedKeys {
                        large = JSONObject(keys: keys, values: values)
                        keys = []; values = []
                    }
                }
                skipWhitespace()
                guard pos < buf.count else { throw error("unexpected end of JSON input") }
                let c = buf[pos]
                pos += 1
                if c == UInt8(ascii: ",") { continue }
                if c == UInt8(ascii: "}") { return .object(large ?? JSONObject(keys: keys, values: values)) }
                pos -= 1
                throw error("invalid character \(describe(c)) after object key:value pair")
            }
        }

        mutating func parseArray(depth: Int) throws(JSONParseError) -> JSON {
            pos += 1
            var arr: [JSON] = []
            skipWhitespace()
            if pos < buf.count && buf[pos] == UInt8(ascii: "]") { pos += 1; return .array(arr) }
            while true {
                skipWhitespace()
                arr.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard pos < buf.count else { throw error("unexpected end of JSON input") }
                let c = buf[pos]
                pos += 1
                if c == UInt8(ascii: ",") { continue }
                if c == UInt8(ascii: "]") { return .array(arr) }
                pos -= 1
                throw error("invalid character \(describe(c)) after array element")
            }
        }

        mutating func parseNumber() throws(JSONParseError) -> JSON {
            let start = pos
            var isFloat = false
            if buf[pos] == UInt8(ascii: "-") { pos += 1 }
            guard pos < buf.count, buf[pos] >= 0x30, buf[pos] <= 0x39 else {
                if pos < buf.count { throw error("invalid character \(describe(buf[pos])) in numeric literal") }
                throw error("unexpected end of JSON input")
            }
            if buf[pos] == 0x30 { pos += 1 } else { while pos < buf.count, buf[pos] >= 0x30, buf[pos] <= 0x39 { pos += 1 } }
            if pos < buf.count, buf[pos] == UInt8(ascii: ".") {
                isFloat = true
                pos += 1
                guard pos < buf.count else { throw error("unexpected end of JSON input") }
                guard buf[pos] >= 0x30, buf[pos] <= 0x39 else {
                    throw error("invalid character \(describe(buf[pos])) after decimal point in numeric literal")
                }
                while pos < buf.count, buf[pos] >= 0x30, buf[pos] <= 0x39 { pos += 1 }
            }
            if pos < buf.count, buf[pos] == UInt8(ascii: "e") || buf[pos] == UInt8(ascii: "E") {
                isFloat = true
                pos += 1
                if pos < buf.count, buf[pos] == UInt8(ascii: "+") || buf[pos] == UInt8(ascii: "-") { pos += 1 }
                guard pos < buf.count else { throw error("unexpected end of JSON input") }
                guard buf[pos] >= 0x30, buf[pos] <= 0x39 else {
                    throw error("invalid character \(describe(buf[pos])) in exponent of numeric literal")
                }
                while pos < buf.count, buf[pos] >= 0x30, buf[pos] <= 0x39 { pos += 1 }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<pos]), as: UTF8.self)
            if !isFloat, let i = Int64(text) { return .int(i) }
            guard let d = Double(text) else { throw error("invalid number \(text)") }
            return .double(d)
        }

        mutating func parseString() throws(JSONParseError) -> String {
            pos += 1  // opening quote
            let start = pos
            // Fast path: no escapes.
            while pos < buf.count {
                let c = buf[pos]
                if c == UInt8(ascii: "\"") {
                    let s = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<pos]), as: UTF8.self)
                    pos += 1
                    return s
                }
                if c == UInt8(ascii: "\\") { break }
                if c < 0x20 { throw error("invalid character \(describe(c)) in string literal") }
                pos += 1
            }
            var out = Array(buf[start..<pos])
            while pos < buf.count {
                let c = buf[pos]
                if c == UInt8(ascii: "\"") {
                    pos += 1
                    return String(decoding: out, as: UTF8.self)
                }
                if c < 0x20 { throw error("invalid character \(describe(c)) in string literal") }
                if c != UInt8(ascii: "\\") { out.append(c); pos += 1; continue }
                pos += 1
                guard pos < buf.count else { break }
                let e = buf[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5c)
                case UInt8(ascii: "/"): out.append(0x2f)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try readHex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        // Surrogate pair; a lone surrogate becomes U+FFFD as in Go.
                        if pos + 1 < buf.count, buf[pos] == UInt8(ascii: "\\"), buf[pos + 1] == UInt8(ascii: "u") {
                            let save = pos
                            pos += 2
                            let low = try readHex4()
                            if low >= 0xDC00 && low < 0xE000 {
                                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            } else { pos = save; scalar = 0xFFFD }
                        } else { scalar = 0xFFFD }
                    } else if scalar >= 0xDC00 && scalar < 0xE000 { scalar = 0xFFFD }
                    let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default:
                    pos -= 1
                    throw error("invalid character \(describe(e)) in string escape code")
                }
            }
            throw error("unexpected end of JSON input")
        }

        mutating func readHex4() throws(JSONParseError) -> UInt32 {
            guard pos + 4 <= buf.count else { throw error("unexpected end of JSON input") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = buf[pos]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                default: throw error("invalid character \(describe(c)) in \\u hexadecimal character escape")
                }
                v = v << 4 | d
                pos += 1
            }
            return v
        }
    }
}
