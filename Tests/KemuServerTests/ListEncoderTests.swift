import XCTest
import KemuAPI
import KemuRegistry
import KemuStore
@testable import KemuServer

/// LIST bodies are assembled from the items' stored encodings, with each item's kind and apiVersion left out.
final class ListEncoderTests: XCTestCase {
    func stored(_ o: JSONObject, rv: UInt64) -> StoredObject { StoredObject(object: o, resourceVersion: rv) }

    func testItemsLoseTheirTypeAndTheBodyParses() throws {
        let a = stored(["kind": "Pod", "apiVersion": "v1", "metadata": ["name": "a", "namespace": "ns"]], rv: 5)
        // Not in stored order (no type first), and with a comma exactly where the type prefix of a Pod ends:
        // `{"metadata":{"name":"abcdefghi"` is as long as `{"kind":"Pod","apiVersion":"v1",`.
        let b = stored(["metadata": ["name": "abcdefghi", "namespace": "ns"], "spec": [:]], rv: 6)
        XCTAssertEqual(b.bytes[ListEncoder.typePrefix(.pod).count - 1], UInt8(ascii: ","))
        let body = ListEncoder.list(kind: .pod, page: ListPage(items: [a, b], resourceVersion: 7), continueToken: nil)
        let list = try XCTUnwrap(try JSONParser.parse(body).objectValue)
        XCTAssertEqual(list["kind"], "PodList")
        XCTAssertEqual(list["metadata"], ["resourceVersion": "7"])
        let items = try XCTUnwrap(list["items"]?.arrayValue)
        XCTAssertEqual(items[0], ["metadata": ["name": "a", "namespace": "ns"]], "type left out")
        XCTAssertEqual(items[1], .object(b.object), "an item without the type prefix is copied whole")
    }
}
