/// Orders `metadata` keys as upstream's ObjectMeta serialises them, so objects read the same
/// whatever order the client wrote. Unknown keys keep their relative order at the end.
public enum MetadataOrder {
    static let order = [
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers", "managedFields",
    ]

    public static func normalize(_ obj: inout JSONObject) {
        guard case .object(let meta)? = obj["metadata"] else { return }
        var out = JSONObject()
        for k in order { if let v = meta[k] { out[k] = v } }
        for (k, v) in meta where !order.contains(k) { out[k] = v }
        obj["metadata"] = .object(out)
    }
}
