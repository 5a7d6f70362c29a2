import KemuAPI

/// Defaults and validation for a PodSpec, shared by Pods and the pod templates of workloads.
enum PodSpecRules {
    static func applyDefaults(_ spec: inout JSONObject) {
        if spec["restartPolicy"] == nil { spec["restartPolicy"] = "Always" }
        if spec["terminationGracePeriodSeconds"] == nil { spec["terminationGracePeriodSeconds"] = 30 }
        if spec["dnsPolicy"] == nil { spec["dnsPolicy"] = "ClusterFirst" }
        if spec["securityContext"] == nil { spec["securityContext"] = .object(JSONObject()) }
        if spec["schedulerName"] == nil { spec["schedulerName"] = "default-scheduler" }
        // Lists and objects are written back only when a default was added, so a spec that has its defaults
        // (an update's) keeps sharing its storage with the stored one.
        for list in ["containers", "initContainers"] {
            guard var cs = spec[list]?.arrayValue else { continue }
            var listChanged = false
            for i in cs.indices {
                guard case .object(var c) = cs[i] else { continue }
                var changed = false
                func setDefault(_ key: String, _ value: @autoclosure () -> JSON) {
                    if c[key] == nil { c[key] = value(); changed = true }
                }
                setDefault("terminationMessagePath", "/dev/termination-log")
                setDefault("terminationMessagePolicy", "File")
                setDefault("resources", .object(JSONObject()))
                setDefault("imagePullPolicy", {
                    let image = c["image"]?.stringValue ?? ""
                    let lastSegment = image.split(separator: "/").last.map(String.init) ?? image
                    let untagged = !lastSegment.contains(":") && !image.contains("@")
                    return (untagged || image.hasSuffix(":latest")) ? "Always" : "IfNotPresent"
                }())
                if var ports = c["ports"]?.arrayValue {
                    var portsChanged = false
                    for j in ports.indices {
                        if case .object(var p) = ports[j], p["protocol"] == nil { p["protocol"] = "TCP"; ports[j] = .object(p); portsChanged = true }
                    }
                    if portsChanged { c["ports"] = .array(ports); changed = true }
                }
                if changed { cs[i] = .object(c); listChanged = true }
            }
            if listChanged { spec[list] = .array(cs) }
        }
    }

    static func validate(_ spec: JSON, path: String) -> [FieldError] {
        var errs: [FieldError] = []
        guard case .object(let s) = spec else { return [.required(path)] }
        let containers = s["containers"]?.arrayValue ?? []
        if containers.isEmpty { errs.append(.required("\(path).containers")) }
        var names = Set<String>()
        for list in ["initContainers", "containers"] {
            for (i, c) in (s[list]?.arrayValue ?? []).enumerated() {
                let field = "\(path).\(list)[\(i)]"
                let name = c["name"].stringValue ?? ""
                if name.isEmpty {
                    errs.append(.required("\(field).name"))
                } else {
                    for m in NameValidation.dns1123Label(name) { errs.append(.invalid("\(field).name", .string(name), m)) }
                    if !names.insert(name).inserted { errs.append(.duplicate("\(field).name", .string(name))) }
                }
                if (c["image"].stringValue ?? "").isEmpty { errs.append(.required("\(field).image")) }
                for (j, p) in (c["ports"].arrayValue ?? []).enumerated() {
                    errs += Check.port(p["containerPort"], "\(field).ports[\(j)].containerPort")
                    if let pn = p["name"].stringValue, !pn.isEmpty {
                        if pn.count > 15 { errs.append(.invalid("\(field).ports[\(j)].name", .string(pn), "must be no more than 15 characters")) }
                    }
                }
            }
        }
        if let rp = s["restartPolicy"]?.stringValue, !["Always", "OnFailure", "Never"].contains(rp) {
            errs.append(.notSupported("\(path).restartPolicy", .string(rp), ["Always", "OnFailure", "Never"]))
        }
        if let h = s["hostname"]?.stringValue {
            for m in NameValidation.dns1123Label(h) { errs.append(.invalid("\(path).hostname", .string(h), m)) }
        }
        if let sd = s["subdomain"]?.stringValue {
            for m in NameValidation.dns1123Label(sd) { errs.append(.invalid("\(path).subdomain", .string(sd), m)) }
        }
        return errs
    }
}
