import KemuAPI

/// apps/v1 workloads: stored and defaulted here; their controllers live in KemuControllers/Workloads.
extension ResourceKind {
    static func workload(_ kind: String, _ resource: String, _ singular: String, short: String, scale: Bool) -> ResourceKind {
        var k = ResourceKind(group: "apps", version: "v1", kind: kind, resource: resource, singular: singular, namespaced: true)
        k.shortNames = [short]
        k.categories = ["all"]
        k.tracksGeneration = true
        k.subresources = (scale ? [ResourceKind.scaleSubresource()] : []) + [ResourceKind.statusSubresource()]
        return k
    }

    public static let deployment: ResourceKind = {
        var k = workload("Deployment", "deployments", "deployment", short: "deploy", scale: true)
        k.strategy = WorkloadStrategy(kind: "Deployment")
        return k
    }()

    public static let replicaSet: ResourceKind = {
        var k = workload("ReplicaSet", "replicasets", "replicaset", short: "rs", scale: true)
        k.fieldSelectors = FieldSelectorSet(["status.replicas": { String($0["status"]?["replicas"].intValue ?? 0) }])
        k.strategy = WorkloadStrategy(kind: "ReplicaSet")
        return k
    }()

    public static let statefulSet: ResourceKind = {
        var k = workload("StatefulSet", "statefulsets", "statefulset", short: "sts", scale: true)
        k.strategy = WorkloadStrategy(kind: "StatefulSet")
        return k
    }()

    public static let daemonSet: ResourceKind = {
        var k = workload("DaemonSet", "daemonsets", "daemonset", short: "ds", scale: false)
        k.strategy = WorkloadStrategy(kind: "DaemonSet")
        return k
    }()
}

struct WorkloadStrategy: KindStrategy {
    let kind: String

    func prepareForCreate(_ obj: inout JSONObject, _ ctx: any StrategyContext) throws {
        applyDefaults(&obj)
        obj["status"] = .object(JSONObject())
    }

    func prepareForUpdate(_ obj: inout JSONObject, old: JSONObject, _ ctx: any StrategyContext) throws {
        applyDefaults(&obj)
    }

    func applyDefaults(_ obj: inout JSONObject) {
        obj.withObject("spec") { spec in
            if kind != "DaemonSet", spec["replicas"] == nil { spec["replicas"] = 1 }
            switch kind {
            case "Deployment":
                if spec["strategy"] == nil {
                    spec["strategy"] = ["type": "RollingUpdate", "rollingUpdate": ["maxUnavailable": "25%", "maxSurge": "25%"]]
                } else {
                    spec.withObject("strategy") { s in
                        if s["type"] == nil { s["type"] = "RollingUpdate" }
                        if s["type"]?.stringValue == "RollingUpdate" {
                            s.withObject("rollingUpdate") { ru in
                                if ru["maxUnavailable"] == nil { ru["maxUnavailable"] = "25%" }
                                if ru["maxSurge"] == nil { ru["maxSurge"] = "25%" }
                            }
                        }
                    }
                }
                if spec["revisionHistoryLimit"] == nil { spec["revisionHistoryLimit"] = 10 }
                if spec["progressDeadlineSeconds"] == nil { spec["progressDeadlineSeconds"] = 600 }
            case "StatefulSet":
                if spec["podManagementPolicy"] == nil { spec["podManagementPolicy"] = "OrderedReady" }
                if spec["updateStrategy"] == nil { spec["updateStrategy"] = ["type": "RollingUpdate", "rollingUpdate": ["partition": 0]] }
                if spec["revisionHistoryLimit"] == nil { spec["revisionHistoryLimit"] = 10 }
                if spec["persistentVolumeClaimRetentionPolicy"] == nil {
                    spec["persistentVolumeClaimRetentionPolicy"] = ["whenDeleted": "Retain", "whenScaled": "Retain"]
                }
            case "DaemonSet":
                if spec["updateStrategy"] == nil {
                    spec["updateStrategy"] = ["type": "RollingUpdate", "rollingUpdate": ["maxUnavailable": 1, "maxSurge": 0]]
                }
                if spec["revisionHistoryLimit"] == nil { spec["revisionHistoryLimit"] = 10 }
            default: break
            }
            spec.withObject("template") { t in
                if t["metadata"] == nil { t["metadata"] = .object(JSONObject()) }
                t.withObject("spec") { PodSpecRules.applyDefaults(&$0) }
            }
        }
    }

    func validate(_ obj: JSONObject) -> [FieldError] {
        var errs = ObjectMetaValidation.validate(obj, namespaced: true, nameRule: .dnsSubdomain)
        let spec = obj["spec"] ?? .null
        if let r = spec["replicas"].intValue, r < 0 {
            errs.append(.invalid("spec.replicas", .int(r), "must be greater than or equal to 0"))
        }
        let selectorJSON = spec["selector"]
        let selector = LabelSelector.from(json: selectorJSON)
        if selectorJSON.isNull {
            errs.append(.required("spec.selector"))
        } else if selector == nil || selector!.isEmpty {
            errs.append(.invalid("spec.selector", selectorJSON, "empty selector is invalid for deployment"))
        }
        let templateLabels = spec["template"]["metadata"]["labels"].stringMap ?? [:]
        if let selector, !selector.isEmpty, !selector.matches(templateLabels) {
            errs.append(.invalid("spec.template.metadata.labels", .stringMap(templateLabels), "`selector` does not match template `labels`"))
        }
        errs += PodSpecRules.validate(spec["template"]["spec"], path: "spec.template.spec")
        if kind == "Deployment", let t = spec["strategy"]["type"].stringValue, !["Recreate", "RollingUpdate"].contains(t) {
            errs.append(.notSupported("spec.strategy.type", .string(t), ["Recreate", "RollingUpdate"]))
        }
        if kind == "StatefulSet", let p = spec["podManagementPolicy"].stringValue, !["OrderedReady", "Parallel"].contains(p) {
            errs.append(.notSupported("spec.podManagementPolicy", .string(p), ["OrderedReady", "Parallel"]))
        }
        return errs
    }

    func validateUpdate(_ obj: JSONObject, old: JSONObject) -> [FieldError] {
        var errs = validate(obj)
        if obj["spec"]?["selector"] != old["spec"]?["selector"] {
            errs.append(.invalid("spec.selector", obj["spec"]?["selector"] ?? .null, "field is immutable"))
        }
        return errs
    }
}
