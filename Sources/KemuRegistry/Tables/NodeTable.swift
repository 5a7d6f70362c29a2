import KemuAPI

extension TableDefinition {
    /// `kubectl get nodes` (printers.go `printNode`).
    public static let node = TableDefinition(
        columns: [
            TableFormat.nameColumn,
            TableColumn("Status", "string", "The status of the node"),
            TableColumn("Roles", "string", "The roles of the node"),
            TableFormat.ageColumn,
            TableColumn("Version", "string", "Kubelet Version reported by the node."),
            TableColumn("Internal-IP", priority: 1, "List of addresses reachable to the node."),
            TableColumn("External-IP", priority: 1, "List of addresses reachable to the node."),
            TableColumn("OS-Image", priority: 1, "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
            TableColumn("Kernel-Version", priority: 1, "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
            TableColumn("Container-Runtime", priority: 1, "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
        ],
        cells: { obj, now in
            let node = JSON.object(obj)
            let status = node["status"], info = status["nodeInfo"]

            // Ready / NotReady from the Ready condition (the last one listed wins), else Unknown.
            var parts: [String] = []
            if let ready = (status["conditions"].arrayValue ?? []).last(where: { $0["type"].stringValue == "Ready" }) {
                parts.append(ready["status"].stringValue == "True" ? "Ready" : "NotReady")
            } else {
                parts.append("Unknown")
            }
            if node.at(["spec", "unschedulable"]).boolValue == true { parts.append("SchedulingDisabled") }

            let roles = NodeFormat.roles(obj.labels)
            func address(_ type: String) -> String {
                (status["addresses"].arrayValue ?? []).first { $0["type"].stringValue == type }?["address"].stringValue ?? "<none>"
            }
            func orUnknown(_ key: String) -> String {
                if let s = info[key].stringValue, !s.isEmpty { return s }
                return "<unknown>"
            }
            return [
                .string(obj.name), .string(parts.joined(separator: ",")),
                .string(roles.isEmpty ? "<none>" : roles.joined(separator: ",")),
                .string(HumanDuration.age(obj, now: now)),
                .string(info["kubeletVersion"].stringValue ?? ""),
                .string(address("InternalIP")), .string(address("ExternalIP")),
                .string(orUnknown("osImage")), .string(orUnknown("kernelVersion")), .string(orUnknown("containerRuntimeVersion")),
            ]
        })
}

enum NodeFormat {
    /// Roles from `node-role.kubernetes.io/<role>` keys (any value) and a non-empty
    /// `kubernetes.io/role` value; sorted and de-duplicated.
    static func roles(_ labels: [String: String]) -> [String] {
        let prefix = "node-role.kubernetes.io/"
        var roles = Set<String>()
        for (k, v) in labels {
            if k.hasPrefix(prefix) {
                let role = String(k.dropFirst(prefix.count))
                if !role.isEmpty { roles.insert(role) }
            } else if k == "kubernetes.io/role" && !v.isEmpty {
                roles.insert(v)
            }
        }
        return roles.sorted()
    }
}
