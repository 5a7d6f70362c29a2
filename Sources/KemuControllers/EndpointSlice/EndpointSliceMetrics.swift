import KemuMetrics

/// kube-controller-manager's `endpoint_slice_controller_*` metrics. Confined to the controller's queue.
///
/// Per Service it keeps the desired endpoints, the slices after the last sync and the slices a perfect
/// packing would need (one per port set up to `--max-endpoints-per-slice` endpoints, at least one), and
/// publishes their sums as gauges. Slice changes are counted per sync that succeeded, from its plan.
final class EndpointSliceMetrics {
    static let registry = MetricsRegistry.shared
    static let syncs = registry.counter(
        "endpoint_slice_controller_syncs", help: "[ALPHA] Number of EndpointSlice syncs", labels: ["result"])
    static let changes = registry.counter(
        "endpoint_slice_controller_changes", help: "[ALPHA] Number of EndpointSlice changes", labels: ["operation"])
    static let changedPerSync = registry.histogram(
        "endpoint_slice_controller_endpointslices_changed_per_sync",
        help: "[ALPHA] Number of EndpointSlices changed on each Service sync",
        labels: ["topology", "traffic_distribution"], buckets: Histogram.defaultBuckets)
    static let endpointsDesired = registry.gauge(
        "endpoint_slice_controller_endpoints_desired", help: "[BETA] Number of endpoints desired").labels()
    static let numSlices = registry.gauge(
        "endpoint_slice_controller_num_endpoint_slices", help: "[BETA] Number of EndpointSlices").labels()
    static let desiredSlices = registry.gauge(
        "endpoint_slice_controller_desired_endpoint_slices",
        help: "[BETA] Number of EndpointSlices that would exist with perfect endpoint allocation").labels()
    static let byTrafficDistribution = registry.gauge(
        "endpoint_slice_controller_services_count_by_traffic_distribution",
        help: "[BETA] Number of Services using some specific trafficDistribution", labels: ["traffic_distribution"])

    struct ServiceInfo {
        var endpoints = 0
        var slices = 0
        var desiredSlices = 0
        var trafficDistribution: String?
        var creates = 0, updates = 0, deletes = 0
    }

    var services: [String: ServiceInfo] = [:]
    /// The Service whose plan the running sync made, if it got that far.
    var planned: (key: String, info: ServiceInfo)?

    init() {
        // Present from the start, as upstream's are.
        for r in ["success", "error"] { _ = Self.syncs.labels(r) }
        for op in ["create", "update", "delete"] { _ = Self.changes.labels(op) }
    }

    /// After the reconciler planned one sync of Service `key`.
    func plan(_ key: String, _ view: SliceServiceView, _ desired: DesiredEndpoints, existing: Int, _ plan: SlicePlan,
              maxPerSlice: Int) {
        var info = ServiceInfo()
        for t in desired.addressTypes {
            for g in desired.groupOrder {
                let n = desired.list(t, g).count
                info.endpoints += n
                info.desiredSlices += n <= maxPerSlice ? 1 : (n + maxPerSlice - 1) / maxPerSlice
            }
        }
        info.desiredSlices = max(1, info.desiredSlices)
        info.creates = plan.creates.count
        info.updates = plan.updates.count
        info.deletes = plan.deletes.count
        info.slices = existing + info.creates - info.deletes
        info.trafficDistribution = view.trafficDistribution.map {
            ["PreferClose", "PreferSameZone", "PreferSameNode"].contains($0) ? $0 : "ImplementationSpecific"
        }
        Self.changedPerSync.labels(view.topologyHintsEnabled ? "Auto" : "Disabled", view.trafficDistribution ?? "")
            .observe(Double(info.creates + info.updates + info.deletes))
        planned = (key, info)
    }

    /// After one sync of Service `key`; a sync that planned nothing means the Service is gone or has no selector.
    func synced(_ key: String, error: String?) {
        Self.syncs.labels(error == nil ? "success" : "error").inc()
        let p = planned
        planned = nil
        if let p, p.key == key {
            guard error == nil else { return }
            Self.changes.labels("create").inc(p.info.creates)
            Self.changes.labels("update").inc(p.info.updates)
            Self.changes.labels("delete").inc(p.info.deletes)
            update(key, p.info)
        } else if error == nil {
            update(key, nil)
        }
    }

    func update(_ key: String, _ info: ServiceInfo?) {
        let old = services[key]
        services[key] = info
        Self.endpointsDesired.inc((info?.endpoints ?? 0) - (old?.endpoints ?? 0))
        Self.numSlices.inc((info?.slices ?? 0) - (old?.slices ?? 0))
        Self.desiredSlices.inc((info?.desiredSlices ?? 0) - (old?.desiredSlices ?? 0))
        if old?.trafficDistribution != info?.trafficDistribution {
            if let t = old?.trafficDistribution { Self.byTrafficDistribution.labels(t).dec() }
            if let t = info?.trafficDistribution { Self.byTrafficDistribution.labels(t).inc() }
        }
    }
}
