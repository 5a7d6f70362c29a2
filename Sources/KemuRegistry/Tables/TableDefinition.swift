import KemuAPI

/// One column of a server-side Table (`meta.k8s.io/v1`).
public struct TableColumn: Sendable {
    public var name: String
    public var type: String
    public var format: String
    public var description: String
    public var priority: Int
    public init(_ name: String, _ type: String = "string", format: String = "", priority: Int = 0, _ description: String = "") {
        self.name = name; self.type = type; self.format = format; self.description = description; self.priority = priority
    }

    public var json: JSON {
        ["name": .string(name), "type": .string(type), "format": .string(format),
         "description": .string(description), "priority": .int(Int64(priority))]
    }
}

/// Columns plus the function that fills one row's cells (always the wide set; kubectl hides priority > 0).
public struct TableDefinition: Sendable {
    public var columns: [TableColumn]
    /// `now` is the current time in epoch seconds (for Age columns).
    public var cells: @Sendable (JSONObject, Int) -> [JSON]
    /// Row conditions (e.g. `Completed` on finished pods).
    public var conditions: @Sendable (JSONObject) -> [JSON]

    public init(columns: [TableColumn], cells: @escaping @Sendable (JSONObject, Int) -> [JSON],
                conditions: @escaping @Sendable (JSONObject) -> [JSON] = { _ in [] }) {
        self.columns = columns; self.cells = cells; self.conditions = conditions
    }

    /// kube-apiserver's fallback for kinds without a printer: Name and Created At.
    public static let `default` = TableDefinition(
        columns: [
            TableColumn("Name", format: "name", "Name must be unique within a namespace."),
            TableColumn("Created At", "date", "CreationTimestamp is a timestamp representing the server time when this object was created."),
        ],
        cells: { obj, _ in [.string(obj.name), .string(obj.metadata.string("creationTimestamp") ?? "")] })
}
