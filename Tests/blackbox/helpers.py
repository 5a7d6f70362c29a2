"""Shared helpers for the kemu black-box suite (no pytest fixtures here)."""

import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid

import requests

LISTEN_RE = re.compile(r"^kemu listening on http://127\.0\.0\.1:(\d+)\s*$")

TABLE_ACCEPT = ("application/json;as=Table;v=v1;g=meta.k8s.io,"
                "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
AGG_ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
AGG_CT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSONPATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"

CONFLICT_MSG = ("Operation cannot be fulfilled on {res} \"{name}\": the object has been modified; "
                "please apply your changes to the latest version and try again")


def unique(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class KemuServer:
    """One `kemu serve` process on a free port."""

    def __init__(self, binary, extra_args, logs_dir):
        self.binary = binary
        self.extra_args = list(extra_args)
        self.logs_dir = logs_dir
        self.proc = None
        self.port = None
        self.url = None
        self.stdout_lines = []
        self.stderr_path = None
        self._stderr_file = None
        self.exit_code = None

    # The API-level suites drive pods themselves (pods/status), so by default kemu runs as a bare API
    # server: no simulated nodes and no scheduler. Suites about the simulated cluster pass --nodes or --cluster.
    BARE = ["--nodes", "0", "--no-scheduler"]
    CLUSTER_FLAGS = ("--nodes", "--cluster")

    @property
    def argv(self):
        shaped = any(a.split("=", 1)[0] in self.CLUSTER_FLAGS for a in self.extra_args)
        cluster = [] if shaped else self.BARE
        return [self.binary, "serve", "--address", "127.0.0.1", "--port", "0", *cluster, *self.extra_args]

    def start(self, timeout=30):
        tag = uuid.uuid4().hex[:6]
        self.stderr_path = os.path.join(str(self.logs_dir), f"kemu-{tag}.stderr")
        self._stderr_file = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self._stderr_file,
                                     stdin=subprocess.DEVNULL)
        got = queue.Queue()

        def reader():
            for raw in iter(self.proc.stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.stdout_lines.append(line)
                m = LISTEN_RE.match(line)
                if m:
                    got.put(int(m.group(1)))
            got.put(None)

        threading.Thread(target=reader, daemon=True).start()
        try:
            port = got.get(timeout=timeout)
        except queue.Empty:
            port = None
        if port is None:
            self.kill()
            raise RuntimeError(
                f"kemu did not print its listening line within {timeout}s; argv={self.argv}; "
                f"stdout={self.stdout_lines!r}; stderr={self.stderr_text()[-3000:]!r}")
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self, sig=signal.SIGTERM, timeout=15):
        """Send `sig` and wait; returns the exit code (None if it did not exit)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.exit_code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.exit_code

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self._stderr_file:
            self._stderr_file.close()
            self._stderr_file = None

    def restart(self):
        self.kill()
        self.proc = None
        self.stdout_lines = []
        return self.start()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.terminate(signal.SIGTERM, timeout=10)
        self.kill()


class Api:
    """A keep-alive HTTP client bound to one server."""

    def __init__(self, base):
        self.base = base
        self.s = requests.Session()

    def close(self):
        self.s.close()

    def url(self, path):
        return self.base + path

    def request(self, method, path, body=None, *, data=None, content_type=None, accept=None,
                params=None, headers=None, timeout=30):
        h = dict(headers or {})
        if accept:
            h["Accept"] = accept
        if body is not None:
            data = json.dumps(body)
            h.setdefault("Content-Type", content_type or "application/json")
        elif content_type:
            h["Content-Type"] = content_type
        return self.s.request(method, self.base + path, data=data, params=params, headers=h, timeout=timeout)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body=None, content_type=SMP, **kw):
        return self.request("PATCH", path, body, content_type=content_type, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body, **kw)

    # convenience -----------------------------------------------------------
    def create(self, path, obj):
        r = self.post(path, obj)
        assert r.status_code == 201, f"POST {path}: {r.status_code} {r.text[:2000]}"
        return r.json()

    def read(self, path, **kw):
        r = self.get(path, **kw)
        assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text[:2000]}"
        return r.json()


def assert_status(r, code, reason, message=None, message_prefix=None, message_contains=None):
    """Assert that `r` (a requests.Response) is a metav1.Status failure."""
    assert r.status_code == code, f"expected HTTP {code}, got {r.status_code}: {r.text[:2000]}"
    ct = r.headers.get("Content-Type", "")
    assert ct.startswith("application/json"), f"Status Content-Type {ct!r}; body {r.text[:500]}"
    st = r.json()
    check_status_obj(st, code, reason, message, message_prefix, message_contains)
    return st


def check_status_obj(st, code, reason, message=None, message_prefix=None, message_contains=None):
    assert st.get("kind") == "Status", st
    assert st.get("apiVersion") == "v1", st
    assert st.get("status") == "Failure", st
    assert st.get("code") == code, st
    assert st.get("reason") == reason, st
    if message is not None:
        assert st.get("message") == message, f"message {st.get('message')!r} != {message!r}"
    if message_prefix is not None:
        assert st.get("message", "").startswith(message_prefix), \
            f"message {st.get('message')!r} does not start with {message_prefix!r}"
    if message_contains is not None:
        assert message_contains in st.get("message", ""), \
            f"message {st.get('message')!r} does not contain {message_contains!r}"
    return st


# ---------------------------------------------------------------------------
# Watch streams
# ---------------------------------------------------------------------------

class WatchStream:
    """A streaming GET read in a background thread; each line is one JSON event.

    Uses http.client directly so that events are seen as soon as they arrive."""

    def __init__(self, base, path, params=None, accept="application/json", timeout=60, expect_ok=True):
        u = urllib.parse.urlparse(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        q = ("?" + urllib.parse.urlencode(params)) if params else ""
        self.path = path + q
        self.conn.request("GET", self.path, headers={"Accept": accept})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = dict(self.resp.getheaders())
        self.events = queue.Queue()
        self.raw_lines = []
        self.ended = threading.Event()      # the server closed the stream
        self.error = None
        self._closing = False
        if self.status == 200:
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
        else:
            self.body = self.resp.read()
            self.ended.set()
            if expect_ok:
                raise AssertionError(f"watch GET {self.path} answered {self.status}: "
                                     f"{self.body.decode('utf-8', 'replace')[:2000]}")

    def _run(self):
        buf = b""
        try:
            while True:
                chunk = self.resp.read1(65536)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    line = line.strip()
                    if not line:
                        continue
                    self.raw_lines.append(line)
                    try:
                        self.events.put(json.loads(line))
                    except ValueError as e:
                        self.events.put({"type": "__UNPARSEABLE__", "line": line.decode("utf-8", "replace"),
                                         "error": str(e)})
            if buf.strip():
                self.raw_lines.append(buf.strip())
                try:
                    self.events.put(json.loads(buf))
                except ValueError as e:
                    self.events.put({"type": "__UNPARSEABLE__", "line": buf.decode("utf-8", "replace"),
                                     "error": str(e)})
        except Exception as e:  # socket closed by close(), or a timeout
            if not self._closing:
                self.error = e
        finally:
            self.ended.set()

    def next(self, timeout=10):
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def take(self, n, timeout=10):
        """Return the next n events (fewer if the deadline passes)."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ev = self.next(timeout=left)
            if ev is None:
                if self.ended.is_set() and self.events.empty():
                    break
                continue
            out.append(ev)
        return out

    def take_until(self, pred, timeout=10):
        """Collect events until pred(event) is true (inclusive); returns (events, matched)."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out, False
            ev = self.next(timeout=min(left, 0.5))
            if ev is None:
                if self.ended.is_set() and self.events.empty():
                    return out, False
                continue
            out.append(ev)
            if pred(ev):
                return out, True

    def drain(self, quiet=0.5, timeout=10):
        """Collect events until none arrives for `quiet` seconds."""
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ev = self.next(timeout=quiet)
            if ev is None:
                break
            out.append(ev)
        return out

    def wait_end(self, timeout=10):
        return self.ended.wait(timeout)

    def close(self):
        self._closing = True
        try:
            if self.conn.sock is not None:
                self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.conn.close()
        except Exception:
            pass


def rv_int(obj):
    return int(obj["metadata"]["resourceVersion"])


# ---------------------------------------------------------------------------
# curl
# ---------------------------------------------------------------------------

def curl(*args, timeout=60):
    """Run curl; returns (http_code, body_text). Adds -s and a trailing status line."""
    p = subprocess.run(["curl", "-sS", "-w", "\n__HTTP_CODE__%{http_code}", *args],
                       capture_output=True, text=True, timeout=timeout)
    assert p.returncode in (0, 18, 28), f"curl failed rc={p.returncode}: {p.stderr}"
    out = p.stdout
    idx = out.rfind("\n__HTTP_CODE__")
    assert idx >= 0, f"no status marker in curl output: {out[-500:]!r}"
    return int(out[idx + len("\n__HTTP_CODE__"):].strip()), out[:idx]


def curl_json(*args, timeout=60):
    code, body = curl(*args, timeout=timeout)
    return code, json.loads(body)


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------------------
# object builders
# ---------------------------------------------------------------------------

def pod(name, labels=None, node=None, image="nginx:1.27", containers=None, **extra):
    obj = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": containers or [{"name": "app", "image": image}]},
    }
    if labels:
        obj["metadata"]["labels"] = labels
    if node:
        obj["spec"]["nodeName"] = node
    for k, v in extra.items():
        obj[k] = v
    return obj


def service(name, ports=None, selector=None, labels=None, **spec):
    obj = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name},
        "spec": {"ports": ports if ports is not None else [{"port": 80}]},
    }
    if selector is not None:
        obj["spec"]["selector"] = selector
    if labels:
        obj["metadata"]["labels"] = labels
    obj["spec"].update(spec)
    return obj


def endpoints(name, ips=("10.1.0.1",), port=80, labels=None):
    obj = {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": name},
        "subsets": [{"addresses": [{"ip": ip} for ip in ips], "ports": [{"port": port}]}],
    }
    if labels:
        obj["metadata"]["labels"] = labels
    return obj


def endpointslice(name, addresses=("10.0.0.5",), port=80, address_type="IPv4", labels=None):
    obj = {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name},
        "addressType": address_type,
        "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addresses],
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
    }
    if labels:
        obj["metadata"]["labels"] = labels
    return obj


def deployment(name, replicas=1, app=None, image="nginx:1.27"):
    app = app or name
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def wait_for(pred, timeout=10, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last={last!r})")
