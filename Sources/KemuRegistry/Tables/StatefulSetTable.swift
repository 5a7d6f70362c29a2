import KemuAPI

extension TableDefinition {
    /// `kubectl get statefulsets` (printers.go `printStatefulSet`).
    public static let statefulSet = TableDefinition(
        columns: [
            TableFormat.nameColumn,
            TableColumn("Ready", "string", "Number of the pod with ready state"),
            TableFormat.ageColumn,
            TableFormat.containersColumn,
            TableFormat.imagesColumn,
        ],
        cells: { obj, now in
            let sts = JSON.object(obj)
            let desired = sts.at(["spec", "replicas"]).intValue ?? 1  // apps/v1 defaults replicas to 1
            let (names, images) = TableFormat.containerCells(template: sts.at(["spec", "template"]))
            return [
                .string(obj.name),
                .string("\(TableFormat.int(sts.at(["status", "readyReplicas"])))/\(desired)"),
                .string(HumanDuration.age(obj, now: now)),
                .string(names), .string(images),
            ]
        })
}
