"""Library of the controller scenario suite (see conftest.py for the overview).

Everything here is plain Python (no fixtures), so that test modules can import it."""

import collections
import concurrent.futures
import datetime
import ipaddress
import json
import os
import pathlib
import re
import subprocess
import sys
import threading
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
BLACKBOX = HERE.parent
if str(BLACKBOX) not in sys.path:
    sys.path.insert(0, str(BLACKBOX))

from helpers import MERGE, Api, KemuServer, WatchStream, unique  # noqa: E402

# ---------------------------------------------------------------------------
# well-known names
# ---------------------------------------------------------------------------

MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
SLICE_CTRL = "endpointslice-controller.k8s.io"
MIRROR_CTRL = "endpointslicemirroring-controller.k8s.io"
SERVICE_NAME = "kubernetes.io/service-name"
HEADLESS = "service.kubernetes.io/headless"
TRIGGER = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
EP_MANAGED_BY = "endpoints.kubernetes.io/managed-by"
SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
ZONE = "topology.kubernetes.io/zone"
RESERVED = {SERVICE_NAME, MANAGED_BY, HEADLESS}

SLICES = "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
ENDPOINTS = "/api/v1/namespaces/{ns}/endpoints"
SERVICES = "/api/v1/namespaces/{ns}/services"
PODS = "/api/v1/namespaces/{ns}/pods"

# No new event for QUIET seconds after the expected state == the controllers are done.
QUIET = float(os.environ.get("KEMU_SCEN_QUIET", "0.3"))
# Overall bound for reaching an expected state.
WAIT = float(os.environ.get("KEMU_SCEN_WAIT", "15"))
# Overall bound for becoming quiet.
QUIET_BOUND = float(os.environ.get("KEMU_SCEN_QUIET_BOUND", "15"))
# Slice-triggered resyncs happen after max(1 s, batch period): negative checks wait longer than that.
SETTLE = float(os.environ.get("KEMU_SCEN_SETTLE", "1.5"))

KUBECTL = "/usr/bin/kubectl"
SCHEMA_VERSION = "1.32"

# ---------------------------------------------------------------------------
# schema validation (kubernetes-validate, 1.32, strict)
# ---------------------------------------------------------------------------

try:
    import kubernetes_validate  # noqa: F401
    from kubernetes_validate import utils as _kv_utils
    _KV_IMPORT_ERROR = None
except ImportError as e:  # pragma: no cover - reported by the fixture
    kubernetes_validate = None
    _kv_utils = None
    _KV_IMPORT_ERROR = e

_validators = {}
_validators_lock = threading.Lock()


def _schema_validator(kind, api_version):
    """A cached Draft 2020-12 validator built exactly as kubernetes_validate.validate() builds it
    (same schema files, same registry), so that thousands of objects validate quickly."""
    import jsonschema
    from referencing import Registry, Resource

    key = (kind, api_version)
    with _validators_lock:
        if key in _validators:
            return _validators[key]
        version = [v for v in _kv_utils.all_versions()
                   if _kv_utils.major_minor(v) <= SCHEMA_VERSION][-1]
        group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
        schema_dir = f"v{version}-local-strict"
        schema = _kv_utils.schema_contents(
            f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group_version}.json", SCHEMA_VERSION)
        defs = _kv_utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", SCHEMA_VERSION)
        registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
        v = jsonschema.validators.Draft202012Validator(schema, registry=registry)
        _validators[key] = v
        return v


def schema_problems(obj):
    v = _schema_validator(obj.get("kind", "?"), obj.get("apiVersion", "?"))
    out = []
    for err in v.iter_errors(obj):
        path = ".".join(str(p) for p in err.absolute_path)
        out.append(f"schema {SCHEMA_VERSION}: {path or '<root>'}: {err.message[:300]}")
    return out


DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _endpoint_ip_problem(s, family):
    try:
        ip = ipaddress.ip_address(s)
    except ValueError:
        return f"{s!r} is not an IP address"
    if family == "IPv4" and ip.version != 4:
        return f"{s!r} is not IPv4"
    if family == "IPv6" and ip.version != 6:
        return f"{s!r} is not IPv6"
    if ip.is_unspecified or ip.is_loopback or ip.is_link_local:
        return f"{s!r} is unspecified/loopback/link-local"
    if ip.version == 4 and ip in ipaddress.ip_network("224.0.0.0/24"):
        return f"{s!r} is link-local multicast"
    if ip.version == 6 and ip.is_multicast and (int(ip) >> 112) & 0xF == 2:
        return f"{s!r} is link-local multicast"
    return None


def semantic_problems(obj):
    """The upstream API validation rules of reference §1.6 (EndpointSlice) and core Endpoints."""
    out = []
    md = obj.get("metadata") or {}
    name = md.get("name", "")
    if not name or len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        out.append(f"metadata.name {name!r} is not a DNS-1123 subdomain")
    for k, v in (md.get("labels") or {}).items():
        if not isinstance(v, str) or len(v) > 63 or (v and not re.match(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$", v)):
            out.append(f"label {k}={v!r} is not a valid label value")
    if obj.get("kind") == "EndpointSlice":
        at = obj.get("addressType")
        if at not in ("IPv4", "IPv6", "FQDN"):
            out.append(f"addressType {at!r} not in IPv4/IPv6/FQDN")
        if "endpoints" not in obj:
            out.append("key 'endpoints' missing (upstream always emits it)")
        eps = obj.get("endpoints") or []
        if len(eps) > 1000:
            out.append(f"{len(eps)} endpoints > 1000")
        for i, e in enumerate(eps):
            addrs = e.get("addresses") or []
            if not 1 <= len(addrs) <= 100:
                out.append(f"endpoints[{i}].addresses has {len(addrs)} entries")
            for a in addrs:
                if at in ("IPv4", "IPv6"):
                    p = _endpoint_ip_problem(a, at)
                    if p:
                        out.append(f"endpoints[{i}].addresses: {p}")
            h = e.get("hostname")
            if h is not None and not DNS1123_LABEL.match(h):
                out.append(f"endpoints[{i}].hostname {h!r} is not a DNS-1123 label")
            nn = e.get("nodeName")
            if nn is not None and not DNS1123_SUBDOMAIN.match(nn):
                out.append(f"endpoints[{i}].nodeName {nn!r} invalid")
            hints = e.get("hints") or {}
            fz = [z.get("name") for z in hints.get("forZones") or []]
            if len(fz) > 8 or len(set(fz)) != len(fz):
                out.append(f"endpoints[{i}].hints.forZones {fz!r} invalid")
        names = set()
        for i, p in enumerate(obj.get("ports") or []):
            n = p.get("name", "")
            if n and not DNS1123_LABEL.match(n):
                out.append(f"ports[{i}].name {n!r} is not a DNS-1123 label")
            if n in names:
                out.append(f"ports[{i}].name {n!r} duplicated")
            names.add(n)
            if p.get("protocol") not in ("TCP", "UDP", "SCTP"):
                out.append(f"ports[{i}].protocol {p.get('protocol')!r} invalid")
            if p.get("port") is not None and not 1 <= p["port"] <= 65535:
                out.append(f"ports[{i}].port {p['port']!r} out of range")
    elif obj.get("kind") == "Endpoints":
        for i, s in enumerate(obj.get("subsets") or []):
            for lst in ("addresses", "notReadyAddresses"):
                for j, a in enumerate(s.get(lst) or []):
                    try:
                        ipaddress.ip_address(a.get("ip", ""))
                    except ValueError:
                        out.append(f"subsets[{i}].{lst}[{j}].ip {a.get('ip')!r} invalid")
            for j, p in enumerate(s.get("ports") or []):
                if not 1 <= (p.get("port") or 0) <= 65535:
                    out.append(f"subsets[{i}].ports[{j}].port {p.get('port')!r} invalid")
                if p.get("protocol") not in ("TCP", "UDP", "SCTP"):
                    out.append(f"subsets[{i}].ports[{j}].protocol {p.get('protocol')!r} invalid")
    return out


# ---------------------------------------------------------------------------
# small pure helpers used by the scenarios
# ---------------------------------------------------------------------------

def labels(obj):
    return (obj.get("metadata") or {}).get("labels") or {}


def annotations(obj):
    return (obj.get("metadata") or {}).get("annotations") or {}


def eps_of(slice_):
    return slice_.get("endpoints") or []


def ports_of(obj):
    """Ports of a slice as a set of (name, port, protocol, appProtocol)."""
    return {(p.get("name", ""), p.get("port"), p.get("protocol"), p.get("appProtocol")) for p in obj.get("ports") or []}


def endpoint_count(slices):
    return sum(len(eps_of(s)) for s in slices)


def all_endpoints(slices):
    return [e for s in slices for e in eps_of(s)]


def by_pod(slices):
    """{pod name: endpoint} over all slices (fails on a pod listed twice)."""
    out = {}
    for e in all_endpoints(slices):
        n = (e.get("targetRef") or {}).get("name")
        assert n not in out, f"pod {n} has two endpoints: {out[n]} and {e}"
        out[n] = e
    return out


def conds(e):
    c = e.get("conditions") or {}
    return (c.get("ready"), c.get("serving"), c.get("terminating"))


def parse_time(s):
    """RFC 3339 (with or without fraction) -> aware datetime with microseconds (nanos dropped)."""
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", s)
    assert m, f"not an RFC 3339 time: {s!r}"
    frac = (m.group(2) or ".0")[1:]
    frac = (frac + "000000")[:6]
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.datetime.fromisoformat(f"{m.group(1)}.{frac}{tz}")


def summarize_slice(s):
    return {
        "name": s["metadata"]["name"],
        "type": s.get("addressType"),
        "managedBy": labels(s).get(MANAGED_BY),
        "ports": sorted(ports_of(s), key=str),
        "endpoints": [((e.get("targetRef") or {}).get("name"), e.get("addresses"), conds(e)) for e in eps_of(s)],
    }


def summarize_endpoints(ep):
    if ep is None:
        return None
    out = []
    for s in ep.get("subsets") or []:
        out.append({
            "ready": sorted(a["ip"] + "/" + (a.get("targetRef") or {}).get("name", "") for a in s.get("addresses") or []),
            "notReady": sorted(a["ip"] + "/" + (a.get("targetRef") or {}).get("name", "")
                               for a in s.get("notReadyAddresses") or []),
            "ports": sorted((p.get("name", ""), p.get("port"), p.get("protocol")) for p in s.get("ports") or []),
        })
    return out


def subsets_view(ep):
    """Endpoints subsets as a set-comparable value: frozenset of (ports, ready ips, notReady ips)."""
    out = set()
    for s in (ep or {}).get("subsets") or []:
        ports = frozenset((p.get("name", ""), p.get("port"), p.get("protocol")) for p in s.get("ports") or [])
        out.add((ports,
                 frozenset(a["ip"] for a in s.get("addresses") or []),
                 frozenset(a["ip"] for a in s.get("notReadyAddresses") or [])))
    return out


# ---------------------------------------------------------------------------
# watches
# ---------------------------------------------------------------------------

class RecordingWatch:
    """One watch on a namespaced collection, from a known resourceVersion."""

    def __init__(self, base, path, rv, what):
        self.what = what
        self.stream = WatchStream(base, path, params={"watch": "1", "resourceVersion": rv,
                                                      "allowWatchBookmarks": "false"}, timeout=600)
        self.events = []          # [(type, obj)]
        self.state = {}           # name -> obj
        self.errors = []

    def pump(self, timeout=0.0):
        """Consume at most one event; True if one was consumed."""
        ev = self.stream.next(timeout=timeout) if timeout > 0 else self._nowait()
        if ev is None:
            if self.stream.ended.is_set() and self.stream.events.empty() and not self.errors:
                self.errors.append(f"{self.what} watch ended unexpectedly ({self.stream.error!r})")
            return False
        t = ev.get("type")
        if t == "BOOKMARK":
            return True
        if t not in ("ADDED", "MODIFIED", "DELETED"):
            self.errors.append(f"{self.what} watch sent {json.dumps(ev)[:1000]}")
            return True
        obj = ev.get("object") or {}
        name = (obj.get("metadata") or {}).get("name")
        self.events.append((t, obj))
        if t == "DELETED":
            self.state.pop(name, None)
        else:
            self.state[name] = obj
        return True

    def _nowait(self):
        try:
            return self.stream.events.get_nowait()
        except Exception:
            return None

    def close(self):
        self.stream.close()


# ---------------------------------------------------------------------------
# servers
# ---------------------------------------------------------------------------

class ServerPool:
    """Session-wide kemu servers, one per distinct flag set (started on first use)."""

    def __init__(self, kemu_bin, logs_dir):
        self.kemu_bin = kemu_bin
        self.logs_dir = logs_dir
        self.servers = {}
        self.kubeconfigs = {}
        self.deaths = []

    def get(self, args, tag=None):
        key = (tuple(args), tag)
        srv = self.servers.get(key)
        if srv is not None and not srv.alive():
            self.deaths.append((key, srv.stderr_text()[-4000:]))
            srv.stop()
            srv = None
        if srv is None:
            srv = KemuServer(self.kemu_bin, list(args), self.logs_dir)
            srv.start()
            self.servers[key] = srv
        return srv

    def kubeconfig(self, srv):
        if srv.url not in self.kubeconfigs:
            out = subprocess.run([self.kemu_bin, "kubeconfig", "--server", srv.url],
                                 capture_output=True, text=True, timeout=30)
            assert out.returncode == 0, f"kemu kubeconfig failed: {out.stderr}"
            self.kubeconfigs[srv.url] = out.stdout
        return self.kubeconfigs[srv.url]

    def stop_all(self):
        for srv in self.servers.values():
            srv.stop()


# ---------------------------------------------------------------------------
# the per-scenario environment
# ---------------------------------------------------------------------------

class Env:
    def __init__(self, pool, srv, tmp_path):
        self.pool = pool
        self.server = srv
        self.api = Api(srv.url)
        self.tmp_path = pathlib.Path(tmp_path)
        self.ns = unique("sc")
        self.nodes = []
        self._kubectl_n = 0
        self._sentinels = 0
        self._k8s = None
        r = self.api.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": self.ns}})
        assert r.status_code == 201, f"creating namespace {self.ns}: {r.status_code} {r.text}"
        rv = self.api.read(SLICES.format(ns=self.ns))["metadata"]["resourceVersion"]
        self.sw = RecordingWatch(srv.url, SLICES.format(ns=self.ns), rv, "endpointslices")
        rv = self.api.read(ENDPOINTS.format(ns=self.ns))["metadata"]["resourceVersion"]
        self.ew = RecordingWatch(srv.url, ENDPOINTS.format(ns=self.ns), rv, "endpoints")

    # -- plumbing ------------------------------------------------------------
    def path(self, template, name=None):
        p = template.format(ns=self.ns)
        return p + "/" + name if name else p

    def pump_all(self):
        got = False
        while self.sw.pump() or self.ew.pump():
            got = True
        return got

    def quiet(self, q=QUIET, bound=QUIET_BOUND):
        """Wait until neither watch has seen an event for q seconds."""
        deadline = time.monotonic() + bound
        last = time.monotonic()
        while True:
            if self.pump_all():
                last = time.monotonic()
            now = time.monotonic()
            if now - last >= q:
                return
            if now > deadline:
                raise AssertionError(f"controllers never became quiet within {bound}s; last slice events: "
                                     f"{[(t, summarize_slice(o)) for t, o in self.sw.events[-6:]]}")
            time.sleep(0.01)

    def wait(self, pred, what, timeout=WAIT, describe=None, quiet=True):
        """Pump events until pred() holds (evaluated on watch state), then wait for quiet."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump_all()
            ok = pred()
            if ok:
                break
            if time.monotonic() > deadline:
                state = describe() if describe else self.describe()
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; state: {state}")
            time.sleep(0.01)
        if quiet:
            self.quiet()
        # the quiet period may have changed things: re-check the expectation
        self.pump_all()
        if not pred():
            state = describe() if describe else self.describe()
            raise AssertionError(f"{what} held, then stopped holding while waiting for quiet; state: {state}")
        return ok

    def await_rv(self, rv, watch="slices", timeout=WAIT):
        """Wait until the watch has delivered the event of a client's own write (its resourceVersion),
        so that an expectation about the controller's reaction is not checked against a state that
        does not yet contain the client's write."""
        w = self.sw if watch == "slices" else self.ew
        rv = str(rv)
        deadline = time.monotonic() + timeout
        while True:
            self.pump_all()
            if any((o.get("metadata") or {}).get("resourceVersion") == rv for _, o in w.events):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the {w.what} watch never delivered the event of resourceVersion {rv}")
            time.sleep(0.01)

    def settle(self, extra=SETTLE):
        """For negative checks: give the controllers time (longer than the 1 s slice-triggered
        resync delay), then prove that they processed a Service created afterwards (a sentinel
        Service must get its placeholder slice), then wait for quiet."""
        end = time.monotonic() + extra
        while time.monotonic() < end:
            self.pump_all()
            time.sleep(0.02)
        self._sentinels += 1
        name = f"zz-sentinel-{self._sentinels}"
        self.create_service(name, selector={"kemu-sentinel": name}, ports=[{"port": 80}])
        self.wait(lambda: len(self.slices(name)) == 1, f"placeholder slice of sentinel Service {name}")

    def describe(self):
        return {"slices": [summarize_slice(s) for s in self.sw.state.values()],
                "endpoints": {n: summarize_endpoints(e) for n, e in self.ew.state.items()}}

    def mark(self):
        self.pump_all()
        return (len(self.sw.events), len(self.ew.events))

    def slice_events(self, mark, svc=None, managed=SLICE_CTRL, after_rv=None):
        out = []
        for t, o in self.sw.events[mark[0]:]:
            lb = labels(o)
            if svc is not None and lb.get(SERVICE_NAME) != svc:
                continue
            if managed is not None and lb.get(MANAGED_BY) != managed:
                continue
            if after_rv is not None and int(o["metadata"]["resourceVersion"]) <= int(after_rv):
                continue
            out.append((t, o))
        return out

    def slice_writes(self, mark, svc=None, managed=SLICE_CTRL, after_rv=None):
        """Counter of ADDED/MODIFIED/DELETED events since `mark` for the slices of `svc`."""
        return dict(collections.Counter(t for t, _ in self.slice_events(mark, svc, managed, after_rv)))

    def endpoints_writes(self, mark, name, after_rv=None):
        c = collections.Counter()
        for t, o in self.ew.events[mark[1]:]:
            if o["metadata"]["name"] != name:
                continue
            if after_rv is not None and int(o["metadata"]["resourceVersion"]) <= int(after_rv):
                continue
            c[t] += 1
        return dict(c)

    # -- state ---------------------------------------------------------------
    def slices(self, svc, managed=SLICE_CTRL, address_type=None):
        self.pump_all()
        out = []
        for s in self.sw.state.values():
            lb = labels(s)
            if lb.get(SERVICE_NAME) != svc:
                continue
            if managed is not None and lb.get(MANAGED_BY) != managed:
                continue
            if address_type is not None and s.get("addressType") != address_type:
                continue
            out.append(s)
        return sorted(out, key=lambda s: s["metadata"]["name"])

    def endpoints(self, name):
        self.pump_all()
        return self.ew.state.get(name)

    def wait_slices(self, svc, pred, what=None, managed=SLICE_CTRL, timeout=WAIT, address_type=None):
        """Wait until pred(slices of svc) holds and the controllers are quiet; return the slices."""
        def describe():
            return [summarize_slice(s) for s in self.slices(svc, managed, address_type)]
        self.wait(lambda: pred(self.slices(svc, managed, address_type)),
                  what or f"slices of {svc}", timeout=timeout, describe=describe)
        return self.slices(svc, managed, address_type)

    def wait_endpoint_count(self, svc, n, **kw):
        return self.wait_slices(svc, lambda ss: len(ss) >= 1 and endpoint_count(ss) == n,
                                f"{n} endpoints in the slices of {svc}", **kw)

    def wait_endpoints(self, name, pred, what=None, timeout=WAIT):
        def describe():
            return summarize_endpoints(self.endpoints(name))
        self.wait(lambda: pred(self.endpoints(name)), what or f"Endpoints {name}", timeout=timeout,
                  describe=describe)
        return self.endpoints(name)

    # -- objects ---------------------------------------------------------------
    def node(self, name, zone=None, labels=None, ready=None, cpu=None):
        """Create a Node (cluster-scoped: its real name is prefixed with the namespace)."""
        real = self.node_name(name)
        lb = dict(labels or {})
        if zone is not None:
            lb[ZONE] = zone
        obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": real, "labels": lb}}
        status = {}
        if ready is not None:
            status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False",
                                     "reason": "KubeletReady", "message": "kemu scenario"}]
        if cpu is not None:
            status["allocatable"] = {"cpu": str(cpu), "memory": "8Gi", "pods": "110"}
            status["capacity"] = {"cpu": str(cpu), "memory": "8Gi", "pods": "110"}
        if status:
            obj["status"] = status
        self.api.create("/api/v1/nodes", obj)
        self.nodes.append(real)
        if status:
            # make sure the status stuck even if create drops it
            r = self.api.patch(f"/api/v1/nodes/{real}/status", {"status": status}, content_type=MERGE)
            assert r.status_code == 200, f"PATCH nodes/{real}/status: {r.status_code} {r.text[:500]}"
        return real

    def node_name(self, name):
        return f"{self.ns}-{name}" if name else name

    def create_service(self, name, selector=None, ports=None, headless=False, families=None, policy=None,
                       labels=None, annotations=None, no_selector=False, **spec):
        obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {}}
        if labels:
            obj["metadata"]["labels"] = labels
        if annotations:
            obj["metadata"]["annotations"] = annotations
        if selector is not None and not no_selector:
            obj["spec"]["selector"] = selector
        if ports is not None:
            obj["spec"]["ports"] = ports
        if headless:
            obj["spec"]["clusterIP"] = "None"
        if families is not None:
            obj["spec"]["ipFamilies"] = families
            obj["spec"]["ipFamilyPolicy"] = policy or ("SingleStack" if len(families) == 1 else "RequireDualStack")
        elif policy is not None:
            obj["spec"]["ipFamilyPolicy"] = policy
        obj["spec"].update(spec)
        return self.api.create(self.path(SERVICES), obj)

    def foo_service(self, name="foo", **kw):
        """The reference §5 conventions: selector foo=bar, one port {name: foo, TCP, targetPort 80},
        ipFamilies [IPv4], no ClusterIP (headless)."""
        kw.setdefault("selector", {"foo": "bar"})
        kw.setdefault("ports", [{"name": "foo", "protocol": "TCP", "port": 80, "targetPort": 80}])
        kw.setdefault("families", ["IPv4"])
        kw.setdefault("headless", True)
        return self.create_service(name, **kw)

    def patch_service(self, name, body, content_type=MERGE):
        r = self.api.patch(self.path(SERVICES, name), body, content_type=content_type)
        assert r.status_code == 200, f"PATCH service {name}: {r.status_code} {r.text[:1000]}"
        return r.json()

    def pod_obj(self, name, labels=None, node="node-1", hostname=None, subdomain=None, ports=None,
                sidecar_ports=None, grace=None):
        c = {"name": "app", "image": "registry.example/app:1"}
        if ports:
            c["ports"] = [{"name": n, "containerPort": p, "protocol": proto} for n, p, proto in ports]
        spec = {"containers": [c]}
        if sidecar_ports:
            spec["initContainers"] = [{
                "name": "sidecar", "image": "registry.example/sidecar:1", "restartPolicy": "Always",
                "ports": [{"name": n, "containerPort": p, "protocol": proto} for n, p, proto in sidecar_ports]}]
        if node:
            spec["nodeName"] = self.node_name(node)
        if hostname:
            spec["hostname"] = hostname
        if subdomain:
            spec["subdomain"] = subdomain
        if grace is not None:
            spec["terminationGracePeriodSeconds"] = grace
        md = {"name": name}
        if labels:
            md["labels"] = labels
        return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec}

    @staticmethod
    def pod_status(ip=None, ips=None, ready=True, phase="Running", ready_ltt=None, pod_ip=None):
        if ips is None:
            ips = [ip] if ip else []
        st = {"phase": phase}
        if ips:
            st["podIP"] = ips[0]
            st["podIPs"] = [{"ip": i} for i in ips]
        elif pod_ip:
            st["podIP"] = pod_ip
        if ready is not None:
            cond = {"type": "Ready", "status": "True" if ready else "False"}
            if ready_ltt:
                cond["lastTransitionTime"] = ready_ltt
            st["conditions"] = [cond]
        return st

    def pod(self, name, labels=None, ip=None, ips=None, ready=True, phase="Running", ready_ltt=None,
            pod_ip=None, status=True, api=None, **spec_kw):
        """Create a pod, then (unless status=False) set its status through pods/status."""
        api = api or self.api
        p = api.create(self.path(PODS), self.pod_obj(name, labels=labels, **spec_kw))
        if status:
            p = self.set_pod_status(name, ip=ip, ips=ips, ready=ready, phase=phase, ready_ltt=ready_ltt,
                                    pod_ip=pod_ip, api=api)
        return p

    def pods(self, specs, workers=4):
        """Create many pods concurrently: specs = [(name, kwargs), ...]."""
        local = threading.local()

        def one(item):
            if not hasattr(local, "api"):
                local.api = Api(self.server.url)
            name, kw = item
            return self.pod(name, api=local.api, **kw)

        with concurrent.futures.ThreadPoolExecutor(workers) as ex:
            return list(ex.map(one, specs))

    def set_pod_status(self, name, api=None, **kw):
        api = api or self.api
        st = self.pod_status(**kw)
        r = api.patch(self.path(PODS, name) + "/status", {"status": st}, content_type=MERGE)
        assert r.status_code == 200, f"PATCH pods/{name}/status: {r.status_code} {r.text[:1000]}"
        return r.json()

    def patch_pod(self, name, body):
        r = self.api.patch(self.path(PODS, name), body, content_type=MERGE)
        assert r.status_code == 200, f"PATCH pods/{name}: {r.status_code} {r.text[:1000]}"
        return r.json()

    def delete_pod(self, name, **params):
        r = self.api.delete(self.path(PODS, name), params=params or None)
        assert r.status_code in (200, 202), f"DELETE pods/{name}: {r.status_code} {r.text[:1000]}"
        return r.json()

    def slice_write(self, method, name=None, body=None, content_type=None):
        path = self.path(SLICES, name) if name else self.path(SLICES)
        kw = {}
        if content_type:
            kw["content_type"] = content_type
        return self.api.request(method, path, body, **kw)

    # -- kubectl and the Python client ---------------------------------------
    def kubectl(self, *args, input=None, timeout=60):
        if not (os.path.exists(KUBECTL) and os.access(KUBECTL, os.X_OK)):
            print(f"kubectl not found at {KUBECTL}: skipping")
            pytest.skip(f"kubectl not found at {KUBECTL}")
        self._kubectl_n += 1
        work = self.tmp_path / f"kubectl-{self._kubectl_n}"
        work.mkdir(parents=True)
        kc = work / "kubeconfig"
        kc.write_text(self.pool.kubeconfig(self.server))
        cache = work / "cache"
        cache.mkdir()
        env = dict(os.environ)
        env.pop("KUBECONFIG", None)
        env["HOME"] = str(work)
        argv = [KUBECTL, "--kubeconfig", str(kc), "--cache-dir", str(cache), "-n", self.ns, *args]
        return subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=str(work))

    def k8s(self):
        """A kubernetes.client.ApiClient bound to this server."""
        if self._k8s is None:
            from kubernetes import client
            self._k8s = client.ApiClient(client.Configuration(host=self.server.url))
        return self._k8s

    # -- teardown ------------------------------------------------------------
    def finish(self):
        """Close the watches and validate every object they saw; returns a list of problems."""
        problems = []
        try:
            self.pump_all()
        except Exception as e:  # noqa: BLE001
            problems.append(f"pumping watches at teardown: {e!r}")
        for w in (self.sw, self.ew):
            w.close()
            problems += w.errors
        seen = set()
        for w in (self.sw, self.ew):
            for t, o in w.events:
                md = o.get("metadata") or {}
                key = (o.get("kind"), md.get("uid"), md.get("resourceVersion"))
                if key in seen:
                    continue
                seen.add(key)
                ps = schema_problems(o) + semantic_problems(o)
                for p in ps:
                    problems.append(f"{o.get('kind')} {md.get('name')} rv={md.get('resourceVersion')} ({t}): {p}")
        if self._k8s is not None:
            try:
                self._k8s.close()
            except Exception:  # noqa: BLE001
                pass
        try:
            self.api.delete(f"/api/v1/namespaces/{self.ns}")
            for n in self.nodes:
                self.api.delete(f"/api/v1/nodes/{n}")
        except Exception:  # noqa: BLE001
            pass
        self.api.close()
        if not self.server.alive():
            problems.append(f"kemu exited during the scenario (code {self.server.proc.poll()}); stderr tail:\n"
                            f"{self.server.stderr_text()[-3000:]}")
        return problems


# server flag sets shared by several modules
PACK3 = ("--max-endpoints-per-slice", "3")
PACK10 = ("--max-endpoints-per-slice", "10")
GRACE = ("--termination-grace-scale", "1")
BATCH = ("--endpoint-updates-batch-period", "1")
WARN = ("--derived-writes", "warn")
ALLOW = ("--derived-writes", "allow")
NO_EP = ("--disable-endpoints-controller",)
MIRROR2 = ("--mirroring-max-endpoints-per-subset", "2")
