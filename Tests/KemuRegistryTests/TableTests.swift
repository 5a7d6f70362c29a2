import XCTest
import KemuAPI
@testable import KemuRegistry

/// Server-side Table printers: columns and cell rules per kind (upstream printers.go).
final class TableTests: XCTestCase {
    static let t0 = Timestamp.parse("2024-01-01T00:00:00Z")!
    let t0 = TableTests.t0

    func ts(_ offset: Int) -> String { Timestamp.format(epochSeconds: t0 + offset) }

    func object(_ text: String) -> JSONObject {
        guard let o = try? JSONParser.parse(text).objectValue else {
            XCTFail("bad fixture: \(text)"); return JSONObject()
        }
        return o
    }

    /// Cells rendered as text (integers as their digits), for compact assertions.
    func cells(_ def: TableDefinition, _ text: String, now: Int? = nil) -> [String] {
        let row = def.cells(object(text), now ?? t0 + 300)
        XCTAssertEqual(row.count, def.columns.count, "one cell per column")
        return row.map { cell in
            switch cell {
            case .string(let s): return s
            case .int(let i): return String(i)
            default: return "?\(cell)"
            }
        }
    }

    func cell(_ def: TableDefinition, _ column: String, _ text: String, now: Int? = nil) -> String {
        guard let i = def.columns.firstIndex(where: { $0.name == column }) else {
            XCTFail("no column \(column)"); return ""
        }
        return cells(def, text, now: now)[i]
    }

    var created: String { #""creationTimestamp":"\#(ts(0))""# }

    // MARK: - HumanDuration

    func testHumanDurationBoundaries() {
        let cases: [(Int, String)] = [
            (-5, "<invalid>"), (-2, "<invalid>"), (-1, "0s"), (0, "0s"), (1, "1s"), (119, "119s"),
            (120, "2m"), (121, "2m1s"), (599, "9m59s"), (600, "10m"), (659, "10m"), (10_799, "179m"),
            (10_800, "3h"), (10_860, "3h1m"), (28_799, "7h59m"), (28_800, "8h"), (172_799, "47h"),
            (172_800, "2d"), (190_800, "2d5h"), (691_199, "7d23h"), (691_200, "8d"),
            (730 * 86_400 - 1, "729d"), (730 * 86_400, "2y"), (731 * 86_400, "2y1d"),
            (2_919 * 86_400, "7y364d"), (2_920 * 86_400, "8y"), (10_000 * 86_400, "27y"),
        ]
        for (seconds, want) in cases {
            XCTAssertEqual(HumanDuration.format(seconds: seconds), want, "\(seconds)s")
        }
    }

    func testAge() {
        XCTAssertEqual(HumanDuration.age(object(#"{"metadata":{"name":"x"}}"#), now: t0), "<unknown>")
        XCTAssertEqual(HumanDuration.age(object(#"{"metadata":{\#(created)}}"#), now: t0 + 330), "5m30s")
        XCTAssertEqual(HumanDuration.age(object(#"{"metadata":{"creationTimestamp":"2024-01-01T00:00:00.5+01:00"}}"#), now: t0), "60m")
        XCTAssertEqual(HumanDuration.since("garbage", now: t0), "<unknown>")
    }

    // MARK: - Every kind

    func testColumnShapesForEveryKind() {
        let all: [(String, TableDefinition)] = [
            ("pod", .pod), ("service", .service), ("endpoints", .endpoints), ("endpointSlice", .endpointSlice),
            ("node", .node), ("namespace", .namespace), ("deployment", .deployment), ("replicaSet", .replicaSet),
            ("statefulSet", .statefulSet), ("daemonSet", .daemonSet), ("controllerRevision", .controllerRevision),
        ]
        for (kind, def) in all {
            XCTAssertEqual(def.columns.first?.name, "Name", kind)
            XCTAssertEqual(def.columns.first?.format, "name", kind)
            XCTAssertTrue(def.columns.contains { $0.name == "Age" && $0.type == "string" }, kind)
            XCTAssertTrue(def.columns.allSatisfy { !$0.description.isEmpty }, kind)
            XCTAssertTrue(def.columns.allSatisfy { $0.type == "string" || $0.type == "integer" }, kind)
            // An empty object still yields one cell per column, and no conditions.
            let row = def.cells(object("{}"), t0)
            XCTAssertEqual(row.count, def.columns.count, kind)
            // Integer-typed columns carry JSON integers.
            for (c, v) in zip(def.columns, row) where c.type == "integer" {
                XCTAssertNotNil(v.intValue, "\(kind) \(c.name)")
            }
        }
        let names = { (d: TableDefinition) in d.columns.map(\.name) }
        XCTAssertEqual(names(.pod), ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"])
        XCTAssertEqual(TableDefinition.pod.columns.map(\.priority), [0, 0, 0, 0, 0, 1, 1, 1, 1])
        XCTAssertEqual(names(.service), ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"])
        XCTAssertEqual(names(.endpoints), ["Name", "Endpoints", "Age"])
        XCTAssertEqual(names(.endpointSlice), ["Name", "AddressType", "Ports", "Endpoints", "Age"])
        XCTAssertEqual(names(.node), ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"])
        XCTAssertEqual(names(.namespace), ["Name", "Status", "Age"])
        XCTAssertEqual(names(.deployment), ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"])
        XCTAssertEqual(TableDefinition.deployment.columns.map(\.type), Array(repeating: "string", count: 8))
        XCTAssertEqual(names(.replicaSet), ["Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"])
        XCTAssertEqual(TableDefinition.replicaSet.columns.map(\.type), ["string", "integer", "integer", "integer", "string", "string", "string", "string"])
        XCTAssertEqual(names(.statefulSet), ["Name", "Ready", "Age", "Containers", "Images"])
        XCTAssertEqual(names(.daemonSet), ["Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age", "Containers", "Images", "Selector"])
        XCTAssertEqual(TableDefinition.daemonSet.columns.filter { $0.type == "integer" }.count, 5)
        XCTAssertEqual(names(.controllerRevision), ["Name", "Controller", "Revision", "Age"])
    }

    // MARK: - Pod

    func testPodRunning() {
        let pod = #"""
        {"metadata":{"name":"web-1",\#(created)},
         "spec":{"nodeName":"node-1","containers":[{"name":"a"},{"name":"b"}]},
         "status":{"phase":"Running","podIP":"10.0.0.9","podIPs":[{"ip":"10.0.0.9"},{"ip":"fd00::9"}],
          "conditions":[{"type":"Ready","status":"True"}],
          "containerStatuses":[
            {"name":"a","ready":true,"restartCount":0,"state":{"running":{"startedAt":"\#(ts(1))"}}},
            {"name":"b","ready":true,"restartCount":0,"state":{"running":{"startedAt":"\#(ts(1))"}}}]}}
        """#
        XCTAssertEqual(cells(.pod, pod), ["web-1", "2/2", "Running", "0", "5m", "10.0.0.9", "node-1", "<none>", "<none>"])
        XCTAssertEqual(TableDefinition.pod.conditions(object(pod)), [])
    }

    func testPodPendingDefaults() {
        let pod = #"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Pending","podIP":"10.1.1.1"}}"#
        // No podIPs: the legacy podIP field is read (it is what v1 conversion copies into podIPs).
        XCTAssertEqual(cells(.pod, pod), ["p", "0/1", "Pending", "0", "<unknown>", "10.1.1.1", "<none>", "<none>", "<none>"])
    }

    func testPodWaitingReasonAndRestartsAgo() {
        let pod = #"""
        {"metadata":{"name":"crash",\#(created)},"spec":{"containers":[{"name":"a"}]},
         "status":{"phase":"Running","containerStatuses":[
           {"name":"a","ready":false,"restartCount":5,"state":{"waiting":{"reason":"CrashLoopBackOff"}},
            "lastState":{"terminated":{"exitCode":1,"reason":"Error","finishedAt":"\#(ts(120))"}}}]}}
        """#
        let row = cells(.pod, pod, now: t0 + 300)
        XCTAssertEqual(row[1], "0/1")
        XCTAssertEqual(row[2], "CrashLoopBackOff")
        XCTAssertEqual(row[3], "5 (3m ago)")
        // Restarts without a recorded finish time print just the count.
        let noTime = #"{"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Running","containerStatuses":[{"name":"a","restartCount":2,"state":{"waiting":{"reason":"ContainerCreating"}}}]}}"#
        XCTAssertEqual(cell(.pod, "Restarts", noTime), "2")
        XCTAssertEqual(cell(.pod, "Status", noTime), "ContainerCreating")
    }

    func testPodInitContainerStates() {
        func pod(_ statuses: String) -> String {
            #"""
            {"spec":{"initContainers":[{"name":"i0"},{"name":"i1"},{"name":"i2"}],"containers":[{"name":"a"}]},
             "status":{"phase":"Pending","initContainerStatuses":[\#(statuses)],
              "containerStatuses":[{"name":"a","state":{"waiting":{"reason":"PodInitializing"}}}]}}
            """#
        }
        let done = #"{"name":"i0","restartCount":0,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}"#
        XCTAssertEqual(cell(.pod, "Status", pod(#"\#(done),{"name":"i1","state":{"running":{}}}"#)), "Init:1/3")
        XCTAssertEqual(cell(.pod, "Status", pod(#"{"name":"i0","state":{"waiting":{"reason":"PodInitializing"}}}"#)), "Init:0/3")
        XCTAssertEqual(cell(.pod, "Status", pod(#"\#(done),{"name":"i1","restartCount":3,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}"#)), "Init:CrashLoopBackOff")
        XCTAssertEqual(cell(.pod, "Status", pod(#"{"name":"i0","state":{"terminated":{"exitCode":2}}}"#)), "Init:ExitCode:2")
        XCTAssertEqual(cell(.pod, "Status", pod(#"{"name":"i0","state":{"terminated":{"exitCode":137,"signal":9}}}"#)), "Init:Signal:9")
        XCTAssertEqual(cell(.pod, "Status", pod(#"{"name":"i0","state":{"terminated":{"exitCode":1,"reason":"Error"}}}"#)), "Init:Error")
        // Restarts count the init containers up to the one still initialising.
        XCTAssertEqual(cell(.pod, "Restarts", pod(#"\#(done),{"name":"i1","restartCount":3,"state":{"waiting":{"reason":"CrashLoopBackOff"}}}"#)), "3")
        XCTAssertEqual(cell(.pod, "Ready", pod(done)), "0/1")
        // All init containers done: the app containers decide.
        XCTAssertEqual(cell(.pod, "Status", pod([done, done, done].joined(separator: ","))), "PodInitializing")
    }

    func testPodSidecarCountsAsContainer() {
        let pod = #"""
        {"spec":{"initContainers":[{"name":"proxy","restartPolicy":"Always"}],"containers":[{"name":"app"}]},
         "status":{"phase":"Running","conditions":[{"type":"Initialized","status":"True"}],
          "initContainerStatuses":[{"name":"proxy","ready":true,"started":true,"restartCount":1,"state":{"running":{}},
            "lastState":{"terminated":{"exitCode":1,"finishedAt":"\#(ts(60))"}}}],
          "containerStatuses":[{"name":"app","ready":true,"restartCount":0,"state":{"running":{}}}]}}
        """#
        let row = cells(.pod, pod, now: t0 + 180)
        XCTAssertEqual(row[1], "2/2")
        XCTAssertEqual(row[2], "Running")
        XCTAssertEqual(row[3], "1 (2m ago)")
    }

    func testPodCompletedAndFailedConditions() {
        let done = #"""
        {"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Succeeded",
         "containerStatuses":[{"name":"a","ready":false,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}}
        """#
        XCTAssertEqual(cell(.pod, "Status", done), "Completed")
        XCTAssertEqual(cell(.pod, "Ready", done), "0/1")
        XCTAssertEqual(TableDefinition.pod.conditions(object(done)),
                       [["type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."]])
        let failed = #"{"status":{"phase":"Failed","containerStatuses":[{"name":"a","state":{"terminated":{"exitCode":3}}}]}}"#
        XCTAssertEqual(cell(.pod, "Status", failed), "ExitCode:3")
        XCTAssertEqual(TableDefinition.pod.conditions(object(failed)),
                       [["type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."]])
        let signalled = #"{"status":{"phase":"Failed","containerStatuses":[{"name":"a","state":{"terminated":{"exitCode":137,"signal":9}}}]}}"#
        XCTAssertEqual(cell(.pod, "Status", signalled), "Signal:9")
        let evicted = #"{"status":{"phase":"Failed","reason":"Evicted"}}"#
        XCTAssertEqual(cell(.pod, "Status", evicted), "Evicted")
    }

    func testPodCompletedWithRunningContainer() {
        func pod(ready: Bool) -> String {
            #"""
            {"spec":{"containers":[{"name":"a"},{"name":"b"}]},"status":{"phase":"Running",
             "conditions":[{"type":"Ready","status":"\#(ready ? "True" : "False")"}],
             "containerStatuses":[
               {"name":"a","state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
               {"name":"b","ready":true,"state":{"running":{}}}]}}
            """#
        }
        XCTAssertEqual(cell(.pod, "Status", pod(ready: true)), "Running")
        XCTAssertEqual(cell(.pod, "Status", pod(ready: false)), "NotReady")
        XCTAssertEqual(cell(.pod, "Ready", pod(ready: true)), "1/2")
    }

    func testPodTerminatingUnknownAndGated() {
        let terminating = #"{"metadata":{"deletionTimestamp":"\#(ts(10))"},"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Running","containerStatuses":[{"name":"a","ready":true,"state":{"running":{}}}]}}"#
        XCTAssertEqual(cell(.pod, "Status", terminating), "Terminating")
        let finished = #"{"metadata":{"deletionTimestamp":"\#(ts(10))"},"status":{"phase":"Succeeded","containerStatuses":[{"name":"a","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}}"#
        XCTAssertEqual(cell(.pod, "Status", finished), "Completed")
        let lost = #"{"metadata":{"deletionTimestamp":"\#(ts(10))"},"status":{"phase":"Running","reason":"NodeLost"}}"#
        XCTAssertEqual(cell(.pod, "Status", lost), "Unknown")
        let gated = #"{"spec":{"containers":[{"name":"a"}]},"status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False","reason":"SchedulingGated"}]}}"#
        XCTAssertEqual(cell(.pod, "Status", gated), "SchedulingGated")
    }

    func testPodWideColumns() {
        let pod = #"""
        {"spec":{"containers":[{"name":"a"}],"readinessGates":[{"conditionType":"example.com/a"},{"conditionType":"example.com/b"}]},
         "status":{"phase":"Pending","nominatedNodeName":"node-2","podIPs":[{"ip":"fd00::1"}],
          "conditions":[{"type":"example.com/a","status":"True"},{"type":"example.com/b","status":"False"}]}}
        """#
        let row = cells(.pod, pod)
        XCTAssertEqual(Array(row[5...]), ["fd00::1", "<none>", "node-2", "1/2"])
    }

    // MARK: - Service

    func testServiceClusterIPAndNodePort() {
        let svc = #"""
        {"metadata":{"name":"web",\#(created)},"spec":{"type":"NodePort","clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],
         "ports":[{"port":80,"nodePort":30080,"protocol":"TCP"},{"port":53,"protocol":"UDP"}],
         "selector":{"tier":"fe","app":"web"}}}
        """#
        XCTAssertEqual(cells(.service, svc), ["web", "NodePort", "10.96.0.10", "<none>", "80:30080/TCP,53/UDP", "5m", "app=web,tier=fe"])
        let plain = #"{"spec":{"type":"ClusterIP","clusterIPs":["10.96.0.1"],"externalIPs":["1.2.3.4","5.6.7.8"],"ports":[{"port":443,"protocol":"TCP"}]}}"#
        XCTAssertEqual(cell(.service, "External-IP", plain), "1.2.3.4,5.6.7.8")
        XCTAssertEqual(cell(.service, "Port(s)", plain), "443/TCP")
        XCTAssertEqual(cell(.service, "Selector", plain), "<none>")
    }

    func testServiceHeadlessLoadBalancerExternalName() {
        let headless = #"{"spec":{"type":"ClusterIP","clusterIP":"None","clusterIPs":["None"]}}"#
        XCTAssertEqual(cell(.service, "Cluster-IP", headless), "None")
        XCTAssertEqual(cell(.service, "Port(s)", headless), "<none>")
        let pending = #"{"spec":{"type":"LoadBalancer","clusterIPs":["10.96.0.5"],"ports":[{"port":80,"nodePort":31000,"protocol":"TCP"}]}}"#
        XCTAssertEqual(cell(.service, "External-IP", pending), "<pending>")
        let ready = #"""
        {"spec":{"type":"LoadBalancer","externalIPs":["9.9.9.9"]},
         "status":{"loadBalancer":{"ingress":[{"ip":"5.5.5.5"},{"hostname":"a-very-long-load-balancer.example.com"},{"ip":"1.1.1.1"},{"ip":"5.5.5.5"}]}}}
        """#
        // Server output is always wide: no clipping to 16 characters.
        XCTAssertEqual(cell(.service, "External-IP", ready), "1.1.1.1,5.5.5.5,a-very-long-load-balancer.example.com,9.9.9.9")
        let external = #"{"spec":{"type":"ExternalName","externalName":"db.example.com"}}"#
        XCTAssertEqual(cells(.service, external), ["", "ExternalName", "<none>", "db.example.com", "<none>", "<unknown>", "<none>"])
    }

    // MARK: - Endpoints and EndpointSlices

    func testEndpoints() {
        XCTAssertEqual(cell(.endpoints, "Endpoints", #"{"metadata":{"name":"e"}}"#), "<none>")
        XCTAssertEqual(cell(.endpoints, "Endpoints", #"{"subsets":[]}"#), "<none>")
        let two = #"""
        {"subsets":[{"addresses":[{"ip":"10.0.0.1"},{"ip":"10.0.0.2"}],"notReadyAddresses":[{"ip":"10.0.0.3"}],
                     "ports":[{"name":"http","port":80},{"name":"https","port":443}]}]}
        """#
        XCTAssertEqual(cell(.endpoints, "Endpoints", two), "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...")
        let three = #"{"subsets":[{"addresses":[{"ip":"10.0.0.1"}],"ports":[{"port":80}]},{"addresses":[{"ip":"fd00::1"}],"ports":[{"port":8080}]}]}"#
        XCTAssertEqual(cell(.endpoints, "Endpoints", three), "10.0.0.1:80,[fd00::1]:8080")
        let portless = #"{"subsets":[{"addresses":[{"ip":"10.0.0.1"},{"ip":"10.0.0.2"}]}]}"#
        XCTAssertEqual(cell(.endpoints, "Endpoints", portless), "10.0.0.1,10.0.0.2")
        let notReadyOnly = #"{"subsets":[{"notReadyAddresses":[{"ip":"10.0.0.1"}],"ports":[{"port":80}]}]}"#
        XCTAssertEqual(cell(.endpoints, "Endpoints", notReadyOnly), "")
    }

    func testEndpointSlice() {
        let empty = #"{"metadata":{"name":"s",\#(created)},"addressType":"IPv4"}"#
        XCTAssertEqual(cells(.endpointSlice, empty), ["s", "IPv4", "<unset>", "<unset>", "5m"])
        let full = #"""
        {"addressType":"IPv6","ports":[{"port":80,"name":"http"},{"name":"metrics"},{},{"port":9090}],
         "endpoints":[{"addresses":["fd00::1"],"conditions":{"ready":false}},{"addresses":["fd00::2","fd00::3"]},{"addresses":["fd00::4","fd00::5"]}]}
        """#
        XCTAssertEqual(cell(.endpointSlice, "Ports", full), "80,metrics,* + 1 more...")
        XCTAssertEqual(cell(.endpointSlice, "Endpoints", full), "fd00::1,fd00::2,fd00::3 + 2 more...")
    }

    // MARK: - Node and Namespace

    func testNode() {
        let node = #"""
        {"metadata":{"name":"n1",\#(created),"labels":{"node-role.kubernetes.io/worker":"","node-role.kubernetes.io/control-plane":"",
           "kubernetes.io/role":"infra","node-role.kubernetes.io/":"x","kubernetes.io/hostname":"n1"}},
         "spec":{"unschedulable":true},
         "status":{"conditions":[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":"True"}],
          "addresses":[{"type":"Hostname","address":"n1"},{"type":"InternalIP","address":"172.18.0.2"},{"type":"InternalIP","address":"172.18.0.3"}],
          "nodeInfo":{"kubeletVersion":"v1.32.4","osImage":"Debian GNU/Linux 12 (bookworm)","kernelVersion":"6.1.0","containerRuntimeVersion":"containerd://1.7.0"}}}
        """#
        XCTAssertEqual(cells(.node, node), ["n1", "Ready,SchedulingDisabled", "control-plane,infra,worker", "5m", "v1.32.4",
                                            "172.18.0.2", "<none>", "Debian GNU/Linux 12 (bookworm)", "6.1.0", "containerd://1.7.0"])
        XCTAssertEqual(cells(.node, #"{"metadata":{"name":"n2"}}"#),
                       ["n2", "Unknown", "<none>", "<unknown>", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"])
        XCTAssertEqual(cell(.node, "Status", #"{"status":{"conditions":[{"type":"Ready","status":"Unknown"}]}}"#), "NotReady")
        XCTAssertEqual(cell(.node, "Status", #"{"spec":{"unschedulable":true},"status":{"conditions":[{"type":"Ready","status":"False"}]}}"#), "NotReady,SchedulingDisabled")
    }

    func testNamespace() {
        XCTAssertEqual(cells(.namespace, #"{"metadata":{"name":"default",\#(created)},"status":{"phase":"Active"}}"#), ["default", "Active", "5m"])
        XCTAssertEqual(cell(.namespace, "Status", #"{"metadata":{"name":"x","deletionTimestamp":"\#(ts(1))"},"status":{"phase":"Terminating"}}"#), "Terminating")
    }

    // MARK: - Workloads

    let template = #""template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"},{"name":"sidecar","image":"busybox"}]}}"#

    func testDeployment() {
        let d = #"""
        {"metadata":{"name":"web",\#(created)},"spec":{"replicas":3,"selector":{"matchLabels":{"tier":"fe","app":"web"},
           "matchExpressions":[{"key":"env","operator":"In","values":["prod","dev"]},{"key":"canary","operator":"DoesNotExist"},{"key":"app","operator":"Exists"}]},\#(template)},
         "status":{"replicas":3,"readyReplicas":2,"updatedReplicas":3,"availableReplicas":2}}
        """#
        let row = TableDefinition.deployment.cells(object(d), t0 + 300)
        XCTAssertEqual(row, [.string("web"), .string("2/3"), .int(3), .int(2), .string("5m"), .string("nginx,sidecar"),
                             .string("nginx:1.27,busybox"), .string("app=web,app,!canary,env in (dev,prod),tier=fe")])
        // Defaults and missing status.
        XCTAssertEqual(cells(.deployment, #"{"metadata":{"name":"x"},"spec":{"selector":{"matchLabels":{"app":"x"}}}}"#),
                       ["x", "0/1", "0", "0", "<unknown>", "", "", "app=x"])
        XCTAssertEqual(cell(.deployment, "Selector", #"{"spec":{"replicas":0}}"#), "")
        XCTAssertEqual(cell(.deployment, "Ready", #"{"spec":{"replicas":0}}"#), "0/0")
        XCTAssertEqual(cell(.deployment, "Selector", #"{"spec":{"selector":{"matchExpressions":[{"key":"a","operator":"Bogus"}]}}}"#), "<invalid>")
        XCTAssertEqual(cell(.deployment, "Selector", #"{"spec":{"selector":{"matchExpressions":[{"key":"a","operator":"In","values":[]}]}}}"#), "<invalid>")
    }

    func testReplicaSet() {
        let rs = #"""
        {"metadata":{"name":"web-5d9c7",\#(created)},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web","pod-template-hash":"5d9c7"}},\#(template)},
         "status":{"replicas":3,"readyReplicas":1}}
        """#
        XCTAssertEqual(TableDefinition.replicaSet.cells(object(rs), t0 + 300),
                       [.string("web-5d9c7"), .int(3), .int(3), .int(1), .string("5m"), .string("nginx,sidecar"),
                        .string("nginx:1.27,busybox"), .string("app=web,pod-template-hash=5d9c7")])
        XCTAssertEqual(cells(.replicaSet, #"{"spec":{}}"#), ["", "1", "0", "0", "<unknown>", "", "", "<none>"])
        XCTAssertEqual(cell(.replicaSet, "Selector", #"{"spec":{"selector":{"matchLabels":{"bad key!":"x"}}}}"#), "<error>")
    }

    func testStatefulSet() {
        let sts = #"{"metadata":{"name":"db",\#(created)},"spec":{"replicas":3,\#(template)},"status":{"readyReplicas":1}}"#
        XCTAssertEqual(cells(.statefulSet, sts), ["db", "1/3", "5m", "nginx,sidecar", "nginx:1.27,busybox"])
        XCTAssertEqual(cell(.statefulSet, "Ready", #"{"spec":{}}"#), "0/1")
    }

    func testDaemonSet() {
        let ds = #"""
        {"metadata":{"name":"agent",\#(created)},
         "spec":{"selector":{"matchLabels":{"app":"agent"}},
          "template":{"spec":{"nodeSelector":{"kubernetes.io/os":"linux","disk":"ssd"},"containers":[{"name":"agent","image":"agent:1"}]}}},
         "status":{"desiredNumberScheduled":3,"currentNumberScheduled":3,"numberReady":2,"updatedNumberScheduled":1,"numberAvailable":2}}
        """#
        XCTAssertEqual(TableDefinition.daemonSet.cells(object(ds), t0 + 300),
                       [.string("agent"), .int(3), .int(3), .int(2), .int(1), .int(2), .string("disk=ssd,kubernetes.io/os=linux"),
                        .string("5m"), .string("agent"), .string("agent:1"), .string("app=agent")])
        XCTAssertEqual(cell(.daemonSet, "Node Selector", #"{"spec":{"template":{"spec":{}}}}"#), "<none>")
    }

    func testControllerRevision() {
        let cr = #"""
        {"metadata":{"name":"web-5d4f8","ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":"x","uid":"1"},
          {"apiVersion":"apps/v1","kind":"StatefulSet","name":"web","uid":"2","controller":true}],\#(created)},
         "data":{"spec":{}},"revision":4}
        """#
        XCTAssertEqual(TableDefinition.controllerRevision.cells(object(cr), t0 + 300),
                       [.string("web-5d4f8"), .string("statefulset.apps/web"), .int(4), .string("5m")])
        XCTAssertEqual(cells(.controllerRevision, #"{"metadata":{"name":"x","ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":"p","controller":true}]}}"#),
                       ["x", "pod/p", "0", "<unknown>"])
        XCTAssertEqual(cell(.controllerRevision, "Controller", #"{"metadata":{"name":"x"}}"#), "<none>")
    }

    // MARK: - Helpers

    func testSelectorFormatting() {
        func sel(_ text: String) -> String? { TableFormat.selectorString(try! JSONParser.parse(text)) }
        XCTAssertEqual(sel("null"), "")
        XCTAssertEqual(sel("{}"), "")
        XCTAssertEqual(sel(#"{"matchExpressions":[{"key":"x","operator":"NotIn","values":["b","a","c"]}]}"#), "x notin (a,b,c)")
        XCTAssertEqual(sel(#"{"matchExpressions":[{"key":"x","operator":"In","values":["only"]}]}"#), "x in (only)")
        XCTAssertNil(sel(#"{"matchExpressions":[{"key":"x","operator":"Exists","values":["v"]}]}"#))
        XCTAssertNil(sel(#"{"matchLabels":{"app":"not valid!"}}"#))
        XCTAssertEqual(TableFormat.formatLabelSelector(.null), "<none>")
        XCTAssertEqual(TableFormat.joinHostPort("::1", "80"), "[::1]:80")
        XCTAssertEqual(TableFormat.joinHostPort("10.0.0.1", "80"), "10.0.0.1:80")
    }
}
