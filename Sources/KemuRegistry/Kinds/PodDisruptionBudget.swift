import KemuAPI

extension ResourceKind {
    public static let podDisruptionBudget: ResourceKind = {
        let k = ResourceKind(group: "policy", version: "v1", kind: "PodDisruptionBudget", resource: "poddisruptionbudgets",
                             singular: "poddisruptionbudget", namespaced: true)
        k.shortNames = ["pdb"]
        k.tracksGeneration = true
        k.subresources = [ResourceKind.statusSubresource()]
        k.strategy = PodDisruptionBudgetStrategy()
        return k
    }()
}

struct PodDisruptionBudgetStrategy: KindStrategy {
    func prepareForCreate(_ obj: inout JSONObject, _ ctx: any StrategyContext) throws {
        obj["status"] = ["disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0]
    }

    func validate(_ obj: JSONObject) -> [FieldError] {
        var errs = ObjectMetaValidation.validate(obj, namespaced: true, nameRule: .dnsSubdomain)
        let spec = obj["spec"] ?? .null
        let min = spec["minAvailable"], max = spec["maxUnavailable"]
        if !min.isNull && !max.isNull {
            errs.append(.invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
        }
        for (field, v) in [("spec.minAvailable", min), ("spec.maxUnavailable", max)] {
            switch v {
            case .int(let n) where n < 0: errs.append(.invalid(field, v, "must be greater than or equal to 0"))
            case .string(let s) where DisruptionMath.percent(s) == nil:
                errs.append(.invalid(field, v, "a valid percent string must be a numeric string followed by an ending '%'"))
            default: break
            }
        }
        if let p = spec["unhealthyPodEvictionPolicy"].stringValue, !["IfHealthyBudget", "AlwaysAllow"].contains(p) {
            errs.append(.notSupported("spec.unhealthyPodEvictionPolicy", .string(p), ["AlwaysAllow", "IfHealthyBudget"]))
        }
        return errs
    }
}

/// Budget arithmetic shared by the disruption controller and the eviction check.
public enum DisruptionMath {
    /// `"25%"` → 25.
    public static func percent(_ s: String) -> Int? {
        guard s.hasSuffix("%"), let n = Int(s.dropLast()), n >= 0 else { return nil }
        return n
    }

    /// How many healthy pods the budget requires, given how many pods it expects.
    public static func desiredHealthy(spec: JSON, expected: Int) -> Int {
        func scaled(_ v: JSON, roundUp: Bool) -> Int? {
            switch v {
            case .int(let n): return Int(n)
            case .string(let s):
                guard let p = percent(s) else { return Int(s) }
                let exact = Double(p * expected) / 100
                return roundUp ? Int(exact.rounded(.up)) : Int(exact.rounded(.down))
            default: return nil
            }
        }
        if let min = scaled(spec["minAvailable"], roundUp: true) { return min }
        if let maxUnavailable = scaled(spec["maxUnavailable"], roundUp: true) { return Swift.max(0, expected - maxUnavailable) }
        return expected  // neither set: upstream defaults minAvailable to 1 for policy/v1beta1; v1 requires one
    }
}
