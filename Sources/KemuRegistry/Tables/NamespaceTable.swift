import KemuAPI

extension TableDefinition {
    /// `kubectl get namespaces` (printers.go `printNamespace`).
    public static let namespace = TableDefinition(
        columns: [
            TableFormat.nameColumn,
            TableColumn("Status", "string", "The status of the namespace"),
            TableFormat.ageColumn,
        ],
        cells: { obj, now in
            [.string(obj.name), .string(JSON.object(obj).at(["status", "phase"]).stringValue ?? ""),
             .string(HumanDuration.age(obj, now: now))]
        })
}
