import KemuAPI
import KemuYAML
import XCTest

final class YAMLDocumentTests: XCTestCase {
    func decode(_ text: String) throws -> JSON { try YAMLDocument.decode(Array(text.utf8)) }

    func testManifestBecomesOrderedJSON() throws {
        let json = try decode("""
            apiVersion: v1
            kind: Pod
            metadata:
              name: web
              labels: {app: web, tier: "1"}
            spec:
              containers:
              - name: app
                image: nginx:1.27
                ports: [{containerPort: 8080}]
            """)
        XCTAssertEqual(JSONWriter.encode(json), Array("""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","labels":{"app":"web","tier":"1"}},\
            "spec":{"containers":[{"name":"app","image":"nginx:1.27","ports":[{"containerPort":8080}]}]}}
            """.utf8))
    }

    func testScalarsFollowYAML11AsKubernetesReadsThem() throws {
        let json = try decode("""
            a: yes
            b: "yes"
            c: 0x1f
            d: 010
            e: 1_000
            f: 1.5
            g: ~
            h: 2024-01-01T00:00:00Z
            i: '42'
            j: off
            """)
        XCTAssertEqual(json["a"], .bool(true))
        XCTAssertEqual(json["b"], .string("yes"))
        XCTAssertEqual(json["c"], .int(31))
        XCTAssertEqual(json["d"], .int(8))
        XCTAssertEqual(json["e"], .int(1000))
        XCTAssertEqual(json["f"], .double(1.5))
        XCTAssertEqual(json["g"], .null)
        XCTAssertEqual(json["h"], .string("2024-01-01T00:00:00Z"))
        XCTAssertEqual(json["i"], .string("42"))
        XCTAssertEqual(json["j"], .bool(false))
    }

    func testAnchorsExpandAndEmptyIsNull() throws {
        let json = try decode("base: &b {x: 1}\ncopy: *b\n")
        XCTAssertEqual(json["copy"], json["base"])
        XCTAssertEqual(try decode(""), .null)
    }

    func testErrorsNameTheLine() {
        XCTAssertThrowsError(try decode("a: 1\nb: [\n")) { error in
            XCTAssertNotNil((error as? YAMLDocument.Failure)?.line)
        }
        XCTAssertThrowsError(try decode("a: .inf\n")) { error in
            XCTAssertTrue((error as? YAMLDocument.Failure)?.message.contains("cannot be represented in JSON") ?? false)
        }
    }
}
