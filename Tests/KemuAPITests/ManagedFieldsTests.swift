import Foundation
import XCTest
@testable import KemuAPI

// MARK: - Helpers

/// The OpenAPI documents kemu serves, indexed once.
private let schemaIndex: OpenAPISchemaIndex = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let dir = root.appendingPathComponent("openapi")
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
    var docs: [JSON] = []
    for name in names {
        guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent(name).path),
              let doc = try? JSONParser.parse([UInt8](data)) else { continue }
        docs.append(doc)
    }
    return OpenAPISchemaIndex(documents: docs)
}()

private func schema(_ group: String, _ version: String, _ kind: String) -> (any PatchSchema)? {
    schemaIndex.schema(group: group, version: version, kind: kind)
}

private func obj(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONObject {
    guard case .object(let o)? = try? JSONParser.parse(text) else {
        XCTFail("bad JSON object in test: \(text)", file: file, line: line)
        return JSONObject()
    }
    return o
}

private func managedFields(_ o: JSONObject) -> JSON? { o["metadata"]?.objectValue?["managedFields"] }

private func entries(_ o: JSONObject) -> [JSONObject] {
    (managedFields(o)?.arrayValue ?? []).compactMap(\.objectValue)
}

private func fieldsV1(_ o: JSONObject, manager: String, subresource: String? = nil) -> String? {
    for e in entries(o) where e["manager"]?.stringValue == manager && e["subresource"]?.stringValue == subresource {
        return e["fieldsV1"].map { JSONWriter.string($0) }
    }
    return nil
}

/// `obj` with `metadata` modified.
private func withMeta(_ o: JSONObject, _ body: (inout JSONObject) -> Void) -> JSONObject {
    var out = o
    out.withObject("metadata", body)
    return out
}

private let t1 = "2024-01-01T00:00:00Z"
private let t2 = "2024-01-01T00:05:00Z"
private let t3 = "2024-01-01T00:10:00Z"

/// A Service as kube-apiserver's field manager sees it on `kubectl create`: defaulted, before
/// the ClusterIP allocation.
private let serviceText = """
{"apiVersion":"v1","kind":"Service","metadata":{"name":"demo","namespace":"default","uid":"u1","resourceVersion":"1",\
"creationTimestamp":"2024-01-01T00:00:00Z","labels":{"app":"demo"}},"spec":{"ports":[{"name":"http","port":80,\
"protocol":"TCP","targetPort":9090}],"selector":{"app":"demo"},"type":"ClusterIP","sessionAffinity":"None",\
"internalTrafficPolicy":"Cluster"},"status":{"loadBalancer":{}}}
"""

private func createService() -> JSONObject {
    ManagedFields.update(previous: nil, new: obj(serviceText), manager: "kubectl-create", apiVersion: "v1",
                         subresource: nil, time: t1, schema: schema("", "v1", "Service"))
}

/// A Deployment created by a client, as in a real kube-apiserver's output (defaulted).
private let deploymentText = """
{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"demoservice-server","namespace":"default",\
"labels":{"app":"demoservice-server","cyberarmor.inject":"true"}},"spec":{"progressDeadlineSeconds":600,"replicas":1,\
"revisionHistoryLimit":10,"selector":{"matchLabels":{"app":"demoservice-server"}},"strategy":{"rollingUpdate":\
{"maxSurge":"25%","maxUnavailable":"25%"},"type":"RollingUpdate"},"template":{"metadata":{"creationTimestamp":null,\
"labels":{"app":"demoservice-server"}},"spec":{"containers":[{"env":[{"name":"SERVER_PORT","value":"8089"},\
{"name":"SLEEP_DURATION","value":"1"},{"name":"DEMO_FOLDERS","value":"/app"},{"name":"ARMO_TEST_NAME",\
"value":"auto_attach_deployment"},{"name":"CAA_ENABLE_CRASH_REPORTER","value":"1"}],"image":\
"quay.io/armosec/demoservice:v25","imagePullPolicy":"IfNotPresent","name":"demoservice","ports":[{"containerPort":8089,\
"protocol":"TCP"}],"resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],\
"dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},\
"terminationGracePeriodSeconds":30}}},"status":{}}
"""

final class ManagedFieldsTests: XCTestCase {
    func testSchemasLoaded() {
        XCTAssertGreaterThan(schemaIndex.definitionCount, 100)
        let ports = schema("", "v1", "Service")?.field("spec")?.element?.field("ports")
        XCTAssertEqual(ports?.listType, "map")
        XCTAssertEqual(ports?.listMapKeys, ["port", "protocol"])
        XCTAssertEqual(schema("", "v1", "Service")?.field("spec")?.element?.field("selector")?.mapType, "atomic")
        // Map type of a referenced definition, and of list items.
        XCTAssertEqual(schema("apps", "v1", "Deployment")?.field("spec")?.element?.field("selector")?.mapType, "atomic")
        let pod = schema("", "v1", "Pod")?.field("spec")?.element
        XCTAssertEqual(pod?.field("imagePullSecrets")?.mapType, "atomic")
        XCTAssertEqual(pod?.field("tolerations")?.listType, "atomic")
        XCTAssertNil(pod?.field("containers")?.mapType)
    }

    // MARK: Create

    func testCreateOwnsEveryFieldWithUpstreamEncoding() {
        let out = createService()
        XCTAssertEqual(entries(out).count, 1)
        // Entry shape and key order as metav1.ManagedFieldsEntry marshals.
        XCTAssertEqual(JSONWriter.string(managedFields(out)!), """
        [{"manager":"kubectl-create","operation":"Update","apiVersion":"v1","time":"2024-01-01T00:00:00Z",\
        "fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":\
        {"f:internalTrafficPolicy":{},"f:ports":{".":{},"k:{\\"port\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},\
        "f:name":{},"f:port":{},"f:protocol":{},"f:targetPort":{}}},"f:selector":{},"f:sessionAffinity":{},\
        "f:type":{}}}}]
        """)
        // Everything else is untouched.
        XCTAssertEqual(ManagedFields.setting(out, nil), obj(serviceText))
    }

    func testCreateDeploymentMatchesKubeAPIServer() {
        // Expected value taken from a real kube-apiserver's managedFields for this object.
        let out = ManagedFields.update(previous: nil, new: obj(deploymentText), manager: "OpenAPI-Generator",
                                       apiVersion: "apps/v1", subresource: nil, time: t1,
                                       schema: schema("apps", "v1", "Deployment"))
        XCTAssertEqual(fieldsV1(out, manager: "OpenAPI-Generator"), """
        {"f:metadata":{"f:labels":{".":{},"f:app":{},"f:cyberarmor.inject":{}}},"f:spec":{"f:progressDeadlineSeconds":{},\
        "f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":{".":{},"f:maxSurge":{},\
        "f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":\
        {"f:containers":{"k:{\\"name\\":\\"demoservice\\"}":{".":{},"f:env":{".":{},"k:{\\"name\\":\\"ARMO_TEST_NAME\\"}":\
        {".":{},"f:name":{},"f:value":{}},"k:{\\"name\\":\\"CAA_ENABLE_CRASH_REPORTER\\"}":{".":{},"f:name":{},"f:value":{}},\
        "k:{\\"name\\":\\"DEMO_FOLDERS\\"}":{".":{},"f:name":{},"f:value":{}},"k:{\\"name\\":\\"SERVER_PORT\\"}":{".":{},\
        "f:name":{},"f:value":{}},"k:{\\"name\\":\\"SLEEP_DURATION\\"}":{".":{},"f:name":{},"f:value":{}}},"f:image":{},\
        "f:imagePullPolicy":{},"f:name":{},"f:ports":{".":{},"k:{\\"containerPort\\":8089,\\"protocol\\":\\"TCP\\"}":\
        {".":{},"f:containerPort":{},"f:protocol":{}}},"f:resources":{},"f:terminationMessagePath":{},\
        "f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},\
        "f:terminationGracePeriodSeconds":{}}}}}
        """)
    }

    func testSetAtomicAndKeyDefaultEncodings() {
        let pod = obj("""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","finalizers":["example.com/a"],\
        "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"abc","controller":true}]},\
        "spec":{"containers":[{"name":"c","image":"nginx","ports":[{"containerPort":80}]}],"nodeSelector":{"disk":"ssd"},\
        "imagePullSecrets":[{"name":"regcred"}],"tolerations":[{"key":"k","operator":"Exists"}]}}
        """)
        let out = ManagedFields.update(previous: nil, new: pod, manager: "m", apiVersion: "v1", subresource: nil,
                                       time: t1, schema: schema("", "v1", "Pod"))
        // v: for set items, k: with the defaulted protocol, atomic list items / lists / maps as leaves.
        XCTAssertEqual(fieldsV1(out, manager: "m"), """
        {"f:metadata":{"f:finalizers":{".":{},"v:\\"example.com/a\\"":{}},"f:ownerReferences":{".":{},\
        "k:{\\"uid\\":\\"abc\\"}":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"c\\"}":{".":{},"f:image":{},"f:name":{},\
        "f:ports":{".":{},"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:containerPort":{}}}}},\
        "f:imagePullSecrets":{".":{},"k:{\\"name\\":\\"regcred\\"}":{}},"f:nodeSelector":{},"f:tolerations":{}}}
        """)
    }

    func testWithoutSchemaMapsAreGranularAndListsAtomic() {
        let widget = obj("""
        {"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"default","labels":{"a":"b"}},\
        "spec":{"size":3,"items":[{"name":"x"}],"nested":{"k":"v"},"empty":{}}}
        """)
        let out = ManagedFields.update(previous: nil, new: widget, manager: "m", apiVersion: "example.com/v1",
                                       subresource: nil, time: t1, schema: nil)
        XCTAssertEqual(fieldsV1(out, manager: "m"), """
        {"f:metadata":{"f:labels":{".":{},"f:a":{}}},"f:spec":{".":{},"f:empty":{},"f:items":{},"f:nested":{".":{},"f:k":{}},\
        "f:size":{}}}
        """)
        // A Service without schema: ports is an atomic list, selector a granular map.
        let svc = ManagedFields.update(previous: nil, new: obj(serviceText), manager: "m", apiVersion: "v1",
                                       subresource: nil, time: t1, schema: nil)
        XCTAssertEqual(fieldsV1(svc, manager: "m"), """
        {"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:internalTrafficPolicy":{},"f:ports":{},\
        "f:selector":{".":{},"f:app":{}},"f:sessionAffinity":{},"f:type":{}}}
        """)
    }

    func testCreateStatusIsNotOwned() {
        var svc = obj(serviceText)
        svc["status"] = .object(obj(#"{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}}"#))
        let out = ManagedFields.update(previous: nil, new: svc, manager: "m", apiVersion: "v1", subresource: nil,
                                       time: t1, schema: schema("", "v1", "Service"))
        XCTAssertFalse(fieldsV1(out, manager: "m")!.contains("status"))
    }

    // MARK: Update

    func testUpdateByAnotherManagerMovesOwnership() {
        let created = createService()
        let edited = withMeta(created) { $0["labels"] = .object(obj(#"{"app":"demo2","tier":"web"}"#)) }
        let out = ManagedFields.update(previous: created, new: edited, manager: "kubectl-edit", apiVersion: "v1",
                                       subresource: nil, time: t2, schema: schema("", "v1", "Service"))
        let list = entries(out)
        XCTAssertEqual(list.map { $0["manager"]?.stringValue }, ["kubectl-create", "kubectl-edit"])
        // The previous owner keeps the labels map itself but loses the label it did not write last.
        XCTAssertEqual(fieldsV1(out, manager: "kubectl-create"), """
        {"f:metadata":{"f:labels":{}},"f:spec":{"f:internalTrafficPolicy":{},"f:ports":{".":{},\
        "k:{\\"port\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},"f:name":{},"f:port":{},"f:protocol":{},"f:targetPort":{}}},\
        "f:selector":{},"f:sessionAffinity":{},"f:type":{}}}
        """)
        XCTAssertEqual(list[0]["time"]?.stringValue, t1)
        XCTAssertEqual(fieldsV1(out, manager: "kubectl-edit"), #"{"f:metadata":{"f:labels":{"f:app":{},"f:tier":{}}}}"#)
        XCTAssertEqual(list[1]["time"]?.stringValue, t2)

        // The same manager writing again merges into its entry and bumps its time; the order
        // follows the times.
        let again = withMeta(out) { $0.withObject("labels") { $0["zone"] = "a" } }
        let out2 = ManagedFields.update(previous: out, new: again, manager: "kubectl-create", apiVersion: "v1",
                                        subresource: nil, time: t3, schema: schema("", "v1", "Service"))
        XCTAssertEqual(entries(out2).map { $0["manager"]?.stringValue }, ["kubectl-edit", "kubectl-create"])
        XCTAssertEqual(entries(out2).last?["time"]?.stringValue, t3)
        XCTAssertTrue(fieldsV1(out2, manager: "kubectl-create")!.hasPrefix(#"{"f:metadata":{"f:labels":{".":{},"f:zone":{}}},"#))
    }

    func testNoOpUpdateLeavesManagedFieldsUntouched() {
        let created = createService()
        for manager in ["kubectl-create", "someone-else"] {
            let out = ManagedFields.update(previous: created, new: created, manager: manager, apiVersion: "v1",
                                           subresource: nil, time: t2, schema: schema("", "v1", "Service"))
            XCTAssertEqual(JSONWriter.string(.object(out)), JSONWriter.string(.object(created)))
        }
        // Server-owned metadata and status (reset by the strategy) do not count as changes.
        var touched = withMeta(created) {
            $0["resourceVersion"] = "2"
            $0["generation"] = 2
        }
        touched["status"] = .object(obj(#"{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}}"#))
        let out = ManagedFields.update(previous: created, new: touched, manager: "x", apiVersion: "v1",
                                       subresource: nil, time: t2, schema: schema("", "v1", "Service"))
        XCTAssertEqual(managedFields(out), managedFields(created))
        // The request's managedFields being absent means "keep the stored ones".
        let stripped = withMeta(created) { $0["managedFields"] = nil }
        let out2 = ManagedFields.update(previous: created, new: stripped, manager: "x", apiVersion: "v1",
                                        subresource: nil, time: t2, schema: schema("", "v1", "Service"))
        XCTAssertEqual(managedFields(out2), managedFields(created))
    }

    func testStatusSubresourceEntry() {
        let created = ManagedFields.update(previous: nil, new: obj(deploymentText), manager: "kubectl-create",
                                           apiVersion: "apps/v1", subresource: nil, time: t1,
                                           schema: schema("apps", "v1", "Deployment"))
        var status = created
        status["status"] = .object(obj("""
        {"observedGeneration":1,"replicas":1,"conditions":[{"type":"Available","status":"True"}]}
        """))
        // A status write cannot change the spec or the labels (reset by the status strategy).
        status.withObject("spec") { $0["replicas"] = 5 }
        status = withMeta(status) { $0.withObject("labels") { $0["extra"] = "x" } }
        let out = ManagedFields.update(previous: created, new: status, manager: "kube-controller-manager",
                                       apiVersion: "apps/v1", subresource: "status", time: t2,
                                       schema: schema("apps", "v1", "Deployment"))
        let list = entries(out)
        XCTAssertEqual(list.count, 2)
        XCTAssertEqual(list[1].keys, ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1", "subresource"])
        XCTAssertEqual(list[1]["subresource"], "status")
        XCTAssertEqual(fieldsV1(out, manager: "kube-controller-manager", subresource: "status"), """
        {"f:status":{"f:conditions":{".":{},"k:{\\"type\\":\\"Available\\"}":{".":{},"f:status":{},"f:type":{}}},\
        "f:observedGeneration":{},"f:replicas":{}}}
        """)
        XCTAssertEqual(fieldsV1(out, manager: "kubectl-create"), fieldsV1(created, manager: "kubectl-create"))

        // Writes to the main resource do not own status.
        var main = out
        main.withObject("status") { $0["replicas"] = 3 }
        let out2 = ManagedFields.update(previous: out, new: main, manager: "kubectl-edit", apiVersion: "apps/v1",
                                        subresource: nil, time: t3, schema: schema("apps", "v1", "Deployment"))
        XCTAssertEqual(managedFields(out2), managedFields(out))

        // The same manager through the main resource gets a separate entry.
        var spec = out
        spec.withObject("spec") { $0["replicas"] = 2 }
        let out3 = ManagedFields.update(previous: out, new: spec, manager: "kube-controller-manager",
                                        apiVersion: "apps/v1", subresource: nil, time: t3,
                                        schema: schema("apps", "v1", "Deployment"))
        XCTAssertEqual(entries(out3).count, 3)
        XCTAssertEqual(fieldsV1(out3, manager: "kube-controller-manager"), #"{"f:spec":{"f:replicas":{}}}"#)
        XCTAssertNotNil(fieldsV1(out3, manager: "kube-controller-manager", subresource: "status"))
        XCTAssertFalse(fieldsV1(out3, manager: "kubectl-create")!.contains("f:replicas"))
    }

    func testEntriesRemovedWhenEmpty() {
        let base = obj("""
        {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default","labels":{"a":"1","b":"2"},\
        "managedFields":[{"manager":"A","operation":"Update","apiVersion":"v1","time":"2024-01-01T00:00:00Z",\
        "fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{"f:a":{}}}}},{"manager":"B","operation":"Update",\
        "apiVersion":"v1","time":"2024-01-01T00:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:data":{".":{},"f:k":{}},\
        "f:metadata":{"f:labels":{"f:b":{}}}}}]},"data":{"k":"v"}}
        """)
        // C takes over A's only field: A's entry disappears.
        let taken = withMeta(base) { $0.withObject("labels") { $0["a"] = "changed" } }
        let out = ManagedFields.update(previous: base, new: taken, manager: "C", apiVersion: "v1", subresource: nil,
                                       time: t2, schema: schema("", "v1", "ConfigMap"))
        XCTAssertEqual(entries(out).map { $0["manager"]?.stringValue }, ["B", "C"])
        XCTAssertEqual(fieldsV1(out, manager: "C"), #"{"f:metadata":{"f:labels":{"f:a":{}}}}"#)

        // C removes B's label: B loses it (keeping its time), C gets no entry for a removal.
        let removed = withMeta(base) { $0.withObject("labels") { $0["b"] = nil } }
        let out2 = ManagedFields.update(previous: base, new: removed, manager: "C", apiVersion: "v1", subresource: nil,
                                        time: t2, schema: schema("", "v1", "ConfigMap"))
        XCTAssertEqual(entries(out2).map { $0["manager"]?.stringValue }, ["A", "B"])
        XCTAssertEqual(fieldsV1(out2, manager: "B"), #"{"f:data":{".":{},"f:k":{}}}"#)
        XCTAssertEqual(entries(out2)[1]["time"]?.stringValue, t1)

        // Removing the whole data map takes it from B; B is left with its label only.
        var noData = base
        noData["data"] = nil
        let out3 = ManagedFields.update(previous: base, new: noData, manager: "C", apiVersion: "v1", subresource: nil,
                                        time: t2, schema: schema("", "v1", "ConfigMap"))
        XCTAssertEqual(fieldsV1(out3, manager: "B"), #"{"f:metadata":{"f:labels":{"f:b":{}}}}"#)
        XCTAssertNil(fieldsV1(out3, manager: "C"))
    }

    // MARK: Request-supplied managedFields

    func testResetAndUntrackedObjects() {
        let created = createService()
        let changed = withMeta(created) { $0.withObject("labels") { $0["x"] = "y" } }
        for reset in ["[]", "[{}]"] {
            let req = withMeta(changed) { $0["managedFields"] = try? JSONParser.parse(reset) }
            let out = ManagedFields.update(previous: created, new: req, manager: "m", apiVersion: "v1", subresource: nil,
                                           time: t2, schema: schema("", "v1", "Service"))
            XCTAssertNil(managedFields(out), reset)
            XCTAssertEqual(out["metadata"]?.objectValue?["labels"]?.objectValue?["x"], "y")
        }
        // An object without entries stays without entries on update.
        let untracked = withMeta(created) { $0["managedFields"] = nil }
        let out = ManagedFields.update(previous: untracked, new: withMeta(changed) { $0["managedFields"] = nil },
                                       manager: "m", apiVersion: "v1", subresource: nil, time: t2,
                                       schema: schema("", "v1", "Service"))
        XCTAssertNil(managedFields(out))
    }

    func testRequestManagedFieldsAreUsedAndCanonicalised() {
        let created = createService()
        // kubectl's client-side-apply → server-side-apply migration rewrites the entries.
        let req = withMeta(created) {
            $0["managedFields"] = try? JSONParser.parse("""
            [{"manager":"kubectl","operation":"Apply","apiVersion":"v1","time":"2024-01-01T00:00:00.5+00:00",\
            "fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:ports":{"k:{\\"protocol\\":\\"TCP\\",\\"port\\":80}":{}}}}}]
            """)
        }
        let out = ManagedFields.update(previous: created, new: req, manager: "kubectl", apiVersion: "v1",
                                       subresource: nil, time: t2, schema: schema("", "v1", "Service"))
        XCTAssertEqual(JSONWriter.string(managedFields(out)!), """
        [{"manager":"kubectl","operation":"Apply","apiVersion":"v1","time":"2024-01-01T00:00:00Z","fieldsType":"FieldsV1",\
        "fieldsV1":{"f:spec":{"f:ports":{"k:{\\"port\\":80,\\"protocol\\":\\"TCP\\"}":{}}}}}]
        """)
        // Subresource writes ignore the request's entries.
        let out2 = ManagedFields.update(previous: created, new: req, manager: "kubectl", apiVersion: "v1",
                                        subresource: "status", time: t2, schema: schema("", "v1", "Service"))
        XCTAssertEqual(managedFields(out2), managedFields(created))
        // Invalid request entries fall back to the stored ones.
        let bad = withMeta(created) { $0["managedFields"] = try? JSONParser.parse(#"[{"manager":"x","operation":"Patch"}]"#) }
        let out3 = ManagedFields.update(previous: created, new: bad, manager: "kubectl", apiVersion: "v1",
                                        subresource: nil, time: t2, schema: schema("", "v1", "Service"))
        XCTAssertEqual(managedFields(out3), managedFields(created))
    }

    // MARK: Upstream corner cases

    func testMissingListKeyClearsManagedFields() {
        let deploy = obj(deploymentText.replacingOccurrences(of: #""name":"demoservice","#, with: ""))
        let out = ManagedFields.update(previous: nil, new: deploy, manager: "m", apiVersion: "apps/v1", subresource: nil,
                                       time: t1, schema: schema("apps", "v1", "Deployment"))
        XCTAssertNil(managedFields(out))
    }

    func testDuplicateListKeys() {
        let pod = obj("""
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},"spec":{"containers":[{"name":"c",\
        "image":"nginx","env":[{"name":"A","value":"1"},{"name":"A","value":"2"}]}]}}
        """)
        let out = ManagedFields.update(previous: nil, new: pod, manager: "m", apiVersion: "v1", subresource: nil,
                                       time: t1, schema: schema("", "v1", "Pod"))
        // Duplicated items are owned as a whole.
        XCTAssertEqual(fieldsV1(out, manager: "m"), """
        {"f:spec":{"f:containers":{"k:{\\"name\\":\\"c\\"}":{".":{},"f:env":{".":{},"k:{\\"name\\":\\"A\\"}":{}},"f:image":{},\
        "f:name":{}}}}}
        """)
    }

    func testUpdateManagersAreCappedIntoAncientChanges() {
        var meta = JSONObject()
        var labels = JSONObject()
        var mf: [JSON] = []
        for i in 0..<10 {
            labels["l\(i)"] = "v"
            mf.append(.object(obj("""
            {"manager":"m\(i)","operation":"Update","apiVersion":"v1","time":"2024-01-01T00:0\(i):00Z",\
            "fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{"f:l\(i)":{}}}}}
            """)))
        }
        meta["name"] = "c"
        meta["labels"] = .object(labels)
        meta["managedFields"] = .array(mf)
        var previous = JSONObject()
        previous["apiVersion"] = "v1"
        previous["kind"] = "ConfigMap"
        previous["metadata"] = .object(meta)
        let new = withMeta(previous) { $0.withObject("labels") { $0["l10"] = "v" } }
        let out = ManagedFields.update(previous: previous, new: new, manager: "m10", apiVersion: "v1", subresource: nil,
                                       time: "2024-01-01T01:00:00Z", schema: schema("", "v1", "ConfigMap"))
        let list = entries(out)
        XCTAssertEqual(list.count, 10)
        XCTAssertEqual(list.map { $0["manager"]?.stringValue ?? "" },
                       ["ancient-changes", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10"])
        XCTAssertEqual(list[0]["time"]?.stringValue, "2024-01-01T00:01:00Z")
        XCTAssertEqual(fieldsV1(out, manager: "ancient-changes"), #"{"f:metadata":{"f:labels":{"f:l0":{},"f:l1":{}}}}"#)
    }

    func testFieldsV1RoundTrip() throws {
        let text = #"{"f:a":{".":{},"f:b":{},"k:{\"z\":1,\"a\":\"x\"}":{}},"v:true":{},"v:1":{},"f:c":{"f:d":{}},"x:unknown":{}}"#
        guard case .object(let o) = try JSONParser.parse(text) else { return XCTFail() }
        let set = try FieldSet.parse(fieldsV1: o)
        XCTAssertEqual(JSONWriter.string(.object(set.fieldsV1())),
                       #"{"f:a":{".":{},"f:b":{},"k:{\"a\":\"x\",\"z\":1}":{}},"f:c":{"f:d":{}},"v:1":{},"v:true":{}}"#)
        let shared = set.sharedFieldsV1()
        XCTAssertEqual(shared.key, JSONWriter.encode(shared.json), "the key is the encoding")
    }

    func testEqualEntriesAreShared() throws {
        // Two pods written alike get managedFields that are one value in memory (and equal to a fresh one).
        func write() -> JSON? {
            let pod: JSONObject = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "p"], "spec": ["nodeName": "n1"]]
            let out = ManagedFields.update(previous: nil, new: pod, manager: "m", apiVersion: "v1", subresource: nil,
                                           time: "2024-01-01T00:00:00Z", schema: nil)
            return out["metadata"]?["managedFields"]
        }
        guard case .array(let a)? = write(), case .array(let b)? = write() else { return XCTFail("no managedFields") }
        XCTAssertEqual(a, b)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in XCTAssertEqual(pa.baseAddress, pb.baseAddress) } }
    }

    func testOverlapWithStoredFieldsAgreesWithParsedSets() throws {
        // Entries kept as stored are tested against the write's paths on their FieldsV1 JSON, unparsed.
        var rng = SystemRandomNumberGenerator()
        let names = ["f:a", "f:b", "f:c", #"k:{"port":80}"#, "v:1"]
        func randomSet(_ depth: Int) -> FieldSet {
            var set = FieldSet()
            for name in names where Int.random(in: 0..<3, using: &rng) == 0 {
                let pe = try! PathElement.parse(name)!
                var child = depth > 0 ? randomSet(depth - 1) : FieldSet()
                if child.children.isEmpty || Bool.random(using: &rng) { child.member = true }
                set.children[pe.text] = FieldSet.Child(pe: pe, set: child)
            }
            return set
        }
        for _ in 0..<500 {
            let a = randomSet(3), b = randomSet(3)
            let stored = a.fieldsV1()
            let parsed = try FieldSet.parse(fieldsV1: stored)
            XCTAssertEqual(b.overlaps(fieldsV1: stored), b.overlaps(parsed),
                           "\(JSONWriter.string(.object(b.fieldsV1()))) vs \(JSONWriter.string(.object(stored)))")
            XCTAssertEqual(b.overlaps(parsed), !FieldSet.difference(parsed, FieldSet.difference(parsed, b)).isEmpty)
        }
    }

    func testUntouchedEntriesAreKeptAsStored() {
        // The kubelet's status write leaves the creator's entry as it was: the same JSON, not a re-encoding.
        let pod: JSONObject = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "p", "labels": ["app": "a"]],
                               "spec": ["containers": [["name": "c", "image": "nginx"]]]]
        let created = ManagedFields.update(previous: nil, new: pod, manager: "creator", apiVersion: "v1", subresource: nil,
                                           time: t1, schema: schema("", "v1", "Pod"))
        var status = created
        status["status"] = ["phase": "Running", "podIP": "10.0.0.5"]
        let out = ManagedFields.update(previous: created, new: status, manager: "kubelet", apiVersion: "v1",
                                       subresource: "status", time: t2, schema: schema("", "v1", "Pod"))
        let before = entries(created), after = entries(out)
        XCTAssertEqual(after.count, 2)
        XCTAssertTrue(after[0].sharesStorage(with: before[0]), "the creator's entry is kept as stored")
        XCTAssertEqual(fieldsV1(out, manager: "kubelet", subresource: "status"), #"{"f:status":{".":{},"f:phase":{},"f:podIP":{}}}"#)

        // A write that takes one of the creator's fields parses that entry and takes the field out (the labels
        // map itself stays the creator's).
        var relabel = out
        relabel = withMeta(relabel) { $0["labels"] = ["app": "b"] }
        let out2 = ManagedFields.update(previous: out, new: relabel, manager: "editor", apiVersion: "v1", subresource: nil,
                                        time: t3, schema: schema("", "v1", "Pod"))
        XCTAssertEqual(fieldsV1(out2, manager: "creator"), #"{"f:metadata":{"f:labels":{}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:name":{}}}}}"#)
        XCTAssertEqual(fieldsV1(out2, manager: "editor"), #"{"f:metadata":{"f:labels":{"f:app":{}}}}"#)
        XCTAssertTrue(entries(out2)[1].sharesStorage(with: after[1]), "the kubelet's entry is untouched")
    }
}
