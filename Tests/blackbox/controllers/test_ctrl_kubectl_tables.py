"""kubectl output for EndpointSlices and Endpoints (kubectl-api-contract §5.3): the server-side
Table columns and cells, `kubectl get endpointslices -l kubernetes.io/service-name=web`,
`kubectl get endpoints`, and `kubectl describe service web`."""

import re

from helpers import TABLE_ACCEPT
from scenlib import SERVICE_NAME, by_pod, subsets_view

WEB_PORTS = [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}]
AGE = re.compile(r"^(\d+s|\d+m\d*s?|\d+m|\d+h\d*m?|\d+d\d*h?)$")


def rows(stdout):
    return [re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines() if line.strip()]


def setup(env, ready=4, not_ready=1):
    env.node("node-1")
    specs = [(f"web-{i}", {"labels": {"app": "web"}, "ip": f"10.0.1.{i + 1}"}) for i in range(ready)]
    specs += [(f"web-nr{i}", {"labels": {"app": "web"}, "ip": f"10.0.2.{i + 1}", "ready": False})
              for i in range(not_ready)]
    env.pods(specs)
    env.create_service("web", selector={"app": "web"}, ports=WEB_PORTS)
    env.create_service("empty", selector={"app": "nothing"}, ports=WEB_PORTS)
    [s] = env.wait_endpoint_count("web", ready + not_ready)
    env.wait_slices("empty", lambda ss: len(ss) == 1)
    ep = env.wait_endpoints("web", lambda e: e is not None and sum(len(x[1]) for x in subsets_view(e)) == ready)
    env.wait_endpoints("empty", lambda e: e is not None)
    return s, ep


def more(cell, universe, n_total):
    """Check a 'a,b,c + N more...' cell against the set of possible items."""
    m = re.match(r"^(.*?)(?: \+ (\d+) more\.\.\.)?$", cell)
    shown = m.group(1).split(",")
    extra = int(m.group(2) or 0)
    assert len(shown) == min(3, n_total), cell
    assert set(shown) <= set(universe) and len(set(shown)) == len(shown), (cell, universe)
    assert extra == n_total - len(shown), cell


def test_endpointslice_table_cells(env):
    s, _ = setup(env)
    t = env.api.read(env.path("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"),
                     accept=TABLE_ACCEPT, params={"labelSelector": f"{SERVICE_NAME}=web"})
    assert t["kind"] == "Table", t
    assert [(c["name"], c["type"]) for c in t["columnDefinitions"]] == [
        ("Name", "string"), ("AddressType", "string"), ("Ports", "string"), ("Endpoints", "string"), ("Age", "string")]
    assert t["columnDefinitions"][0]["format"] == "name"
    [row] = t["rows"]
    name, at, ports, endpoints, age = row["cells"]
    assert name == s["metadata"]["name"] and at == "IPv4" and ports == "8080"
    more(endpoints, [e["addresses"][0] for e in s["endpoints"]], 5)
    t = env.api.read(env.path("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"),
                     accept=TABLE_ACCEPT, params={"labelSelector": f"{SERVICE_NAME}=empty"})
    [row] = t["rows"]
    assert row["cells"][2:4] == ["<unset>", "<unset>"], row


def test_endpoints_table_cells(env):
    _, ep = setup(env)
    t = env.api.read(env.path("/api/v1/namespaces/{ns}/endpoints"), accept=TABLE_ACCEPT)
    assert [(c["name"], c["type"]) for c in t["columnDefinitions"]] == [
        ("Name", "string"), ("Endpoints", "string"), ("Age", "string")]
    cells = {r["cells"][0]: r["cells"] for r in t["rows"]}
    more(cells["web"][1], [f"10.0.1.{i + 1}:8080" for i in range(4)], 4)
    assert cells["empty"][1] == "<none>", cells["empty"]


def test_kubectl_get_endpointslices_by_service(env):
    s, _ = setup(env)
    p = env.kubectl("get", "endpointslices", "-l", f"{SERVICE_NAME}=web")
    assert p.returncode == 0, p.stderr
    r = rows(p.stdout)
    assert r[0] == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], p.stdout
    assert len(r) == 2, p.stdout
    name, at, ports, endpoints, age = r[1]
    assert name == s["metadata"]["name"] and at == "IPv4" and ports == "8080", r[1]
    more(endpoints, [e["addresses"][0] for e in s["endpoints"]], 5)
    assert AGE.match(age), age


def test_kubectl_get_endpoints(env):
    setup(env)
    p = env.kubectl("get", "endpoints")
    assert p.returncode == 0, p.stderr
    r = rows(p.stdout)
    assert r[0] == ["NAME", "ENDPOINTS", "AGE"], p.stdout
    byname = {x[0]: x for x in r[1:]}
    assert set(byname) == {"web", "empty"}, p.stdout
    more(byname["web"][1], [f"10.0.1.{i + 1}:8080" for i in range(4)], 4)
    assert byname["empty"][1] == "<none>"
    assert AGE.match(byname["web"][2]), byname["web"]


def test_kubectl_describe_service_lists_endpoints(env):
    s, _ = setup(env, ready=2, not_ready=1)
    p = env.kubectl("describe", "service", "web")
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("Endpoints:")]
    assert lines, p.stdout
    listed = set(lines[0].split(None, 1)[1].strip().split(","))
    assert listed == {"10.0.1.1:8080", "10.0.1.2:8080"}, lines
    assert set(by_pod([s])) == {"web-0", "web-1", "web-nr0"}
    # kubectl 1.32 lists the ready addresses of the Service's EndpointSlices; a placeholder slice
    # (no ports, no endpoints) gives an empty list, printed as an empty value
    p = env.kubectl("describe", "service", "empty")
    assert p.returncode == 0, p.stderr
    assert re.search(r"^Endpoints:[ \t]*$", p.stdout, re.M), p.stdout
