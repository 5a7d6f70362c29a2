import KemuAPI

/// The writes one sync needs, per address type, in upstream's order: creates, updates, deletes.
public struct SlicePlan: Sendable {
    public struct Writes: Sendable {
        public var addressType: String
        public var creates: [SliceState] = []
        public var updates: [SliceState] = []
        public var deletes: [SliceState] = []
    }

    /// One entry per supported address type.
    public var byAddressType: [Writes] = []
    /// Slices of address types the Service no longer has.
    public var unsupportedDeletes: [SliceState] = []
    public var events: [SliceEvent] = []
    /// Errors to report after writing (the sync is retried).
    public var errors: [String] = []
    /// Lookup data computed for existing slices (by UID), worth keeping while they are unchanged.
    var refreshedIndexes: [String: SliceState.SliceIndex] = [:]

    public var creates: [SliceState] { byAddressType.flatMap(\.creates) }
    public var updates: [SliceState] { byAddressType.flatMap(\.updates) }
    public var deletes: [SliceState] { byAddressType.flatMap(\.deletes) + unsupportedDeletes }
    public var writeCount: Int { creates.count + updates.count + deletes.count }
}

/// Turns a Service's desired endpoints and its existing managed slices into the slices to create, update
/// and delete, keeping writes to a minimum (upstream's `Reconciler`). Pure apart from the topology cache.
public struct EndpointSliceReconciler: Sendable {
    public var maxEndpointsPerSlice: Int
    /// The PreferSameTrafficDistribution gate (GA in 1.35): PreferSameZone / PreferSameNode are usable.
    public var preferSameTrafficDistribution = true

    public init(maxEndpointsPerSlice: Int = 100) { self.maxEndpointsPerSlice = max(1, maxEndpointsPerSlice) }

    public func reconcile(service: SliceServiceView, desired: DesiredEndpoints, existing: [SliceState],
                          topology: inout TopologyCache) -> SlicePlan {
        var plan = SlicePlan()
        let types = service.addressTypes
        let serviceKey = "\(service.namespace)/\(service.name)"
        var byType: [String: [SliceState]] = [:]
        for s in existing {
            if types.contains(s.addressType) {
                byType[s.addressType, default: []].append(s)
            } else {
                topology.removeHints(serviceKey, s.addressType)
                plan.unsupportedDeletes.append(s)
            }
        }
        let missing = desired.missingNodeErrors(service: service)
        for t in types {
            plan.errors += missing
            plan.byAddressType.append(reconcile(addressType: t, service: service, desired: desired, existing: byType[t] ?? [],
                                                topology: &topology, events: &plan.events, indexes: &plan.refreshedIndexes))
        }
        return plan
    }

    func reconcile(addressType: String, service: SliceServiceView, desired: DesiredEndpoints, existing: [SliceState],
                   topology: inout TopologyCache, events: inout [SliceEvent],
                   indexes: inout [String: SliceState.SliceIndex]) -> SlicePlan.Writes {
        var creates: [SliceState] = [], updates: [SliceState] = [], deletes: [SliceState] = []
        var existingByKey: [PortSetKey: [SliceState]] = [:]
        var keyOrder: [PortSetKey] = []
        for s in existing {
            if s.isOwned(byServiceUID: service.uid) {
                let k = PortSetKey(s.ports)
                if existingByKey[k] == nil { keyOrder.append(k) }
                existingByKey[k, default: []].append(s)
            } else {
                deletes.append(s)
            }
        }
        for key in desired.groupOrder {
            let r = reconcileByPortMapping(service: service, existing: existingByKey[key] ?? [],
                                           desired: desired.list(addressType, key), ports: key.ports, addressType: addressType,
                                           indexes: &indexes)
            creates += r.creates; updates += r.updates; deletes += r.deletes
        }
        for key in keyOrder where desired.groups[key] == nil { deletes += existingByKey[key]! }

        // Every selector Service keeps at least one slice per address type: an empty placeholder.
        if existing.count == deletes.count && creates.isEmpty {
            let placeholder = service.newSlice(addressType: addressType, ports: [])
            if deletes.count == 1 && Self.placeholderEqual(deletes[0], placeholder) {
                deletes.removeAll()
            } else {
                creates.append(placeholder)
            }
        }

        // Hints.
        let changed = Set(updates.map(\.name) + deletes.map(\.name))
        var si = SliceInfo(serviceKey: "\(service.namespace)/\(service.name)", addressType: addressType, toCreate: creates,
                           toUpdate: updates, unchanged: existing.filter { !changed.contains($0.name) })
        let hintsByAnnotation = service.topologyHintsEnabled
        let useTrafficDistribution = TrafficDistributionHints.valid(service.trafficDistribution, preferSameEnabled: preferSameTrafficDistribution)
            && !hintsByAnnotation
        if hintsByAnnotation {
            events += topology.addHints(&si)
        } else {
            if topology.hasPopulatedHints(si.serviceKey) {
                events.append(SliceEvent(type: "Warning", reason: "TopologyAwareHintsDisabled",
                                         message: TopologyCache.withAddressType(TopologyCache.Message.disabled, addressType)))
            }
            topology.removeHints(si.serviceKey, addressType)
            if !useTrafficDistribution { si.removeHints() }
        }
        if useTrafficDistribution {
            let changedNow = Set(si.toUpdate.map(\.name) + deletes.map(\.name))
            si.unchanged = existing.filter { !changedNow.contains($0.name) }
            TrafficDistributionHints.reconcile(service.trafficDistribution, &si)
        }
        creates = si.toCreate
        updates = si.toUpdate

        // Recycle: a create paired with a delete of the same type becomes an update of the deleted slice's name.
        var i = 0
        while i < deletes.count && !creates.isEmpty {
            let d = deletes[i]
            if d.addressType == creates[creates.count - 1].addressType && d.isOwned(byServiceUID: service.uid) {
                var c = creates.removeLast()
                c.name = d.name
                updates.append(c)
                deletes.remove(at: i)
            } else {
                i += 1
            }
        }
        // No creates while the Service is being deleted (they would race the garbage collector).
        if service.deletionTimestamp != nil { creates.removeAll() }
        return SlicePlan.Writes(addressType: addressType, creates: creates, updates: updates, deletes: deletes)
    }

    /// Packs one port group: keeps endpoints where they are, tops up slices already being updated, then
    /// fills the remainder into one unchanged slice that fits it entirely or into new slices.
    func reconcileByPortMapping(service: SliceServiceView, existing: [SliceState], desired: DesiredEndpoints.EndpointList,
                                ports: [SlicePort], addressType: String, indexes: inout [String: SliceState.SliceIndex])
        -> (creates: [SliceState], updates: [SliceState], deletes: [SliceState])
    {
        enum Status { case unchanged, update, delete }
        let maxEP = maxEndpointsPerSlice
        var matched = [Bool](repeating: false, count: desired.count)
        var remaining = desired.count
        var slices = existing
        var status = [Status](repeating: .unchanged, count: existing.count)
        var keep: [Int] = []
        var kept = [[Int]](repeating: [], count: existing.count)

        // 1. Existing slices: keep desired endpoints in place, drop the rest, note changes.
        for si in slices.indices {
            if slices[si].index == nil { slices[si].buildIndex() }
            var idx = slices[si].index!
            let count = idx.identityHashes.count
            // Where each endpoint's pod sits in the desired list: looked up once per list layout.
            if idx.positions?.layout != desired.layout {
                idx.positions = (desired.layout, idx.podNames.map { name in name.flatMap { desired.index[$0] } ?? -1 })
                let uid = slices[si].uid
                if !uid.isEmpty { indexes[uid] = idx }
            }
            let at = idx.positions!.at
            keep.removeAll(keepingCapacity: true)
            var endpointChanged = false
            for j in 0..<count {
                let p = at[j]
                if p >= 0 && !matched[p] && desired.identityHashes[p] == idx.identityHashes[j] {
                    matched[p] = true
                    remaining -= 1
                    keep.append(p)
                    if desired.detailHashes[p] != idx.detailHashes[j] { endpointChanged = true }
                }
            }
            kept[si] = keep
            let labels = service.sliceLabels
            let labelsChanged = service.labelsDrifted(slices[si].labels)
            if endpointChanged || keep.count != count {
                if keep.isEmpty {
                    status[si] = .delete
                } else {
                    slices[si].endpoints = keep.map { desired.endpoints[$0] }
                    slices[si].index = nil
                    slices[si].labels = labels
                    status[si] = .update
                }
            } else if labelsChanged {
                slices[si].labels = labels
                status[si] = .update
            }
        }

        var cursor = 0
        /// Takes the next unplaced desired endpoint into `slice`.
        func place(into slice: inout SliceState, _ positions: inout [Int]) {
            while matched[cursor] { cursor += 1 }
            matched[cursor] = true
            remaining -= 1
            slice.endpoints.append(desired.endpoints[cursor])
            positions.append(cursor)
        }

        // 2. Top up slices already being updated, fullest first.
        if remaining > 0 {
            let order = slices.indices.filter { status[$0] == .update }.sorted { slices[$0].endpoints.count > slices[$1].endpoints.count }
            for si in order {
                slices[si].index = nil
                while remaining > 0 && slices[si].endpoints.count < maxEP { place(into: &slices[si], &kept[si]) }
            }
        }

        // 3. The rest: into the unchanged slice closest to full that takes all of it, else new slices.
        var creates: [SliceState] = []
        while remaining > 0 {
            var target: Int?
            if remaining < maxEP {
                var closest = maxEP
                for si in slices.indices where status[si] == .unchanged {
                    let diff = maxEP - (remaining + slices[si].endpoints.count)
                    if diff >= 0 && diff < closest {
                        closest = diff
                        target = si
                        if diff == 0 { break }
                    }
                }
            }
            if let si = target {
                slices[si].index = nil
                while remaining > 0 && slices[si].endpoints.count < maxEP { place(into: &slices[si], &kept[si]) }
                status[si] = .update
            } else {
                var s = service.newSlice(addressType: addressType, ports: ports)
                var positions: [Int] = []
                s.endpoints.reserveCapacity(min(remaining, maxEP))
                while remaining > 0 && s.endpoints.count < maxEP { place(into: &s, &positions) }
                s.sourcePositions = (desired.layout, positions)
                creates.append(s)
            }
        }

        var updates: [SliceState] = [], deletes: [SliceState] = []
        for si in slices.indices {
            switch status[si] {
            case .update:
                slices[si].sourcePositions = (desired.layout, kept[si])
                updates.append(slices[si])
            case .delete: deletes.append(slices[si])
            case .unchanged: break
            }
        }
        return (creates, updates, deletes)
    }

    /// Placeholder equality: namespace, all labels, ownerReferences, address type, ports and endpoints
    /// (nil and empty lists equal); name, annotations and timestamps are ignored.
    static func placeholderEqual(_ a: SliceState, _ b: SliceState) -> Bool {
        a.namespace == b.namespace && a.labels == b.labels && a.ownerReferences == b.ownerReferences
            && a.addressType == b.addressType && (a.ports ?? []) == (b.ports ?? []) && a.endpoints == b.endpoints
    }
}

extension EndpointSliceReconciler {
    /// Convenience for callers holding plain objects: builds the desired state from `pods` (already selected
    /// by the Service) and `nodes` (by name) and reconciles it against `slices`.
    public func reconcile(service svc: JSONObject, pods: [JSONObject], nodes: [String: JSONObject], slices: [JSONObject],
                          topology: inout TopologyCache) -> SlicePlan {
        let service = SliceServiceView(svc)
        let desired = Self.desired(service: service, pods: pods, nodes: nodes)
        return reconcile(service: service, desired: desired, existing: slices.map(SliceState.init(object:)), topology: &topology)
    }

    public func reconcile(service: JSONObject, pods: [JSONObject], nodes: [String: JSONObject], slices: [JSONObject]) -> SlicePlan {
        var t = TopologyCache()
        return reconcile(service: service, pods: pods, nodes: nodes, slices: slices, topology: &t)
    }

    public static func desired(service: SliceServiceView, pods: [JSONObject], nodes: [String: JSONObject]) -> DesiredEndpoints {
        var d = DesiredEndpoints(addressTypes: service.addressTypes, publishNotReadyAddresses: service.publishNotReadyAddresses)
        for p in pods {
            let pod = PodDigest(p)
            let node = pod.nodeName.isEmpty ? nil : nodes[pod.nodeName].map(SliceNodeView.init)
            d.set(pod.name, SlicePodRules.contribution(pod, service: service, node: node))
        }
        return d
    }
}
