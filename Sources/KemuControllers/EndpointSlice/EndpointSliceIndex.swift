import KemuAPI
import KemuStore

/// The controller's informer-like view of Services, Pods and Nodes, plus per-Service caches of desired
/// endpoints that pod events keep current. Used only on the controller's queue.
final class EndpointSliceIndex {
    struct ServiceEntry {
        var object: StoredObject
        var view: SliceServiceView
    }

    /// Per-Service cache: selected pods, their contributions, and the pods changed since the last sync.
    final class ServiceCache {
        var desired: DesiredEndpoints
        var members: Set<String> = []
        var dirty: Set<String> = []
        var needsRebuild = true
        init(_ view: SliceServiceView) {
            desired = DesiredEndpoints(addressTypes: view.addressTypes, publishNotReadyAddresses: view.publishNotReadyAddresses)
        }
    }

    var services: [String: ServiceEntry] = [:]
    var serviceNamesByNamespace: [String: Set<String>] = [:]
    /// Pods digested once per version, by namespace and name.
    var pods: [String: [String: SlicePod]] = [:]
    var nodes: [String: SliceNodeView] = [:]
    var caches: [String: ServiceCache] = [:]

    static func key(_ ns: String, _ name: String) -> String { ns + "/" + name }

    static func matches(_ selector: [String: String], _ labels: [String: String]) -> Bool {
        for (k, v) in selector where labels[k] != v { return false }
        return true
    }

    // MARK: services

    func putService(_ o: StoredObject) {
        let key = Self.key(o.namespace, o.name)
        let view = SliceServiceView(o.object)
        if let old = services[key], old.object.object["spec"] != o.object["spec"] || old.view.uid != view.uid {
            caches[key] = nil
        }
        services[key] = ServiceEntry(object: o, view: view)
        serviceNamesByNamespace[o.namespace, default: []].insert(o.name)
    }

    func removeService(_ ns: String, _ name: String) {
        let key = Self.key(ns, name)
        services[key] = nil
        caches[key] = nil
        serviceNamesByNamespace[ns]?.remove(name)
    }

    /// Keys of Services in `ns` whose (non-nil) selector matches `labels`.
    func servicesSelecting(_ ns: String, _ labels: [String: String]) -> Set<String> {
        var out = Set<String>()
        for name in serviceNamesByNamespace[ns] ?? [] {
            let key = Self.key(ns, name)
            if let sel = services[key]?.view.selector, Self.matches(sel, labels) { out.insert(key) }
        }
        return out
    }

    // MARK: pods

    /// Records a pod version (nil: deleted) and marks it changed in the caches of Services selecting it before or now.
    func putPod(ns: String, name: String, _ o: StoredObject?) {
        if let o { pods[ns, default: [:]][name] = SlicePod(o.object, labels: o.labels) } else { pods[ns]?[name] = nil }
        for svcName in serviceNamesByNamespace[ns] ?? [] {
            let key = Self.key(ns, svcName)
            guard let cache = caches[key], !cache.needsRebuild, let sel = services[key]?.view.selector else { continue }
            let was = cache.members.contains(name)
            let now = o.map { Self.matches(sel, $0.labels) } ?? false
            if now { cache.members.insert(name) } else if was { cache.members.remove(name) }
            if was || now { cache.dirty.insert(name) }
        }
    }

    // MARK: nodes

    /// Records a Node (nil: deleted); pods on it are marked changed when its existence or zone changed.
    func putNode(_ name: String, _ view: SliceNodeView?) {
        let old = nodes[name]
        nodes[name] = view
        guard old?.zone != view?.zone || (old == nil) != (view == nil) else { return }
        for cache in caches.values where !cache.needsRebuild {
            for (pod, c) in cache.desired.contributions where c.nodeName == name { cache.dirty.insert(pod) }
        }
    }

    // MARK: sync support

    func contribution(_ pod: SlicePod, _ view: SliceServiceView) -> PodContribution {
        SlicePodRules.contribution(pod, service: view, node: pod.nodeName.isEmpty ? nil : nodes[pod.nodeName])
    }

    /// Brings the Service's cache up to date; returns the pods whose trigger times may have changed
    /// (name → Ready transition time) and whether that is every selected pod.
    func refresh(_ key: String, _ entry: ServiceEntry) -> (cache: ServiceCache, changed: [(String, Int?)], full: Bool) {
        let view = entry.view
        let cache = caches[key] ?? ServiceCache(view)
        caches[key] = cache
        var changed: [(String, Int?)] = []
        guard let sel = view.selector else { return (cache, [], false) }
        if cache.needsRebuild {
            cache.desired = DesiredEndpoints(addressTypes: view.addressTypes, publishNotReadyAddresses: view.publishNotReadyAddresses)
            cache.members = []
            cache.dirty = []
            let nsPods = pods[view.namespace] ?? [:]
            cache.members.reserveCapacity(nsPods.count)
            cache.desired.reserveCapacity(nsPods.count)
            changed.reserveCapacity(nsPods.count)
            for (name, pod) in nsPods where Self.matches(sel, pod.labels) {
                cache.members.insert(name)
                let c = contribution(pod, view)
                cache.desired.set(name, c)
                changed.append((name, c.triggerTime))
            }
            cache.needsRebuild = false
            return (cache, changed, true)
        }
        for name in cache.dirty {
            if cache.members.contains(name), let pod = pods[view.namespace]?[name] {
                let c = contribution(pod, view)
                cache.desired.set(name, c)
                changed.append((name, c.triggerTime))
            } else {
                cache.desired.set(name, nil)
                changed.append((name, nil))
            }
        }
        cache.dirty = []
        return (cache, changed, false)
    }
}
