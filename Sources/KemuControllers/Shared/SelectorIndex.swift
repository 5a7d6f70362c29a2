/// Finds the equality selectors (`map[string]string`, as Services have) that match a label set without
/// testing every selector: each selector is filed under one of its pairs, its anchor, and a label set
/// is tested only against the selectors anchored on one of its own pairs. The anchor is the selector's
/// pair with the fewest selectors already filed, so distinct Services (`app: a`, `app: b`, …) each get
/// their own bucket and a pod event tests one or two selectors instead of every Service's.
struct SelectorIndex {
    struct Pair: Hashable { let key: String; let value: String }

    private var selectors: [String: [String: String]] = [:]
    private var anchors: [String: Pair] = [:]
    private var byAnchor: [Pair: Set<String>] = [:]
    /// Empty selectors match every label set.
    private var matchAll: Set<String> = []

    static func matches(_ selector: [String: String], _ labels: [String: String]) -> Bool {
        for (k, v) in selector where labels[k] != v { return false }
        return true
    }

    var isEmpty: Bool { selectors.isEmpty }

    func selector(_ id: String) -> [String: String]? { selectors[id] }

    /// Files `selector` under `id` (nil removes it).
    mutating func put(_ id: String, _ selector: [String: String]?) {
        if selectors[id] == selector { return }
        remove(id)
        guard let selector else { return }
        selectors[id] = selector
        guard let anchor = selector.map({ Pair(key: $0.key, value: $0.value) })
            .min(by: { (byAnchor[$0]?.count ?? 0, $0.key, $0.value) < (byAnchor[$1]?.count ?? 0, $1.key, $1.value) })
        else { matchAll.insert(id); return }
        anchors[id] = anchor
        byAnchor[anchor, default: []].insert(id)
    }

    private mutating func remove(_ id: String) {
        guard selectors.removeValue(forKey: id) != nil else { return }
        if let anchor = anchors.removeValue(forKey: id) {
            byAnchor[anchor]?.remove(id)
            if byAnchor[anchor]?.isEmpty == true { byAnchor[anchor] = nil }
        } else {
            matchAll.remove(id)
        }
    }

    /// Calls `body` with each selector id whose selector matches `labels`.
    func forEachMatch(_ labels: [String: String], _ body: (String) -> Void) {
        for id in matchAll { body(id) }
        if byAnchor.count < labels.count {
            for (anchor, ids) in byAnchor where labels[anchor.key] == anchor.value { visit(ids, labels, body) }
        } else {
            for (k, v) in labels { if let ids = byAnchor[Pair(key: k, value: v)] { visit(ids, labels, body) } }
        }
    }

    private func visit(_ ids: Set<String>, _ labels: [String: String], _ body: (String) -> Void) {
        for id in ids where Self.matches(selectors[id]!, labels) { body(id) }
    }
}
