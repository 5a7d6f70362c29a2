import KemuAPI

extension ResourceKind {
    public static let endpointSlice: ResourceKind = {
        // Upstream publishes no short name for EndpointSlice.
        var k = ResourceKind(group: "discovery.k8s.io", version: "v1", kind: "EndpointSlice", resource: "endpointslices",
                             singular: "endpointslice", namespaced: true)
        k.tracksGeneration = true
        k.derivedOwner = DerivedRules.endpointSlice
        k.strategy = EndpointSliceStrategy()
        return k
    }()
}

struct EndpointSliceStrategy: KindStrategy {
    static let maxEndpoints = 1000
    /// Upstream raised the port limit to 20,000 (the API docs still say 100).
    static let maxPorts = 20_000

    func prepareForCreate(_ obj: inout JSONObject, _ ctx: any StrategyContext) throws { defaultPorts(&obj) }
    func prepareForUpdate(_ obj: inout JSONObject, old: JSONObject, _ ctx: any StrategyContext) throws { defaultPorts(&obj) }

    func defaultPorts(_ obj: inout JSONObject) {
        guard var ports = obj["ports"]?.arrayValue else { return }
        for i in ports.indices {
            if case .object(var p) = ports[i] {
                if p["protocol"] == nil { p["protocol"] = "TCP" }
                if p["name"] == nil { p["name"] = "" }
                ports[i] = .object(p)
            }
        }
        obj["ports"] = .array(ports)
    }

    func validate(_ obj: JSONObject) -> [FieldError] {
        var errs = ObjectMetaValidation.validate(obj, namespaced: true, nameRule: .dnsSubdomain)
        let addressType = obj["addressType"]?.stringValue ?? ""
        let types = ["FQDN", "IPv4", "IPv6"]
        if addressType.isEmpty {
            errs.append(.required("addressType"))
        } else if !types.contains(addressType) {
            errs.append(.notSupported("addressType", .string(addressType), types))
        }
        let endpoints = obj["endpoints"]?.arrayValue ?? []
        if endpoints.count > Self.maxEndpoints {
            errs.append(FieldError(.tooMany, "endpoints", value: .int(Int64(endpoints.count)), "must have at most \(Self.maxEndpoints) items"))
        }
        for (i, e) in endpoints.enumerated() {
            let addrs = e["addresses"].arrayValue ?? []
            if addrs.isEmpty {
                errs.append(.required("endpoints[\(i)].addresses", "must contain at least 1 address"))
            } else if addrs.count > 100 {
                errs.append(FieldError(.tooMany, "endpoints[\(i)].addresses", value: .int(Int64(addrs.count)), "must have at most 100 items"))
            }
            for (j, a) in addrs.enumerated() {
                let s = a.stringValue ?? ""
                let field = "endpoints[\(i)].addresses[\(j)]"
                switch addressType {
                case "IPv4":
                    // Strict and dotted only (upstream 1.32 also takes leading zeros and ::ffff:a.b.c.d here).
                    guard let ip = IPAddress(s), ip.is4 else { errs.append(.invalid(field, .string(s), "must be a valid IPv4 address")); continue }
                    if let why = ip.endpointProblem { errs.append(.invalid(field, .string(s), why)) }
                case "IPv6":
                    // Strict; ::ffff:a.b.c.d is accepted here (upstream 1.32 refuses it as IPv6).
                    guard let ip = IPAddress(s), ip.is6 else { errs.append(.invalid(field, .string(s), "must be a valid IPv6 address")); continue }
                    if let why = ip.endpointProblem { errs.append(.invalid(field, .string(s), why)) }
                case "FQDN":
                    if !s.contains(".") {
                        errs.append(.invalid(field, .string(s), "should be a domain with at least two segments separated by dots"))
                    }
                    for m in NameValidation.dns1123Subdomain(s) { errs.append(.invalid(field, .string(s), m)) }
                default: break
                }
            }
            if let n = e["nodeName"].stringValue {
                for m in NameValidation.dns1123Subdomain(n) { errs.append(.invalid("endpoints[\(i)].nodeName", .string(n), m)) }
            }
            if let h = e["hostname"].stringValue {
                for m in NameValidation.dns1123Label(h) { errs.append(.invalid("endpoints[\(i)].hostname", .string(h), m)) }
            }
        }
        let ports = obj["ports"]?.arrayValue ?? []
        if ports.count > Self.maxPorts {
            errs.append(FieldError(.tooMany, "ports", value: .int(Int64(ports.count)), "must have at most \(Self.maxPorts) items"))
        }
        var names = Set<String>()
        for (i, p) in ports.enumerated() {
            let name = p["name"].stringValue ?? ""
            if !name.isEmpty {
                for m in NameValidation.dns1123Label(name) { errs.append(.invalid("ports[\(i)].name", .string(name), m)) }
            }
            if !names.insert(name).inserted { errs.append(.duplicate("ports[\(i)].name", .string(name))) }
            if !p["port"].isNull { errs += Check.port(p["port"], "ports[\(i)].port", allowZero: false) }
            let proto = p["protocol"].stringValue ?? "TCP"
            if !["TCP", "UDP", "SCTP"].contains(proto) {
                errs.append(.notSupported("ports[\(i)].protocol", .string(proto), ["SCTP", "TCP", "UDP"]))
            }
        }
        return errs
    }

    /// Slices have no spec: any change outside metadata, or to labels, is a new generation (as upstream's strategy).
    func generationChanged(_ new: JSONObject, old: JSONObject) -> Bool {
        if new.labels != old.labels { return true }
        var a = new, b = old
        a["metadata"] = nil
        b["metadata"] = nil
        return a != b
    }

    func validateUpdate(_ obj: JSONObject, old: JSONObject) -> [FieldError] {
        var errs = validate(obj)
        if let a = obj["addressType"]?.stringValue, let b = old["addressType"]?.stringValue, a != b {
            errs.append(.invalid("addressType", .string(a), "field is immutable"))
        }
        return errs
    }
}
