import XCTest
@testable import KemuControllers
import KemuAPI
import KemuStore
import Dispatch

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

    /// Waits (up to 10 s, for a loaded machine) until `done` holds.
    func waitUntil(_ done: () -> Bool) {
        let deadline = Date().addingTimeInterval(10)
        while !done() && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
    }

    func testOnlyTheEarliestDelayedAddOfAKeyIsKept() {
        let seen = LockedList()
        let q = WorkQueue(label: "test-delayed") { key in seen.append(key) }
        for _ in 0..<50 { q.add("a", after: 0.3) }  // one timer, not fifty
        q.add("a", after: 0.1)                       // earlier: replaces it
        q.add("b", after: 0.1)
        q.add("b", after: 0.2)                       // later than the pending one: dropped
        XCTAssertEqual(q.state.withLock { $0.delayedUntil.count }, 2)
        waitUntil { seen.items.count >= 2 }
        Thread.sleep(forTimeInterval: 0.4)  // past the dropped timers' deadlines
        q.sync {}
        XCTAssertEqual(seen.items.sorted(), ["a", "b"], "each key ran once")
        XCTAssertTrue(q.state.withLock { $0.delayedUntil.isEmpty })
        q.add("a", after: 0.05)
        waitUntil { seen.items.count >= 3 }
        XCTAssertEqual(seen.items.filter { $0 == "a" }.count, 2, "a delayed add after the last one ran is scheduled again")
    }

    /// As client-go: a key waiting out a delay (a retry's backoff) still runs at once when added without one.
    func testADelayedAddDoesNotHoldBackAnImmediateOne() {
        let seen = LockedList()
        let q = WorkQueue(label: "test-immediate") { key in seen.append(key) }
        q.add("a", after: 30)
        q.add("a")
        waitUntil { !seen.items.isEmpty }
        XCTAssertEqual(seen.items, ["a"])
        XCTAssertEqual(q.state.withLock { $0.delayedUntil.count }, 1, "the delayed add still waits")
        q.stop()
        q.add("b")
        q.sync {}
        XCTAssertEqual(seen.items, ["a"], "nothing runs after stop")
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

    func testPodFeedFoldsModificationsIntoTheWaitingEvent() {
        let pods = GroupResource(group: "", resource: "pods")
        func version(_ name: String, uid: String, _ rv: UInt64) -> StoredObject {
            StoredObject(object: ["metadata": ["name": .string(name), "namespace": "ns", "uid": .string(uid)]], resourceVersion: rv)
        }
        let queue = DispatchQueue(label: "test.feed")
        let seen = LockedList()
        let feed = EventFeed(resource: pods, queue: queue, coalesce: true) { e in
            seen.append("\(e.type.rawValue) \(e.object.name) \(e.object.resourceVersion) prev \(e.previous?.resourceVersion ?? 0)")
        }
        queue.suspend()
        let a1 = version("a", uid: "u1", 1), a2 = version("a", uid: "u1", 3), a3 = version("a", uid: "u1", 4)
        let b1 = version("b", uid: "u2", 2), b2 = version("b", uid: "u2", 5)
        _ = feed.deliver(StoreEvent(type: .added, resource: pods, object: a1, previous: nil))
        _ = feed.deliver(StoreEvent(type: .modified, resource: pods, object: b2, previous: b1))
        _ = feed.deliver(StoreEvent(type: .modified, resource: pods, object: a2, previous: a1))
        _ = feed.deliver(StoreEvent(type: .modified, resource: pods, object: a3, previous: a2))
        let gone = version("a", uid: "u1", 6), again = version("a", uid: "u3", 7), again2 = version("a", uid: "u3", 8)
        _ = feed.deliver(StoreEvent(type: .deleted, resource: pods, object: gone, previous: a3))
        _ = feed.deliver(StoreEvent(type: .modified, resource: pods, object: version("a", uid: "u1", 6), previous: a3))
        _ = feed.deliver(StoreEvent(type: .added, resource: pods, object: again, previous: nil))
        _ = feed.deliver(StoreEvent(type: .modified, resource: pods, object: again2, previous: again))
        queue.resume()
        queue.sync {}
        XCTAssertEqual(seen.items, [
            "ADDED a 4 prev 0",          // the waiting ADDED carries the newest version
            "MODIFIED b 5 prev 2",
            "DELETED a 6 prev 4",        // nothing is folded into a deletion...
            "MODIFIED a 6 prev 4",       // ...nor across it
            "ADDED a 8 prev 0",
        ])

        // A feed without coalescing, or one that keeps up, hands over every event.
        let plain = EventFeed(resource: pods, queue: queue) { e in seen.append("plain \(e.object.resourceVersion)") }
        queue.suspend()
        _ = plain.deliver(StoreEvent(type: .modified, resource: pods, object: a2, previous: a1))
        _ = plain.deliver(StoreEvent(type: .modified, resource: pods, object: a3, previous: a2))
        queue.resume()
        queue.sync {}
        XCTAssertEqual(seen.items.suffix(2), ["plain 3", "plain 4"])
    }
}

final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []
    func append(_ s: String) { lock.lock(); storage.append(s); lock.unlock() }
    var items: [String] { lock.lock(); defer { lock.unlock() }; return storage }
}
import Foundation
