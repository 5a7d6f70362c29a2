"""A DaemonSet behind a Service on the simulated cluster: one endpoint per node, following nodes as they
are added and deleted."""

import ipaddress

import pytest

from clusterlib import APPS, endpoints_of, service, slices, workload
from helpers import wait_for

NODES = {"kemu-node-1", "kemu-node-2", "kemu-node-3"}


@pytest.fixture
def cluster(make_cluster):
    return make_cluster("--zones", "zone-a,zone-b,zone-c")


def endpoint_nodes(api, svc):
    """{nodeName: endpoint} when every endpoint is ready and no node has two; else None."""
    eps = endpoints_of(slices(api, svc))
    by_node = {e.get("nodeName"): e for e in eps}
    ok = len(by_node) == len(eps) and all(e["conditions"].get("ready") for e in eps)
    return by_node if ok else None


def wait_endpoint_nodes(api, svc, nodes):
    return wait_for(lambda: (lambda m: m if m is not None and set(m) == nodes else None)(endpoint_nodes(api, svc)),
                    timeout=20, what=f"one ready endpoint on each of {sorted(nodes)}")


def test_daemonset_endpoints_follow_node_add_and_delete(cluster):
    _, api = cluster
    api.create("/api/v1/namespaces/default/services", service("agent"))
    api.create(f"{APPS}/daemonsets", workload("DaemonSet", "agent"))
    wait_endpoint_nodes(api, "agent", NODES)

    added = {"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": "kemu-node-4", "annotations": {"kemu.dev/simulated": "true"},
        "labels": {"kemu.dev/simulated": "true", "kubernetes.io/hostname": "kemu-node-4",
                   "topology.kubernetes.io/zone": "zone-b"}}, "spec": {}}
    api.create("/api/v1/nodes", added)
    eps = wait_endpoint_nodes(api, "agent", NODES | {"kemu-node-4"})
    assert eps["kemu-node-4"]["zone"] == "zone-b", eps["kemu-node-4"]
    node4 = api.read("/api/v1/nodes/kemu-node-4")
    assert ipaddress.ip_address(eps["kemu-node-4"]["addresses"][0]) in ipaddress.ip_network(node4["spec"]["podCIDR"])

    r = api.delete("/api/v1/nodes/kemu-node-2")
    assert r.status_code == 200, r.text
    wait_endpoint_nodes(api, "agent", {"kemu-node-1", "kemu-node-3", "kemu-node-4"})
    status = wait_for(lambda: (lambda s: s if s.get("desiredNumberScheduled") == 3 and s.get("numberReady") == 3 else None)(
        api.read(f"{APPS}/daemonsets/agent")["status"]), timeout=10, what="DaemonSet status for 3 nodes")
    assert status["currentNumberScheduled"] == 3 and status["numberMisscheduled"] == 0, status
