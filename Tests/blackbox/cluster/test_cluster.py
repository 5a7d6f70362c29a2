"""The simulated cluster (issue 4): nodes in zones, workloads become ready pods, slices follow."""

import ipaddress

import pytest

from clusterlib import deployment, ready_endpoints, service, slices, workload
from helpers import MERGE, Api, wait_for


def test_nodes_exist_in_zones_with_pod_cidrs(cluster):
    _, api = cluster
    nodes = api.read("/api/v1/nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == ["kemu-node-1", "kemu-node-2", "kemu-node-3"]
    zones = sorted(n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes)
    assert zones == ["zone-a", "zone-b", "zone-c"]
    for n in nodes:
        assert n["metadata"]["labels"]["kubernetes.io/hostname"] == n["metadata"]["name"]
        assert ipaddress.ip_network(n["spec"]["podCIDR"]).subnet_of(ipaddress.ip_network("10.244.0.0/16"))
        ready = [c for c in n["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True"
        assert n["status"]["allocatable"]["pods"]


def test_deployment_behind_service_gets_ready_endpoints_over_zones(cluster):
    _, api = cluster
    api.create("/api/v1/namespaces/default/services", service("web"))
    api.create("/apis/apps/v1/namespaces/default/deployments", deployment("web", 3))
    wait_for(lambda: len(ready_endpoints(api, "web")) == 3, timeout=20, what="3 ready endpoints")
    nodes = {n["metadata"]["name"]: n for n in api.read("/api/v1/nodes")["items"]}
    eps = ready_endpoints(api, "web")
    assert len({e["zone"] for e in eps}) == 3, eps
    for e in eps:
        node = nodes[e["nodeName"]]
        assert e["zone"] == node["metadata"]["labels"]["topology.kubernetes.io/zone"]
        assert ipaddress.ip_address(e["addresses"][0]) in ipaddress.ip_network(node["spec"]["podCIDR"])
    dep = api.read("/apis/apps/v1/namespaces/default/deployments/web")
    assert dep["status"]["readyReplicas"] == 3 and dep["status"]["availableReplicas"] == 3


def test_scale_to_250_and_back_reshapes_slices(kemu_factory):
    # Pods get their IPs over a few hundred milliseconds; with a batch period the controller sees the burst in
    # one sync and packs it as upstream does ({100, 100, 50}). Without one, how the syncs split the burst decides
    # the shape (e.g. {100, 96, 54}), in kemu as in kube-controller-manager.
    api = Api(kemu_factory("--nodes", "3", "--endpoint-updates-batch-period", "2").url)
    api.create("/api/v1/namespaces/default/services", service("big"))
    api.create("/apis/apps/v1/namespaces/default/deployments", deployment("big", 3))
    wait_for(lambda: len(ready_endpoints(api, "big")) == 3, timeout=20, what="3 ready endpoints")
    r = api.patch("/apis/apps/v1/namespaces/default/deployments/big/scale", {"spec": {"replicas": 250}}, content_type=MERGE)
    assert r.status_code == 200, r.text
    wait_for(lambda: len(ready_endpoints(api, "big")) == 250, timeout=60, what="250 ready endpoints")
    at_250 = slices(api, "big")
    sizes = sorted((len(s.get("endpoints") or []) for s in at_250), reverse=True)
    assert sizes == [100, 100, 50], sizes
    slice_of = {e["targetRef"]["name"]: s["metadata"]["name"] for s in at_250 for e in s["endpoints"]}
    r = api.patch("/apis/apps/v1/namespaces/default/deployments/big/scale", {"spec": {"replicas": 3}}, content_type=MERGE)
    assert r.status_code == 200, r.text
    wait_for(lambda: sum(len(s.get("endpoints") or []) for s in slices(api, "big")) == 3, timeout=60,
             what="back to 3 endpoints")
    # Endpoints stay where they were and emptied slices are deleted: exactly the slices that held a survivor remain.
    wait_for(lambda: all(s.get("endpoints") for s in slices(api, "big")), timeout=10, what="emptied slices deleted")
    left = slices(api, "big")
    survivors = {e["targetRef"]["name"] for s in left for e in s["endpoints"]}
    assert {s["metadata"]["name"] for s in left} == {slice_of[p] for p in survivors}


def test_kubectl_scale_and_rollout_status(cluster, tmp_path):
    import shutil
    import subprocess
    if not shutil.which("kubectl"):
        pytest.skip("kubectl is not installed on this machine")
    srv, api = cluster
    kc = tmp_path / "kubeconfig"
    kc.write_text(subprocess.run([srv.binary, "kubeconfig", "--server", srv.url], capture_output=True, text=True,
                                 check=True).stdout)

    def kubectl(*args):
        return subprocess.run(["kubectl", "--kubeconfig", str(kc), "--cache-dir", str(tmp_path / "cache"), *args],
                              capture_output=True, text=True, timeout=90)

    api.create("/apis/apps/v1/namespaces/default/deployments", deployment("roll", 2))
    p = kubectl("rollout", "status", "deployment/roll", "--timeout=60s")
    assert p.returncode == 0, p.stderr
    assert 'deployment "roll" successfully rolled out' in p.stdout
    p = kubectl("scale", "deployment/roll", "--replicas=4")
    assert p.returncode == 0 and p.stdout.strip() == "deployment.apps/roll scaled", p.stderr
    p = kubectl("rollout", "status", "deployment/roll", "--timeout=60s")
    assert p.returncode == 0, p.stderr
    p = kubectl("rollout", "restart", "deployment/roll")
    assert p.returncode == 0 and "restarted" in p.stdout, p.stderr
    p = kubectl("rollout", "status", "deployment/roll", "--timeout=60s")
    assert p.returncode == 0 and "successfully rolled out" in p.stdout, p.stderr
    wait_for(lambda: len(api.read("/apis/apps/v1/namespaces/default/replicasets")["items"]) == 2, timeout=20,
             what="a second ReplicaSet after the restart")
    p = kubectl("get", "pods", "-l", "app=roll", "-o", "wide")
    rows = [l.split() for l in p.stdout.splitlines()[1:]]
    assert len(rows) >= 4 and all(r[2] in ("Running", "Terminating") for r in rows), p.stdout


def test_daemonset_follows_nodes(cluster):
    _, api = cluster
    api.create("/apis/apps/v1/namespaces/default/daemonsets", workload("DaemonSet", "agent", image="agent:1"))

    def agent_nodes():
        pods = api.read("/api/v1/namespaces/default/pods", params={"labelSelector": "app=agent"})["items"]
        return sorted(p["spec"].get("nodeName", "") for p in pods if not p["metadata"].get("deletionTimestamp"))

    wait_for(lambda: agent_nodes() == ["kemu-node-1", "kemu-node-2", "kemu-node-3"], timeout=20, what="one pod per node")
    r = api.delete("/api/v1/nodes/kemu-node-3")
    assert r.status_code == 200, r.text
    wait_for(lambda: agent_nodes() == ["kemu-node-1", "kemu-node-2"], timeout=20, what="the deleted node's pod gone")
