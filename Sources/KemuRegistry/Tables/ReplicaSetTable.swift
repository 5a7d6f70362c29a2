import KemuAPI

extension TableDefinition {
    /// `kubectl get replicasets` (printers.go `printReplicaSet`).
    public static let replicaSet = TableDefinition(
        columns: [
            TableFormat.nameColumn,
            TableColumn("Desired", "integer", "Replicas is the number of desired replicas."),
            TableColumn("Current", "integer", "Replicas is the most recently observed number of replicas."),
            TableColumn("Ready", "integer", "The number of ready replicas for this replica set."),
            TableFormat.ageColumn,
            TableFormat.containersColumn,
            TableFormat.imagesColumn,
            TableColumn("Selector", priority: 1, "Selector is a label query over pods that should match the replica count."),
        ],
        cells: { obj, now in
            let rs = JSON.object(obj)
            let spec = rs["spec"], status = rs["status"]
            let (names, images) = TableFormat.containerCells(template: spec["template"])
            return [
                .string(obj.name),
                .int(spec["replicas"].intValue ?? 1),  // apps/v1 defaults replicas to 1
                .int(TableFormat.int(status["replicas"])),
                .int(TableFormat.int(status["readyReplicas"])),
                .string(HumanDuration.age(obj, now: now)),
                .string(names), .string(images),
                .string(TableFormat.formatLabelSelector(spec["selector"])),
            ]
        })
}
