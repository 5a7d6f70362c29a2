import KemuAPI
import KemuRegistry

/// The objects every fresh cluster has: the four system namespaces and the `kubernetes` Service.
enum Bootstrap {
    static let apiserver = WriteOptions(fieldManager: "kube-apiserver")

    static func seed(storage: ObjectStorage, allocators: ClusterAllocators) throws {
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            _ = try storage.create(.namespace, namespace: "", body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(ns)]],
                                   options: apiserver)
        }
        let service: JSONObject = [
            "apiVersion": "v1", "kind": "Service",
            "metadata": ["name": "kubernetes", "labels": ["component": "apiserver", "provider": "kubernetes"]],
            "spec": [
                "ports": [["name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443]],
                "clusterIP": .string(allocators.firstServiceIPv4),
            ],
        ]
        _ = try storage.create(.service, namespace: "default", body: service, options: apiserver)
    }
}
