import KemuAPI

extension ResourceKind {
    public static let node: ResourceKind = {
        var k = ResourceKind(group: "", version: "v1", kind: "Node", resource: "nodes", singular: "node", namespaced: false)
        k.shortNames = ["no"]
        k.subresources = [
            SubresourceInfo(name: "proxy", kind: "NodeProxyOptions", verbs: ["create", "delete", "get", "patch", "update"]),
            ResourceKind.statusSubresource(),
        ]
        k.fieldSelectors = FieldSelectorSet([
            "spec.unschedulable": { ($0["spec"]?["unschedulable"].boolValue ?? false) ? "true" : "false" },
        ], namespaceSelectable: false)
        k.strategy = NodeStrategy()
        return k
    }()
}

struct NodeStrategy: KindStrategy {
    // Nodes may set status on create (kubelets register that way).
    func validate(_ obj: JSONObject) -> [FieldError] {
        var errs = ObjectMetaValidation.validate(obj, namespaced: false, nameRule: .dnsSubdomain)
        if let taints = obj["spec"]?["taints"].arrayValue {
            for (i, t) in taints.enumerated() {
                let effect = t["effect"].stringValue ?? ""
                if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(effect) {
                    errs.append(.notSupported("spec.taints[\(i)].effect", .string(effect), ["NoExecute", "NoSchedule", "PreferNoSchedule"]))
                }
                if (t["key"].stringValue ?? "").isEmpty { errs.append(.required("spec.taints[\(i)].key")) }
            }
        }
        return errs
    }
}
