import Foundation
import XCTest
@testable import KemuAPI

// MARK: - Helpers

private func j(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSON {
    do { return try JSONParser.parse(text) } catch {
        XCTFail("bad JSON in test: \(error) — \(text)", file: file, line: line)
        return .null
    }
}

private func assertJSON(_ actual: JSON, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
    let e = j(expected, file: file, line: line)
    XCTAssertEqual(actual, e, "\n got: \(JSONWriter.string(actual))\nwant: \(JSONWriter.string(e))", file: file, line: line)
}

private func assertAPIError(_ body: () throws -> Any, code: Int, reason: String, message: String? = nil,
                            file: StaticString = #filePath, line: UInt = #line) {
    do {
        let v = try body()
        XCTFail("expected APIError \(code), got \(v)", file: file, line: line)
    } catch let e as APIError {
        XCTAssertEqual(e.code, code, e.message, file: file, line: line)
        XCTAssertEqual(e.reason, reason, e.message, file: file, line: line)
        if let message { XCTAssertEqual(e.message, message, file: file, line: line) }
    } catch {
        XCTFail("expected APIError, got \(error)", file: file, line: line)
    }
}

/// A hand-written schema: a closure from field name to metadata.
private struct FnSchema: PatchSchema {
    let lookup: @Sendable (String) -> PatchField?
    func field(_ name: String) -> PatchField? { lookup(name) }
}

private func mergeList(_ key: String?, _ element: (any PatchSchema)? = nil, retainKeys: Bool = false) -> PatchField {
    PatchField(mergeKey: key, strategies: retainKeys ? ["merge", "retainKeys"] : ["merge"], isList: true, element: element)
}

private func atomicList(_ element: (any PatchSchema)? = nil) -> PatchField {
    PatchField(isList: true, element: element)
}

private func object(_ s: any PatchSchema, strategies: Set<String> = []) -> PatchField {
    PatchField(strategies: strategies, element: s)
}

/// A map of strings (`additionalProperties`): every key answers with the value schema.
private let stringMap = FnSchema { _ in PatchField() }

/// Small hand-written slice of the Kubernetes schema, enough for the kubectl-shaped cases.
private enum K8s {
    static let envVar = FnSchema { _ in nil }
    static let containerPort = FnSchema { _ in nil }
    static let container = FnSchema { name in
        switch name {
        case "env": return mergeList("name", envVar)
        case "ports": return mergeList("containerPort", containerPort)
        case "volumeMounts": return mergeList("mountPath")
        case "args", "command": return atomicList()
        default: return nil
        }
    }
    static let volume = FnSchema { _ in nil }
    static let podSpec = FnSchema { name in
        switch name {
        case "containers", "initContainers": return mergeList("name", container)
        case "volumes": return mergeList("name", volume, retainKeys: true)
        case "tolerations": return atomicList()
        case "nodeSelector": return object(stringMap)
        default: return nil
        }
    }
    static let ownerReference = FnSchema { _ in nil }
    static let objectMeta = FnSchema { name in
        switch name {
        case "labels", "annotations": return object(stringMap)
        case "finalizers": return mergeList(nil)
        case "ownerReferences": return mergeList("uid", ownerReference)
        default: return nil
        }
    }
    static let podTemplate = FnSchema { name in
        switch name {
        case "metadata": return object(objectMeta)
        case "spec": return object(podSpec)
        default: return nil
        }
    }
    static let rollingUpdate = FnSchema { _ in nil }
    static let strategy = FnSchema { name in name == "rollingUpdate" ? object(rollingUpdate) : nil }
    static let deploymentSpec = FnSchema { name in
        switch name {
        case "template": return object(podTemplate)
        case "strategy": return object(strategy, strategies: ["retainKeys"])
        case "selector": return object(FnSchema { n in n == "matchLabels" ? object(stringMap) : nil })
        default: return nil
        }
    }
    static let deployment = FnSchema { name in
        switch name {
        case "metadata": return object(objectMeta)
        case "spec": return object(deploymentSpec)
        default: return nil
        }
    }
    static let servicePort = FnSchema { _ in nil }
    static let service = FnSchema { name in
        switch name {
        case "metadata": return object(objectMeta)
        case "spec": return object(FnSchema { n in
            switch n {
            case "ports": return mergeList("port", servicePort)
            case "selector": return object(stringMap)
            default: return nil
            }
        })
        default: return nil
        }
    }
    static let node = FnSchema { name in
        switch name {
        case "metadata": return object(objectMeta)
        case "spec": return object(FnSchema { n in n == "taints" ? atomicList() : nil })
        default: return nil
        }
    }
    static let endpointSlice = FnSchema { name in
        switch name {
        case "metadata": return object(objectMeta)
        case "endpoints", "ports": return atomicList()
        default: return nil
        }
    }
    static let pod = FnSchema { name in
        switch name {
        case "metadata": return object(objectMeta)
        case "spec": return object(podSpec)
        case "status": return object(FnSchema { n in n == "conditions" ? mergeList("type") : nil })
        default: return nil
        }
    }
}

/// The shape of upstream strategicpatch's test type `MergeItem`.
private struct MergeItemSchema: PatchSchema {
    func field(_ name: String) -> PatchField? {
        switch name {
        case "mergingList", "mergeItemPtr": return mergeList("name", MergeItemSchema())
        case "nonMergingList": return atomicList(MergeItemSchema())
        case "mergingIntList": return mergeList(nil)
        case "nonMergingIntList": return atomicList()
        case "simpleMap": return object(stringMap)
        case "replacingItem": return PatchField(strategies: ["replace"])
        case "retainKeysMap": return object(MergeItemSchema(), strategies: ["retainKeys"])
        case "retainKeysMergingList": return mergeList("name", MergeItemSchema(), retainKeys: true)
        default: return nil
        }
    }
}

private func smp(_ original: String, _ patch: String, _ schema: (any PatchSchema)?) throws -> JSON {
    try StrategicMergePatch.apply(original: j(original), patch: j(patch), schema: schema)
}

private func smpMessage(_ original: String, _ patch: String, _ schema: (any PatchSchema)?) -> (Int, String, String)? {
    do {
        _ = try smp(original, patch, schema)
        return nil
    } catch let e as APIError {
        return (e.code, e.reason, e.message)
    } catch {
        return (-1, "", "\(error)")
    }
}

private func names(_ list: JSON) -> [String] {
    (list.arrayValue ?? []).map { $0["name"].stringValue ?? $0["name"].intValue.map { "\($0)" } ?? "?" }
}

// MARK: - Strategic merge patch with a hand-written schema

final class StrategicMergePatchTests: XCTestCase {
    let deployment = #"""
    {"apiVersion":"apps/v1","kind":"Deployment",
     "metadata":{"name":"web","labels":{"app":"web"},"finalizers":["example.com/a","example.com/b"]},
     "spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},
       "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"}},
       "template":{"metadata":{"labels":{"app":"web"},"annotations":{"keep":"me"}},
         "spec":{"containers":[
           {"name":"app","image":"nginx:1.27","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
           {"name":"sidecar","image":"envoy:1"}]}}}}
    """#

    let service = #"""
    {"metadata":{"name":"web","labels":{"a":"1","b":"2"}},
     "spec":{"selector":{"app":"web"},"ports":[
       {"name":"http","port":80,"protocol":"TCP","targetPort":8080},
       {"name":"https","port":443,"protocol":"TCP","targetPort":443}]}}
    """#

    // kubectl cordon / uncordon
    func testNodeUnschedulableSetAndNullDeletes() throws {
        let node = #"{"metadata":{"name":"n1"},"spec":{"podCIDR":"10.0.0.0/24"}}"#
        let cordoned = try smp(node, #"{"spec":{"unschedulable":true}}"#, K8s.node)
        assertJSON(cordoned, #"{"metadata":{"name":"n1"},"spec":{"podCIDR":"10.0.0.0/24","unschedulable":true}}"#)
        let uncordoned = try StrategicMergePatch.apply(original: cordoned, patch: j(#"{"spec":{"unschedulable":null}}"#), schema: K8s.node)
        assertJSON(uncordoned, node)
        // null for a key that is not there is ignored (IgnoreUnmatchedNulls)
        assertJSON(try smp(node, #"{"spec":{"unschedulable":null}}"#, K8s.node), node)
    }

    // kubectl rollout restart
    func testRolloutRestartAnnotation() throws {
        let out = try smp(deployment, #"{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2025-01-01T00:00:00Z"}}}}}"#, K8s.deployment)
        XCTAssertEqual(out.at(["spec", "template", "metadata", "annotations"]),
                       j(#"{"keep":"me","kubectl.kubernetes.io/restartedAt":"2025-01-01T00:00:00Z"}"#))
        XCTAssertEqual(names(out.at(["spec", "template", "spec", "containers"])), ["app", "sidecar"])
        XCTAssertEqual(out.at(["spec", "strategy", "rollingUpdate", "maxSurge"]), "25%")
    }

    // kubectl apply changing one port's targetPort
    func testServicePortsSetElementOrderKeepsName() throws {
        let single = #"{"spec":{"ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":8080}]}}"#
        let out = try smp(single, #"{"spec":{"$setElementOrder/ports":[{"port":80}],"ports":[{"port":80,"targetPort":9090}]}}"#, K8s.service)
        assertJSON(out, #"{"spec":{"ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":9090}]}}"#)

        let two = try smp(service, #"{"spec":{"$setElementOrder/ports":[{"port":80},{"port":443}],"ports":[{"port":80,"targetPort":9090}]}}"#, K8s.service)
        XCTAssertEqual(two.at(["spec", "ports"]), j(#"[{"name":"http","port":80,"protocol":"TCP","targetPort":9090},{"name":"https","port":443,"protocol":"TCP","targetPort":443}]"#))
        // key order inside the merged item is the live object's
        XCTAssertEqual(JSONWriter.string(two.at(["spec", "ports"]).arrayValue![0]), #"{"name":"http","port":80,"protocol":"TCP","targetPort":9090}"#)
    }

    func testNewListItemWithoutSetElementOrderGoesFirst() throws {
        // upstream's ordering: patch items come before server-only items unless the live order says otherwise
        let out = try smp(service, #"{"spec":{"ports":[{"name":"metrics","port":9100}]}}"#, K8s.service)
        XCTAssertEqual((out.at(["spec", "ports"]).arrayValue ?? []).map { $0["port"].intValue }, [9100, 80, 443])
        // with $setElementOrder the client decides
        let ordered = try smp(service, #"{"spec":{"$setElementOrder/ports":[{"port":80},{"port":443},{"port":9100}],"ports":[{"name":"metrics","port":9100}]}}"#, K8s.service)
        XCTAssertEqual((ordered.at(["spec", "ports"]).arrayValue ?? []).map { $0["port"].intValue }, [80, 443, 9100])
    }

    func testContainersMergeByName() throws {
        let out = try smp(deployment, #"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.28"}]}}}}"#, K8s.deployment)
        let cs = out.at(["spec", "template", "spec", "containers"])
        XCTAssertEqual(names(cs), ["app", "sidecar"])
        XCTAssertEqual(cs.arrayValue?[0]["image"], "nginx:1.28")
        XCTAssertEqual(names(cs.arrayValue?[0]["env"] ?? .null), ["A", "B"])
        XCTAssertEqual(cs.arrayValue?[1]["image"], "envoy:1")
    }

    func testContainersAndEnvSetElementOrder() throws {
        let patch = #"""
        {"spec":{"template":{"spec":{
          "$setElementOrder/containers":[{"name":"sidecar"},{"name":"app"}],
          "containers":[{"name":"app","$setElementOrder/env":[{"name":"B"},{"name":"A"}],"env":[{"name":"A","value":"10"}]}]}}}}
        """#
        let out = try smp(deployment, patch, K8s.deployment)
        let cs = out.at(["spec", "template", "spec", "containers"])
        XCTAssertEqual(names(cs), ["sidecar", "app"])
        XCTAssertEqual(cs.arrayValue?[1]["env"], j(#"[{"name":"B","value":"2"},{"name":"A","value":"10"}]"#))
        XCTAssertEqual(cs.arrayValue?[1]["image"], "nginx:1.27")
        XCTAssertNil(cs.arrayValue?[1].objectValue?["$setElementOrder/env"])
    }

    func testAddContainerWithEnvOrderDirectiveIsCleaned() throws {
        let patch = #"""
        {"spec":{"template":{"spec":{
          "$setElementOrder/containers":[{"name":"app"},{"name":"sidecar"},{"name":"new"}],
          "containers":[{"name":"new","image":"busybox","args":null,"$setElementOrder/env":[{"name":"X"}],"env":[{"name":"X","value":"1","valueFrom":null}]}]}}}}
        """#
        let out = try smp(deployment, patch, K8s.deployment)
        let cs = out.at(["spec", "template", "spec", "containers"])
        XCTAssertEqual(names(cs), ["app", "sidecar", "new"])
        XCTAssertEqual(cs.arrayValue?[2], j(#"{"name":"new","image":"busybox","env":[{"name":"X","value":"1"}]}"#))
    }

    func testPatchDeleteContainer() throws {
        let out = try smp(deployment, #"{"spec":{"template":{"spec":{"containers":[{"$patch":"delete","name":"sidecar"}]}}}}"#, K8s.deployment)
        XCTAssertEqual(names(out.at(["spec", "template", "spec", "containers"])), ["app"])
        // deleting something that is not there is fine
        let same = try smp(deployment, #"{"spec":{"template":{"spec":{"containers":[{"$patch":"delete","name":"ghost"}]}}}}"#, K8s.deployment)
        XCTAssertEqual(same, j(deployment))
    }

    func testPatchReplaceListAndMap() throws {
        let list = try smp(deployment, #"{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"busybox"},{"$patch":"replace"}]}}}}"#, K8s.deployment)
        XCTAssertEqual(list.at(["spec", "template", "spec", "containers"]), j(#"[{"name":"only","image":"busybox"}]"#))

        let map = try smp(deployment, #"{"spec":{"template":{"metadata":{"annotations":{"$patch":"replace","only":"this","gone":null}}}}}"#, K8s.deployment)
        XCTAssertEqual(map.at(["spec", "template", "metadata", "annotations"]), j(#"{"only":"this"}"#))

        let whole = try smp(#"{"a":1,"b":{"c":2}}"#, #"{"$patch":"replace","x":1}"#, nil)
        assertJSON(whole, #"{"x":1}"#)

        let empty = try smp(#"{"mergingList":[{"name":"1"},{"name":"2"}]}"#, #"{"mergingList":[{"$patch":"replace"}]}"#, MergeItemSchema())
        assertJSON(empty, #"{"mergingList":[]}"#)
    }

    func testPatchDeleteOnMap() throws {
        // upstream leaves an empty map where the deleted map was
        let out = try smp(#"{"simpleMap":{"key1":"1","key2":"1"}}"#, #"{"simpleMap":{"$patch":"delete"}}"#, MergeItemSchema())
        assertJSON(out, #"{"simpleMap":{}}"#)
        // and does not add one that was not there
        let absent = try smp(#"{"name":"x"}"#, #"{"simpleMap":{"$patch":"delete"}}"#, MergeItemSchema())
        assertJSON(absent, #"{"name":"x"}"#)
        // at the root
        assertJSON(try smp(#"{"a":1}"#, #"{"$patch":"delete"}"#, nil), "{}")
    }

    func testPatchMergeDirectiveIsRejected() {
        let onMap = smpMessage(#"{"simpleMap":{"a":"b"}}"#, #"{"simpleMap":{"$patch":"merge","c":"d"}}"#, MergeItemSchema())
        XCTAssertEqual(onMap?.0, 500)
        XCTAssertEqual(onMap?.2, "unknown patch type: merge in map: map[$patch:merge c:d]")
        let inList = smpMessage(#"{"mergingList":[{"name":"a"}]}"#, #"{"mergingList":[{"$patch":"merge","name":"a"}]}"#, MergeItemSchema())
        XCTAssertEqual(inList?.2, "merging lists cannot yet be specified in the patch")
        let unknown = smpMessage(#"{"mergingList":[{"name":"a"}]}"#, #"{"mergingList":[{"$patch":"foo","name":"x"}]}"#, MergeItemSchema())
        XCTAssertEqual(unknown?.2, "unknown patch type: foo in map: map[$patch:foo name:x]")
        let nonString = smpMessage(#"{"simpleMap":{"a":"b"}}"#, #"{"simpleMap":{"$patch":1}}"#, MergeItemSchema())
        XCTAssertEqual(nonString?.2, "unknown patch type: %!s(int64=1) in map: map[$patch:1]")
        let deleteWithoutKey = smpMessage(#"{"mergingList":[{"name":"a"}]}"#, #"{"mergingList":[{"$patch":"delete"}]}"#, MergeItemSchema())
        XCTAssertEqual(deleteWithoutKey?.2, "map: map[$patch:delete] does not contain declared merge key: name")
    }

    func testRetainKeysOnDeploymentStrategy() throws {
        let out = try smp(deployment, #"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}"#, K8s.deployment)
        XCTAssertEqual(out.at(["spec", "strategy"]), j(#"{"type":"Recreate"}"#))
        // kubectl's form when switching back
        let back = try StrategicMergePatch.apply(original: out, patch: j(#"{"spec":{"strategy":{"$retainKeys":["rollingUpdate","type"],"rollingUpdate":{"maxSurge":1},"type":"RollingUpdate"}}}"#), schema: K8s.deployment)
        XCTAssertEqual(back.at(["spec", "strategy"]), j(#"{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}"#))
        // a null for an unlisted key is allowed
        let withNull = try smp(deployment, #"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":null}}}"#, K8s.deployment)
        XCTAssertEqual(withNull.at(["spec", "strategy"]), j(#"{"type":"Recreate"}"#))
    }

    func testRetainKeysErrors() {
        assertAPIError({ try smp(self.deployment, #"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":{"maxSurge":1}}}}"#, K8s.deployment) },
                       code: 400, reason: "BadRequest", message: "invalid patch format of retainKeys")
        assertAPIError({ try smp(self.deployment, #"{"spec":{"strategy":{"$retainKeys":"type","type":"Recreate"}}}"#, K8s.deployment) },
                       code: 400, reason: "BadRequest", message: "invalid patch format of retainKeys")
    }

    func testRetainKeysInMergeListItems() throws {
        let pod = #"{"spec":{"volumes":[{"name":"data","emptyDir":{}},{"name":"cfg","configMap":{"name":"c"}}]}}"#
        let out = try smp(pod, #"{"spec":{"$setElementOrder/volumes":[{"name":"data"},{"name":"cfg"}],"volumes":[{"$retainKeys":["name","secret"],"name":"data","secret":{"secretName":"s"}}]}}"#, K8s.pod)
        XCTAssertEqual(out.at(["spec", "volumes"]), j(#"[{"name":"data","secret":{"secretName":"s"}},{"name":"cfg","configMap":{"name":"c"}}]"#))
    }

    func testFinalizersDeleteFromPrimitiveList() throws {
        let out = try smp(deployment, #"{"metadata":{"$deleteFromPrimitiveList/finalizers":["example.com/a"]}}"#, K8s.deployment)
        XCTAssertEqual(out.at(["metadata", "finalizers"]), j(#"["example.com/b"]"#))
        // deleting something absent does not add it, and a missing list stays missing
        let none = try smp(#"{"metadata":{"name":"x"}}"#, #"{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}"#, K8s.deployment)
        assertJSON(none, #"{"metadata":{"name":"x"}}"#)
        // works on lists without merge strategy too
        let args = try smp(#"{"command":["a","b","c"]}"#, #"{"$deleteFromPrimitiveList/command":["b"]}"#, K8s.container)
        assertJSON(args, #"{"command":["a","c"]}"#)
    }

    func testFinalizersUnion() throws {
        let out = try smp(deployment, #"{"metadata":{"finalizers":["example.com/c"]}}"#, K8s.deployment)
        XCTAssertEqual(out.at(["metadata", "finalizers"]), j(#"["example.com/c","example.com/a","example.com/b"]"#))
        let dup = try smp(deployment, #"{"metadata":{"finalizers":["example.com/b","example.com/c"]}}"#, K8s.deployment)
        XCTAssertEqual(dup.at(["metadata", "finalizers"]), j(#"["example.com/a","example.com/b","example.com/c"]"#))
        let cleared = try smp(deployment, #"{"metadata":{"finalizers":null}}"#, K8s.deployment)
        XCTAssertNil(cleared["metadata"].objectValue?["finalizers"])
        // an empty merge list patch changes nothing
        let same = try smp(deployment, #"{"metadata":{"finalizers":[]}}"#, K8s.deployment)
        XCTAssertEqual(same.at(["metadata", "finalizers"]), j(#"["example.com/a","example.com/b"]"#))
    }

    func testFinalizersSetElementOrderAddAndDelete() throws {
        let out = try smp(#"{"metadata":{"finalizers":["a","b","c"]}}"#,
                          #"{"metadata":{"$setElementOrder/finalizers":["d","b","a"],"finalizers":["d"],"$deleteFromPrimitiveList/finalizers":["c"]}}"#, K8s.deployment)
        assertJSON(out, #"{"metadata":{"finalizers":["d","b","a"]}}"#)
    }

    func testAtomicListReplacedWholesale() throws {
        let es = #"{"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":true}},{"addresses":["10.0.0.2"]}],"ports":[{"name":"http","port":80}]}"#
        let out = try smp(es, #"{"endpoints":[{"addresses":["10.0.0.9"],"hostname":null}]}"#, K8s.endpointSlice)
        assertJSON(out, #"{"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.9"]}],"ports":[{"name":"http","port":80}]}"#)
        let tol = try smp(#"{"spec":{"tolerations":[{"key":"a"},{"key":"b"}]}}"#, #"{"spec":{"tolerations":[{"key":"c"}]}}"#, K8s.pod)
        assertJSON(tol, #"{"spec":{"tolerations":[{"key":"c"}]}}"#)
    }

    func testNullDeletesAndNullsInNewValuesAreDropped() throws {
        let out = try smp(service, #"{"metadata":{"labels":{"a":null,"c":"3"}},"spec":{"selector":null}}"#, K8s.service)
        XCTAssertEqual(out["metadata"]["labels"], j(#"{"b":"2","c":"3"}"#))
        XCTAssertNil(out["spec"].objectValue?["selector"])
        let added = try smp(#"{}"#, #"{"complex":{"nested":null,"nested2":"foo"},"list":[{"inner":{"a":null}},null,"x"]}"#, nil)
        assertJSON(added, #"{"complex":{"nested2":"foo"},"list":[{"inner":{}},null,"x"]}"#)
        // null values already stored are kept
        assertJSON(try smp(#"{"thing":null}"#, #"{"nested":{"value":5}}"#, nil), #"{"thing":null,"nested":{"value":5}}"#)
    }

    func testPodStatusConditionsMergeByType() throws {
        let pod = #"{"status":{"conditions":[{"type":"Ready","status":"False"},{"type":"PodScheduled","status":"True"}]}}"#
        let out = try smp(pod, #"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#, K8s.pod)
        assertJSON(out, #"{"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"PodScheduled","status":"True"}]}}"#)
    }

    func testUnknownFieldsMapsMergeListsReplace() throws {
        let original = #"{"spec":{"extra":{"a":1,"b":{"c":2}},"things":[{"name":"x","v":1}]}}"#
        let out = try smp(original, #"{"spec":{"extra":{"b":{"d":3}},"things":[{"name":"x","w":2}]}}"#, K8s.deployment)
        assertJSON(out, #"{"spec":{"extra":{"a":1,"b":{"c":2,"d":3}},"things":[{"name":"x","w":2}]}}"#)
        // no schema at all behaves the same
        assertJSON(try smp(original, #"{"spec":{"extra":{"b":{"d":3}},"things":[{"name":"x","w":2}]}}"#, nil),
                   #"{"spec":{"extra":{"a":1,"b":{"c":2,"d":3}},"things":[{"name":"x","w":2}]}}"#)
    }

    func testTypeChangeReplaces() throws {
        assertJSON(try smp(#"{"a":"s","b":{"x":1},"c":[1]}"#, #"{"a":{"k":"v","n":null},"b":"now-a-string","c":{"z":1}}"#, nil),
                   #"{"a":{"k":"v"},"b":"now-a-string","c":{"z":1}}"#)
    }

    func testPatchDocumentShape() throws {
        assertAPIError({ try smp("{}", "[]", nil) }, code: 400, reason: "BadRequest",
                       message: "json: cannot unmarshal array into Go value of type map[string]interface {}")
        assertAPIError({ try smp("{}", #""x""#, nil) }, code: 400, reason: "BadRequest",
                       message: "json: cannot unmarshal string into Go value of type map[string]interface {}")
        assertAPIError({ try smp("{}", "3", nil) }, code: 400, reason: "BadRequest",
                       message: "json: cannot unmarshal number into Go value of type map[string]interface {}")
        XCTAssertEqual(try smp(#"{"a":1}"#, "null", nil), j(#"{"a":1}"#))
        assertJSON(try smp(#"{"a":1}"#, "{}", nil), #"{"a":1}"#)
    }

    func testDirectiveFormatErrors() {
        assertAPIError({ try smp(#"{"finalizers":["a"]}"#, #"{"$deleteFromPrimitiveList":["a"]}"#, K8s.objectMeta) },
                       code: 400, reason: "BadRequest", message: "invalid patch format of primitive list")
        assertAPIError({ try smp(#"{"finalizers":["a"]}"#, #"{"$setElementOrderfinalizers":["a"]}"#, K8s.objectMeta) },
                       code: 400, reason: "BadRequest", message: "invalid patch format of setElementOrder list")
        assertAPIError({ try smp(#"{"finalizers":["a"]}"#, #"{"$setElementOrder/finalizers":"a"}"#, K8s.objectMeta) },
                       code: 500, reason: "", message: "expected a []interface {}, but received a string")
        assertAPIError({ try smp(#"{"finalizers":"a"}"#, #"{"$setElementOrder/finalizers":["a"]}"#, K8s.objectMeta) },
                       code: 500, reason: "", message: "expected a []interface {}, but received a string")
    }

    func testMergeKeyErrors() {
        assertAPIError({ try smp(#"{"mergingList":[{"name":"1","value":"a"}]}"#, #"{"mergingList":[{"value":"b"}]}"#, MergeItemSchema()) },
                       code: 500, reason: "", message: "map: map[value:b] does not contain declared merge key: name")
        let order = smpMessage(#"{"mergingList":[{"name":1},{"name":3},{"name":2}]}"#,
                               #"{"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}"#, MergeItemSchema())
        XCTAssertEqual(order?.0, 500)
        XCTAssertEqual(order?.2, "the order in patch list:\n[map[name:3 value:3] map[name:1 value:1]]\n doesn't match $setElementOrder list:\n[map[name:1] map[name:2] map[name:3]]")
        let intOrder = smpMessage(#"{"mergingIntList":[1,3,2]}"#, #"{"$setElementOrder/mergingIntList":[1,2,3],"mergingIntList":[3,1]}"#, MergeItemSchema())
        XCTAssertEqual(intOrder?.2, "the order in patch list:\n[3 1]\n doesn't match $setElementOrder list:\n[1 2 3]")
    }

    func testListElementTypeErrors() {
        assertAPIError({ try smp(#"{"mergingIntList":[[1]]}"#, #"{"mergingIntList":[[2]]}"#, MergeItemSchema()) },
                       code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request")
        assertAPIError({ try smp(#"{"mergingIntList":["a"]}"#, #"{"mergingIntList":[1]}"#, MergeItemSchema()) },
                       code: 500, reason: "", message: "list element types are not identical: [[a] [1]]")
        assertAPIError({ try smp(#"{"mergingList":[{"name":"a"}]}"#, #"{"mergingList":[{"name":"b"}]}"#,
                                 FnSchema { n in n == "mergingList" ? mergeList(nil) : nil }) },
                       code: 500, reason: "", message: "cannot merge lists without merge key for struct")
    }

    // MARK: Upstream ordering semantics (cases from strategicpatch's own test suite)

    func testOrderPreservedFromPatch() throws {
        assertJSON(try smp(#"{"mergingList":[{"name":1},{"name":2,"value":"b"},{"name":3}]}"#,
                           #"{"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"},{"name":2,"other":"x"}]}"#, MergeItemSchema()),
                   #"{"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"},{"name":2,"value":"b","other":"x"}]}"#)
        assertJSON(try smp(#"{"mergingList":[{"name":1},{"name":2,"value":"b"},{"name":3}]}"#,
                           #"{"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"}]}"#, MergeItemSchema()),
                   #"{"mergingList":[{"name":2,"value":"b"},{"name":3,"value":"c"},{"name":1,"value":"a"}]}"#)
        assertJSON(try smp(#"{"mergingIntList":[1,2,3]}"#, #"{"mergingIntList":[3,1]}"#, MergeItemSchema()),
                   #"{"mergingIntList":[2,3,1]}"#)
        assertJSON(try smp(#"{"mergingIntList":[1,2]}"#, #"{"mergingIntList":[2,3]}"#, MergeItemSchema()),
                   #"{"mergingIntList":[1,2,3]}"#)
    }

    func testAddAndDeleteWithSetElementOrder() throws {
        // the live list's storage is shifted by the delete and reused by the append upstream
        assertJSON(try smp(#"{"mergingList":[{"name":1},{"name":2,"other":"b"},{"name":4,"other":"c"}]}"#,
                           #"{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":3},{"name":1,"$patch":"delete"}]}"#, MergeItemSchema()),
                   #"{"mergingList":[{"name":2,"other":"b"},{"name":4,"other":"c"},{"name":3}]}"#)
        assertJSON(try smp(#"{"mergingList":[{"name":1,"other":"a"},{"name":4,"other":"c"}]}"#,
                           #"{"$setElementOrder/mergingList":[{"name":2},{"name":3}],"mergingList":[{"name":2},{"name":3},{"name":1,"$patch":"delete"}]}"#, MergeItemSchema()),
                   #"{"mergingList":[{"name":4,"other":"c"},{"name":2},{"name":3}]}"#)
        assertJSON(try smp(#"{"mergingList":[{"name":3,"other":"a"}]}"#,
                           #"{"$setElementOrder/mergingList":[{"name":2}],"mergingList":[{"name":2},{"name":1,"$patch":"delete"}]}"#, MergeItemSchema()),
                   #"{"mergingList":[{"name":2},{"name":3,"other":"a"}]}"#)
        assertJSON(try smp(#"{"mergingList":[{"name":1},{"name":3,"value":3},{"name":2,"value":2}]}"#,
                           #"{"$setElementOrder/mergingList":[{"name":4},{"name":2},{"name":1}],"mergingList":[{"name":4,"value":4},{"name":3,"$patch":"delete"}]}"#, MergeItemSchema()),
                   #"{"mergingList":[{"name":4,"value":4},{"name":2,"value":2},{"name":1}]}"#)
    }

    func testNestedMergeWithEmptyOrMissingList() throws {
        // list absent from the live object: the patch list is taken, minus delete directives
        assertJSON(try smp(#"{"name":"hi"}"#, #"{"mergingList":[{"name":"hello"},{"$patch":"delete","name":"doesntexist"}]}"#, MergeItemSchema()),
                   #"{"name":"hi","mergingList":[{"name":"hello"}]}"#)
        assertJSON(try smp(#"{"name":"hi","mergingList":[{"name":"hello2"}]}"#,
                           #"{"$setElementOrder/mergingList":[{"name":"hello"},{"name":"doesntexist"}],"mergingList":[{"name":"hello"},{"$patch":"delete","name":"doesntexist"}]}"#, MergeItemSchema()),
                   #"{"name":"hi","mergingList":[{"name":"hello"},{"name":"hello2"}]}"#)
    }

    func testSetElementOrderWithServerOnlyItems() throws {
        assertJSON(try smp(#"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2},{"name":9},{"name":3,"value":3},{"name":4,"value":4}]}"#,
                           #"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3}]}"#, MergeItemSchema()),
                   #"{"mergingList":[{"name":2,"value":2},{"name":1,"other":"a"},{"name":9},{"name":4,"value":4},{"name":3,"value":3}]}"#)
        assertJSON(try smp(#"{"mergingIntList":[1,2,7,9,8,3,4]}"#, #"{"$setElementOrder/mergingIntList":[2,1,4,3]}"#, MergeItemSchema()),
                   #"{"mergingIntList":[2,1,7,9,8,4,3]}"#)
        assertJSON(try smp(#"{"mergingIntList":[1,4,2]}"#, #"{"$setElementOrder/mergingIntList":[3,1,2],"mergingIntList":[3]}"#, MergeItemSchema()),
                   #"{"mergingIntList":[3,1,4,2]}"#)
        // items named in $setElementOrder but absent everywhere are ignored
        assertJSON(try smp(#"{"mergingIntList":[1,3]}"#, #"{"$setElementOrder/mergingIntList":[3,2,1]}"#, MergeItemSchema()),
                   #"{"mergingIntList":[3,1]}"#)
        // duplicates keep their relative order
        assertJSON(try smp(#"{"mergingList":[{"name":1},{"name":2,"value":"dup1"},{"name":3},{"name":2,"value":"dup2"},{"name":4}]}"#,
                           #"{"$setElementOrder/mergingList":[{"name":2},{"name":1},{"name":4},{"name":3},{"name":2}]}"#, MergeItemSchema()),
                   #"{"mergingList":[{"name":2,"value":"dup1"},{"name":2,"value":"dup2"},{"name":1},{"name":4},{"name":3}]}"#)
    }

    func testDeleteAllDuplicates() throws {
        assertJSON(try smp(#"{"mergingList":[{"name":1},{"name":1},{"name":2,"value":"a"},{"name":3},{"name":3}]}"#,
                           #"{"mergingList":[{"name":1,"$patch":"delete"},{"name":3,"$patch":"delete"}]}"#, MergeItemSchema()),
                   #"{"mergingList":[{"name":2,"value":"a"}]}"#)
        assertJSON(try smp(#"{"mergingIntList":[1,2,3,3,4]}"#, #"{"$setElementOrder/mergingIntList":[1,2],"$deleteFromPrimitiveList/mergingIntList":[3]}"#, MergeItemSchema()),
                   #"{"mergingIntList":[1,2,4]}"#)
    }

    func testRetainKeysMapNestedLists() throws {
        assertJSON(try smp(#"{"retainKeysMap":{"name":"foo","mergingIntList":[1,2,3]}}"#,
                           #"{"retainKeysMap":{"$setElementOrder/mergingIntList":[1,2,4],"$retainKeys":["mergingIntList","name"],"mergingIntList":[4]}}"#, MergeItemSchema()),
                   #"{"retainKeysMap":{"name":"foo","mergingIntList":[1,2,4,3]}}"#)
        assertJSON(try smp(#"{"retainKeysMap":{"name":"foo","value":"bar","other":"a"}}"#,
                           #"{"retainKeysMap":{"$retainKeys":["name"],"value":null}}"#, MergeItemSchema()),
                   #"{"retainKeysMap":{"name":"foo"}}"#)
        assertJSON(try smp(#"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"},{"name":"b"},{"name":"x"}]}}"#,
                           #"{"retainKeysMap":{"$retainKeys":["mergingList","name"],"$setElementOrder/mergingList":[{"name":"a"}],"mergingList":[{"name":"b","$patch":"delete"}]}}"#, MergeItemSchema()),
                   #"{"retainKeysMap":{"name":"foo","mergingList":[{"name":"a"},{"name":"x"}]}}"#)
    }

    func testReplaceStrategyField() throws {
        assertJSON(try smp(#"{"replacingItem":{"Some":"Generic","Field":"Period"}}"#, #"{"replacingItem":{"Newly":"Modified"}}"#, MergeItemSchema()),
                   #"{"replacingItem":{"Newly":"Modified"}}"#)
    }

    func testOriginalIsNotMutatedAndKeyOrderIsStable() throws {
        let original = j(service)
        let out = try StrategicMergePatch.apply(original: original, patch: j(#"{"metadata":{"labels":{"z":"9"}},"spec":{"type":"NodePort"}}"#), schema: K8s.service)
        XCTAssertEqual(original, j(service))
        XCTAssertEqual(out.objectValue?.keys, ["metadata", "spec"])
        XCTAssertEqual(out["spec"].objectValue?.keys, ["selector", "ports", "type"])
        XCTAssertEqual(out["metadata"]["labels"].objectValue?.keys, ["a", "b", "z"])
    }
}

// MARK: - Internal helpers

final class PatchInternalsTests: XCTestCase {
    func testGoStableSortMatchesStableSortForStrictOrders() {
        var rng = SystemRandomNumberGenerator()
        for n in [0, 1, 2, 5, 19, 20, 21, 40, 41, 100, 257] {
            let values = (0..<n).map { i in (key: Int.random(in: 0..<7, using: &rng), seq: i) }
            var ours = values
            GoSort.stable(&ours) { $0.key < $1.key }
            let expected = values.enumerated().sorted { a, b in
                a.element.key != b.element.key ? a.element.key < b.element.key : a.offset < b.offset
            }.map(\.element)
            XCTAssertEqual(ours.map(\.seq), expected.map(\.seq), "n=\(n)")
        }
    }

    func testGoFloatFormatting() {
        XCTAssertEqual(SMPFormat.goFloat(1.5), "1.5")
        XCTAssertEqual(SMPFormat.goFloat(100000), "100000")
        XCTAssertEqual(SMPFormat.goFloat(1000000), "1e+06")
        XCTAssertEqual(SMPFormat.goFloat(123456789), "1.23456789e+08")
        XCTAssertEqual(SMPFormat.goFloat(0.0001), "0.0001")
        XCTAssertEqual(SMPFormat.goFloat(0.00001), "1e-05")
        XCTAssertEqual(SMPFormat.goFloat(-2.25), "-2.25")
    }

    func testGoValueFormatting() {
        XCTAssertEqual(SMPFormat.v(j(#"{"b":[1,"x",null,true],"a":{"y":1.5}}"#)), "map[a:map[y:1.5] b:[1 x <nil> true]]")
        XCTAssertEqual(SMPFormat.s(j("true")), "%!s(bool=true)")
    }
}

// MARK: - JSON merge patch

final class MergePatchTests: XCTestCase {
    private func mp(_ o: String, _ p: String) throws -> JSON { try MergePatch.apply(original: j(o), patch: j(p)) }

    func testLabelsNullDeletesAndAdds() throws {
        assertJSON(try mp(#"{"metadata":{"labels":{"a":"1","b":"2"}}}"#, #"{"metadata":{"labels":{"a":null,"c":"3"}}}"#),
                   #"{"metadata":{"labels":{"b":"2","c":"3"}}}"#)
    }

    func testListsAreReplaced() throws {
        assertJSON(try mp(#"{"spec":{"ports":[{"port":80,"name":"http"},{"port":443}]}}"#, #"{"spec":{"ports":[{"port":8443}]}}"#),
                   #"{"spec":{"ports":[{"port":8443}]}}"#)
    }

    func testRecursiveMergeAndReplaceOfScalars() throws {
        assertJSON(try mp(#"{"a":{"b":{"c":1,"d":2},"e":"x"},"f":1}"#, #"{"a":{"b":{"c":10,"z":{"n":null,"m":1}},"e":{"now":"obj"}},"f":null}"#),
                   #"{"a":{"b":{"c":10,"d":2,"z":{"m":1}},"e":{"now":"obj"}}}"#)
        assertJSON(try mp(#"{"a":{"b":1}}"#, #"{"a":"flat"}"#), #"{"a":"flat"}"#)
        assertJSON(try mp(#"{"a":1}"#, #"{}"#), #"{"a":1}"#)
        assertJSON(try mp(#"{"a":1}"#, #"{"b":null}"#), #"{"a":1}"#)
    }

    func testNullsPrunedInsideInsertedValues() throws {
        assertJSON(try mp(#"{}"#, #"{"l":[{"a":null,"b":1},null,2],"o":{"x":null}}"#), #"{"l":[{"b":1},null,2],"o":{}}"#)
    }

    func testKubernetesRFCExamples() throws {
        // RFC 7386 appendix A, minus the cases for non-object documents
        assertJSON(try mp(#"{"a":"b"}"#, #"{"a":"c"}"#), #"{"a":"c"}"#)
        assertJSON(try mp(#"{"a":"b"}"#, #"{"b":"c"}"#), #"{"a":"b","b":"c"}"#)
        assertJSON(try mp(#"{"a":"b"}"#, #"{"a":null}"#), #"{}"#)
        assertJSON(try mp(#"{"a":"b","b":"c"}"#, #"{"a":null}"#), #"{"b":"c"}"#)
        assertJSON(try mp(#"{"a":["b"]}"#, #"{"a":"c"}"#), #"{"a":"c"}"#)
        assertJSON(try mp(#"{"a":"c"}"#, #"{"a":["b"]}"#), #"{"a":["b"]}"#)
        assertJSON(try mp(#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#), #"{"a":{"b":"d"}}"#)
        assertJSON(try mp(#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#), #"{"a":[1]}"#)
        assertJSON(try mp(#"{"e":null}"#, #"{"a":1}"#), #"{"e":null,"a":1}"#)
    }

    func testInvalidPatchDocuments() {
        assertAPIError({ try self.mp("{}", "null") }, code: 400, reason: "BadRequest", message: "Invalid JSON Patch")
        assertAPIError({ try self.mp("{}", "1") }, code: 400, reason: "BadRequest", message: "Invalid JSON Patch")
        assertAPIError({ try self.mp("{}", #""s""#) }, code: 400, reason: "BadRequest", message: "Invalid JSON Patch")
        assertAPIError({ try self.mp("{}", "true") }, code: 400, reason: "BadRequest", message: "Invalid JSON Patch")
        // an array "merges" into itself; the caller rejects non-object results
        XCTAssertEqual(try mp(#"{"a":1}"#, #"[{"x":null,"y":1}]"#), j(#"[{"y":1}]"#))
    }
}

// MARK: - JSON patch

final class JSONPatchTests: XCTestCase {
    let doc = #"""
    {"metadata":{"name":"web","labels":{"app":"web","a/b":"slash","t~x":"tilde"}},
     "spec":{"replicas":1,"template":{"spec":{"containers":[
        {"name":"app","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
        {"name":"sidecar"}]}}}}
    """#

    private func apply(_ ops: String) throws -> JSON { try JSONPatch.apply(original: j(doc), patch: j(ops)) }

    private func failure(_ ops: String, on document: String? = nil, file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            _ = try JSONPatch.applyOperations(j(ops).arrayValue ?? [], to: j(document ?? doc))
            XCTFail("expected the patch to fail", file: file, line: line)
            return nil
        } catch {
            return error.message
        }
    }

    func testKubectlStyleOperations() throws {
        let out = try apply(#"""
        [{"op":"test","path":"/spec/replicas","value":1},
         {"op":"replace","path":"/spec/replicas","value":5},
         {"op":"add","path":"/metadata/labels/new","value":"yes"},
         {"op":"remove","path":"/spec/template/spec/containers/1"},
         {"op":"add","path":"/spec/template/spec/containers/0/env/-","value":{"name":"C","value":"3"}}]
        """#)
        XCTAssertEqual(out.at(["spec", "replicas"]), 5)
        XCTAssertEqual(out.at(["metadata", "labels", "new"]), "yes")
        XCTAssertEqual(names(out.at(["spec", "template", "spec", "containers"])), ["app"])
        XCTAssertEqual(names(out.at(["spec", "template", "spec", "containers"]).arrayValue![0]["env"]), ["A", "B", "C"])
    }

    func testPointerEscapesAndIndexes() throws {
        let out = try apply(#"""
        [{"op":"replace","path":"/metadata/labels/a~1b","value":"S"},
         {"op":"remove","path":"/metadata/labels/t~0x"},
         {"op":"add","path":"/spec/template/spec/containers/0/env/0","value":{"name":"Z"}},
         {"op":"add","path":"/spec/template/spec/containers/0/env/-1","value":{"name":"Y"}},
         {"op":"replace","path":"/spec/template/spec/containers/-1/name","value":"last"}]
        """#)
        XCTAssertEqual(out.at(["metadata", "labels"]), j(#"{"app":"web","a/b":"S"}"#))
        XCTAssertEqual(names(out.at(["spec", "template", "spec", "containers"]).arrayValue![0]["env"]), ["Z", "A", "B", "Y"])
        XCTAssertEqual(names(out.at(["spec", "template", "spec", "containers"])), ["app", "last"])
        XCTAssertEqual(JSONPatch.decodeToken("~01"), "~1")
        XCTAssertEqual(JSONPatch.decodeToken("~~1"), "~/")
    }

    func testMoveCopyAndWholeDocument() throws {
        let out = try apply(#"""
        [{"op":"copy","from":"/metadata/labels","path":"/metadata/annotations"},
         {"op":"move","from":"/metadata/annotations/app","path":"/metadata/annotations/moved"},
         {"op":"move","from":"/spec/template/spec/containers/1","path":"/spec/template/spec/containers/0"},
         {"op":"copy","from":"/metadata/labels/missing","path":"/metadata/copiedNull"}]
        """#)
        XCTAssertEqual(out.at(["metadata", "annotations"]), j(#"{"a/b":"slash","t~x":"tilde","moved":"web"}"#))
        XCTAssertEqual(out.at(["metadata", "labels", "app"]), "web")
        XCTAssertEqual(names(out.at(["spec", "template", "spec", "containers"])), ["sidecar", "app"])
        XCTAssertEqual(out["metadata"].objectValue?["copiedNull"], .null)

        let whole = try apply(#"[{"op":"replace","path":"","value":{"kind":"X"}},{"op":"test","path":"","value":{"kind":"X"}}]"#)
        XCTAssertEqual(whole, j(#"{"kind":"X"}"#))
    }

    func testReplaceOfMissingObjectKeyAdds() throws {
        let out = try apply(#"[{"op":"replace","path":"/spec/paused","value":true}]"#)
        XCTAssertEqual(out.at(["spec", "paused"]), true)
    }

    func testTestSemantics() throws {
        // missing or null locations match a null or absent value only
        XCTAssertNoThrow(try apply(#"[{"op":"test","path":"/spec/missing","value":null}]"#))
        XCTAssertNoThrow(try apply(#"[{"op":"test","path":"/spec/missing"}]"#))
        XCTAssertNoThrow(try apply(#"[{"op":"test","path":"/spec/template/spec/containers/0","value":{"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"name":"app"}}]"#))
        XCTAssertEqual(failure(#"[{"op":"test","path":"/spec/replicas","value":99}]"#), "testing value /spec/replicas failed: test failed")
        XCTAssertEqual(failure(#"[{"op":"test","path":"/spec/replicas"}]"#), "testing value /spec/replicas failed: test failed")
        XCTAssertEqual(failure(#"[{"op":"test","path":"/spec/replicas","value":null}]"#), "testing value /spec/replicas failed: test failed")
        XCTAssertEqual(failure(#"[{"op":"test","path":"/spec/missing","value":"x"}]"#), "testing value /spec/missing failed: test failed")
        XCTAssertEqual(failure(#"[{"op":"test","path":"","value":{}}]"#), "testing value  failed: test failed")
        XCTAssertEqual(failure(#"[{"op":"test","path":"/spec/nope/x","value":1}]"#), "test operation does not apply: is missing path: /spec/nope/x: missing value")
        XCTAssertEqual(failure(#"[{"op":"test","path":"/spec/template/spec/containers/7","value":1}]"#),
                       "error in test for path: '/spec/template/spec/containers/7': Unable to access invalid index: 7: invalid index referenced")
    }

    func testOperationErrors() {
        XCTAssertEqual(failure(#"[{"op":"remove","path":"/spec/doesNotExist"}]"#),
                       "error in remove for path: '/spec/doesNotExist': Unable to remove nonexistent key: doesNotExist: missing value")
        XCTAssertEqual(failure(#"[{"op":"remove","path":"/spec/a/b"}]"#), #"remove operation does not apply: doc is missing path: "/spec/a/b": missing value"#)
        XCTAssertEqual(failure(#"[{"op":"remove","path":"/spec/template/spec/containers/2"}]"#),
                       "error in remove for path: '/spec/template/spec/containers/2': Unable to access invalid index: 2: invalid index referenced")
        XCTAssertEqual(failure(#"[{"op":"remove","path":"/spec/template/spec/containers/x"}]"#),
                       #"error in remove for path: '/spec/template/spec/containers/x': strconv.Atoi: parsing "x": invalid syntax"#)
        XCTAssertEqual(failure(#"[{"op":"add","path":"/x/y","value":1}]"#), #"add operation does not apply: doc is missing path: "/x/y": missing value"#)
        XCTAssertEqual(failure(#"[{"op":"add","path":"","value":1}]"#), #"add operation does not apply: doc is missing path: "": missing value"#)
        XCTAssertEqual(failure(#"[{"op":"add","path":"/spec/template/spec/containers/5","value":1}]"#),
                       "error in add for path: '/spec/template/spec/containers/5': Unable to access invalid index: 5: invalid index referenced")
        XCTAssertEqual(failure(#"[{"op":"add","path":"/spec/template/spec/containers/x","value":1}]"#),
                       #"error in add for path: '/spec/template/spec/containers/x': value was not a proper array index: 'x': strconv.Atoi: parsing "x": invalid syntax"#)
        XCTAssertEqual(failure(#"[{"op":"replace","path":"/spec/template/spec/containers/9","value":1}]"#),
                       "replace operation does not apply: doc is missing key: /spec/template/spec/containers/9: missing value")
        XCTAssertEqual(failure(#"[{"op":"replace","path":"/spec/foo/bar","value":1}]"#),
                       "replace operation does not apply: doc is missing path: /spec/foo/bar: missing value")
        XCTAssertEqual(failure(#"[{"op":"replace","path":"","value":1}]"#), "replace operation value must be object or array: %!w(<nil>)")
        XCTAssertEqual(failure(#"[{"op":"move","from":"/x/y","path":"/a"}]"#), "move operation does not apply: doc is missing from path: /x/y: missing value")
        XCTAssertEqual(failure(#"[{"op":"move","from":"/spec/zz","path":"/a"}]"#), "error in move for path: 'zz': Unable to remove nonexistent key: zz: missing value")
        XCTAssertEqual(failure(#"[{"op":"move","from":"/spec/replicas","path":"/q/r"}]"#), "move operation does not apply: doc is missing destination path: /q/r: missing value")
        XCTAssertEqual(failure(#"[{"op":"copy","from":"/x/y","path":"/a"}]"#), "copy operation does not apply: doc is missing from path: /x/y: missing value")
        XCTAssertEqual(failure(#"[{"op":"copy","from":"/spec/replicas","path":"/q/r"}]"#), "copy operation does not apply: doc is missing destination path: /q/r: missing value")
        XCTAssertEqual(failure(#"[{"op":"copy","from":"/spec/template/spec/containers/4","path":"/a"}]"#),
                       "error in copy for from: '/spec/template/spec/containers/4': Unable to access invalid index: 4: invalid index referenced")
    }

    func testMalformedOperations() {
        XCTAssertEqual(failure(#"[{"op":"replace","value":1}]"#), "replace operation failed to decode path: operation missing path field: missing value")
        XCTAssertEqual(failure(#"[{"op":"add","value":1}]"#), "add operation failed to decode path: missing value")
        XCTAssertEqual(failure(#"[{"op":"remove","path":null}]"#), "remove operation failed to decode path: missing value")
        XCTAssertEqual(failure(#"[{"op":"test","path":5}]"#), "test operation failed to decode path: json: cannot unmarshal number into Go value of type string")
        XCTAssertEqual(failure(#"[{"op":"move","path":"/a"}]"#), "move operation failed to decode from: operation, missing from field: missing value")
        XCTAssertEqual(failure(#"[{"op":"copy","from":"/spec","path":7}]"#), "copy operation failed to decode path: missing value")
        XCTAssertEqual(failure(#"[{"op":"frobnicate","path":"/a"}]"#), "Unexpected kind: frobnicate")
        XCTAssertEqual(failure(#"[{"path":"/a"}]"#), "Unexpected kind: unknown")
        XCTAssertEqual(failure(#"[null]"#), "Unexpected kind: unknown")
    }

    func testAPIErrors() {
        assertAPIError({ try self.apply(#"[{"op":"test","path":"/spec/replicas","value":99},{"op":"replace","path":"/spec/replicas","value":7}]"#) },
                       code: 422, reason: "Invalid", message: "the server rejected our request due to an error in our request")
        assertAPIError({ try self.apply(#"[{"op":"remove","path":"/spec/doesNotExist"}]"#) }, code: 422, reason: "Invalid")
        assertAPIError({ try self.apply(#"{"op":"replace"}"#) }, code: 400, reason: "BadRequest",
                       message: "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        assertAPIError({ try self.apply(#""x""#) }, code: 400, reason: "BadRequest",
                       message: "json: cannot unmarshal string into Go value of type jsonpatch.Patch")
        assertAPIError({ try self.apply(#"[{"op":"add","path":"/a","value":1},"oops"]"#) }, code: 400, reason: "BadRequest",
                       message: "json: cannot unmarshal string into Go value of type jsonpatch.Operation")
        let many = JSON.array(Array(repeating: j(#"{"op":"test","path":"/spec/replicas","value":1}"#), count: 10_001))
        assertAPIError({ try JSONPatch.apply(original: j(self.doc), patch: many) }, code: 413, reason: "RequestEntityTooLarge",
                       message: "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001")
        let limit = JSON.array(Array(repeating: j(#"{"op":"test","path":"/spec/replicas","value":1}"#), count: 10_000))
        XCTAssertNoThrow(try JSONPatch.apply(original: j(doc), patch: limit))
        XCTAssertEqual(try JSONPatch.apply(original: j(doc), patch: .null), j(doc))
        XCTAssertEqual(try JSONPatch.apply(original: j(doc), patch: j("[]")), j(doc))
    }
}

// MARK: - OpenAPI-backed schemas

final class OpenAPIPatchSchemaTests: XCTestCase {
    private static let upstreamDir = "/work/shared/reference/upstream-openapi-v3"

    private static func load(_ paths: [String]) -> [JSON]? {
        var docs: [JSON] = []
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            guard let doc = try? JSONParser.parse(Array(data)) else { return nil }
            docs.append(doc)
        }
        return docs
    }

    private func index(dir: String, files: [String]) throws -> OpenAPISchemaIndex {
        guard let docs = Self.load(files.map { "\(dir)/\($0)" }) else {
            let reason = "OpenAPI documents not found under \(dir); skipping"
            print(reason)
            throw XCTSkip(reason)
        }
        return OpenAPISchemaIndex(documents: docs)
    }

    private func upstream() throws -> OpenAPISchemaIndex {
        try index(dir: Self.upstreamDir, files: ["api__v1_openapi.json", "apis__apps__v1_openapi.json", "apis__discovery.k8s.io__v1_openapi.json"])
    }

    /// kemu's own served documents, next to the package's Sources.
    private func project() throws -> OpenAPISchemaIndex {
        let here = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        let dir = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("openapi").path
        return try index(dir: dir, files: ["api__v1.json", "apis__apps__v1.json", "apis__discovery.k8s.io__v1.json"])
    }

    private func checkIndex(_ idx: OpenAPISchemaIndex) throws {
        let pod = try XCTUnwrap(idx.schema(group: "", version: "v1", kind: "Pod"))
        let spec = try XCTUnwrap(pod.field("spec")?.element)
        let containers = try XCTUnwrap(spec.field("containers"))
        XCTAssertEqual(containers.mergeKey, "name")
        XCTAssertEqual(containers.strategies, ["merge"])
        XCTAssertTrue(containers.isList)
        let env = try XCTUnwrap(containers.element?.field("env"))
        XCTAssertEqual(env.mergeKey, "name")
        XCTAssertEqual(spec.field("volumes")?.strategies, ["merge", "retainKeys"])
        XCTAssertEqual(spec.field("tolerations")?.strategies, [])
        XCTAssertEqual(spec.field("tolerations")?.isList, true)
        let meta = try XCTUnwrap(pod.field("metadata")?.element)
        XCTAssertEqual(meta.field("finalizers")?.strategies, ["merge"])
        XCTAssertNil(meta.field("finalizers")?.mergeKey)
        XCTAssertEqual(meta.field("ownerReferences")?.mergeKey, "uid")
        // maps answer every key with the value schema
        XCTAssertNotNil(meta.field("labels")?.element?.field("any-key"))
        XCTAssertNil(meta.field("noSuchField"))

        let dep = try XCTUnwrap(idx.schema(group: "apps", version: "v1", kind: "Deployment"))
        XCTAssertEqual(dep.field("spec")?.element?.field("strategy")?.strategies, ["retainKeys"])
        XCTAssertNotNil(idx.schema(forDefinition: "io.k8s.api.core.v1.Service"))
        XCTAssertNil(idx.schema(group: "nope", version: "v1", kind: "Pod"))
        XCTAssertEqual(idx.definitionName(group: "discovery.k8s.io", version: "v1", kind: "EndpointSlice"), "io.k8s.api.discovery.v1.EndpointSlice")
    }

    private func checkPatches(_ idx: OpenAPISchemaIndex) throws {
        let svc = try XCTUnwrap(idx.schema(group: "", version: "v1", kind: "Service"))
        let ports = try smp(#"{"spec":{"ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":8080},{"name":"https","port":443}]}}"#,
                            #"{"spec":{"$setElementOrder/ports":[{"port":80},{"port":443}],"ports":[{"port":80,"targetPort":9090}]}}"#, svc)
        assertJSON(ports, #"{"spec":{"ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":9090},{"name":"https","port":443}]}}"#)

        let dep = try XCTUnwrap(idx.schema(group: "apps", version: "v1", kind: "Deployment"))
        let deployment = #"""
        {"metadata":{"finalizers":["a","b"]},"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%"}},
         "template":{"spec":{"containers":[{"name":"app","image":"x","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},{"name":"side","image":"y"}]}}}}
        """#
        let out = try smp(deployment, #"""
        {"metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"finalizers":["c"]},
         "spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"},
          "template":{"spec":{"$setElementOrder/containers":[{"name":"side"},{"name":"app"}],
            "containers":[{"name":"app","$setElementOrder/env":[{"name":"B"},{"name":"A"}],"env":[{"name":"A","value":"10"}]},
                          {"name":"side","$patch":"delete"}]}}}}
        """#, dep)
        assertJSON(out, #"""
        {"metadata":{"finalizers":["c","b"]},"spec":{"strategy":{"type":"Recreate"},
         "template":{"spec":{"containers":[{"name":"app","image":"x","env":[{"name":"B","value":"2"},{"name":"A","value":"10"}]}]}}}}
        """#)

        let es = try XCTUnwrap(idx.schema(group: "discovery.k8s.io", version: "v1", kind: "EndpointSlice"))
        assertJSON(try smp(#"{"endpoints":[{"addresses":["10.0.0.1"]},{"addresses":["10.0.0.2"]}]}"#, #"{"endpoints":[{"addresses":["10.0.0.9"]}]}"#, es),
                   #"{"endpoints":[{"addresses":["10.0.0.9"]}]}"#)

        let pod = try XCTUnwrap(idx.schema(group: "", version: "v1", kind: "Pod"))
        assertJSON(try smp(#"{"status":{"conditions":[{"type":"Ready","status":"False"},{"type":"PodScheduled","status":"True"}]}}"#,
                           #"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#, pod),
                   #"{"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"PodScheduled","status":"True"}]}}"#)
        assertJSON(try smp(#"{"spec":{"nodeSelector":{"a":"1"},"tolerations":[{"key":"a"}]}}"#,
                           #"{"spec":{"nodeSelector":{"b":"2"},"tolerations":[{"key":"b"}]}}"#, pod),
                   #"{"spec":{"nodeSelector":{"a":"1","b":"2"},"tolerations":[{"key":"b"}]}}"#)

        let node = try XCTUnwrap(idx.schema(group: "", version: "v1", kind: "Node"))
        let cordoned = try smp(#"{"spec":{}}"#, #"{"spec":{"unschedulable":true}}"#, node)
        assertJSON(cordoned, #"{"spec":{"unschedulable":true}}"#)
        assertJSON(try StrategicMergePatch.apply(original: cordoned, patch: j(#"{"spec":{"unschedulable":null}}"#), schema: node), #"{"spec":{}}"#)
    }

    func testUpstreamDocumentIndex() throws { try checkIndex(try upstream()) }
    func testUpstreamDocumentPatches() throws { try checkPatches(try upstream()) }
    func testProjectDocumentIndex() throws { try checkIndex(try project()) }
    func testProjectDocumentPatches() throws { try checkPatches(try project()) }

    func testInlineSchemasAndRefForms() throws {
        let doc = j(#"""
        {"components":{"schemas":{
          "T":{"type":"object","x-kubernetes-group-version-kind":[{"group":"g","version":"v1","kind":"T"}],"properties":{
            "direct":{"$ref":"#/components/schemas/Item"},
            "wrapped":{"allOf":[{"$ref":"#/components/schemas/Item"}],"default":{}},
            "list":{"type":"array","items":{"$ref":"#/components/schemas/Item"},"x-kubernetes-patch-strategy":"merge","x-kubernetes-patch-merge-key":"id"},
            "mapOfLists":{"type":"object","additionalProperties":{"type":"array","items":{"type":"string"}}},
            "inline":{"type":"object","properties":{"inner":{"type":"array","items":{"type":"object","properties":{"k":{"type":"string"}}},"x-kubernetes-patch-strategy":"merge","x-kubernetes-patch-merge-key":"k"}}}}},
          "Item":{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string"},"x-kubernetes-patch-strategy":"merge"}}},
          "Alias":{"allOf":[{"$ref":"#/components/schemas/Item"}]}}}}
        """#)
        let idx = OpenAPISchemaIndex(documents: [doc, doc])
        XCTAssertEqual(idx.definitionCount, 3)
        let t = try XCTUnwrap(idx.schema(group: "g", version: "v1", kind: "T"))
        XCTAssertEqual(t.field("direct")?.element?.field("tags")?.strategies, ["merge"])
        XCTAssertEqual(t.field("wrapped")?.element?.field("tags")?.isList, true)
        XCTAssertEqual(t.field("list")?.mergeKey, "id")
        XCTAssertNotNil(t.field("list")?.element?.field("tags"))
        XCTAssertEqual(t.field("mapOfLists")?.element?.field("whatever")?.isList, true)
        XCTAssertEqual(t.field("inline")?.element?.field("inner")?.mergeKey, "k")
        XCTAssertEqual(idx.schema(forDefinition: "Alias")?.field("tags")?.strategies, ["merge"])
        assertJSON(try smp(#"{"inline":{"inner":[{"k":"a","v":1}]},"direct":{"tags":["x"]}}"#,
                           #"{"inline":{"inner":[{"k":"a","w":2},{"k":"b"}]},"direct":{"tags":["y"]}}"#, t),
                   #"{"inline":{"inner":[{"k":"a","v":1,"w":2},{"k":"b"}]},"direct":{"tags":["y","x"]}}"#)
    }
}
