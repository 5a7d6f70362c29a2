import XCTest
@testable import KemuAPI

/// JSONShape: objects with the same keys share one copy of them, whichever way they were built.
final class JSONShapeTests: XCTestCase {
    func parsed(_ s: String) throws -> JSONObject { try XCTUnwrap(JSONParser.parse(Array(s.utf8)).objectValue) }

    func testObjectsWithTheSameKeysShareOneShape() throws {
        let a = try parsed(#"{"name":"a","port":80,"protocol":"TCP"}"#)
        let b = try parsed(#"{"name":"b","port":81,"protocol":"UDP"}"#)
        var c = JSONObject()
        c["name"] = "c"; c["port"] = 82; c["protocol"] = "TCP"
        let d: JSONObject = ["name": "d", "port": 83, "protocol": "SCTP"]
        XCTAssertTrue(a.shape === b.shape, "parsed alike")
        XCTAssertTrue(a.shape === c.shape, "built key by key")
        XCTAssertTrue(a.shape === d.shape, "literal")
        XCTAssertEqual(a.keys, ["name", "port", "protocol"])
        // Another order is another shape, and still an equal object when the values match.
        let e = try parsed(#"{"port":80,"name":"a","protocol":"TCP"}"#)
        XCTAssertFalse(a.shape === e.shape)
        XCTAssertEqual(a, e)
        XCTAssertNotEqual(a, b)
    }

    func testRemovingAndSettingKeys() throws {
        var o = try parsed(#"{"a":1,"b":2,"c":3}"#)
        o["b"] = nil
        XCTAssertEqual(o.keys, ["a", "c"])
        XCTAssertEqual(o["c"], 3)
        XCTAssertTrue(o.shape === (try parsed(#"{"a":0,"c":0}"#)).shape, "the shape of what is left")
        o["a"] = "x"
        XCTAssertEqual(JSONWriter.string(.object(o)), #"{"a":"x","c":3}"#)
        o["d"] = nil
        XCTAssertEqual(o.count, 2, "removing an absent key changes nothing")
    }

    func testCopiesDoNotSeeEachOthersChanges() throws {
        let original = try parsed(#"{"a":1,"b":2}"#)
        var copy = original
        copy["c"] = 3
        copy["a"] = nil
        XCTAssertEqual(original.keys, ["a", "b"])
        XCTAssertEqual(original["a"], 1)
        XCTAssertEqual(copy.keys, ["b", "c"])
    }

    func testLargeMapsGetPrivateShapes() throws {
        let n = JSONShape.maxSharedKeys + 8
        var big = JSONObject()
        for i in 0..<n { big["k\(i)"] = .int(Int64(i)) }
        XCTAssertFalse(big.shape.isShared)
        XCTAssertEqual(big.count, n)
        XCTAssertEqual(big["k\(n - 1)"], .int(Int64(n - 1)))
        XCTAssertEqual(big.keys.first, "k0")
        let text = JSONWriter.string(.object(big))
        let reparsed = try parsed(text)
        XCTAssertEqual(reparsed, big)
        XCTAssertEqual(reparsed.keys, big.keys, "order kept")
        var smaller = big
        for i in 0..<n where i % 2 == 1 { smaller["k\(i)"] = nil }
        XCTAssertEqual(smaller.count, n - n / 2)
        XCTAssertEqual(smaller.keys, (0..<n).filter { $0 % 2 == 0 }.map { "k\($0)" })
        XCTAssertEqual(smaller["k\(n - 2)"], .int(Int64(n - 2)))
        XCTAssertNil(smaller["k1"])
        XCTAssertEqual(big.count, n, "the original keeps its keys")
    }

    func testKeysThatAreDataGetPrivateShapes() throws {
        // As a pod's FieldsV1 `f:podIPs`: "." then a key made from the pod's IP (here a first key of this
        // test's own, so that other tests' shapes do not count).
        func ipFields(_ i: Int) -> JSONObject { [".fanout-test": [:], "k:{\"ip\":\"10.9.\(i / 256).\(i % 256)\"}": [".": [:], "f:ip": [:]]] }
        let objects = (0..<(JSONShape.maxTransitions + 50)).map(ipFields)
        XCTAssertTrue(objects[0].shape.isShared)
        XCTAssertFalse(try XCTUnwrap(objects.last).shape.isShared, "past the fan-out limit")
        XCTAssertEqual(objects.last?.keys.count, 2)
        XCTAssertEqual(objects.last?.keys.first, ".fanout-test")
        XCTAssertTrue(objects[0]["k:{\"ip\":\"10.9.0.0\"}"]?.objectValue?.shape === objects.last?["k:{\"ip\":\"10.9.1.49\"}"]?.objectValue?.shape,
                      "the inner objects, alike, still share theirs")
        // A key seen before the limit still finds its shared shape.
        let again = ipFields(3)
        XCTAssertTrue(again.shape === objects[3].shape)
    }

    /// A map built key by key (as pruning or merging a client's body does) takes linear time: a private shape
    /// held by one object grows in place, and finds its keys by hashing.
    func testLargeMapsGrowInPlace() {
        var map = JSONObject()
        for i in 0..<50_000 { map["k\(i)"] = .int(Int64(i)) }
        XCTAssertFalse(map.shape.isShared)
        XCTAssertEqual(map.count, 50_000)
        XCTAssertEqual(map["k49999"], .int(49_999))
        XCTAssertEqual(map.index(of: "k12345"), 12_345)
        let copy = map
        map["k0"] = nil
        XCTAssertFalse(map.shape === copy.shape, "a shape another object holds is copied, not changed")
        XCTAssertEqual(copy.count, 50_000)
        XCTAssertEqual(copy["k0"], 0)
        XCTAssertEqual(map.index(of: "k1"), 0)
        XCTAssertEqual(map.index(of: "k49999"), 49_998)
    }

    func testParsingALargeObjectWithDuplicateKeys() throws {
        let n = 100_000
        let text = "{" + (0..<n).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + ",\"k7\":\"last\",\"k99999\":\"end\"}"
        let o = try parsed(text)
        XCTAssertEqual(o.count, n, "duplicates are not repeated")
        XCTAssertEqual(o.keys[7], "k7", "a duplicate keeps the first position")
        XCTAssertEqual(o["k7"], "last", "and takes the last value, as Go")
        XCTAssertEqual(o["k99999"], "end")
        XCTAssertEqual(o["k50000"], 50_000)
    }

    func testMemoizedFactsGoWithAnyChange() throws {
        var o = try parsed(#"{"metadata":{"name":"p","labels":{"app":"web"}}}"#)
        let plain = o.shape
        XCTAssertEqual(o.memoizeLabels(), ["app": "web"])
        XCTAssertNotNil(o.derived)
        XCTAssertEqual(o.keys, plain.keys)
        var changed = o
        changed["spec"] = [:]
        XCTAssertNil(changed.derived, "a new key drops the memo")
        var relabelled = o
        relabelled["metadata"] = ["name": "p", "labels": ["app": "db"]]
        XCTAssertNil(relabelled.derived, "a new value drops the memo")
        XCTAssertEqual(relabelled.labels, ["app": "db"])
        XCTAssertTrue(relabelled.shape === plain)
        XCTAssertEqual(o.labels, ["app": "web"], "the memoized copy keeps its facts")
        // Objects of one shape with equal facts share one memo shape.
        var twin = try parsed(#"{"metadata":{"name":"q","labels":{"app":"web"}}}"#)
        _ = twin.memoizeLabels()
        XCTAssertTrue(twin.shape === o.shape)
    }
}
