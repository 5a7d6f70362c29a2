import Dispatch
import Foundation
import Synchronization
import XCTest
import KemuAPI
@testable import KemuStore

private let pods = GroupResource(group: "", resource: "pods")
private let services = GroupResource(group: "", resource: "services")
private let deployments = GroupResource(group: "apps", resource: "deployments")

private func obj(_ ns: String, _ name: String, _ extra: [(String, JSON)] = []) -> JSONObject {
    var meta = JSONObject()
    meta["name"] = .string(name)
    if !ns.isEmpty { meta["namespace"] = .string(ns) }
    var o: JSONObject = ["kind": "Pod", "apiVersion": "v1"]
    o["metadata"] = .object(meta)
    for (k, v) in extra { o[k] = v }
    return o
}

/// A watcher that records everything the hub tells it, thread-safely.
private final class Recorder: StoreWatcher, @unchecked Sendable {
    let resource: GroupResource
    struct State {
        var events: [(type: EventType, name: String, rv: UInt64)] = []
        var log: [String] = []
        var endings: [WatchEndReason] = []
    }
    let state = Mutex(State())
    /// Return false from `deliver` once this many events were accepted (nil: never).
    let acceptLimit: Int?

    init(_ resource: GroupResource, acceptLimit: Int? = nil) {
        self.resource = resource
        self.acceptLimit = acceptLimit
    }

    func deliver(_ event: StoreEvent) -> Bool {
        state.withLock { s in
            if let acceptLimit, s.events.count >= acceptLimit { return false }
            s.events.append((event.type, event.object.name, event.resourceVersion))
            s.log.append("event \(event.resourceVersion)")
            return true
        }
    }

    func tick(nowMillis: UInt64, dispatchedRV: UInt64) -> Bool { true }

    func ended(reason: WatchEndReason) { state.withLock { $0.endings.append(reason); $0.log.append("ended") } }

    func mark(_ s: String) { state.withLock { $0.log.append(s) } }

    var events: [(type: EventType, name: String, rv: UInt64)] { state.withLock { $0.events } }
    var rvs: [UInt64] { events.map(\.rv) }
    var log: [String] { state.withLock { $0.log } }
    var endings: [WatchEndReason] { state.withLock { $0.endings } }
}

final class StoreTests: XCTestCase {

    /// Polls `cond` until it holds or about `seconds` pass; returns whether it held.
    @discardableResult
    func waitUntil(_ seconds: Double = 5, _ cond: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if cond() { return true }
            usleep(2_000)
        }
        return cond()
    }

    @discardableResult
    func put(_ s: Store, _ ns: String, _ name: String, _ extra: [(String, JSON)] = [], in r: GroupResource = pods) throws -> WriteResult {
        try s.write(r, namespace: ns, name: name) { _ in .put(obj(ns, name, extra)) }
    }

    @discardableResult
    func delete(_ s: Store, _ ns: String, _ name: String, in r: GroupResource = pods) throws -> WriteResult {
        try s.write(r, namespace: ns, name: name) { _ in .delete }
    }

    func names(_ page: ListPage) -> [String] { page.items.map { "\($0.namespace)/\($0.name)" } }

    // MARK: - write

    func testCreateModifyDeleteEventsAndResourceVersions() throws {
        let s = Store()
        XCTAssertEqual(s.currentResourceVersion, 0)

        let created = try put(s, "ns", "a", [("spec", ["x": 1])])
        XCTAssertEqual(created.event, .added)
        XCTAssertEqual(created.object?.resourceVersion, 1)
        XCTAssertEqual(created.object?.object.resourceVersion, "1", "metadata.resourceVersion is stamped")
        XCTAssertEqual(s.currentResourceVersion, 1)

        let modified = try put(s, "ns", "a", [("spec", ["x": 2])])
        XCTAssertEqual(modified.event, .modified)
        XCTAssertEqual(modified.object?.resourceVersion, 2)
        XCTAssertEqual(s.get(pods, namespace: "ns", name: "a")?.object["spec"]?["x"], 2)

        let deleted = try delete(s, "ns", "a")
        XCTAssertEqual(deleted.event, .deleted)
        XCTAssertEqual(deleted.object?.resourceVersion, 3, "the deleted object carries the deletion RV")
        XCTAssertEqual(deleted.object?.object.resourceVersion, "3")
        XCTAssertEqual(deleted.object?.object["spec"]?["x"], 2, "and its last state")
        XCTAssertNil(s.get(pods, namespace: "ns", name: "a"))
        XCTAssertEqual(s.count(pods), 0)
        XCTAssertEqual(s.currentResourceVersion, 3)
    }

    func testClosureSeesTheCurrentVersion() throws {
        let s = Store()
        var seen: [UInt64?] = []
        try s.write(pods, namespace: "ns", name: "a") { cur in seen.append(cur?.resourceVersion); return .put(obj("ns", "a")) }
        try s.write(pods, namespace: "ns", name: "a") { cur in
            seen.append(cur?.resourceVersion)
            var o = cur!.object
            o["spec"] = ["n": 1]
            return .put(o)
        }
        XCTAssertEqual(seen, [nil, 1])
    }

    func testResourceVersionIsGlobalAcrossResources() throws {
        let s = Store()
        XCTAssertEqual(try put(s, "ns", "a", in: pods).object?.resourceVersion, 1)
        XCTAssertEqual(try put(s, "ns", "a", in: services).object?.resourceVersion, 2)
        XCTAssertEqual(try put(s, "ns", "a", in: deployments).object?.resourceVersion, 3)
        XCTAssertEqual(try put(s, "ns", "b", in: pods).object?.resourceVersion, 4)
        XCTAssertEqual(s.count(pods), 2)
        XCTAssertEqual(s.count(services), 1)
        XCTAssertEqual(s.get(services, namespace: "ns", name: "a")?.resourceVersion, 2)
        XCTAssertNil(s.get(services, namespace: "ns", name: "b"), "collections are separate")
    }

    func testNoOpPutKeepsResourceVersionAndEmitsNothing() throws {
        let s = Store()
        try put(s, "ns", "a", [("spec", ["x": 1])])
        let again = try put(s, "ns", "a", [("spec", ["x": 1])])
        XCTAssertNil(again.event)
        XCTAssertEqual(again.object?.resourceVersion, 1)
        XCTAssertEqual(s.currentResourceVersion, 1)

        // Key order and a stale resourceVersion in the body do not make a change.
        let reordered = try s.write(pods, namespace: "ns", name: "a") { cur in
            var o = JSONObject()
            o["spec"] = ["x": 1]
            var meta = cur!.object.metadata
            meta["resourceVersion"] = "999"
            o["metadata"] = .object(meta)
            o["apiVersion"] = "v1"
            o["kind"] = "Pod"
            return .put(o)
        }
        XCTAssertNil(reordered.event)
        XCTAssertEqual(s.currentResourceVersion, 1)
        XCTAssertEqual(s.compactedResourceVersion, 0)
        XCTAssertEqual(try s.list(pods, at: 0).items.count, 0, "the log holds only the one create")
    }

    func testUnchangedAndDeletingAbsentObjectsDoNothing() throws {
        let s = Store()
        try put(s, "ns", "a")
        let u = try s.write(pods, namespace: "ns", name: "a") { _ in .unchanged }
        XCTAssertNil(u.event)
        XCTAssertEqual(u.object?.resourceVersion, 1)
        let d = try delete(s, "ns", "missing")
        XCTAssertNil(d.event)
        XCTAssertNil(d.object)
        XCTAssertEqual(s.currentResourceVersion, 1)
    }

    struct Boom: Error {}

    func testThrowingClosureLeavesStoreUnchanged() throws {
        let s = Store()
        try put(s, "ns", "a", [("spec", ["x": 1])])
        XCTAssertThrowsError(try s.write(pods, namespace: "ns", name: "a") { _ in throw Boom() }) { XCTAssertTrue($0 is Boom) }
        XCTAssertThrowsError(try s.write(pods, namespace: "ns", name: "b") { _ in throw Boom() })
        XCTAssertEqual(s.currentResourceVersion, 1)
        XCTAssertEqual(s.get(pods, namespace: "ns", name: "a")?.object["spec"]?["x"], 1)
        XCTAssertNil(s.get(pods, namespace: "ns", name: "b"))
        XCTAssertEqual(s.count(pods), 1)
        XCTAssertEqual(try s.list(pods, at: 0).items.count, 0)
        XCTAssertEqual(try put(s, "ns", "c").object?.resourceVersion, 2, "no RV was consumed by the failed writes")
    }

    func testStoredObjectCarriesBytesAndIdentity() throws {
        let s = Store()
        let r = try put(s, "ns", "a", [("metadata", ["name": "a", "namespace": "ns", "labels": ["app": "web", "n": 1]])])
        let o = try XCTUnwrap(r.object)
        XCTAssertEqual(o.name, "a")
        XCTAssertEqual(o.namespace, "ns")
        XCTAssertEqual(o.labels, ["app": "web"], "non-string label values are skipped")
        XCTAssertEqual(o.key, "ns/a")
        XCTAssertEqual(try JSONParser.parse(o.bytes), .object(o.object))
        XCTAssertEqual(JSONWriter.string(.object(o.object)), String(decoding: o.bytes, as: UTF8.self))
    }

    // MARK: - list

    func testListInKeyOrderWithNamespaceNarrowing() throws {
        let s = Store()
        for (ns, n) in [("b", "2"), ("a", "2"), ("b", "1"), ("a", "1"), ("c", "1"), ("a-x", "1")] { try put(s, ns, n) }
        try put(s, "a", "svc", in: services)
        let all = try s.list(pods)
        XCTAssertEqual(names(all), ["a-x/1", "a/1", "a/2", "b/1", "b/2", "c/1"], "sorted by key (etcd order)")
        XCTAssertEqual(all.resourceVersion, 7)
        XCTAssertNil(all.continueAfter)
        XCTAssertNil(all.remainingItemCount)
        XCTAssertEqual(names(try s.list(pods, namespace: "a")), ["a/1", "a/2"], "a namespace is not a prefix of another")
        XCTAssertEqual(names(try s.list(pods, namespace: "b")), ["b/1", "b/2"])
        XCTAssertEqual(names(try s.list(pods, namespace: "zzz")), [])
        XCTAssertEqual(names(try s.list(pods, namespace: "")), names(all), "empty namespace means all")
        XCTAssertEqual(names(try s.list(services)), ["a/svc"])
        XCTAssertEqual(try s.list(deployments).items.count, 0)
        XCTAssertEqual(try s.list(deployments).resourceVersion, 7, "an empty list still reports the current RV")
    }

    func testListStaysOrderedAndCurrentAcrossInterleavedWrites() throws {
        // The ordered view is updated between LISTs: creates and deletes are merged in, modifications replaced.
        let s = Store()
        var expected: [String: Int64] = [:]
        var rng = SystemRandomNumberGenerator()
        for round in 0..<40 {
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                let name = "p\(Int.random(in: 0..<30, using: &rng))"
                switch Int.random(in: 0..<3, using: &rng) {
                case 0:
                    try delete(s, "ns", name)
                    expected[name] = nil
                default:
                    try put(s, "ns", name, [("v", .int(Int64(round)))])
                    expected[name] = Int64(round)
                }
            }
            let page = try s.list(pods, namespace: "ns")
            XCTAssertEqual(page.items.map(\.name), expected.keys.sorted(), "round \(round)")
            XCTAssertEqual(page.items.map { $0.object["v"]?.intValue }, expected.keys.sorted().map { expected[$0] },
                           "round \(round): the latest versions")
            for item in page.items {
                XCTAssertTrue(item === s.get(pods, namespace: "ns", name: item.name), "round \(round): \(item.name) is the stored version")
            }
        }
    }

    func testClusterScopedKeys() throws {
        let s = Store()
        try put(s, "", "zeta")
        try put(s, "", "alpha")
        XCTAssertEqual(try s.list(pods).items.map(\.name), ["alpha", "zeta"])
        XCTAssertEqual(s.get(pods, namespace: "", name: "alpha")?.key, "/alpha")
    }

    func testPagingWithLimitAndAfter() throws {
        let s = Store()
        for n in ["a", "b", "c", "d", "e"] { try put(s, "ns", n) }
        let p1 = try s.list(pods, limit: 2)
        XCTAssertEqual(p1.items.map(\.name), ["a", "b"])
        XCTAssertEqual(p1.continueAfter, "ns/b")
        XCTAssertEqual(p1.remainingItemCount, 3)
        let p2 = try s.list(pods, after: p1.continueAfter, limit: 2)
        XCTAssertEqual(p2.items.map(\.name), ["c", "d"])
        XCTAssertEqual(p2.continueAfter, "ns/d")
        XCTAssertEqual(p2.remainingItemCount, 1)
        let p3 = try s.list(pods, after: p2.continueAfter, limit: 2)
        XCTAssertEqual(p3.items.map(\.name), ["e"])
        XCTAssertNil(p3.continueAfter, "the last page has no continue")
        XCTAssertNil(p3.remainingItemCount)

        let exact = try s.list(pods, limit: 5)
        XCTAssertEqual(exact.items.count, 5)
        XCTAssertNil(exact.continueAfter, "a limit equal to the size needs no continue")
        XCTAssertEqual(try s.list(pods, after: "ns/bb").items.map(\.name), ["c", "d", "e"], "after need not be an existing key")
        XCTAssertEqual(try s.list(pods, after: "ns/e").items.count, 0)
    }

    func testPagingWithinANamespace() throws {
        let s = Store()
        for (ns, n) in [("a", "1"), ("b", "1"), ("b", "2"), ("b", "3"), ("c", "1")] { try put(s, ns, n) }
        let p1 = try s.list(pods, namespace: "b", limit: 2)
        XCTAssertEqual(names(p1), ["b/1", "b/2"])
        XCTAssertEqual(p1.remainingItemCount, 1)
        let p2 = try s.list(pods, namespace: "b", after: p1.continueAfter, limit: 2)
        XCTAssertEqual(names(p2), ["b/3"])
        XCTAssertNil(p2.continueAfter, "paging stops at the namespace's end")
    }

    func testFilterAndPagingWithFilter() throws {
        let s = Store()
        for (i, n) in ["a", "b", "c", "d", "e", "f"].enumerated() {
            try put(s, "ns", n, [("spec", ["even": .bool(i % 2 == 0)])])
        }
        let even: (StoredObject) -> Bool = { $0.object["spec"]?["even"].boolValue == true }
        XCTAssertEqual(try s.list(pods, filter: even).items.map(\.name), ["a", "c", "e"])
        let p1 = try s.list(pods, limit: 2, filter: even)
        XCTAssertEqual(p1.items.map(\.name), ["a", "c"])
        XCTAssertNotNil(p1.continueAfter, "more matching items follow")
        XCTAssertNil(p1.remainingItemCount, "not computed with a filter")
        let p2 = try s.list(pods, after: p1.continueAfter, limit: 2, filter: even)
        XCTAssertEqual(p2.items.map(\.name), ["e"])
        XCTAssertNil(p2.continueAfter, "nothing matching is left (only f)")

        let onlyA: (StoredObject) -> Bool = { $0.name == "a" }
        let q = try s.list(pods, limit: 1, filter: onlyA)
        XCTAssertEqual(q.items.map(\.name), ["a"])
        XCTAssertNil(q.continueAfter, "no continue when no later item matches")
    }

    func testListAtPastResourceVersionReconstructsState() throws {
        let s = Store()
        try put(s, "ns", "a", [("spec", ["v": 1])])      // rv 1
        try put(s, "ns", "b", [("spec", ["v": 1])])      // rv 2
        try put(s, "ns", "s", in: services)                   // rv 3 (other resource)
        let rvBefore = s.currentResourceVersion           // 3
        try put(s, "ns", "a", [("spec", ["v": 2])])      // rv 4: modify
        try delete(s, "ns", "b")                          // rv 5: delete
        try put(s, "ns", "c")                             // rv 6: create
        try delete(s, "ns", "s", in: services)                // rv 7

        let past = try s.list(pods, at: rvBefore)
        XCTAssertEqual(past.resourceVersion, rvBefore)
        XCTAssertEqual(past.items.map(\.name), ["a", "b"])
        XCTAssertEqual(past.items[0].object["spec"]?["v"], 1, "the modification is undone")
        XCTAssertEqual(past.items[0].resourceVersion, 1)
        XCTAssertEqual(past.items[1].resourceVersion, 2, "the deleted object is back at its old version")
        XCTAssertEqual(try s.list(services, at: rvBefore).items.map(\.name), ["s"])

        XCTAssertEqual(try s.list(pods, at: 1).items.map(\.name), ["a"])
        XCTAssertEqual(try s.list(pods, at: 0).items.map(\.name), [])
        XCTAssertEqual(try s.list(pods, at: 5).items.map(\.name), ["a"])

        let now = try s.list(pods)
        XCTAssertEqual(now.items.map(\.name), ["a", "c"])
        XCTAssertEqual(now.resourceVersion, 7)
        XCTAssertEqual(try s.list(pods, at: 7).items.map(\.name), ["a", "c"])
        XCTAssertEqual(try s.list(pods, at: 100).resourceVersion, 7, "a future RV reads the latest state")

        // Paging through a past snapshot.
        let p1 = try s.list(pods, at: rvBefore, limit: 1)
        XCTAssertEqual(p1.items.map(\.name), ["a"])
        XCTAssertEqual(p1.resourceVersion, rvBefore)
        let p2 = try s.list(pods, at: rvBefore, after: p1.continueAfter, limit: 1)
        XCTAssertEqual(p2.items.map(\.name), ["b"])
        XCTAssertNil(p2.continueAfter)
    }

    func testListAtCompactedResourceVersionIsExpired() throws {
        let s = Store(eventHistory: 3)
        for i in 1...6 { try put(s, "ns", "p\(i)") }   // rv 1...6; log keeps 4,5,6
        XCTAssertEqual(s.compactedResourceVersion, 3)
        XCTAssertThrowsError(try s.list(pods, at: 2)) { error in
            guard case StoreError.expired(let requested, let compacted) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(requested, 2)
            XCTAssertEqual(compacted, 3)
        }
        XCTAssertEqual(try s.list(pods, at: 3).items.map(\.name), ["p1", "p2", "p3"], "the compaction point itself is still readable")
        XCTAssertEqual(try s.list(pods, at: 5).items.count, 5)
        XCTAssertEqual(try s.list(pods).items.count, 6, "current lists never expire")
    }

    // MARK: - WatchHub

    func testRegisterReplaysMissedEventsInOrder() throws {
        let s = Store()
        try put(s, "ns", "a")          // 1
        try put(s, "ns", "b")          // 2
        try put(s, "ns", "x", in: services) // 3
        try put(s, "ns", "a", [("spec", ["v": 1])]) // 4
        try delete(s, "ns", "b")       // 5
        s.hub.start(initialRV: s.currentResourceVersion)
        defer { s.hub.stop() }

        let w = Recorder(pods)
        s.hub.register(w, fromRV: 1)
        // Replay happens synchronously inside register.
        XCTAssertEqual(w.rvs, [2, 4, 5])
        XCTAssertEqual(w.events.map(\.type), [.added, .modified, .deleted])
        XCTAssertEqual(w.events.map(\.name), ["b", "a", "b"])
        XCTAssertEqual(s.hub.watcherCount, 1)

        try put(s, "ns", "c")          // 6
        XCTAssertTrue(waitUntil { w.rvs.count == 4 })
        XCTAssertEqual(w.rvs, [2, 4, 5, 6])
    }

    func testRegisterRunsBeforeClosureBeforeReplay() throws {
        let s = Store()
        try put(s, "ns", "a")
        try put(s, "ns", "b")
        s.hub.start(initialRV: s.currentResourceVersion)
        defer { s.hub.stop() }
        let w = Recorder(pods)
        s.hub.register(w, fromRV: 0) { w.mark("before") }
        XCTAssertEqual(w.log, ["before", "event 1", "event 2"])
    }

    func testLiveEventsArriveInOrderExactlyOnce() throws {
        let s = Store()
        s.hub.start(initialRV: s.currentResourceVersion)
        defer { s.hub.stop() }
        let w = Recorder(pods)
        let other = Recorder(services)
        s.hub.register(w, fromRV: s.currentResourceVersion)
        s.hub.register(other, fromRV: s.currentResourceVersion)
        for i in 0..<20 {
            try put(s, "ns", "p\(i % 5)", [("spec", ["i": .int(Int64(i))])])
            if i % 4 == 0 { try put(s, "ns", "s\(i)", in: services) }
        }
        try delete(s, "ns", "p0")
        let sentinel = try put(s, "ns", "sentinel").object!.resourceVersion
        XCTAssertTrue(waitUntil { w.rvs.last == sentinel }, "got \(w.rvs)")
        XCTAssertTrue(waitUntil { other.rvs.count == 5 })
        XCTAssertEqual(w.events.count, 22)
        XCTAssertEqual(w.rvs, w.rvs.sorted())
        XCTAssertEqual(Set(w.rvs).count, w.rvs.count, "no duplicates")
        XCTAssertEqual(w.events.filter { $0.type == .added }.count, 6)
        XCTAssertEqual(w.events.filter { $0.type == .modified }.count, 15)
        XCTAssertEqual(w.events.filter { $0.type == .deleted }.map(\.name), ["p0"])
        XCTAssertEqual(other.events.map(\.name), ["s0", "s4", "s8", "s12", "s16"], "watchers only see their resource")
        XCTAssertTrue(waitUntil { s.hub.dispatchedResourceVersion == sentinel })
    }

    func testRegisteringAtTheCurrentRVGetsOnlyLaterEvents() throws {
        let s = Store()
        for i in 0..<3 { try put(s, "ns", "old\(i)") }
        s.hub.start(initialRV: s.currentResourceVersion)
        defer { s.hub.stop() }
        let w = Recorder(pods)
        s.hub.register(w, fromRV: s.currentResourceVersion)
        XCTAssertEqual(w.rvs, [])
        let rv = try put(s, "ns", "new").object!.resourceVersion
        XCTAssertTrue(waitUntil { !w.rvs.isEmpty })
        XCTAssertEqual(w.rvs, [rv])
    }

    func testWatcherReturningFalseIsRemovedAndEnded() throws {
        let s = Store()
        s.hub.start(initialRV: 0)
        defer { s.hub.stop() }
        let quitter = Recorder(pods, acceptLimit: 2)
        let keeper = Recorder(pods)
        s.hub.register(quitter, fromRV: 0)
        s.hub.register(keeper, fromRV: 0)
        XCTAssertEqual(s.hub.watcherCount, 2)
        for i in 0..<3 { try put(s, "ns", "p\(i)") }
        XCTAssertTrue(waitUntil { keeper.rvs.count == 3 })
        XCTAssertTrue(waitUntil { quitter.endings.count == 1 })
        guard case .removedByWatcher = quitter.endings.first else { return XCTFail("\(quitter.endings)") }
        XCTAssertEqual(quitter.rvs, [1, 2])
        XCTAssertEqual(s.hub.watcherCount, 1)

        try put(s, "ns", "p3")
        XCTAssertTrue(waitUntil { keeper.rvs.count == 4 })
        XCTAssertEqual(quitter.rvs, [1, 2], "no deliveries after removal")
        XCTAssertEqual(quitter.endings.count, 1, "ended exactly once")
    }

    func testWatcherRefusingDuringReplayIsEndedAndNotRegistered() throws {
        let s = Store()
        for i in 0..<3 { try put(s, "ns", "p\(i)") }
        s.hub.start(initialRV: s.currentResourceVersion)
        defer { s.hub.stop() }
        let quitter = Recorder(pods, acceptLimit: 1)
        s.hub.register(quitter, fromRV: 0)
        XCTAssertEqual(quitter.rvs, [1])
        XCTAssertEqual(s.hub.watcherCount, 0)
        XCTAssertEqual(quitter.endings.count, 1, "a watcher the hub drops is always told")
    }

    func testUnregisterEndsTheWatcherOnce() throws {
        let s = Store()
        s.hub.start(initialRV: 0)
        defer { s.hub.stop() }
        let w = Recorder(pods)
        s.hub.register(w, fromRV: 0)
        s.hub.unregister(w)
        s.hub.unregister(w)
        XCTAssertEqual(w.endings.count, 1)
        guard case .removedByWatcher = w.endings.first else { return XCTFail("\(w.endings)") }
        XCTAssertEqual(s.hub.watcherCount, 0)
        let keeper = Recorder(pods)
        s.hub.register(keeper, fromRV: 0)
        try put(s, "ns", "a")
        XCTAssertTrue(waitUntil { keeper.rvs == [1] })
        XCTAssertEqual(w.rvs, [])
    }

    func testRegisterFromCompactedRVIsTooOld() throws {
        let s = Store(eventHistory: 2)
        for i in 0..<5 { try put(s, "ns", "p\(i)") }   // log keeps 4,5; compacted at 3
        s.hub.start(initialRV: s.currentResourceVersion)
        defer { s.hub.stop() }
        let w = Recorder(pods)
        s.hub.register(w, fromRV: 1)
        XCTAssertEqual(w.rvs, [])
        XCTAssertEqual(w.endings.count, 1)
        guard case .tooOld(let requested, let compacted) = w.endings.first else { return XCTFail("\(w.endings)") }
        XCTAssertEqual(requested, 1)
        XCTAssertEqual(compacted, 3)
        XCTAssertEqual(s.hub.watcherCount, 0)

        let ok = Recorder(pods)
        s.hub.register(ok, fromRV: 3)
        XCTAssertEqual(ok.rvs, [4, 5], "from the compaction point the history is complete")
        XCTAssertTrue(ok.endings.isEmpty)
    }

    func testStopEndsWatchersWithShutdown() throws {
        let s = Store()
        s.hub.start(initialRV: 0)
        let w = Recorder(pods)
        s.hub.register(w, fromRV: 0)
        s.hub.stop()
        XCTAssertEqual(w.endings.count, 1)
        guard case .shutdown = w.endings.first else { return XCTFail("\(w.endings)") }
        XCTAssertEqual(s.hub.watcherCount, 0)
        let late = Recorder(pods)
        s.hub.register(late, fromRV: 0)
        XCTAssertEqual(late.endings.count, 1, "registering after stop ends the watcher at once")
        XCTAssertEqual(s.hub.watcherCount, 0)
    }

    func testEventsWrittenBeforeStartAreDeliveredOnceStarted() throws {
        let s = Store()
        let w = Recorder(pods)
        s.hub.register(w, fromRV: 0)
        try put(s, "ns", "a")
        try put(s, "ns", "b")
        s.hub.start(initialRV: 0)
        defer { s.hub.stop() }
        XCTAssertTrue(waitUntil { w.rvs.count == 2 })
        XCTAssertEqual(w.rvs, [1, 2])
    }

    func testConcurrentWritersAndWatchers() throws {
        let s = Store()
        s.hub.start(initialRV: 0)
        defer { s.hub.stop() }
        let watchers = (0..<4).map { _ in Recorder(pods) }
        for w in watchers { s.hub.register(w, fromRV: 0) }
        let threads = 8, perThread = 150
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for i in 0..<perThread {
                let name = "t\(t)-\(i % 10)"
                do {
                    if i % 7 == 6 {
                        _ = try s.write(pods, namespace: "ns", name: name) { cur in cur == nil ? .unchanged : .delete }
                    } else {
                        _ = try s.write(pods, namespace: "ns", name: name) { _ in .put(obj("ns", name, [("spec", ["i": .int(Int64(i))])])) }
                    }
                } catch {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        XCTAssertEqual(failures.load(ordering: .relaxed), 0)
        let total = s.currentResourceVersion
        XCTAssertGreaterThan(total, UInt64(threads * perThread / 2))
        for (i, w) in watchers.enumerated() {
            XCTAssertTrue(waitUntil(10) { w.rvs.count >= Int(total) }, "watcher \(i) got \(w.rvs.count) of \(total)")
            XCTAssertEqual(w.rvs, Array(1...total), "watcher \(i): every event once, strictly increasing")
        }
        // Replaying the log gives the same sequence a live watcher saw.
        let late = Recorder(pods)
        s.hub.register(late, fromRV: 0)
        XCTAssertEqual(late.rvs, Array(1...total))
        XCTAssertEqual(late.events.map(\.name), watchers[0].events.map(\.name))
        XCTAssertEqual(late.events.map(\.type), watchers[0].events.map(\.type))
        // And the final state agrees with the event stream.
        var alive = Set<String>()
        for e in late.events { if e.type == .deleted { alive.remove(e.name) } else { alive.insert(e.name) } }
        XCTAssertEqual(Set(try s.list(pods).items.map(\.name)), alive)
    }

    func testEncodingIsKeptOnlyByTheCurrentVersion() throws {
        let s = Store()
        let v1 = try XCTUnwrap(try put(s, "ns", "a", [("metadata", ["name": "a", "namespace": "ns"])]).object)
        XCTAssertFalse(v1.hasEncoding, "nothing is encoded before a read")
        XCTAssertEqual(try JSONParser.parse(v1.bytes), .object(v1.object))
        XCTAssertTrue(v1.hasEncoding, "a read keeps the encoding of the current version")
        let v2 = try XCTUnwrap(try put(s, "ns", "a", [("metadata", ["name": "a", "namespace": "ns", "labels": ["x": "y"]])]).object)
        XCTAssertTrue(v1.isSuperseded)
        XCTAssertFalse(v1.hasEncoding, "a replaced version drops it")
        XCTAssertEqual(String(decoding: v1.bytes, as: UTF8.self), JSONWriter.string(.object(v1.object)), "and encodes on demand")
        XCTAssertFalse(v1.hasEncoding, "without keeping it")
        XCTAssertFalse(v2.isSuperseded)
        _ = v2.bytes
        XCTAssertTrue(v2.hasEncoding)
    }
}
