"""Subresources (scale, eviction), deletecollection, fieldValidation, dry-run details."""

import pytest

from helpers import (MERGE, SMP, WatchStream, assert_status, deployment, endpoints, pod, service)


def test_deployment_scale_get_patch_put(api, ns):
    d = api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", deployment("web", replicas=2))
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale"
    sc = api.read(path)
    assert sc["kind"] == "Scale" and sc["apiVersion"] == "autoscaling/v1"
    assert sc["metadata"]["name"] == "web" and sc["metadata"]["namespace"] == ns
    assert sc["metadata"]["uid"] == d["metadata"]["uid"]
    assert sc["spec"]["replicas"] == 2
    assert sc["status"]["selector"] == "app=web"
    r = api.patch(path, {"spec": {"replicas": 3}}, content_type=MERGE)
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["replicas"] == 3
    dep = api.read(f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    assert dep["spec"]["replicas"] == 3
    assert dep["metadata"]["generation"] == 2
    # The controller may have written status since; the Scale shows the parent's version at the time.
    assert int(r.json()["metadata"]["resourceVersion"]) <= int(dep["metadata"]["resourceVersion"])
    # Python sends SMP to /scale
    r = api.patch(path, {"spec": {"replicas": 4}}, content_type=SMP)
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 4
    # PUT with a stale resourceVersion conflicts
    sc["spec"]["replicas"] = 9
    r = api.put(path, sc)
    assert_status(r, 409, "Conflict")
    for _ in range(20):  # read-modify-write retries on conflict: the controller writes status meanwhile
        cur = api.read(path)
        cur["spec"]["replicas"] = 1
        r = api.put(path, cur)
        if r.status_code != 409:
            break
    assert r.status_code == 200, r.text
    assert api.read(f"/apis/apps/v1/namespaces/{ns}/deployments/web")["spec"]["replicas"] == 1


@pytest.mark.parametrize("resource,kind", [("statefulsets", "StatefulSet"), ("replicasets", "ReplicaSet")])
def test_other_scale_subresources(api, ns, resource, kind):
    body = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "s"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "s"}},
                     "template": {"metadata": {"labels": {"app": "s"}},
                                  "spec": {"containers": [{"name": "a", "image": "x"}]}}}}
    if kind == "StatefulSet":
        body["spec"]["serviceName"] = "s"
    api.create(f"/apis/apps/v1/namespaces/{ns}/{resource}", body)
    r = api.patch(f"/apis/apps/v1/namespaces/{ns}/{resource}/s/scale", {"spec": {"replicas": 0}}, content_type=MERGE)
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "Scale"
    assert api.read(f"/apis/apps/v1/namespaces/{ns}/{resource}/s")["spec"]["replicas"] == 0


def test_daemonset_has_no_scale(api, ns):
    api.create(f"/apis/apps/v1/namespaces/{ns}/daemonsets", {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "d"}},
                 "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}}}})
    assert_status(api.get(f"/apis/apps/v1/namespaces/{ns}/daemonsets/d/scale"), 404, "NotFound")


def test_pod_eviction(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("ev", node="node-1"))
    r = api.post(f"/api/v1/namespaces/{ns}/pods/ev/eviction",
                 {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "ev", "namespace": ns},
                  "deleteOptions": {}})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "Status" and body["status"] == "Success"
    from helpers import wait_for
    wait_for(lambda: api.get(f"/api/v1/namespaces/{ns}/pods/ev").status_code == 404, timeout=15,
             what="evicted pod to disappear")
    r = api.post(f"/api/v1/namespaces/{ns}/pods/ev/eviction",
                 {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "ev", "namespace": ns}})
    assert_status(r, 404, "NotFound", message='pods "ev" not found')


def test_delete_collection(api, ns):
    for i in range(4):
        api.create(f"/api/v1/namespaces/{ns}/endpoints", endpoints(f"e{i}", labels={"even": str(i % 2 == 0).lower()}))
    rv = api.read(f"/api/v1/namespaces/{ns}/endpoints")["metadata"]["resourceVersion"]
    w = WatchStream(api.base, f"/api/v1/namespaces/{ns}/endpoints", {"watch": "true", "resourceVersion": rv})
    try:
        r = api.delete(f"/api/v1/namespaces/{ns}/endpoints", params={"labelSelector": "even=true"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["kind"] == "EndpointsList"
        assert sorted(i["metadata"]["name"] for i in body["items"]) == ["e0", "e2"]
        left = api.read(f"/api/v1/namespaces/{ns}/endpoints")
        assert sorted(i["metadata"]["name"] for i in left["items"]) == ["e1", "e3"]
        evs = w.take(2, timeout=10)
        assert sorted((e["type"], e["object"]["metadata"]["name"]) for e in evs) == [("DELETED", "e0"), ("DELETED", "e2")]
    finally:
        w.close()


def test_field_validation_strict_unknown_field(api, ns):
    body = service("strict")
    body["spec"]["bogus"] = 1
    r = api.post(f"/api/v1/namespaces/{ns}/services", body, params={"fieldValidation": "Strict"})
    assert_status(r, 400, "BadRequest",
                  message='Service in version "v1" cannot be handled as a Service: strict decoding error: '
                          'unknown field "spec.bogus"')
    assert api.get(f"/api/v1/namespaces/{ns}/services/strict").status_code == 404


def test_field_validation_ignore_and_warn(api, ns):
    body = service("lax")
    body["spec"]["bogus"] = 1
    r = api.post(f"/api/v1/namespaces/{ns}/services", body, params={"fieldValidation": "Ignore"})
    assert r.status_code == 201, r.text
    assert "bogus" not in r.json()["spec"]
    body["metadata"]["name"] = "warn"
    r = api.post(f"/api/v1/namespaces/{ns}/services", body, params={"fieldValidation": "Warn"})
    assert r.status_code == 201, r.text
    assert "bogus" not in r.json()["spec"]
    warning = r.headers.get("Warning", "")
    assert warning.startswith('299 - "'), r.headers
    assert "unknown field" in warning and "spec.bogus" in warning, warning


def test_status_is_cleared_on_create(api, ns):
    body = deployment("st")
    body["status"] = {"replicas": 7, "readyReplicas": 7}
    d = api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", body)
    assert d.get("status", {}).get("readyReplicas") in (None, 0)


def test_watch_sees_namespace_deletion_of_contents(api):
    import uuid
    from helpers import wait_for
    name = f"nsw-{uuid.uuid4().hex[:6]}"
    api.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    api.create(f"/api/v1/namespaces/{name}/services", service("s1"))
    api.create(f"/api/v1/namespaces/{name}/services", service("s2"))
    rv = api.read(f"/api/v1/namespaces/{name}/services")["metadata"]["resourceVersion"]
    w = WatchStream(api.base, f"/api/v1/namespaces/{name}/services", {"watch": "true", "resourceVersion": rv})
    try:
        api.delete(f"/api/v1/namespaces/{name}")
        evs, ok = w.take_until(lambda e: False, timeout=3)
        deleted = sorted(e["object"]["metadata"]["name"] for e in evs if e["type"] == "DELETED")
        assert deleted == ["s1", "s2"], evs
    finally:
        w.close()
    wait_for(lambda: api.get(f"/api/v1/namespaces/{name}").status_code == 404, timeout=15, what="namespace gone")
