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
                for (k, v) in l {
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
                for (k, v) in a {
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
}
