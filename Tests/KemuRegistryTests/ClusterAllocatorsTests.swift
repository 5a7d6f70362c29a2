import XCTest
@testable import KemuRegistry
import KemuAPI

/// Service ClusterIPs: the range's address as written, strict parsing of requested IPs.
final class ClusterAllocatorsTests: XCTestCase {
    func testAllocateReserveRelease() {
        let a = ClusterAllocators()
        XCTAssertEqual(a.firstServiceIPv4, "10.96.0.1")
        XCTAssertEqual(a.allocateClusterIP(family: "IPv4"), "10.96.0.10")
        XCTAssertEqual(a.allocateClusterIP(family: "IPv6"), "fd00:10:96::a")
        XCTAssertTrue(a.reserveClusterIP("10.96.0.11"))
        XCTAssertFalse(a.reserveClusterIP("10.96.0.11"))
        XCTAssertEqual(a.allocateClusterIP(family: "IPv4"), "10.96.0.12")
        XCTAssertFalse(a.reserveClusterIP("10.96.0.013"), "strict: no leading zeros")
        XCTAssertFalse(a.reserveClusterIP("10.96.0.0"), "the network address")
        XCTAssertFalse(a.reserveClusterIP("10.112.0.1"), "outside 10.96.0.0/12")
        XCTAssertFalse(a.reserveClusterIP("::ffff:10.96.0.13"), "IPv6, not in the IPv6 range")
        XCTAssertTrue(a.reserveClusterIP("fd00:10:96::00b"))
        XCTAssertFalse(a.reserveClusterIP("fd00:10:96::b"))
        a.releaseClusterIP("fd00:10:96::b")
        XCTAssertTrue(a.reserveClusterIP("fd00:10:96::b"))
        a.releaseClusterIP("10.96.0.11")
        XCTAssertTrue(a.reserveClusterIP("10.96.0.11"))
    }

    func testServiceCIDRs() {
        // The address is kept as written (host bits too): the first ClusterIP follows it.
        XCTAssertEqual(ClusterAllocators(serviceCIDRv4: "10.0.0.5/24").firstServiceIPv4, "10.0.0.6")
        XCTAssertEqual(ClusterAllocators(serviceCIDRv4: "172.20.0.0/16").allocateClusterIP(family: "IPv4"), "172.20.0.10")
        // Unusable ranges fall back to the default 10.96.0.0/12.
        for bad in ["010.0.0.0/24", "10.0.0.0/31", "10.0.0.0/33", "10.0.0.0//24", "10.0.0.0/+24", "10.0.0.0"] {
            XCTAssertEqual(ClusterAllocators(serviceCIDRv4: bad).firstServiceIPv4, "10.96.0.1", bad)
        }
        let small = ClusterAllocators(serviceCIDRv4: "10.0.0.0/28", serviceCIDRv6: "fd00::/120")
        XCTAssertEqual((0..<5).compactMap { _ in small.allocateClusterIP(family: "IPv4") },
                       ["10.0.0.10", "10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.14"])
        XCTAssertEqual(small.allocateClusterIP(family: "IPv4"), "10.0.0.1")
        XCTAssertEqual(small.allocateClusterIP(family: "IPv6"), "fd00::a")
    }
}
