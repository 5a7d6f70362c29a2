/// `v1.ObjectReference`: an event's `involvedObject`, an endpoint's `targetRef`. Empty fields are omitted on
/// the wire (`omitempty`), so "absent" and "empty" are one state.
public struct ObjectReference: Sendable, Equatable {
    public var kind: String
    public var namespace: String
    public var name: String
    public var uid: String
    public var apiVersion: String
    public var resourceVersion: String
    public var fieldPath: String

    public init(kind: String = "", namespace: String = "", name: String = "", uid: String = "", apiVersion: String = "",
                resourceVersion: String = "", fieldPath: String = "") {
        self.kind = kind; self.namespace = namespace; self.name = name; self.uid = uid
        self.apiVersion = apiVersion; self.resourceVersion = resourceVersion; self.fieldPath = fieldPath
    }

    /// `reference.GetReference` of a stored object: its type, name, namespace, UID and resourceVersion.
    public init(_ obj: JSONObject) {
        self.init(kind: obj.string("kind") ?? "", namespace: obj.namespace, name: obj.name, uid: obj.uid,
                  apiVersion: obj.string("apiVersion") ?? "", resourceVersion: obj.metadata.string("resourceVersion") ?? "")
    }

    /// A reference as written in an object (non-string fields read as empty).
    public init(json o: JSONObject) {
        self.init(kind: o.string("kind") ?? "", namespace: o.string("namespace") ?? "", name: o.string("name") ?? "",
                  uid: o.string("uid") ?? "", apiVersion: o.string("apiVersion") ?? "",
                  resourceVersion: o.string("resourceVersion") ?? "", fieldPath: o.string("fieldPath") ?? "")
    }

    /// The wire form, in the Go struct's field order, without empty fields.
    public var json: JSONObject {
        let present = [kind, namespace, name, uid, apiVersion, resourceVersion, fieldPath].count { !$0.isEmpty }
        var o = JSONObject()
        o.reserveCapacity(present)  // exactly sized: references are stored in events and endpoints
        func add(_ k: String, _ v: String) { if !v.isEmpty { o.appendUnchecked(k, .string(v)) } }
        add("kind", kind); add("namespace", namespace); add("name", name); add("uid", uid)
        add("apiVersion", apiVersion); add("resourceVersion", resourceVersion); add("fieldPath", fieldPath)
        return o
    }

    /// Equal apart from `resourceVersion`, as the endpoint controllers compare references.
    public func equalIgnoringResourceVersion(_ o: ObjectReference) -> Bool {
        kind == o.kind && namespace == o.namespace && name == o.name && uid == o.uid
            && apiVersion == o.apiVersion && fieldPath == o.fieldPath
    }
}
