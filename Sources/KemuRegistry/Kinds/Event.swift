import KemuAPI

/// core/v1 Events: what controllers (and clients) report about objects. kube-apiserver keeps them for
/// `--event-ttl` after their last write (KemuServer's `EventExpiry`); kemu's controllers write theirs
/// through `EventRecorder` (KemuControllers/Events).
extension ResourceKind {
    public static let event: ResourceKind = {
        let k = ResourceKind(group: "", version: "v1", kind: "Event", resource: "events", singular: "event", namespaced: true)
        k.shortNames = ["ev"]
        // Upstream's field label conversion for v1 Events (metadata.name and metadata.namespace come with every kind).
        k.fieldSelectors = FieldSelectorSet([
            "involvedObject.kind": { $0["involvedObject"]?["kind"].stringValue ?? "" },
            "involvedObject.namespace": { $0["involvedObject"]?["namespace"].stringValue ?? "" },
            "involvedObject.name": { $0["involvedObject"]?["name"].stringValue ?? "" },
            "involvedObject.uid": { $0["involvedObject"]?["uid"].stringValue ?? "" },
            "involvedObject.apiVersion": { $0["involvedObject"]?["apiVersion"].stringValue ?? "" },
            "involvedObject.resourceVersion": { $0["involvedObject"]?["resourceVersion"].stringValue ?? "" },
            "involvedObject.fieldPath": { $0["involvedObject"]?["fieldPath"].stringValue ?? "" },
            "reason": { $0["reason"]?.stringValue ?? "" },
            "reportingComponent": { $0["reportingComponent"]?.stringValue ?? "" },
            "source": { $0["source"]?["component"].stringValue ?? "" },
            "type": { $0["type"]?.stringValue ?? "" },
        ])
        k.strategy = EventStrategy()
        return k
    }()
}

/// kube-apiserver's event strategy for requests to core/v1: the legacy validation only (events.k8s.io's strict
/// rules do not apply to v1 writes), then object-meta rules with path-segment names, so `<object>.<hex>` names pass.
struct EventStrategy: KindStrategy {
    func prepareForCreate(_ obj: inout JSONObject, _ ctx: any StrategyContext) throws { Self.canonicalize(&obj) }
    func prepareForUpdate(_ obj: inout JSONObject, old: JSONObject, _ ctx: any StrategyContext) throws { Self.canonicalize(&obj) }

    /// Top-level fields in the order Go encodes a v1.Event, with the fields Go always writes present
    /// (`source: {}`, null timestamps, empty reporting fields) and empty omitempty ones left out.
    static let fieldOrder = ["kind", "apiVersion", "metadata", "involvedObject", "reason", "message", "source", "firstTimestamp",
                             "lastTimestamp", "count", "type", "eventTime", "series", "action", "related",
                             "reportingComponent", "reportingInstance"]
    static let alwaysWritten: [String: JSON] = [
        "involvedObject": .object(JSONObject()), "source": .object(JSONObject()), "firstTimestamp": .null,
        "lastTimestamp": .null, "eventTime": .null, "reportingComponent": "", "reportingInstance": "",
    ]
    static let referenceOrder = ObjectReference.fieldNames

    static func canonicalize(_ obj: inout JSONObject) {
        var out = JSONObject()
        for key in fieldOrder {
            var v = obj[key]
            if v == nil || (v!.isNull && alwaysWritten[key]?.objectValue != nil) { v = alwaysWritten[key] }
            switch key {
            case "reason", "message", "type", "action":
                if v?.stringValue == "" { v = nil }
            case "count":
                if v?.intValue == 0 { v = nil }
            case "involvedObject", "related":
                if case .object(let ref)? = v { v = .object(reordered(ref, referenceOrder)) }
            case "source":
                if case .object(let s)? = v { v = .object(reordered(s, ["component", "host"])) }
            default: break
            }
            if let v, !(v.isNull && alwaysWritten[key] == nil) { out[key] = v }
        }
        for (k, v) in obj where out[k] == nil && !fieldOrder.contains(k) { out[k] = v }
        out.shrinkToFit()  // events are kept by the hundred thousand
        obj = out
    }

    /// Known keys in Go order, empty strings dropped (omitempty), unknown keys kept after them. An object already
    /// in that form is returned as it is, so that it stays shared with the reference the recorder keeps.
    static func reordered(_ o: JSONObject, _ order: [String]) -> JSONObject {
        if isCanonical(o, order) { return o }
        var out = JSONObject()
        out.reserveCapacity(o.count)
        for k in order { if let v = o[k], v.stringValue != "" { out[k] = v } }
        for (k, v) in o where !order.contains(k) { out[k] = v }
        return out
    }

    /// Only known keys, in `order`, none of them an empty string.
    static func isCanonical(_ o: JSONObject, _ order: [String]) -> Bool {
        var next = order.startIndex
        for (k, v) in o {
            guard let i = order[next...].firstIndex(of: k), v.stringValue != "" else { return false }
            next = i + 1
        }
        return true
    }

    func validate(_ obj: JSONObject) -> [FieldError] {
        let errs = Self.legacyValidation(obj)
        if !errs.isEmpty { return errs }
        return ObjectMetaValidation.validate(obj, namespaced: true, nameRule: .pathSegment)
    }

    func validateUpdate(_ obj: JSONObject, old: JSONObject) -> [FieldError] { Self.legacyValidation(obj) }

    static let reportingInstanceLimit = 128, actionLimit = 128, reasonLimit = 128, noteLimit = 1024

    /// `legacyValidateEvent` for a core/v1 request.
    static func legacyValidation(_ obj: JSONObject) -> [FieldError] {
        var errs: [FieldError] = []
        let ns = obj.namespace
        let involvedNS = obj["involvedObject"]?["namespace"].stringValue ?? ""
        let mismatch = FieldError.invalid("involvedObject.namespace", .string(involvedNS), "does not match event.namespace")
        let eventTime = obj["eventTime"] ?? .null
        if eventTime.isNull || eventTime.stringValue == "" {
            // Old-style events: the namespaces must agree (an object without one may be reported in "default").
            if involvedNS.isEmpty ? !(ns.isEmpty || ns == "default") : ns != involvedNS { errs.append(mismatch) }
        } else {
            if involvedNS.isEmpty && ns != "default" && ns != "kube-system" { errs.append(mismatch) }
            let controller = obj["reportingComponent"]?.stringValue ?? ""
            if controller.isEmpty { errs.append(.required("reportingComponent", "")) }
            for m in NameValidation.qualifiedName(controller) { errs.append(.invalid("reportingComponent", .string(controller), m)) }
            func limited(_ field: String, _ limit: Int, required: Bool) {
                let v = obj[field]?.stringValue ?? ""
                if required && v.isEmpty { errs.append(.required(field, "")) }
                if v.utf8.count > limit { errs.append(.invalid(field, "", "can have at most \(limit) characters")) }
            }
            limited("reportingInstance", reportingInstanceLimit, required: true)
            limited("action", actionLimit, required: true)
            limited("reason", reasonLimit, required: true)
            limited("message", noteLimit, required: false)
        }
        return errs
    }
}
