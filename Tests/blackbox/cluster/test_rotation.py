"""Node rotation on the simulated cluster: cordon, drain (evictions honouring PDBs), delete, replace.

Drives scripts/scenario-rotate-nodes and kubectl drain/cordon against a `kemu serve --nodes 3`."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from clusterlib import deployment, live_pods, ready_endpoints, service, workload
from helpers import wait_for

REPO = pathlib.Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "scenario-rotate-nodes"
KUBECTL = "/usr/bin/kubectl" if os.access("/usr/bin/kubectl", os.X_OK) else shutil.which("kubectl")
ORIGINAL = {"kemu-node-1", "kemu-node-2", "kemu-node-3"}


def pdb(name, **spec):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}}, **spec}}


def daemonset(name):
    return workload("DaemonSet", name, image="agent:1")


def deploy_web(api, name, replicas, **budget):
    api.create("/api/v1/namespaces/default/services", service(name))
    api.create("/apis/apps/v1/namespaces/default/deployments", deployment(name, replicas))
    if budget:
        api.create("/apis/policy/v1/namespaces/default/poddisruptionbudgets", pdb(name, **budget))
    wait_for(lambda: len(ready_endpoints(api, name)) == replicas, timeout=30, what=f"{replicas} ready endpoints")
    return ready_endpoints(api, name)


def test_rotation_keeps_service_up_and_moves_every_endpoint(cluster):
    """Issue acceptance: rotating a 3-node cluster with a 6-replica Deployment spread over zones never
    drops the Service to zero ready endpoints; afterwards every endpoint has a new node and IP."""
    srv, api = cluster
    api.create("/apis/apps/v1/namespaces/default/daemonsets", daemonset("agent"))
    before = deploy_web(api, "web", 6, maxUnavailable=1)
    assert {e["nodeName"] for e in before} == ORIGINAL, before
    wait_for(lambda: sorted(p_["spec"].get("nodeName", "") for p_ in live_pods(api, "agent")) == sorted(ORIGINAL),
             timeout=30, what="one agent pod per node")
    assert len({e["zone"] for e in before}) == 3, before
    old_ips = {a for e in before for a in e["addresses"]}
    assert len(old_ips) == 6
    old_cidrs = {n["metadata"]["name"]: n["spec"].get("podCIDR") for n in api.read("/api/v1/nodes")["items"]}

    p = subprocess.run([sys.executable, str(SCRIPT), "--server", srv.url, "--timeout", "60", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"rc={p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}"
    res = json.loads(p.stdout)
    print(json.dumps(res, indent=1))
    assert res["nodesBefore"] == sorted(ORIGINAL)
    after_nodes = set(res["nodesAfter"])
    assert len(after_nodes) == 3 and not (after_nodes & ORIGINAL), res
    assert [r["old"] for r in res["rotations"]] == sorted(ORIGINAL)
    web = res["services"]["default/web"]
    assert web["before"] == 6, web
    assert web["minReady"] > 0, f"the Service dropped to zero ready endpoints: {web}"
    assert res["evictions"] >= 6, res

    # the replacement nodes keep the zones and are simulated, Ready nodes
    nodes = {n["metadata"]["name"]: n for n in api.read("/api/v1/nodes")["items"]}
    assert set(nodes) == after_nodes
    assert sorted(n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes.values()) == \
        ["zone-a", "zone-b", "zone-c"]
    for n in nodes.values():
        assert n["metadata"]["labels"]["kemu.dev/simulated"] == "true"
        assert n["spec"].get("podCIDR"), n
        assert not n["spec"].get("unschedulable"), n

    def settled():
        eps = ready_endpoints(api, "web")
        return eps if len(eps) == 6 and all(e["nodeName"] in after_nodes for e in eps) else None

    after = wait_for(settled, timeout=30, what="6 ready endpoints on the new nodes")
    new_cidrs = {name: n["spec"].get("podCIDR") for name, n in nodes.items()}
    reused = [e for e in after if set(e["addresses"]) & old_ips]
    assert not reused, (
        f"endpoints reuse IPs of the pods that ran before the rotation: {[(e['nodeName'], e['addresses']) for e in reused]}; "
        f"old IPs {sorted(old_ips)}; podCIDRs of the deleted nodes {old_cidrs}, of their replacements {new_cidrs} "
        f"(a replacement node that gets a deleted node's podCIDR hands out the same pod IPs again)")
    for p_ in live_pods(api, "web"):
        assert p_["spec"]["nodeName"] in after_nodes
    wait_for(lambda: sorted(p_["spec"].get("nodeName", "") for p_ in live_pods(api, "agent")) == sorted(after_nodes),
             timeout=30, what="the DaemonSet on the replacement nodes only")


def test_rotation_script_table_output_and_timeout(cluster):
    """The human-readable table, and a clear non-zero exit when a PDB blocks the drain."""
    srv, api = cluster
    deploy_web(api, "stuck", 2, minAvailable=2)
    p = subprocess.run([sys.executable, str(SCRIPT), "--server", srv.url, "--timeout", "3"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 3, f"rc={p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}"
    assert "TIMEOUT" in p.stderr and "429" in p.stderr, p.stderr
    # the budget held: both pods still ready
    assert len(ready_endpoints(api, "stuck")) == 2
    # relax the budget; now the rotation succeeds and prints a table
    r = api.delete("/apis/policy/v1/namespaces/default/poddisruptionbudgets/stuck")
    assert r.status_code == 200, r.text
    p = subprocess.run([sys.executable, str(SCRIPT), "--server", srv.url, "--timeout", "60"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"rc={p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}"
    assert "MIN READY" in p.stdout and "default/stuck" in p.stdout, p.stdout
    assert "nodes before: " in p.stdout and "nodes after: " in p.stdout, p.stdout


# --- kubectl ---------------------------------------------------------------------------------------------------

@pytest.fixture
def kctl(cluster, tmp_path):
    if not KUBECTL:
        print("kubectl is not installed on this machine: skipping")
        pytest.skip("kubectl is not installed on this machine")
    srv, _ = cluster
    kc = tmp_path / "kubeconfig"
    out = subprocess.run([srv.binary, "kubeconfig", "--server", srv.url], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    kc.write_text(out.stdout)
    counter = [0]

    def run(*args, timeout=120):
        counter[0] += 1
        cache = tmp_path / f"cache-{counter[0]}"
        env = dict(os.environ, HOME=str(tmp_path))
        env.pop("KUBECONFIG", None)
        return subprocess.run([KUBECTL, "--kubeconfig", str(kc), "--cache-dir", str(cache), *args],
                              capture_output=True, text=True, timeout=timeout, env=env)
    return run


def test_kubectl_drain_moves_pods_to_other_nodes(cluster, kctl):
    _, api = cluster
    api.create("/apis/apps/v1/namespaces/default/daemonsets", daemonset("agent"))
    before = deploy_web(api, "drained", 6, maxUnavailable=1)
    wait_for(lambda: len(live_pods(api, "agent")) == 3, timeout=30, what="one agent pod per node")
    victim = "kemu-node-1"
    old = {e["addresses"][0] for e in before if e["nodeName"] == victim}
    assert old, f"no endpoint on {victim}: {before}"
    p = kctl("drain", victim, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=60s")
    assert p.returncode == 0, f"kubectl drain rc={p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}"
    assert f"node/{victim} drained" in p.stdout, p.stdout
    assert f"node/{victim} cordoned" in p.stdout, p.stdout
    assert "ignoring DaemonSet-managed Pods" in p.stderr, p.stderr

    def settled():
        eps = ready_endpoints(api, "drained")
        return eps if len(eps) == 6 and all(e["nodeName"] != victim for e in eps) else None

    after = wait_for(settled, timeout=30, what=f"6 ready endpoints off {victim}")
    assert not {a for e in after for a in e["addresses"]} & old, (old, after)
    assert {e["nodeName"] for e in after} == ORIGINAL - {victim}
    # the DaemonSet pod stays on the drained node
    assert victim in {p_["spec"].get("nodeName") for p_ in live_pods(api, "agent")}
    assert all(p_["spec"]["nodeName"] != victim for p_ in live_pods(api, "drained"))
    node = api.read(f"/api/v1/nodes/{victim}")
    assert node["spec"].get("unschedulable") is True
    p = kctl("uncordon", victim)
    assert p.returncode == 0 and f"node/{victim} uncordoned" in p.stdout, p.stdout + p.stderr
    assert not api.read(f"/api/v1/nodes/{victim}")["spec"].get("unschedulable")


def test_kubectl_cordon_shows_scheduling_disabled(cluster, kctl):
    _, api = cluster
    p = kctl("cordon", "kemu-node-2")
    assert p.returncode == 0 and "node/kemu-node-2 cordoned" in p.stdout, p.stdout + p.stderr
    p = kctl("get", "nodes")
    assert p.returncode == 0, p.stderr
    rows = {l.split()[0]: l.split() for l in p.stdout.splitlines()[1:] if l.strip()}
    assert rows["kemu-node-2"][1] == "Ready,SchedulingDisabled", p.stdout
    assert rows["kemu-node-1"][1] == "Ready" and rows["kemu-node-3"][1] == "Ready", p.stdout
    # a cordoned node gets no new pods
    api.create("/apis/apps/v1/namespaces/default/deployments", deployment("fresh", 4))
    wait_for(lambda: len([p_ for p_ in live_pods(api, "fresh") if p_["spec"].get("nodeName")]) == 4, timeout=30,
             what="4 scheduled pods")
    assert all(p_["spec"]["nodeName"] != "kemu-node-2" for p_ in live_pods(api, "fresh"))
