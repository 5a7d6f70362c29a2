"""Discovery: /api, /apis (legacy and aggregated v2), /api/v1, /apis/G/V, /openapi/v3."""

import pytest

from helpers import AGG_ACCEPT, assert_status

ALL8 = sorted(["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"])


def media_params(ct):
    """'application/json;g=x;v=y' -> ('application/json', {'g': 'x', 'v': 'y'})"""
    parts = [p.strip() for p in ct.split(";")]
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip()] = v.strip()
    return parts[0], params


def by_name(resources):
    return {r["name"]: r for r in resources}


def test_api_legacy(api):
    r = api.get("/api", accept="application/json")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["kind"] == "APIVersions"
    assert body["versions"] == ["v1"]
    cidrs = body["serverAddressByClientCIDRs"]
    assert cidrs and cidrs[0]["clientCIDR"] == "0.0.0.0/0"
    assert cidrs[0]["serverAddress"]


def test_apis_legacy(api):
    r = api.get("/apis", accept="application/json")
    assert r.status_code == 200
    mt, params = media_params(r.headers["Content-Type"])
    assert mt == "application/json" and params.get("as") != "APIGroupDiscoveryList"
    body = r.json()
    assert body["kind"] == "APIGroupList"
    assert body["apiVersion"] == "v1"
    groups = {g["name"]: g for g in body["groups"]}
    for name in ("apps", "discovery.k8s.io"):
        assert name in groups, f"{name} missing from /apis: {list(groups)}"
        g = groups[name]
        assert {"groupVersion": f"{name}/v1", "version": "v1"} in g["versions"]
        assert g["preferredVersion"] == {"groupVersion": f"{name}/v1", "version": "v1"}
    # the core group is never listed under /apis
    assert "" not in groups and "core" not in groups


@pytest.mark.parametrize("group", ["apps", "discovery.k8s.io"])
def test_api_group(api, group):
    body = api.read(f"/apis/{group}")
    assert body["kind"] == "APIGroup"
    assert body["name"] == group
    assert body["preferredVersion"]["groupVersion"] == f"{group}/v1"


def test_api_v1_resource_list(api):
    body = api.read("/api/v1")
    assert body["kind"] == "APIResourceList"
    assert body["groupVersion"] == "v1"
    res = by_name(body["resources"])
    expect = {
        # name: (singular, namespaced, kind, shortNames)
        "pods": ("pod", True, "Pod", ["po"]),
        "services": ("service", True, "Service", ["svc"]),
        "endpoints": ("endpoints", True, "Endpoints", ["ep"]),
        "nodes": ("node", False, "Node", ["no"]),
        "namespaces": ("namespace", False, "Namespace", ["ns"]),
    }
    for name, (singular, namespaced, kind, short) in expect.items():
        assert name in res, f"/api/v1 lacks {name}"
        e = res[name]
        assert e["singularName"] == singular, e
        assert e["namespaced"] is namespaced, e
        assert e["kind"] == kind, e
        assert e.get("shortNames") == short, e
    for name in ("pods", "services", "endpoints", "nodes"):
        assert sorted(res[name]["verbs"]) == ALL8, res[name]
    assert sorted(res["namespaces"]["verbs"]) == sorted(
        ["create", "delete", "get", "list", "patch", "update", "watch"]), res["namespaces"]
    assert "all" in res["pods"].get("categories", [])
    assert "all" in res["services"].get("categories", [])
    # subresources
    assert sorted(res["pods/status"]["verbs"]) == ["get", "patch", "update"]
    assert res["pods/status"]["kind"] == "Pod"
    ev = res["pods/eviction"]
    assert (ev.get("group"), ev.get("version"), ev["kind"]) == ("policy", "v1", "Eviction")
    assert "create" in ev["verbs"]
    assert "services/status" in res and "namespaces/status" in res and "nodes/status" in res


def test_apps_v1_resource_list(api):
    body = api.read("/apis/apps/v1")
    assert body["kind"] == "APIResourceList"
    assert body["groupVersion"] == "apps/v1"
    res = by_name(body["resources"])
    for name, kind, short in [("deployments", "Deployment", ["deploy"]),
                              ("replicasets", "ReplicaSet", ["rs"]),
                              ("statefulsets", "StatefulSet", ["sts"]),
                              ("daemonsets", "DaemonSet", ["ds"])]:
        e = res[name]
        assert e["kind"] == kind and e["namespaced"] is True and e.get("shortNames") == short, e
        assert sorted(e["verbs"]) == ALL8
        assert "all" in e.get("categories", [])
        assert res[f"{name}/status"]["kind"] == kind
    for name in ("deployments", "replicasets", "statefulsets"):
        sc = res[f"{name}/scale"]
        assert (sc.get("group"), sc.get("version"), sc["kind"]) == ("autoscaling", "v1", "Scale"), sc
    assert "daemonsets/scale" not in res
    cr = res["controllerrevisions"]
    assert (cr["kind"], cr["singularName"], cr["namespaced"]) == ("ControllerRevision", "controllerrevision", True), cr
    assert not cr.get("shortNames") and not cr.get("categories"), cr
    assert sorted(cr["verbs"]) == ALL8
    assert not [n for n in res if n.startswith("controllerrevisions/")]


def test_discovery_v1_resource_list(api):
    body = api.read("/apis/discovery.k8s.io/v1")
    assert body["groupVersion"] == "discovery.k8s.io/v1"
    res = by_name(body["resources"])
    e = res["endpointslices"]
    assert e["kind"] == "EndpointSlice"
    assert e["singularName"] == "endpointslice"
    assert e["namespaced"] is True
    assert not e.get("shortNames"), "EndpointSlice has no short name upstream"
    assert sorted(e["verbs"]) == ALL8


def _aggregated(api, path):
    r = api.get(path, accept=AGG_ACCEPT)
    assert r.status_code == 200, r.text
    mt, params = media_params(r.headers["Content-Type"])
    assert mt == "application/json"
    assert params == {"g": "apidiscovery.k8s.io", "v": "v2", "as": "APIGroupDiscoveryList"}, r.headers["Content-Type"]
    body = r.json()
    assert body["kind"] == "APIGroupDiscoveryList"
    assert body["apiVersion"] == "apidiscovery.k8s.io/v2"
    return body


def test_api_aggregated(api):
    body = _aggregated(api, "/api")
    assert len(body["items"]) == 1
    core = body["items"][0]
    assert core["metadata"].get("name", "") == ""
    v1 = core["versions"][0]
    assert v1["version"] == "v1"
    assert v1.get("freshness", "Current") == "Current"
    res = {r["resource"]: r for r in v1["resources"]}
    pods = res["pods"]
    assert pods["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert pods["scope"] == "Namespaced"
    assert pods["singularResource"] == "pod"
    assert pods["shortNames"] == ["po"]
    assert sorted(pods["verbs"]) == ALL8
    subs = {s["subresource"]: s for s in pods.get("subresources", [])}
    assert subs["eviction"]["responseKind"] == {"group": "policy", "version": "v1", "kind": "Eviction"}
    assert sorted(subs["status"]["verbs"]) == ["get", "patch", "update"]
    assert res["namespaces"]["scope"] == "Cluster"
    assert res["nodes"]["scope"] == "Cluster"
    assert res["endpoints"]["shortNames"] == ["ep"]
    assert res["services"]["shortNames"] == ["svc"]


def test_apis_aggregated(api):
    body = _aggregated(api, "/apis")
    groups = {g["metadata"]["name"]: g for g in body["items"]}
    assert "apps" in groups and "discovery.k8s.io" in groups
    apps = {r["resource"]: r for r in groups["apps"]["versions"][0]["resources"]}
    dep = apps["deployments"]
    assert dep["responseKind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert dep["shortNames"] == ["deploy"]
    assert "all" in dep.get("categories", [])
    subs = {s["subresource"]: s for s in dep["subresources"]}
    assert subs["scale"]["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert subs["status"]["responseKind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    disc = {r["resource"]: r for r in groups["discovery.k8s.io"]["versions"][0]["resources"]}
    es = disc["endpointslices"]
    assert es["responseKind"] == {"group": "discovery.k8s.io", "version": "v1", "kind": "EndpointSlice"}
    assert not es.get("shortNames")


def test_unknown_group_version_is_404(api):
    assert_status(api.get("/apis/nope.example.com/v1"), 404, "NotFound")
    assert_status(api.get("/apis/apps/v2"), 404, "NotFound")


def test_openapi_v3_root(api):
    body = api.read("/openapi/v3")
    paths = body["paths"]
    for key in ("api/v1", "apis/apps/v1", "apis/discovery.k8s.io/v1"):
        assert key in paths, f"/openapi/v3 lacks {key}: {sorted(paths)[:20]}"
        assert paths[key]["serverRelativeURL"].startswith("/openapi/v3/" + key), paths[key]


def test_openapi_v3_documents(api):
    root = api.read("/openapi/v3")["paths"]
    doc = api.read(root["api/v1"]["serverRelativeURL"])
    assert doc["openapi"].startswith("3.")
    svc = doc["components"]["schemas"]["io.k8s.api.core.v1.Service"]
    assert {"group": "", "version": "v1", "kind": "Service"} in svc["x-kubernetes-group-version-kind"]
    ports = doc["components"]["schemas"]["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]
    assert ports.get("x-kubernetes-patch-merge-key") == "port"
    apps = api.read(root["apis/apps/v1"]["serverRelativeURL"])
    assert "io.k8s.api.apps.v1.Deployment" in apps["components"]["schemas"]
    disc = api.read(root["apis/discovery.k8s.io/v1"]["serverRelativeURL"])
    assert "io.k8s.api.discovery.v1.EndpointSlice" in disc["components"]["schemas"]
