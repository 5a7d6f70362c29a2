import KemuAPI

extension TableDefinition {
    /// `kubectl get deployments` (printers.go `printDeployment`). Up-to-date and Available are
    /// declared string columns upstream but carry integers; mirrored here.
    public static let deployment = TableDefinition(
        columns: [
            TableFormat.nameColumn,
            TableColumn("Ready", "string", "Number of the pod with ready state"),
            TableColumn("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
            TableColumn("Available", "string", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
            TableFormat.ageColumn,
            TableFormat.containersColumn,
            TableFormat.imagesColumn,
            TableColumn("Selector", priority: 1, "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment."),
        ],
        cells: { obj, now in
            let d = JSON.object(obj)
            let spec = d["spec"], status = d["status"]
            let desired = spec["replicas"].intValue ?? 1  // apps/v1 defaults replicas to 1
            let (names, images) = TableFormat.containerCells(template: spec["template"])
            return [
                .string(obj.name),
                .string("\(TableFormat.int(status["readyReplicas"]))/\(desired)"),
                .int(TableFormat.int(status["updatedReplicas"])),
                .int(TableFormat.int(status["availableReplicas"])),
                .string(HumanDuration.age(obj, now: now)),
                .string(names), .string(images),
                .string(TableFormat.selectorString(spec["selector"]) ?? "<invalid>"),
            ]
        })
}
