import KemuAPI

/// apimachinery's `duration.HumanDuration`: an age with two or three significant figures.
public enum HumanDuration {
    /// Formats an elapsed time given in whole seconds.
    /// Clock skew of up to one second in the future reads `0s`; anything further ahead is `<invalid>`.
    public static func format(seconds: Int) -> String {
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        if seconds < 120 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 {
            let s = seconds % 60
            return s == 0 ? "\(minutes)m" : "\(minutes)m\(s)s"
        }
        if minutes < 180 { return "\(minutes)m" }
        let hours = seconds / 3600
        if hours < 8 {
            let m = minutes % 60
            return m == 0 ? "\(hours)h" : "\(hours)h\(m)m"
        }
        if hours < 48 { return "\(hours)h" }
        let days = hours / 24
        if hours < 24 * 8 {
            let h = hours % 24
            return h == 0 ? "\(days)d" : "\(days)d\(h)h"
        }
        if hours < 24 * 365 * 2 { return "\(days)d" }
        let years = days / 365
        if hours < 24 * 365 * 8 {
            let d = days % 365
            return d == 0 ? "\(years)y" : "\(years)y\(d)d"
        }
        return "\(years)y"
    }

    /// `translateTimestampSince`: `<unknown>` for a missing (or unparseable) timestamp.
    public static func since(_ timestamp: String?, now: Int) -> String {
        guard let timestamp, !timestamp.isEmpty, let t = Timestamp.parse(timestamp) else { return "<unknown>" }
        return format(seconds: now - t)
    }

    /// The Age column: time since `metadata.creationTimestamp`.
    public static func age(_ obj: JSONObject, now: Int) -> String {
        since(obj.metadata.string("creationTimestamp"), now: now)
    }
}

/// Formatting shared by the kind printers (kept beside HumanDuration so each kind file holds only its own rules).
enum TableFormat {
    static let nameColumn = TableColumn("Name", format: "name", "Name must be unique within a namespace.")
    static let ageColumn = TableColumn("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created.")
    static let containersColumn = TableColumn("Containers", priority: 1, "Names of each container in the template.")
    static let imagesColumn = TableColumn("Images", priority: 1, "Images referenced by each container in the template.")

    /// A non-negative integer field read as Int64 (0 when absent), the way a Go int32 zero value prints.
    static func int(_ v: JSON) -> Int64 { v.intValue ?? 0 }

    /// True when the value is a JSON object (a Go pointer that would be non-nil).
    static func isObject(_ v: JSON) -> Bool { v.objectValue != nil }

    /// `labels.FormatLabels`: `k=v` sorted by key, comma-joined, `<none>` when empty.
    static func formatLabels(_ v: JSON) -> String {
        let map = v.stringMap ?? [:]
        if map.isEmpty { return "<none>" }
        return map.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// Container names and images of a pod template, each comma-joined (`layoutContainerCells`).
    static func containerCells(template: JSON) -> (names: String, images: String) {
        let containers = template.at(["spec", "containers"]).arrayValue ?? []
        return (containers.map { $0["name"].stringValue ?? "" }.joined(separator: ","),
                containers.map { $0["image"].stringValue ?? "" }.joined(separator: ","))
    }

    /// `metav1.LabelSelectorAsSelector(sel).String()`: requirements sorted by key; `""` for a
    /// missing or empty selector; `nil` when the selector would not convert (bad operator, key or value).
    static func selectorString(_ sel: JSON) -> String? {
        guard case .object(let o) = sel else { return "" }
        let matchLabels = o["matchLabels"]?.objectValue ?? JSONObject()
        let exprs = o["matchExpressions"]?.arrayValue ?? []
        if matchLabels.isEmpty && exprs.isEmpty { return "" }
        var reqs: [(key: String, text: String)] = []
        for (k, v) in matchLabels {
            let value = v.stringValue ?? ""
            guard NameValidation.qualifiedName(k).isEmpty, NameValidation.labelValue(value).isEmpty else { return nil }
            reqs.append((k, "\(k)=\(value)"))
        }
        for e in exprs {
            let key = e["key"].stringValue ?? ""
            let values = e["values"].arrayValue?.map { $0.stringValue ?? "" } ?? []
            guard NameValidation.qualifiedName(key).isEmpty else { return nil }
            switch e["operator"].stringValue ?? "" {
            case "In", "NotIn":
                guard !values.isEmpty, values.allSatisfy({ NameValidation.labelValue($0).isEmpty }) else { return nil }
                let op = e["operator"].stringValue == "In" ? "in" : "notin"
                let list = values.count == 1 ? values[0] : values.sorted().joined(separator: ",")
                reqs.append((key, "\(key) \(op) (\(list))"))
            case "Exists":
                guard values.isEmpty else { return nil }
                reqs.append((key, key))
            case "DoesNotExist":
                guard values.isEmpty else { return nil }
                reqs.append((key, "!\(key)"))
            default:
                return nil
            }
        }
        // Stable by key: matchLabels first, then expressions in their written order.
        let sorted = reqs.enumerated().sorted { a, b in
            a.element.key != b.element.key ? a.element.key < b.element.key : a.offset < b.offset
        }
        return sorted.map(\.element.text).joined(separator: ",")
    }

    /// `metav1.FormatLabelSelector`: `<error>` when the selector does not convert, `<none>` when empty.
    static func formatLabelSelector(_ sel: JSON) -> String {
        guard let s = selectorString(sel) else { return "<error>" }
        return s.isEmpty ? "<none>" : s
    }

    /// Go's `net.JoinHostPort`: brackets hosts that contain a colon (IPv6).
    static func joinHostPort(_ host: String, _ port: String) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The first `max` items comma-joined, then `" + N more..."` for the rest (`listWithMoreString`);
    /// `empty` when there are none.
    static func listWithMore(_ items: [String], max: Int = 3, empty: String) -> String {
        if items.count > max {
            return items.prefix(max).joined(separator: ",") + " + \(items.count - max) more..."
        }
        let s = items.joined(separator: ",")
        return s.isEmpty ? empty : s
    }
}
