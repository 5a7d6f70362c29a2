import KemuAPI

extension TableDefinition {
    /// `kubectl get pods` (printers.go `printPod`).
    public static let pod = TableDefinition(
        columns: [
            TableFormat.nameColumn,
            TableColumn("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
            TableColumn("Status", "string", "The aggregate status of the containers in this pod."),
            TableColumn("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
            TableFormat.ageColumn,
            TableColumn("IP", priority: 1, "podIP address allocated to the pod. Routable at least within the cluster."),
            TableColumn("Node", priority: 1, "NodeName indicates in which node this pod is scheduled."),
            TableColumn("Nominated Node", priority: 1, "nominatedNodeName is set when this pod preempts other pods on the node."),
            TableColumn("Readiness Gates", priority: 1, "If specified, all readiness gates will be evaluated for pod readiness."),
        ],
        cells: { obj, now in PodRow(obj, now: now).cells },
        conditions: { obj in PodRow.conditions(obj) })
}

/// The cell rules of upstream's pod printer, read from the pod as JSON.
struct PodRow {
    var name: String
    var ready: String
    var status: String
    var restarts: String
    var age: String
    var ip: String
    var node: String
    var nominatedNode: String
    var readinessGates: String

    var cells: [JSON] {
        [name, ready, status, restarts, age, ip, node, nominatedNode, readinessGates].map { .string($0) }
    }

    static func conditions(_ obj: JSONObject) -> [JSON] {
        switch JSON.object(obj).at(["status", "phase"]).stringValue {
        case "Succeeded":
            return [["type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."]]
        case "Failed":
            return [["type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."]]
        default:
            return []
        }
    }

    /// Later of two optional instants (epoch seconds).
    private static func latest(_ a: Int?, _ b: Int?) -> Int? {
        guard let a else { return b }
        guard let b else { return a }
        return max(a, b)
    }

    /// `lastState.terminated.finishedAt` of a container status, when set.
    private static func lastFinished(_ cs: JSON) -> Int? {
        cs.at(["lastState", "terminated", "finishedAt"]).stringValue.flatMap(Timestamp.parse)
    }

    /// Whether the first condition of this type is True (upstream's Initialized check).
    private static func conditionTrue(_ status: JSON, _ type: String) -> Bool {
        for c in status["conditions"].arrayValue ?? [] where c["type"].stringValue == type {
            return c["status"].stringValue == "True"
        }
        return false
    }

    init(_ obj: JSONObject, now: Int) {
        let pod = JSON.object(obj)
        let spec = pod["spec"], status = pod["status"]
        let phase = status["phase"].stringValue ?? ""

        var reason = phase
        if let r = status["reason"].stringValue, !r.isEmpty { reason = r }
        for c in status["conditions"].arrayValue ?? [] where c["type"].stringValue == "PodScheduled" && c["reason"].stringValue == "SchedulingGated" {
            reason = "SchedulingGated"
        }

        var totalContainers = spec["containers"].arrayValue?.count ?? 0
        let initSpecs = spec["initContainers"].arrayValue ?? []
        var sidecars = Set<String>()
        for c in initSpecs where c["restartPolicy"].stringValue == "Always" {
            sidecars.insert(c["name"].stringValue ?? "")
            totalContainers += 1
        }

        var readyContainers = 0
        var restarts = 0, sidecarRestarts = 0
        var lastRestart: Int? = nil, lastSidecarRestart: Int? = nil

        // Init containers: the first one that has not finished decides the status.
        var initializing = false
        for (i, cs) in (status["initContainerStatuses"].arrayValue ?? []).enumerated() {
            let count = Int(TableFormat.int(cs["restartCount"]))
            restarts += count
            lastRestart = Self.latest(lastRestart, Self.lastFinished(cs))
            let isSidecar = sidecars.contains(cs["name"].stringValue ?? "")
            if isSidecar {
                sidecarRestarts += count
                lastSidecarRestart = Self.latest(lastSidecarRestart, Self.lastFinished(cs))
            }
            let terminated = cs.at(["state", "terminated"]), waiting = cs.at(["state", "waiting"])
            if TableFormat.isObject(terminated) && TableFormat.int(terminated["exitCode"]) == 0 { continue }
            if isSidecar && cs["started"].boolValue == true {
                if cs["ready"].boolValue == true { readyContainers += 1 }
                continue
            }
            if TableFormat.isObject(terminated) {
                let r = terminated["reason"].stringValue ?? ""
                if !r.isEmpty {
                    reason = "Init:" + r
                } else if TableFormat.int(terminated["signal"]) != 0 {
                    reason = "Init:Signal:\(TableFormat.int(terminated["signal"]))"
                } else {
                    reason = "Init:ExitCode:\(TableFormat.int(terminated["exitCode"]))"
                }
            } else if let r = waiting["reason"].stringValue, TableFormat.isObject(waiting), !r.isEmpty, r != "PodInitializing" {
                reason = "Init:" + r
            } else {
                reason = "Init:\(i)/\(initSpecs.count)"
            }
            initializing = true
            break
        }

        // Regular containers, last to first, so the first container's state wins.
        if !initializing || Self.conditionTrue(status, "Initialized") {
            restarts = sidecarRestarts
            lastRestart = lastSidecarRestart
            var hasRunning = false
            for cs in (status["containerStatuses"].arrayValue ?? []).reversed() {
                restarts += Int(TableFormat.int(cs["restartCount"]))
                lastRestart = Self.latest(lastRestart, Self.lastFinished(cs))
                let terminated = cs.at(["state", "terminated"]), waiting = cs.at(["state", "waiting"])
                if TableFormat.isObject(waiting), let r = waiting["reason"].stringValue, !r.isEmpty {
                    reason = r
                } else if TableFormat.isObject(terminated), let r = terminated["reason"].stringValue, !r.isEmpty {
                    reason = r
                } else if TableFormat.isObject(terminated) {
                    let signal = TableFormat.int(terminated["signal"])
                    reason = signal != 0 ? "Signal:\(signal)" : "ExitCode:\(TableFormat.int(terminated["exitCode"]))"
                } else if cs["ready"].boolValue == true && TableFormat.isObject(cs.at(["state", "running"])) {
                    hasRunning = true
                    readyContainers += 1
                }
            }
            // A pod that reads Completed but still has a running container is Running (or NotReady).
            if reason == "Completed" && hasRunning {
                let podReady = (status["conditions"].arrayValue ?? []).contains {
                    $0["type"].stringValue == "Ready" && $0["status"].stringValue == "True"
                }
                reason = podReady ? "Running" : "NotReady"
            }
        }

        if obj.deletionTimestamp != nil && status["reason"].stringValue == "NodeLost" {
            reason = "Unknown"
        } else if obj.deletionTimestamp != nil && phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating"
        }

        var restartsText = String(restarts)
        if restarts != 0, let last = lastRestart {
            restartsText = "\(restarts) (\(HumanDuration.format(seconds: now - last)) ago)"
        }

        var podIP = status["podIPs"].arrayValue?.first?["ip"].stringValue ?? ""
        if status["podIPs"].arrayValue?.isEmpty ?? true { podIP = status["podIP"].stringValue ?? "" }

        var gates = "<none>"
        let gateSpecs = spec["readinessGates"].arrayValue ?? []
        if !gateSpecs.isEmpty {
            let conditions = status["conditions"].arrayValue ?? []
            var trueCount = 0
            for gate in gateSpecs {
                let type = gate["conditionType"].stringValue ?? ""
                if let c = conditions.first(where: { $0["type"].stringValue == type }), c["status"].stringValue == "True" {
                    trueCount += 1
                }
            }
            gates = "\(trueCount)/\(gateSpecs.count)"
        }

        func orNone(_ s: String?) -> String {
            if let s, !s.isEmpty { return s }
            return "<none>"
        }
        name = obj.name
        ready = "\(readyContainers)/\(totalContainers)"
        self.status = reason
        self.restarts = restartsText
        age = HumanDuration.age(obj, now: now)
        ip = orNone(podIP)
        node = orNone(spec["nodeName"].stringValue)
        nominatedNode = orNone(status["nominatedNodeName"].stringValue)
        readinessGates = gates
    }
}
