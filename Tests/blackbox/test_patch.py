"""PATCH: merge, json-patch, strategic merge (with directives), content types."""

import pytest

from helpers import (APPLY, JSONPATCH, MERGE, SMP, CONFLICT_MSG, WatchStream, assert_status, deployment,
                     endpointslice, pod, rv_int, service)


@pytest.fixture
def svc(api, ns):
    body = service("web", ports=[{"name": "http", "port": 80, "targetPort": 8080},
                                 {"name": "https", "port": 443}], selector={"app": "web"}, labels={"a": "1", "b": "2"})
    api.create(f"/api/v1/namespaces/{ns}/services", body)
    return f"/api/v1/namespaces/{ns}/services/web"


@pytest.fixture
def dep(api, ns):
    d = deployment("web")
    d["spec"]["template"]["spec"]["containers"] = [
        {"name": "app", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
        {"name": "sidecar", "image": "envoy:1"},
    ]
    d["metadata"]["finalizers"] = ["example.com/a", "example.com/b"]
    api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", d)
    yield f"/apis/apps/v1/namespaces/{ns}/deployments/web"
    api.patch(f"/apis/apps/v1/namespaces/{ns}/deployments/web", {"metadata": {"finalizers": None}},
              content_type=MERGE)


def containers(d):
    return d["spec"]["template"]["spec"]["containers"]


# --- merge patch ---------------------------------------------------------------

def test_merge_patch_labels(api, svc):
    r = api.patch(svc, {"metadata": {"labels": {"a": None, "c": "3"}}}, content_type=MERGE)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["labels"] == {"b": "2", "c": "3"}
    assert api.read(svc)["metadata"]["labels"] == {"b": "2", "c": "3"}


def test_merge_patch_replaces_lists(api, svc):
    r = api.patch(svc, {"spec": {"ports": [{"port": 8443}]}}, content_type=MERGE)
    assert r.status_code == 200, r.text
    ports = r.json()["spec"]["ports"]
    assert ports == [{"port": 8443, "protocol": "TCP", "targetPort": 8443}]


def test_merge_patch_bumps_resource_version(api, svc):
    before = api.read(svc)
    after = api.patch(svc, {"metadata": {"annotations": {"x": "y"}}}, content_type=MERGE).json()
    assert rv_int(after) > rv_int(before)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]


def test_noop_patch_keeps_resource_version(api, svc):
    before = api.read(svc)
    for ct, body in ((MERGE, {"metadata": {"labels": {"a": "1"}}}), (SMP, {"spec": {"selector": {"app": "web"}}}),
                     (JSONPATCH, [{"op": "test", "path": "/metadata/name", "value": "web"}])):
        r = api.patch(svc, body, content_type=ct)
        assert r.status_code == 200, r.text
        assert r.json()["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], ct


def test_patch_with_stale_resource_version_conflicts(api, svc):
    before = api.read(svc)
    api.patch(svc, {"metadata": {"labels": {"z": "1"}}}, content_type=MERGE)
    r = api.patch(svc, {"metadata": {"resourceVersion": before["metadata"]["resourceVersion"],
                                     "labels": {"z": "2"}}}, content_type=MERGE)
    assert_status(r, 409, "Conflict", message=CONFLICT_MSG.format(res="services", name="web"))


def test_patch_missing_object_is_404(api, ns):
    r = api.patch(f"/api/v1/namespaces/{ns}/pods/ghost", {"metadata": {"labels": {"a": "b"}}}, content_type=MERGE)
    assert_status(r, 404, "NotFound", message='pods "ghost" not found')


def test_patch_dry_run(api, svc):
    before = api.read(svc)
    r = api.patch(svc, {"metadata": {"labels": {"dry": "run"}}}, content_type=MERGE, params={"dryRun": "All"})
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["labels"]["dry"] == "run"
    after = api.read(svc)
    assert "dry" not in after["metadata"]["labels"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_malformed_patch_body_is_400(api, svc):
    r = api.request("PATCH", svc, data="{not json", content_type=MERGE)
    assert_status(r, 400, "BadRequest")


# --- json patch ----------------------------------------------------------------

def test_json_patch_ops(api, dep):
    r = api.patch(dep, [
        {"op": "test", "path": "/spec/replicas", "value": 1},
        {"op": "replace", "path": "/spec/replicas", "value": 5},
        {"op": "add", "path": "/metadata/labels/new", "value": "yes"},
        {"op": "remove", "path": "/spec/template/spec/containers/1"},
        {"op": "add", "path": "/spec/template/spec/containers/0/env/-", "value": {"name": "C", "value": "3"}},
    ], content_type=JSONPATCH)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["spec"]["replicas"] == 5
    assert d["metadata"]["labels"]["new"] == "yes"
    assert [c["name"] for c in containers(d)] == ["app"]
    assert [e["name"] for e in containers(d)[0]["env"]] == ["A", "B", "C"]
    assert d["metadata"]["generation"] == 2


def test_json_patch_failed_test_is_422(api, dep):
    r = api.patch(dep, [{"op": "test", "path": "/spec/replicas", "value": 99},
                        {"op": "replace", "path": "/spec/replicas", "value": 7}], content_type=JSONPATCH)
    assert_status(r, 422, "Invalid")
    assert api.read(dep)["spec"]["replicas"] == 1


def test_json_patch_bad_path_is_422(api, dep):
    r = api.patch(dep, [{"op": "remove", "path": "/spec/doesNotExist"}], content_type=JSONPATCH)
    assert_status(r, 422, "Invalid")


def test_json_patch_not_a_list_is_400(api, dep):
    r = api.patch(dep, {"op": "replace"}, content_type=JSONPATCH)
    assert_status(r, 400, "BadRequest")


# --- strategic merge patch --------------------------------------------------------

def test_smp_service_ports_merge_by_port(api, svc):
    # the body kubectl apply sends (contract §9.4): keeps ports[port=80].name
    r = api.patch(svc, {"spec": {"$setElementOrder/ports": [{"port": 80}, {"port": 443}],
                                 "ports": [{"port": 80, "targetPort": 9090}]}}, content_type=SMP)
    assert r.status_code == 200, r.text
    ports = r.json()["spec"]["ports"]
    assert [p["port"] for p in ports] == [80, 443]
    assert ports[0]["name"] == "http" and ports[0]["targetPort"] == 9090 and ports[0]["protocol"] == "TCP"
    assert ports[1]["name"] == "https" and ports[1]["targetPort"] == 443


def test_smp_add_port_and_delete_port(api, svc):
    r = api.patch(svc, {"spec": {"ports": [{"name": "metrics", "port": 9100}]}}, content_type=SMP)
    assert r.status_code == 200, r.text
    assert [p["port"] for p in r.json()["spec"]["ports"]] == [80, 443, 9100] or \
        sorted(p["port"] for p in r.json()["spec"]["ports"]) == [80, 443, 9100]
    r = api.patch(svc, {"spec": {"ports": [{"$patch": "delete", "port": 443}]}}, content_type=SMP)
    assert r.status_code == 200, r.text
    assert sorted(p["port"] for p in r.json()["spec"]["ports"]) == [80, 9100]


def test_smp_containers_merge_by_name(api, dep):
    r = api.patch(dep, {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}}},
                  content_type=SMP)
    assert r.status_code == 200, r.text
    cs = containers(r.json())
    assert [c["name"] for c in cs] == ["app", "sidecar"]
    assert cs[0]["image"] == "nginx:1.28"
    assert cs[1]["image"] == "envoy:1"
    assert [e["name"] for e in cs[0]["env"]] == ["A", "B"]


def test_smp_nested_env_merge_and_set_element_order(api, dep):
    body = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
        "containers": [{"name": "app", "$setElementOrder/env": [{"name": "B"}, {"name": "A"}],
                        "env": [{"name": "A", "value": "10"}]}]}}}}
    r = api.patch(dep, body, content_type=SMP)
    assert r.status_code == 200, r.text
    cs = containers(r.json())
    assert [c["name"] for c in cs] == ["sidecar", "app"]
    app = cs[1]
    assert app["env"] == [{"name": "B", "value": "2"}, {"name": "A", "value": "10"}]
    assert app["image"] == "nginx:1.27"


def test_smp_patch_delete_directive(api, dep):
    r = api.patch(dep, {"spec": {"template": {"spec": {"containers": [{"$patch": "delete", "name": "sidecar"}]}}}},
                  content_type=SMP)
    assert r.status_code == 200, r.text
    assert [c["name"] for c in containers(r.json())] == ["app"]


def test_smp_patch_replace_directive(api, dep):
    r = api.patch(dep, {"spec": {"template": {"spec": {"containers": [
        {"name": "only", "image": "busybox"}, {"$patch": "replace"}]}}}}, content_type=SMP)
    assert r.status_code == 200, r.text
    assert [c["name"] for c in containers(r.json())] == ["only"]


def test_smp_retain_keys(api, dep):
    before = api.read(dep)
    assert before["spec"]["strategy"]["rollingUpdate"]
    r = api.patch(dep, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, content_type=SMP)
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["strategy"] == {"type": "Recreate"}


def test_smp_delete_from_primitive_list(api, dep):
    r = api.patch(dep, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a"]}}, content_type=SMP)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["finalizers"] == ["example.com/b"]


def test_smp_primitive_merge_list_adds(api, dep):
    r = api.patch(dep, {"metadata": {"finalizers": ["example.com/c"]}}, content_type=SMP)
    assert r.status_code == 200, r.text
    assert sorted(r.json()["metadata"]["finalizers"]) == ["example.com/a", "example.com/b", "example.com/c"]


def test_smp_null_deletes_key(api, svc):
    r = api.patch(svc, {"metadata": {"labels": {"a": None}}, "spec": {"selector": None}}, content_type=SMP)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["labels"] == {"b": "2"}
    assert "selector" not in r.json()["spec"]


def test_smp_atomic_list_is_replaced(api, ns):
    path = f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
    api.create(path, endpointslice("es", addresses=("10.0.0.1", "10.0.0.2")))
    r = api.patch(f"{path}/es", {"endpoints": [{"addresses": ["10.0.0.9"]}]}, content_type=SMP)
    assert r.status_code == 200, r.text
    assert [e["addresses"] for e in r.json()["endpoints"]] == [["10.0.0.9"]]


def test_smp_status_subresource(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("sp"))
    path = f"/api/v1/namespaces/{ns}/pods/sp/status"
    r = api.patch(path, {"status": {"conditions": [{"type": "Ready", "status": "False"},
                                                   {"type": "PodScheduled", "status": "True"}]}}, content_type=SMP)
    assert r.status_code == 200, r.text
    r = api.patch(path, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, content_type=SMP)
    assert r.status_code == 200, r.text
    conds = {c["type"]: c["status"] for c in r.json()["status"]["conditions"]}
    assert conds == {"Ready": "True", "PodScheduled": "True"}


def test_smp_node_unschedulable_cordon(api):
    name = "cordon-node"
    api.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    try:
        r = api.patch(f"/api/v1/nodes/{name}", {"spec": {"unschedulable": True}}, content_type=SMP)
        assert r.json()["spec"]["unschedulable"] is True
        r = api.patch(f"/api/v1/nodes/{name}", {"spec": {"unschedulable": None}}, content_type=SMP)
        assert "unschedulable" not in r.json()["spec"]
    finally:
        api.delete(f"/api/v1/nodes/{name}")


def test_smp_patch_event_reaches_watchers(api, svc, ns):
    rv = api.read(svc)["metadata"]["resourceVersion"]
    w = WatchStream(api.base, f"/api/v1/namespaces/{ns}/services", {"watch": "true", "resourceVersion": rv})
    try:
        api.patch(svc, {"metadata": {"labels": {"w": "1"}}}, content_type=SMP)
        ev = w.next(timeout=10)
        assert ev["type"] == "MODIFIED"
        assert ev["object"]["metadata"]["labels"]["w"] == "1"
    finally:
        w.close()


# --- content types -----------------------------------------------------------------

def test_apply_patch_is_415_for_now(api, svc):
    r = api.request("PATCH", svc, data='{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"}}',
                    content_type=APPLY, params={"fieldManager": "test"})
    st = assert_status(r, 415, "UnsupportedMediaType")
    assert "accepted media types include:" in st["message"], st["message"]


def test_unknown_patch_type_is_415(api, svc):
    r = api.request("PATCH", svc, data='{"metadata":{}}', content_type="text/plain")
    st = assert_status(r, 415, "UnsupportedMediaType",
                       message_prefix="the body of the request was in an unknown format - accepted media types include:")
    for mt in (JSONPATCH, MERGE, SMP):
        assert mt in st["message"]
