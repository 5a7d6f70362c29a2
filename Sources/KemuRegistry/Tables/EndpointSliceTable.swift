import KemuAPI

extension TableDefinition {
    /// `kubectl get endpointslices` (printers.go `printEndpointSlice`).
    public static let endpointSlice = TableDefinition(
        columns: [
            TableFormat.nameColumn,
            TableColumn("AddressType", "string", "addressType specifies the type of address carried by this EndpointSlice."),
            TableColumn("Ports", "string", "ports specifies the list of network ports exposed by each endpoint in this slice."),
            TableColumn("Endpoints", "string", "endpoints is a list of unique endpoints in this slice."),
            TableFormat.ageColumn,
        ],
        cells: { obj, now in
            let slice = JSON.object(obj)
            // Port number, else its name, else `*` (all ports).
            let ports = (slice["ports"].arrayValue ?? []).map { p -> String in
                if let n = p["port"].intValue { return String(n) }
                if let name = p["name"].stringValue { return name }
                return "*"
            }
            // Every address of every endpoint, whatever its conditions.
            let addresses = (slice["endpoints"].arrayValue ?? []).flatMap { e in
                (e["addresses"].arrayValue ?? []).map { $0.stringValue ?? "" }
            }
            return [
                .string(obj.name), .string(slice["addressType"].stringValue ?? ""),
                .string(TableFormat.listWithMore(ports, empty: "<unset>")),
                .string(TableFormat.listWithMore(addresses, empty: "<unset>")),
                .string(HumanDuration.age(obj, now: now)),
            ]
        })
}
