import KemuAPI

extension TableDefinition {
    /// `kubectl get daemonsets` (printers.go `printDaemonSet`).
    public static let daemonSet = TableDefinition(
        columns: [
            TableFormat.nameColumn,
            TableColumn("Desired", "integer", "The total number of nodes that should be running the daemon pod."),
            TableColumn("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
            TableColumn("Ready", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready."),
            TableColumn("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod."),
            TableColumn("Available", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available."),
            TableColumn("Node Selector", "string", "NodeSelector is a selector which must be true for the pod to fit on a node."),
            TableFormat.ageColumn,
            TableFormat.containersColumn,
            TableFormat.imagesColumn,
            TableColumn("Selector", priority: 1, "A label query over pods that are managed by the daemon set."),
        ],
        cells: { obj, now in
            let ds = JSON.object(obj)
            let spec = ds["spec"], status = ds["status"]
            let (names, images) = TableFormat.containerCells(template: spec["template"])
            return [
                .string(obj.name),
                .int(TableFormat.int(status["desiredNumberScheduled"])),
                .int(TableFormat.int(status["currentNumberScheduled"])),
                .int(TableFormat.int(status["numberReady"])),
                .int(TableFormat.int(status["updatedNumberScheduled"])),
                .int(TableFormat.int(status["numberAvailable"])),
                .string(TableFormat.formatLabels(spec.at(["template", "spec", "nodeSelector"]))),
                .string(HumanDuration.age(obj, now: now)),
                .string(names), .string(images),
                .string(TableFormat.formatLabelSelector(spec["selector"])),
            ]
        })
}
