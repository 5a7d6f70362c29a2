import Dispatch
import FoundationEssentials
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

    /// Every pod's contribution; a big Service's are computed on all cores (they are independent).
    func contributions(_ pods: [PodDigest], _ view: SliceServiceView) -> [PodContribution] {
        let nodes = self.nodes
        @Sendable func one(_ pod: PodDigest) -> PodContribution {
            SlicePodRules.contribution(pod, service: view, node: pod.nodeName.isEmpty ? nil : nodes[pod.nodeName])
        }
        let chunks = min(ProcessInfo.processInfo.activeProcessorCount, pods.count / 1000)
        guard chunks > 1 else { return pods.map(one) }
        let out = [PodContribution?](unsafeUninitializedCapacity: pods.count) { buffer, count in
            let base = UncheckedBox(buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let range = (pods.count * chunk / chunks)..<(pods.count * (chunk + 1) / chunks)
                for i in range { (base.value + i).initialize(to: one(pods[i])) }
            }
            count = pods.count
        }
        return out.map { $0! }
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
            let pods = selection.selectedPods(key).compactMap { selection.pod(view.namespace, $0) }
            cache.desired.reserveCapacity(pods.count)
            changed.reserveCapacity(pods.count)
            for c in contributions(pods, view) {
                cache.desired.set(c.podName, c)
                changed.append((c.podName, c.triggerTime))
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
