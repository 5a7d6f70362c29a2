import FoundationEssentials

/// An Event the controller would record on the Service.
public struct SliceEvent: Sendable, Equatable {
    public var type: String
    public var reason: String
    public var message: String
    public init(type: String, reason: String, message: String) { self.type = type; self.reason = reason; self.message = message }
}

/// Slices of one Service and address type while hints are assigned.
struct SliceInfo {
    var serviceKey: String
    var addressType: String
    var toCreate: [SliceState]
    var toUpdate: [SliceState]
    var unchanged: [SliceState]

    var totalReadyEndpoints: Int {
        (toCreate + toUpdate + unchanged).reduce(0) { $0 + $1.endpoints.filter(\.isReady).count }
    }

    /// Clears hints on slices being written and moves unchanged slices that carry hints into the update list.
    mutating func removeHints() {
        for i in toCreate.indices { for j in toCreate[i].endpoints.indices where toCreate[i].endpoints[j].hints != nil {
            toCreate[i].endpoints[j].hints = nil
        } }
        for i in toUpdate.indices { for j in toUpdate[i].endpoints.indices where toUpdate[i].endpoints[j].hints != nil {
            toUpdate[i].endpoints[j].hints = nil
        } }
        var still: [SliceState] = []
        for var s in unchanged {
            if s.hasHints {
                s.index = nil
                for j in s.endpoints.indices where s.endpoints[j].hints != nil { s.endpoints[j].hints = nil }
                toUpdate.append(s)
            } else {
                still.append(s)
            }
        }
        unchanged = still
    }
}

/// Topology-aware hints (`service.kubernetes.io/topology-mode: Auto`): zone CPU ratios from Nodes and
/// per-Service hint allocations, as upstream's topology cache.
public struct TopologyCache: Sendable {
    static let overloadThreshold = 0.2

    public enum Message {
        public static let noZoneSpecified = "One or more endpoints do not have a zone specified"
        public static let noAllocatedHintsForZones = "No hints allocated for zones"
        public static let enabled = "Topology Aware Hints has been enabled"
        public static let disabled = "Topology Aware Hints has been disabled"
        public static let insufficientNodeInfo = "Insufficient Node information: allocatable CPU or zone not specified on one or more nodes"
        public static let nodesReadyInOneZoneOnly = "Nodes only ready in one zone"
        public static let insufficientNumberOfEndpoints = "Insufficient number of endpoints"
        public static let minAllocationExceedsOverloadThreshold = "Unable to allocate minimum required endpoints to each zone without exceeding overload threshold"
    }

    struct Allocation { var minimum: Int; var maximum: Int; var desired: Double }

    /// Zone → share of allocatable CPU; nil when node information is insufficient.
    public private(set) var cpuRatiosByZone: [String: Double]?
    /// Service key → address type → zone → endpoints hinted for it.
    public private(set) var endpointsByService: [String: [String: [String: Int]]] = [:]
    var hintsPopulated: Set<String> = []

    public init() {}

    static func withAddressType(_ s: String, _ t: String) -> String { "\(s), addressType: \(t)" }

    /// Recomputes zone ratios: control-plane and not-Ready Nodes are ignored; any other Node without a zone
    /// or CPU makes the information insufficient, as do zero CPU or fewer than two zones.
    public mutating func setNodes(_ nodes: [SliceNodeView]) {
        var cpuByZone: [String: Int64] = [:]
        var sufficient = true
        var total: Int64 = 0
        for n in nodes {
            if n.excluded || !n.ready { continue }
            guard let zone = n.zone, !zone.isEmpty, n.allocatableMilliCPU > 0 else {
                cpuByZone = [:]
                sufficient = false
                break
            }
            total += n.allocatableMilliCPU
            cpuByZone[zone, default: 0] += n.allocatableMilliCPU
        }
        if total == 0 || !sufficient || cpuByZone.count < 2 {
            cpuRatiosByZone = nil
        } else {
            cpuRatiosByZone = cpuByZone.mapValues { Double($0) / Double(total) }
        }
    }

    public func hasPopulatedHints(_ serviceKey: String) -> Bool { hintsPopulated.contains(serviceKey) }

    public mutating func removeHints(_ serviceKey: String, _ addressType: String) {
        endpointsByService[serviceKey]?[addressType] = nil
        if endpointsByService[serviceKey]?.isEmpty ?? true { endpointsByService[serviceKey] = nil }
        hintsPopulated.remove(serviceKey)
    }

    public mutating func forgetService(_ serviceKey: String) {
        endpointsByService[serviceKey] = nil
        hintsPopulated.remove(serviceKey)
    }

    /// Services whose hinted allocation no longer meets the minimum for some zone.
    public func overloadedServices() -> [String] {
        endpointsByService.compactMap { key, byType in
            byType.values.contains { Self.overloaded($0, cpuRatiosByZone ?? [:]) } ? key : nil
        }.sorted()
    }

    static func overloaded(_ ezi: [String: Int], _ ratios: [String: Double]) -> Bool {
        if ezi.isEmpty { return false }
        if ratios.isEmpty { return true }
        let total = Double(ezi.values.reduce(0, +))
        for (zone, ratio) in ratios {
            guard let n = ezi[zone] else { return true }
            if n < Int((total * ratio * (1 / (1 + overloadThreshold))).rounded(.up)) { return true }
        }
        return false
    }

    func allocations(_ n: Int) -> ([String: Allocation]?, SliceEvent?) {
        func disabled(_ m: String) -> SliceEvent { SliceEvent(type: "Warning", reason: "TopologyAwareHintsDisabled", message: m) }
        guard let ratios = cpuRatiosByZone else { return (nil, disabled(Message.insufficientNodeInfo)) }
        if ratios.count < 2 { return (nil, disabled(Message.nodesReadyInOneZoneOnly)) }
        if ratios.count > n {
            return (nil, disabled("\(Message.insufficientNumberOfEndpoints) (\(n) endpoints, \(ratios.count) zones)"))
        }
        var remaining = n
        var minTotal = 0
        var out: [String: Allocation] = [:]
        for (zone, ratio) in ratios.sorted(by: { $0.key < $1.key }) {
            let desired = ratio * Double(n)
            let minimum = Int((desired * (1 / (1 + Self.overloadThreshold))).rounded(.up))
            out[zone] = Allocation(minimum: minimum, maximum: 0, desired: max(desired, Double(minimum)))
            minTotal += minimum
            remaining -= minimum
            if remaining < 0 {
                return (nil, disabled("\(Message.minAllocationExceedsOverloadThreshold) (\(n) endpoints, \(ratios.count) zones)"))
            }
        }
        for z in out.keys { out[z]!.maximum = out[z]!.minimum + n - minTotal }
        return (out, nil)
    }

    /// Hints per zone a slice already carries, or nil when the slice must be rewritten.
    static func hintsByZone(_ s: SliceState, allocated: [String: Int], allocations: [String: Allocation]) -> [String: Int]? {
        var byZone: [String: Int] = [:]
        for ep in s.endpoints where ep.isReady {
            guard let h = ep.hints, !h.forZones.isEmpty else { return nil }
            for z in h.forZones {
                guard allocations[z] != nil else { return nil }
                byZone[z, default: 0] += 1
            }
        }
        for (z, n) in byZone {
            guard let a = allocations[z], n + (allocated[z] ?? 0) <= a.maximum else { return nil }
        }
        return byZone
    }

    /// Assigns zone hints to the slices of `si` (annotation `Auto`), returning the events to record.
    mutating func addHints(_ si: inout SliceInfo) -> [SliceEvent] {
        let total = si.totalReadyEndpoints
        let (allocs, failure) = allocations(total)
        guard let allocations = allocs else {
            var e = failure!
            e.message = Self.withAddressType(e.message, si.addressType)
            removeHints(si.serviceKey, si.addressType)
            si.removeHints()
            return [e]
        }
        // Unchanged slices keep their hints only if they still fit the allocation.
        var allocated: [String: Int] = [:]
        var still: [SliceState] = []
        for s in si.unchanged {
            if let byZone = Self.hintsByZone(s, allocated: allocated, allocations: allocations) {
                still.append(s)
                for (z, n) in byZone { allocated[z, default: 0] += n }
            } else {
                si.toUpdate.append(s)
            }
        }
        si.unchanged = still
        // Same-zone hints for every ready endpoint being written.
        for pass in 0..<2 {
            for i in (pass == 0 ? si.toCreate.indices : si.toUpdate.indices) {
                var s = pass == 0 ? si.toCreate[i] : si.toUpdate[i]
                s.index = nil
                for j in s.endpoints.indices {
                    guard s.endpoints[j].isReady else {
                        if s.endpoints[j].hints != nil { s.endpoints[j].hints = nil }
                        continue
                    }
                    guard let zone = s.endpoints[j].zone, !zone.isEmpty else {
                        removeHints(si.serviceKey, si.addressType)
                        si.removeHints()
                        return [SliceEvent(type: "Warning", reason: "TopologyAwareHintsDisabled",
                                           message: Self.withAddressType(Message.noZoneSpecified, si.addressType))]
                    }
                    allocated[zone, default: 0] += 1
                    let h = SliceHints(forZones: [zone])
                    if s.endpoints[j].hints != h { s.endpoints[j].hints = h }
                }
                if pass == 0 { si.toCreate[i] = s } else { si.toUpdate[i] = s }
            }
        }
        var (giving, receiving) = Self.givingAndReceiving(allocations, allocated)
        let moved = Self.redistribute(&si, giving: &giving, receiving: &receiving)
        for (z, d) in moved { allocated[z, default: 0] += d }
        if allocated.isEmpty {
            removeHints(si.serviceKey, si.addressType)
            si.removeHints()
            return [SliceEvent(type: "Warning", reason: "TopologyAwareHintsDisabled",
                               message: Self.withAddressType(Message.noAllocatedHintsForZones, si.addressType))]
        }
        let wasEnabled = hintsPopulated.contains(si.serviceKey)
        endpointsByService[si.serviceKey, default: [:]][si.addressType] = allocated
        hintsPopulated.insert(si.serviceKey)
        if !wasEnabled {
            return [SliceEvent(type: "Normal", reason: "TopologyAwareHintsEnabled", message: Self.withAddressType(Message.enabled, si.addressType))]
        }
        return []
    }

    /// Whole endpoints each zone gives away or receives, pairing the largest surplus with the largest deficit.
    static func givingAndReceiving(_ allocations: [String: Allocation], _ allocated: [String: Int]) -> ([String: Int], [String: Int]) {
        var givingDesired: [String: Double] = [:]
        var receivingDesired: [String: Double] = [:]
        for (zone, a) in allocations {
            let have = Double(allocated[zone] ?? 0)
            if have > a.desired { givingDesired[zone] = have - a.desired } else if have < a.desired { receivingDesired[zone] = a.desired - have }
        }
        func most(_ m: [String: Double]) -> (String, Double) {
            var zone = "", num = 0.0
            for (z, n) in m.sorted(by: { $0.key < $1.key }) where n > num { zone = z; num = n }
            return (zone, num)
        }
        var giving: [String: Int] = [:], receiving: [String: Int] = [:]
        while true {
            let (gz, g) = most(givingDesired)
            let (rz, r) = most(receivingDesired)
            if gz.isEmpty || rz.isEmpty || (g < 1 && r < 1) || g < 0.5 || r < 0.5 { break }
            giving[gz, default: 0] += 1
            givingDesired[gz]! -= 1
            receiving[rz, default: 0] += 1
            receivingDesired[rz]! -= 1
        }
        return (giving, receiving)
    }

    /// Re-hints ready endpoints of surplus zones to deficit zones; returns the change per zone.
    static func redistribute(_ si: inout SliceInfo, giving: inout [String: Int], receiving: inout [String: Int]) -> [String: Int] {
        var moved: [String: Int] = [:]
        func walk(_ slices: inout [SliceState]) -> Bool {
            for i in slices.indices {
                for j in slices[i].endpoints.indices {
                    let ep = slices[i].endpoints[j]
                    guard ep.isReady else { continue }
                    if giving.isEmpty || receiving.isEmpty { return false }
                    guard let zone = ep.zone, !zone.isEmpty else { continue }
                    guard let n = giving[zone], n > 0 else { continue }
                    guard let target = receiving.keys.sorted().first(where: { (receiving[$0] ?? 0) > 0 }) else { continue }
                    slices[i].index = nil
                    slices[i].endpoints[j].hints = SliceHints(forZones: [target])
                    giving[zone] = n == 1 ? nil : n - 1
                    let r = receiving[target]!
                    receiving[target] = r == 1 ? nil : r - 1
                    moved[target, default: 0] += 1
                    moved[zone, default: 0] -= 1
                }
            }
            return true
        }
        if walk(&si.toCreate) { _ = walk(&si.toUpdate) }
        return moved
    }
}

/// `spec.trafficDistribution` hints: same-zone (PreferClose, PreferSameZone) and same-node (PreferSameNode).
enum TrafficDistributionHints {
    static let closeValues: Set<String> = ["PreferClose", "PreferSameZone", "PreferSameNode"]

    /// Whether the value is usable (PreferSameZone/PreferSameNode need the PreferSameTrafficDistribution gate, GA in 1.35).
    static func valid(_ v: String?, preferSameEnabled: Bool) -> Bool {
        guard let v else { return false }
        if v == "PreferClose" { return true }
        return preferSameEnabled && (v == "PreferSameZone" || v == "PreferSameNode")
    }

    /// Applies hints to slices being written and rewrites unchanged slices whose hints are wrong.
    static func reconcile(_ value: String?, _ si: inout SliceInfo) {
        let close = value.map(closeValues.contains) ?? false
        let nodeHints = value == "PreferSameNode"
        func needsUpdate(_ s: SliceState) -> Bool {
            for ep in s.endpoints {
                if !close {
                    if ep.hints != nil { return true }
                    continue
                }
                guard ep.isReady else { continue }
                if let zone = ep.zone {
                    guard let h = ep.hints, h.forZones.count == 1, h.forZones[0] == zone else { return true }
                } else if let h = ep.hints, !h.forZones.isEmpty {
                    return true
                }
                if let node = ep.nodeName, nodeHints {
                    guard let h = ep.hints, h.forNodes.count == 1, h.forNodes[0] == node else { return true }
                } else if let h = ep.hints, !h.forNodes.isEmpty {
                    return true
                }
            }
            return false
        }
        func update(_ s: inout SliceState) {
            s.index = nil
            for j in s.endpoints.indices {
                if !close {
                    if s.endpoints[j].hints != nil { s.endpoints[j].hints = nil }
                    continue
                }
                let ep = s.endpoints[j]
                guard ep.isReady else { continue }
                let zones = ep.zone.map { [$0] } ?? []
                let nodes = nodeHints ? (ep.nodeName.map { [$0] } ?? []) : []
                let h = zones.isEmpty && nodes.isEmpty ? nil : SliceHints(forZones: zones, forNodes: nodes)
                if s.endpoints[j].hints != h { s.endpoints[j].hints = h }
            }
        }
        var still: [SliceState] = []
        for s in si.unchanged { if needsUpdate(s) { si.toUpdate.append(s) } else { still.append(s) } }
        si.unchanged = still
        for i in si.toCreate.indices { update(&si.toCreate[i]) }
        for i in si.toUpdate.indices { update(&si.toUpdate[i]) }
    }
}
