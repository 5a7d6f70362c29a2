"""Reference §2: the rules of the EndpointSlice controller, one scenario per rule.

Packing scenarios use small --max-endpoints-per-slice values (3 and 10).  To make one sync
see many new pods at once without relying on timing, pods are staged by label and the
Service selector is *widened* in one update (stage-k pods carry labels in1..inK so that
selector {inK: y} selects stages 1..k).
"""

import time

from scenlib import (BATCH, GRACE, PACK3, PACK10, TRIGGER, ZONE, annotations, by_pod, conds, endpoint_count,
                     eps_of, labels, parse_time, ports_of)

WEB_PORTS = [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}]


def web(env, name="web", **kw):
    kw.setdefault("selector", {"app": "web"})
    kw.setdefault("ports", WEB_PORTS)
    return env.create_service(name, **kw)


def sizes(slices):
    return sorted(len(eps_of(s)) for s in slices)


def staged_pods(env, counts, not_ready=()):
    """counts[k] pods for stage k+1; pod labels select them for every selector {inJ: y} with J > k."""
    stages = len(counts)
    specs = []
    for k, n in enumerate(counts):
        for i in range(n):
            name = f"s{k + 1}-p{i}"
            lb = {"app": "web"}
            for j in range(k + 1, stages + 1):
                lb[f"in{j}"] = "y"
            specs.append((name, {"labels": lb, "ip": f"10.{k + 1}.0.{i + 10}", "ready": name not in not_ready}))
    env.pods(specs)


def widen(env, svc, stage, **spec):
    body = {"spec": {"selector": {f"in{stage - 1}": None, f"in{stage}": "y"}}}
    body["spec"].update(spec)
    env.patch_service(svc, body)


# ---------------------------------------------------------------------------
# §2.9 packing
# ---------------------------------------------------------------------------

def test_packing_from_scratch_fills_new_slices(make_env):
    """§2.9 step 3: 7 endpoints, max 3, no existing slice → full slices first: 3 + 3 + 1, 3 creates."""
    env = make_env(*PACK3)
    env.node("node-1")
    env.pods([(f"p{i}", {"labels": {"app": "web"}, "ip": f"10.0.0.{i + 1}"}) for i in range(7)])
    m = env.mark()
    web(env)
    ss = env.wait_slices("web", lambda ss: endpoint_count(ss) == 7, "7 endpoints")
    assert sizes(ss) == [1, 3, 3]
    assert sorted(by_pod(ss)) == sorted(f"p{i}" for i in range(7))
    assert env.slice_writes(m, "web") == {"ADDED": 3}


def test_packing_remainder_goes_to_closest_to_full_unchanged_slice(make_env):
    """§2.9 worked example 2 (scaled to max 10): existing A=6, B=5, 13 new → one new full slice of
    10, the remaining 3 go into A (10-(3+6)=1 beats B's 2) → 1 create + 1 update."""
    env = make_env(*PACK10)
    env.node("node-1")
    staged_pods(env, [6, 5, 13])
    m = env.mark()
    web(env, selector={"in1": "y"})
    [a] = env.wait_slices("web", lambda ss: endpoint_count(ss) == 6, "stage 1")
    assert env.slice_writes(m, "web") == {"ADDED": 1}
    m = env.mark()
    widen(env, "web", 2)
    ss = env.wait_slices("web", lambda ss: endpoint_count(ss) == 11, "stage 2")
    assert sizes(ss) == [5, 6], "5 new endpoints do not fit into A (6): a new slice"
    assert env.slice_writes(m, "web") == {"ADDED": 1}
    m = env.mark()
    widen(env, "web", 3)
    ss = env.wait_slices("web", lambda ss: endpoint_count(ss) == 24, "stage 3")
    assert sizes(ss) == [5, 9, 10]
    nine = [s for s in ss if len(eps_of(s)) == 9]
    assert nine[0]["metadata"]["name"] == a["metadata"]["name"], "the remainder must go into A"
    assert env.slice_writes(m, "web") == {"ADDED": 1, "MODIFIED": 1}


def test_packing_remainder_that_fits_nowhere_gets_a_new_slice(make_env):
    """§2.9 worked example 3 (scaled): existing 7 and 7, 15 new → new 10, then the remaining 5 fit
    neither (7+5 > 10) → another new slice of 5: 2 creates, no update."""
    env = make_env(*PACK10)
    env.node("node-1")
    staged_pods(env, [7, 7, 15])
    web(env, selector={"in1": "y"})
    env.wait_slices("web", lambda ss: endpoint_count(ss) == 7, "stage 1")
    widen(env, "web", 2)
    ss = env.wait_slices("web", lambda ss: endpoint_count(ss) == 14, "stage 2")
    assert sizes(ss) == [7, 7]
    m = env.mark()
    widen(env, "web", 3)
    ss = env.wait_slices("web", lambda ss: endpoint_count(ss) == 29, "stage 3")
    assert sizes(ss) == [5, 7, 7, 10]
    assert env.slice_writes(m, "web") == {"ADDED": 2}


def test_packing_tops_up_updated_slices_largest_first(make_env):
    """§2.9 worked example 4 (scaled): S1=8 and S2=3 both change (publishNotReadyAddresses flips a
    not-ready endpoint in each) while 4 new endpoints arrive → step 2 tops up the larger slice
    first: S1 → 10, S2 → 5; 2 updates, no create."""
    env = make_env(*PACK10)
    env.node("node-1")
    staged_pods(env, [8, 3, 4], not_ready={"s1-p0", "s2-p0"})
    web(env, selector={"in1": "y"})
    [s1] = env.wait_slices("web", lambda ss: endpoint_count(ss) == 8, "stage 1")
    widen(env, "web", 2)
    ss = env.wait_slices("web", lambda ss: endpoint_count(ss) == 11, "stage 2")
    assert sizes(ss) == [3, 8]
    m = env.mark()
    widen(env, "web", 3, publishNotReadyAddresses=True)
    ss = env.wait_slices("web", lambda ss: endpoint_count(ss) == 15
                         and all(conds(e)[0] for s in ss for e in eps_of(s)), "stage 3, all ready")
    assert sizes(ss) == [5, 10]
    ten = [s for s in ss if len(eps_of(s)) == 10][0]
    assert ten["metadata"]["name"] == s1["metadata"]["name"], "the larger updated slice is topped up first"
    assert env.slice_writes(m, "web") == {"MODIFIED": 2}


# ---------------------------------------------------------------------------
# §2.9 step 4 recycling, §2.11 placeholders
# ---------------------------------------------------------------------------

def test_port_change_recycles_slices_into_updates(make_env):
    """§2.9 step 4.1: a targetPort change moves every endpoint to a new port group; the creates
    take over the names of the slices being deleted → 3 updates, no create, no delete."""
    env = make_env(*PACK3)
    env.node("node-1")
    env.pods([(f"p{i}", {"labels": {"app": "web"}, "ip": f"10.0.0.{i + 1}"}) for i in range(7)])
    web(env)
    ss = env.wait_slices("web", lambda ss: endpoint_count(ss) == 7)
    names = {s["metadata"]["name"] for s in ss}
    m = env.mark()
    env.patch_service("web", {"spec": {"ports": [{"name": "http", "protocol": "TCP", "port": 80,
                                                  "targetPort": 9090}]}})
    ss = env.wait_slices("web", lambda ss: endpoint_count(ss) == 7
                         and all(ports_of(s) == {("http", 9090, "TCP", None)} for s in ss), "port 9090 everywhere")
    assert {s["metadata"]["name"] for s in ss} == names
    assert sizes(ss) == [1, 3, 3]
    assert env.slice_writes(m, "web") == {"MODIFIED": 3}


def test_all_endpoints_gone_leaves_one_placeholder_by_recycling(make_env):
    """§2.11: when every slice is deleted and nothing is created, one placeholder is wanted; it is
    recycled into an update of a slice being deleted → 1 update + 1 delete."""
    env = make_env(*PACK3)
    env.node("node-1")
    env.pods([(f"p{i}", {"labels": {"app": "web"}, "ip": f"10.0.0.{i + 1}"}) for i in range(4)])
    web(env)
    ss = env.wait_slices("web", lambda ss: endpoint_count(ss) == 4)
    names = {s["metadata"]["name"] for s in ss}
    assert len(names) == 2
    m = env.mark()
    env.patch_service("web", {"spec": {"selector": {"app": "nothing-matches"}}})
    [p] = env.wait_slices("web", lambda ss: len(ss) == 1 and endpoint_count(ss) == 0, "one placeholder")
    assert p["metadata"]["name"] in names
    assert (p.get("ports") or []) == [] and (p.get("endpoints") or []) == []
    assert env.slice_writes(m, "web") == {"MODIFIED": 1, "DELETED": 1}


def test_last_pod_deleted_turns_slice_into_placeholder(env):
    """§2.11: the only slice loses its only endpoint → rewritten in place as the placeholder
    (same name; never deleted and recreated)."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    web(env)
    [s] = env.wait_endpoint_count("web", 1)
    m = env.mark()
    env.delete_pod("p1", gracePeriodSeconds="0")
    [p] = env.wait_slices("web", lambda ss: len(ss) == 1 and endpoint_count(ss) == 0, "placeholder")
    assert p["metadata"]["name"] == s["metadata"]["name"]
    assert (p.get("ports") or []) == []
    w = env.slice_writes(m, "web")
    assert set(w) == {"MODIFIED"}, w


def test_placeholder_equal_means_no_write(env):
    """§2.11: pods that do not qualify (no IP, terminal phase, missing node) leave the existing
    placeholder placeholder-equal → no write at all."""
    env.node("node-1")
    web(env)
    env.wait_slices("web", lambda ss: len(ss) == 1)
    m = env.mark()
    env.pod("no-ip", labels={"app": "web"}, status=False)
    env.pod("failed", labels={"app": "web"}, ip="10.0.0.2", phase="Failed", ready=False)
    env.pod("ghost", labels={"app": "web"}, ip="10.0.0.3", node="ghost-node")
    env.settle()
    assert env.slice_writes(m, "web") == {}
    [p] = env.slices("web")
    assert eps_of(p) == []


# ---------------------------------------------------------------------------
# §2.3 labels
# ---------------------------------------------------------------------------

def test_service_label_change_updates_every_slice(make_env):
    """§2.3 label drift: a Service label change → a label-only update of each slice; removing it
    again → another update of each."""
    env = make_env(*PACK3)
    env.node("node-1")
    env.pods([(f"p{i}", {"labels": {"app": "web"}, "ip": f"10.0.0.{i + 1}"}) for i in range(4)])
    web(env)
    before = by_pod(env.wait_endpoint_count("web", 4))
    m = env.mark()
    env.patch_service("web", {"metadata": {"labels": {"tier": "frontend"}}})
    ss = env.wait_slices("web", lambda ss: len(ss) == 2 and all(labels(s).get("tier") == "frontend" for s in ss),
                         "tier label on both slices")
    assert by_pod(ss).keys() == before.keys()
    assert env.slice_writes(m, "web") == {"MODIFIED": 2}
    m = env.mark()
    env.patch_service("web", {"metadata": {"labels": {"tier": None}}})
    env.wait_slices("web", lambda ss: len(ss) == 2 and all("tier" not in labels(s) for s in ss), "tier removed")
    assert env.slice_writes(m, "web") == {"MODIFIED": 2}


# ---------------------------------------------------------------------------
# §2.7 ports
# ---------------------------------------------------------------------------

def test_named_target_port_groups_pods_by_resolved_port(env):
    """§2.7: pods whose named port resolves to different numbers land in different slices; a pod
    where it does not resolve gets an endpoint in a slice with no ports."""
    env.node("node-1")
    env.pod("a", labels={"app": "web"}, ip="10.0.0.1", ports=[("http", 8080, "TCP")])
    env.pod("b", labels={"app": "web"}, ip="10.0.0.2", ports=[("http", 9090, "TCP")])
    env.pod("c", labels={"app": "web"}, ip="10.0.0.3", ports=[("http", 8080, "TCP")])
    env.pod("d", labels={"app": "web"}, ip="10.0.0.4")
    m = env.mark()
    web(env, ports=[{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http"}])
    ss = env.wait_slices("web", lambda ss: endpoint_count(ss) == 4 and len(ss) == 3, "3 slices")
    got = {frozenset(ports_of(s)): sorted(by_pod([s])) for s in ss}
    assert got == {
        frozenset({("http", 8080, "TCP", None)}): ["a", "c"],
        frozenset({("http", 9090, "TCP", None)}): ["b"],
        frozenset(): ["d"],
    }
    assert env.slice_writes(m, "web") == {"ADDED": 3}


def test_named_port_protocol_and_sidecar_resolution(env):
    """§2.7: a named targetPort matches name *and* protocol; regular containers are searched
    before restartable init containers (sidecars)."""
    env.node("node-1")
    env.pod("x", labels={"app": "web"}, ip="10.0.0.1",
            ports=[("web", 8080, "TCP"), ("dns", 5353, "TCP")],
            sidecar_ports=[("dns", 5353, "UDP"), ("web", 9090, "TCP")])
    web(env, ports=[{"name": "dns", "protocol": "UDP", "port": 53, "targetPort": "dns"},
                    {"name": "web", "protocol": "TCP", "port": 80, "targetPort": "web"}])
    [s] = env.wait_endpoint_count("web", 1)
    assert ports_of(s) == {("dns", 5353, "UDP", None), ("web", 8080, "TCP", None)}


def test_target_port_defaults_to_port_and_app_protocol_is_copied(env):
    """§2.7: targetPort omitted → the API defaults it to port; appProtocol is copied."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    web(env, ports=[{"name": "h2", "port": 8081, "appProtocol": "kubernetes.io/h2c"}])
    [s] = env.wait_endpoint_count("web", 1)
    assert s["ports"] == [{"name": "h2", "port": 8081, "protocol": "TCP", "appProtocol": "kubernetes.io/h2c"}]


def test_headless_service_without_ports(env):
    """§2.7: a headless Service without ports → endpoints in a slice whose ports list is empty."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    env.pod("p2", labels={"app": "web"}, ip="10.0.0.2")
    env.create_service("web", selector={"app": "web"}, headless=True)
    [s] = env.wait_endpoint_count("web", 2)
    assert "ports" in s and (s["ports"] or []) == []


# ---------------------------------------------------------------------------
# §2.5 / §2.8 nodes and zones
# ---------------------------------------------------------------------------

def test_missing_node_skips_pod_and_is_retried(env):
    """§2.5: a pod whose Node does not exist (or that has no node) is skipped unless
    publishNotReadyAddresses (then kept without zone); the sync is retried, so the pod appears
    once its Node is created."""
    env.node("node-1", zone="z1")
    env.pod("ok", labels={"app": "web"}, ip="10.0.0.1")
    env.pod("ghost", labels={"app": "web"}, ip="10.0.0.2", node="ghost")
    env.pod("unscheduled", labels={"app": "web"}, ip="10.0.0.3", node=None)
    web(env)
    web(env, name="web-pnr", publishNotReadyAddresses=True)
    eps = by_pod(env.wait_endpoint_count("web", 1))
    assert set(eps) == {"ok"}
    pnr = by_pod(env.wait_endpoint_count("web-pnr", 3))
    assert pnr["ghost"]["nodeName"] == env.node_name("ghost") and "zone" not in pnr["ghost"], pnr["ghost"]
    assert "nodeName" not in pnr["unscheduled"] and "zone" not in pnr["unscheduled"], pnr["unscheduled"]
    assert pnr["ok"]["zone"] == "z1"
    env.node("ghost", zone="z9")
    eps = by_pod(env.wait_slices("web", lambda ss: endpoint_count(ss) == 2, "ghost pod added after its Node appeared",
                                 timeout=30))
    assert set(eps) == {"ok", "ghost"}
    assert eps["ghost"]["zone"] == "z9"


def test_zone_comes_from_the_ga_zone_label_only(env):
    """§2.8: zone = Node label topology.kubernetes.io/zone; no zone without it (the beta label is
    ignored)."""
    env.node("a", zone="z1")
    env.node("b")
    env.node("c", labels={"failure-domain.beta.kubernetes.io/zone": "beta-z"})
    env.pod("pa", labels={"app": "web"}, ip="10.0.0.1", node="a")
    env.pod("pb", labels={"app": "web"}, ip="10.0.0.2", node="b")
    env.pod("pc", labels={"app": "web"}, ip="10.0.0.3", node="c")
    web(env)
    eps = by_pod(env.wait_endpoint_count("web", 3))
    assert eps["pa"]["zone"] == "z1"
    assert "zone" not in eps["pb"] and "zone" not in eps["pc"], (eps["pb"], eps["pc"])
    assert eps["pc"]["nodeName"] == env.node_name("c")


# ---------------------------------------------------------------------------
# §2.17 triggers
# ---------------------------------------------------------------------------

def test_pod_label_changes(env):
    """§2.17: a label change that moves a pod out of / into the selection updates the slice;
    a label change that does not alter the selection, and an annotation change, write nothing."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    env.pod("p2", labels={"app": "web"}, ip="10.0.0.2")
    web(env)
    env.wait_endpoint_count("web", 2)
    m = env.mark()
    env.patch_pod("p2", {"metadata": {"labels": {"app": "other"}}})
    assert set(by_pod(env.wait_endpoint_count("web", 1))) == {"p1"}
    assert env.slice_writes(m, "web") == {"MODIFIED": 1}
    m = env.mark()
    env.patch_pod("p2", {"metadata": {"labels": {"app": "web"}}})
    assert set(by_pod(env.wait_endpoint_count("web", 2))) == {"p1", "p2"}
    assert env.slice_writes(m, "web") == {"MODIFIED": 1}
    m = env.mark()
    env.patch_pod("p1", {"metadata": {"labels": {"unrelated": "x"}, "annotations": {"note": "y"}}})
    env.settle()
    assert env.slice_writes(m, "web") == {}


def test_readiness_flip_and_ip_change(env):
    """§2.17: a Ready flip and a podIPs change each cause one update; an IP change replaces the
    endpoint (identity includes the addresses)."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1", ready=False)
    web(env)
    [s] = env.wait_endpoint_count("web", 1)
    assert conds(eps_of(s)[0]) == (False, False, False)
    m = env.mark()
    env.set_pod_status("p1", ip="10.0.0.1", ready=True)
    [s] = env.wait_slices("web", lambda ss: endpoint_count(ss) == 1 and conds(eps_of(ss[0])[0])[0] is True, "ready")
    assert conds(eps_of(s)[0]) == (True, True, False)
    assert env.slice_writes(m, "web") == {"MODIFIED": 1}
    m = env.mark()
    env.set_pod_status("p1", ip="10.0.0.9", ready=True)
    [s] = env.wait_slices("web", lambda ss: [e["addresses"] for e in eps_of(ss[0])] == [["10.0.0.9"]], "new IP")
    assert env.slice_writes(m, "web") == {"MODIFIED": 1}


def test_pod_deletion_removes_endpoint(env):
    """§2.17: deleting one of two pods removes its endpoint with one update."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    env.pod("p2", labels={"app": "web"}, ip="10.0.0.2")
    web(env)
    env.wait_endpoint_count("web", 2)
    m = env.mark()
    env.delete_pod("p2", gracePeriodSeconds="0")
    assert set(by_pod(env.wait_endpoint_count("web", 1))) == {"p1"}
    assert env.slice_writes(m, "web") == {"MODIFIED": 1}


def test_terminating_endpoint_until_pod_is_gone(make_env):
    """§2.6 / §2.8: a terminating pod stays an endpoint (ready false, serving true, terminating
    true) until it is gone."""
    env = make_env(*GRACE)
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1", grace=2)
    env.pod("p2", labels={"app": "web"}, ip="10.0.0.2", grace=2)
    web(env)
    env.wait_endpoint_count("web", 2)
    env.delete_pod("p2")
    ss = env.wait_slices("web", lambda ss: by_pod(ss).get("p2", {}).get("conditions", {}).get("terminating") is True,
                         "p2 terminating")
    assert conds(by_pod(ss)["p2"]) == (False, True, True)
    assert set(by_pod(env.wait_endpoint_count("web", 1, timeout=30))) == {"p1"}


def test_service_deletion_garbage_collects_slices(env):
    """§2.2 / §2.3: slices carry a controller ownerReference to the Service, so deleting the
    Service removes them (garbage collection); the Endpoints controller deletes the Endpoints."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    web(env)
    env.wait_endpoint_count("web", 1)
    env.wait_endpoints("web", lambda ep: ep is not None)
    r = env.api.delete(env.path("/api/v1/namespaces/{ns}/services", "web"))
    assert r.status_code == 200, r.text
    env.wait_slices("web", lambda ss: ss == [], "slices garbage-collected", timeout=30)
    env.wait_endpoints("web", lambda ep: ep is None, "Endpoints deleted", timeout=30)


def test_selector_removed_leaves_slices_alone(env):
    """§2.2 step 3: when a Service loses its selector the controller does nothing: the slices it
    generated before are neither updated nor deleted."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    web(env)
    [s] = env.wait_endpoint_count("web", 1)
    m = env.mark()
    env.patch_service("web", {"spec": {"selector": None}})
    env.set_pod_status("p1", ip="10.0.0.1", ready=False)
    env.settle()
    assert env.slice_writes(m, "web") == {}
    [s2] = env.slices("web")
    assert s2["metadata"]["resourceVersion"] == s["metadata"]["resourceVersion"]


# ---------------------------------------------------------------------------
# §2.4 address types
# ---------------------------------------------------------------------------

def test_ip_family_changes_add_and_delete_slices(env):
    """§2.4: a family removed from ipFamilies → its slices are deleted; a family added → created."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ips=["10.0.0.1", "fd00::1"])
    web(env, headless=True, families=["IPv4", "IPv6"], policy="RequireDualStack")
    ss = env.wait_slices("web", lambda ss: len(ss) == 2 and endpoint_count(ss) == 2)
    v4 = [s for s in ss if s["addressType"] == "IPv4"][0]
    m = env.mark()
    env.patch_service("web", {"spec": {"ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]}})
    [s] = env.wait_slices("web", lambda ss: len(ss) == 1, "IPv6 slice deleted")
    assert s["addressType"] == "IPv4"
    assert s["metadata"]["resourceVersion"] == v4["metadata"]["resourceVersion"]
    assert env.slice_writes(m, "web") == {"DELETED": 1}
    m = env.mark()
    env.patch_service("web", {"spec": {"ipFamilyPolicy": "PreferDualStack", "ipFamilies": ["IPv4", "IPv6"]}})
    ss = env.wait_slices("web", lambda ss: len(ss) == 2 and endpoint_count(ss) == 2, "IPv6 slice back")
    [v6] = [s for s in ss if s["addressType"] == "IPv6"]
    assert [e["addresses"] for e in eps_of(v6)] == [["fd00::1"]]
    assert env.slice_writes(m, "web") == {"ADDED": 1}


# ---------------------------------------------------------------------------
# §2.12 trigger time
# ---------------------------------------------------------------------------

def test_last_change_trigger_time(env):
    """§2.12: first sync → the Service creationTimestamp; a pod's Ready transition → its
    lastTransitionTime; a write with no pod change → the annotation is removed."""
    env.node("node-1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1")
    svc = web(env)
    [s] = env.wait_endpoint_count("web", 1)
    assert parse_time(annotations(s)[TRIGGER]) == parse_time(svc["metadata"]["creationTimestamp"])
    ltt = "2031-05-06T07:08:09Z"
    env.pod("p2", labels={"app": "web"}, ip="10.0.0.2", ready_ltt=ltt)
    [s] = env.wait_endpoint_count("web", 2)
    assert parse_time(annotations(s)[TRIGGER]) == parse_time(ltt)
    env.patch_service("web", {"metadata": {"labels": {"touch": "1"}}})
    [s] = env.wait_slices("web", lambda ss: labels(ss[0]).get("touch") == "1", "label update")
    assert TRIGGER not in annotations(s), annotations(s)


# ---------------------------------------------------------------------------
# §2.17 batching
# ---------------------------------------------------------------------------

def test_batch_period_coalesces_pod_updates(make_env):
    """§2.17: with --endpoint-updates-batch-period 1, three pod updates within a moment → one
    write; two quick ones and a third after that write → two writes."""
    env = make_env(*BATCH)
    env.node("node-1")
    for i in range(3):
        env.pod(f"p{i}", labels={"app": "web"}, ip=f"10.0.0.{i + 1}", ready=False)
    web(env)
    env.wait_endpoint_count("web", 3)
    m = env.mark()
    for i in range(3):
        env.set_pod_status(f"p{i}", ip=f"10.0.0.{i + 1}", ready=True)
    env.wait_slices("web", lambda ss: endpoint_count(ss) == 3 and all(conds(e)[0] for e in eps_of(ss[0])),
                    "all ready")
    assert env.slice_writes(m, "web") == {"MODIFIED": 1}
    m = env.mark()
    for i in range(2):
        env.set_pod_status(f"p{i}", ip=f"10.0.0.{i + 1}", ready=False)
    env.wait_slices("web", lambda ss: sum(1 for e in eps_of(ss[0]) if not conds(e)[0]) == 2, "two not ready")
    env.set_pod_status("p2", ip="10.0.0.3", ready=False)
    env.wait_slices("web", lambda ss: not any(conds(e)[0] for e in eps_of(ss[0])), "none ready")
    assert env.slice_writes(m, "web") == {"MODIFIED": 2}


def test_without_batching_each_pod_update_is_a_write(env):
    """§2.17: batch period 0 → every pod change is synced on its own (3 changes → 3 writes)."""
    env.node("node-1")
    for i in range(3):
        env.pod(f"p{i}", labels={"app": "web"}, ip=f"10.0.0.{i + 1}", ready=False)
    web(env)
    env.wait_endpoint_count("web", 3)
    m = env.mark()
    for i in range(3):
        env.set_pod_status(f"p{i}", ip=f"10.0.0.{i + 1}", ready=True)
        env.wait_slices("web", lambda ss: sum(1 for e in eps_of(ss[0]) if conds(e)[0]) == i + 1, f"{i + 1} ready")
    assert env.slice_writes(m, "web") == {"MODIFIED": 3}


# ---------------------------------------------------------------------------
# §2.14 – §2.16 hints
# ---------------------------------------------------------------------------

def hints(e):
    return e.get("hints")


def test_traffic_distribution_prefer_close_hints(env):
    """§2.16: trafficDistribution PreferClose → each ready endpoint with a zone is hinted for its
    zone; not-ready and zoneless endpoints get no hints; removing the field removes the hints."""
    env.node("n1", zone="z1")
    env.node("n2", zone="z2")
    env.node("nz")
    env.pod("a", labels={"app": "web"}, ip="10.0.0.1", node="n1")
    env.pod("b", labels={"app": "web"}, ip="10.0.0.2", node="n2")
    env.pod("c", labels={"app": "web"}, ip="10.0.0.3", node="n1", ready=False)
    env.pod("d", labels={"app": "web"}, ip="10.0.0.4", node="nz")
    web(env, trafficDistribution="PreferClose")
    eps = by_pod(env.wait_endpoint_count("web", 4))
    assert hints(eps["a"]) == {"forZones": [{"name": "z1"}]}
    assert hints(eps["b"]) == {"forZones": [{"name": "z2"}]}
    assert hints(eps["c"]) is None and hints(eps["d"]) is None, (eps["c"], eps["d"])
    m = env.mark()
    env.patch_service("web", {"spec": {"trafficDistribution": None}})
    ss = env.wait_slices("web", lambda ss: not any(hints(e) for e in eps_of(ss[0])), "hints removed")
    assert endpoint_count(ss) == 4
    assert env.slice_writes(m, "web") == {"MODIFIED": 1}


def test_topology_mode_auto_hints(make_env):
    """§2.15: topology-mode Auto with two equally sized zones and two ready endpoints in each →
    every endpoint hinted for its own zone; with fewer endpoints than zones → no hints; §2.14:
    annotation precedence and values; removing the annotation removes the hints."""
    env = make_env(tag="topology")
    env.node("a", zone="z1", ready=True, cpu=4)
    env.node("b", zone="z2", ready=True, cpu=4)
    for i, node in enumerate(["a", "a", "b", "b"]):
        env.pod(f"p{i}", labels={"app": "web"}, ip=f"10.0.0.{i + 1}", node=node)
    env.pod("lonely", labels={"app": "lonely"}, ip="10.0.1.1", node="a")
    auto = {"service.kubernetes.io/topology-mode": "Auto"}
    web(env, annotations=auto)
    web(env, name="lonely", selector={"app": "lonely"}, annotations=auto)
    eps = by_pod(env.wait_slices("web", lambda ss: endpoint_count(ss) == 4 and all(hints(e) for e in eps_of(ss[0])),
                                 "4 hinted endpoints"))
    for name, zone in (("p0", "z1"), ("p1", "z1"), ("p2", "z2"), ("p3", "z2")):
        assert hints(eps[name]) == {"forZones": [{"name": zone}]}, (name, eps[name])
    [lonely] = env.wait_endpoint_count("lonely", 1)
    assert hints(eps_of(lonely)[0]) is None, "1 endpoint for 2 zones: insufficient, no hints"
    # §2.14 precedence: the deprecated annotation wins when present; values other than Auto/auto are off
    web(env, name="deprecated", annotations={"service.kubernetes.io/topology-aware-hints": "auto"})
    web(env, name="overridden", annotations={"service.kubernetes.io/topology-aware-hints": "Disabled",
                                             "service.kubernetes.io/topology-mode": "Auto"})
    web(env, name="mixed-case", annotations={"service.kubernetes.io/topology-mode": "aUto"})
    dep = by_pod(env.wait_slices("deprecated", lambda ss: endpoint_count(ss) == 4
                                 and all(hints(e) for e in eps_of(ss[0])), "deprecated annotation hints"))
    assert hints(dep["p0"]) == {"forZones": [{"name": "z1"}]} and hints(dep["p3"]) == {"forZones": [{"name": "z2"}]}
    for name in ("overridden", "mixed-case"):
        ss = env.wait_endpoint_count(name, 4)
        assert not any(hints(e) for e in eps_of(ss[0])), (name, ss)
    m = env.mark()
    env.patch_service("web", {"metadata": {"annotations": {"service.kubernetes.io/topology-mode": None}}})
    env.wait_slices("web", lambda ss: endpoint_count(ss) == 4 and not any(hints(e) for e in eps_of(ss[0])),
                    "hints removed")
    assert env.slice_writes(m, "web") == {"MODIFIED": 1}


def test_zone_label_on_existing_node_shows_up_on_next_sync(env):
    """§2.17: Node changes do not resync Services by themselves; the endpoint's zone follows the
    Node on the next sync of the Service (here: a Service label change)."""
    env.node("n1")
    env.pod("p1", labels={"app": "web"}, ip="10.0.0.1", node="n1")
    web(env)
    [s] = env.wait_endpoint_count("web", 1)
    assert "zone" not in eps_of(s)[0]
    r = env.api.patch(f"/api/v1/nodes/{env.node_name('n1')}", {"metadata": {"labels": {ZONE: "z7"}}},
                      content_type="application/merge-patch+json")
    assert r.status_code == 200, r.text
    time.sleep(0.2)
    env.patch_service("web", {"metadata": {"labels": {"touch": "1"}}})
    [s] = env.wait_slices("web", lambda ss: eps_of(ss[0]) and eps_of(ss[0])[0].get("zone") == "z7", "zone z7")
