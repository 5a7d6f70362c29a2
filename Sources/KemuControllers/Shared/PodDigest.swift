import KemuAPI
import KemuStore
import Synchronization

/// A Pod digested once per version (as an informer decodes it): what the EndpointSlice and Endpoints
/// controllers build endpoints from.
public final class PodDigest: Sendable {
    /// What named target ports resolve against. The digest keeps no other part of the pod: the controllers keep
    /// digests for every pod, and the pod's tree is the store's to keep.
    public let containers: PodContainers
    /// Read off `targetRef`, which holds them anyway.
    public var name: String { targetRef.name }
    public var namespace: String { targetRef.namespace }
    public var uid: String { targetRef.uid }
    public let labels: [String: String]
    /// Not terminal and has an IP.
    public let included: Bool
    public let ipv4: [String]
    public let ipv6: [String]
    /// The Ready condition is True.
    public let ready: Bool
    /// Ready condition `lastTransitionTime`, epoch seconds.
    public let readySince: Int?
    public let terminating: Bool
    public let nodeName: String
    public let hostname: String
    public let subdomain: String
    /// `status.podIP` is an IPv6 address (the family a legacy headless Service's Endpoints follow).
    public let podIPIsIPv6: Bool
    /// The pod as an endpoint's `targetRef`: one copy for its EndpointSlice and its Endpoints object.
    public let targetRef: ObjectReference
    /// The last Endpoints address made from this version (`PodAddress.json`), so that the Endpoints
    /// objects a pod is in share it from one version of theirs to the next.
    let endpointsAddress = Mutex<(ip: String, hostname: String?, json: JSON)?>(nil)

    public convenience init(_ pod: JSONObject) { self.init(pod, labels: pod.labels) }

    /// The digest of a stored pod version: made once, shared by the controllers that read it.
    public static func of(_ o: StoredObject) -> PodDigest { o.derived { PodDigest(o.object, labels: o.labels) } }

    public init(_ pod: JSONObject, labels: [String: String]) {
        containers = PodContainers(pod)
        let meta = pod.metadata
        self.labels = labels
        terminating = meta["deletionTimestamp"].map { !$0.isNull } ?? false
        included = SlicePodRules.shouldBeInEndpoints(pod)
        (ipv4, ipv6) = included ? SlicePodRules.canonicalIPs(pod) : ([], [])
        (ready, readySince) = SlicePodRules.readyCondition(pod)
        let spec = pod["spec"] ?? .null
        nodeName = spec["nodeName"].stringValue ?? ""
        hostname = spec["hostname"].stringValue ?? ""
        subdomain = spec["subdomain"].stringValue ?? ""
        targetRef = ObjectReference(kind: "Pod", namespace: meta.string("namespace") ?? "", name: meta.string("name") ?? "",
                                    uid: meta.string("uid") ?? "")
        podIPIsIPv6 = IPAddress(sloppy: pod["status"]?["podIP"].stringValue ?? "")?.isIPv4Family == false  // utilnet.IsIPv6String
    }
}
