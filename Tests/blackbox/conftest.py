"""Fixtures for the kemu black-box suite.

Every test talks to a real `kemu serve` process over HTTP.  The binary comes from
$KEMU_BIN (default: <repo>/.build/debug/kemu).

Fixtures:
  kemu_bin       path of the binary (session)
  server         a session-wide default server (KemuServer)
  kemu_factory   function-scoped factory: kemu_factory("--event-history", "20")
  api            an Api helper (requests.Session) bound to `server`
  ns             a fresh namespace on `server`, deleted at teardown
  kubectl        runs /usr/bin/kubectl against `server` (skips if kubectl is absent)
  kubectl_for    kubectl_for(srv): the same against another server (e.g. one from kemu_factory)
"""

import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

from helpers import Api, KemuServer, unique  # noqa: E402


def _kemu_bin():
    return os.environ.get("KEMU_BIN") or str(REPO / ".build" / "debug" / "kemu")


@pytest.fixture(scope="session")
def kemu_bin():
    path = _kemu_bin()
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        pytest.fail(f"kemu binary not found or not executable at {path} (set KEMU_BIN)")
    return path


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("kemu-logs")


@pytest.fixture(scope="session")
def server(kemu_bin, logs_dir):
    srv = KemuServer(kemu_bin, [], logs_dir)
    srv.start()
    yield srv
    srv.stop()


SERVER_DEATHS = []


@pytest.fixture(autouse=True)
def _session_server_health(request):
    """Attribute a crash of the shared server to the test during which it died, then start a fresh one
    so that the rest of the suite still reports something useful."""
    if "server" not in request.fixturenames:
        yield
        return
    srv = request.getfixturevalue("server")
    if not srv.alive():
        SERVER_DEATHS.append((f"before {request.node.nodeid}", srv.stderr_path))
        srv.restart()
    yield
    if not srv.alive():
        code = srv.proc.poll()
        tail = srv.stderr_text()[-4000:]
        SERVER_DEATHS.append((request.node.nodeid, srv.stderr_path))
        srv.restart()
        pytest.fail(f"the shared kemu server died during this test (exit code {code}); "
                    f"stderr tail:\n{tail}", pytrace=False)


def pytest_terminal_summary(terminalreporter):
    if SERVER_DEATHS:
        terminalreporter.section("kemu server deaths")
        for where, path in SERVER_DEATHS:
            terminalreporter.write_line(f"{where}: stderr in {path}")


@pytest.fixture
def kemu_factory(kemu_bin, logs_dir):
    started = []

    def start(*args):
        srv = KemuServer(kemu_bin, list(args), logs_dir)
        srv.start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture
def api(server):
    a = Api(server.url)
    yield a
    a.close()


@pytest.fixture
def ns(api):
    name = unique("ns")
    r = api.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert r.status_code == 201, f"creating namespace {name}: {r.status_code} {r.text}"
    yield name
    try:
        api.delete(f"/api/v1/namespaces/{name}")
    except Exception:
        pass


KUBECTL = "/usr/bin/kubectl"


def make_kubeconfig(kemu_bin, server_url):
    out = subprocess.run([kemu_bin, "kubeconfig", "--server", server_url],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, f"kemu kubeconfig failed: {out.stderr}"
    return out.stdout


class Kubectl:
    def __init__(self, kubeconfig_text, workdir):
        self.workdir = pathlib.Path(workdir)
        self.kubeconfig = self.workdir / "kubeconfig"
        self.kubeconfig.write_text(kubeconfig_text)
        self.kubeconfig_text = kubeconfig_text
        self._n = 0

    def _cache_dir(self):
        self._n += 1
        d = self.workdir / f"cache-{self._n}"
        d.mkdir()
        return str(d)

    def argv(self, *args):
        return [KUBECTL, "--kubeconfig", str(self.kubeconfig), "--cache-dir", self._cache_dir(), *args]

    def env(self):
        env = dict(os.environ)
        env.pop("KUBECONFIG", None)
        env["HOME"] = str(self.workdir)
        return env

    def run(self, *args, input=None, timeout=60, check=False):
        p = subprocess.run(self.argv(*args), input=input, capture_output=True, text=True,
                           timeout=timeout, env=self.env(), cwd=str(self.workdir))
        if check:
            assert p.returncode == 0, f"kubectl {' '.join(args)} failed rc={p.returncode}\nstdout:{p.stdout}\nstderr:{p.stderr}"
        return p

    def popen(self, *args):
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=self.env(), cwd=str(self.workdir))

    def write(self, name, text):
        p = self.workdir / name
        p.write_text(text)
        return str(p)


@pytest.fixture(scope="session")
def kubectl_available():
    if not (os.path.exists(KUBECTL) and os.access(KUBECTL, os.X_OK)):
        print(f"kubectl not found at {KUBECTL}: skipping kubectl tests")
        pytest.skip(f"kubectl not found at {KUBECTL}")
    return KUBECTL


_KUBECONFIGS = {}


@pytest.fixture
def server_kubeconfig(kemu_bin, server):
    if server.url not in _KUBECONFIGS:
        _KUBECONFIGS[server.url] = make_kubeconfig(kemu_bin, server.url)
    return _KUBECONFIGS[server.url]


@pytest.fixture
def kubectl(kubectl_available, server_kubeconfig, tmp_path):
    return Kubectl(server_kubeconfig, tmp_path)


@pytest.fixture
def kubectl_for(kubectl_available, kemu_bin, tmp_path):
    """kubectl_for(srv): a Kubectl bound to another server (e.g. one from kemu_factory)."""
    made = []

    def make(srv):
        d = tmp_path / f"kubectl-{len(made)}"
        d.mkdir()
        made.append(Kubectl(make_kubeconfig(kemu_bin, srv.url), d))
        return made[-1]
    return make


REFERENCE = (REPO.parent / "shared" / "reference")


@pytest.fixture(scope="session")
def reference_dir():
    for cand in (REFERENCE, pathlib.Path("/work/shared/reference")):
        if cand.is_dir():
            return cand
    print(f"reference folder {REFERENCE} absent: skipping")
    pytest.skip(f"reference folder {REFERENCE} absent")
