import XCTest
import KemuAPI
import KemuStore
@testable import KemuRegistry

/// core/v1 Events: validation as kube-apiserver applies it to v1 requests, Go's field layout, field selectors,
/// and the `kubectl get events` Table.
final class EventKindTests: XCTestCase {
    static let t0 = Timestamp.parse("2024-01-01T00:00:00Z")!
    let t0 = EventKindTests.t0
    func ts(_ offset: Int) -> String { Timestamp.format(epochSeconds: t0 + offset) }
    func micro(_ offset: Int, _ fraction: String) -> String { String(ts(offset).dropLast()) + "." + fraction + "Z" }

    func object(_ text: String) -> JSONObject { (try? JSONParser.parse(text).objectValue) ?? JSONObject() }

    func storage() throws -> ObjectStorage {
        let s = ObjectStorage(store: Store(), registry: .standard, context: ClusterAllocators())
        for ns in ["default", "test"] {
            _ = try s.create(.namespace, namespace: "", body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(ns)]])
        }
        return s
    }

    func invalidMessage(_ s: ObjectStorage, ns: String, _ body: String) -> String? {
        do {
            _ = try s.create(.event, namespace: ns, body: object(body))
            return nil
        } catch let e as APIError {
            XCTAssertEqual(e.code, 422)
            return e.message
        } catch {
            return "\(error)"
        }
    }

    func testRegisteredLikeUpstream() {
        let k = ResourceKind.event
        XCTAssertEqual([k.group, k.version, k.kind, k.resource, k.singular], ["", "v1", "Event", "events", "event"])
        XCTAssertTrue(k.namespaced)
        XCTAssertEqual(k.shortNames, ["ev"])
        XCTAssertNotNil(Registry.standard.kind(group: "", version: "v1", resource: "events"))
    }

    func testInvolvedObjectNamespaceMustMatch() throws {
        let s = try storage()
        let msg = invalidMessage(s, ns: "test", #"{"metadata":{"name":"a.1"},"involvedObject":{"kind":"Pod","name":"p","namespace":"other"}}"#)
        XCTAssertEqual(msg, #"Event "a.1" is invalid: involvedObject.namespace: Invalid value: "other": does not match event.namespace"#)
        // An object without a namespace (a Node) may be reported in "default" only.
        XCTAssertNil(invalidMessage(s, ns: "default", #"{"metadata":{"name":"n.1"},"involvedObject":{"kind":"Node","name":"n"}}"#))
        XCTAssertEqual(invalidMessage(s, ns: "test", #"{"metadata":{"name":"n.2"},"involvedObject":{"kind":"Node","name":"n"}}"#),
                       #"Event "n.2" is invalid: involvedObject.namespace: Invalid value: "": does not match event.namespace"#)
    }

    func testNewStyleEventsNeedReportingFields() throws {
        let s = try storage()
        let long = String(repeating: "x", count: 129)
        let msg = invalidMessage(s, ns: "test", #"""
            {"metadata":{"name":"b.1"},"involvedObject":{"kind":"Pod","name":"p","namespace":"test"},
             "eventTime":"2024-01-01T00:00:00.000000Z","reason":"\#(long)","reportingInstance":"i"}
            """#) ?? ""
        XCTAssertTrue(msg.contains("reportingComponent: Required value"), msg)
        XCTAssertTrue(msg.contains("action: Required value"), msg)
        XCTAssertTrue(msg.contains(#"reason: Invalid value: "": can have at most 128 characters"#), msg)
        XCTAssertFalse(msg.contains("reportingInstance"), msg)
        // Old-style (no eventTime): reason and type are free form, as for any v1 write.
        XCTAssertNil(invalidMessage(s, ns: "test", #"{"metadata":{"name":"b.2"},"involvedObject":{"namespace":"test"},"reason":"\#(long)","type":"Odd"}"#))
    }

    func testNamesArePathSegments() throws {
        let s = try storage()
        XCTAssertNil(invalidMessage(s, ns: "test", #"{"metadata":{"name":"Web_1.17f0a"},"involvedObject":{"namespace":"test"}}"#))
        XCTAssertEqual(invalidMessage(s, ns: "test", #"{"metadata":{"name":"a%b"},"involvedObject":{"namespace":"test"}}"#),
                       #"Event "a%b" is invalid: metadata.name: Invalid value: "a%b": may not contain '%'"#)
    }

    func testStoredInGoFieldOrderWithAlwaysWrittenFields() throws {
        let s = try storage()
        let o = try s.create(.event, namespace: "test", body: object(#"""
            {"type":"Normal","count":0,"message":"m","metadata":{"name":"c.1"},
             "involvedObject":{"uid":"u","name":"p","kind":"Pod","namespace":"test","fieldPath":""},"reason":""}
            """#)).object
        XCTAssertEqual(o.keys, ["kind", "apiVersion", "metadata", "involvedObject", "message", "source", "firstTimestamp",
                                "lastTimestamp", "type", "eventTime", "reportingComponent", "reportingInstance"])
        XCTAssertEqual(o["involvedObject"]?.objectValue?.keys, ["kind", "namespace", "name", "uid"])
        XCTAssertEqual(o["source"], .object(JSONObject()))
        XCTAssertEqual(o["eventTime"], .null)
        XCTAssertEqual(o["reportingComponent"], "")
    }

    func testStoredEventIsExactlySizedAndKeepsACanonicalReference() throws {
        let s = try storage()
        let o = try s.create(.event, namespace: "test", body: object(#"""
            {"metadata":{"name":"c.2"},"involvedObject":{"kind":"Pod","namespace":"test","name":"p","uid":"u"},
             "reason":"Scheduled","message":"m","source":{"component":"default-scheduler"},"count":1,"type":"Normal"}
            """#)).object
        XCTAssertEqual(o.capacity, o.count, "no spare capacity in a stored event")
        let canonical: JSONObject = ["kind": "Pod", "namespace": "test", "name": "p", "uid": "u"]
        XCTAssertTrue(EventStrategy.isCanonical(canonical, EventStrategy.referenceOrder))
        XCTAssertEqual(EventStrategy.reordered(canonical, EventStrategy.referenceOrder).capacity, 4,
                       "a reference already in Go order is kept as it is")
        XCTAssertFalse(EventStrategy.isCanonical(["name": "p", "kind": "Pod"], EventStrategy.referenceOrder), "out of order")
        XCTAssertFalse(EventStrategy.isCanonical(["kind": "Pod", "fieldPath": ""], EventStrategy.referenceOrder), "empty string")
        XCTAssertFalse(EventStrategy.isCanonical(["kind": "Pod", "extra": "x"], EventStrategy.referenceOrder), "unknown key")
        XCTAssertEqual(EventStrategy.reordered(["name": "p", "extra": "x", "kind": "Pod", "uid": ""], EventStrategy.referenceOrder).keys,
                       ["kind", "name", "extra"])
    }

    func testFieldSelectors() {
        let e = object(#"""
            {"metadata":{"name":"d.1","namespace":"test"},"involvedObject":{"kind":"Pod","namespace":"test","name":"p","uid":"u",
             "apiVersion":"v1","resourceVersion":"7","fieldPath":"spec.containers{c}"},"reason":"Started",
             "source":{"component":"kubelet","host":"n1"},"type":"Normal","reportingComponent":"kubelet"}
            """#)
        let f = ResourceKind.event.fieldSelectors
        let want = ["involvedObject.kind": "Pod", "involvedObject.namespace": "test", "involvedObject.name": "p",
                    "involvedObject.uid": "u", "involvedObject.apiVersion": "v1", "involvedObject.resourceVersion": "7",
                    "involvedObject.fieldPath": "spec.containers{c}", "reason": "Started", "source": "kubelet", "type": "Normal",
                    "reportingComponent": "kubelet", "metadata.name": "d.1", "metadata.namespace": "test"]
        for (field, value) in want { XCTAssertEqual(f.value(field, e), value, field) }
        XCTAssertEqual(f.value("involvedObject.name", object("{}")), "")
        let bad = try! FieldSelector.parse("count=1")
        XCTAssertEqual(f.unknownFieldMessage(bad), "field label not supported: count")
    }

    // MARK: - Table

    func cells(_ text: String, now: Int) -> [String] {
        TableDefinition.event.cells(object(text), now).map { c in
            if case .int(let i) = c { return String(i) }
            return c.stringValue ?? "?"
        }
    }

    func testTableColumns() {
        let def = TableDefinition.event
        XCTAssertEqual(def.columns.map(\.name), ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message",
                                                 "First Seen", "Count", "Name"])
        XCTAssertEqual(def.columns.map(\.priority), [0, 0, 0, 0, 1, 1, 0, 1, 1, 1])
        XCTAssertTrue(def.columns.allSatisfy { $0.type == "string" && !$0.description.isEmpty })
        XCTAssertEqual(def.columns.last?.format, "name")
    }

    func testTableCellsForControllerEvent() {
        let e = #"""
            {"metadata":{"name":"web.17"},"involvedObject":{"kind":"Deployment","namespace":"test","name":"web"},
             "reason":"ScalingReplicaSet","message":"Scaled up replica set web-1 from 0 to 3\n","source":{"component":"deployment-controller"},
             "firstTimestamp":"\#(ts(0))","lastTimestamp":"\#(ts(60))","count":4,"type":"Normal",
             "reportingComponent":"deployment-controller","reportingInstance":""}
            """#
        XCTAssertEqual(cells(e, now: t0 + 300), ["4m", "Normal", "ScalingReplicaSet", "deployment/web", "", "deployment-controller",
                                                 "Scaled up replica set web-1 from 0 to 3", "5m", "4", "web.17"])
    }

    func testTableCellsForNewStyleAndBareEvents() {
        let series = #"""
            {"metadata":{"name":"p.1"},"involvedObject":{"kind":"Pod","name":"p"},"eventTime":"\#(micro(0, "123456"))",
             "series":{"count":7,"lastObservedTime":"\#(micro(100, "000001"))"},"reportingComponent":"default-scheduler",
             "reportingInstance":"default-scheduler-n1","source":{},"firstTimestamp":null,"lastTimestamp":null}
            """#
        XCTAssertEqual(cells(series, now: t0 + 300), ["3m20s", "", "", "pod/p", "", "default-scheduler, default-scheduler-n1", "",
                                                      "5m", "7", "p.1"])
        XCTAssertEqual(cells(#"{"metadata":{"name":"x"},"involvedObject":{"kind":"Node"}}"#, now: t0),
                       ["<unknown>", "", "", "node", "", "", "", "<unknown>", "1", "x"])
    }
}
