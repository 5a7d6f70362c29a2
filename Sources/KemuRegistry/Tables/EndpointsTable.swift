import KemuAPI

extension TableDefinition {
    /// `kubectl get endpoints` (printers.go `printEndpoints` / `formatEndpoints`).
    public static let endpoints = TableDefinition(
        columns: [
            TableFormat.nameColumn,
            TableColumn("Endpoints", "string", "The set of all endpoints is the union of all subsets."),
            TableFormat.ageColumn,
        ],
        cells: { obj, now in
            [.string(obj.name), .string(endpointsCell(obj)), .string(HumanDuration.age(obj, now: now))]
        })

    /// Ready addresses as `ip:port` for every port of each subset (bare IPs for port-less subsets);
    /// the first three, then `" + N more..."`; `<none>` without subsets.
    static func endpointsCell(_ obj: JSONObject) -> String {
        let subsets = JSON.object(obj)["subsets"].arrayValue ?? []
        if subsets.isEmpty { return "<none>" }
        var items: [String] = []
        for ss in subsets {
            let ips = (ss["addresses"].arrayValue ?? []).map { $0["ip"].stringValue ?? "" }
            let ports = ss["ports"].arrayValue ?? []
            if ports.isEmpty {
                items += ips
                continue
            }
            for p in ports {
                let port = String(TableFormat.int(p["port"]))
                items += ips.map { TableFormat.joinHostPort($0, port) }
            }
        }
        return TableFormat.listWithMore(items, empty: "")
    }
}
