import KemuAPI

extension TableDefinition {
    /// `kubectl get events` (printers.go `printEvent`, always the wide set on the server): Last Seen, Type, Reason,
    /// Object (`<lower(kind)>/<name>`), Message; `-o wide` adds Subobject, Source, First Seen, Count and Name.
    /// New-style events (eventTime, series) fall back as upstream's printer does.
    public static let event = TableDefinition(
        columns: [
            TableColumn("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
            TableColumn("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
            TableColumn("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
            TableColumn("Object", "string", "The object that this event is about."),
            TableColumn("Subobject", "string", priority: 1, "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object."),
            TableColumn("Source", "string", priority: 1, "The component reporting this event. Should be a short machine understandable string."),
            TableColumn("Message", "string", "A human-readable description of the status of this operation."),
            TableColumn("First Seen", "string", priority: 1, "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
            TableColumn("Count", "string", priority: 1, "The number of times this event has occurred."),
            TableColumn("Name", "string", format: "name", priority: 1, "Name must be unique within a namespace."),
        ],
        cells: { obj, now in
            func text(_ key: String) -> String { obj[key]?.stringValue ?? "" }
            var first = HumanDuration.since(obj["firstTimestamp"]?.stringValue, now: now)
            if (obj["firstTimestamp"]?.stringValue ?? "").isEmpty {
                first = HumanDuration.since(obj["eventTime"]?.stringValue, now: now)
            }
            var last = (obj["lastTimestamp"]?.stringValue ?? "").isEmpty
                ? first : HumanDuration.since(obj["lastTimestamp"]?.stringValue, now: now)
            var count = TableFormat.int(obj["count"] ?? .null)
            if let series = obj["series"], TableFormat.isObject(series) {
                last = HumanDuration.since(series["lastObservedTime"].stringValue, now: now)
                count = TableFormat.int(series["count"])
            } else if count == 0 {
                count = 1  // singleton events of the new API carry no count
            }
            let ref = obj["involvedObject"] ?? .null
            let kind = (ref["kind"].stringValue ?? "").lowercased()
            let refName = ref["name"].stringValue ?? ""
            let source = obj["source"] ?? .null
            func firstNonEmpty(_ a: String?, _ b: String) -> String { (a ?? "").isEmpty ? b : a! }
            let component = firstNonEmpty(source["component"].stringValue, text("reportingComponent"))
            let instance = firstNonEmpty(source["host"].stringValue, text("reportingInstance"))
            return [
                .string(last), .string(text("type")), .string(text("reason")),
                .string(refName.isEmpty ? kind : "\(kind)/\(refName)"),
                .string(ref["fieldPath"].stringValue ?? ""),
                .string(instance.isEmpty ? component : "\(component), \(instance)"),
                .string(String(text("message").trimmingPrefix(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())),
                .string(first), .int(count), .string(obj.name),
            ]
        })
}
