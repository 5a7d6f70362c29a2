"""LIST (selectors, pagination, resourceVersion rules) and WATCH semantics."""

import re

import pytest

from helpers import (MERGE, Api, WatchStream, assert_status, curl, endpoints, json_lines, pod,
                     rv_int, service, unique)


def names(lst):
    return sorted(i["metadata"]["name"] for i in lst["items"])


# --- list shape ---------------------------------------------------------------

@pytest.mark.parametrize("path,kind,api_version", [
    ("/api/v1/namespaces/{ns}/pods", "PodList", "v1"),
    ("/api/v1/namespaces/{ns}/services", "ServiceList", "v1"),
    ("/api/v1/namespaces/{ns}/endpoints", "EndpointsList", "v1"),
    ("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", "EndpointSliceList", "discovery.k8s.io/v1"),
    ("/apis/apps/v1/namespaces/{ns}/deployments", "DeploymentList", "apps/v1"),
    ("/apis/apps/v1/namespaces/{ns}/replicasets", "ReplicaSetList", "apps/v1"),
    ("/apis/apps/v1/namespaces/{ns}/statefulsets", "StatefulSetList", "apps/v1"),
    ("/apis/apps/v1/namespaces/{ns}/daemonsets", "DaemonSetList", "apps/v1"),
    ("/api/v1/nodes", "NodeList", "v1"),
])
def test_empty_list_shape(api, ns, path, kind, api_version):
    r = api.get(path.format(ns=ns))
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["kind"] == kind
    assert body["apiVersion"] == api_version
    assert re.match(r"^\d+$", body["metadata"]["resourceVersion"])
    assert isinstance(body["items"], list)
    if "{ns}" in path:
        assert body["items"] == []


def test_list_resource_version_covers_items(api, ns):
    p = api.create(f"/api/v1/namespaces/{ns}/pods", pod("a"))
    lst = api.read(f"/api/v1/namespaces/{ns}/pods")
    assert int(lst["metadata"]["resourceVersion"]) >= rv_int(p)
    assert lst["items"][0]["metadata"]["resourceVersion"] == p["metadata"]["resourceVersion"]


# --- label selectors ------------------------------------------------------------

@pytest.fixture
def labelled(api, ns):
    for name, labels in [("a", {"app": "web", "tier": "fe"}), ("b", {"app": "web", "tier": "be"}),
                         ("c", {"app": "db"}), ("d", None), ("e", {"app": "web", "tier": "", "n": "7"})]:
        api.create(f"/api/v1/namespaces/{ns}/pods", pod(name, labels=labels))
    return ns


@pytest.mark.parametrize("selector,expected", [
    ("app=web", ["a", "b", "e"]),
    ("app==web", ["a", "b", "e"]),
    ("app!=web", ["c", "d"]),
    ("tier in (fe,be)", ["a", "b"]),
    ("tier in (fe, )", ["a", "e"]),
    ("tier notin (fe)", ["b", "c", "d", "e"]),
    ("tier", ["a", "b", "e"]),
    ("!tier", ["c", "d"]),
    ("app=web,tier=fe", ["a"]),
    ("app in (web,db),!tier", ["c"]),
    ("app in (web), tier notin (be,fe)", ["e"]),
    ("n>5", ["e"]),
    ("n<5", []),
    ("", ["a", "b", "c", "d", "e"]),
])
def test_label_selector(api, labelled, selector, expected):
    lst = api.read(f"/api/v1/namespaces/{labelled}/pods", params={"labelSelector": selector})
    assert names(lst) == expected, selector


@pytest.mark.parametrize("selector", ["app in web", "app=(x", "!!app", "app=web,,", "a b"])
def test_bad_label_selector_is_400(api, ns, selector):
    r = api.get(f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": selector})
    assert_status(r, 400, "BadRequest")


def test_label_selector_all_namespaces(api):
    tag = unique("sel")
    n1, n2 = unique("lsa"), unique("lsb")
    for n in (n1, n2):
        api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}})
        api.create(f"/api/v1/namespaces/{n}/services", service("s", labels={"tag": tag}))
        api.create(f"/api/v1/namespaces/{n}/services", service("other", labels={"tag": "no"}))
    try:
        lst = api.read("/api/v1/services", params={"labelSelector": f"tag={tag}"})
        assert sorted((i["metadata"]["namespace"], i["metadata"]["name"]) for i in lst["items"]) == \
            sorted([(n1, "s"), (n2, "s")])
    finally:
        for n in (n1, n2):
            api.delete(f"/api/v1/namespaces/{n}")


# --- field selectors --------------------------------------------------------------

@pytest.fixture
def scheduled(api, ns):
    for name, node, phase, ip in [("p1", "node-1", "Running", "10.244.0.1"), ("p2", "node-2", "Running", "10.244.0.2"),
                                  ("p3", "node-1", "Succeeded", "10.244.0.3"), ("p4", None, None, None)]:
        api.create(f"/api/v1/namespaces/{ns}/pods", pod(name, node=node))
        if phase:
            r = api.patch(f"/api/v1/namespaces/{ns}/pods/{name}/status",
                          {"status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}]}}, content_type=MERGE)
            assert r.status_code == 200, r.text
    return ns


@pytest.mark.parametrize("selector,expected", [
    ("metadata.name=p1", ["p1"]),
    ("metadata.name!=p1", ["p2", "p3", "p4"]),
    ("spec.nodeName=node-1", ["p1", "p3"]),
    ("spec.nodeName==node-2", ["p2"]),
    ("spec.nodeName=", ["p4"]),
    ("status.phase=Running", ["p1", "p2"]),
    ("spec.nodeName=node-1,status.phase!=Succeeded,status.phase!=Failed", ["p1"]),
    ("status.podIP=10.244.0.2", ["p2"]),
    ("spec.restartPolicy=Always", ["p1", "p2", "p3", "p4"]),
    ("spec.schedulerName=default-scheduler", ["p1", "p2", "p3", "p4"]),
])
def test_pod_field_selectors(api, scheduled, selector, expected):
    lst = api.read(f"/api/v1/namespaces/{scheduled}/pods", params={"fieldSelector": selector})
    assert names(lst) == expected, selector


def test_field_selector_metadata_namespace_all_namespaces(api, scheduled):
    lst = api.read("/api/v1/pods", params={"fieldSelector": f"metadata.namespace={scheduled}"})
    assert names(lst) == ["p1", "p2", "p3", "p4"]
    lst = api.read("/api/v1/pods", params={"fieldSelector": f"metadata.namespace={scheduled},spec.nodeName=node-2"})
    assert names(lst) == ["p2"]


def test_field_and_label_selector_combined(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("x1", labels={"app": "web"}, node="n1"))
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("x2", labels={"app": "web"}, node="n2"))
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("x3", labels={"app": "db"}, node="n1"))
    lst = api.read(f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": "app=web", "fieldSelector": "spec.nodeName=n1"})
    assert names(lst) == ["x1"]


def test_service_field_selectors(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/services", service("c1"))
    api.create(f"/api/v1/namespaces/{ns}/services", service("h1", clusterIP="None"))
    api.create(f"/api/v1/namespaces/{ns}/services", service("np", type="NodePort"))
    assert names(api.read(f"/api/v1/namespaces/{ns}/services", params={"fieldSelector": "spec.clusterIP!=None"})) == ["c1", "np"]
    assert names(api.read(f"/api/v1/namespaces/{ns}/services", params={"fieldSelector": "spec.type=NodePort"})) == ["np"]


def test_namespace_field_selector(api):
    lst = api.read("/api/v1/namespaces", params={"fieldSelector": "metadata.name=kube-system"})
    assert names(lst) == ["kube-system"]
    lst = api.read("/api/v1/namespaces", params={"fieldSelector": "status.phase=Active,metadata.name=default"})
    assert names(lst) == ["default"]


def test_unknown_field_selector_pods(api, ns):
    r = api.get(f"/api/v1/namespaces/{ns}/pods", params={"fieldSelector": "spec.foo=bar"})
    assert_status(r, 400, "BadRequest", message="field label not supported: spec.foo")


def test_unknown_field_selector_default_kind(api, ns):
    r = api.get(f"/api/v1/namespaces/{ns}/endpoints", params={"fieldSelector": "spec.foo=bar"})
    assert_status(r, 400, "BadRequest",
                  message='"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"')


def test_malformed_field_selector(api, ns):
    r = api.get(f"/api/v1/namespaces/{ns}/pods", params={"fieldSelector": "metadata.name"})
    assert_status(r, 400, "BadRequest")


# --- pagination -----------------------------------------------------------------------

def _pages(api, path, limit, **params):
    out, token, metas = [], None, []
    while True:
        q = dict(params, limit=str(limit))
        if token:
            q["continue"] = token
        body = api.read(path, params=q)
        out.append(body)
        metas.append(body["metadata"])
        token = body["metadata"].get("continue")
        if not token:
            return out


def test_pagination_small(api, ns):
    for i in range(5):
        api.create(f"/api/v1/namespaces/{ns}/services", service(f"s{i}"))
    path = f"/api/v1/namespaces/{ns}/services"
    p1 = api.read(path, params={"limit": "2"})
    assert len(p1["items"]) == 2
    assert p1["metadata"]["continue"]
    assert p1["metadata"]["remainingItemCount"] == 3
    p2 = api.read(path, params={"limit": "2", "continue": p1["metadata"]["continue"]})
    assert len(p2["items"]) == 2
    assert p2["metadata"]["remainingItemCount"] == 1
    assert p2["metadata"]["resourceVersion"] == p1["metadata"]["resourceVersion"]
    p3 = api.read(path, params={"limit": "2", "continue": p2["metadata"]["continue"]})
    assert len(p3["items"]) == 1
    assert not p3["metadata"].get("continue")
    assert "remainingItemCount" not in p3["metadata"]
    got = [i["metadata"]["name"] for p in (p1, p2, p3) for i in p["items"]]
    assert sorted(got) == [f"s{i}" for i in range(5)]
    assert len(set(got)) == 5


def test_pagination_exact_fit_has_no_continue(api, ns):
    for i in range(3):
        api.create(f"/api/v1/namespaces/{ns}/endpoints", endpoints(f"e{i}"))
    body = api.read(f"/api/v1/namespaces/{ns}/endpoints", params={"limit": "3"})
    assert len(body["items"]) == 3
    assert not body["metadata"].get("continue")
    body = api.read(f"/api/v1/namespaces/{ns}/endpoints", params={"limit": "500"})
    assert len(body["items"]) == 3 and not body["metadata"].get("continue")


def test_pagination_with_label_selector(api, ns):
    for i in range(6):
        api.create(f"/api/v1/namespaces/{ns}/pods", pod(f"p{i}", labels={"even": str(i % 2 == 0).lower()}))
    pages = _pages(api, f"/api/v1/namespaces/{ns}/pods", 2, labelSelector="even=true")
    got = [i["metadata"]["name"] for p in pages for i in p["items"]]
    assert sorted(got) == ["p0", "p2", "p4"]


def test_pagination_is_a_consistent_snapshot(api, ns):
    path = f"/api/v1/namespaces/{ns}/services"
    for i in range(4):
        api.create(path, service(f"s{i}"))
    p1 = api.read(path, params={"limit": "2"})
    first = [i["metadata"]["name"] for i in p1["items"]]
    rest = sorted({"s0", "s1", "s2", "s3"} - set(first))
    # change the world between pages
    api.create(path, service("s9"))
    api.delete(f"{path}/{rest[0]}")
    p2 = api.read(path, params={"limit": "10", "continue": p1["metadata"]["continue"]})
    assert sorted(i["metadata"]["name"] for i in p2["items"]) == rest
    assert p2["metadata"]["resourceVersion"] == p1["metadata"]["resourceVersion"]


def test_invalid_continue_token_is_400(api, ns):
    r = api.get(f"/api/v1/namespaces/{ns}/pods", params={"limit": "1", "continue": "!!not-a-token!!"})
    assert_status(r, 400, "BadRequest")


def test_resource_version_with_continue_is_400(api, ns):
    for i in range(3):
        api.create(f"/api/v1/namespaces/{ns}/pods", pod(f"p{i}"))
    p1 = api.read(f"/api/v1/namespaces/{ns}/pods", params={"limit": "1"})
    r = api.get(f"/api/v1/namespaces/{ns}/pods",
                params={"limit": "1", "continue": p1["metadata"]["continue"],
                        "resourceVersion": p1["metadata"]["resourceVersion"]})
    assert_status(r, 400, "BadRequest", message="specifying resource version is not allowed when using continue")


def test_expired_continue_token_is_410(kemu_factory):
    srv = kemu_factory("--event-history", "20")
    api = Api(srv.url)
    for i in range(5):
        api.create("/api/v1/namespaces/default/endpoints", endpoints(f"e{i}"))
    p1 = api.read("/api/v1/namespaces/default/endpoints", params={"limit": "2"})
    for i in range(40):
        api.patch("/api/v1/namespaces/default/endpoints/e4", {"metadata": {"labels": {"i": str(i)}}},
                  content_type=MERGE)
    r = api.get("/api/v1/namespaces/default/endpoints", params={"limit": "2", "continue": p1["metadata"]["continue"]})
    assert_status(r, 410, "Expired", message_prefix="The provided continue parameter is too old")


@pytest.mark.parametrize("params,fragment", [
    ({"resourceVersionMatch": "NotOlderThan"},
     "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"),
    ({"resourceVersionMatch": "Bogus", "resourceVersion": "1"}, 'resourceVersionMatch: Unsupported value: "Bogus"'),
    ({"resourceVersionMatch": "Exact", "resourceVersion": "0"},
     'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'),
    ({"sendInitialEvents": "true"}, "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"),
])
def test_list_option_validation_is_422(api, ns, params, fragment):
    r = api.get(f"/api/v1/namespaces/{ns}/pods", params=params)
    st = assert_status(r, 422, "Invalid", message_contains=fragment)
    assert st["details"]["kind"] == "ListOptions"
    assert st["details"]["group"] == "meta.k8s.io"


def test_resource_version_match_with_continue_is_422(api, ns):
    for i in range(3):
        api.create(f"/api/v1/namespaces/{ns}/pods", pod(f"p{i}"))
    p1 = api.read(f"/api/v1/namespaces/{ns}/pods", params={"limit": "1"})
    r = api.get(f"/api/v1/namespaces/{ns}/pods",
                params={"limit": "1", "continue": p1["metadata"]["continue"],
                        "resourceVersionMatch": "NotOlderThan", "resourceVersion": "1"})
    assert_status(r, 422, "Invalid",
                  message_contains="resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided")


def test_list_resource_version_variants(api, ns):
    created = api.create(f"/api/v1/namespaces/{ns}/pods", pod("rv"))
    rv = created["metadata"]["resourceVersion"]
    for params in ({"resourceVersion": "0"}, {"resourceVersion": rv},
                   {"resourceVersion": rv, "resourceVersionMatch": "NotOlderThan"},
                   {"resourceVersion": "0", "resourceVersionMatch": "NotOlderThan"}):
        body = api.read(f"/api/v1/namespaces/{ns}/pods", params=params)
        assert names(body) == ["rv"], params
        assert int(body["metadata"]["resourceVersion"]) >= int(rv)


def test_get_with_resource_version_zero(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("g"))
    assert api.read(f"/api/v1/namespaces/{ns}/pods/g", params={"resourceVersion": "0"})["metadata"]["name"] == "g"


# --- watch ------------------------------------------------------------------------------

def test_watch_added_modified_deleted(api, ns):
    lst = api.read(f"/api/v1/namespaces/{ns}/pods")
    w = WatchStream(api.base, f"/api/v1/namespaces/{ns}/pods",
                    {"watch": "true", "resourceVersion": lst["metadata"]["resourceVersion"]})
    try:
        assert w.status == 200
        assert w.headers.get("Content-Type", "").startswith("application/json")
        te = {k.lower(): v for k, v in w.headers.items()}.get("transfer-encoding", "")
        assert te.lower() == "chunked", w.headers
        c = api.create(f"/api/v1/namespaces/{ns}/pods", pod("w1"))
        m = api.patch(f"/api/v1/namespaces/{ns}/pods/w1", {"metadata": {"labels": {"a": "b"}}},
                      content_type=MERGE).json()
        api.delete(f"/api/v1/namespaces/{ns}/pods/w1", params={"gracePeriodSeconds": "0"})
        evs = w.take(3, timeout=10)
        assert [e["type"] for e in evs] == ["ADDED", "MODIFIED", "DELETED"], evs
        assert evs[0]["object"]["metadata"]["resourceVersion"] == c["metadata"]["resourceVersion"]
        assert evs[1]["object"]["metadata"]["resourceVersion"] == m["metadata"]["resourceVersion"]
        assert evs[1]["object"]["metadata"]["labels"] == {"a": "b"}
        assert rv_int(evs[2]["object"]) > rv_int(evs[1]["object"])
        for e in evs:
            assert e["object"]["kind"] == "Pod" and e["object"]["apiVersion"] == "v1"
            assert e["object"]["metadata"]["name"] == "w1"
        # the DELETED event carries the final state
        assert evs[2]["object"]["metadata"]["labels"] == {"a": "b"}
    finally:
        w.close()


def test_watch_each_event_is_one_line(api, ns):
    rv = api.read(f"/api/v1/namespaces/{ns}/services")["metadata"]["resourceVersion"]
    w = WatchStream(api.base, f"/api/v1/namespaces/{ns}/services", {"watch": "1", "resourceVersion": rv})
    try:
        for i in range(3):
            api.create(f"/api/v1/namespaces/{ns}/services", service(f"l{i}"))
        evs = w.take(3, timeout=10)
        assert len(evs) == 3
        assert len(w.raw_lines) == 3
        assert all(e["type"] == "ADDED" for e in evs)
    finally:
        w.close()


def test_watch_without_resource_version_sends_synthetic_added(api, ns):
    for i in range(3):
        api.create(f"/api/v1/namespaces/{ns}/endpoints", endpoints(f"e{i}"))
    w = WatchStream(api.base, f"/api/v1/namespaces/{ns}/endpoints", {"watch": "true"})
    try:
        evs = w.take(3, timeout=10)
        assert [e["type"] for e in evs] == ["ADDED"] * 3
        assert sorted(e["object"]["metadata"]["name"] for e in evs) == ["e0", "e1", "e2"]
        api.create(f"/api/v1/namespaces/{ns}/endpoints", endpoints("e3"))
        ev = w.next(timeout=10)
        assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "e3"
    finally:
        w.close()


def test_watch_resource_version_zero_sends_synthetic_added(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/endpoints", endpoints("z"))
    w = WatchStream(api.base, f"/api/v1/namespaces/{ns}/endpoints", {"watch": "true", "resourceVersion": "0"})
    try:
        ev = w.next(timeout=10)
        assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "z"
    finally:
        w.close()


def test_watch_with_label_selector_transitions(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("t", labels={"app": "x"}))
    rv = api.read(f"/api/v1/namespaces/{ns}/pods")["metadata"]["resourceVersion"]
    w = WatchStream(api.base, f"/api/v1/namespaces/{ns}/pods",
                    {"watch": "true", "resourceVersion": rv, "labelSelector": "app=web"})
    try:
        path = f"/api/v1/namespaces/{ns}/pods/t"
        api.patch(path, {"metadata": {"labels": {"app": "web"}}}, content_type=MERGE)   # starts matching
        api.patch(path, {"metadata": {"labels": {"v": "2"}}}, content_type=MERGE)       # still matching
        api.patch(path, {"metadata": {"labels": {"app": "db"}}}, content_type=MERGE)    # stops matching
        api.patch(path, {"metadata": {"labels": {"v": "3"}}}, content_type=MERGE)       # invisible
        api.create(f"/api/v1/namespaces/{ns}/pods", pod("u", labels={"app": "web"}))
        evs = w.take(4, timeout=10)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == [
            ("ADDED", "t"), ("MODIFIED", "t"), ("DELETED", "t"), ("ADDED", "u")], evs
        assert evs[2]["object"]["metadata"]["labels"]["app"] == "db"
    finally:
        w.close()


def test_watch_single_object_by_field_selector(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("one"))
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("two"))
    w = WatchStream(api.base, f"/api/v1/namespaces/{ns}/pods",
                    {"watch": "true", "resourceVersion": "0", "fieldSelector": "metadata.name=one"})
    try:
        ev = w.next(timeout=10)
        assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "one"
        api.patch(f"/api/v1/namespaces/{ns}/pods/two", {"metadata": {"labels": {"x": "1"}}}, content_type=MERGE)
        api.patch(f"/api/v1/namespaces/{ns}/pods/one", {"metadata": {"labels": {"x": "1"}}}, content_type=MERGE)
        ev = w.next(timeout=10)
        assert ev["type"] == "MODIFIED" and ev["object"]["metadata"]["name"] == "one"
    finally:
        w.close()


def test_watch_all_namespaces(api, ns):
    rv = api.read("/api/v1/services")["metadata"]["resourceVersion"]
    w = WatchStream(api.base, "/api/v1/services", {"watch": "true", "resourceVersion": rv})
    try:
        api.create(f"/api/v1/namespaces/{ns}/services", service("anyns"))
        evs, ok = w.take_until(lambda e: e["object"]["metadata"].get("name") == "anyns")
        assert ok, evs
        assert evs[-1]["type"] == "ADDED"
        assert evs[-1]["object"]["metadata"]["namespace"] == ns
    finally:
        w.close()


def test_legacy_watch_paths(api, ns):
    rv = api.read(f"/api/v1/namespaces/{ns}/pods")["metadata"]["resourceVersion"]
    coll = WatchStream(api.base, f"/api/v1/watch/namespaces/{ns}/pods", {"resourceVersion": rv})
    allns = WatchStream(api.base, "/api/v1/watch/pods", {"resourceVersion": rv})
    apps = WatchStream(api.base, f"/apis/apps/v1/watch/namespaces/{ns}/deployments", {"resourceVersion": rv})
    try:
        assert coll.status == 200 and allns.status == 200 and apps.status == 200
        api.create(f"/api/v1/namespaces/{ns}/pods", pod("lw"))
        ev = coll.next(timeout=10)
        assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "lw"
        evs, ok = allns.take_until(lambda e: e["object"]["metadata"].get("name") == "lw")
        assert ok
        single = WatchStream(api.base, f"/api/v1/watch/namespaces/{ns}/pods/lw", {"resourceVersion": rv})
        try:
            ev = single.next(timeout=10)
            assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "lw"
            api.create(f"/api/v1/namespaces/{ns}/pods", pod("other"))
            api.patch(f"/api/v1/namespaces/{ns}/pods/lw", {"metadata": {"labels": {"k": "v"}}}, content_type=MERGE)
            ev = single.next(timeout=10)
            assert ev["type"] == "MODIFIED" and ev["object"]["metadata"]["name"] == "lw"
        finally:
            single.close()
        api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
        ev = apps.next(timeout=10)
        assert ev["type"] == "ADDED" and ev["object"]["kind"] == "Deployment"
    finally:
        coll.close()
        allns.close()
        apps.close()


def test_watch_timeout_seconds_ends_stream(api, ns):
    w = WatchStream(api.base, f"/api/v1/namespaces/{ns}/pods", {"watch": "true", "timeoutSeconds": "1"})
    try:
        assert w.wait_end(15), "server did not close the watch after timeoutSeconds=1"
        assert w.error is None, w.error
    finally:
        w.close()


def test_watch_resume_replays_missed_events_curl(api, ns):
    path = f"/api/v1/namespaces/{ns}/pods"
    first = api.create(path, pod("r0"))
    since = first["metadata"]["resourceVersion"]
    api.create(path, pod("r1"))
    api.patch(f"{path}/r0", {"metadata": {"labels": {"m": "1"}}}, content_type=MERGE)
    api.delete(f"{path}/r1", params={"gracePeriodSeconds": "0"})
    api.create(path, pod("r2"))
    code, body = curl("-N", f"{api.base}{path}?watch=true&resourceVersion={since}&timeoutSeconds=2")
    assert code == 200
    evs = json_lines(body)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == [
        ("ADDED", "r1"), ("MODIFIED", "r0"), ("DELETED", "r1"), ("ADDED", "r2")], evs
    rvs = [rv_int(e["object"]) for e in evs]
    assert rvs == sorted(rvs) and len(set(rvs)) == 4
    assert rvs[0] > int(since)
    # resuming from the last seen RV yields nothing more
    code, body = curl("-N", f"{api.base}{path}?watch=true&resourceVersion={rvs[-1]}&timeoutSeconds=1")
    assert code == 200 and json_lines(body) == []


def test_watch_too_old_resource_version_410_curl(kemu_factory):
    srv = kemu_factory("--event-history", "20")
    api = Api(srv.url)
    first = api.create("/api/v1/namespaces/default/endpoints", endpoints("old"))
    for i in range(40):
        api.patch("/api/v1/namespaces/default/endpoints/old", {"metadata": {"labels": {"i": str(i)}}},
                  content_type=MERGE)
    code, body = curl("-N", f"{srv.url}/api/v1/namespaces/default/endpoints?watch=true"
                            f"&resourceVersion={first['metadata']['resourceVersion']}&timeoutSeconds=5")
    assert code == 200
    evs = json_lines(body)
    assert len(evs) == 1, evs
    assert evs[0]["type"] == "ERROR"
    st = evs[0]["object"]
    assert st["kind"] == "Status" and st["apiVersion"] == "v1"
    assert st["status"] == "Failure"
    assert st["code"] == 410
    assert st["reason"] == "Expired"
    m = re.match(r"^too old resource version: (\d+) \((\d+)\)$", st["message"])
    assert m, st["message"]
    assert int(m.group(1)) == rv_int(first)
    assert int(m.group(2)) > rv_int(first)
    # a recent RV still works on the same server
    cur = api.read("/api/v1/namespaces/default/endpoints")["metadata"]["resourceVersion"]
    code, body = curl("-N", f"{srv.url}/api/v1/namespaces/default/endpoints?watch=true"
                            f"&resourceVersion={cur}&timeoutSeconds=1")
    assert code == 200 and json_lines(body) == []


def test_watch_bookmarks(kemu_factory):
    srv = kemu_factory("--watch-bookmark-interval", "1")
    api = Api(srv.url)
    api.create("/api/v1/namespaces/default/pods", pod("bm"))
    rv = api.read("/api/v1/namespaces/default/pods")["metadata"]["resourceVersion"]
    w = WatchStream(srv.url, "/api/v1/namespaces/default/pods",
                    {"watch": "true", "resourceVersion": rv, "allowWatchBookmarks": "true"})
    plain = WatchStream(srv.url, "/api/v1/namespaces/default/pods", {"watch": "true", "resourceVersion": rv})
    try:
        evs, ok = w.take_until(lambda e: e["type"] == "BOOKMARK", timeout=10)
        assert ok, f"no BOOKMARK within 10s: {evs}"
        bm = evs[-1]["object"]
        assert bm["kind"] == "Pod" and bm["apiVersion"] == "v1"
        assert int(bm["metadata"]["resourceVersion"]) >= int(rv)
        # bookmarks advance with writes
        c = api.create("/api/v1/namespaces/default/pods", pod("bm2"))
        evs, ok = w.take_until(lambda e: e["type"] == "BOOKMARK" and rv_int(e["object"]) >= rv_int(c), timeout=10)
        assert ok, evs
        assert ("ADDED", "bm2") in [(e["type"], e["object"]["metadata"].get("name")) for e in evs]
        # a watch that did not ask for bookmarks gets none
        got = plain.drain(quiet=2.5, timeout=4)
        assert [e["type"] for e in got] == ["ADDED"], got
    finally:
        w.close()
        plain.close()


def test_watch_send_initial_events(api, ns):
    for i in range(3):
        api.create(f"/api/v1/namespaces/{ns}/services", service(f"i{i}"))
    list_rv = api.read(f"/api/v1/namespaces/{ns}/services")["metadata"]["resourceVersion"]
    w = WatchStream(api.base, f"/api/v1/namespaces/{ns}/services",
                    {"watch": "true", "sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
                     "allowWatchBookmarks": "true"})
    try:
        evs, ok = w.take_until(lambda e: e["type"] == "BOOKMARK", timeout=10)
        assert ok, evs
        assert [e["type"] for e in evs] == ["ADDED", "ADDED", "ADDED", "BOOKMARK"]
        assert sorted(e["object"]["metadata"]["name"] for e in evs[:3]) == ["i0", "i1", "i2"]
        bm = evs[3]["object"]
        assert bm["kind"] == "Service"
        assert bm["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        assert int(bm["metadata"]["resourceVersion"]) >= int(list_rv)
        api.create(f"/api/v1/namespaces/{ns}/services", service("after"))
        ev = w.next(timeout=10)
        while ev is not None and ev["type"] == "BOOKMARK":
            ev = w.next(timeout=10)
        assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "after"
    finally:
        w.close()


@pytest.mark.parametrize("params,fragment", [
    ({"sendInitialEvents": "true"},
     "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"),
    ({"resourceVersionMatch": "NotOlderThan", "resourceVersion": "1"},
     "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"),
])
def test_watch_option_validation_is_422(api, ns, params, fragment):
    r = api.get(f"/api/v1/namespaces/{ns}/pods", params=dict(params, watch="true"), timeout=10)
    assert_status(r, 422, "Invalid", message_contains=fragment)


def test_watch_field_selector_transitions(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("fs", node="node-1"))
    rv = api.read(f"/api/v1/namespaces/{ns}/pods")["metadata"]["resourceVersion"]
    w = WatchStream(api.base, f"/api/v1/namespaces/{ns}/pods",
                    {"watch": "true", "resourceVersion": rv, "fieldSelector": "status.phase=Running"})
    try:
        st = f"/api/v1/namespaces/{ns}/pods/fs/status"
        api.patch(st, {"status": {"phase": "Running"}}, content_type=MERGE)
        api.patch(f"/api/v1/namespaces/{ns}/pods/fs", {"metadata": {"labels": {"a": "1"}}}, content_type=MERGE)
        api.patch(st, {"status": {"phase": "Succeeded"}}, content_type=MERGE)
        evs = w.take(3, timeout=10)
        assert [e["type"] for e in evs] == ["ADDED", "MODIFIED", "DELETED"], evs
        assert evs[2]["object"]["status"]["phase"] == "Succeeded"
    finally:
        w.close()


def test_filtered_watch_resume_replays_transitions(api, ns):
    path = f"/api/v1/namespaces/{ns}/endpoints"
    api.create(path, endpoints("x", labels={"app": "web"}))
    api.create(path, endpoints("y", labels={"app": "db"}))
    since = api.read(path)["metadata"]["resourceVersion"]
    api.patch(f"{path}/x", {"metadata": {"labels": {"app": "db"}}}, content_type=MERGE)    # x leaves
    api.patch(f"{path}/y", {"metadata": {"labels": {"app": "web"}}}, content_type=MERGE)   # y enters
    api.patch(f"{path}/x", {"metadata": {"labels": {"v": "2"}}}, content_type=MERGE)       # invisible
    api.delete(f"{path}/y")                                                                # y goes
    code, body = curl("-N", f"{api.base}{path}?watch=true&resourceVersion={since}&timeoutSeconds=1"
                            "&labelSelector=app%3Dweb")
    assert code == 200
    evs = json_lines(body)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == [
        ("DELETED", "x"), ("ADDED", "y"), ("DELETED", "y")], evs
