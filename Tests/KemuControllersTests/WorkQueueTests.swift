import XCTest
@testable import KemuControllers
import KemuAPI

final class WorkQueueTests: XCTestCase {
    func testDeduplicatesWaitingKeys() {
        let done = expectation(description: "processed")
        let seen = LockedList()
        let q = WorkQueue(label: "test") { key in
            seen.append(key)
            if key == "end" { done.fulfill() }
        }
        q.add("a", after: 0.05)
        q.add("a", after: 0.05)
        q.add("b", after: 0.05)
        q.add("end", after: 0.1)
        wait(for: [done], timeout: 5)
        XCTAssertEqual(seen.items.filter { $0 == "a" }.count, 1)
        XCTAssertEqual(seen.items.filter { $0 == "b" }.count, 1)
    }

    func testServiceSelectorAndNamedTargetPort() {
        let svc: JSONObject = ["spec": ["selector": ["app": "web"], "ports": [["port": 80, "targetPort": "http", "protocol": "TCP"]]]]
        let pod: JSONObject = ["metadata": ["labels": ["app": "web"]],
                               "spec": ["containers": [["name": "c", "ports": [["name": "http", "containerPort": 8080, "protocol": "TCP"]]]]]]
        XCTAssertTrue(ServiceFacts.matches(svc, labels: ["app": "web", "x": "y"]))
        XCTAssertFalse(ServiceFacts.matches(svc, labels: ["app": "db"]))
        XCTAssertEqual(PodFacts.resolveTargetPort(svc["spec"]!["ports"][0], pod: pod), 8080)
        XCTAssertNil(PodFacts.resolveTargetPort(["port": 80, "targetPort": "grpc", "protocol": "TCP"], pod: pod))
        XCTAssertNil(ServiceFacts.selector(["spec": ["selector": .object(JSONObject())]]))
    }
}

final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []
    func append(_ s: String) { lock.lock(); storage.append(s); lock.unlock() }
    var items: [String] { lock.lock(); defer { lock.unlock() }; return storage }
}
import Foundation
