import KemuAPI

/// What the legacy Endpoints controller wants an `Endpoints` object to be, from a Service and
/// its Pods (upstream pkg/controller/endpoint `syncService`). Pure: no storage, no clocks.
public enum EndpointsBuilder {
    public static let managedByLabel = "endpoints.kubernetes.io/managed-by"
    public static let controllerName = "endpoint-controller"
    public static let headlessLabel = "service.kubernetes.io/headless"
    public static let overCapacityAnnotation = "endpoints.kubernetes.io/over-capacity"
    public static let triggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time"
    public static let leaderElectionAnnotation = "control-plane.alpha.kubernetes.io/leader"
    /// At most this many addresses (ready + not ready) are stored in one Endpoints object.
    public static let maxCapacity = 1000

    // MARK: subsets

    /// The repacked (not yet truncated) subsets for a Service and the pods its selector matches.
    static func subsets(service: SliceServiceView, pods: [PodDigest]) -> [EndpointSubsets.Subset<PodAddress>] {
        let publishNotReady = service.publishNotReadyAddresses
        let headless = service.clusterIP == "None"
        func endpointsPorts(_ ports: [SlicePort]) -> [EndpointSubsets.Port] {
            ports.map { EndpointSubsets.Port(name: $0.name ?? "", port: Int64($0.port ?? 0), proto: $0.proto ?? "TCP", appProtocol: $0.appProtocol) }
        }
        let podIndependentPorts = service.podIndependentPortKey.map { endpointsPorts($0.ports) }
        var raw: [EndpointSubsets.Subset<PodAddress>] = []
        raw.reserveCapacity(pods.count)
        for pod in pods {
            // Terminal pods and pods without an IP never appear; terminating ones only when not-ready
            // addresses are published.
            guard pod.included, publishNotReady || !pod.terminating, let address = address(service: service, pod: pod) else { continue }
            var subset = EndpointSubsets.Subset<PodAddress>()
            if publishNotReady || pod.ready { subset.addresses = [address] } else { subset.notReadyAddresses = [address] }
            if service.ports.isEmpty {
                // A headless Service may have no ports: one port-less subset per pod.
                guard headless else { continue }
            } else {
                subset.ports = podIndependentPorts ?? endpointsPorts(SlicePodRules.ports(service: service, containers: pod.containers))
                guard !subset.ports.isEmpty else { continue }
            }
            raw.append(subset)
        }
        return EndpointSubsets.repack(raw)
    }

    /// The one address a pod contributes: its first IP of the Service's primary family; nil when it has none.
    static func address(service: SliceServiceView, pod: PodDigest) -> PodAddress? {
        let wantV6: Bool
        if let first = service.ipFamilies.first {
            wantV6 = first == "IPv6"
        } else if !service.clusterIP.isEmpty && service.clusterIP != "None" {
            wantV6 = IPAddress(sloppy: service.clusterIP)?.isIPv4Family == false  // utilnet.IsIPv6String
        } else {
            wantV6 = pod.podIPIsIPv6
        }
        guard let ip = (wantV6 ? pod.ipv6 : pod.ipv4).first, !ip.isEmpty else { return nil }
        // The hostname is published when the pod's subdomain names this Service.
        let named = !pod.hostname.isEmpty && pod.subdomain == service.name && pod.namespace == service.namespace
        return PodAddress(ip: ip, hostname: named ? pod.hostname : nil, pod: pod)
    }

    /// Caps the addresses at `maxCapacity`, preferring ready ones and sharing the room among
    /// subsets in proportion to their size. Returns whether anything had to be cut.
    public static func truncate(_ subsets: [JSON], capacity: Int = maxCapacity) -> (subsets: [JSON], truncated: Bool) {
        let (kept, truncated) = EndpointSubsets.truncate(subsets.map(EndpointSubsets.subset), capacity: capacity)
        return (kept.map(\.json), truncated)
    }

    // MARK: the object

    /// A Service "has an IP" unless its clusterIP is empty or `None` (headless).
    public static func isServiceIPSet(_ service: JSONObject) -> Bool {
        let ip = service["spec"]?["clusterIP"].stringValue ?? ""
        return !ip.isEmpty && ip != "None"
    }

    /// The Service's labels plus the controller's managed-by label.
    static func serviceLabelsWithManagedBy(_ service: JSONObject) -> [String: String] {
        var labels = service.labels
        labels[managedByLabel] = controllerName
        return labels
    }

    /// Labels the controller writes: the Service's, managed-by, and the headless marker when the
    /// Service has no cluster IP.
    public static func desiredLabels(_ service: JSONObject) -> [String: String] {
        var labels = serviceLabelsWithManagedBy(service)
        if isServiceIPSet(service) { labels[headlessLabel] = nil } else { labels[headlessLabel] = "" }
        return labels
    }

    /// The over-capacity annotation is right when the stored addresses fit and it says `truncated`
    /// exactly when they were cut. (Upstream requires it absent, but compares untruncated subsets, so
    /// an over-capacity object is rewritten on every sync there anyway.)
    static func capacityAnnotationSetCorrectly(_ current: JSONObject, truncated: Bool) -> Bool {
        let stored = current["subsets"]?.arrayValue ?? []
        if EndpointSubsets.addressCount(stored) > maxCapacity { return false }
        return current.annotations[overCapacityAnnotation] == (truncated ? "truncated" : nil)
    }

    /// The object to write for `service`, given the desired (repacked) `subsets` and what is
    /// stored; nil when the stored object is already right (trigger time alone never causes a
    /// write). `triggerTime` is the RFC 3339 last-change trigger time, nil when there is none.
    public static func reconcile(service: JSONObject, subsets: [JSON], current: JSONObject?, triggerTime: String?) -> JSONObject? {
        let (written, truncated) = truncate(subsets)
        return reconcile(service: service, written: written, truncated: truncated, current: current, triggerTime: triggerTime)
    }

    /// `reconcile` for subsets already truncated to what is written.
    static func reconcile(service: JSONObject, written: [JSON], truncated: Bool, current: JSONObject?, triggerTime: String?) -> JSONObject? {
        // Compared after truncation: upstream compares the full desired subsets, so a Service with more
        // than 1,000 addresses is rewritten on every sync; kemu, which also resyncs after edits, would
        // otherwise write such an object twice.
        if let current {
            var compareLabels = current.labels
            compareLabels[headlessLabel] = nil
            if EndpointSubsets.comparable(current["subsets"]) == EndpointSubsets.comparable(.array(written)),
               compareLabels == serviceLabelsWithManagedBy(service),
               capacityAnnotationSetCorrectly(current, truncated: truncated) {
                return nil
            }
        }
        var obj: JSONObject = current ?? [
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": ["name": .string(service.name), "namespace": .string(service.namespace)],
        ]
        var annotations = current?.annotations ?? [:]
        annotations[triggerTimeAnnotation] = triggerTime
        annotations[overCapacityAnnotation] = truncated ? "truncated" : nil
        var meta = obj.metadata
        meta["labels"] = .stringMap(desiredLabels(service))
        meta["annotations"] = annotations.isEmpty ? nil : .stringMap(annotations)
        obj.metadata = meta
        obj["subsets"] = written.isEmpty ? nil : .array(written)
        return obj
    }
}

/// An address the Endpoints controller derives from a pod.
struct PodAddress: SubsetAddress {
    let ip: String
    let hostname: String?
    let pod: PodDigest

    var refUID: String? { pod.uid }
    /// A pod contributes one address, so the pod (one digest per pod) identifies it.
    var identity: ObjectIdentifier { ObjectIdentifier(pod) }

    var json: JSON {
        if let made = pod.endpointsAddress.withLock({ $0 }), made.ip == ip, made.hostname == hostname { return made.json }
        let json = build()
        pod.endpointsAddress.withLock { $0 = (ip, hostname, json) }
        return json
    }

    private func build() -> JSON {
        var a = JSONObject()
        a.reserveCapacity(hostname == nil ? 3 : 4)  // exactly sized: addresses are stored in Endpoints objects
        a["ip"] = .string(ip)
        if let hostname { a["hostname"] = .string(hostname) }
        // Always present, even when the pod is not scheduled yet.
        a["nodeName"] = .string(pod.nodeName)
        a["targetRef"] = .object(pod.targetRef.json)
        return .object(a)
    }
}

/// Which Services a pod event concerns (upstream `GetServicesToUpdateOnPodChange`).
public enum EndpointsPodChange {
    /// (pod changed in a way endpoints show, labels/hostname/subdomain changed).
    public static func changes(old: JSONObject, new: JSONObject) -> (podChanged: Bool, labelsChanged: Bool) {
        let labelsChanged = old.labels != new.labels
            || old["spec"]?["hostname"].stringValue != new["spec"]?["hostname"].stringValue
            || old["spec"]?["subdomain"].stringValue != new["spec"]?["subdomain"].stringValue
        if old.deletionTimestamp != new.deletionTimestamp { return (true, labelsChanged) }
        if PodFacts.isReady(old) != PodFacts.isReady(new) { return (true, labelsChanged) }
        let oldIPs = (old["status"]?["podIPs"].arrayValue ?? []).map { $0["ip"].stringValue ?? "" }
        let newIPs = (new["status"]?["podIPs"].arrayValue ?? []).map { $0["ip"].stringValue ?? "" }
        return (oldIPs != newIPs, labelsChanged)
    }

    /// The Services to resync after a pod update; `selecting` gives the keys of the Services selecting some labels.
    static func servicesToUpdate(old: JSONObject, new: JSONObject, selecting: ([String: String]) -> Set<String>) -> Set<String> {
        if old.resourceVersion == new.resourceVersion && !old.resourceVersion.isEmpty { return [] }
        let (podChanged, labelsChanged) = changes(old: old, new: new)
        if !podChanged && !labelsChanged { return [] }
        let current = selecting(new.labels)
        guard labelsChanged else { return current }
        let previous = selecting(old.labels)
        return podChanged ? current.union(previous) : current.symmetricDifference(previous)
    }
}
