import FoundationEssentials
import Glibc
import Synchronization

/// RFC 3339 timestamps at second precision in UTC, as metav1.Time serialises.
public enum Timestamp {
    /// Seconds formatted recently, so that equal timestamps share one string's storage (a pod carries about
    /// ten of them, and stored times are parsed and formatted again on every managedFields update).
    private static let recent = Mutex<[Int: String]>([:])

    public static func format(epochSeconds: Int) -> String {
        if let hit = recent.withLock({ $0[epochSeconds] }) { return hit }
        let text = formatted(epochSeconds)
        recent.withLock { r in
            if r.count >= 4096 { r.removeAll(keepingCapacity: true) }
            r[epochSeconds] = text
        }
        return text
    }

    private static func formatted(_ epochSeconds: Int) -> String {
        var t = time_t(epochSeconds)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        func pad(_ v: Int32, _ w: Int) -> String {
            let s = String(v)
            return s.count >= w ? s : String(repeating: "0", count: w - s.count) + s
        }
        return "\(pad(tmv.tm_year + 1900, 4))-\(pad(tmv.tm_mon + 1, 2))-\(pad(tmv.tm_mday, 2))T\(pad(tmv.tm_hour, 2)):\(pad(tmv.tm_min, 2)):\(pad(tmv.tm_sec, 2))Z"
    }

    public static func now() -> String { format(epochSeconds: Int(Date().timeIntervalSince1970)) }

    /// RFC 3339 with microseconds, used by managedFields-like fields that upstream writes as MicroTime.
    public static func nowMicro() -> String {
        let d = Date().timeIntervalSince1970
        let secs = Int(d)
        let micros = Int((d - Double(secs)) * 1_000_000)
        var base = format(epochSeconds: secs)
        base.removeLast()
        let m = String(micros)
        return base + "." + String(repeating: "0", count: 6 - m.count) + m + "Z"
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` into epoch seconds.
    public static func parse(_ s: String) -> Int? {
        let b = Array(s.utf8)
        guard b.count >= 20 else { return nil }
        func num(_ from: Int, _ len: Int) -> Int? {
            var v = 0
            for i in from..<(from + len) {
                guard i < b.count, b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                v = v * 10 + Int(b[i] - 0x30)
            }
            return v
        }
        guard let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2),
              let sec = num(17, 2), b[4] == 0x2d, b[7] == 0x2d, b[10] == 0x54 || b[10] == 0x74, b[13] == 0x3a, b[16] == 0x3a
        else { return nil }
        var i = 19
        if i < b.count, b[i] == 0x2e { i += 1; while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 } }
        var offset = 0
        if i < b.count, b[i] == 0x5a || b[i] == 0x7a { i += 1 } else if i + 6 <= b.count, b[i] == 0x2b || b[i] == 0x2d {
            guard let oh = num(i + 1, 2), let om = num(i + 4, 2) else { return nil }
            offset = (oh * 3600 + om * 60) * (b[i] == 0x2d ? -1 : 1)
            i += 6
        } else { return nil }
        guard i == b.count else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return days * 86400 + h * 3600 + mi * 60 + sec - offset
    }
}

public enum Identifiers {
    public static func uuid() -> String { UUID().uuidString.lowercased() }

    static let nameAlphabet = Array("bcdfghjklmnpqrstvwxz2456789")

    /// `generateName` suffix: five characters from upstream's alphabet, base capped at 58 characters.
    public static func generateName(_ base: String) -> String {
        let prefix = base.count > 58 ? String(base.prefix(58)) : base
        var s = prefix
        for _ in 0..<5 { s.append(nameAlphabet[Int.random(in: 0..<nameAlphabet.count)]) }
        return s
    }
}
