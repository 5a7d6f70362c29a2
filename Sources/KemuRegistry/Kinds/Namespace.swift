import KemuAPI

extension ResourceKind {
    public static let namespace: ResourceKind = {
        var k = ResourceKind(group: "", version: "v1", kind: "Namespace", resource: "namespaces", singular: "namespace", namespaced: false)
        k.shortNames = ["ns"]
        k.returnsDeletedObject = true
        k.verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
        k.subresources = [
            SubresourceInfo(name: "finalize", verbs: ["update"]),
            ResourceKind.statusSubresource(),
        ]
        k.fieldSelectors = FieldSelectorSet(["status.phase": { $0["status"]?["phase"].stringValue ?? "" }], namespaceSelectable: false)
        k.strategy = NamespaceStrategy()
        return k
    }()
}

struct NamespaceStrategy: KindStrategy {
    func prepareForCreate(_ obj: inout JSONObject, _ ctx: any StrategyContext) throws {
        // The API server labels every namespace with its own name.
        let name = obj.name
        obj.withObject("metadata") { m in m.withObject("labels") { $0["kubernetes.io/metadata.name"] = .string(name) } }
        obj.withObject("spec") { spec in
            if spec["finalizers"] == nil { spec["finalizers"] = ["kubernetes"] }
        }
        obj["status"] = ["phase": "Active"]
    }

    func prepareForUpdate(_ obj: inout JSONObject, old: JSONObject, _ ctx: any StrategyContext) throws {
        obj.withObject("metadata") { m in m.withObject("labels") { $0["kubernetes.io/metadata.name"] = .string(old.name) } }
        // spec.finalizers is only changed through /finalize.
        obj["spec"] = old["spec"]
    }

    func validate(_ obj: JSONObject) -> [FieldError] {
        ObjectMetaValidation.validate(obj, namespaced: false, nameRule: .dnsLabel)
    }
}
