import KemuAPI

extension ResourceKind {
    public static let pod: ResourceKind = {
        var k = ResourceKind(group: "", version: "v1", kind: "Pod", resource: "pods", singular: "pod", namespaced: true)
        k.shortNames = ["po"]
        k.categories = ["all"]
        k.returnsDeletedObject = true
        k.subresources = [
            SubresourceInfo(name: "attach", kind: "PodAttachOptions", verbs: ["create", "get"]),
            SubresourceInfo(name: "binding", kind: "Binding", verbs: ["create"]),
            SubresourceInfo(name: "ephemeralcontainers", verbs: ["get", "patch", "update"]),
            SubresourceInfo(name: "eviction", group: "policy", version: "v1", kind: "Eviction", verbs: ["create"]),
            SubresourceInfo(name: "exec", kind: "PodExecOptions", verbs: ["create", "get"]),
            SubresourceInfo(name: "log", verbs: ["get"]),
            SubresourceInfo(name: "portforward", kind: "PodPortForwardOptions", verbs: ["create", "get"]),
            SubresourceInfo(name: "proxy", kind: "PodProxyOptions", verbs: ["create", "delete", "get", "patch", "update"]),
            ResourceKind.statusSubresource(),
        ]
        k.fieldSelectors = FieldSelectorSet([
            "spec.nodeName": { $0["spec"]?["nodeName"].stringValue ?? "" },
            "spec.restartPolicy": { $0["spec"]?["restartPolicy"].stringValue ?? "" },
            "spec.schedulerName": { $0["spec"]?["schedulerName"].stringValue ?? "" },
            "spec.serviceAccountName": { $0["spec"]?["serviceAccountName"].stringValue ?? "" },
            "spec.hostNetwork": { ($0["spec"]?["hostNetwork"].boolValue ?? false) ? "true" : "false" },
            "status.phase": { $0["status"]?["phase"].stringValue ?? "" },
            "status.podIP": { $0["status"]?["podIPs"][0]["ip"].stringValue ?? $0["status"]?["podIP"].stringValue ?? "" },
            "status.podIPs": { $0["status"]?["podIPs"][0]["ip"].stringValue ?? "" },
            "status.nominatedNodeName": { $0["status"]?["nominatedNodeName"].stringValue ?? "" },
        ])
        k.strategy = PodStrategy()
        return k
    }()
}

extension JSON {
    /// Array element access; `.null` when out of range or not an array.
    public subscript(index: Int) -> JSON {
        if case .array(let a) = self, index >= 0, index < a.count { return a[index] }
        return .null
    }
}

struct PodStrategy: KindStrategy {
    func prepareForCreate(_ obj: inout JSONObject, _ ctx: any StrategyContext) throws {
        obj.withObject("spec") { spec in
            PodSpecRules.applyDefaults(&spec)
            if spec["serviceAccountName"] == nil { spec["serviceAccountName"] = "default"; spec["serviceAccount"] = "default" }
            if spec["enableServiceLinks"] == nil { spec["enableServiceLinks"] = true }
            if spec["preemptionPolicy"] == nil { spec["preemptionPolicy"] = "PreemptLowerPriority" }
            if spec["priority"] == nil { spec["priority"] = 0 }
            if spec["tolerations"] == nil {
                // Added by the DefaultTolerationSeconds admission plugin.
                spec["tolerations"] = [
                    ["key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300],
                    ["key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300],
                ]
            }
        }
        // Pods made from one template (a ReplicaSet's) get equal specs: keep one copy of them.
        if let spec = obj["spec"] { obj["spec"] = JSONInterner.share(spec) }
        obj["status"] = ["phase": "Pending", "qosClass": .string(qosClass(obj["spec"] ?? .null))]
    }

    func prepareForUpdate(_ obj: inout JSONObject, old: JSONObject, _ ctx: any StrategyContext) throws {
        obj.withObject("spec") { PodSpecRules.applyDefaults(&$0) }
    }

    func qosClass(_ spec: JSON) -> String {
        var anyResources = false
        var guaranteed = true
        for c in spec["containers"].arrayValue ?? [] {
            let req = c["resources"]["requests"].objectValue ?? JSONObject()
            let lim = c["resources"]["limits"].objectValue ?? JSONObject()
            if !req.isEmpty || !lim.isEmpty { anyResources = true }
            for r in ["cpu", "memory"] {
                guard let l = lim[r] else { guaranteed = false; continue }
                if let q = req[r], q != l { guaranteed = false }
            }
        }
        if !anyResources { return "BestEffort" }
        return guaranteed ? "Guaranteed" : "Burstable"
    }

    func validate(_ obj: JSONObject) -> [FieldError] {
        ObjectMetaValidation.validate(obj, namespaced: true, nameRule: .dnsSubdomain)
            + PodSpecRules.validate(obj["spec"] ?? .null, path: "spec")
    }

    func validateUpdate(_ obj: JSONObject, old: JSONObject) -> [FieldError] {
        var errs = ObjectMetaValidation.validate(obj, namespaced: true, nameRule: .dnsSubdomain)
        // Pod specs are immutable except for a few fields.
        var newSpec = obj["spec"]?.objectValue ?? JSONObject()
        var oldSpec = old["spec"]?.objectValue ?? JSONObject()
        for mutable in ["activeDeadlineSeconds", "tolerations", "schedulingGates"] { newSpec[mutable] = nil; oldSpec[mutable] = nil }
        if let nc = newSpec["containers"]?.arrayValue, let oc = oldSpec["containers"]?.arrayValue, nc.count == oc.count {
            // Images may change.
            newSpec["containers"] = .array(zip(nc, oc).map { n, o in
                guard case .object(var no) = n else { return n }
                no["image"] = o["image"]
                return .object(no)
            })
        }
        // A pod may be bound once.
        if (oldSpec["nodeName"]?.stringValue ?? "").isEmpty { newSpec["nodeName"] = nil; oldSpec["nodeName"] = nil }
        if newSpec != oldSpec {
            errs.append(.forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"))
        }
        return errs
    }
}
