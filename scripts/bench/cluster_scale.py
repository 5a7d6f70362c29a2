#!/usr/bin/env python3
"""Simulated cluster at scale (issue 4): Deployments behind Services, built from nothing by kemu's own
controllers, scheduler and kubelet.

    python3 scripts/bench/cluster_scale.py [--kemu BIN] [--phases small,large] [--runs 3] [--large-runs 1]
                                           [--small 1000x10/100] [--large 1000x100/1000] [--conns 4] [--out FILE]
    python3 scripts/bench/cluster_scale.py --report DIR     # Markdown rows for DIR/cluster*.json

A phase is DEPLOYMENTSxREPLICAS/NODES. Each run starts a fresh
`kemu serve --nodes NODES --zones a,b,c --max-pods-per-node 110 --cluster-cidr 10.128.0.0/P` (P leaves a /24 for
every node) and then:
  1. creates namespace `scale` and opens one watch on its endpointslices (not timed);
  2. waits for a quiet machine, then, over --conns keep-alive connections in parallel, POSTs for each i a
     Service `svc-i` (selector app=app-i, port 80) and then a Deployment `app-i` (REPLICAS replicas, template
     labels app=app-i, one nginx container); with --services-first, all Services before the first Deployment.
     t0 = wall clock just before the first request's bytes are written;
  3. reads the slice watch as it arrives: per slice, its Service (label kubernetes.io/service-name) and its
     number of `"ready":true` endpoints. Done = every Service's slices hold exactly REPLICAS ready endpoints
     (ready endpoints come only from Ready pods, so every pod is Ready too). Time = kernel receive time of the
     watch read that completed the last Service, minus t0;
     With --watch-pods, a pod watch also records when 50/90/100 % of the pods were Ready (diagnostics);
  4. counts slice events until the watch is quiet for 1 s; reads VmRSS/VmHWM and kemu's CPU time;
  5. checks with paginated LISTs (limit 5000) that there are exactly DEPLOYMENTSxREPLICAS pods, all Running
     and Ready, and that the listed slices hold REPLICAS ready endpoints per Service; reads VmRSS/VmHWM again.

Every server is started here on 127.0.0.1 and stopped by PID; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import es_streams as es  # noqa: E402
from endpointslices import PODS, SERVICES, SLICES, collection_rv, cpu_ns  # noqa: E402

NS = "scale"
DEPLOYMENTS = "/apis/apps/v1/namespaces/{ns}/deployments"
SERVICE_RE = re.compile(rb'"kubernetes\.io/service-name":"([^"]+)"')
NAME_RE = re.compile(rb'"metadata":\{"name":"([^"]+)"')
READY = b'"ready":true'


def parse_phase(text: str) -> dict:
    m = re.fullmatch(r"(\d+)x(\d+)/(\d+)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"expected DEPLOYMENTSxREPLICAS/NODES, got {text!r}")
    d, r, n = (int(x) for x in m.groups())
    return {"deployments": d, "replicas": r, "nodes": n}


def cluster_cidr(nodes: int) -> str:
    """10.128.0.0/P with at least `nodes` /24 subnets (P between 9 and 16)."""
    bits = max(8, (max(1, nodes) - 1).bit_length())
    return f"10.128.0.0/{max(9, 24 - bits)}"


def server_cmd(args, nodes: int) -> list[str]:
    return bl.kemu_cmd(args.kemu) + ["--nodes", str(nodes), "--zones", "a,b,c", "--max-pods-per-node", "110",
                                     "--cluster-cidr", cluster_cidr(nodes)] + args.kemu_arg


def service_body(i: int) -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc-{i}"},
                       "spec": {"selector": {"app": f"app-{i}"}, "ports": [{"port": 80, "targetPort": 80}]}},
                      separators=(",", ":")).encode()


def deployment_body(i: int, replicas: int) -> bytes:
    labels = {"app": f"app-{i}"}
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"app-{i}"},
                       "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                                "template": {"metadata": {"labels": labels},
                                             "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
                                                                      "ports": [{"containerPort": 80}]}]}}}},
                      separators=(",", ":")).encode()


class PodTally:
    """Ready pods from a pod watch (diagnostics, --watch-pods): a pod is Ready when its event line holds the
    Ready condition with status True, as kemu's kubelet writes it."""

    def __init__(self, pods: int):
        self.want = pods
        self.ready: set[bytes] = set()
        self.events = 0
        self.linebuf = bytearray()
        self.milestones: dict[str, int] = {}

    def line(self, line: bytes, kns: int) -> None:
        self.events += 1
        name = NAME_RE.search(line)
        if not name:
            return
        if b'"type":"Ready","status":"True"' in line and not line.startswith(b'{"type":"DELETED"'):
            self.ready.add(name.group(1))
        else:
            self.ready.discard(name.group(1))
        for label, frac in (("50%", 0.5), ("90%", 0.9), ("100%", 1.0)):
            if label not in self.milestones and len(self.ready) >= frac * self.want:
                self.milestones[label] = kns


class SliceTally:
    """Ready endpoints per Service from a slice watch, without decoding the JSON: each event line is an
    EndpointSlice whose `"ready":true` occurrences are its ready endpoints."""

    def __init__(self, services: int, replicas: int):
        self.want = replicas
        self.services = services
        self.by_slice: dict[bytes, tuple[bytes, int]] = {}
        self.by_service: dict[bytes, int] = {}
        self.complete = 0
        self.ready_total = 0
        self.events: dict[str, int] = {}
        self.bytes = 0
        self.linebuf = bytearray()
        self.done_kns: int | None = None
        self.milestones: dict[str, int] = {}     # "first", "50%", "90%" -> kernel ns
        self.errors: list[str] = []

    def _set(self, svc: bytes, delta: int) -> None:
        before = self.by_service.get(svc, 0)
        after = before + delta
        self.by_service[svc] = after
        self.ready_total += delta
        self.complete += (after == self.want) - (before == self.want)

    def line(self, line: bytes, kns: int) -> None:
        kind = line[9:line.find(b'"', 9)].decode(errors="replace") if line.startswith(b'{"type":"') else "?"
        self.events[kind] = self.events.get(kind, 0) + 1
        self.bytes += len(line) + 1
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            if kind != "BOOKMARK" and len(self.errors) < 3:
                self.errors.append(line[:300].decode(errors="replace"))
            return
        name = NAME_RE.search(line)
        svc = SERVICE_RE.search(line)
        if not name or not svc:
            return
        old = self.by_slice.pop(name.group(1), None)
        if old:
            self._set(old[0], -old[1])
        if kind != "DELETED":
            n = line.count(READY)
            self.by_slice[name.group(1)] = (svc.group(1), n)
            self._set(svc.group(1), n)
        total = self.services * self.want
        for label, frac in (("first", 0.0), ("50%", 0.5), ("90%", 0.9)):
            if label not in self.milestones and self.ready_total > frac * total:
                self.milestones[label] = kns
        if self.done_kns is None and self.complete == self.services:
            self.done_kns = kns


def _consume(self, w: es.WatchStream) -> None:
    """Feeds the complete event lines kept by `w` to `self.line`."""
    pieces, w.payload = w.payload, []
    for kns, _uns, data in pieces:
        self.linebuf += data
        start = 0
        while True:
            nl = self.linebuf.find(b"\n", start)
            if nl < 0:
                break
            if nl > start:
                self.line(bytes(self.linebuf[start:nl]), kns)
            start = nl + 1
        del self.linebuf[:start]


PodTally.consume = _consume
SliceTally.consume = _consume


async def list_all(c: es.Conn, path: str, page: int = 5000):
    """Yields the items of a LIST, page by page (bounded by the server's continue tokens)."""
    cont = ""
    for _ in range(100000):
        q = f"?limit={page}" + (f"&continue={urllib.parse.quote(cont)}" if cont else "")
        st, body = await c.json("GET", path + q, timeout=120)
        if st != 200:
            raise RuntimeError(f"LIST {path} -> HTTP {st}: {str(body)[:300]}")
        for item in body.get("items") or []:
            yield item
        cont = (body.get("metadata") or {}).get("continue") or ""
        if not cont:
            return


async def verify(port: int, deployments: int, replicas: int) -> dict:
    c = await es.Conn(port).connect()
    try:
        pods = ready = running = 0
        async for p in list_all(c, PODS.format(ns=NS)):
            pods += 1
            st = p.get("status") or {}
            running += st.get("phase") == "Running"
            ready += any(x.get("type") == "Ready" and x.get("status") == "True" for x in st.get("conditions") or [])
        per_service: dict[str, int] = {}
        slices = 0
        async for s in list_all(c, SLICES.format(ns=NS)):
            slices += 1
            svc = ((s.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name", "")
            per_service[svc] = per_service.get(svc, 0) + sum(
                1 for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready"))
        wrong = sorted(k for k in (f"svc-{i}" for i in range(deployments)) if per_service.get(k) != replicas)
    finally:
        c.close()
    return {"pods": pods, "pods_running": running, "pods_ready": ready, "slices": slices,
            "services_with_all_ready": deployments - len(wrong), "services_wrong": wrong[:5],
            "ok": pods == ready == running == deployments * replicas and not wrong}


async def one_run(args, phase: dict) -> dict:
    d, r, n = phase["deployments"], phase["replicas"], phase["nodes"]
    cmd = server_cmd(args, n)
    server = bl.start_server("kemu", cmd, timeout=120)
    res: dict = {"server_cmd": " ".join(cmd), **phase}
    watch = None
    try:
        pid, port = server.pid, server.port
        res["rss_start_kib"] = bl.proc_status(pid)
        c = await es.Conn(port).connect()
        st, body = await c.request("POST", "/api/v1/namespaces",
                                   {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        if st not in (200, 201):
            raise RuntimeError(f"creating namespace {NS}: HTTP {st}: {body[:300]!r}")
        rv = await collection_rv(c, SLICES.format(ns=NS))
        c.close()
        watch = es.WatchStream("slices", f"{SLICES.format(ns=NS)}?watch=true&resourceVersion={rv}")
        await es.open_stream(watch, port)
        if await es.wait_headers([watch], timeout=10) or watch.status != 200:
            raise RuntimeError(f"slice watch: HTTP {watch.status} {watch.error or ''}")
        tally = SliceTally(d, r)
        pod_watch, pod_tally = None, None
        if args.watch_pods:
            pod_watch = es.WatchStream("pods", f"{PODS.format(ns=NS)}?watch=true&resourceVersion={rv}")
            await es.open_stream(pod_watch, port)
            pod_tally = PodTally(d * r)
        res["quiet_wait"] = bl.wait_for_quiet_machine([pid], max_wait=args.quiet_wait)

        conns = [await es.Conn(port).connect() for _ in range(args.conns)]
        statuses: dict[str, int] = {}
        errors: list[str] = []
        t0s: list[int] = []
        created_ns: list[int] = []

        async def worker(c: es.Conn, items: list[tuple[str, str, int]]) -> None:
            for what, path, i in items:
                t = await c.send("POST", path, service_body(i) if what == "service" else deployment_body(i, r))
                if not t0s:
                    t0s.append(t)
                st, resp = await c.response(timeout=60)
                statuses[f"{what} {st}"] = statuses.get(f"{what} {st}", 0) + 1
                if st != 201 and len(errors) < 3:
                    errors.append(f"POST {what} {i}: HTTP {st}: {resp[:200]!r}")
            created_ns.append(time.time_ns())

        def svc(i: int) -> tuple[str, str, int]:
            return ("service", SERVICES.format(ns=NS), i)

        def dep(i: int) -> tuple[str, str, int]:
            return ("deployment", DEPLOYMENTS.format(ns=NS), i)

        async def create_all() -> None:
            # Each connection creates an app's Service, then its Deployment; with --services-first, every
            # Service is created before the first Deployment.
            if args.services_first:
                for make in (svc, dep):
                    await asyncio.gather(*(worker(c, [make(i) for i in range(w, d, args.conns)])
                                           for w, c in enumerate(conns)))
            else:
                await asyncio.gather(*(worker(c, [x for i in range(w, d, args.conns) for x in (svc(i), dep(i))])
                                       for w, c in enumerate(conns)))

        cpu0 = cpu_ns(pid)
        creators = asyncio.ensure_future(create_all())
        deadline = time.monotonic() + args.timeout
        while tally.done_kns is None and time.monotonic() < deadline and not watch.closed and server.alive():
            await asyncio.sleep(0.005)
            tally.consume(watch)
            if pod_tally:
                pod_tally.consume(pod_watch)
        await creators
        for c in conns:
            c.close()
        t0 = t0s[0]
        res["create_statuses"] = statuses
        if errors:
            res["create_errors"] = errors
        res["creates_done_ms"] = round((max(created_ns) - t0) / 1e6, 1)
        res["milestones_ms"] = {k: round((v - t0) / 1e6, 1) for k, v in tally.milestones.items()}
        if pod_tally:
            pod_tally.consume(pod_watch)
            es.close_stream(pod_watch)
            res["pods_ready_ms"] = {k: round((v - t0) / 1e6, 1) for k, v in pod_tally.milestones.items()}
            res["pod_events"] = pod_tally.events
        res["done"] = tally.done_kns is not None
        res["seconds"] = round((tally.done_kns - t0) / 1e9, 3) if tally.done_kns else None
        res["kemu_cpu_s_to_done"] = round((cpu_ns(pid) - cpu0) / 1e9, 2)
        if not res["done"]:
            res["error"] = (f"not done after {args.timeout} s: {tally.complete}/{d} Services complete, "
                            f"{tally.ready_total}/{d * r} ready endpoints; watch closed={watch.closed} "
                            f"alive={server.alive()}")
        # Settle: the watch quiet for 1 s (bounded), then whole-process readings.
        last, last_change, end = watch.wire_bytes, time.monotonic(), time.monotonic() + 120
        while time.monotonic() < end and time.monotonic() - last_change < 1.0:
            await asyncio.sleep(0.05)
            if watch.wire_bytes != last:
                last, last_change = watch.wire_bytes, time.monotonic()
        tally.consume(watch)
        res["slice_events"] = tally.events
        res["slice_event_bytes"] = tally.bytes
        if tally.errors:
            res["watch_errors"] = tally.errors
        res["kemu_cpu_s_settled"] = round((cpu_ns(pid) - cpu0) / 1e9, 2)
        res["settled"] = bl.proc_status(pid)
        res["rss_per_pod_kib"] = round((res["settled"]["VmRSS"] - res["rss_start_kib"]["VmRSS"]) / (d * r), 2)
        res["verify"] = await verify(port, d, r)
        res["after_lists"] = bl.proc_status(pid)
        if not res["verify"]["ok"] and "error" not in res:
            res["error"] = f"final LISTs disagree: {res['verify']}"
        if not server.alive():
            res["server_crashed"] = server.proc.returncode
    finally:
        if watch is not None:
            es.close_stream(watch)
        res["server_exit"] = server.stop(timeout=30)
        res["server_stderr_tail"] = server.log_tail(5)
    return res


def summarize(results: dict) -> dict:
    s: dict = {}
    for name, target in (("small", ("seconds", 10.0)), ("large", ("rss_mib", 1024.0))):
        runs = results.get(name) or []
        if not runs:
            continue
        secs = [r["seconds"] for r in runs if r.get("seconds") is not None]
        rss = [r["settled"]["VmRSS"] / 1024 for r in runs if "settled" in r]
        hwm = [r["settled"]["VmHWM"] / 1024 for r in runs if "settled" in r]
        row = {"runs": len(runs), "seconds_runs": secs, "seconds_median": round(bl.median(secs), 3) if secs else None,
               "rss_mib_runs": [round(x, 1) for x in rss], "hwm_mib_runs": [round(x, 1) for x in hwm],
               "rss_mib_median": round(bl.median(rss), 1) if rss else None,
               "hwm_mib_median": round(bl.median(hwm), 1) if hwm else None,
               "rss_per_pod_kib_runs": [r.get("rss_per_pod_kib") for r in runs],
               "cpu_s_runs": [r.get("kemu_cpu_s_to_done") for r in runs],
               "all_verified": all((r.get("verify") or {}).get("ok") for r in runs),
               "pods": runs[0]["deployments"] * runs[0]["replicas"], **{k: runs[0][k] for k in ("deployments", "replicas", "nodes")}}
        key, limit = target
        val = row["seconds_median"] if key == "seconds" else row["rss_mib_median"]
        row["target"] = f"{key} <= {limit:g}"
        row["target_met"] = val is not None and val <= limit and row["all_verified"] and len(secs) == len(runs)
        s[name] = row
    return s


async def amain(args, results: dict) -> None:
    for name, runs in (("small", args.runs), ("large", args.large_runs)):
        if name not in args.phases:
            continue
        phase = getattr(args, name)
        results[name] = []
        for i in range(runs):
            r = await one_run(args, phase)
            results[name].append(r)
            print(f"{name} {phase['deployments']}x{phase['replicas']} on {phase['nodes']} nodes, run {i + 1}/{runs}: "
                  + (run_line(r) if "settled" in r else f"failed: {r.get('error')}"), file=sys.stderr)


def run_line(r: dict) -> str:
    pods = f", ready pods {r['pods_ready_ms']}" if "pods_ready_ms" in r else ""
    return (f"{r.get('seconds')} s (creates done {r.get('creates_done_ms')} ms, ready endpoints "
            f"{r.get('milestones_ms')}{pods}), kemu CPU {r.get('kemu_cpu_s_to_done')} s, "
            f"VmRSS {r['settled']['VmRSS'] / 1024:.1f} MiB, VmHWM {r['settled']['VmHWM'] / 1024:.1f} MiB, "
            f"slice events {r.get('slice_events')}, verified {r['verify']['ok']}")


def report(d: str) -> int:
    """Markdown rows for the cluster*.json files in `d` (appended to summary.md by `run`)."""
    out: list[str] = []
    for p, r in bl.load_results(d, "cluster"):
        if r.get("error"):
            out.append(f"| 9 | {os.path.basename(p)} | failed: {r['error']} | – | – |")
        for name, s in (r.get("summary") or {}).items():
            what = (f"{s['deployments']:,} Deployments × {s['replicas']} replicas + {s['deployments']:,} Services "
                    f"({s['pods']:,} pods, {s['nodes']:,} nodes), {s['runs']} runs")
            res = (f"all Ready and in slices: median **{s['seconds_median']} s** (runs {s['seconds_runs']}); "
                   f"VmRSS **{s['rss_mib_median']} MiB** (VmHWM {s['hwm_mib_median']} MiB; per pod "
                   f"{s['rss_per_pod_kib_runs']} KiB); kemu CPU {s['cpu_s_runs']} s; verified {s['all_verified']}")
            out.append(f"| 9 | {what} | {res} | {s['target'].replace('<=', '≤')} | "
                       f"{'**met**' if s['target_met'] else '**not met**'} |")
    bl.print_table("simulated cluster", out)
    return 0


def main() -> int:
    ap = bl.phase_parser(__doc__, "small,large")
    ap.add_argument("--small", type=parse_phase, default=parse_phase("1000x10/100"), help="DEPLOYMENTSxREPLICAS/NODES")
    ap.add_argument("--large", type=parse_phase, default=parse_phase("1000x100/1000"), help="DEPLOYMENTSxREPLICAS/NODES")
    ap.add_argument("--runs", type=int, default=3, help="runs of the small phase")
    ap.add_argument("--large-runs", type=int, default=1)
    ap.add_argument("--conns", type=int, default=4, help="parallel keep-alive connections for the creates")
    ap.add_argument("--timeout", type=float, default=600.0, help="max seconds to wait for a phase to complete")
    ap.add_argument("--quiet-wait", type=float, default=60.0)
    ap.add_argument("--services-first", action="store_true",
                    help="create all Services before any Deployment (default: each Service, then its Deployment)")
    ap.add_argument("--watch-pods", action="store_true",
                    help="also watch pods and report when 50/90/100 %% were Ready (diagnostics; costs client CPU)")
    args = bl.parse_phase_args(ap, "cluster")
    if args.report:
        return report(args.report)
    results: dict = {"benchmark": "cluster", "machine": bl.machine_info(),
                     "args": {k: v for k, v in vars(args).items() if k != "report"}}
    return bl.run_benchmark(amain, args, results, summarize)


if __name__ == "__main__":
    sys.exit(main())
