import KemuAPI

extension ResourceKind {
    public static let service: ResourceKind = {
        var k = ResourceKind(group: "", version: "v1", kind: "Service", resource: "services", singular: "service", namespaced: true)
        k.shortNames = ["svc"]
        k.categories = ["all"]
        k.returnsDeletedObject = true
        k.subresources = [
            SubresourceInfo(name: "proxy", kind: "ServiceProxyOptions", verbs: ["create", "delete", "get", "patch", "update"]),
            ResourceKind.statusSubresource(),
        ]
        k.fieldSelectors = FieldSelectorSet([
            "spec.clusterIP": { $0["spec"]?["clusterIP"].stringValue ?? "" },
            "spec.type": { $0["spec"]?["type"].stringValue ?? "" },
        ])
        k.strategy = ServiceStrategy()
        return k
    }()
}

struct ServiceStrategy: KindStrategy {
    static let types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]

    func prepareForCreate(_ obj: inout JSONObject, _ ctx: any StrategyContext) throws {
        var spec = obj["spec"]?.objectValue ?? JSONObject()
        try reserveRequestedNodePorts(spec, old: nil, ctx, name: obj.name)
        try applyDefaults(&spec, old: nil, ctx, name: obj.name)
        obj["spec"] = .object(spec)
        obj["status"] = ["loadBalancer": .object(JSONObject())]
    }

    func prepareForUpdate(_ obj: inout JSONObject, old: JSONObject, _ ctx: any StrategyContext) throws {
        var spec = obj["spec"]?.objectValue ?? JSONObject()
        let oldSpec = old["spec"]?.objectValue ?? JSONObject()
        // Keep allocated values the client left out (upstream's patchAllocatedValues).
        if (spec["clusterIP"]?.stringValue ?? "").isEmpty, let ip = oldSpec["clusterIP"], spec["type"]?.stringValue != "ExternalName" {
            spec["clusterIP"] = ip
            if spec["clusterIPs"] == nil { spec["clusterIPs"] = oldSpec["clusterIPs"] }
        }
        if spec["ipFamilies"] == nil { spec["ipFamilies"] = oldSpec["ipFamilies"] }
        if spec["ipFamilyPolicy"] == nil { spec["ipFamilyPolicy"] = oldSpec["ipFamilyPolicy"] }
        let newType = spec["type"]?.stringValue ?? "ClusterIP"
        let needsNodePorts = newType == "NodePort" || newType == "LoadBalancer"
        if var ports = spec["ports"]?.arrayValue, let oldPorts = oldSpec["ports"]?.arrayValue {
            for i in ports.indices {
                guard case .object(var p) = ports[i] else { continue }
                let oldNodePort = oldPorts.first(where: { $0["port"] == p["port"] })?["nodePort"].intValue
                if needsNodePorts, p["nodePort"] == nil, let np = oldNodePort {
                    p["nodePort"] = .int(np)
                } else if !needsNodePorts, let np = p["nodePort"]?.intValue, np == oldNodePort {
                    // The type no longer needs node ports: drop the ones the user did not change (dropTypeDependentFields).
                    p["nodePort"] = nil
                }
                ports[i] = .object(p)
            }
            spec["ports"] = .array(ports)
        }
        if !needsNodePorts {
            spec["externalTrafficPolicy"] = nil
            spec["allocateLoadBalancerNodePorts"] = nil
        }
        try reserveRequestedNodePorts(spec, old: oldSpec, ctx, name: obj.name)
        try applyDefaults(&spec, old: oldSpec, ctx, name: obj.name)
        for p in oldSpec["ports"]?.arrayValue ?? [] {
            guard let np = p["nodePort"].intValue else { continue }
            if !(spec["ports"]?.arrayValue ?? []).contains(where: { $0["nodePort"].intValue == np }) { ctx.releaseNodePort(Int(np)) }
        }
        obj["spec"] = .object(spec)
    }

    /// Node ports the client asked for must be in range and free.
    func reserveRequestedNodePorts(_ spec: JSONObject, old: JSONObject?, _ ctx: any StrategyContext, name: String) throws {
        let oldPorts = Set((old?["ports"]?.arrayValue ?? []).compactMap { $0["nodePort"].intValue })
        for (i, p) in (spec["ports"]?.arrayValue ?? []).enumerated() {
            guard let np = p["nodePort"].intValue, np != 0, !oldPorts.contains(np) else { continue }
            let field = "spec.ports[\(i)].nodePort"
            if !ClusterAllocators.nodePortRange.contains(Int(np)) {
                throw APIError.invalid(kind: "Service", group: "", name: name, [
                    .invalid(field, .int(np), "provided port is not in the valid range. The range of valid ports is 30000-32767"),
                ])
            }
            if !ctx.reserveNodePort(Int(np)) {
                throw APIError.invalid(kind: "Service", group: "", name: name, [
                    .invalid(field, .int(np), "provided port is already allocated"),
                ])
            }
        }
    }

    func applyDefaults(_ spec: inout JSONObject, old: JSONObject?, _ ctx: any StrategyContext, name: String) throws {
        let type = spec["type"]?.stringValue ?? "ClusterIP"
        if var ports = spec["ports"]?.arrayValue {
            for i in ports.indices {
                guard case .object(var p) = ports[i] else { continue }
                if p["protocol"] == nil { p["protocol"] = "TCP" }
                if p["targetPort"] == nil, let port = p["port"] { p["targetPort"] = port }
                if type == "NodePort" || type == "LoadBalancer", p["nodePort"] == nil {
                    guard let np = ctx.allocateNodePort() else {
                        throw APIError.internalError("range is full: no more node ports available")
                    }
                    p["nodePort"] = .int(Int64(np))
                }
                ports[i] = .object(p)
            }
            spec["ports"] = .array(ports)
        }
        if type == "ExternalName" {
            if spec["type"] == nil { spec["type"] = "ExternalName" }
            if spec["sessionAffinity"] == nil { spec["sessionAffinity"] = "None" }
            return
        }
        let families = spec["ipFamilies"]?.arrayValue?.compactMap(\.stringValue) ?? []
        let family = families.first ?? "IPv4"
        let requested = spec["clusterIP"]?.stringValue ?? ""
        if requested.isEmpty {
            guard let ip = ctx.allocateClusterIP(family: family) else {
                throw APIError.internalError("failed to allocate a serviceIP: range is full")
            }
            spec["clusterIP"] = .string(ip)
            spec["clusterIPs"] = [.string(ip)]
        } else if requested != "None", old?["clusterIP"]?.stringValue != requested {
            guard ctx.reserveClusterIP(requested) else {
                throw APIError.invalid(kind: "Service", group: "", name: name, [
                    .invalid("spec.clusterIPs", .array([.string(requested)]),
                             "failed to allocate IP \(requested): provided IP is already allocated or not in the valid range"),
                ])
            }
            if spec["clusterIPs"] == nil { spec["clusterIPs"] = [.string(requested)] }
        } else if spec["clusterIPs"] == nil {
            spec["clusterIPs"] = [.string(requested)]
        }
        if spec["type"] == nil { spec["type"] = "ClusterIP" }
        if spec["sessionAffinity"] == nil { spec["sessionAffinity"] = "None" }
        if spec["ipFamilies"] == nil {
            let ip = spec["clusterIP"]?.stringValue ?? ""
            spec["ipFamilies"] = [ip.contains(":") ? "IPv6" : "IPv4"]
        }
        if spec["ipFamilyPolicy"] == nil { spec["ipFamilyPolicy"] = "SingleStack" }
        if spec["internalTrafficPolicy"] == nil { spec["internalTrafficPolicy"] = "Cluster" }
        if type == "NodePort" || type == "LoadBalancer" {
            if spec["externalTrafficPolicy"] == nil { spec["externalTrafficPolicy"] = "Cluster" }
        }
        if type == "LoadBalancer", spec["allocateLoadBalancerNodePorts"] == nil { spec["allocateLoadBalancerNodePorts"] = true }
    }

    func validate(_ obj: JSONObject) -> [FieldError] {
        var errs = ObjectMetaValidation.validate(obj, namespaced: true, nameRule: .dns1035Label)
        let spec = obj["spec"] ?? .null
        let type = spec["type"].stringValue ?? "ClusterIP"
        if !Self.types.contains(type) { errs.append(.notSupported("spec.type", .string(type), Self.types)) }
        let ports = spec["ports"].arrayValue ?? []
        let headless = spec["clusterIP"].stringValue == "None"
        if ports.isEmpty && type != "ExternalName" && !headless { errs.append(.required("spec.ports")) }
        if type == "ExternalName", (spec["externalName"].stringValue ?? "").isEmpty { errs.append(.required("spec.externalName")) }
        var names = Set<String>()
        var portProto = Set<String>()
        for (i, p) in ports.enumerated() {
            let name = p["name"].stringValue ?? ""
            if ports.count > 1 && name.isEmpty { errs.append(.required("spec.ports[\(i)].name")) }
            if !name.isEmpty {
                for m in NameValidation.dns1123Label(name) { errs.append(.invalid("spec.ports[\(i)].name", .string(name), m)) }
                if !names.insert(name).inserted { errs.append(.duplicate("spec.ports[\(i)].name", .string(name))) }
            }
            errs += Check.port(p["port"], "spec.ports[\(i)].port")
            let proto = p["protocol"].stringValue ?? "TCP"
            if !["TCP", "UDP", "SCTP"].contains(proto) {
                errs.append(.notSupported("spec.ports[\(i)].protocol", .string(proto), ["SCTP", "TCP", "UDP"]))
            }
            let key = "\(p["port"].intValue ?? 0)/\(proto)"
            if !portProto.insert(key).inserted {
                errs.append(.duplicate("spec.ports[\(i)]", ["port": p["port"], "protocol": .string(proto)]))
            }
            switch p["targetPort"] {
            case .int: errs += Check.port(p["targetPort"], "spec.ports[\(i)].targetPort")
            case .string(let s):
                if s.isEmpty || s.count > 15 { errs.append(.invalid("spec.ports[\(i)].targetPort", .string(s), "must be no more than 15 characters")) }
            default: break
            }
        }
        if let sel = spec["selector"].objectValue {
            for (k, v) in sel {
                for m in NameValidation.qualifiedName(k) { errs.append(.invalid("spec.selector", .string(k), m)) }
                for m in NameValidation.labelValue(v.stringValue ?? "") { errs.append(.invalid("spec.selector", v, m)) }
            }
        }
        if let sa = spec["sessionAffinity"].stringValue, !["None", "ClientIP"].contains(sa) {
            errs.append(.notSupported("spec.sessionAffinity", .string(sa), ["ClientIP", "None"]))
        }
        return errs
    }

    func validateUpdate(_ obj: JSONObject, old: JSONObject) -> [FieldError] {
        var errs = validate(obj)
        let newIP = obj["spec"]?["clusterIP"].stringValue ?? ""
        let oldIP = old["spec"]?["clusterIP"].stringValue ?? ""
        let newType = obj["spec"]?["type"].stringValue ?? "ClusterIP"
        if newType != "ExternalName", !oldIP.isEmpty, newIP != oldIP {
            errs.append(.invalid("spec.clusterIPs[0]", .string(newIP), "may not change once set"))
        }
        return errs
    }

    func afterDelete(_ obj: JSONObject, _ ctx: any StrategyContext) {
        for ip in obj["spec"]?["clusterIPs"].arrayValue?.compactMap(\.stringValue) ?? [] where ip != "None" {
            ctx.releaseClusterIP(ip)
        }
        for p in obj["spec"]?["ports"].arrayValue ?? [] {
            if let np = p["nodePort"].intValue { ctx.releaseNodePort(Int(np)) }
        }
    }
}
