import KemuAPI

extension TableDefinition {
    /// `kubectl get pdb`: Name, Min Available, Max Unavailable, Allowed Disruptions, Age.
    public static let podDisruptionBudget = TableDefinition(
        columns: [
            TableColumn("Name", "string", format: "name", "Name must be unique within a namespace."),
            TableColumn("Min Available", "string", "The minimum number of pods that must be available."),
            TableColumn("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
            TableColumn("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
            TableColumn("Age", "string", "CreationTimestamp is a timestamp representing the server time when this object was created."),
        ],
        cells: { obj, now in
            func text(_ v: JSON) -> String {
                switch v {
                case .int(let n): return String(n)
                case .string(let s): return s
                default: return "N/A"
                }
            }
            return [
                .string(obj.name),
                .string(text(obj["spec"]?["minAvailable"] ?? .null)),
                .string(text(obj["spec"]?["maxUnavailable"] ?? .null)),
                .int(obj["status"]?["disruptionsAllowed"].intValue ?? 0),
                .string(HumanDuration.age(obj, now: now)),
            ]
        })
}
