import KemuAPI

/// apps/v1 ControllerRevisions: immutable snapshots of a StatefulSet's or DaemonSet's pod template
/// (kept by their controllers in KemuControllers/Workloads; `kubectl rollout history/undo` read them).
extension ResourceKind {
    public static let controllerRevision: ResourceKind = {
        let k = ResourceKind(group: "apps", version: "v1", kind: "ControllerRevision", resource: "controllerrevisions",
                             singular: "controllerrevision", namespaced: true)
        k.strategy = ControllerRevisionStrategy()
        return k
    }()
}

/// Upstream's `ValidateControllerRevisionCreate/Update`: a DNS-subdomain name, `data` present and immutable,
/// `revision` not negative.
struct ControllerRevisionStrategy: KindStrategy {
    func validate(_ obj: JSONObject) -> [FieldError] {
        var errs = ObjectMetaValidation.validate(obj, namespaced: true, nameRule: .dnsSubdomain)
        if obj["data"] == nil || obj["data"] == .null { errs.append(.required("data", "data is mandatory")) }
        if let r = obj["revision"]?.intValue, r < 0 {
            errs.append(.invalid("revision", .int(r), "must be greater than or equal to 0"))
        }
        return errs
    }

    func validateUpdate(_ obj: JSONObject, old: JSONObject) -> [FieldError] {
        var errs = validate(obj)
        if obj["data"] != old["data"] { errs.append(.invalid("data", obj["data"] ?? .null, "field is immutable")) }
        return errs
    }
}
