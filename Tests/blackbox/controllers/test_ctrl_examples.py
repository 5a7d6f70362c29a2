"""Reference §5: every example scenario of the EndpointSlice controller, given → expect.

Conventions (reference §5): Service `foo` with selector foo=bar, one port
{name: foo, protocol: TCP, targetPort: 80}, ipFamilies [IPv4], no ClusterIP (headless, so the
headless label appears); pods labelled foo=bar on node-1.  Each scenario runs in a fresh
namespace (instead of `test`) and Node names carry the namespace as a prefix (Nodes are
cluster-scoped).  Pods are created (and their status set) *before* the Service, so that the
Service's first sync sees the final pod set and the number of writes is fixed by the rules.
"""

from scenlib import (ALLOW, GRACE, HEADLESS, MANAGED_BY, MERGE, SERVICE_NAME, SLICE_CTRL, TRIGGER, annotations,
                     by_pod, conds, eps_of, labels, ports_of)

FOO_PORTS = {("foo", 80, "TCP", None)}


def ctrl_labels(svc, headless=True, extra=None):
    out = {SERVICE_NAME: svc, MANAGED_BY: SLICE_CTRL}
    if headless:
        out[HEADLESS] = ""
    out.update(extra or {})
    return out


def assert_owned_by(s, svc):
    refs = s["metadata"].get("ownerReferences") or []
    assert refs == [{"apiVersion": "v1", "kind": "Service", "name": svc["metadata"]["name"],
                     "uid": svc["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}], refs


def target(env, pod):
    return {"kind": "Pod", "namespace": env.ns, "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}


def test_ex01_empty_selector_service_gets_one_placeholder(env):
    """§5.1: a selector Service without pods → exactly one placeholder slice, 1 create."""
    env.node("node-1")
    m = env.mark()
    svc = env.foo_service()
    [s] = env.wait_slices("foo", lambda ss: len(ss) == 1, "the placeholder slice")
    assert s["metadata"]["name"].startswith("foo-"), s["metadata"]
    assert s["metadata"].get("generateName") == "foo-", s["metadata"]
    assert s["addressType"] == "IPv4"
    assert "ports" in s and (s["ports"] or []) == [], s
    assert "endpoints" in s and (s["endpoints"] or []) == [], s
    assert labels(s) == ctrl_labels("foo"), labels(s)
    assert TRIGGER in annotations(s), annotations(s)
    assert_owned_by(s, svc)
    assert env.slice_writes(m, "foo") == {"ADDED": 1}


def test_ex02_no_selector_no_slices(env):
    """§5.2: a Service without selector gets no slices from the controller (and no writes)."""
    env.node("node-1")
    env.pod("pod1", labels={"foo": "bar"}, ip="1.2.3.5")
    m = env.mark()
    env.foo_service(selector=None)
    env.settle()
    assert env.slices("foo", managed=None) == []
    assert env.slice_writes(m, "foo", managed=None) == {}


def test_ex03_external_name_no_slices(env):
    """§5.3: ExternalName Services, with or without selector/ports, get no slices."""
    env.node("node-1")
    env.pod("pod1", labels={"foo": "bar"}, ip="1.2.3.5")
    m = env.mark()
    env.create_service("foo", selector={"foo": "bar"}, type="ExternalName", externalName="foo.example.com",
                       ports=[{"name": "foo", "protocol": "TCP", "port": 80, "targetPort": 80}])
    env.create_service("foo-bare", type="ExternalName", externalName="bare.example.com")
    env.settle()
    for name in ("foo", "foo-bare"):
        assert env.slices(name, managed=None) == [], name
        assert env.slice_writes(m, name, managed=None) == {}, name
        assert env.endpoints(name) is None, name


def test_ex04_service_being_deleted_gets_no_placeholder(make_env):
    """§5.4: a Service with a deletionTimestamp and no slices → no writes (no placeholder).

    The Service is held by a finalizer; its placeholder is deleted by the client (allowed with
    --derived-writes allow); the controller must not recreate it while the Service is terminating."""
    env = make_env(*ALLOW)
    svc = env.foo_service()
    r = env.api.patch(env.path("/api/v1/namespaces/{ns}/services", "foo"),
                      {"metadata": {"finalizers": ["kemu.test/hold"]}}, content_type=MERGE)
    assert r.status_code == 200, r.text
    [s] = env.wait_slices("foo", lambda ss: len(ss) == 1, "the placeholder slice")
    try:
        r = env.api.delete(env.path("/api/v1/namespaces/{ns}/services", "foo"))
        assert r.status_code in (200, 202), r.text
        got = env.api.read(env.path("/api/v1/namespaces/{ns}/services", "foo"))
        assert got["metadata"].get("deletionTimestamp"), got["metadata"]
        r = env.slice_write("DELETE", s["metadata"]["name"])
        assert r.status_code in (200, 404), r.text
        env.wait_slices("foo", lambda ss: ss == [], "placeholder deleted")
        m = env.mark()
        env.settle()
        assert env.slices("foo") == []
        assert env.slice_writes(m, "foo") == {}
        assert svc["metadata"]["uid"] == got["metadata"]["uid"]
    finally:
        env.api.patch(env.path("/api/v1/namespaces/{ns}/services", "foo"),
                      {"metadata": {"finalizers": None}}, content_type=MERGE)


def test_ex05_selector_filtering(env):
    """§5.5: only pods matching the selector become endpoints."""
    env.node("node-1")
    p1 = env.pod("pod1", labels={"foo": "bar"}, ip="1.2.3.5")
    env.pod("pod2", labels={"foo": "boo"}, ip="1.2.3.6")
    m = env.mark()
    env.foo_service()
    [s] = env.wait_slices("foo", lambda ss: len(ss) == 1 and len(eps_of(ss[0])) == 1, "one endpoint")
    [e] = eps_of(s)
    assert e["targetRef"] == target(env, p1)
    assert e["addresses"] == ["1.2.3.5"]
    assert TRIGGER in annotations(s)
    assert env.slice_writes(m, "foo") == {"ADDED": 1}


def single_pod_setup(env):
    env.node("node-1", zone="us-central1-a")
    return env.pod("pod1", labels={"foo": "bar"}, ips=["1.2.3.4", "1234::5678:0000:0000:9abc:def0"],
                   hostname="example-hostname")


def expected_endpoint(env, pod, address):
    return {"addresses": [address], "conditions": {"ready": True, "serving": True, "terminating": False},
            "zone": "us-central1-a", "nodeName": env.node_name("node-1"), "targetRef": target(env, pod)}


def test_ex06_single_ready_pod_ipv4(env):
    """§5.6: one ready dual-IP pod, IPv4 Service → one IPv4 slice, exact endpoint, no hostname."""
    p1 = single_pod_setup(env)
    m = env.mark()
    env.foo_service()
    [s] = env.wait_slices("foo", lambda ss: len(ss) == 1 and len(eps_of(ss[0])) == 1, "one endpoint")
    assert s["addressType"] == "IPv4"
    assert eps_of(s) == [expected_endpoint(env, p1, "1.2.3.4")]
    assert labels(s) == ctrl_labels("foo")
    assert ports_of(s) == FOO_PORTS
    assert s["ports"] == [{"name": "foo", "port": 80, "protocol": "TCP"}]
    assert env.slice_writes(m, "foo") == {"ADDED": 1}


def test_ex07_cluster_ip_service_has_no_headless_label(env):
    """§5.7: same with a ClusterIP → identical endpoint; labels lack the headless key."""
    p1 = single_pod_setup(env)
    env.foo_service(headless=False)
    [s] = env.wait_slices("foo", lambda ss: len(ss) == 1 and len(eps_of(ss[0])) == 1, "one endpoint")
    assert eps_of(s) == [expected_endpoint(env, p1, "1.2.3.4")]
    assert labels(s) == ctrl_labels("foo", headless=False)


def test_ex08_ipv6_family(env):
    """§5.8: ipFamilies [IPv6] → one IPv6 slice; the address is re-printed canonically."""
    p1 = single_pod_setup(env)
    m = env.mark()
    env.foo_service(families=["IPv6"])
    [s] = env.wait_slices("foo", lambda ss: len(ss) == 1 and len(eps_of(ss[0])) == 1, "one endpoint")
    assert s["addressType"] == "IPv6"
    assert eps_of(s) == [expected_endpoint(env, p1, "1234::5678:0:0:9abc:def0")]
    assert env.slice_writes(m, "foo") == {"ADDED": 1}


def test_ex09_dual_stack_two_slices(env):
    """§5.9: ipFamilies [IPv4, IPv6] → one slice per family, 2 creates.

    (kemu allocates IPv4 ClusterIPs only, so the dual-stack Service is headless.)"""
    p1 = single_pod_setup(env)
    m = env.mark()
    env.foo_service(families=["IPv4", "IPv6"], policy="RequireDualStack")
    ss = env.wait_slices("foo", lambda ss: len(ss) == 2 and all(len(eps_of(s)) == 1 for s in ss), "two slices")
    by_type = {s["addressType"]: s for s in ss}
    assert set(by_type) == {"IPv4", "IPv6"}
    assert eps_of(by_type["IPv4"]) == [expected_endpoint(env, p1, "1.2.3.4")]
    assert eps_of(by_type["IPv6"]) == [expected_endpoint(env, p1, "1234::5678:0:0:9abc:def0")]
    assert env.slice_writes(m, "foo") == {"ADDED": 2}


def test_ex10_service_without_ip_families_field(env):
    """§5.10: a Service created without ipFamilies but with a (v4) ClusterIP → the API defaults the
    family from the ClusterIP → only an IPv4 slice, even for a dual-IP pod."""
    single_pod_setup(env)
    svc = env.create_service("foo", selector={"foo": "bar"},
                             ports=[{"name": "foo", "protocol": "TCP", "port": 80, "targetPort": 80}])
    assert svc["spec"].get("ipFamilies") == ["IPv4"], svc["spec"]
    [s] = env.wait_slices("foo", lambda ss: len(ss) == 1 and len(eps_of(ss[0])) == 1, "one endpoint")
    assert s["addressType"] == "IPv4"
    env.settle()
    assert [x["addressType"] for x in env.slices("foo")] == ["IPv4"]


def test_ex11_label_copying_and_reserved_labels(env):
    """§5.11: Service labels are copied; the three reserved keys on a Service are never copied."""
    env.node("node-1")
    env.foo_service(labels={"foo": "bar"})
    env.foo_service(name="evil", labels={SERVICE_NAME: "bad", MANAGED_BY: "actor", HEADLESS: "invalid"})
    [s] = env.wait_slices("foo", lambda ss: len(ss) == 1)
    [e] = env.wait_slices("evil", lambda ss: len(ss) == 1)
    assert labels(s) == ctrl_labels("foo", extra={"foo": "bar"})
    assert labels(e) == ctrl_labels("evil")


def test_ex12_condition_matrix(make_env):
    """§5.12 / §2.8: ready/serving/terminating for every pod state, without and with
    publishNotReadyAddresses."""
    env = make_env(*GRACE)
    env.node("node-1")
    env.pod("ready", labels={"foo": "bar"}, ip="1.2.3.4", ready=True, grace=30)
    env.pod("unready", labels={"foo": "bar"}, ip="1.2.3.5", ready=False, grace=30)
    env.pod("ready-term", labels={"foo": "bar"}, ip="1.2.3.6", ready=True, grace=30)
    env.pod("unready-term", labels={"foo": "bar"}, ip="1.2.3.7", ready=False, grace=30)
    for n in ("ready-term", "unready-term"):
        p = env.delete_pod(n)
        assert p["metadata"].get("deletionTimestamp"), f"pod {n} should be terminating: {p['metadata']}"
    m = env.mark()
    env.foo_service()
    env.foo_service(name="foo-pnr", publishNotReadyAddresses=True)
    plain = by_pod(env.wait_endpoint_count("foo", 4))
    pnr = by_pod(env.wait_endpoint_count("foo-pnr", 4))
    assert {n: conds(e) for n, e in plain.items()} == {
        "ready": (True, True, False),
        "unready": (False, False, False),
        "ready-term": (False, True, True),
        "unready-term": (False, False, True),
    }
    assert {n: conds(e) for n, e in pnr.items()} == {
        "ready": (True, True, False),
        "unready": (True, False, False),
        "ready-term": (True, True, True),
        "unready-term": (True, False, True),
    }
    assert env.slice_writes(m, "foo") == {"ADDED": 1}
    assert env.slice_writes(m, "foo-pnr") == {"ADDED": 1}


def test_ex13_hostname_only_with_matching_subdomain(env):
    """§5.13 / §2.8: hostname is copied only when the pod's subdomain is the Service name."""
    env.node("node-1")
    env.pod("pod1", labels={"foo": "bar"}, ip="1.2.3.5", hostname="example-hostname", subdomain="foo")
    env.pod("pod2", labels={"foo": "bar"}, ip="1.2.3.6", hostname="other-hostname", subdomain="other")
    env.pod("pod3", labels={"foo": "bar"}, ip="1.2.3.7", subdomain="foo")
    env.foo_service()
    eps = by_pod(env.wait_endpoint_count("foo", 3))
    assert eps["pod1"].get("hostname") == "example-hostname"
    assert "hostname" not in eps["pod2"], eps["pod2"]
    assert "hostname" not in eps["pod3"], eps["pod3"]


def test_ex14_terminal_and_ip_less_pods(env):
    """§5.14 / §2.6: Failed/Succeeded pods and pods without IPs are not endpoints;
    Pending/Running/Unknown pods with an IP are; a Service with only unqualified pods gets a placeholder."""
    env.node("node-1")
    env.pod("running", labels={"foo": "bar"}, ip="1.2.3.4", phase="Running")
    env.pod("pending", labels={"foo": "bar"}, ip="1.2.3.5", phase="Pending", ready=False)
    env.pod("unknown", labels={"foo": "bar"}, ip="1.2.3.6", phase="Unknown", ready=False)
    env.pod("failed", labels={"foo": "bar", "grp": "dead"}, ip="1.2.3.7", phase="Failed", ready=False)
    env.pod("succeeded", labels={"foo": "bar", "grp": "dead"}, ip="1.2.3.8", phase="Succeeded", ready=False)
    env.pod("no-ip", labels={"foo": "bar", "grp": "dead"}, phase="Running", ready=True)
    env.foo_service()
    env.foo_service(name="dead", selector={"grp": "dead"})
    eps = by_pod(env.wait_endpoint_count("foo", 3))
    assert set(eps) == {"running", "pending", "unknown"}
    assert conds(eps["pending"]) == (False, False, False)
    [d] = env.wait_slices("dead", lambda ss: len(ss) == 1)
    assert eps_of(d) == [] and (d.get("ports") or []) == [], d


def test_ex14b_pod_ip_without_pod_ips_is_no_endpoint(env):
    """§2.6: addresses come from status.podIPs only — a pod with podIP but no podIPs passes the
    inclusion check yet yields no address, so no endpoint (the Service keeps its placeholder)."""
    env.node("node-1")
    env.pod("pod1", labels={"foo": "bar"}, pod_ip="1.2.3.4")
    env.foo_service()
    [s] = env.wait_slices("foo", lambda ss: len(ss) == 1)
    env.settle()
    [s] = env.slices("foo")
    assert eps_of(s) == [], s


def test_ex15_duplicate_ips(env):
    """§5.15 / §2.10: two pods with the same IP are two endpoints; readiness is per pod."""
    env.node("node-1")
    env.pod("pod0", labels={"foo": "bar"}, ip="10.0.0.1")
    env.pod("pod1", labels={"foo": "bar"}, ip="10.0.0.1")
    m = env.mark()
    env.foo_service()
    eps = by_pod(env.wait_endpoint_count("foo", 2))
    assert eps["pod0"]["addresses"] == eps["pod1"]["addresses"] == ["10.0.0.1"]
    assert conds(eps["pod0"]) == conds(eps["pod1"]) == (True, True, False)
    assert env.slice_writes(m, "foo") == {"ADDED": 1}
    m = env.mark()
    env.set_pod_status("pod1", ip="10.0.0.1", ready=False)
    ss = env.wait_slices("foo", lambda ss: endpoint_ready(ss, "pod1") is False, "pod1 not ready")
    eps = by_pod(ss)
    assert set(eps) == {"pod0", "pod1"}
    assert conds(eps["pod1"]) == (False, False, False)
    assert conds(eps["pod0"]) == (True, True, False)
    assert env.slice_writes(m, "foo") == {"MODIFIED": 1}


def endpoint_ready(slices, pod):
    for s in slices:
        for e in eps_of(s):
            if (e.get("targetRef") or {}).get("name") == pod:
                return (e.get("conditions") or {}).get("ready")
    return None


def test_ex16_multi_protocol_ports(env):
    """§5.16: TCP, UDP and SCTP ports land in one slice (order unspecified)."""
    env.node("node-1")
    env.pod("pod1", labels={"foo": "bar"}, ip="1.2.3.5")
    env.foo_service(ports=[
        {"name": "tcp-example", "protocol": "TCP", "port": 80, "targetPort": 80},
        {"name": "udp-example", "protocol": "UDP", "port": 161, "targetPort": 161},
        {"name": "sctp-example", "protocol": "SCTP", "port": 3456, "targetPort": 3456},
    ])
    [s] = env.wait_slices("foo", lambda ss: len(ss) == 1 and len(eps_of(ss[0])) == 1)
    assert ports_of(s) == {("tcp-example", 80, "TCP", None), ("udp-example", 161, "UDP", None),
                           ("sctp-example", 3456, "SCTP", None)}
