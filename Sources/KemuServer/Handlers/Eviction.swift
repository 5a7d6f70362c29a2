import KemuAPI
import KemuControllers
import KemuHTTP
import KemuRegistry

/// `pods/eviction` (policy/v1): deletes the pod unless a PodDisruptionBudget forbids it (429).
enum Eviction {
    static func evict(_ s: APIServer, _ c: RequestContext) throws -> HTTPResponse {
        let body = try JSONParser.parse(c.request.body.isEmpty ? Array("{}".utf8) : c.request.body)
        if let k = body["kind"].stringValue, k != "Eviction" {
            throw APIError.badRequest("\(k) in version \"\(body["apiVersion"].stringValue ?? "")\" cannot be handled as a Eviction")
        }
        let name = c.resource.name!
        if let n = body["metadata"]["name"].stringValue, !n.isEmpty, n != name {
            throw APIError.badRequest("name in URL does not match name in Eviction object")
        }
        var opts = DeleteOptions()
        if let g = body["deleteOptions"]["gracePeriodSeconds"].intValue { opts.gracePeriodSeconds = Int(g) }
        if let uid = body["deleteOptions"]["preconditions"]["uid"].stringValue { opts.preconditionUID = uid }
        if let rv = body["deleteOptions"]["preconditions"]["resourceVersion"].stringValue { opts.preconditionResourceVersion = rv }
        opts.dryRun = c.isDryRun || (body["deleteOptions"]["dryRun"].arrayValue?.contains("All") ?? false)

        let pod = try s.storage.get(.pod, namespace: c.namespace, name: name).object
        // A pod that is already terminating or finished can always go.
        let terminal = ["Succeeded", "Failed"].contains(PodFacts.phase(pod))
        if pod.deletionTimestamp == nil && !terminal {
            try checkBudget(s, pod: pod, dryRun: opts.dryRun)
        }
        _ = try s.storage.delete(.pod, namespace: c.namespace, name: name, options: opts)
        return Respond.json(201, Respond.success())
    }

    /// Consumes one allowed disruption of the pod's budget, or refuses with 429 as upstream does.
    static func checkBudget(_ s: APIServer, pod: JSONObject, dryRun: Bool) throws {
        let pdbs = ((try? s.store.list(ResourceKind.podDisruptionBudget.groupResource, namespace: pod.namespace))?.items ?? [])
            .filter { LabelSelector.from(json: $0.object["spec"]?["selector"] ?? .null)?.matches(pod.labels) ?? false }
        guard !pdbs.isEmpty else { return }
        if pdbs.count > 1 {
            throw APIError(code: 500, reason: "InternalError",
                           message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
        }
        let pdb = pdbs[0].object
        let healthy = PodFacts.isReady(pod)
        if !healthy {
            // Unhealthy pods go when the budget is met (IfHealthyBudget) or always (AlwaysAllow).
            let policy = pdb["spec"]?["unhealthyPodEvictionPolicy"].stringValue ?? "IfHealthyBudget"
            let current = pdb["status"]?["currentHealthy"].intValue ?? 0
            let desired = pdb["status"]?["desiredHealthy"].intValue ?? 0
            if policy == "AlwaysAllow" || current >= desired { return }
        }
        let generation = pdb.metadata["generation"]?.intValue ?? 1
        if (pdb["status"]?["observedGeneration"].intValue ?? 0) < generation {
            throw tooMany("The disruption budget \(pdb.name) is still being processed by the server.")
        }
        var refusal: APIError?
        _ = try s.storage.updateOrDryRun(.podDisruptionBudget, namespace: pdb.namespace, name: pdb.name, subresource: "status",
                                 options: WriteOptions(dryRun: dryRun, fieldManager: "kube-apiserver")) { current in
            let allowed = current["status"]?["disruptionsAllowed"].intValue ?? 0
            if allowed <= 0 {
                let needs = current["status"]?["desiredHealthy"].intValue ?? 0
                let has = current["status"]?["currentHealthy"].intValue ?? 0
                refusal = tooMany("The disruption budget \(current.name) needs \(needs) healthy pods and has \(has) currently")
                return current
            }
            var o = current
            o.withObject("status") { st in
                st["disruptionsAllowed"] = .int(allowed - 1)
                st.withObject("disruptedPods") { $0[pod.name] = .string(Timestamp.now()) }
            }
            return o
        }
        if let refusal { throw refusal }
    }

    static func tooMany(_ cause: String) -> APIError {
        var e = APIError.tooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", retryAfter: 10)
        e.causes = [APIError.Cause(reason: "DisruptionBudget", message: cause, field: "")]
        return e
    }
}
