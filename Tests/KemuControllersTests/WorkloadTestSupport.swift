import Dispatch
import Foundation
import XCTest
@testable import KemuControllers
import KemuAPI
import KemuRegistry
import KemuStore

/// A store with namespace `test`, a running hub and the workload controllers.
final class WLCluster: @unchecked Sendable {
    let store = Store(eventHistory: 400_000)
    let storage: ObjectStorage
    var controllers: [any Controller] = []

    init() throws {
        storage = ObjectStorage(store: store, registry: .standard, context: ClusterAllocators())
        _ = try storage.create(.namespace, namespace: "", body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "test"]])
        store.hub.start(initialRV: store.currentResourceVersion)
    }

    func start(_ make: (ObjectStorage) -> [any Controller]) {
        controllers = make(storage)
        for c in controllers { c.start() }
    }

    func stop() {
        for c in controllers { c.stop() }
        store.hub.stop()
    }

    func list(_ kind: ResourceKind, ns: String = "test") -> [StoredObject] {
        ((try? store.list(kind.groupResource))?.items ?? []).filter { $0.namespace == ns || !kind.namespaced }
    }

    func pods(owner: String? = nil) -> [StoredObject] {
        list(.pod).filter { p in
            owner == nil || (p.object.metadata["ownerReferences"]?.arrayValue ?? []).contains { $0["name"].stringValue == owner }
        }
    }

    func get(_ kind: ResourceKind, _ name: String) -> JSONObject? {
        store.get(kind.groupResource, namespace: kind.namespaced ? "test" : "", name: name)?.object
    }

    /// Marks a pod Running and Ready (as the kubelet would), optionally ready since `readyAt`.
    func markReady(_ name: String, readyAt: String? = nil, ready: Bool = true) {
        _ = try? storage.update(.pod, namespace: "test", name: name, subresource: "status") { cur in
            var c = cur
            c["status"] = ["phase": "Running", "conditions": [
                ["type": "Ready", "status": .string(ready ? "True" : "False"), "lastTransitionTime": .string(readyAt ?? Timestamp.now())],
            ]]
            return c
        }
    }

    /// Marks every active pod not yet ready as ready; returns how many were changed.
    @discardableResult
    func readyAll(owner: String? = nil) -> Int {
        var n = 0
        for p in pods(owner: owner) where p.object.deletionTimestamp == nil && !PodFacts.isReady(p.object) {
            markReady(p.name); n += 1
        }
        return n
    }

    func waitUntil(_ what: String, timeout: Double = 10, file: StaticString = #filePath, line: UInt = #line,
                   _ cond: () -> Bool) {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if cond() { return }
            Thread.sleep(forTimeInterval: 0.01)
        }
        XCTFail("timed out waiting for \(what)", file: file, line: line)
    }

    /// Keeps marking pods ready until `cond` holds.
    func driveReady(_ what: String, owner: String? = nil, timeout: Double = 15, file: StaticString = #filePath, line: UInt = #line,
                    _ cond: () -> Bool) {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if cond() { return }
            readyAll(owner: owner)
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTFail("timed out waiting for \(what)", file: file, line: line)
    }

    func create(_ kind: ResourceKind, _ body: JSONObject) throws {
        _ = try storage.create(kind, namespace: kind.namespaced ? "test" : "", body: body)
    }

    func updateSpec(_ kind: ResourceKind, _ name: String, _ f: @escaping (inout JSONObject) -> Void) throws {
        _ = try storage.update(kind, namespace: "test", name: name) { cur in
            var c = cur
            c.withObject("spec") { f(&$0) }
            return c
        }
    }
}

func wlTemplate(_ labels: [String: String], image: String = "nginx:1") -> JSON {
    ["metadata": ["labels": .stringMap(labels)],
     "spec": ["containers": [["name": "c", "image": .string(image)]]]]
}

func wlWorkload(_ kind: String, _ name: String, replicas: Int? = 3, extra: JSONObject = [:]) -> JSONObject {
    var spec: JSONObject = ["selector": ["matchLabels": ["app": .string(name)]], "template": wlTemplate(["app": name])]
    if let replicas { spec["replicas"] = .int(Int64(replicas)) }
    for (k, v) in extra { spec[k] = v }
    return ["apiVersion": "apps/v1", "kind": .string(kind), "metadata": ["name": .string(name)], "spec": .object(spec)]
}

func wlInt(_ o: JSONObject?, _ path: String...) -> Int {
    guard let o else { return -1 }
    return Int(JSON.object(o).at(path).intValue ?? 0)
}
