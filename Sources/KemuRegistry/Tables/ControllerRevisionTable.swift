import KemuAPI

extension TableDefinition {
    /// `kubectl get controllerrevisions` (printers.go `printControllerRevision`): the controller as
    /// `<kind>.<group>/<name>` in lower case, the revision as an integer cell.
    public static let controllerRevision = TableDefinition(
        columns: [
            TableFormat.nameColumn,
            TableColumn("Controller", "string", "Controller of the object"),
            TableColumn("Revision", "string", "Revision indicates the revision of the state represented by Data."),
            TableFormat.ageColumn,
        ],
        cells: { obj, now in
            var controller = "<none>"
            for r in obj.metadata["ownerReferences"]?.arrayValue ?? [] where r["controller"].boolValue == true {
                let apiVersion = r["apiVersion"].stringValue ?? ""
                let group = apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : ""
                let kind = r["kind"].stringValue ?? ""
                let groupKind = group.isEmpty ? kind : "\(kind).\(group)"
                controller = groupKind.isEmpty ? (r["name"].stringValue ?? "") : "\(groupKind.lowercased())/\(r["name"].stringValue ?? "")"
                break
            }
            return [
                .string(obj.name), .string(controller), .int(obj["revision"]?.intValue ?? 0),
                .string(HumanDuration.age(obj, now: now)),
            ]
        })
}
