/// `v1.ObjectReference`: an event's `involvedObject`, an endpoint's `targetRef`. Empty fields are omitted on
/// the wire (`omitempty`), so "absent" and "empty" are one state.
///
/// Held as its wire form only, and the fields are read off it: references are kept by the hundred thousand
/// (one per endpoint and per event), and the wire form is what they are stored and sent as, so a reference
/// costs one small object and its copies share it.
public struct ObjectReference: Sendable, Equatable {
    /// The wire form, in the Go struct's field order, without empty fields.
    public private(set) var json: JSONObject

    /// The Go struct's field order.
    public static let fieldNames = ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"]

    public init(kind: String = "", namespace: String = "", name: String = "", uid: String = "", apiVersion: String = "",
                resourceVersion: String = "", fieldPath: String = "") {
        json = Self.wireForm([kind, namespace, name, uid, apiVersion, resourceVersion, fieldPath])
    }

    /// `reference.GetReference` of a stored object: its type, name, namespace, UID and resourceVersion.
    public init(_ obj: JSONObject) {
        self.init(kind: obj.string("kind") ?? "", namespace: obj.namespace, name: obj.name, uid: obj.uid,
                  apiVersion: obj.string("apiVersion") ?? "", resourceVersion: obj.metadata.string("resourceVersion") ?? "")
    }

    /// A reference as written in an object (non-string fields read as empty).
    public init(json o: JSONObject) {
        json = Self.wireForm(Self.fieldNames.map { o.string($0) ?? "" })
    }

    public var kind: String { get { field(0) } set { set(0, newValue) } }
    public var namespace: String { get { field(1) } set { set(1, newValue) } }
    public var name: String { get { field(2) } set { set(2, newValue) } }
    public var uid: String { get { field(3) } set { set(3, newValue) } }
    public var apiVersion: String { get { field(4) } set { set(4, newValue) } }
    public var resourceVersion: String { get { field(5) } set { set(5, newValue) } }
    public var fieldPath: String { get { field(6) } set { set(6, newValue) } }

    /// Equal apart from `resourceVersion`, as the endpoint controllers compare references.
    public func equalIgnoringResourceVersion(_ o: ObjectReference) -> Bool {
        (0..<Self.fieldNames.count).allSatisfy { $0 == 5 || field($0) == o.field($0) }
    }

    private func field(_ i: Int) -> String { json.string(Self.fieldNames[i]) ?? "" }

    private mutating func set(_ i: Int, _ value: String) {
        guard field(i) != value else { return }
        var values = Self.fieldNames.indices.map(field)
        values[i] = value
        json = Self.wireForm(values)
    }

    /// Exactly sized: references are stored in events and endpoints.
    static func wireForm(_ values: [String]) -> JSONObject {
        var o = JSONObject()
        o.reserveCapacity(values.count { !$0.isEmpty })
        for (k, v) in zip(fieldNames, values) where !v.isEmpty { o.appendUnchecked(k, .string(v)) }
        return o
    }
}
