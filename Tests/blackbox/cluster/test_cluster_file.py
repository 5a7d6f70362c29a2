"""`kemu serve --cluster FILE.yaml`: nodes, zones and pod ranges from a file; bad files stop kemu at start."""

import ipaddress
import pathlib
import subprocess
import textwrap

import pytest

from helpers import Api, deployment, wait_for

REPO = pathlib.Path(__file__).resolve().parents[3]

CLUSTER = """\
apiVersion: kemu.dev/v1alpha1
kind: Cluster
clusterCIDR: 10.250.0.0/16
region: test-region
nodeCapacity: {cpu: "4", memory: 16Gi}
zones: [zone-x, zone-y]
nodes:
  - count: 2
    namePrefix: pool
    labels: {node-pool: general}
  - name: gpu-1
    zone: zone-y
    labels: {node-pool: gpu, example.com/accelerator: a100}
    taints:
      - {key: nvidia.com/gpu, value: "true", effect: NoSchedule}
    capacity: {cpu: "32", memory: 128Gi, pods: 20}
    podCIDR: 10.250.50.0/24
  - name: cordoned
    zone: zone-x
    unschedulable: true
"""


def write(tmp_path, text, name="cluster.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def nodes_by_name(api):
    return {n["metadata"]["name"]: n for n in api.read("/api/v1/nodes")["items"]}


@pytest.fixture
def cluster(kemu_factory, tmp_path):
    srv = kemu_factory("--cluster", write(tmp_path, CLUSTER))
    api = Api(srv.url)
    yield srv, api
    api.close()


def test_nodes_come_from_the_file(cluster):
    _, api = cluster
    nodes = nodes_by_name(api)
    assert sorted(nodes) == ["cordoned", "gpu-1", "pool-1", "pool-2"]
    zone = {name: n["metadata"]["labels"]["topology.kubernetes.io/zone"] for name, n in nodes.items()}
    assert zone == {"pool-1": "zone-x", "pool-2": "zone-y", "gpu-1": "zone-y", "cordoned": "zone-x"}
    for name, n in nodes.items():
        labels = n["metadata"]["labels"]
        assert labels["topology.kubernetes.io/region"] == "test-region"
        assert labels["kubernetes.io/hostname"] == name
        assert [c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready"] == ["True"]
        assert n["spec"]["podCIDRs"] == [n["spec"]["podCIDR"]]
        assert ipaddress.ip_network(n["spec"]["podCIDR"]).subnet_of(ipaddress.ip_network("10.250.0.0/16"))
    assert nodes["pool-1"]["metadata"]["labels"]["node-pool"] == "general"
    assert nodes["pool-1"]["status"]["capacity"]["cpu"] == "4"
    assert nodes["pool-1"]["status"]["capacity"]["memory"] == "16Gi"
    assert nodes["pool-1"]["status"]["capacity"]["pods"] == "110"
    gpu = nodes["gpu-1"]
    assert gpu["metadata"]["labels"]["example.com/accelerator"] == "a100"
    assert gpu["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    assert gpu["spec"]["podCIDR"] == "10.250.50.0/24"
    assert gpu["status"]["capacity"] == gpu["status"]["allocatable"]
    assert (gpu["status"]["capacity"]["cpu"], gpu["status"]["capacity"]["memory"], gpu["status"]["capacity"]["pods"]) == \
        ("32", "128Gi", "20")
    assert nodes["cordoned"]["spec"]["unschedulable"] is True
    assert "unschedulable" not in nodes["pool-1"]["spec"]
    cidrs = [n["spec"]["podCIDR"] for n in nodes.values()]
    assert len(set(cidrs)) == 4


def test_deployment_pods_get_ips_from_their_nodes_cidr(cluster):
    _, api = cluster
    api.create("/apis/apps/v1/namespaces/default/deployments", deployment("web", replicas=4))

    def running():
        pods = api.read("/api/v1/namespaces/default/pods", params={"labelSelector": "app=web"})["items"]
        ok = [p for p in pods if p.get("status", {}).get("phase") == "Running" and p["status"].get("podIP")]
        return ok if len(ok) == 4 else None

    pods = wait_for(running, timeout=20, what="4 running pods with IPs")
    nodes = nodes_by_name(api)
    for p in pods:
        node = nodes[p["spec"]["nodeName"]]
        # Not on the tainted GPU node (no toleration) nor on the cordoned one.
        assert p["spec"]["nodeName"] in ("pool-1", "pool-2"), p["spec"]["nodeName"]
        assert ipaddress.ip_address(p["status"]["podIP"]) in ipaddress.ip_network(node["spec"]["podCIDR"])
    assert len({p["status"]["podIP"] for p in pods}) == 4


def test_dual_stack_from_cluster_cidr_list(kemu_factory, tmp_path):
    path = write(tmp_path, """\
        clusterCIDR: [10.251.0.0/16, "fd00:251::/56"]
        nodes:
          - {name: a, zone: zone-a}
          - {name: b, zone: zone-b, podCIDRs: [10.251.7.0/24, "fd00:251:0:7::/64"]}
        """)
    srv = kemu_factory("--cluster", path)
    api = Api(srv.url)
    try:
        nodes = nodes_by_name(api)
        assert nodes["a"]["spec"]["podCIDRs"] == ["10.251.0.0/24", "fd00:251::/64"]
        assert nodes["b"]["spec"]["podCIDRs"] == ["10.251.7.0/24", "fd00:251:0:7::/64"]
        api.create("/api/v1/namespaces/default/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"nodeName": "b", "containers": [{"name": "c", "image": "nginx"}]}})

        def ips():
            st = api.read("/api/v1/namespaces/default/pods/p").get("status", {})
            return [i["ip"] for i in st.get("podIPs", [])] or None

        got = wait_for(ips, timeout=10, what="pod IPs")
        assert ipaddress.ip_address(got[0]) in ipaddress.ip_network("10.251.7.0/24")
        assert ipaddress.ip_address(got[1]) in ipaddress.ip_network("fd00:251:0:7::/64")
    finally:
        api.close()


def test_flags_fill_in_what_the_file_leaves_out(kemu_factory, tmp_path):
    srv = kemu_factory("--cluster", write(tmp_path, "zones: [east, west]\n"), "--nodes", "3")
    api = Api(srv.url)
    try:
        nodes = nodes_by_name(api)
        assert {n: v["metadata"]["labels"]["topology.kubernetes.io/zone"] for n, v in nodes.items()} == \
            {"kemu-node-1": "east", "kemu-node-2": "west", "kemu-node-3": "east"}
    finally:
        api.close()


def test_example_file_starts(kemu_factory):
    srv = kemu_factory("--cluster", str(REPO / "examples" / "cluster.yaml"))
    api = Api(srv.url)
    try:
        nodes = nodes_by_name(api)
        assert sorted(nodes) == ["general-1", "general-2", "general-3", "gpu-1", "spare-1"]
        assert nodes["gpu-1"]["spec"]["podCIDRs"] == ["10.244.100.0/24", "fd00:10:244:64::/64"]
    finally:
        api.close()


def run_kemu(kemu_bin, *args):
    return subprocess.run([kemu_bin, "serve", "--address", "127.0.0.1", "--port", "0", *args],
                          capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)


BAD_FILES = [
    ("syntax", "zones: [a, b\nnodes: 3\n", "line 2, column 6: not valid YAML: did not find expected ',' or ']'"),
    ("unknown-key", "nodes:\n  - name: a\n    zonez: zone-a\n",
     "line 3, column 5: nodes[0].zonez: unknown key \"zonez\""),
    ("bad-cidr", "clusterCIDR: 10.0.0.0/99\n", "line 1, column 14: clusterCIDR: \"10.0.0.0/99\" is not a CIDR"),
    ("duplicate-name", "nodes:\n  - name: a\n  - name: a\n", "nodes[1]: node name \"a\" is used twice (also by nodes[0])"),
    ("zone-not-listed", "zones: [a]\nnodes:\n  - {name: n, zone: b}\n",
     "line 3, column 21: nodes[0].zone: zone \"b\" is not listed in zones (a)"),
    ("cidr-outside", "nodes:\n  - {name: n, podCIDR: 10.9.0.0/24}\n",
     "nodes[0]: podCIDR 10.9.0.0/24 is not inside the cluster CIDR 10.244.0.0/16"),
    ("bad-taint", "nodes:\n  - {name: n, taints: [\"gpu:Never\"]}\n", "nodes[0].taints[0]: effect \"Never\" is not one of"),
    ("wrong-type", "nodes:\n  - {name: n, capacity: {pods: many}}\n", "nodes[0].capacity.pods: must be a whole number"),
]


@pytest.mark.parametrize("name,text,expected", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_file_stops_kemu_at_start(kemu_bin, tmp_path, name, text, expected):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    p = run_kemu(kemu_bin, "--cluster", str(path))
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "listening" not in p.stdout
    assert p.stderr.startswith(f"kemu: cluster file {path}"), p.stderr
    assert expected in p.stderr, p.stderr
    assert p.stderr.count("\n") == 1, p.stderr       # one line: no stack trace


def test_missing_file_and_flag_conflict(kemu_bin, tmp_path):
    p = run_kemu(kemu_bin, "--cluster", str(tmp_path / "absent.yaml"))
    assert p.returncode == 2
    assert p.stderr == f"kemu: cluster file {tmp_path / 'absent.yaml'}: no such file\n"
    path = tmp_path / "c.yaml"
    path.write_text("zones: [a]\nnodes: 2\n")
    p = run_kemu(kemu_bin, "--cluster", str(path), "--nodes", "5")
    assert p.returncode == 2
    assert p.stderr == (f"kemu: cluster file {path}, line 2, column 8: nodes: --nodes was given too; "
                        "state this setting either in the file or on the command line\n")


def test_bad_flags_stop_kemu_at_start(kemu_bin):
    p = run_kemu(kemu_bin, "--cluster-cidr", "10.1.0.0")
    assert p.returncode == 2
    assert p.stderr == "kemu: --cluster-cidr: \"10.1.0.0\" is not a CIDR (address/prefix length)\n"
