@testable import KemuControllers
import KemuAPI

// JSON-in, JSON-out forms of the Endpoints controller's rules, for table-style tests.

extension EndpointsBuilder {
    /// The repacked (not yet truncated) subsets for a Service and the pods its selector matches.
    static func subsets(service: JSONObject, pods: [JSONObject]) -> [JSON] {
        subsets(service: SliceServiceView(service), pods: pods.map { PodDigest($0) }).map(\.json)
    }
}

extension EndpointsPodChange {
    /// The Services among `services` to resync after a pod update.
    static func servicesToUpdate(_ services: [JSONObject], old: JSONObject, new: JSONObject) -> Set<String> {
        servicesToUpdate(old: old, new: new) { labels in
            var keys = Set<String>()
            for s in services where ServiceFacts.matches(s, labels: labels) { keys.insert(s.namespace + "/" + s.name) }
            return keys
        }
    }
}
