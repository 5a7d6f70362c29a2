import Synchronization

/// The desired endpoints of one Service, grouped by address type and port set, kept up to date
/// pod by pod so a sync after one pod change costs a lookup, not a rebuild.
public struct DesiredEndpoints: Sendable {
    /// Endpoints of one (address type, port set) group; positions are stable except for swap-removal.
    public struct EndpointList: Sendable {
        public internal(set) var endpoints: [SliceEndpoint] = []
        var podNames: [String] = []
        var identityHashes: [Int] = []
        var detailHashes: [Int] = []
        var index: [String: Int] = [:]
        /// Changes whenever a pod gains or loses a position (never reused), so positions looked up
        /// for an existing slice stay valid while it is unchanged.
        var layout: UInt64 = EndpointList.nextLayout()

        static let layoutCounter = Atomic<UInt64>(0)
        static func nextLayout() -> UInt64 { layoutCounter.add(1, ordering: .relaxed).newValue }

        mutating func put(_ pod: String, _ ep: SliceEndpoint) {
            if let i = index[pod] {
                endpoints[i] = ep
                identityHashes[i] = ep.identityHash
                detailHashes[i] = ep.detailHash
                return
            }
            layout = Self.nextLayout()
            index[pod] = endpoints.count
            endpoints.append(ep)
            podNames.append(pod)
            identityHashes.append(ep.identityHash)
            detailHashes.append(ep.detailHash)
        }

        mutating func remove(_ pod: String) {
            guard let i = index.removeValue(forKey: pod) else { return }
            layout = Self.nextLayout()
            let last = endpoints.count - 1
            if i != last {
                endpoints.swapAt(i, last)
                podNames.swapAt(i, last)
                identityHashes.swapAt(i, last)
                detailHashes.swapAt(i, last)
                index[podNames[i]] = i
            }
            endpoints.removeLast()
            podNames.removeLast()
            identityHashes.removeLast()
            detailHashes.removeLast()
        }

        public var count: Int { endpoints.count }
    }

    public let addressTypes: [String]
    public let publishNotReadyAddresses: Bool
    /// Port groups that exist (some included pod has this port set), with how many pods have it.
    public private(set) var groups: [PortSetKey: Int] = [:]
    /// Group keys in first-seen order, for a stable iteration order.
    public private(set) var groupOrder: [PortSetKey] = []
    public private(set) var lists: [String: [PortSetKey: EndpointList]] = [:]
    public private(set) var contributions: [String: PodContribution] = [:]
    /// Pods skipped because their Node does not exist: pod name → node name.
    public private(set) var missingNode: [String: String] = [:]

    public init(addressTypes: [String], publishNotReadyAddresses: Bool) {
        self.addressTypes = addressTypes
        self.publishNotReadyAddresses = publishNotReadyAddresses
        for t in addressTypes { lists[t] = [:] }
    }

    public mutating func reserveCapacity(_ n: Int) { contributions.reserveCapacity(n) }

    /// Replaces what `pod` contributes (nil: the pod is gone or no longer selected).
    public mutating func set(_ pod: String, _ c: PodContribution?) {
        // Same group, same skip decision: update in place so positions (and cached lookups) stay valid.
        if let c, let old = contributions[pod], old.included, c.included, old.portKey == c.portKey, skipped(old) == skipped(c) {
            contributions[pod] = c
            if skipped(c) {
                missingNode[pod] = c.nodeName
                return
            }
            for t in addressTypes {
                if let ep = c.endpoint(t) {
                    lists[t]![c.portKey, default: EndpointList()].put(pod, ep)
                } else if old.endpoint(t) != nil {
                    lists[t]![c.portKey]?.remove(pod)
                }
            }
            return
        }
        if let old = contributions.removeValue(forKey: pod) { withdraw(old) }
        guard let c else { return }
        contributions[pod] = c
        guard c.included else { return }
        if let n = groups[c.portKey] { groups[c.portKey] = n + 1 } else {
            groups[c.portKey] = 1
            groupOrder.append(c.portKey)
        }
        if skipped(c) {
            missingNode[pod] = c.nodeName
            return
        }
        for t in addressTypes {
            guard let ep = c.endpoint(t) else { continue }
            lists[t]![c.portKey, default: EndpointList()].put(pod, ep)
        }
    }

    /// The pod's Node is missing and not-ready addresses are not published: no endpoint, an error.
    func skipped(_ c: PodContribution) -> Bool { c.nodeMissing && !publishNotReadyAddresses }

    mutating func withdraw(_ c: PodContribution) {
        guard c.included else { return }
        missingNode[c.podName] = nil
        for t in addressTypes where c.endpoint(t) != nil {
            lists[t]![c.portKey]?.remove(c.podName)
        }
        let n = (groups[c.portKey] ?? 1) - 1
        if n > 0 { groups[c.portKey] = n } else {
            groups[c.portKey] = nil
            groupOrder.removeAll { $0 == c.portKey }
            for t in addressTypes { lists[t]![c.portKey] = nil }
        }
    }

    /// The endpoints of a group for one address type (empty when the group has none of that family).
    public func list(_ addressType: String, _ key: PortSetKey) -> EndpointList {
        lists[addressType]?[key] ?? EndpointList()
    }

    /// Errors for pods whose Node is missing, as upstream reports them (once per address type).
    func missingNodeErrors(service: SliceServiceView) -> [String] {
        missingNode.sorted { $0.key < $1.key }.map {
            "skipping Pod \($0.key) for Service \(service.namespace)/\(service.name): Node \($0.value) Not Found"
        }
    }
}
