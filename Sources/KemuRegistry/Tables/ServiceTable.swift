import KemuAPI

extension TableDefinition {
    /// `kubectl get services` (printers.go `printService`).
    public static let service = TableDefinition(
        columns: [
            TableFormat.nameColumn,
            TableColumn("Type", "string", "type determines how the Service is exposed."),
            TableColumn("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly."),
            TableColumn("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
            TableColumn("Port(s)", "string", "The list of ports that are exposed by this service."),
            TableFormat.ageColumn,
            TableColumn("Selector", priority: 1, "Route service traffic to pods with label keys and values matching this selector."),
        ],
        cells: { obj, now in
            let spec = JSON.object(obj)["spec"]
            let status = JSON.object(obj)["status"]
            let type = spec["type"].stringValue ?? ""

            // clusterIPs is defaulted from clusterIP; read the latter when a stored object lacks the former.
            var clusterIP = spec["clusterIPs"].arrayValue?.first?.stringValue ?? ""
            if spec["clusterIPs"].arrayValue?.isEmpty ?? true { clusterIP = spec["clusterIP"].stringValue ?? "" }
            if clusterIP.isEmpty { clusterIP = "<none>" }

            var ports = ServiceFormat.ports(spec["ports"].arrayValue ?? [])
            if ports.isEmpty { ports = "<none>" }

            return [
                .string(obj.name), .string(type), .string(clusterIP),
                .string(ServiceFormat.externalIP(type: type, spec: spec, status: status)),
                .string(ports), .string(HumanDuration.age(obj, now: now)),
                .string(TableFormat.formatLabels(spec["selector"])),
            ]
        })
}

enum ServiceFormat {
    /// `80/TCP`, or `80:30080/TCP` with a node port; comma-joined.
    static func ports(_ ports: [JSON]) -> String {
        ports.map { p in
            let port = TableFormat.int(p["port"])
            let proto = p["protocol"].stringValue ?? "TCP"
            let nodePort = TableFormat.int(p["nodePort"])
            return nodePort > 0 ? "\(port):\(nodePort)/\(proto)" : "\(port)/\(proto)"
        }.joined(separator: ",")
    }

    /// Load-balancer ingress points (IP, else hostname), de-duplicated and sorted. The server
    /// always prints the wide form, so the 16-character clipping of narrow output never applies.
    static func loadBalancerIngress(_ status: JSON) -> [String] {
        var seen = Set<String>()
        for i in status.at(["loadBalancer", "ingress"]).arrayValue ?? [] {
            if let ip = i["ip"].stringValue, !ip.isEmpty {
                seen.insert(ip)
            } else if let host = i["hostname"].stringValue, !host.isEmpty {
                seen.insert(host)
            }
        }
        return seen.sorted()
    }

    static func externalIP(type: String, spec: JSON, status: JSON) -> String {
        let externalIPs = spec["externalIPs"].arrayValue?.compactMap(\.stringValue) ?? []
        switch type {
        case "ClusterIP", "NodePort":
            return externalIPs.isEmpty ? "<none>" : externalIPs.joined(separator: ",")
        case "LoadBalancer":
            let all = loadBalancerIngress(status) + externalIPs
            return all.isEmpty ? "<pending>" : all.joined(separator: ",")
        case "ExternalName":
            return spec["externalName"].stringValue ?? ""
        default:
            return "<unknown>"
        }
    }
}
