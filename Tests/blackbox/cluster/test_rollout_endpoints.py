"""A Deployment rolled behind a Service, observed through every EndpointSlice event.

kemu runs with 3 nodes, pods turning Ready 0.3 s after they start, and terminating pods kept for a
scaled grace period (10 s x 0.1), so old pods are seen terminating while still ready."""

import pytest

from clusterlib import APPS, SliceWatch, live_pods, service, wait_rollout, workload
from helpers import wait_for

REPLICAS = 3


@pytest.fixture
def cluster(make_cluster):
    return make_cluster("--termination-grace-scale", "0.1", "--pod-ready-delay", "0.3")


def ready_count(eps):
    return len({e["addresses"][0] for e in eps if e["conditions"].get("ready")})


def test_rolling_update_keeps_ready_endpoints_and_shows_terminating(cluster, kubectl_for):
    srv, api = cluster
    kubectl = kubectl_for(srv)
    api.create("/api/v1/namespaces/default/services", service("web"))
    api.create(f"{APPS}/deployments", workload(
        "Deployment", "web", grace=10, replicas=REPLICAS,
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}))
    wait_rollout(kubectl, "deployment/web")
    watch = SliceWatch(api, "web")
    try:
        watch.pump(until=lambda eps: ready_count(eps) == REPLICAS and len(eps) == REPLICAS)
        old_pods = {p["metadata"]["name"] for p in live_pods(api, "web")}
        r = api.patch(f"{APPS}/deployments/web", {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "nginx:1.28"}]}}}})
        assert r.status_code == 200, r.text
        out = wait_rollout(kubectl, "deployment/web")
        assert 'deployment "web" successfully rolled out' in out, out

        new_rs = [rs for rs in api.read(f"{APPS}/replicasets")["items"]
                  if rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"]
        assert len(new_rs) == 1, new_rs
        new_hash = new_rs[0]["metadata"]["labels"]["pod-template-hash"]
        new_pods = {p["metadata"]["name"] for p in live_pods(api, "web")
                    if p["metadata"]["labels"]["pod-template-hash"] == new_hash}
        assert len(new_pods) == REPLICAS and not new_pods & old_pods

        # (c) the slices end with exactly the new pods, all ready
        watch.pump(until=lambda eps: sorted(e["targetRef"]["name"] for e in eps) == sorted(new_pods)
                   and ready_count(eps) == REPLICAS)
        watch.pump()
    finally:
        watch.close()

    history = watch.history
    # (b) maxUnavailable 0: never fewer ready endpoints than replicas, after any event
    low = [(i, ty, eps) for i, (ty, eps) in enumerate(history) if ready_count(eps) < REPLICAS]
    assert not low, f"ready endpoints dropped below {REPLICAS}: first at event {low[0][0]}: {low[0][1:]}"
    # (a) every old pod was seen terminating while still serving, with upstream's conditions
    terminating = {e["targetRef"]["name"]: e["conditions"] for _, eps in history for e in eps
                   if e["conditions"].get("terminating")}
    assert set(terminating) == old_pods, (sorted(terminating), sorted(old_pods))
    serving = {"ready": False, "serving": True, "terminating": True}
    seen_serving = {e["targetRef"]["name"] for _, eps in history for e in eps if e["conditions"] == serving}
    assert seen_serving == old_pods, (sorted(seen_serving), terminating)
    # the surge: at some point a fourth endpoint (a new pod) stood next to the three old ones
    assert max(len(eps) for _, eps in history) > REPLICAS
    # ready endpoints only ever belong to an old or a new pod, and every endpoint points at its pod
    for _, eps in history:
        for e in eps:
            assert e["targetRef"]["kind"] == "Pod" and e["targetRef"]["name"] in old_pods | new_pods, e
    wait_for(lambda: not [p for p in api.read("/api/v1/namespaces/default/pods")["items"]
                          if p["metadata"]["name"] in old_pods], timeout=10, what="old pods gone")
