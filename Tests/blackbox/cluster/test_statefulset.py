"""StatefulSets behind a headless Service on the simulated cluster: stable names and hostnames in the
EndpointSlices and Endpoints, ordered and parallel creation, scale-down and rolling updates by ordinal.

Pods turn Ready 0.3 s after they start, so OrderedReady's wait for each pod is observable; the template's
2 s grace period scaled by 0.1 keeps terminating pods around for a moment."""

import pytest

from clusterlib import APPS, live_pods, ordered_pod_events, pod_names, service, slices, wait_rollout, workload
from helpers import MERGE, wait_for


@pytest.fixture
def cluster(make_cluster):
    return make_cluster("--pod-ready-delay", "0.3", "--termination-grace-scale", "0.1")


def statefulset(name, replicas, image="nginx:1.27", **spec):
    return workload("StatefulSet", name, image=image, grace=2, replicas=replicas, serviceName=name, **spec)


def first(events, pred):
    return next((i for i, e in enumerate(events) if pred(e)), None)


def all_ready(names):
    """Every named pod was ADDED during the watch and later seen Ready (and not terminating)."""
    def done(evs):
        for name in names:
            added = first(evs, lambda e: e[0] == "ADDED" and e[1] == name)
            if added is None or first(evs[added:], lambda e: e[1] == name and e[2] and not e[3]) is None:
                return False
        return True
    return done


def test_ordered_ready_creation_hostnames_in_slices_and_endpoints(cluster, kubectl_for):
    srv, api = cluster
    api.create("/api/v1/namespaces/default/services", service("web", headless=True))
    names = ["web-0", "web-1", "web-2"]
    events = ordered_pod_events(api, "web", lambda: api.create(f"{APPS}/statefulsets", statefulset("web", 3)),
                                until=all_ready(names))
    # OrderedReady: web-(k+1) is created only after web-k was seen Ready
    for k in range(2):
        ready_k = first(events, lambda e: e[1] == names[k] and e[2])
        added_next = first(events, lambda e: e[0] == "ADDED" and e[1] == names[k + 1])
        assert ready_k is not None and added_next is not None and ready_k < added_next, events
    out = wait_rollout(kubectl_for(srv), "statefulset/web")
    assert out == "partitioned roll out complete: 3 new pods have been updated...\n", out

    for p in live_pods(api, "web"):
        assert p["spec"]["hostname"] == p["metadata"]["name"] and p["spec"]["subdomain"] == "web", p["spec"]
        assert p["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == p["metadata"]["name"]
        assert p["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == p["metadata"]["name"].split("-")[1]

    def slice_hostnames():
        items = slices(api, "web")
        eps = [e for s in items for e in (s.get("endpoints") or []) if e["conditions"].get("ready")]
        return items, eps if len(eps) == 3 else None

    wait_for(lambda: slice_hostnames()[1], timeout=10, what="3 ready endpoints")
    items, eps = slice_hostnames()
    assert {e["targetRef"]["name"]: e.get("hostname") for e in eps} == {n: n for n in names}, eps
    for s in items:
        assert s["metadata"]["labels"]["service.kubernetes.io/headless"] == "", s["metadata"]["labels"]
    ep = api.read("/api/v1/namespaces/default/endpoints/web")
    assert ep["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    addrs = [a for s in ep["subsets"] for a in s.get("addresses") or []]
    assert {a["targetRef"]["name"]: a.get("hostname") for a in addrs} == {n: n for n in names}, ep["subsets"]


def test_parallel_creates_all_pods_at_once(cluster):
    _, api = cluster
    api.create("/api/v1/namespaces/default/services", service("par", headless=True))
    names = ["par-0", "par-1", "par-2"]
    events = ordered_pod_events(api, "par", lambda: api.create(
        f"{APPS}/statefulsets", statefulset("par", 3, podManagementPolicy="Parallel")), until=all_ready(names))
    first_ready = first(events, lambda e: e[2])
    added = [first(events, lambda e, n=n: e[0] == "ADDED" and e[1] == n) for n in names]
    assert None not in added and max(added) < first_ready, events


def test_scale_down_removes_highest_ordinals_first(cluster):
    _, api = cluster
    api.create("/api/v1/namespaces/default/services", service("db", headless=True))
    api.create(f"{APPS}/statefulsets", statefulset("db", 4))
    wait_for(lambda: pod_names(api, "db") == ["db-0", "db-1", "db-2", "db-3"] and
             api.read(f"{APPS}/statefulsets/db")["status"].get("readyReplicas") == 4, timeout=20, what="4 ready pods")

    def scale():
        r = api.patch(f"{APPS}/statefulsets/db/scale", {"spec": {"replicas": 1}}, content_type=MERGE)
        assert r.status_code == 200, r.text

    events = ordered_pod_events(api, "db", scale, until=lambda evs: {n for t, n, _, _ in evs if t == "DELETED"} ==
                                {"db-1", "db-2", "db-3"})
    terminating = [n for n in dict.fromkeys(n for _, n, _, term in events if term)]
    assert terminating == ["db-3", "db-2", "db-1"], events
    # OrderedReady: one at a time, each gone before the next one is deleted
    for a, b in [("db-3", "db-2"), ("db-2", "db-1")]:
        assert first(events, lambda e: e[0] == "DELETED" and e[1] == a) < first(events, lambda e: e[1] == b and e[3])
    assert pod_names(api, "db") == ["db-0"]
    assert [e["targetRef"]["name"] for s in slices(api, "db") for e in s.get("endpoints") or []] == ["db-0"]


def test_rolling_update_replaces_pods_in_reverse_ordinal_order(cluster, kubectl_for):
    srv, api = cluster
    kubectl = kubectl_for(srv)
    api.create("/api/v1/namespaces/default/services", service("roll", headless=True))
    api.create(f"{APPS}/statefulsets", statefulset("roll", 3))
    wait_rollout(kubectl, "statefulset/roll")
    before = api.read(f"{APPS}/statefulsets/roll")["status"]
    assert before["currentRevision"] == before["updateRevision"]

    def update():
        r = api.patch(f"{APPS}/statefulsets/roll", {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "nginx:1.28"}]}}}})
        assert r.status_code == 200, r.text

    names = ["roll-2", "roll-1", "roll-0"]
    events = ordered_pod_events(api, "roll", update, until=all_ready(names))
    assert [n for n in dict.fromkeys(n for _, n, _, term in events if term)] == names, events
    # each replacement is Ready before the next lower ordinal is taken down
    for a, b in [("roll-2", "roll-1"), ("roll-1", "roll-0")]:
        readd = first(events, lambda e: e[0] == "ADDED" and e[1] == a)
        ready = first(events[readd:], lambda e: e[1] == a and e[2])
        assert ready is not None and readd + ready < first(events, lambda e: e[1] == b and e[3]), events
    out = wait_rollout(kubectl, "statefulset/roll")
    assert out == "partitioned roll out complete: 3 new pods have been updated...\n", out
    after = api.read(f"{APPS}/statefulsets/roll")["status"]
    assert after["currentRevision"] == after["updateRevision"] != before["updateRevision"], after
    for p in live_pods(api, "roll"):
        assert p["spec"]["containers"][0]["image"] == "nginx:1.28"
        assert p["metadata"]["labels"]["controller-revision-hash"] == after["updateRevision"]
