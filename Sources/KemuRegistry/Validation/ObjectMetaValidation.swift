import KemuAPI

/// Validation shared by every kind: name syntax, labels, annotations, owner references.
public enum ObjectMetaValidation {
    public enum NameRule: Sendable { case dnsSubdomain, dnsLabel, dns1035Label, pathSegment }

    public static func validateName(_ name: String, rule: NameRule) -> [String] {
        switch rule {
        case .dnsSubdomain: return NameValidation.dns1123Subdomain(name)
        case .dnsLabel: return NameValidation.dns1123Label(name)
        case .dns1035Label: return NameValidation.dns1035Label(name)
        case .pathSegment:
            if name == "." || name == ".." { return ["may not be '\(name)'"] }
            if name.contains("/") { return ["may not contain '/'"] }
            if name.contains("%") { return ["may not contain '%'"] }
            return []
        }
    }

    public static func validate(_ obj: JSONObject, namespaced: Bool, nameRule: NameRule) -> [FieldError] {
        var errs: [FieldError] = []
        let meta = obj.metadata
        let name = meta.string("name") ?? ""
        if name.isEmpty {
            errs.append(.required("metadata.name", "name or generateName is required"))
        } else {
            for e in validateName(name, rule: nameRule) { errs.append(.invalid("metadata.name", .string(name), e)) }
        }
        if namespaced {
            let ns = meta.string("namespace") ?? ""
            if ns.isEmpty { errs.append(.required("metadata.namespace", "")) }
        } else if let ns = meta.string("namespace"), !ns.isEmpty {
            errs.append(.forbidden("metadata.namespace", "not allowed on this type"))
        }
        if let labels = meta["labels"] {
            if case .object(let l) = labels {
                for (k, v) in l.entries {
                    for e in NameValidation.qualifiedName(k) { errs.append(.invalid("metadata.labels", .string(k), e)) }
                    guard let s = v.stringValue else {
                        errs.append(.invalid("metadata.labels", v, "label values must be strings")); continue
                    }
                    for e in NameValidation.labelValue(s) { errs.append(.invalid("metadata.labels", .string(s), e)) }
                }
            } else if !labels.isNull {
                errs.append(.invalid("metadata.labels", labels, "must be an object"))
            }
        }
        if let ann = meta["annotations"] {
            if case .object(let a) = ann {
                var total = 0
                for (k, v) in a.entries {
                    for e in NameValidation.qualifiedName(k.lowercased()) { errs.append(.invalid("metadata.annotations", .string(k), e)) }
                    total += k.utf8.count + (v.stringValue?.utf8.count ?? 0)
                    if v.stringValue == nil { errs.append(.invalid("metadata.annotations", v, "annotation values must be strings")) }
                }
                if total > 256 * 1024 {
                    errs.append(FieldError(.tooLong, "metadata.annotations", "must have at most 262144 bytes"))
                }
            } else if !ann.isNull {
                errs.append(.invalid("metadata.annotations", ann, "must be an object"))
            }
        }
        if let refs = meta["ownerReferences"]?.arrayValue {
            for (i, r) in refs.enumerated() {
                for f in ["apiVersion", "kind", "name", "uid"] where (r[f].stringValue ?? "").isEmpty {
                    errs.append(.invalid("metadata.ownerReferences[\(i)].\(f)", .string(""), "\(f) must not be empty"))
                }
            }
        }
        if let fins = meta["finalizers"]?.arrayValue {
            for (i, f) in fins.enumerated() {
                let s = f.stringValue ?? ""
                for e in NameValidation.qualifiedName(s) { errs.append(.invalid("metadata.finalizers[\(i)]", .string(s), e)) }
            }
        }
        return errs
    }

    /// Fields that may not change on update.
    public static func validateUpdate(_ obj: JSONObject, old: JSONObject) -> [FieldError] {
        var errs: [FieldError] = []
        let newUID = obj.metadata.string("uid") ?? ""
        if !newUID.isEmpty && newUID != old.uid {
            errs.append(.invalid("metadata.uid", .string(newUID), "field is immutable"))
        }
        if let ct = obj.metadata.string("creationTimestamp"),
           Timestamp.parse(ct) != Timestamp.parse(old.metadata.string("creationTimestamp") ?? "") {
            errs.append(.invalid("metadata.creationTimestamp", .string(ct), "field is immutable"))
        }
        return errs
    }
}

/// Small helpers for kind validation code.
public enum Check {
    public static func port(_ v: JSON, _ field: String, allowZero: Bool = false) -> [FieldError] {
        guard let p = v.intValue else { return [.invalid(field, v, "must be an integer")] }
        if p < (allowZero ? 0 : 1) || p > 65535 { return [.invalid(field, v, "must be between 1 and 65535, inclusive")] }
        return []
    }

    /// Dotted-quad IPv4 without leading zeros, checked on bytes (this runs for every endpoint written).
    public static func isIPv4(_ s: String) -> Bool {
        var parts = 0, digits = 0, value = 0, leadingZero = false
        for b in s.utf8 {
            if b == 0x2e {
                if digits == 0 { return false }
                parts += 1
                digits = 0; value = 0; leadingZero = false
            } else if b >= 0x30 && b <= 0x39 {
                if leadingZero { return false }
                if digits == 0 && b == 0x30 { leadingZero = true }
                digits += 1
                value = value * 10 + Int(b - 0x30)
                if digits > 3 || value > 255 { return false }
            } else {
                return false
            }
        }
        return digits > 0 && parts == 3
    }

    /// An address a Service endpoint may use: not unspecified, loopback, link-local unicast or
    /// link-local multicast (upstream's ValidateEndpointIP). Returns the reason it is not, or nil.
    public static func endpointIPProblem(_ s: String) -> String? {
        if isIPv4(s) {
            var o = [0, 0, 0, 0], i = 0
            for b in s.utf8 { if b == 0x2e { i += 1 } else { o[i] = o[i] * 10 + Int(b - 0x30) } }
            if o == [0, 0, 0, 0] { return "may not be unspecified (0.0.0.0)" }
            if o[0] == 127 { return "may not be in the loopback range (127.0.0.0/8, ::1/128)" }
            if o[0] == 169 && o[1] == 254 { return "may not be in the link-local range (169.254.0.0/16, fe80::/10)" }
            if o[0] == 224 && o[1] == 0 && o[2] == 0 { return "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)" }
            return nil
        }
        guard let b = IPAddress.parse(s), b.count == 16 else { return nil }
        if b.allSatisfy({ $0 == 0 }) { return "may not be unspecified (::)" }
        if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return "may not be in the loopback range (127.0.0.0/8, ::1/128)" }
        if b[0] == 0xfe && (b[1] & 0xc0) == 0x80 { return "may not be in the link-local range (169.254.0.0/16, fe80::/10)" }
        if b[0] == 0xff && (b[1] & 0x0f) == 0x02 { return "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)" }
        return nil
    }

    public static func isIPv6(_ s: String) -> Bool {
        guard s.contains(":"), s.count <= 45 else { return false }
        var text = Substring(s)
        var groupsNeeded = 8
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard isIPv4(String(text[text.index(after: lastColon)...])) else { return false }
            text = text[...lastColon]
            if text.hasSuffix(":") && !text.hasSuffix("::") { text = text.dropLast() }
            groupsNeeded = 6
        }
        let doubles = text.split(separator: "::", omittingEmptySubsequences: false).count - 1
        if doubles > 1 { return false }
        let groups = text.split(separator: ":", omittingEmptySubsequences: true)
        for g in groups {
            guard g.count <= 4, g.allSatisfy({ $0.isHexDigit }) else { return false }
        }
        if doubles == 1 { return groups.count < groupsNeeded }
        return groups.count == groupsNeeded && !text.hasPrefix(":") && !text.hasSuffix(":")
    }

    public static func isIP(_ s: String) -> Bool { isIPv4(s) || isIPv6(s) }
}
