import KemuAPI

extension ResourceKind {
    public static let endpoints: ResourceKind = {
        var k = ResourceKind(group: "", version: "v1", kind: "Endpoints", resource: "endpoints", singular: "endpoints", namespaced: true)
        k.shortNames = ["ep"]
        k.derivedOwner = DerivedRules.endpoints
        k.strategy = EndpointsStrategy()
        return k
    }()
}

struct EndpointsStrategy: KindStrategy {
    func prepareForCreate(_ obj: inout JSONObject, _ ctx: any StrategyContext) throws { defaultPorts(&obj) }
    func prepareForUpdate(_ obj: inout JSONObject, old: JSONObject, _ ctx: any StrategyContext) throws { defaultPorts(&obj) }

    func defaultPorts(_ obj: inout JSONObject) {
        guard var subsets = obj["subsets"]?.arrayValue else { return }
        for i in subsets.indices {
            guard case .object(var s) = subsets[i], var ports = s["ports"]?.arrayValue else { continue }
            for j in ports.indices {
                if case .object(var p) = ports[j], p["protocol"] == nil { p["protocol"] = "TCP"; ports[j] = .object(p) }
            }
            s["ports"] = .array(ports)
            subsets[i] = .object(s)
        }
        obj["subsets"] = .array(subsets)
    }

    func validate(_ obj: JSONObject) -> [FieldError] {
        var errs = ObjectMetaValidation.validate(obj, namespaced: true, nameRule: .dnsSubdomain)
        for (i, s) in (obj["subsets"]?.arrayValue ?? []).enumerated() {
            for list in ["addresses", "notReadyAddresses"] {
                for (j, a) in (s[list].arrayValue ?? []).enumerated() {
                    let ip = a["ip"].stringValue ?? ""
                    let addr = IPAddress(ip)  // strict: leading zeros refused (upstream 1.32's IsValidIP is sloppy)
                    if addr == nil {
                        errs.append(.invalid("subsets[\(i)].\(list)[\(j)].ip", .string(ip), "must be a valid IP address"))
                    } else if let why = addr?.endpointProblem {
                        errs.append(.invalid("subsets[\(i)].\(list)[\(j)].ip", .string(ip), why))
                    }
                }
            }
            for (j, p) in (s["ports"].arrayValue ?? []).enumerated() {
                errs += Check.port(p["port"], "subsets[\(i)].ports[\(j)].port")
            }
        }
        return errs
    }
}
