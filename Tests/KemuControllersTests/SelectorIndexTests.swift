import XCTest
@testable import KemuControllers
import KemuAPI
import KemuStore

final class SelectorIndexTests: XCTestCase {
    func matches(_ index: SelectorIndex, _ labels: [String: String]) -> Set<String> {
        var out = Set<String>()
        index.forEachMatch(labels) { out.insert($0) }
        return out
    }

    func testFindsExactlyTheMatchingSelectors() {
        var index = SelectorIndex()
        index.put("web", ["app": "web"])
        index.put("web-canary", ["app": "web", "track": "canary"])
        index.put("db", ["app": "db"])
        index.put("all-frontend", ["tier": "frontend"])
        XCTAssertEqual(matches(index, ["app": "web", "tier": "frontend"]), ["web", "all-frontend"])
        XCTAssertEqual(matches(index, ["app": "web", "track": "canary"]), ["web", "web-canary"])
        XCTAssertEqual(matches(index, ["app": "db", "track": "canary"]), ["db"])
        XCTAssertEqual(matches(index, [:]), [])
    }

    func testEmptySelectorMatchesEverything() {
        var index = SelectorIndex()
        index.put("any", [:])
        index.put("web", ["app": "web"])
        XCTAssertEqual(matches(index, [:]), ["any"])
        XCTAssertEqual(matches(index, ["app": "web"]), ["any", "web"])
    }

    func testReplacingAndRemovingASelector() {
        var index = SelectorIndex()
        index.put("svc", ["app": "a"])
        index.put("svc", ["app": "b"])
        XCTAssertEqual(matches(index, ["app": "a"]), [])
        XCTAssertEqual(matches(index, ["app": "b"]), ["svc"])
        index.put("svc", nil)
        XCTAssertTrue(index.isEmpty)
        XCTAssertEqual(matches(index, ["app": "b"]), [])
    }

    /// Against a brute-force scan over random selectors and label sets.
    func testAgreesWithTestingEverySelector() {
        var rng = SystemRandomNumberGenerator()
        let keys = ["app", "tier", "track", "zone"], values = ["a", "b", "c"]
        func randomLabels(_ n: Int) -> [String: String] {
            var l: [String: String] = [:]
            for _ in 0..<n { l[keys.randomElement(using: &rng)!] = values.randomElement(using: &rng)! }
            return l
        }
        var index = SelectorIndex()
        var all: [String: [String: String]] = [:]
        for i in 0..<200 {
            let id = "s\(i % 60)"
            if i % 7 == 0 { index.put(id, nil); all[id] = nil; continue }
            let sel = randomLabels(Int.random(in: 0...3, using: &rng))
            index.put(id, sel); all[id] = sel
        }
        for _ in 0..<300 {
            let labels = randomLabels(Int.random(in: 0...4, using: &rng))
            let expected = Set(all.filter { SelectorIndex.matches($0.value, labels) }.keys)
            XCTAssertEqual(matches(index, labels), expected, "labels \(labels)")
        }
    }

    func testServicePodIndexTracksPodsMovingBetweenServices() {
        let index = ServicePodIndex()
        index.putService(ns: "ns", name: "a", selector: ["app": "a"])
        index.putService(ns: "ns", name: "b", selector: ["app": "b"])
        XCTAssertEqual(index.selectedPods("ns/a"), [])
        XCTAssertEqual(index.selectedPods("ns/b"), [])
        func pod(_ app: String, rv: Int) -> StoredObject {
            let o: JSONObject = ["apiVersion": "v1", "kind": "Pod",
                                 "metadata": ["name": "p", "namespace": "ns", "labels": ["app": .string(app)],
                                              "resourceVersion": .string(String(rv))]]
            return StoredObject(object: o, resourceVersion: UInt64(rv))
        }
        XCTAssertEqual(index.putPod(ns: "ns", name: "p", pod("a", rv: 1)), ["ns/a"])
        XCTAssertEqual(index.selectedPods("ns/a"), ["p"])
        XCTAssertEqual(Set(index.putPod(ns: "ns", name: "p", pod("b", rv: 2))), ["ns/a", "ns/b"])
        XCTAssertEqual(index.selectedPods("ns/a"), [])
        XCTAssertEqual(index.selectedPods("ns/b"), ["p"])
        XCTAssertEqual(index.putPod(ns: "ns", name: "p", nil), ["ns/b"])
        XCTAssertEqual(index.selectedPods("ns/b"), [])
    }
}
