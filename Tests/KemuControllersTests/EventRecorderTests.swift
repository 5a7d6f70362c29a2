import Foundation
import Synchronization
import XCTest
@testable import KemuControllers
import KemuAPI
import KemuRegistry
import KemuStore

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    let now = Mutex<UInt64>(1_704_067_200 * 1_000_000_000)  // 2024-01-01T00:00:00Z
    var clock: EventClock { EventClock { [self] in now.withLock { $0 } } }
    func advance(_ seconds: Double) { now.withLock { $0 += UInt64(seconds * 1_000_000_000) } }
    func tick() { now.withLock { $0 += 1_000 } }
}

/// The recorder and client-go's correlation: dedupe, aggregation, the spam filter, the bounded queue.
final class EventRecorderTests: XCTestCase {
    var storage: ObjectStorage!
    var store: Store!
    let clock = ManualClock()

    override func setUpWithError() throws {
        store = Store()
        storage = ObjectStorage(store: store, registry: .standard, context: ClusterAllocators())
        for ns in ["default", "test"] {
            _ = try storage.create(.namespace, namespace: "", body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(ns)]])
        }
    }

    func broadcaster(capacity: Int = EventBroadcaster.defaultCapacity) -> EventBroadcaster {
        EventBroadcaster(storage: storage, capacity: capacity, clock: clock.clock)
    }

    var rs: JSONObject {
        ["apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": ["name": "web", "namespace": "test", "uid": "u-1", "resourceVersion": "42"]]
    }

    func events() -> [JSONObject] { ((try? store.list(ResourceKind.event.groupResource))?.items ?? []).map(\.object) }

    func testEventShapeAndName() {
        let b = broadcaster()
        let r = EventRecorder(broadcaster: b, component: "replicaset-controller")
        r.event(rs, EventRecorder.normal, "SuccessfulCreate", "Created pod: web-abc")
        b.flush()
        let all = events()
        XCTAssertEqual(all.count, 1)
        let e = all[0]
        XCTAssertEqual(e.name, "web." + String(clock.now.withLock { $0 }, radix: 16))
        XCTAssertEqual(e.namespace, "test")
        XCTAssertEqual(e["involvedObject"], ["kind": "ReplicaSet", "namespace": "test", "name": "web", "uid": "u-1",
                                              "apiVersion": "apps/v1", "resourceVersion": "42"])
        XCTAssertEqual(e["source"], ["component": "replicaset-controller"])
        XCTAssertEqual(e["reportingComponent"], "replicaset-controller")
        XCTAssertEqual(e["reportingInstance"], "")
        XCTAssertEqual(e["firstTimestamp"], "2024-01-01T00:00:00Z")
        XCTAssertEqual(e["lastTimestamp"], "2024-01-01T00:00:00Z")
        XCTAssertEqual(e["count"], 1)
        XCTAssertEqual(e["type"], "Normal")
        XCTAssertEqual(e["eventTime"], .null)
        XCTAssertEqual(e.metadata["managedFields"]?[0]["manager"].stringValue, "replicaset-controller")
    }

    func testOnlyNormalAndWarningAndClusterScopedObjectsGoToDefault() {
        let b = broadcaster()
        let r = EventRecorder(broadcaster: b, component: "node-controller")
        r.event(rs, "Info", "X", "dropped as client-go drops it")
        r.event(ObjectReference(kind: "Node", name: "n1", uid: "u", apiVersion: "v1"), EventRecorder.normal, "RegisteredNode", "m")
        b.flush()
        XCTAssertEqual(events().map(\.namespace), ["default"])
        XCTAssertEqual(events()[0]["involvedObject"]?.objectValue?.keys, ["kind", "name", "uid", "apiVersion"])
    }

    func testIdenticalEventsBumpCountAndLastTimestamp() {
        let b = broadcaster()
        let r = EventRecorder(broadcaster: b, component: "deployment-controller")
        for _ in 0..<3 {
            r.event(rs, EventRecorder.normal, "ScalingReplicaSet", "same")
            b.flush()
            clock.advance(30)
        }
        let all = events()
        XCTAssertEqual(all.count, 1)
        XCTAssertEqual(all[0]["count"], 3)
        XCTAssertEqual(all[0]["firstTimestamp"], "2024-01-01T00:00:00Z")
        XCTAssertEqual(all[0]["lastTimestamp"], "2024-01-01T00:01:00Z")
        XCTAssertEqual(b.stats.created, 1)
        XCTAssertEqual(b.stats.patched, 2)
    }

    func testSimilarEventsAreCombinedFromTheTenth() {
        let b = broadcaster()
        let r = EventRecorder(broadcaster: b, component: "replicaset-controller")
        for i in 1...12 {
            r.event(rs, EventRecorder.normal, "SuccessfulCreate", "Created pod: web-\(i)")
            clock.tick()
        }
        b.flush()
        let all = events()
        XCTAssertEqual(all.count, 10)
        let combined = all.filter { ($0["message"]?.stringValue ?? "").hasPrefix("(combined from similar events): ") }
        XCTAssertEqual(combined.count, 1)
        XCTAssertEqual(combined[0]["message"], "(combined from similar events): Created pod: web-12")
        XCTAssertEqual(combined[0]["count"], 3)
        XCTAssertEqual(combined[0]["reason"], "SuccessfulCreate")
        XCTAssertEqual(combined[0]["source"], ["component": "replicaset-controller"])
        XCTAssertEqual(combined[0]["reportingComponent"], "", "upstream's combined event has no reporting fields")
        // Ten minutes later the similar events start afresh.
        clock.advance(601)
        r.event(rs, EventRecorder.normal, "SuccessfulCreate", "Created pod: web-13")
        b.flush()
        XCTAssertTrue(events().contains { $0["message"] == "Created pod: web-13" })
    }

    func testSpamFilterAllowsABurstOf25ThenOneEveryFiveMinutes() {
        let b = broadcaster()
        let r = EventRecorder(broadcaster: b, component: "c")
        for i in 0..<30 {
            r.event(rs, EventRecorder.warning, "Reason\(i)", "m")  // distinct reasons: no aggregation
            clock.tick()
        }
        b.flush()
        XCTAssertEqual(events().count, 25)
        XCTAssertEqual(b.stats.skipped, 5)
        clock.advance(300)
        r.event(rs, EventRecorder.warning, "Later", "m")
        r.event(rs, EventRecorder.warning, "TooSoon", "m")
        b.flush()
        XCTAssertEqual(events().count, 26)
        // Another object has its own budget.
        var other = rs
        other.metadata["name"] = "api"
        other.metadata["uid"] = "u-2"
        r.event(other, EventRecorder.warning, "Reason0", "m")
        b.flush()
        XCTAssertEqual(events().count, 27)
    }

    func testSkippedRepeatsStillCount() {
        let b = broadcaster()
        let r = EventRecorder(broadcaster: b, component: "c")
        for _ in 0..<30 { r.event(rs, EventRecorder.warning, "FailedCreate", "same"); clock.tick() }
        b.flush()
        XCTAssertEqual(events().count, 1)
        XCTAssertEqual(events()[0]["count"], 25)
        clock.advance(300)
        r.event(rs, EventRecorder.warning, "FailedCreate", "same")
        b.flush()
        XCTAssertEqual(events()[0]["count"], 31, "the next write carries the occurrences the filter held back")
    }

    func testRepeatOfAnExpiredEventIsCreatedAgain() throws {
        let b = broadcaster()
        let r = EventRecorder(broadcaster: b, component: "c")
        r.event(rs, EventRecorder.normal, "R", "m")
        b.flush()
        let name = events()[0].name
        _ = try storage.delete(.event, namespace: "test", name: name)
        clock.advance(5)
        r.event(rs, EventRecorder.normal, "R", "m")
        b.flush()
        XCTAssertEqual(events().count, 1)
        XCTAssertEqual(events()[0].name, name)
        XCTAssertEqual(events()[0]["count"], 2)
        XCTAssertEqual(events()[0]["firstTimestamp"], "2024-01-01T00:00:00Z")
    }

    func testQueueIsBoundedAndNeverBlocks() {
        let b = broadcaster(capacity: 5)
        let gate = DispatchSemaphore(value: 0)
        b.paused.withLock { $0 = gate }
        let r = EventRecorder(broadcaster: b, component: "c")
        let start = Date()
        for i in 0..<8 { r.event(rs, EventRecorder.normal, "R\(i)", "m"); clock.tick() }
        XCTAssertLessThan(Date().timeIntervalSince(start), 1)
        XCTAssertEqual(b.stats.dropped, 3)
        XCTAssertEqual(b.stats.queued, 5)
        b.paused.withLock { $0 = nil }
        gate.signal()
        b.flush()
        XCTAssertEqual(events().count, 5)
        XCTAssertEqual(b.stats.queued, 0)
    }

    func testWriteFailuresAreDropped() {
        let b = broadcaster()
        var gone = rs
        gone.metadata["namespace"] = "nowhere"
        EventRecorder(broadcaster: b, component: "c").event(gone, EventRecorder.normal, "R", "m")
        b.flush()
        XCTAssertEqual(b.stats.failed, 1)
        XCTAssertTrue(events().isEmpty)
    }

    func testLRUCacheEvictsTheLeastRecentlyUsed() {
        var c = LRUCache<Int>(capacity: 2)
        c.set("a", 1); c.set("b", 2)
        XCTAssertEqual(c.get("a"), 1)
        c.set("c", 3)
        XCTAssertNil(c.get("b"))
        XCTAssertEqual(c.get("a"), 1)
        XCTAssertEqual(c.get("c"), 3)
        XCTAssertEqual(c.count, 2)
    }
}
