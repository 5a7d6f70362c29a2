#!/usr/bin/env python3
"""Render the JSON files written by scripts/bench/run into one Markdown summary.

    python3 scripts/bench/report.py bench-results/<stamp>   > summary.md
"""

from __future__ import annotations

import json
import os
import sys
from statistics import median

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import pct  # noqa: E402


def load(d: str, name: str) -> dict | None:
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def yes(v) -> str:
    return "**met**" if v else "**not met**"


def fmt(v, nd=1) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def main() -> int:
    d = sys.argv[1] if len(sys.argv) > 1 else "."
    http, start, mem = (load(d, n) for n in ("http.json", "startup.json", "memory.json"))
    watches = [load(d, n) for n in sorted(os.listdir(d)) if n.startswith("watch_fanout") and n.endswith(".json")]
    watch = watches[0] if watches else None
    m = next((x["machine"] for x in (http, watch, start, mem) if x and "machine" in x), {})
    out = [f"Machine: {m.get('nproc')} CPUs ({m.get('cpu')}), {m.get('ram_gib')} GiB RAM, {m.get('os')}, "
           f"kernel {m.get('kernel')}; {m.get('swift')}; {m.get('wrk')}; libmicrohttpd {m.get('libmicrohttpd')}; "
           f"Python {m.get('python')}. Date: {m.get('date')}.", ""]
    out += ["| # | benchmark | result (median) | noise | target | verdict |", "|---|---|---|---|---|---|"]
    problems: list[str] = []
    if http and "summary" in http:
        s = http["summary"]
        k = http["get"]["kemu"]
        c = http["get"]["c"]
        wrk_flags = " ".join(x for x in k[0]["cmd"].split()[1:] if x.startswith("-") and x != "--latency")
        out.append(f"| 1 | GET one pod, wrk {wrk_flags}, kemu vs C (alternated, {len(k)} rounds) | "
                   f"kemu {fmt(s['get_kemu_rps_median'], 0)} req/s (p50 {s['get_kemu_p50_ms_median']:.2f} ms, p99 {s['get_kemu_p99_ms_median']:.2f} ms); "
                   f"C {fmt(s['get_c_rps_median'], 0)} req/s (p50 {s['get_c_p50_ms_median']:.2f} ms, p99 {s['get_c_p99_ms_median']:.2f} ms); "
                   f"ratio {s['get_ratio_of_medians'] * 100:.0f} % (per round: {', '.join(f'{r * 100:.0f} %' for r in s['get_ratio_per_round'])}) | "
                   f"kemu {s['get_kemu_spread']}, C {s['get_c_spread']}; other processes ≤ {s.get('foreign_cpu_pct_max', 0):.0f} % CPU | "
                   f"≥ 60 % of C | {yes(s['target_get_60pct_met'])} |")
        out.append(f"| 2 | LIST {fmt(http['list_response']['items'])} pods ({fmt(http['list_response']['body_bytes'])} B), wrk {wrk_flags} | "
                   f"{fmt(s['list_rps_median'], 0)} req/s (p50 {s['list_p50_ms_median']:.2f} ms, p99 {s['list_p99_ms_median']:.2f} ms) | "
                   f"{s['list_spread']} | ≥ 2,000 req/s | {yes(s['target_list_2000_met'])} |")
        problems += http.get("problems", [])
    elif http:
        problems.append(f"http benchmark failed: {http.get('error')}")
    ok = [w for w in watches if w and "last_watcher_ms" in w]
    for w in watches:
        if w and "error" in w:
            problems.append(f"watch fan-out run failed: {w['error']}")
        if w and w.get("patch_errors"):
            problems += w["patch_errors"]
        if w and w.get("server_crashed") is not None:
            problems.append(f"server exited during the watch run with code {w['server_crashed']}")
    if ok:
        def mv(key, sub):
            return median([w[key][sub] for w in ok])
        runs = "; ".join(f"{w['last_watcher_ms']['p50']:.1f}/{w['last_watcher_ms']['p99']:.1f}/{w['last_watcher_ms']['max']:.1f}" for w in ok)
        tot = {k: sum(w[k] for w in ok) for k in ("lost", "duplicates", "watchers_out_of_order", "framing_errors",
                                                     "events_not_at_all_watchers", "bad_status", "streams_ended")}
        met = all(w["target_p99_20ms_met"] for w in ok) if len(ok) == 1 else (
            mv("last_watcher_ms", "p99") <= 20.0 and tot["lost"] == 0 and tot["duplicates"] == 0)
        pooled = sorted(x for w in ok for x in w.get("last_watcher_ms_values", []))
        foreign = max(w.get("cpu", {}).get("foreign_pct", 0) for w in ok)
        w = ok[0]
        out.append(f"| 3 | 1 change → {w['live_watchers']} watch streams, {w['events']} PATCHes every {w['interval_ms']:g} ms, "
                   f"{len(ok)} runs (fresh server each) | "
                   f"last watcher p50 {mv('last_watcher_ms', 'p50'):.2f} / p99 {mv('last_watcher_ms', 'p99'):.2f} / "
                   f"max {mv('last_watcher_ms', 'max'):.2f} ms (kernel rx timestamps); first watcher p50 {mv('first_watcher_ms', 'p50'):.2f} ms; "
                   f"PATCH round trip p50 {mv('patch_roundtrip_ms', 'p50'):.2f} ms; "
                   f"lost {tot['lost']}, duplicates {tot['duplicates']}, out of order {tot['watchers_out_of_order']}, "
                   f"framing errors {tot['framing_errors']}, streams ended early {tot['streams_ended']} | "
                   f"per run p50/p99/max ms: {runs}; all {len(pooled)} changes pooled: p50 {pct(pooled, 50):.2f} / "
                   f"p99 {pct(pooled, 99):.2f} / max {max(pooled) if pooled else float('nan'):.2f}; other processes ≤ {foreign:.0f} % CPU | "
                   f"p99 ≤ 20 ms, 0 lost/dup | {yes(met)} |")
    if start and start.get("summary"):
        s = start["summary"]
        out.append(f"| 4 | process start → /readyz 200 ({len(start['runs'])} starts) | "
                   f"{fmt(s['ready_ms_median'])} ms (min {fmt(s['ready_ms_min'])}, max {fmt(s['ready_ms_max'])}); "
                   f"stdout line at {fmt(s['stdout_line_ms_median'])} ms | min–max above | ≤ 50 ms | {yes(s['target_50ms_met'])} |")
    if mem and mem.get("summary"):
        s = mem["summary"]
        out.append(f"| 5 | RSS idle 1 s after start ({len(mem['runs'])} starts) | {fmt(s['idle_rss_mb_median'])} MB "
                   f"(anonymous {fmt(s.get('idle_rss_anon_mb_median'))} MB + file-backed, i.e. shared libraries and the binary, "
                   f"{fmt(s.get('idle_rss_file_mb_median'))} MB); threads {s['idle_threads']} | runs {s['idle_rss_mb_runs']} | "
                   f"≤ 20 MB | {yes(s['target_idle_20mb_met'])} |")
        out.append(f"| 5b | RSS with 1,000 pods stored | {fmt(s['seeded_rss_mb_median'])} MB (runs {s['seeded_rss_mb_runs']}); "
                   f"after one LIST {fmt(s['after_list_rss_mb_median'])} MB | see runs | – | – |")
    if ok and ok[0].get("server_with_watchers"):
        watch = ok[0]
        b, wv = watch.get("server_before", {}), watch["server_with_watchers"]
        out.append(f"| 5c | RSS with {watch['live_watchers']} watch streams open | {wv['VmRSS'] / 1024:.1f} MB "
                   f"(before {b.get('VmRSS', 0) / 1024:.1f} MB), {wv.get('Threads')} threads | one run | – | – |")
    if problems:
        out += ["", "Problems seen:", ""] + [f"* {p}" for p in problems]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
