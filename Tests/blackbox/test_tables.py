"""Server-side Table output (Accept: application/json;as=Table;v=v1;g=meta.k8s.io)."""

import re

import pytest

from helpers import (MERGE, TABLE_ACCEPT, WatchStream, deployment, endpoints, endpointslice, pod, service,
                     unique)

AGE = re.compile(r"^(\d+s|\d+m\d*s?|\d+m)$")


def table(api, path, **params):
    r = api.get(path, accept=TABLE_ACCEPT, params=params or None)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    t = r.json()
    assert t["kind"] == "Table", t
    assert t["apiVersion"] == "meta.k8s.io/v1"
    assert re.match(r"^\d+$", t["metadata"]["resourceVersion"])
    for row in t["rows"]:
        assert len(row["cells"]) == len(t["columnDefinitions"])
    return t


def columns(t):
    return [(c["name"], c["type"], c.get("priority", 0)) for c in t["columnDefinitions"]]


def row_map(t, name):
    cols = [c["name"] for c in t["columnDefinitions"]]
    for row in t["rows"]:
        if row["cells"][0] == name:
            return dict(zip(cols, row["cells"])), row
    raise AssertionError(f"no row {name!r} in {[r['cells'][0] for r in t['rows']]}")


def test_pod_table(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("web-1", node="node-1", labels={"app": "web"}))
    r = api.patch(f"/api/v1/namespaces/{ns}/pods/web-1/status", {"status": {
        "phase": "Running", "podIP": "10.244.0.11", "podIPs": [{"ip": "10.244.0.11"}],
        "containerStatuses": [{"name": "app", "ready": True, "restartCount": 2, "image": "nginx:1.27",
                               "imageID": "", "started": True, "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}}]}},
        content_type=MERGE)
    assert r.status_code == 200, r.text
    t = table(api, f"/api/v1/namespaces/{ns}/pods")
    assert columns(t) == [("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0),
                          ("Restarts", "string", 0), ("Age", "string", 0), ("IP", "string", 1),
                          ("Node", "string", 1), ("Nominated Node", "string", 1), ("Readiness Gates", "string", 1)]
    assert t["columnDefinitions"][0]["format"] == "name"
    cells, row = row_map(t, "web-1")
    assert cells["Ready"] == "1/1"
    assert cells["Status"] == "Running"
    assert cells["Restarts"] == "2"
    assert AGE.match(cells["Age"]), cells["Age"]
    assert cells["IP"] == "10.244.0.11"
    assert cells["Node"] == "node-1"
    assert cells["Nominated Node"] == "<none>"
    assert cells["Readiness Gates"] == "<none>"
    obj = row["object"]
    assert obj["kind"] == "PartialObjectMetadata"
    assert obj["apiVersion"] == "meta.k8s.io/v1"
    assert obj["metadata"]["name"] == "web-1"
    assert obj["metadata"]["namespace"] == ns
    assert obj["metadata"]["labels"] == {"app": "web"}
    assert "spec" not in obj


def test_pending_pod_row(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("pend", containers=[{"name": "a", "image": "x"},
                                                                         {"name": "b", "image": "y"}]))
    cells, _ = row_map(table(api, f"/api/v1/namespaces/{ns}/pods"), "pend")
    assert cells["Ready"] == "0/2"
    assert cells["Status"] == "Pending"
    assert cells["Restarts"] == "0"
    assert cells["IP"] == "<none>"
    assert cells["Node"] == "<none>"


def test_table_include_object(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/pods", pod("io"))
    t = table(api, f"/api/v1/namespaces/{ns}/pods", includeObject="Object")
    _, row = row_map(t, "io")
    assert row["object"]["kind"] == "Pod"
    assert row["object"]["spec"]["containers"][0]["name"] == "app"
    t = table(api, f"/api/v1/namespaces/{ns}/pods", includeObject="None")
    _, row = row_map(t, "io")
    assert row.get("object") is None


def test_table_single_object(api, ns):
    created = api.create(f"/api/v1/namespaces/{ns}/services", service("one", selector={"app": "one"}))
    t = table(api, f"/api/v1/namespaces/{ns}/services/one")
    assert len(t["rows"]) == 1
    assert t["rows"][0]["cells"][0] == "one"
    assert t["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_table_pagination(api, ns):
    for i in range(3):
        api.create(f"/api/v1/namespaces/{ns}/endpoints", endpoints(f"e{i}"))
    t = table(api, f"/api/v1/namespaces/{ns}/endpoints", limit="2")
    assert len(t["rows"]) == 2
    assert t["metadata"]["continue"]
    assert t["metadata"]["remainingItemCount"] == 1
    t2 = table(api, f"/api/v1/namespaces/{ns}/endpoints", limit="2", **{"continue": t["metadata"]["continue"]})
    assert len(t2["rows"]) == 1


def test_service_table(api, ns):
    svc = api.create(f"/api/v1/namespaces/{ns}/services",
                     service("web", ports=[{"name": "http", "port": 80}, {"name": "https", "port": 443, "protocol": "TCP"}],
                             selector={"tier": "fe", "app": "web"}))
    api.create(f"/api/v1/namespaces/{ns}/services",
               service("np", ports=[{"port": 80, "nodePort": 30080}], type="NodePort"))
    api.create(f"/api/v1/namespaces/{ns}/services", service("hl", clusterIP="None"))
    api.create(f"/api/v1/namespaces/{ns}/services",
               {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
                "spec": {"type": "ExternalName", "externalName": "example.com"}})
    t = table(api, f"/api/v1/namespaces/{ns}/services")
    assert columns(t) == [("Name", "string", 0), ("Type", "string", 0), ("Cluster-IP", "string", 0),
                          ("External-IP", "string", 0), ("Port(s)", "string", 0), ("Age", "string", 0),
                          ("Selector", "string", 1)]
    cells, _ = row_map(t, "web")
    assert cells["Type"] == "ClusterIP"
    assert cells["Cluster-IP"] == svc["spec"]["clusterIP"]
    assert cells["External-IP"] == "<none>"
    assert cells["Port(s)"] == "80/TCP,443/TCP"
    assert cells["Selector"] == "app=web,tier=fe"
    cells, _ = row_map(t, "np")
    assert cells["Type"] == "NodePort"
    assert cells["Port(s)"] == "80:30080/TCP"
    assert cells["Selector"] == "<none>"
    cells, _ = row_map(t, "hl")
    assert cells["Cluster-IP"] == "None"
    cells, _ = row_map(t, "ext")
    assert cells["Type"] == "ExternalName"
    assert cells["External-IP"] == "example.com"
    assert cells["Port(s)"] == "<none>"


def test_nodeport_is_allocated(api, ns):
    svc = api.create(f"/api/v1/namespaces/{ns}/services", service("npa", type="NodePort"))
    np = svc["spec"]["ports"][0]["nodePort"]
    assert 30000 <= np <= 32767
    cells, _ = row_map(table(api, f"/api/v1/namespaces/{ns}/services"), "npa")
    assert cells["Port(s)"] == f"80:{np}/TCP"


def test_namespace_table(api):
    t = table(api, "/api/v1/namespaces")
    assert columns(t) == [("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)]
    cells, row = row_map(t, "kube-system")
    assert cells["Status"] == "Active"
    assert row["object"]["metadata"]["name"] == "kube-system"


def test_endpoints_table(api, ns):
    api.create(f"/api/v1/namespaces/{ns}/endpoints", endpoints("ep", ips=("10.1.0.1", "10.1.0.2"), port=8080))
    api.create(f"/api/v1/namespaces/{ns}/endpoints",
               endpoints("many", ips=("10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5"), port=80))
    api.create(f"/api/v1/namespaces/{ns}/endpoints",
               {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "empty"}})
    t = table(api, f"/api/v1/namespaces/{ns}/endpoints")
    assert columns(t) == [("Name", "string", 0), ("Endpoints", "string", 0), ("Age", "string", 0)]
    assert row_map(t, "ep")[0]["Endpoints"] == "10.1.0.1:8080,10.1.0.2:8080"
    assert row_map(t, "many")[0]["Endpoints"] == "10.1.0.1:80,10.1.0.2:80,10.1.0.3:80 + 2 more..."
    assert row_map(t, "empty")[0]["Endpoints"] == "<none>"


def test_endpointslice_table(api, ns):
    api.create(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
               endpointslice("es", addresses=("10.0.0.5", "10.0.0.6"), port=8080))
    api.create(f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "bare"},
        "addressType": "IPv4", "endpoints": []})
    t = table(api, f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices")
    assert columns(t) == [("Name", "string", 0), ("AddressType", "string", 0), ("Ports", "string", 0),
                          ("Endpoints", "string", 0), ("Age", "string", 0)]
    cells, _ = row_map(t, "es")
    assert cells["AddressType"] == "IPv4"
    assert cells["Ports"] == "8080"
    assert cells["Endpoints"] == "10.0.0.5,10.0.0.6"
    cells, _ = row_map(t, "bare")
    assert cells["Ports"] == "<unset>"
    assert cells["Endpoints"] == "<unset>"


def test_deployment_table(api, ns):
    api.create(f"/apis/apps/v1/namespaces/{ns}/deployments", deployment("web", replicas=3, app="web"))
    t = table(api, f"/apis/apps/v1/namespaces/{ns}/deployments")
    assert [c[0] for c in columns(t)] == ["Name", "Ready", "Up-to-date", "Available", "Age", "Containers",
                                          "Images", "Selector"]
    assert [c[2] for c in columns(t)] == [0, 0, 0, 0, 0, 1, 1, 1]
    cells, _ = row_map(t, "web")
    assert re.match(r"^\d+/3$", cells["Ready"]), cells["Ready"]
    assert cells["Containers"] == "app"
    assert cells["Images"] == "nginx:1.27"
    assert cells["Selector"] == "app=web"


def test_node_table(api):
    name = unique("node")
    api.create("/api/v1/nodes", {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"node-role.kubernetes.io/control-plane": "",
                                              "kubernetes.io/role": "worker"}},
        "spec": {"unschedulable": True}})
    r = api.patch(f"/api/v1/nodes/{name}/status", {"status": {
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok",
                        "lastHeartbeatTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"}],
        "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": name}],
        "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Debian GNU/Linux 12", "kernelVersion": "6.1.0",
                     "containerRuntimeVersion": "containerd://1.7.0", "machineID": "", "systemUUID": "",
                     "bootID": "", "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"}}},
        content_type=MERGE)
    assert r.status_code == 200, r.text
    try:
        t = table(api, "/api/v1/nodes")
        assert [c[0] for c in columns(t)] == ["Name", "Status", "Roles", "Age", "Version", "Internal-IP",
                                              "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"]
        cells, _ = row_map(t, name)
        assert cells["Status"] == "Ready,SchedulingDisabled"
        assert cells["Roles"] == "control-plane,worker"
        assert cells["Version"] == "v1.32.4"
        assert cells["Internal-IP"] == "172.18.0.2"
        assert cells["External-IP"] == "<none>"
        assert cells["OS-Image"] == "Debian GNU/Linux 12"
        assert cells["Kernel-Version"] == "6.1.0"
        assert cells["Container-Runtime"] == "containerd://1.7.0"
    finally:
        api.delete(f"/api/v1/nodes/{name}")


def test_table_watch(api, ns):
    t = table(api, f"/api/v1/namespaces/{ns}/pods")
    w = WatchStream(api.base, f"/api/v1/namespaces/{ns}/pods",
                    {"watch": "true", "resourceVersion": t["metadata"]["resourceVersion"]}, accept=TABLE_ACCEPT)
    try:
        api.create(f"/api/v1/namespaces/{ns}/pods", pod("tw1"))
        api.create(f"/api/v1/namespaces/{ns}/pods", pod("tw2"))
        evs = w.take(2, timeout=10)
        assert [e["type"] for e in evs] == ["ADDED", "ADDED"]
        first, second = evs[0]["object"], evs[1]["object"]
        assert first["kind"] == "Table" and second["kind"] == "Table"
        assert [c["name"] for c in first["columnDefinitions"]][:3] == ["Name", "Ready", "Status"]
        assert not second.get("columnDefinitions")
        assert first["rows"][0]["cells"][0] == "tw1"
        assert second["rows"][0]["cells"][0] == "tw2"
        assert first["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
        assert first["rows"][0]["object"]["metadata"]["namespace"] == ns
    finally:
        w.close()


@pytest.mark.parametrize("resource,kind,cols", [
    ("replicasets", "ReplicaSet", [("Name", 0), ("Desired", 0), ("Current", 0), ("Ready", 0), ("Age", 0),
                                   ("Containers", 1), ("Images", 1), ("Selector", 1)]),
    ("statefulsets", "StatefulSet", [("Name", 0), ("Ready", 0), ("Age", 0), ("Containers", 1), ("Images", 1)]),
    ("daemonsets", "DaemonSet", [("Name", 0), ("Desired", 0), ("Current", 0), ("Ready", 0), ("Up-to-date", 0),
                                 ("Available", 0), ("Node Selector", 0), ("Age", 0), ("Containers", 1),
                                 ("Images", 1), ("Selector", 1)]),
])
def test_workload_table_columns(api, ns, resource, kind, cols):
    body = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "w"},
            "spec": {"selector": {"matchLabels": {"app": "w"}},
                     "template": {"metadata": {"labels": {"app": "w"}},
                                  "spec": {"containers": [{"name": "c1", "image": "img:1"},
                                                          {"name": "c2", "image": "img:2"}]}}}}
    if kind != "DaemonSet":
        body["spec"]["replicas"] = 2
    if kind == "StatefulSet":
        body["spec"]["serviceName"] = "w"
    api.create(f"/apis/apps/v1/namespaces/{ns}/{resource}", body)
    t = table(api, f"/apis/apps/v1/namespaces/{ns}/{resource}")
    assert [(c[0], c[2]) for c in columns(t)] == cols
    cells, _ = row_map(t, "w")
    assert cells["Containers"] == "c1,c2"
    assert cells["Images"] == "img:1,img:2"
    if kind == "ReplicaSet":
        assert cells["Desired"] == 2
        assert cells["Selector"] == "app=w"
    if kind == "StatefulSet":
        assert re.match(r"^\d+/2$", cells["Ready"])
    if kind == "DaemonSet":
        assert cells["Node Selector"] == "<none>"
        assert cells["Selector"] == "app=w"
