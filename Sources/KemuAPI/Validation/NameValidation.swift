/// Name and label syntax rules from apimachinery's validation package.
public enum NameValidation {
    static func isAlnumLower(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) }
    static func isAlnum(_ c: UInt8) -> Bool { isAlnumLower(c) || (c >= 0x41 && c <= 0x5a) }

    public static let dns1123LabelMessage = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    public static let dns1123SubdomainMessage = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    public static let dns1035LabelMessage = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"

    /// Returns error strings, empty when valid.
    public static func dns1123Label(_ s: String) -> [String] {
        var errs: [String] = []
        let b = Array(s.utf8)
        if b.count > 63 { errs.append("must be no more than 63 characters") }
        if !isLabel(b) { errs.append(dns1123LabelMessage) }
        return errs
    }

    static func isLabel(_ b: ArraySlice<UInt8>) -> Bool {
        guard let f = b.first, let l = b.last, isAlnumLower(f), isAlnumLower(l) else { return false }
        return b.allSatisfy { isAlnumLower($0) || $0 == 0x2d }
    }
    static func isLabel(_ b: [UInt8]) -> Bool { isLabel(b[...]) }

    public static func dns1123Subdomain(_ s: String) -> [String] {
        var errs: [String] = []
        let b = Array(s.utf8)
        if b.count > 253 { errs.append("must be no more than 253 characters") }
        let ok = !b.isEmpty && b.split(separator: 0x2e, omittingEmptySubsequences: false).allSatisfy { isLabel($0) }
        if !ok { errs.append(dns1123SubdomainMessage) }
        return errs
    }

    public static func dns1035Label(_ s: String) -> [String] {
        var errs: [String] = []
        let b = Array(s.utf8)
        if b.count > 63 { errs.append("must be no more than 63 characters") }
        let ok = !b.isEmpty && (b[0] >= 0x61 && b[0] <= 0x7a) && isLabel(b)
        if !ok { errs.append(dns1035LabelMessage) }
        return errs
    }

    static let qualifiedNameMessage = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"

    /// Label and annotation keys: `[prefix/]name`.
    public static func qualifiedName(_ s: String) -> [String] {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        var name = Substring(s)
        var errs: [String] = []
        if parts.count == 2 {
            let prefix = String(parts[0])
            name = parts[1]
            if prefix.isEmpty { errs.append("prefix part must be non-empty") } else {
                errs += dns1123Subdomain(prefix).map { "prefix part " + $0 }
            }
        } else if parts.count > 2 {
            return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
        }
        let nb = Array(name.utf8)
        if nb.isEmpty { errs.append("name part must be non-empty") }
        if nb.count > 63 { errs.append("name part must be no more than 63 characters") }
        if nb.isEmpty || !(isAlnum(nb[0]) && isAlnum(nb[nb.count - 1]) && nb.allSatisfy({ isAlnum($0) || $0 == 0x2d || $0 == 0x5f || $0 == 0x2e })) {
            errs.append(qualifiedNameMessage)
        }
        return errs
    }

    public static let labelValueMessage = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

    public static func labelValue(_ s: String) -> [String] {
        let b = Array(s.utf8)
        if b.isEmpty { return [] }
        var errs: [String] = []
        if b.count > 63 { errs.append("must be no more than 63 characters") }
        if !(isAlnum(b[0]) && isAlnum(b[b.count - 1]) && b.allSatisfy({ isAlnum($0) || $0 == 0x2d || $0 == 0x5f || $0 == 0x2e })) {
            errs.append(labelValueMessage)
        }
        return errs
    }
}
