import KemuAPI
import KemuStore

/// One controller's informer-like view of Pods and selector Services: each namespace's pods,
/// digested once per version, and the pods each Service selects, kept current from events once
/// a controller has asked for them. Not thread-safe: a controller uses it from its one queue.
final class ServicePodIndex {
    /// Pods by namespace and name.
    private(set) var pods: [String: [String: PodDigest]] = [:]
    /// Selectors of the Services that have one, by namespace, then Service name.
    private var selectors: [String: SelectorIndex] = [:]
    /// Selected pod names by Service key, for the Services a controller has asked about.
    private var selected: [String: Set<String>] = [:]

    static func key(_ ns: String, _ name: String) -> String { StoreKey.make(namespace: ns, name: name) }

    /// Records a Service's selector; nil when it has none or was deleted.
    func putService(ns: String, name: String, selector: [String: String]?) {
        if selectors[ns]?.selector(name) != selector { selected[Self.key(ns, name)] = nil }
        selectors[ns, default: SelectorIndex()].put(name, selector)
        if selectors[ns]?.isEmpty == true { selectors[ns] = nil }
    }

    /// Keys of the Services in `ns` whose selector matches `labels`.
    func servicesSelecting(_ ns: String, _ labels: [String: String]) -> Set<String> {
        var out = Set<String>()
        selectors[ns]?.forEachMatch(labels) { out.insert(Self.key(ns, $0)) }
        return out
    }

    /// Records a pod version (nil: deleted). Returns the keys of the tracked Services that selected
    /// the pod before or select it now.
    @discardableResult
    func putPod(ns: String, name: String, _ o: StoredObject?) -> [String] {
        let oldLabels = pods[ns]?[name]?.labels
        if let o { pods[ns, default: [:]][name] = PodDigest.of(o) } else { pods[ns]?[name] = nil }
        guard let index = selectors[ns] else { return [] }
        // Services that select the pod now, then those that selected it before (found by its old labels).
        var touched: [String] = []
        var seen = Set<String>()
        if let labels = o?.labels {
            index.forEachMatch(labels) { svc in
                let key = Self.key(ns, svc)
                guard selected[key] != nil else { return }
                selected[key]!.insert(name)
                seen.insert(svc)
                touched.append(key)
            }
        }
        if let oldLabels {
            index.forEachMatch(oldLabels) { svc in
                let key = Self.key(ns, svc)
                guard !seen.contains(svc), selected[key]?.remove(name) != nil else { return }
                touched.append(key)
            }
        }
        return touched
    }

    /// Names of the pods the Service selects (empty without a selector); from now on kept current.
    func selectedPods(_ key: String) -> Set<String> {
        if let names = selected[key] { return names }
        guard let slash = key.firstIndex(of: "/") else { return [] }
        let ns = String(key[..<slash])
        guard let sel = selectors[ns]?.selector(String(key[key.index(after: slash)...])) else { return [] }
        var names = Set<String>()
        for (name, pod) in pods[ns] ?? [:] where SelectorIndex.matches(sel, pod.labels) { names.insert(name) }
        selected[key] = names
        return names
    }

    func pod(_ ns: String, _ name: String) -> PodDigest? { pods[ns]?[name] }
}
