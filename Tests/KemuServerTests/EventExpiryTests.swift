import Foundation
import XCTest
import KemuAPI
import KemuRegistry
import KemuStore
@testable import KemuServer

/// `--event-ttl`: Events expire a TTL after their last write, found from a FIFO rather than a store scan.
final class EventExpiryTests: XCTestCase {
    func testGoDurations() {
        XCTAssertEqual(GoDuration.seconds("1h"), 3600)
        XCTAssertEqual(GoDuration.seconds("1h30m"), 5400)
        XCTAssertEqual(GoDuration.seconds("1.5s"), 1.5)
        XCTAssertEqual(GoDuration.seconds("500ms"), 0.5)
        XCTAssertEqual(GoDuration.seconds("0"), 0)
        XCTAssertEqual(GoDuration.seconds("0s"), 0)
        for bad in ["", "1", "h", "-1s", "1x", "1h 2m", "."] { XCTAssertNil(GoDuration.seconds(bad), bad) }
    }

    func event(_ name: String) -> JSONObject {
        ["apiVersion": "v1", "kind": "Event", "metadata": ["name": .string(name)],
         "involvedObject": ["kind": "Pod", "namespace": "default", "name": "p"], "reason": "R"]
    }

    func wait(_ what: String, timeout: Double = 5, _ cond: () -> Bool) {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end { if cond() { return }; usleep(10_000) }
        XCTFail("timed out waiting for \(what)")
    }

    func testEventsExpireAfterTheirLastWrite() throws {
        let store = Store()
        let storage = ObjectStorage(store: store, registry: .standard, context: ClusterAllocators())
        _ = try storage.create(.namespace, namespace: "", body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "default"]])
        _ = try storage.create(.event, namespace: "default", body: event("early"))
        store.hub.start(initialRV: store.currentResourceVersion)
        defer { store.hub.stop() }
        let expiry = EventExpiry(store: store, ttlSeconds: 0.6)
        expiry.start()
        defer { expiry.stop() }
        _ = try storage.create(.event, namespace: "default", body: event("kept"))
        _ = try storage.create(.event, namespace: "default", body: event("gone"))
        func names() -> Set<String> { Set(((try? store.list(ResourceKind.event.groupResource))?.items ?? []).map(\.name)) }
        // Renew "kept" before its TTL runs out: only its last write counts.
        usleep(400_000)
        _ = try storage.update(.event, namespace: "default", name: "kept") { var o = $0; o["count"] = 2; return o }
        wait("the unrenewed events to expire") { names() == ["kept"] }
        XCTAssertEqual(expiry.expiredCount, 2)
        wait("the renewed event to expire") { names().isEmpty }
        XCTAssertEqual(expiry.pending, 0)
    }
}
