#!/usr/bin/env python3
"""EndpointSlice benchmarks (issue 3): reconcile from nothing, a single readiness flip, and the
"single endpoint update" case of KEP-0752's estimation table.

    python3 scripts/bench/endpointslices.py [--kemu BIN] [--runs 3] [--pods 10000] [--flips 20]
                                            [--kep-pods 20000] [--kep-watchers 100,500]
                                            [--phases nothing,kep] [--out FILE]
    python3 scripts/bench/endpointslices.py --report DIR     # Markdown rows for DIR/endpointslices*.json

Phase "nothing" (repeated --runs times, a fresh kemu each time):
  1. Seeds namespace `es` with --pods pods (labels app=big), each given a status by merge-PATCH of
     pods/NAME/status: phase Running, a unique podIP/podIPs 10.1.x.y, condition Ready=True. Several
     keep-alive connections in parallel; not timed.
  2. Opens watches on endpointslices and endpoints in `es` from the current resourceVersion.
  3. Waits for a quiet machine, then POSTs Service `big` (selector app=big, port 80). Time = kernel
     receive time of the watch read that completed the slice event after which the slices cover all
     pods' IPs, minus the wall clock just before the POST bytes were written. Counts slice events
     (writes) until the streams are quiet for 1 s, and checks the final LIST.
  4. Flips: --flips merge-PATCHes of pods/NAME/status that set the Ready condition False, then back
     True on the same pod, on --flips/2 pods spread over the slices. For each: time until the slice
     MODIFIED event showing that endpoint's new readiness arrives, and the number of slice (and
     Endpoints) events within --flip-window seconds of the PATCH. This is end to end (HTTP PATCH,
     store, controller, watch encoding, loopback). The EndpointSlice controller's own time per flip
     comes from kemu's GET /metrics, scraped before the PATCH and after the window (the streams
     quiet): the change of workqueue_work_duration_seconds_sum and _count for name="endpoint_slice"
     (flip_controller_ms; its syncs in flip_controller_syncs).

Phase "kep" (one fresh kemu): --kep-pods ready pods behind Service `kep`; a selectorless Service
`kep-raw` with a custom Endpoints object carrying all --kep-pods addresses (encoded like the Endpoints
controller's: ip, nodeName, targetRef) - custom Endpoints are not truncated. For each N in
--kep-watchers: N watchers each of
  endpoints?fieldSelector=metadata.name=kep                     (controller-managed, truncated to 1,000)
  endpointslices?labelSelector=kubernetes.io/service-name=kep
  endpoints?fieldSelector=metadata.name=kep-raw                 (untruncated)
all from a resourceVersion taken after the cluster settled. One pod's readiness is flipped (the pod
with the lowest IP, so it is among the 1,000 addresses the truncated Endpoints keeps), and then one
address of kep-raw is moved between addresses and notReadyAddresses with a PUT. After each change
the streams must be quiet for 1 s; the HTTP chunk payload bytes each watcher received are counted
(and wire bytes, which add chunk framing).

Every server is started here on 127.0.0.1 and stopped by PID; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import es_streams as es  # noqa: E402

SLICES = "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"
ENDPOINTS = "/api/v1/namespaces/{ns}/endpoints"
PODS = "/api/v1/namespaces/{ns}/pods"
SERVICES = "/api/v1/namespaces/{ns}/services"
MERGE = "application/merge-patch+json"
UID_RE = re.compile(rb'"uid":"([^"]+)"')
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def pod_ip(i: int) -> str:
    return f"10.{1 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}"


def node_name(i: int, nodes: int) -> str:
    return f"node-{i % nodes}"


def pod_body(name: str, app: str, node: str) -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "labels": {"app": app}},
                       "spec": {"nodeName": node, "containers": [{"name": "app", "image": "nginx:1.27"}]}},
                      separators=(",", ":")).encode()


def status_body(ip: str, ready: bool) -> bytes:
    return json.dumps({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                                  "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}},
                      separators=(",", ":")).encode()


def ready_patch(ready: bool) -> bytes:
    # A JSON merge patch replaces the conditions list as a whole.
    return json.dumps({"status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}},
                      separators=(",", ":")).encode()


def service_body(name: str, app: str | None) -> dict:
    spec: dict = {"ports": [{"port": 80}]}
    if app:
        spec["selector"] = {"app": app}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def cpu_ns(pid: int) -> int:
    """CPU time (user + system) of process `pid` in ns, from /proc/PID/stat. Exited threads count
    too; the resolution is one clock tick (10 ms), so it is only meaningful summed over windows."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // bl.CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0


def stats(v: list[float]) -> dict:
    if not v:
        return {"n": 0}
    return {"p50": round(bl.pct(v, 50), 3), "p99": round(bl.pct(v, 99), 3), "min": round(min(v), 3),
            "max": round(max(v), 3), "n": len(v)}


METRIC_LINE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text lines → {'name{labels}': value} (labels exactly as kemu writes them, sorted by name)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = METRIC_LINE_RE.match(line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


async def scrape(c: es.Conn) -> dict[str, float]:
    st, body = await c.request("GET", "/metrics")
    if st != 200:
        raise RuntimeError(f"GET /metrics -> HTTP {st}: {body[:300]!r}")
    return parse_metrics(body.decode())


SLICE_WORK_SUM = 'workqueue_work_duration_seconds_sum{name="endpoint_slice"}'
SLICE_WORK_COUNT = 'workqueue_work_duration_seconds_count{name="endpoint_slice"}'


# --------------------------------------------------------------------------------------------
# Seeding


async def seed_pods(port: int, ns: str, prefix: str, app: str, count: int, conns: int, nodes: int) -> dict:
    """Nodes node-0..node-(nodes-1), namespace `ns` and `count` ready pods PREFIX-i on node-(i % nodes)
    with unique IPs, over `conns` connections. (The EndpointSlice controller, like upstream's, leaves
    out pods whose node does not exist.)"""
    c = await es.Conn(port).connect()
    st, body = await c.request("POST", "/api/v1/namespaces",
                               {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    if st not in (200, 201, 409):
        raise RuntimeError(f"creating namespace {ns}: HTTP {st}: {body[:300]!r}")
    for n in range(nodes):
        st, body = await c.request("POST", "/api/v1/nodes",
                                   {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{n}"}})
        if st not in (200, 201, 409):
            raise RuntimeError(f"creating node-{n}: HTTP {st}: {body[:300]!r}")
    c.close()
    uids: list[str | None] = [None] * count
    errors: list[str] = []
    statuses: dict[str, int] = {}

    async def worker(w: int) -> None:
        c = await es.Conn(port).connect()
        try:
            for i in range(w, count, conns):
                name = f"{prefix}-{i}"
                st, body = await c.request("POST", PODS.format(ns=ns), pod_body(name, app, node_name(i, nodes)))
                statuses[f"create {st}"] = statuses.get(f"create {st}", 0) + 1
                if st not in (200, 201):
                    if len(errors) < 3:
                        errors.append(f"POST {name}: HTTP {st}: {body[:200]!r}")
                    continue
                m = UID_RE.search(body)
                uids[i] = m.group(1).decode() if m else None
                st, body = await c.request("PATCH", f"{PODS.format(ns=ns)}/{name}/status",
                                           status_body(pod_ip(i), True), MERGE)
                statuses[f"status {st}"] = statuses.get(f"status {st}", 0) + 1
                if st != 200 and len(errors) < 3:
                    errors.append(f"PATCH {name}/status: HTTP {st}: {body[:200]!r}")
        finally:
            c.close()

    t = time.monotonic()
    await asyncio.gather(*(worker(w) for w in range(conns)))
    secs = time.monotonic() - t
    if errors:
        raise RuntimeError("seeding failed: " + "; ".join(errors))
    return {"pods": count, "connections": conns, "seconds": round(secs, 2),
            "requests_per_s": round(2 * count / secs, 0), "statuses": statuses, "uids": uids}


async def collection_rv(c: es.Conn, path: str) -> str:
    """The resourceVersion of an (empty, by field selector) LIST of `path`."""
    st, lst = await c.json("GET", path + "?fieldSelector=" + urllib.parse.quote("metadata.name=-none-"))
    if st != 200:
        raise RuntimeError(f"LIST {path} -> HTTP {st}: {str(lst)[:300]}")
    return lst["metadata"]["resourceVersion"]


class SliceView:
    """Latest version of every slice seen on a watch: name -> {ip: ready}."""

    def __init__(self):
        self.slices: dict[str, dict[str, bool | None]] = {}
        self.total = 0

    def apply(self, ev: dict) -> None:
        obj = ev.get("object") or {}
        name = (obj.get("metadata") or {}).get("name")
        if not name or ev.get("type") not in ("ADDED", "MODIFIED", "DELETED"):
            return
        self.total -= len(self.slices.pop(name, {}))
        if ev["type"] != "DELETED":
            eps = {}
            for ep in obj.get("endpoints") or []:
                for a in ep.get("addresses") or []:
                    eps[a] = (ep.get("conditions") or {}).get("ready")
            self.slices[name] = eps
            self.total += len(eps)

    def union(self) -> dict[str, bool | None]:
        out: dict[str, bool | None] = {}
        for eps in self.slices.values():
            out.update(eps)
        return out


def endpoints_addresses(obj: dict | None) -> tuple[int, int]:
    ready = not_ready = 0
    for s in (obj or {}).get("subsets") or []:
        ready += len(s.get("addresses") or [])
        not_ready += len(s.get("notReadyAddresses") or [])
    return ready, not_ready


async def wait_covered(w: es.WatchStream, view: SliceView, want: set[str], timeout: float) -> dict | None:
    """Parses `w` until the slices cover every IP in `want`; returns the completing event (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ev in w.parse():
            view.apply(ev)
            if view.total >= len(want) and set(view.union()) >= want:
                return ev
        if w.closed:
            return None
        await asyncio.sleep(0.005)
    return None


# --------------------------------------------------------------------------------------------
# Phase "nothing": reconcile a 10,000-pod Service from nothing, then single flips


async def phase_nothing(args, server: bl.Server) -> dict:
    port, pid = server.port, server.pid
    ns = "es"
    res: dict = {}
    seed = await seed_pods(port, ns, "big", "big", args.pods, args.conns, args.nodes)
    seed.pop("uids")
    res["seed"] = seed
    ips = {pod_ip(i) for i in range(args.pods)}
    c = await es.Conn(port).connect()
    rv = await collection_rv(c, SLICES.format(ns=ns))
    sw = es.WatchStream("slices", f"{SLICES.format(ns=ns)}?watch=true&resourceVersion={rv}")
    ew = es.WatchStream("endpoints", f"{ENDPOINTS.format(ns=ns)}?watch=true&resourceVersion={rv}")
    await es.open_stream(sw, port)
    await es.open_stream(ew, port)
    if await es.wait_headers([sw, ew], 10) or sw.status != 200 or ew.status != 200:
        raise RuntimeError(f"watches did not start: slices HTTP {sw.status}, endpoints HTTP {ew.status}")
    await asyncio.sleep(0.2)
    res["server_seeded"] = bl.proc_status(pid)
    res["quiet_wait"] = bl.wait_for_quiet_machine([pid], max_wait=args.quiet_wait)

    # ---- from nothing ----
    meter = bl.CpuMeter([pid])
    cpu0 = cpu_ns(pid)
    t0 = await c.send("POST", SERVICES.format(ns=ns), json.dumps(service_body("big", "big")).encode())
    st, body = await c.response()
    post_ms = (time.time_ns() - t0) / 1e6
    if st != 201:
        raise RuntimeError(f"POST service -> HTTP {st}: {body[:300]!r}")
    view = SliceView()
    done = await wait_covered(sw, view, ips, args.timeout)
    cpu_done = cpu_ns(pid)
    res["cpu"] = meter.stop()
    settled = await es.wait_quiet([sw, ew], quiet=1.0, timeout=30.0)
    cpu_settled = cpu_ns(pid)
    for ev in sw.parse():
        view.apply(ev)
    ew.parse()
    slice_types: dict[str, int] = {}
    for ev in sw.events:
        slice_types[ev["type"]] = slice_types.get(ev["type"], 0) + 1
    ep_events = [{"type": ev["type"], "ms": round((ev["kns"] - t0) / 1e6, 3), "bytes": ev["bytes"],
                  "addresses": endpoints_addresses(ev["object"]),
                  "annotations": ((ev["object"] or {}).get("metadata") or {}).get("annotations")}
                 for ev in ew.events]
    union = view.union()
    res["from_nothing"] = {
        "post_roundtrip_ms": round(post_ms, 3),
        "all_covered_ms": round((done["kns"] - t0) / 1e6, 3) if done else None,
        "first_slice_ms": round((sw.events[0]["kns"] - t0) / 1e6, 3) if sw.events else None,
        "last_slice_event_ms": round((sw.events[-1]["kns"] - t0) / 1e6, 3) if sw.events else None,
        "slice_events": slice_types,
        "slice_writes": len(sw.events),
        "slices": len(view.slices),
        "endpoints_per_slice": sorted({len(v) for v in view.slices.values()}),
        "covered": len(set(union) & ips), "ready": sum(1 for v in union.values() if v is True),
        "slice_event_bytes_total": sum(ev["bytes"] for ev in sw.events),
        "slice_event_bytes_max": max((ev["bytes"] for ev in sw.events), default=0),
        "endpoints_events": ep_events,
        "settled": settled,
        "kemu_cpu_ms_to_covered": round((cpu_done - cpu0) / 1e6, 1),
        "kemu_cpu_ms_to_settled": round((cpu_settled - cpu0) / 1e6, 1),
    }
    # The final state from a LIST.
    st, lst = await c.json("GET", f"{SLICES.format(ns=ns)}?labelSelector={SERVICE_NAME_LABEL}%3Dbig")
    if st == 200:
        items = lst.get("items") or []
        res["from_nothing"]["list"] = {
            "slices": len(items),
            "endpoints": sum(len(i.get("endpoints") or []) for i in items),
            "per_slice": sorted({len(i.get("endpoints") or []) for i in items}),
            "not_ready": sum(1 for i in items for e in i.get("endpoints") or []
                             if (e.get("conditions") or {}).get("ready") is not True),
        }
    fn = res["from_nothing"]
    fn["target_100ms_met"] = bool(done) and fn["all_covered_ms"] <= 100.0
    fn["exactly_100_creates"] = (slice_types == {"ADDED": -(-args.pods // args.max_per_slice)})
    if not done:
        res["problems"] = [f"the slices never covered all {args.pods} pods within {args.timeout}s "
                           f"(covered {fn['covered']}, {len(sw.events)} slice events)"]
    # ---- single flips ----
    if args.flips > 0:
        res["flips"] = await flips(args, c, pid, ns, sw, ew, view, slices_ok=done is not None)
    es.close_stream(sw)
    es.close_stream(ew)
    c.close()
    res["server_end"] = bl.proc_status(pid)
    return res


async def flips(args, c: es.Conn, pid: int, ns: str, sw: es.WatchStream, ew: es.WatchStream,
                view: SliceView, slices_ok: bool = True) -> dict:
    npods = max(1, (args.flips + 1) // 2)
    picks = [(k * 1009 + 7) % args.pods for k in range(npods)]
    window = int(args.flip_window * 1e9)
    out: list[dict] = []
    await es.wait_quiet([sw, ew], quiet=0.5, timeout=10.0)
    quiet = bl.wait_for_quiet_machine([pid], max_wait=args.quiet_wait)
    sw.parse()
    ew.parse()
    first_index = len(sw.events)
    first_ep_index = len(ew.events)
    t_first = None
    for i in range(args.flips):
        idx = picks[i // 2]
        ready = i % 2 == 1                        # False first, then back to True on the same pod
        name, ip = f"big-{idx}", pod_ip(idx)
        await es.wait_quiet([sw, ew], quiet=0.2, timeout=5.0)
        bl.wait_for_quiet_machine([pid], window=0.2, max_wait=3.0)
        sw.parse()
        ew.parse()
        n_s0, n_e0 = len(sw.events), len(ew.events)
        m0 = await scrape(c)
        cpu0 = cpu_ns(pid)
        t0 = await c.send("PATCH", f"{PODS.format(ns=ns)}/{name}/status", ready_patch(ready), MERGE)
        st, body = await c.response()
        patch_ms = (time.time_ns() - t0) / 1e6
        t_first = t_first or t0
        found = None
        deadline = time.monotonic() + (5.0 if slices_ok else 0.0)
        while found is None and time.monotonic() < deadline:
            for ev in sw.parse():
                view.apply(ev)
                if found is None and ev["type"] == "MODIFIED":
                    for ep in (ev["object"] or {}).get("endpoints") or []:
                        if ip in (ep.get("addresses") or []) and \
                                ((ep.get("conditions") or {}).get("ready") is True) == ready:
                            found = ev
            if found is None:
                await asyncio.sleep(0.0005)
        left = (t0 + window - time.time_ns()) / 1e9
        if left > 0:
            await asyncio.sleep(left)
        await asyncio.sleep(0.02)               # reads stamped inside the window but not yet handled
        for ev in sw.parse():
            view.apply(ev)
        ew.parse()
        cpu1 = cpu_ns(pid)
        await es.wait_quiet([sw, ew], quiet=0.2, timeout=5.0)
        m1 = await scrape(c)
        s_ev = [e for e in sw.events[n_s0:] if e["kns"] - t0 <= window]
        e_ev = [e for e in ew.events[n_e0:] if e["kns"] - t0 <= window]
        out.append({
            "pod": name, "ready": ready, "patch_status": st, "patch_ms": round(patch_ms, 3),
            "slice_ms": round((found["kns"] - t0) / 1e6, 3) if found else None,
            "slice_event_bytes": found["bytes"] if found else None,
            "slice_events_in_window": len(s_ev), "slice_event_types": [e["type"] for e in s_ev],
            "endpoints_events_in_window": len(e_ev),
            "endpoints_ms": round((e_ev[0]["kns"] - t0) / 1e6, 3) if e_ev else None,
            "endpoints_event_bytes": e_ev[0]["bytes"] if e_ev else None,
            "kemu_cpu_ms_window": round((cpu1 - cpu0) / 1e6, 3),
            "controller_ms": round((m1.get(SLICE_WORK_SUM, 0) - m0.get(SLICE_WORK_SUM, 0)) * 1e3, 3),
            "controller_syncs": int(m1.get(SLICE_WORK_COUNT, 0) - m0.get(SLICE_WORK_COUNT, 0)),
        })
    await es.wait_quiet([sw, ew], quiet=1.5, timeout=10.0)
    sw.parse()
    ew.parse()
    lat = [f["slice_ms"] for f in out if f["slice_ms"] is not None]
    ep_lat = [f["endpoints_ms"] for f in out if f["endpoints_ms"] is not None]
    res = {
        "flips": len(out), "window_s": args.flip_window, "quiet_wait": quiet,
        "slice_ms": stats(lat), "endpoints_ms": stats(ep_lat),
        "patch_ms": stats([f["patch_ms"] for f in out]),
        "kemu_cpu_ms_window": stats([f["kemu_cpu_ms_window"] for f in out]),
        "flip_controller_ms": stats([f["controller_ms"] for f in out]),
        "flip_controller_syncs": stats([f["controller_syncs"] for f in out]),
        "missing_slice_event": sum(1 for f in out if f["slice_ms"] is None),
        "flips_with_exactly_one_slice_event": sum(1 for f in out if f["slice_events_in_window"] == 1),
        "slice_events_total": len(sw.events) - first_index,
        "endpoints_events_total": len(ew.events) - first_ep_index,
        "per_flip": out,
    }
    res["exactly_one_slice_write_met"] = (res["flips_with_exactly_one_slice_event"] == len(out)
                                          and res["slice_events_total"] == len(out))
    return res


# --------------------------------------------------------------------------------------------
# Phase "kep": bytes sent to watchers of Endpoints vs EndpointSlices for one endpoint update


async def open_group(port: int, label: str, path: str, n: int, keep_first: int = 2) -> list[es.WatchStream]:
    streams = [es.WatchStream(label, path, keep=i < keep_first) for i in range(n)]
    sem = asyncio.Semaphore(100)
    await asyncio.gather(*(es.open_stream(w, port, sem) for w in streams))
    return streams


def group_result(streams: list[es.WatchStream], before: list[int], t0: int) -> dict:
    deltas = [w.payload_bytes - b for w, b in zip(streams, before)]
    kept = [w for w in streams if w.keep]
    events = []
    for w in kept:
        w.parse()
        for ev in (e for e in w.events if e["kns"] >= t0):
            obj = ev["object"] or {}
            md = obj.get("metadata") or {}
            item = {"type": ev["type"], "bytes": ev["bytes"], "kind": obj.get("kind"), "name": md.get("name"),
                    "ms": round((ev["kns"] - t0) / 1e6, 3)}
            if obj.get("kind") == "Endpoints":
                item["addresses"] = endpoints_addresses(obj)
                item["over_capacity"] = (md.get("annotations") or {}).get("endpoints.kubernetes.io/over-capacity")
            elif obj.get("kind") == "EndpointSlice":
                item["endpoints"] = len(obj.get("endpoints") or [])
            events.append(item)
    last = [(w.last_kns - t0) / 1e6 for w, d in zip(streams, deltas) if d > 0]
    return {
        "watchers": len(streams), "open": sum(1 for w in streams if w.sock is not None and not w.closed),
        "ended": sum(1 for w in streams if w.closed), "errors": sum(1 for w in streams if w.error),
        "framing_errors": sum(w.framing_errors for w in streams),
        "bytes_per_watcher": sorted(set(deltas)) if len(set(deltas)) <= 5 else
        {"min": min(deltas), "max": max(deltas)},
        "bytes_total": sum(deltas),
        "watchers_that_received": sum(1 for d in deltas if d > 0),
        "last_watcher_ms": round(max(last), 3) if last else None,
        "first_watcher_ms": round(min(last), 3) if last else None,
        "sample_events": events,
    }


async def phase_kep(args, server: bl.Server) -> dict:
    port, pid = server.port, server.pid
    ns, svc, raw = "kep", "kep", "kep-raw"
    res: dict = {"pods": args.kep_pods}
    seed = await seed_pods(port, ns, "kep", "kep", args.kep_pods, args.conns, args.nodes)
    uids = seed.pop("uids")
    res["seed"] = seed
    c = await es.Conn(port).connect()

    # The selector Service, reconciled from nothing (timed too, as a bonus).
    rv = await collection_rv(c, SLICES.format(ns=ns))
    sw = es.WatchStream("slices", f"{SLICES.format(ns=ns)}?watch=true&resourceVersion={rv}")
    await es.open_stream(sw, port)
    await es.wait_headers([sw], 10)
    await asyncio.sleep(0.2)
    t0 = await c.send("POST", SERVICES.format(ns=ns), json.dumps(service_body(svc, "kep")).encode())
    st, body = await c.response()
    if st != 201:
        raise RuntimeError(f"POST service {svc} -> HTTP {st}: {body[:300]!r}")
    view = SliceView()
    done = await wait_covered(sw, view, {pod_ip(i) for i in range(args.kep_pods)}, args.timeout)
    res["from_nothing_ms"] = round((done["kns"] - t0) / 1e6, 3) if done else None
    await es.wait_quiet([sw], quiet=1.0, timeout=30.0)
    for ev in sw.parse():
        view.apply(ev)
    res["slices"] = len(view.slices)
    res["slice_writes"] = len(sw.events)
    es.close_stream(sw)
    if not done:
        res.setdefault("problems", []).append(
            f"the slices of {svc} never covered all {args.kep_pods} pods within {args.timeout}s")

    # The controller's Endpoints object (truncated).
    st, ep = await c.json("GET", f"{ENDPOINTS.format(ns=ns)}/{svc}")
    if st != 200:
        raise RuntimeError(f"GET endpoints {svc} -> HTTP {st}: {str(ep)[:300]}")
    first_addr = ep["subsets"][0]["addresses"][0]
    res["endpoints_object"] = {"addresses": endpoints_addresses(ep),
                               "annotations": (ep["metadata"].get("annotations") or {}),
                               "get_bytes": len(json.dumps(ep, separators=(",", ":")))}
    flip_name = first_addr["targetRef"]["name"]
    flip_idx = int(flip_name.rsplit("-", 1)[1])
    res["flipped_pod"] = {"name": flip_name, "ip": first_addr["ip"]}

    # A selectorless Service with a custom, untruncated Endpoints object of all pods' addresses,
    # each encoded as the Endpoints controller encodes one.
    st, body = await c.request("POST", SERVICES.format(ns=ns), service_body(raw, None))
    if st != 201:
        raise RuntimeError(f"POST service {raw} -> HTTP {st}: {body[:300]!r}")
    template = {k: v for k, v in first_addr.items() if k not in ("ip", "targetRef")}

    def address(i: int) -> dict:
        a = {"ip": pod_ip(i), **template,
             "targetRef": {**first_addr["targetRef"], "name": f"kep-{i}", "uid": uids[i]}}
        return a

    order = sorted(range(args.kep_pods), key=lambda i: pod_ip(i).encode())
    raw_obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": raw},
               "subsets": [{"addresses": [address(i) for i in order], "ports": ep["subsets"][0]["ports"]}]}
    st, body = await c.request("POST", ENDPOINTS.format(ns=ns), raw_obj)
    if st != 201:
        raise RuntimeError(f"POST endpoints {raw} -> HTTP {st}: {body[:300]!r}")
    st, raw_stored = await c.json("GET", f"{ENDPOINTS.format(ns=ns)}/{raw}")
    res["raw_endpoints_object"] = {"addresses": endpoints_addresses(raw_stored),
                                   "get_bytes": len(json.dumps(raw_stored, separators=(",", ":"))),
                                   "post_body_bytes": len(json.dumps(raw_obj, separators=(",", ":")))}
    await asyncio.sleep(2.0)                      # mirroring and the rest settle

    runs = []
    ready = False
    for n in args.kep_watchers:
        rv = await collection_rv(c, ENDPOINTS.format(ns=ns))
        q = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731
        g_ep = await open_group(port, "endpoints", f"{ENDPOINTS.format(ns=ns)}?watch=true&resourceVersion={rv}"
                                f"&fieldSelector={q('metadata.name=' + svc)}", n)
        g_sl = await open_group(port, "slices", f"{SLICES.format(ns=ns)}?watch=true&resourceVersion={rv}"
                                f"&labelSelector={q(SERVICE_NAME_LABEL + '=' + svc)}", n)
        g_raw = await open_group(port, "raw", f"{ENDPOINTS.format(ns=ns)}?watch=true&resourceVersion={rv}"
                                 f"&fieldSelector={q('metadata.name=' + raw)}", n)
        groups = g_ep + g_sl + g_raw
        missing = await es.wait_headers(groups, 30)
        bad = sum(1 for w in groups if w.status != 200)
        await es.wait_quiet(groups, quiet=0.5, timeout=10.0)
        run: dict = {"watchers_per_group": n, "rv": rv, "missing_headers": missing, "bad_status": bad,
                     "server_with_watchers": bl.proc_status(pid)}
        run["quiet_wait"] = bl.wait_for_quiet_machine([pid], max_wait=args.quiet_wait)
        pre = [w.payload_bytes for w in groups]

        # 1. One pod's readiness flips.
        cpu0 = cpu_ns(pid)
        t0 = await c.send("PATCH", f"{PODS.format(ns=ns)}/{flip_name}/status", ready_patch(ready), MERGE)
        st, body = await c.response()
        run["flip"] = {"ready": ready, "patch_status": st}
        run["flip"]["settled"] = await es.wait_settled([g_ep, g_sl, g_raw], quiet=1.0, timeout=120.0)
        run["flip"]["kemu_cpu_ms"] = round((cpu_ns(pid) - cpu0) / 1e6, 1)
        run["flip"]["endpoints"] = group_result(g_ep, pre[:n], t0)
        run["flip"]["slices"] = group_result(g_sl, pre[n:2 * n], t0)
        run["flip"]["raw"] = group_result(g_raw, pre[2 * n:], t0)
        mid = [w.payload_bytes for w in groups]

        # 2. One address of the untruncated custom Endpoints moves between the two lists.
        st, cur = await c.json("GET", f"{ENDPOINTS.format(ns=ns)}/{raw}")
        sub = cur["subsets"][0]
        addrs, nready = sub.get("addresses") or [], sub.get("notReadyAddresses") or []
        target = pod_ip(flip_idx)
        if ready:     # move it back
            moved = [a for a in nready if a["ip"] == target]
            sub["notReadyAddresses"] = [a for a in nready if a["ip"] != target]
            sub["addresses"] = sorted(addrs + moved, key=lambda a: a["ip"].encode())
            if not sub["notReadyAddresses"]:
                del sub["notReadyAddresses"]
        else:
            moved = [a for a in addrs if a["ip"] == target]
            sub["addresses"] = [a for a in addrs if a["ip"] != target]
            sub["notReadyAddresses"] = moved
        put = json.dumps(cur, separators=(",", ":")).encode()
        await es.wait_quiet(groups, quiet=0.3, timeout=10.0)
        bl.wait_for_quiet_machine([pid], window=0.3, max_wait=args.quiet_wait)
        cpu0 = cpu_ns(pid)
        t0 = await c.send("PUT", f"{ENDPOINTS.format(ns=ns)}/{raw}", put)
        st, body = await c.response(timeout=60)
        run["raw_update"] = {"put_status": st, "put_body_bytes": len(put), "moved": len(moved),
                             "put_ms": round((time.time_ns() - t0) / 1e6, 3)}
        if st != 200:
            run["raw_update"]["error"] = body[:300].decode(errors="replace")
        run["raw_update"]["settled"] = await es.wait_settled([g_ep, g_sl, g_raw], quiet=1.0, timeout=180.0)
        run["raw_update"]["kemu_cpu_ms"] = round((cpu_ns(pid) - cpu0) / 1e6, 1)
        run["raw_update"]["raw"] = group_result(g_raw, mid[2 * n:], t0)
        run["raw_update"]["endpoints"] = group_result(g_ep, mid[:n], t0)
        run["raw_update"]["slices"] = group_result(g_sl, mid[n:2 * n], t0)
        run["server_after"] = bl.proc_status(pid)

        def per(g):
            b = g["bytes_per_watcher"]
            return b[0] if isinstance(b, list) and len(b) == 1 else None
        e_b, s_b = per(run["flip"]["endpoints"]), per(run["flip"]["slices"])
        r_b = per(run["raw_update"]["raw"])
        run["bytes_per_watcher"] = {"endpoints_truncated": e_b, "endpointslices": s_b, "endpoints_untruncated": r_b}
        run["ratio_truncated"] = round(e_b / s_b, 1) if e_b and s_b else None
        run["ratio_untruncated"] = round(r_b / s_b, 1) if r_b and s_b else None
        for w in groups:
            es.close_stream(w)
        runs.append(run)
        ready = not ready
        await asyncio.sleep(0.5)
    res["runs"] = runs
    c.close()
    return res


# --------------------------------------------------------------------------------------------


def server_cmd(args, extra: list[str]) -> list[str]:
    return bl.kemu_cmd(args.kemu) + ["--event-history", str(args.event_history),
                                     "--max-endpoints-per-slice", str(args.max_per_slice)] + extra + args.kemu_arg


def summarize(results: dict) -> dict:
    s: dict = {}
    runs = [r for r in results.get("nothing", []) if r.get("from_nothing")]
    if runs:
        cov = [r["from_nothing"]["all_covered_ms"] for r in runs if r["from_nothing"]["all_covered_ms"] is not None]
        s["from_nothing_ms_runs"] = cov
        s["from_nothing_ms_median"] = round(bl.median(cov), 1) if cov else None
        s["from_nothing_slice_events"] = [r["from_nothing"]["slice_events"] for r in runs]
        s["from_nothing_cpu_ms_runs"] = [r["from_nothing"]["kemu_cpu_ms_to_covered"] for r in runs]
        s["target_from_nothing_100ms_met"] = bool(cov) and len(cov) == len(runs) and bl.median(cov) <= 100.0
        s["exactly_100_creates_all_runs"] = all(r["from_nothing"]["exactly_100_creates"] for r in runs)
        fl = [f for r in runs if r.get("flips") for f in r["flips"]["per_flip"]]
        if fl:
            lat = [f["slice_ms"] for f in fl if f["slice_ms"] is not None]
            s["flip_slice_ms"] = stats(lat)
            s["flip_endpoints_ms"] = stats([f["endpoints_ms"] for f in fl if f["endpoints_ms"] is not None])
            s["flip_patch_ms"] = stats([f["patch_ms"] for f in fl])
            s["flip_kemu_cpu_ms_window"] = stats([f["kemu_cpu_ms_window"] for f in fl])
            s["flip_kemu_cpu_ms_mean"] = round(sum(f["kemu_cpu_ms_window"] for f in fl) / len(fl), 2)
            ctl = [f["controller_ms"] for f in fl if "controller_ms" in f]
            s["flip_controller_ms"] = stats(ctl)
            s["flip_controller_ms_mean"] = round(sum(ctl) / len(ctl), 3) if ctl else None
            s["flip_controller_syncs"] = stats([f["controller_syncs"] for f in fl if "controller_syncs" in f])
            s["flips_controller_within_2ms"] = sum(1 for x in ctl if x <= 2.0)
            s["target_flip_controller_2ms_met"] = bool(ctl) and bl.pct(ctl, 50) <= 2.0
            s["flips"] = len(fl)
            s["flips_with_exactly_one_slice_event"] = sum(1 for f in fl if f["slice_events_in_window"] == 1)
            s["exactly_one_slice_write_met"] = all(r["flips"]["exactly_one_slice_write_met"] for r in runs if r.get("flips"))
    kep = results.get("kep")
    if kep and kep.get("runs"):
        s["kep"] = [{"watchers": r["watchers_per_group"], **r["bytes_per_watcher"],
                     "ratio_truncated": r["ratio_truncated"], "ratio_untruncated": r["ratio_untruncated"],
                     "endpoints_last_watcher_ms": r["flip"]["endpoints"]["last_watcher_ms"],
                     "slices_last_watcher_ms": r["flip"]["slices"]["last_watcher_ms"],
                     "raw_last_watcher_ms": r["raw_update"]["raw"]["last_watcher_ms"]} for r in kep["runs"]]
        s["kep_from_nothing_ms"] = kep.get("from_nothing_ms")
    return s


async def amain(args, results: dict) -> None:
    if "nothing" in args.phases:
        results["nothing"] = []
        for i in range(args.runs):
            server = bl.start_server("kemu", server_cmd(args, []))
            r: dict = {"server_cmd": " ".join(server_cmd(args, []))}
            try:
                r.update(await phase_nothing(args, server))
                if not server.alive():
                    r["server_crashed"] = server.proc.returncode
                fn = r["from_nothing"]
                fl = r.get("flips", {})
                print(f"run {i + 1}/{args.runs}: from nothing {fn['all_covered_ms']} ms, slice events "
                      f"{fn['slice_events']}, flips slice p50/p99 {fl.get('slice_ms', {}).get('p50')}/"
                      f"{fl.get('slice_ms', {}).get('p99')} ms, exactly one write: "
                      f"{fl.get('exactly_one_slice_write_met')}, controller ms per flip p50/max "
                      f"{fl.get('flip_controller_ms', {}).get('p50')}/{fl.get('flip_controller_ms', {}).get('max')}",
                      file=sys.stderr)
            finally:
                r["server_exit"] = server.stop()
                r["server_stderr_tail"] = server.log_tail(5)
                results["nothing"].append(r)
    if "kep" in args.phases:
        extra = ["--max-body-bytes", str(16 * 1024 * 1024), "--watch-buffer-bytes", str(args.watch_buffer_bytes)]
        server = bl.start_server("kemu", server_cmd(args, extra))
        try:
            results["kep"] = await phase_kep(args, server)
            results["kep"]["server_cmd"] = " ".join(server_cmd(args, extra))
            if not server.alive():
                results["kep"]["server_crashed"] = server.proc.returncode
        finally:
            code = server.stop()
            if "kep" in results:
                results["kep"]["server_exit"] = code
                results["kep"]["server_stderr_tail"] = server.log_tail(5)


def report(d: str) -> int:
    """Markdown rows for the endpointslices*.json files in `d` (appended to summary.md by `run`)."""
    out: list[str] = []
    for p, r in bl.load_results(d, "endpointslices"):
        s = r.get("summary") or {}
        extra = " ".join((r.get("args") or {}).get("kemu_arg") or [])
        variant = f" (kemu {extra})" if extra else ""
        if r.get("error"):
            out.append(f"| 6 | {os.path.basename(p)}{variant} | failed: {r['error']} | – | – |")
        if "from_nothing_ms_median" in s:
            ev = s["from_nothing_slice_events"]
            evs = "; ".join(", ".join(f"{v} {k}" for k, v in sorted(e.items())) or "none" for e in ev)
            ok = s["target_from_nothing_100ms_met"] and s["exactly_100_creates_all_runs"]
            out.append(f"| 6 | {r['args']['pods']:,}-pod Service from nothing, {len(ev)} runs{variant} | "
                       f"median **{s['from_nothing_ms_median']} ms** (runs {', '.join(f'{x:.1f}' for x in s['from_nothing_ms_runs'])}); "
                       f"slice events per run: {evs}; kemu CPU {s['from_nothing_cpu_ms_runs']} ms | ≤ 100 ms, 100 creates | "
                       f"{'**met**' if ok else '**not met**'} |")
        if "flip_slice_ms" in s:
            f = s["flip_slice_ms"]
            ctl = s.get("flip_controller_ms") or {}
            if ctl.get("n"):
                ctl_text = (f"EndpointSlice controller work per flip (from /metrics, workqueue_work_duration_seconds "
                            f"name=endpoint_slice): p50 **{ctl['p50']} ms**, p99 {ctl['p99']} ms, max {ctl['max']} ms, "
                            f"{s.get('flips_controller_within_2ms')}/{ctl['n']} flips ≤ 2 ms; syncs per flip "
                            f"{s['flip_controller_syncs'].get('min')}–{s['flip_controller_syncs'].get('max')}")
                ctl_verdict = "**met**" if s.get("target_flip_controller_2ms_met") else "**not met**"
            else:
                ctl_text, ctl_verdict = "controller time not measured", "not measured"
            out.append(f"| 7 | one readiness flip, {s['flips']} flips{variant} | PATCH → slice MODIFIED p50 **{f.get('p50')}** / "
                       f"p99 **{f.get('p99')} ms** (end to end); exactly one slice event within 1 s: "
                       f"{s['flips_with_exactly_one_slice_event']}/{s['flips']}; {ctl_text}; kemu CPU (whole process, "
                       f"1 s window) per flip: mean {s.get('flip_kemu_cpu_ms_mean')} ms | 1 write, ≤ 2 ms controller time | "
                       f"{'**met**' if s['exactly_one_slice_write_met'] else '**not met**'} (writes); {ctl_verdict} "
                       f"(controller time, p50) |")
        for k in s.get("kep", []):
            out.append(f"| 8 | KEP-0752 single endpoint update, {k['watchers']} watchers per kind{variant} | bytes per watcher: "
                       f"Endpoints {k['endpoints_truncated']:,} (truncated to 1,000), {k['endpoints_untruncated']:,} "
                       f"({r['args']['kep_pods']:,} addresses, custom); EndpointSlice {k['endpointslices']:,}; ratio **{k['ratio_truncated']}×** "
                       f"truncated, **{k['ratio_untruncated']}×** untruncated | ≈ 200× (KEP) | see BENCHMARKS.md |")
    bl.print_table("EndpointSlice benchmark", out)
    return 0


def main() -> int:
    ap = bl.phase_parser(__doc__, "nothing,kep")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pods", type=int, default=10000)
    ap.add_argument("--flips", type=int, default=20, help="readiness flips per run (0: none)")
    ap.add_argument("--flip-window", type=float, default=1.0)
    ap.add_argument("--kep-pods", type=int, default=20000)
    ap.add_argument("--kep-watchers", default="100,500", help="comma-separated watcher counts per kind")
    ap.add_argument("--max-per-slice", type=int, default=100)
    ap.add_argument("--nodes", type=int, default=100, help="Node objects; pod i runs on node-(i %% nodes)")
    ap.add_argument("--event-history", type=int, default=200000)
    ap.add_argument("--watch-buffer-bytes", type=int, default=64 * 1024 * 1024)
    ap.add_argument("--conns", type=int, default=6, help="parallel connections for seeding")
    ap.add_argument("--timeout", type=float, default=60.0, help="max seconds to wait for slices to cover all pods")
    ap.add_argument("--quiet-wait", type=float, default=60.0)
    args = bl.parse_phase_args(ap, "endpointslices")
    if args.report:
        return report(args.report)
    args.kep_watchers = [int(x) for x in str(args.kep_watchers).split(",") if x.strip()]
    need = 3 * max(args.kep_watchers or [0]) + 200
    soft = bl.raise_nofile(max(20000, need))
    if soft < need:
        print(f"open-file limit {soft} is too low for {need} sockets", file=sys.stderr)
        return 2
    results: dict = {"benchmark": "endpointslices", "machine": bl.machine_info(),
                     "args": {k: v for k, v in vars(args).items() if k != "report"},
                     "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}
    return bl.run_benchmark(amain, args, results, summarize)


if __name__ == "__main__":
    sys.exit(main())
