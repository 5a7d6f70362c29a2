import KemuAPI
import KemuStore

/// Remembers the slices this controller wrote, so store events caused by its own writes are not
/// mistaken for user edits (upstream's EndpointSliceTracker, keyed by resourceVersion instead of
/// generation).
struct SliceWriteTracker {
    /// Slice UID → resourceVersion the controller wrote.
    var written: [String: UInt64] = [:]
    /// UIDs of slices the controller deleted and whose deletion events are still to come.
    var expectedDeletes: Set<String> = []

    mutating func wrote(_ uid: String, _ rv: UInt64) { written[uid] = rv }
    mutating func deleting(_ uid: String) { expectedDeletes.insert(uid); written[uid] = nil }

    /// Whether an add/update of a managed slice needs the Service synced: the slice is not one this
    /// controller wrote, or someone changed what a generation bump would reflect (endpoints, ports,
    /// address type, labels). Annotation-only and metadata-only edits do not count.
    func shouldSync(_ obj: StoredObject, previous: StoredObject?) -> Bool {
        guard let mine = written[obj.object.uid] else { return true }
        // This controller's own write, or a version its later write already superseded (it read the store first).
        if obj.resourceVersion <= mine { return false }
        guard let previous else { return true }
        return Self.generationRelevantChange(previous.object, obj.object)
    }

    /// A deletion nobody expected (a user deleted a managed slice).
    mutating func handleDeletion(_ uid: String) -> Bool {
        written[uid] = nil
        return expectedDeletes.remove(uid) == nil
    }

    static func generationRelevantChange(_ a: JSONObject, _ b: JSONObject) -> Bool {
        if let ga = a.metadata["generation"]?.intValue, let gb = b.metadata["generation"]?.intValue, ga != gb { return true }
        return a["endpoints"] != b["endpoints"] || a["ports"] != b["ports"] || a["addressType"] != b["addressType"]
            || a.metadata["labels"] != b.metadata["labels"]
    }
}
