"""Builders and observers shared by the simulated-cluster acceptance tests (no pytest fixtures here)."""

import copy

from helpers import WatchStream, wait_for

APPS = "/apis/apps/v1/namespaces/default"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"


def template(app, image="nginx:1.27", grace=None):
    spec = {"containers": [{"name": "app", "image": image, "ports": [{"containerPort": 8080}]}]}
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"metadata": {"labels": {"app": app}}, "spec": spec}


def workload(kind, name, image="nginx:1.27", grace=None, **spec):
    """A Deployment, StatefulSet or DaemonSet selecting `app: name`; `spec` adds or overrides spec fields."""
    body = {"selector": {"matchLabels": {"app": name}}, "template": template(name, image, grace)}
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": body}


def deployment(name, replicas, **strategy):
    """A Deployment of `replicas` nginx pods labelled `app: name`; `strategy` becomes spec.strategy."""
    return workload("Deployment", name, replicas=replicas, **({"strategy": strategy} if strategy else {}))


def service(name, headless=False):
    spec = {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}
    if headless:
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def slices(api, svc):
    return api.read(SLICES, params={"labelSelector": f"kubernetes.io/service-name={svc}"})["items"]


def endpoints_of(items):
    return [e for s in items for e in (s.get("endpoints") or [])]


def ready_endpoints(api, svc):
    return [e for e in endpoints_of(slices(api, svc)) if e["conditions"].get("ready")]


def live_pods(api, app):
    pods = api.read("/api/v1/namespaces/default/pods", params={"labelSelector": f"app={app}"})["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def pod_names(api, app):
    return sorted(p["metadata"]["name"] for p in live_pods(api, app))


class SliceWatch:
    """Watches a Service's EndpointSlices from a listed resourceVersion and rebuilds their state after
    every event; `history` holds (event type, endpoints of all slices) per event."""

    def __init__(self, api, svc):
        lst = api.read(SLICES, params={"labelSelector": f"kubernetes.io/service-name={svc}"})
        self.state = {s["metadata"]["name"]: s for s in lst["items"]}
        self.history = [("LIST", endpoints_of(self.state.values()))]
        self.stream = WatchStream(api.base, SLICES, params={
            "watch": "true", "resourceVersion": lst["metadata"]["resourceVersion"],
            "labelSelector": f"kubernetes.io/service-name={svc}"})

    def pump(self, until=None, timeout=30):
        """Applies events until until(endpoints) holds after one (or, without `until`, until quiet)."""
        def apply(ev):
            assert ev["type"] in ("ADDED", "MODIFIED", "DELETED"), ev
            name = ev["object"]["metadata"]["name"]
            if ev["type"] == "DELETED":
                self.state.pop(name, None)
            else:
                self.state[name] = ev["object"]
            eps = copy.deepcopy(endpoints_of(self.state.values()))
            self.history.append((ev["type"], eps))
            return eps

        if until is None:
            for ev in self.stream.drain(quiet=0.5, timeout=timeout):
                apply(ev)
            return
        if until(self.history[-1][1]):
            return
        _, ok = self.stream.take_until(lambda ev: until(apply(ev)), timeout=timeout)
        assert ok, f"the EndpointSlice watch never showed the expected state; last: {self.history[-1]}"

    def close(self):
        self.stream.close()


def ordered_pod_events(api, app, action, until, timeout=30):
    """Runs action() with a watch on the app's pods open; returns [(type, name, ready, terminating)] until
    until(events) holds."""
    lst = api.read("/api/v1/namespaces/default/pods", params={"labelSelector": f"app={app}"})
    w = WatchStream(api.base, "/api/v1/namespaces/default/pods", params={
        "watch": "true", "resourceVersion": lst["metadata"]["resourceVersion"], "labelSelector": f"app={app}"})
    out = []
    try:
        action()

        def note(ev):
            p = ev["object"]
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))
            out.append((ev["type"], p["metadata"]["name"], ready, bool(p["metadata"].get("deletionTimestamp"))))
            return until(out)

        _, ok = w.take_until(note, timeout=timeout)
        assert ok, f"pod events never reached the expected state: {out}"
    finally:
        w.close()
    return out


def wait_rollout(kubectl, ref, timeout=60):
    p = kubectl.run("rollout", "status", ref, f"--timeout={timeout}s", timeout=timeout + 30)
    assert p.returncode == 0, f"rollout status {ref}: rc={p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


def wait_ready(api, app, n, timeout=30):
    return wait_for(lambda: len([p for p in live_pods(api, app) if any(
        c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]) == n,
        timeout=timeout, what=f"{n} ready pods of {app}")
