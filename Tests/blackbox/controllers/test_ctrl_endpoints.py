"""Reference §3: the legacy Endpoints controller."""

from scenlib import (GRACE, HEADLESS, EP_MANAGED_BY, MERGE, NO_EP, OVER_CAPACITY, TRIGGER, annotations, by_pod,
                     endpoint_count, labels, subsets_view)

WEB_PORTS = [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}]


def check_labels(ep, svc_labels, headless):
    """Endpoints labels = the Service's labels (+ headless ""); kemu may add the v1.33+ managed-by."""
    want = dict(svc_labels)
    if headless:
        want[HEADLESS] = ""
    got = dict(labels(ep))
    if EP_MANAGED_BY in got:
        assert got.pop(EP_MANAGED_BY) == "endpoint-controller", labels(ep)
    assert got == want, labels(ep)


def addr_by_pod(ep, key="addresses"):
    out = {}
    for s in ep.get("subsets") or []:
        for a in s.get(key) or []:
            out[(a.get("targetRef") or {}).get("name")] = a
    return out


def test_endpoints_object_shape(env):
    """§3.1 / §3.3 / §3.4: name = Service, ready → addresses, not ready → notReadyAddresses, ports
    resolved, nodeName/targetRef/hostname rules, labels from the Service, no ownerReferences."""
    env.node("node-1")
    r1 = env.pod("r1", labels={"app": "web"}, ip="10.0.0.1", hostname="h1", subdomain="web")
    r2 = env.pod("r2", labels={"app": "web"}, ip="10.0.0.2", hostname="h2", subdomain="other")
    env.pod("n1", labels={"app": "web"}, ip="10.0.0.3", ready=False)
    m = env.mark()
    svc = env.create_service("web", selector={"app": "web"}, ports=WEB_PORTS, labels={"app": "web", "tier": "x"})
    ep = env.wait_endpoints("web", lambda e: e is not None and len(addr_by_pod(e)) == 2)
    assert env.endpoints_writes(m, "web") == {"ADDED": 1}
    assert not ep["metadata"].get("ownerReferences"), ep["metadata"]
    check_labels(ep, {"app": "web", "tier": "x"}, headless=False)
    [sub] = ep["subsets"]
    assert sub["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    ready = addr_by_pod(ep)
    assert ready["r1"] == {"ip": "10.0.0.1", "hostname": "h1", "nodeName": env.node_name("node-1"),
                           "targetRef": {"kind": "Pod", "namespace": env.ns, "name": "r1",
                                         "uid": r1["metadata"]["uid"]}}
    assert ready["r2"] == {"ip": "10.0.0.2", "nodeName": env.node_name("node-1"),
                           "targetRef": {"kind": "Pod", "namespace": env.ns, "name": "r2",
                                         "uid": r2["metadata"]["uid"]}}
    assert set(addr_by_pod(ep, "notReadyAddresses")) == {"n1"}
    assert TRIGGER in annotations(ep)
    assert svc["metadata"]["name"] == ep["metadata"]["name"]


def test_headless_label_and_portless_subsets(env):
    """§3.3 / §3.4: a headless Service → headless label; without ports → port-less subset(s)."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    env.pod("p2", labels={"app": "web"}, ip="10.0.0.2")
    env.create_service("web", selector={"app": "web"}, headless=True)
    ep = env.wait_endpoints("web", lambda e: e is not None and len(addr_by_pod(e)) == 2)
    check_labels(ep, {}, headless=True)
    assert subsets_view(ep) == {(frozenset(), frozenset({"10.0.0.1", "10.0.0.2"}), frozenset())}


def test_terminating_pods_are_not_in_endpoints(make_env):
    """§3.3: unlike EndpointSlices, terminating pods are left out of Endpoints, unless
    publishNotReadyAddresses (then they stay in addresses)."""
    env = make_env(*GRACE)
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1", grace=30)
    env.pod("p2", labels={"app": "web"}, ip="10.0.0.2", grace=30)
    env.create_service("web", selector={"app": "web"}, ports=WEB_PORTS)
    env.create_service("web-pnr", selector={"app": "web"}, ports=WEB_PORTS, publishNotReadyAddresses=True)
    env.wait_endpoints("web", lambda e: e is not None and len(addr_by_pod(e)) == 2)
    env.wait_endpoints("web-pnr", lambda e: e is not None and len(addr_by_pod(e)) == 2)
    env.delete_pod("p2")
    ep = env.wait_endpoints("web", lambda e: set(addr_by_pod(e)) == {"p1"} and not addr_by_pod(e, "notReadyAddresses"),
                            "p2 gone from Endpoints")
    assert subsets_view(ep) == {(frozenset({("http", 8080, "TCP")}), frozenset({"10.0.0.1"}), frozenset())}
    ss = env.wait_slices("web", lambda ss: endpoint_count(ss) == 2
                         and by_pod(ss).get("p2", {}).get("conditions", {}).get("terminating") is True,
                         "p2 terminating in the slice")
    assert by_pod(ss)["p2"]["conditions"]["serving"] is True
    pnr = env.wait_endpoints("web-pnr", lambda e: e is not None)
    assert set(addr_by_pod(pnr)) == {"p1", "p2"}


def test_one_ip_per_pod_of_the_primary_family(env):
    """§3.3: one address per pod: the first pod IP of the Service's primary family."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ips=["10.0.0.1", "fd00::1"])
    env.create_service("v4", selector={"app": "web"}, ports=WEB_PORTS)
    env.create_service("v6", selector={"app": "web"}, ports=WEB_PORTS, headless=True, families=["IPv6"])
    env.create_service("v6v4", selector={"app": "web"}, ports=WEB_PORTS, headless=True,
                       families=["IPv6", "IPv4"], policy="RequireDualStack")
    for name, ip in (("v4", "10.0.0.1"), ("v6", "fd00::1"), ("v6v4", "fd00::1")):
        ep = env.wait_endpoints(name, lambda e: e is not None and len(addr_by_pod(e)) == 1, f"Endpoints {name}")
        assert [a["ip"] for s in ep["subsets"] for a in s.get("addresses") or []] == [ip], (name, ep["subsets"])


def test_repacking_groups_ports_by_address_set(env):
    """§3.3 RepackSubsets: one single-port subset per (pod, resolvable Service port), then ports
    offered by exactly the same set of addresses are merged into one subset.  (Upstream maps each
    port to its address set and groups ports with identical address sets; a pod resolving none of
    the ports is left out.)"""
    env.node("node-1")
    both = [("http", 8080, "TCP"), ("metrics", 9100, "TCP")]
    env.pod("a", labels={"app": "web", "grp": "ac"}, ip="10.0.0.1", ports=both)
    env.pod("b", labels={"app": "web"}, ip="10.0.0.2", ports=[("http", 9090, "TCP"), ("metrics", 9100, "TCP")])
    env.pod("c", labels={"app": "web", "grp": "ac"}, ip="10.0.0.3", ports=both)
    env.pod("d", labels={"app": "web"}, ip="10.0.0.4", ports=[("http", 8080, "TCP")])
    env.pod("e", labels={"app": "web"}, ip="10.0.0.5")
    svc_ports = [{"name": "http", "port": 80, "targetPort": "http"},
                 {"name": "metrics", "port": 9100, "targetPort": "metrics"}]
    env.create_service("web", selector={"app": "web"}, ports=svc_ports)
    env.create_service("pair", selector={"grp": "ac"}, ports=svc_ports)
    ep = env.wait_endpoints("web", lambda e: e is not None and len(addr_by_pod(e)) == 4)
    assert subsets_view(ep) == {
        (frozenset({("http", 8080, "TCP")}), frozenset({"10.0.0.1", "10.0.0.3", "10.0.0.4"}), frozenset()),
        (frozenset({("metrics", 9100, "TCP")}), frozenset({"10.0.0.1", "10.0.0.2", "10.0.0.3"}), frozenset()),
        (frozenset({("http", 9090, "TCP")}), frozenset({"10.0.0.2"}), frozenset()),
    }, ep["subsets"]
    pair = env.wait_endpoints("pair", lambda e: e is not None and len(addr_by_pod(e)) == 2)
    assert subsets_view(pair) == {
        (frozenset({("http", 8080, "TCP"), ("metrics", 9100, "TCP")}), frozenset({"10.0.0.1", "10.0.0.3"}),
         frozenset()),
    }, pair["subsets"]


def test_same_ip_two_pods_are_two_addresses(env):
    """§3.3: addresses are de-duplicated by (IP, targetRef.uid) — two pods sharing an IP stay two."""
    env.node("node-1")
    env.pod("p0", labels={"app": "web"}, ip="10.0.0.1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    env.create_service("web", selector={"app": "web"}, ports=WEB_PORTS)
    ep = env.wait_endpoints("web", lambda e: e is not None and len(addr_by_pod(e)) == 2)
    assert {a["ip"] for a in addr_by_pod(ep).values()} == {"10.0.0.1"}


def test_noop_rule_and_label_sync(env):
    """§3.4: no write when nothing relevant changed (pod annotations, Service annotations: the
    trigger time alone never writes); a Service label change rewrites the labels."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    env.create_service("web", selector={"app": "web"}, ports=WEB_PORTS)
    env.wait_endpoints("web", lambda e: e is not None and len(addr_by_pod(e)) == 1)
    m = env.mark()
    env.patch_pod("p1", {"metadata": {"annotations": {"note": "x"}}})
    env.patch_service("web", {"metadata": {"annotations": {"note": "y"}}})
    env.settle()
    assert env.endpoints_writes(m, "web") == {}
    m = env.mark()
    env.patch_service("web", {"metadata": {"labels": {"tier": "t"}}})
    ep = env.wait_endpoints("web", lambda e: labels(e).get("tier") == "t", "label copied")
    check_labels(ep, {"tier": "t"}, headless=False)
    assert env.endpoints_writes(m, "web") == {"MODIFIED": 1}


def test_service_without_selector_or_external_name_keeps_user_endpoints(env):
    """§3.2: ExternalName or selector-less Services → the controller does nothing; Endpoints a
    client created for a selectorless Service are preserved."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    env.create_service("ext", ports=WEB_PORTS)
    env.create_service("xn", type="ExternalName", externalName="x.example.com", selector={"app": "web"})
    mine = env.api.create(env.path("/api/v1/namespaces/{ns}/endpoints"), {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ext"},
        "subsets": [{"addresses": [{"ip": "10.5.0.1"}], "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]})
    m = env.mark()
    env.patch_service("ext", {"metadata": {"labels": {"touch": "1"}}})
    env.settle()
    assert env.endpoints_writes(m, "ext", after_rv=mine["metadata"]["resourceVersion"]) == {}
    assert env.endpoints("ext")["metadata"]["resourceVersion"] == mine["metadata"]["resourceVersion"]
    assert env.endpoints("xn") is None


def test_selector_removed_keeps_endpoints_and_mirrors_them(env):
    """§3.2 + §4: after the selector is removed the Endpoints controller leaves the Endpoints as
    they are, the EndpointSlice controller leaves its slice, and — the Service now being
    selectorless — the mirroring controller mirrors the (unchanged) Endpoints."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    env.create_service("web", selector={"app": "web"}, ports=WEB_PORTS)
    ep = env.wait_endpoints("web", lambda e: e is not None and len(addr_by_pod(e)) == 1)
    [s] = env.wait_endpoint_count("web", 1)
    m = env.mark()
    env.patch_service("web", {"spec": {"selector": None}})
    env.set_pod_status("p1", ip="10.0.0.1", ready=False)
    [mir] = env.wait_slices("web", lambda ss: len(ss) == 1, "mirrored slice",
                            managed="endpointslicemirroring-controller.k8s.io")
    env.settle()
    assert env.endpoints_writes(m, "web") == {}
    assert env.endpoints("web")["metadata"]["resourceVersion"] == ep["metadata"]["resourceVersion"]
    assert env.slices("web")[0]["metadata"]["resourceVersion"] == s["metadata"]["resourceVersion"]
    assert [e["addresses"] for e in mir["endpoints"]] == [["10.0.0.1"]]


def test_disabled_endpoints_controller(make_env):
    """--disable-endpoints-controller: no Endpoints are written (slices still are), and the
    Endpoints of a selector Service are then the client's to write."""
    env = make_env(*NO_EP)
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    env.create_service("web", selector={"app": "web"}, ports=WEB_PORTS)
    env.wait_endpoint_count("web", 1)
    env.settle()
    assert env.endpoints("web") is None
    r = env.api.post(env.path("/api/v1/namespaces/{ns}/endpoints"), {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
        "subsets": [{"addresses": [{"ip": "10.5.0.1"}], "ports": [{"port": 8080}]}]})
    assert r.status_code == 201, r.text
    assert "Warning" not in r.headers


def test_over_capacity_truncation(make_env):
    """§3.4: more than 1000 addresses → keep all ready ones, truncate not-ready to the room left,
    annotation over-capacity=truncated; back to ≤1000 → annotation removed."""
    env = make_env("--max-endpoints-per-slice", "1000")
    env.node("node-1")
    specs = [(f"p{i}", {"labels": {"app": "web"}, "ip": f"10.{i // 250}.{i % 250}.1"}) for i in range(1000)]
    specs.append(("nr", {"labels": {"app": "web"}, "ip": "10.9.9.9", "ready": False}))
    env.pods(specs, workers=6)
    env.create_service("web", selector={"app": "web"}, ports=WEB_PORTS)

    def counts(e):
        subs = (e or {}).get("subsets") or []
        return (sum(len(s.get("addresses") or []) for s in subs), sum(len(s.get("notReadyAddresses") or [])
                                                                      for s in subs))

    ep = env.wait_endpoints("web", lambda e: e is not None and counts(e)[0] == 1000, "1000 ready addresses",
                            timeout=60)
    assert counts(ep) == (1000, 0)
    assert annotations(ep).get(OVER_CAPACITY) == "truncated", annotations(ep)
    env.wait_endpoint_count("web", 1001, timeout=60)
    env.delete_pod("nr", gracePeriodSeconds="0")
    ep = env.wait_endpoints("web", lambda e: OVER_CAPACITY not in annotations(e), "annotation removed", timeout=60)
    assert counts(ep) == (1000, 0)


def test_over_capacity_annotation_value_is_corrected(make_env):
    """§3.4: a wrong over-capacity annotation value is corrected (removed when ≤1000) on the next
    sync — written here by a client (allowed with --derived-writes allow)."""
    env = make_env("--derived-writes", "allow")
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    env.create_service("web", selector={"app": "web"}, ports=WEB_PORTS)
    env.wait_endpoints("web", lambda e: e is not None and len(addr_by_pod(e)) == 1)
    r = env.api.patch(env.path("/api/v1/namespaces/{ns}/endpoints", "web"),
                      {"metadata": {"annotations": {OVER_CAPACITY: "warning"}}}, content_type=MERGE)
    assert r.status_code == 200, r.text
    env.patch_service("web", {"metadata": {"annotations": {"touch": "1"}}})
    env.wait_endpoints("web", lambda e: OVER_CAPACITY not in annotations(e), "over-capacity annotation removed")
