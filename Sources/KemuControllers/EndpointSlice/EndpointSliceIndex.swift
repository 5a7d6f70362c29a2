import KemuAPI
import KemuStore

/// The controller's informer-like view of Services, Pods and Nodes, plus per-Service caches of desired
/// endpoints that pod events keep current. Used only on the controller's queue.
final class EndpointSliceIndex {
    struct ServiceEntry {
        var object: StoredObject
        var view: SliceServiceView
    }

    /// Per-Service cache: the selected pods' contributions, and the pods changed since the last sync.
    final class ServiceCache {
        var desired: DesiredEndpoints
        var dirty: Set<String> = []
        var needsRebuild = true
        init(_ view: SliceServiceView) {
            desired = DesiredEndpoints(addressTypes: view.addressTypes, publishNotReadyAddresses: view.publishNotReadyAddresses)
        }
    }

    var services: [String: ServiceEntry] = [:]
    let selection = ServicePodIndex()
    var nodes: [String: SliceNodeView] = [:]
    var caches: [String: ServiceCache] = [:]

    static func key(_ ns: String, _ name: String) -> String { ServicePodIndex.key(ns, name) }

    // MARK: services

    func putService(_ o: StoredObject) {
        let key = Self.key(o.namespace, o.name)
        let view = SliceServiceView(o.object)
        if let old = services[key], old.object.object["spec"] != o.object["spec"] || old.view.uid != view.uid {
            caches[key] = nil
        }
        services[key] = ServiceEntry(object: o, view: view)
        selection.putService(ns: o.namespace, name: o.name, selector: view.selector)
    }

    func removeService(_ ns: String, _ name: String) {
        let key = Self.key(ns, name)
        services[key] = nil
        caches[key] = nil
        selection.putService(ns: ns, name: name, selector: nil)
    }

    /// Keys of Services in `ns` whose (non-nil) selector matches `labels`.
    func servicesSelecting(_ ns: String, _ labels: [String: String]) -> Set<String> {
        selection.servicesSelecting(ns, labels)
    }

    // MARK: pods

    /// Records a pod version (nil: deleted) and marks it changed in the caches of Services selecting it before or now.
    func putPod(ns: String, name: String, _ o: StoredObject?) {
        for key in selection.putPod(ns: ns, name: name, o) {
            if let cache = caches[key], !cache.needsRebuild { cache.dirty.insert(name) }
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

    func contribution(_ pod: PodDigest, _ view: SliceServiceView) -> PodContribution {
        SlicePodRules.contribution(pod, service: view, node: pod.nodeName.isEmpty ? nil : nodes[pod.nodeName])
    }

    /// Brings the Service's cache up to date; returns the pods whose trigger times may have changed
    /// (name → Ready transition time) and whether that is every selected pod.
    func refresh(_ key: String, _ entry: ServiceEntry) -> (cache: ServiceCache, changed: [(String, Int?)], full: Bool) {
        let view = entry.view
        let cache = caches[key] ?? ServiceCache(view)
        caches[key] = cache
        var changed: [(String, Int?)] = []
        guard view.selector != nil else { return (cache, [], false) }
        if cache.needsRebuild {
            cache.desired = DesiredEndpoints(addressTypes: view.addressTypes, publishNotReadyAddresses: view.publishNotReadyAddresses)
            cache.dirty = []
            let names = selection.selectedPods(key)
            cache.desired.reserveCapacity(names.count)
            changed.reserveCapacity(names.count)
            for name in names {
                guard let pod = selection.pod(view.namespace, name) else { continue }
                let c = contribution(pod, view)
                cache.desired.set(name, c)
                changed.append((name, c.triggerTime))
            }
            cache.needsRebuild = false
            return (cache, changed, true)
        }
        let names = selection.selectedPods(key)
        for name in cache.dirty {
            if names.contains(name), let pod = selection.pod(view.namespace, name) {
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
