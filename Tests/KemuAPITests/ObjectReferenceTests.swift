import XCTest
@testable import KemuAPI

/// `ObjectReference` is held as its wire form: the fields read off it and setters keep it canonical.
final class ObjectReferenceTests: XCTestCase {
    func testWireFormFollowsTheGoFieldOrderWithoutEmptyFields() {
        let r = ObjectReference(kind: "Pod", namespace: "ns", name: "p", uid: "u1", apiVersion: "v1", resourceVersion: "7")
        XCTAssertEqual(r.json.keys, ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion"])
        XCTAssertEqual(JSONWriter.string(.object(r.json)),
                       #"{"kind":"Pod","namespace":"ns","name":"p","uid":"u1","apiVersion":"v1","resourceVersion":"7"}"#)
        XCTAssertEqual(r.json.capacity, 6, "exactly sized")
        XCTAssertEqual([r.kind, r.namespace, r.name, r.uid, r.apiVersion, r.resourceVersion, r.fieldPath],
                       ["Pod", "ns", "p", "u1", "v1", "7", ""])
    }

    func testSettersKeepTheOrderAndDropEmptiedFields() {
        var r = ObjectReference(kind: "Pod", name: "p", uid: "u1")
        r.namespace = "ns"
        r.fieldPath = "spec.containers{c}"
        XCTAssertEqual(r.json.keys, ["kind", "namespace", "name", "uid", "fieldPath"])
        r.uid = ""
        XCTAssertEqual(r.json.keys, ["kind", "namespace", "name", "fieldPath"])
        XCTAssertEqual(r, ObjectReference(kind: "Pod", namespace: "ns", name: "p", fieldPath: "spec.containers{c}"))
        let before = r.json
        r.resourceVersion = ""
        r.name = "p"
        XCTAssertTrue(r.json.sharesStorage(with: before), "setting a field to its value rebuilds nothing")
    }

    func testReadFromJSONIgnoresNonStringsAndUnknownKeys() {
        let r = ObjectReference(json: ["name": "p", "kind": "Pod", "uid": 5, "extra": "x", "namespace": "ns"])
        XCTAssertEqual(r, ObjectReference(kind: "Pod", namespace: "ns", name: "p"))
        XCTAssertEqual(r.json.keys, ["kind", "namespace", "name"], "re-ordered to the wire order")
    }

    func testEqualityAndResourceVersion() {
        let a = ObjectReference(kind: "Pod", namespace: "ns", name: "p", uid: "u1", resourceVersion: "1")
        var b = a
        b.resourceVersion = "2"
        XCTAssertNotEqual(a, b)
        XCTAssertTrue(a.equalIgnoringResourceVersion(b))
        b.uid = "u2"
        XCTAssertFalse(a.equalIgnoringResourceVersion(b))
    }
}
