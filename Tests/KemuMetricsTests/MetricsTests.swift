import Dispatch
import XCTest
@testable import KemuMetrics

final class MetricsTests: XCTestCase {
    func text(_ r: MetricsRegistry) -> String { String(decoding: r.exposition(), as: UTF8.self) }

    func testCounterExpositionSortsLabelsAndSeries() {
        let r = MetricsRegistry()
        let f = r.counter("apiserver_request_total", help: "[STABLE] Requests.", labels: ["verb", "code"])
        f.labels("LIST", "200").inc()
        f.labels("GET", "404").inc(2)
        f.labels("GET", "200").inc(3)
        XCTAssertEqual(text(r), """
        # HELP apiserver_request_total [STABLE] Requests.
        # TYPE apiserver_request_total counter
        apiserver_request_total{code="200",verb="GET"} 3
        apiserver_request_total{code="200",verb="LIST"} 1
        apiserver_request_total{code="404",verb="GET"} 2

        """)
    }

    func testFamiliesSortedByNameAndEmptyFamiliesOmitted() {
        let r = MetricsRegistry()
        _ = r.counter("b_total", help: "b", labels: ["x"])          // no series yet: not shown
        r.gauge("c", help: "c").labels().set(-4)
        r.counter("a_total", help: "a").labels().inc()
        XCTAssertEqual(text(r), """
        # HELP a_total a
        # TYPE a_total counter
        a_total 1
        # HELP c c
        # TYPE c gauge
        c -4

        """)
    }

    func testHistogramBucketsAreCumulativeWithSumAndCount() {
        let r = MetricsRegistry()
        let h = r.histogram("workqueue_work_duration_seconds", help: "Work.", labels: ["name"],
                            buckets: [0.001, 0.01, 0.1]).labels("endpoint_slice")
        h.observe(0.0005)
        h.observe(0.001)      // on the bound: counted in le="0.001"
        h.observe(0.05)
        h.observe(2)
        XCTAssertEqual(h.count, 4)
        XCTAssertEqual(text(r), """
        # HELP workqueue_work_duration_seconds Work.
        # TYPE workqueue_work_duration_seconds histogram
        workqueue_work_duration_seconds_bucket{name="endpoint_slice",le="0.001"} 2
        workqueue_work_duration_seconds_bucket{name="endpoint_slice",le="0.01"} 2
        workqueue_work_duration_seconds_bucket{name="endpoint_slice",le="0.1"} 3
        workqueue_work_duration_seconds_bucket{name="endpoint_slice",le="+Inf"} 4
        workqueue_work_duration_seconds_sum{name="endpoint_slice"} 2.0515
        workqueue_work_duration_seconds_count{name="endpoint_slice"} 4

        """)
    }

    func testUnlabelledHistogramAndNanosecondObservations() {
        let r = MetricsRegistry()
        let h = r.histogram("d_seconds", help: "D.", buckets: [1]).labels()
        h.observe(nanos: 250_000_000)
        XCTAssertEqual(text(r), """
        # HELP d_seconds D.
        # TYPE d_seconds histogram
        d_seconds_bucket{le="1"} 1
        d_seconds_bucket{le="+Inf"} 1
        d_seconds_sum 0.25
        d_seconds_count 1

        """)
    }

    func testLabelValuesAndHelpAreEscaped() {
        let r = MetricsRegistry()
        r.counter("x_total", help: "a \\ b\nc \"q\"", labels: ["v"]).labels("say \"hi\"\\\nbye").inc()
        XCTAssertEqual(text(r), """
        # HELP x_total a \\\\ b\\nc "q"
        # TYPE x_total counter
        x_total{v="say \\"hi\\"\\\\\\nbye"} 1

        """)
    }

    func testNumbersFormattedLikeGo() {
        let cases: [(Double, String)] = [
            (0, "0"), (1, "1"), (-1, "-1"), (42, "42"), (999_999, "999999"), (1_000_000, "1e+06"),
            (1_234_567, "1.234567e+06"), (0.5, "0.5"), (0.005, "0.005"), (0.0001, "0.0001"), (0.00001, "1e-05"),
            (1e-08, "1e-08"), (131_072, "131072"), (1.25, "1.25"), (2.0515, "2.0515"), (123456.5, "123456.5"),
            (1e21, "1e+21"), (0.1 + 0.2, "0.30000000000000004"), (.infinity, "+Inf"), (-.infinity, "-Inf"),
            (.nan, "NaN"), (-0.0, "-0"), (.leastNonzeroMagnitude, "5e-324"), (1.5e300, "1.5e+300"),
        ]
        for (v, want) in cases {
            XCTAssertEqual(Exposition.format(v), want, "\(v)")
        }
    }

    func testExponentialBucketsMatchUpstream() {
        XCTAssertEqual(Histogram.exponentialBuckets(start: 1024, factor: 2, count: 8),
                       [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072])
        // Repeated multiplication, as Go's ExponentialBuckets does: kube-controller-manager shows these very `le`s.
        let wq = Histogram.exponentialBuckets(start: 10e-9, factor: 10, count: 10).map(Exposition.format)
        XCTAssertEqual(wq, ["1e-08", "1e-07", "1e-06", "9.999999999999999e-06", "9.999999999999999e-05", "0.001", "0.01",
                            "0.1", "1", "10"])
    }

    func testRegisteringTheSameNameReturnsTheSameFamily() {
        let r = MetricsRegistry()
        let a = r.counter("same_total", help: "s", labels: ["k"])
        let b = r.counter("same_total", help: "s", labels: ["k"])
        XCTAssertTrue(a === b)
        a.labels("v").inc()
        XCTAssertEqual(b.labels("v").value, 1)
        XCTAssertTrue(a.labels("v") === b.labels("v"))
    }

    func testGaugeIncDecSet() {
        let g = MetricsRegistry().gauge("g", help: "g").labels()
        g.inc(); g.inc(3); g.dec()
        XCTAssertEqual(g.value, 3)
        g.set(10)
        XCTAssertEqual(g.value, 10)
    }

    func testConcurrentUpdatesAreNotLost() {
        let r = MetricsRegistry()
        let c = r.counter("c_total", help: "c").labels()
        let h = r.histogram("h", help: "h", buckets: [0.5]).labels()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<10_000 {
                c.inc()
                h.observe(1)
            }
        }
        XCTAssertEqual(c.value, 40_000)
        XCTAssertEqual(h.count, 40_000)
        XCTAssertEqual(h.sum, 40_000)
    }

    func testExtraFamiliesMergeInNameOrder() {
        let r = MetricsRegistry()
        r.counter("z_total", help: "z").labels().inc()
        let extra = FamilySnapshot(name: "apiserver_storage_objects", help: "[STABLE] Objects.", type: .gauge,
                                   labelNames: ["resource"],
                                   samples: [Sample(labels: ["pods"], value: .scalar(3)),
                                             Sample(labels: ["endpointslices.discovery.k8s.io"], value: .scalar(1))])
        XCTAssertEqual(String(decoding: r.exposition(extra: [extra]), as: UTF8.self), """
        # HELP apiserver_storage_objects [STABLE] Objects.
        # TYPE apiserver_storage_objects gauge
        apiserver_storage_objects{resource="endpointslices.discovery.k8s.io"} 1
        apiserver_storage_objects{resource="pods"} 3
        # HELP z_total z
        # TYPE z_total counter
        z_total 1

        """)
    }

    func testThreadShardsAddUpInOneSeries() {
        let r = MetricsRegistry()
        let c = r.counter("s_total", help: "s", labels: ["k"])
        let h = r.histogram("s_seconds", help: "s", labels: ["k"], buckets: [1])
        c.labels("a").inc(5)
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let mine = c.threadChild(["a"])
            XCTAssertTrue(mine === c.threadChild(["a"]))
            for _ in 0..<1000 {
                mine.inc()
                h.threadChild(["a"]).observe(2)
            }
        }
        XCTAssertEqual(text(r), """
        # HELP s_seconds s
        # TYPE s_seconds histogram
        s_seconds_bucket{k="a",le="1"} 0
        s_seconds_bucket{k="a",le="+Inf"} 4000
        s_seconds_sum{k="a"} 8000
        s_seconds_count{k="a"} 4000
        # HELP s_total s
        # TYPE s_total counter
        s_total{k="a"} 4005

        """)
    }

    func testPerThreadGivesEachThreadItsOwnObject() {
        final class Box { var n = 0 }
        let boxes = PerThread { Box() }
        let main = boxes.value
        XCTAssertTrue(main === boxes.value)
        // async: sync would run the block on this very thread.
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var seen: ObjectIdentifier?
        DispatchQueue(label: "other-thread-test").async {
            seen = ObjectIdentifier(boxes.value)
            done.signal()
        }
        done.wait()
        XCTAssertNotEqual(seen, ObjectIdentifier(main))
    }
}
