"""Process lifecycle: the listening line, health endpoints, /version, signals."""

import re
import signal
import subprocess

import pytest
import yaml

from helpers import LISTEN_RE, Api, WatchStream, unique


def test_listening_line_is_the_only_stdout_line(kemu_factory):
    srv = kemu_factory()
    assert len(srv.stdout_lines) == 1, srv.stdout_lines
    assert LISTEN_RE.match(srv.stdout_lines[0]), srv.stdout_lines
    assert srv.port > 0


def test_two_servers_get_different_free_ports(kemu_factory):
    a = kemu_factory()
    b = kemu_factory()
    assert a.port != b.port
    # and they are independent stores
    api_a, api_b = Api(a.url), Api(b.url)
    name = unique("iso")
    r = api_a.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert r.status_code == 201
    assert api_a.get(f"/api/v1/namespaces/{name}").status_code == 200
    assert api_b.get(f"/api/v1/namespaces/{name}").status_code == 404


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz"])
def test_health_endpoints_answer_ok(api, path):
    r = api.get(path)
    assert r.status_code == 200
    assert r.text == "ok"


def test_version(api):
    r = api.get("/version")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    v = r.json()
    assert v["major"] == "1"
    assert v["minor"] == "32"
    assert re.match(r"^v1\.32\.\d+([-+].*)?$", v["gitVersion"]), v["gitVersion"]
    for key in ("gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"):
        assert key in v, f"/version lacks {key}: {v}"


def _open_watch(srv):
    w = WatchStream(srv.url, "/api/v1/pods", {"watch": "true"}, timeout=30)
    assert w.status == 200
    return w


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_ends_open_watches_and_exits_zero(kemu_factory, sig):
    srv = kemu_factory()
    watches = [_open_watch(srv) for _ in range(3)]
    # the watches are really open: a write reaches them
    api = Api(srv.url)
    api.create("/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sig"},
        "spec": {"containers": [{"name": "a", "image": "x"}]}})
    for w in watches:
        evs, ok = w.take_until(lambda e: e.get("type") == "ADDED" and e["object"]["metadata"]["name"] == "sig")
        assert ok, evs
    api.close()
    code = srv.terminate(sig, timeout=15)
    assert code == 0, f"kemu exited with {code} after {sig!r}; stderr: {srv.stderr_text()[-2000:]}"
    for w in watches:
        assert w.wait_end(10), "watch stream still open after the server exited"
        w.close()


def test_kubeconfig_command(kemu_bin):
    out = subprocess.run([kemu_bin, "kubeconfig", "--server", "http://127.0.0.1:12345"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    cfg = yaml.safe_load(out.stdout)
    assert cfg["kind"] == "Config"
    assert cfg["apiVersion"] == "v1"
    clusters = {c["name"]: c["cluster"] for c in cfg["clusters"]}
    assert any(c["server"] == "http://127.0.0.1:12345" for c in clusters.values()), clusters
    assert cfg["users"], cfg
    ctx_name = cfg["current-context"]
    ctx = {c["name"]: c["context"] for c in cfg["contexts"]}[ctx_name]
    assert ctx["namespace"] == "default"
    assert ctx["cluster"] in clusters
    assert ctx["user"] in {u["name"] for u in cfg["users"]}
