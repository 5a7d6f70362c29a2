#!/usr/bin/env python3
"""One change fanned out to many watch streams: how long until the LAST watcher has it.

    python3 scripts/bench/watch_fanout.py [--kemu BIN | --port PORT] [--watchers 1000]
                                          [--events 50] [--interval-ms 20] [--out FILE]

* Starts kemu (unless --port points at a running server), seeds namespace `bench` with
  --pods pods if `bench-0` is missing, and reads the collection's resourceVersion from a LIST.
* Opens --watchers raw sockets, each sending
  `GET /api/v1/namespaces/bench/pods?watch=true&resourceVersion=<rv>` (HTTP/1.1), read with
  asyncio `loop.add_reader` + `recvmsg` and kernel receive timestamps (SO_TIMESTAMPNS), by
  es_streams' `WatchStream`. The hot path only de-chunks and keeps the payload with its kernel and
  user receive times; the JSON lines are parsed afterwards, so Python's JSON parsing does not sit in
  the measurement.
* Sends one warm-up PATCH (n=0) and waits until every watcher has it, so every stream is live.
* Then sends --events merge-patches `{"metadata":{"labels":{"n":"<i>"}}}` to `bench/bench-0`
  (Content-Type: application/merge-patch+json) on one keep-alive connection, one every
  --interval-ms. t0 = the wall clock just before the PATCH bytes are written.
* For each change: delay until the last (and first) watcher received the complete event line.
  Reports p50/p99/max over changes, plus loss, duplicates, order and chunk-framing errors.

Kernel timestamps are per received segment; when one recvmsg drains several segments, Linux
reports the latest one, so a late read can only make a delay look longer, never shorter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
import es_streams as es  # noqa: E402

MERGE_PATCH = "application/merge-patch+json"


class Watcher(es.WatchStream):
    """One watch stream (es_streams' reader) whose events are read as (type, n, resourceVersion, kns, uns):
    n is the `n` label of pod `bench-0`, None for any other object."""

    __slots__ = ("idx", "changes", "other_lines")

    def __init__(self, idx: int, path: str):
        super().__init__(f"w{idx}", path, keep=True)
        self.idx = idx
        self.changes: list[tuple[str, str | None, str | None, int, int]] = []
        self.other_lines = 0

    def parse(self) -> list[dict]:
        new = super().parse()
        for ev in new:
            obj = ev["object"]
            if ev["type"] == "UNPARSABLE" or not isinstance(obj, dict):
                self.other_lines += 1
                continue
            md = obj.get("metadata") or {}
            name = md.get("name")
            n = (md.get("labels") or {}).get("n") if name == "bench-0" else None
            self.changes.append((ev["type"], n, md.get("resourceVersion"), ev["kns"], ev["uns"]))
        self.events = []                         # the tuples are all this benchmark reads
        return new


async def wait_all_have(watchers: list[Watcher], n_value: str, timeout: float) -> int:
    """Parse what arrived so far until every live watcher has seen label n == n_value (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        missing = 0
        for w in watchers:
            if w.sock is None:
                continue
            w.parse()
            if not any(e[1] == n_value for e in w.changes):
                missing += 1
        if missing == 0 or time.monotonic() > deadline:
            return missing
        await asyncio.sleep(0.05)


async def wait_quiet(watchers: list[Watcher], quiet: float, timeout: float) -> None:
    """Wait until no watcher received a byte for `quiet` seconds (bounded by `timeout`)."""
    deadline = time.monotonic() + timeout
    last_total, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        total = sum(w.wire_bytes for w in watchers)
        if total != last_total:
            last_total, last_change = total, time.monotonic()
        elif time.monotonic() - last_change >= quiet:
            return
        await asyncio.sleep(0.05)


async def run(args, port: int, pid: int | None) -> dict:
    res: dict = {"watchers": args.watchers, "events": args.events, "interval_ms": args.interval_ms}
    if pid:
        res["server_before"] = bl.proc_status(pid)

    # The collection's resourceVersion.
    c = bl.Client(port)
    st, lst = c.json("GET", f"/api/v1/namespaces/{args.namespace}/pods")
    c.close()
    if st != 200:
        raise RuntimeError(f"LIST -> HTTP {st}: {str(lst)[:300]}")
    rv = lst["metadata"]["resourceVersion"]
    res["list_rv"] = rv

    watch_path = f"/api/v1/namespaces/{args.namespace}/pods?watch=true&resourceVersion={rv}"
    watchers = [Watcher(i, watch_path) for i in range(args.watchers)]
    sem = asyncio.Semaphore(200)
    t = time.monotonic()
    await asyncio.gather(*(es.open_stream(w, port, sem) for w in watchers))
    res["connect_s"] = round(time.monotonic() - t, 3)
    res["connect_errors"] = sum(1 for w in watchers if w.sock is None)
    if res["connect_errors"]:
        res["connect_error_sample"] = next(w.error for w in watchers if w.sock is None)

    patcher = await es.Conn(port).connect()
    path = f"/api/v1/namespaces/{args.namespace}/pods/{args.pod}"

    # Warm-up change n=0: every stream must deliver it before we measure.
    await patcher.send("PATCH", path, b'{"metadata":{"labels":{"n":"0"}}}', MERGE_PATCH)
    st, body = await patcher.response()
    if st != 200:
        raise RuntimeError(f"warm-up PATCH -> HTTP {st}: {body[:300]!r}")
    t = time.monotonic()
    missing = await wait_all_have(watchers, "0", args.settle_timeout)
    res["warmup_s"] = round(time.monotonic() - t, 3)
    res["warmup_missing"] = missing
    if pid:
        res["server_with_watchers"] = bl.proc_status(pid)
    await asyncio.sleep(0.2)

    # Measured changes (after waiting, bounded, for other processes on the machine to be quiet).
    res["quiet_wait"] = bl.wait_for_quiet_machine([pid] if pid else [], max_wait=args.quiet_wait)
    meter = bl.CpuMeter([pid] if pid else [])
    t0s: dict[str, int] = {}
    patch_ms: list[float] = []
    patch_errors: list[str] = []
    t_begin = time.monotonic()
    for i in range(1, args.events + 1):
        slot = t_begin + (i - 1) * args.interval_ms / 1000.0
        now = time.monotonic()
        if slot > now:
            await asyncio.sleep(slot - now)
        body = json.dumps({"metadata": {"labels": {"n": str(i)}}}, separators=(",", ":")).encode()
        t0 = await patcher.send("PATCH", path, body, MERGE_PATCH)
        t0s[str(i)] = t0
        st, rbody = await patcher.response()
        patch_ms.append((time.time_ns() - t0) / 1e6)
        if st != 200 and len(patch_errors) < 3:
            patch_errors.append(f"PATCH n={i} -> HTTP {st}: {rbody[:200]!r}")
    res["patch_send_s"] = round(time.monotonic() - t_begin, 3)
    res["cpu"] = meter.stop()
    # Cheap wait first (byte counts only), so that parsing does not delay reading the last change.
    await wait_quiet(watchers, quiet=0.5, timeout=10.0)
    res["last_change_missing"] = await wait_all_have(watchers, str(args.events), args.settle_timeout)
    await wait_quiet(watchers, quiet=0.3, timeout=3.0)     # late duplicates would show up here
    if pid:
        res["server_after"] = bl.proc_status(pid)

    # Analysis.
    for w in watchers:
        w.parse()
    expected = [str(i) for i in range(0, args.events + 1)]
    lost = dup = out_of_order = rv_not_increasing = 0
    bad_status = ended = errors = framing = other = 0
    type_counts: dict[str, int] = {}
    per_event_k: dict[str, list[int]] = {n: [] for n in t0s}
    per_event_u: dict[str, list[int]] = {n: [] for n in t0s}
    for w in watchers:
        if w.sock is None:
            continue
        if w.status != 200:
            bad_status += 1
        ended += w.body_ended or w.closed
        errors += w.error is not None
        framing += w.framing_errors
        other += w.other_lines
        seen: list[str] = []
        last_rv = -1
        for typ, n, ev_rv, kns, uns in w.changes:
            type_counts[typ] = type_counts.get(typ, 0) + 1
            if n is None:
                continue
            seen.append(n)
            try:
                r = int(ev_rv)
                if r <= last_rv:
                    rv_not_increasing += 1
                last_rv = r
            except (TypeError, ValueError):
                pass
            if n in per_event_k and len([x for x in seen if x == n]) == 1:
                per_event_k[n].append(kns)
                per_event_u[n].append(uns)
        counts = {n: seen.count(n) for n in set(seen)}
        lost += sum(1 for n in expected if counts.get(n, 0) == 0)
        dup += sum(c - 1 for c in counts.values() if c > 1)
        order = [n for n in seen if n in set(expected)]
        if order != sorted(order, key=int):
            out_of_order += 1
    live = sum(1 for w in watchers if w.sock is not None)
    last_k, first_k, all_k, last_u = [], [], [], []
    incomplete = 0
    for n, t0 in t0s.items():
        ks, us = per_event_k[n], per_event_u[n]
        if len(ks) < live:
            incomplete += 1
        if not ks:
            continue
        last_k.append((max(ks) - t0) / 1e6)
        first_k.append((min(ks) - t0) / 1e6)
        all_k.extend((k - t0) / 1e6 for k in ks)
        last_u.append((max(us) - t0) / 1e6)

    def stats(v: list[float]) -> dict:
        return {"p50": round(bl.pct(v, 50), 3), "p99": round(bl.pct(v, 99), 3),
                "max": round(max(v), 3) if v else None, "n": len(v)}

    res.update({
        "live_watchers": live,
        "last_watcher_ms_values": [round(x, 3) for x in last_k],
        "last_watcher_userspace_ms_values": [round(x, 3) for x in last_u],
        "patch_send_offsets_ms": [round((t0s[n] - t0s["1"]) / 1e6, 3) for n in t0s],
        "last_watcher_ms": stats(last_k),
        "first_watcher_ms": stats(first_k),
        "all_deliveries_ms": stats(all_k),
        "last_watcher_userspace_ms": stats(last_u),
        "patch_roundtrip_ms": stats(patch_ms),
        "patch_errors": patch_errors,
        "lost": lost, "duplicates": dup, "watchers_out_of_order": out_of_order,
        "rv_not_increasing": rv_not_increasing, "events_not_at_all_watchers": incomplete,
        "bad_status": bad_status, "streams_ended": ended, "socket_errors": errors,
        "framing_errors": framing, "unparsable_lines": other, "event_types": type_counts,
    })
    res["target_p99_20ms_met"] = bool(last_k) and res["last_watcher_ms"]["p99"] <= 20.0 and lost == 0 and dup == 0

    for w in watchers:
        es.close_stream(w)
    patcher.close()
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kemu", default=bl.kemu_bin())
    ap.add_argument("--server-cmd", help="override the whole server command")
    ap.add_argument("--port", type=int, help="use a server already listening on 127.0.0.1:PORT")
    ap.add_argument("--pid", type=int, help="with --port: the server's PID, for RSS/thread readings")
    ap.add_argument("--watchers", type=int, default=1000)
    ap.add_argument("--events", type=int, default=50)
    ap.add_argument("--interval-ms", type=float, default=20.0)
    ap.add_argument("--pods", type=int, default=1000, help="pods to seed if bench/bench-0 is missing")
    ap.add_argument("--namespace", default="bench")
    ap.add_argument("--pod", default="bench-0")
    ap.add_argument("--settle-timeout", type=float, default=30.0)
    ap.add_argument("--quiet-wait", type=float, default=60.0,
                    help="max seconds to wait for other processes to go quiet before measuring")
    ap.add_argument("--out")
    args = ap.parse_args()

    soft = bl.raise_nofile(max(20000, args.watchers + 1000))
    if soft < args.watchers + 100:
        print(f"open-file limit {soft} is too low for {args.watchers} watchers", file=sys.stderr)
        return 2
    results: dict = {"benchmark": "watch_fanout", "machine": bl.machine_info(),
                     "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}
    server = None
    try:
        if args.port:
            port, pid = args.port, args.pid
        else:
            cmd = args.server_cmd.split() if args.server_cmd else bl.kemu_cmd(args.kemu)
            results["server_cmd"] = " ".join(cmd)
            server = bl.start_server("kemu", cmd)
            port, pid = server.port, server.pid
        c = bl.Client(port)
        st, _, _ = c.request("GET", f"/api/v1/namespaces/{args.namespace}/pods/{args.pod}")
        c.close()
        if st != 200:
            results["seed"] = bl.seed(port, args.pods, args.namespace, default_pod=False)
        results.update(asyncio.run(run(args, port, pid)))
        if server and not server.alive():
            results["server_crashed"] = server.proc.returncode
        s = {k: results[k] for k in ("live_watchers", "connect_s", "warmup_s", "warmup_missing",
                                     "last_watcher_ms", "first_watcher_ms", "all_deliveries_ms",
                                     "last_watcher_userspace_ms", "patch_roundtrip_ms", "lost",
                                     "duplicates", "watchers_out_of_order", "framing_errors",
                                     "events_not_at_all_watchers", "event_types", "cpu", "quiet_wait",
                                     "target_p99_20ms_met")}
        for k in ("server_before", "server_with_watchers", "server_after", "patch_errors"):
            if results.get(k):
                s[k] = results[k]
        print(json.dumps(s, indent=2))
    except Exception as e:
        results["error"] = f"{type(e).__name__}: {e}"
        print("ERROR:", results["error"], file=sys.stderr)
        if server:
            print(server.log_tail(), file=sys.stderr)
    finally:
        if server:
            results["server_exit"] = server.stop()
        bl.save_json(args.out, results)
    return 1 if "error" in results else 0


if __name__ == "__main__":
    sys.exit(main())
