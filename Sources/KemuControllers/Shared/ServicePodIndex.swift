import KemuAPI
import KemuStore

/// One controller's informer-like view of Pods and selector Services: each namespace's pods,
/// digested once per version, and the pods each Service selects, kept current from events once
/// a controller has asked for them. Not thread-safe: a controller uses it from its one queue.
final class ServicePodIndex {
    /// Pods by namespace and name.
    private(set) var pods: [String: [String: PodDigest]] = [:]
    /// Selectors of the Services that have one, by `ns/name`.
    private var selectors: [String: [String: String]] = [:]
    private var selectorServicesByNamespace: [String: Set<String>] = [:]
    /// Selected pod names by Service key, for the Services a controller has asked about.
    private var selected: [String: Set<String>] = [:]

    static func key(_ ns: String, _ name: String) -> String { StoreKey.make(namespace: ns, name: name) }

    static func matches(_ selector: [String: String], _ labels: [String: String]) -> Bool {
        for (k, v) in selector where labels[k] != v { return false }
        return true
    }

    /// Records a Service's selector; nil when it has none or was deleted.
    func putService(ns: String, name: String, selector: [String: String]?) {
        let key = Self.key(ns, name)
        if selectors[key] != selector { selected[key] = nil }
        selectors[key] = selector
        if selector != nil {
            selectorServicesByNamespace[ns, default: []].insert(name)
        } else {
            selectorServicesByNamespace[ns]?.remove(name)
        }
    }

    /// Keys of the Services in `ns` whose selector matches `labels`.
    func servicesSelecting(_ ns: String, _ labels: [String: String]) -> Set<String> {
        var out = Set<String>()
        for name in selectorServicesByNamespace[ns] ?? [] {
            let key = Self.key(ns, name)
            if let sel = selectors[key], Self.matches(sel, labels) { out.insert(key) }
        }
        return out
    }

    /// Records a pod version (nil: deleted). Returns the keys of the tracked Services that selected
    /// the pod before or select it now.
    @discardableResult
    func putPod(ns: String, name: String, _ o: StoredObject?) -> [String] {
        if let o { pods[ns, default: [:]][name] = PodDigest(o.object, labels: o.labels) } else { pods[ns]?[name] = nil }
        var touched: [String] = []
        for svcName in selectorServicesByNamespace[ns] ?? [] {
            let key = Self.key(ns, svcName)
            guard selected[key] != nil, let sel = selectors[key] else { continue }
            let now = o.map { Self.matches(sel, $0.labels) } ?? false
            let was = now ? !selected[key]!.insert(name).inserted : selected[key]!.remove(name) != nil
            if was || now { touched.append(key) }
        }
        return touched
    }

    /// Names of the pods the Service selects (empty without a selector); from now on kept current.
    func selectedPods(_ key: String) -> Set<String> {
        if let names = selected[key] { return names }
        guard let sel = selectors[key], let slash = key.firstIndex(of: "/") else { return [] }
        var names = Set<String>()
        for (name, pod) in pods[String(key[..<slash])] ?? [:] where Self.matches(sel, pod.labels) { names.insert(name) }
        selected[key] = names
        return names
    }

    func pod(_ ns: String, _ name: String) -> PodDigest? { pods[ns]?[name] }
}
