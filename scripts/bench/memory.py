#!/usr/bin/env python3
"""Resident memory of kemu: idle after start, and with 1,000 pods stored.

    python3 scripts/bench/memory.py [--kemu BIN] [--runs 3] [--pods 1000] [--out FILE]

Each run starts `kemu serve --address 127.0.0.1 --port 0`, waits --idle seconds (1 s), reads
VmRSS / VmHWM / Threads from /proc/PID/status ("idle"), creates namespace `bench` and --pods pods
over one keep-alive connection, waits --idle seconds and reads again ("seeded"), then LISTs the
1,000 pods once, waits and reads again ("after one LIST"). kemu is stopped by PID. Medians over runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kemu", default=bl.kemu_bin())
    ap.add_argument("--server-cmd", help="override the whole server command")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--idle", type=float, default=1.0)
    ap.add_argument("--out")
    args = ap.parse_args()
    cmd = args.server_cmd.split() if args.server_cmd else bl.kemu_cmd(args.kemu)
    results: dict = {"benchmark": "memory", "machine": bl.machine_info(), "server_cmd": " ".join(cmd), "runs": []}
    rc = 0
    for i in range(args.runs):
        srv = bl.start_server("kemu", cmd)
        r: dict = {}
        try:
            time.sleep(args.idle)
            r["idle"] = bl.proc_status(srv.pid)
            r["seed"] = bl.seed(srv.port, args.pods, default_pod=False)
            time.sleep(args.idle)
            r["seeded"] = bl.proc_status(srv.pid)
            c = bl.Client(srv.port)
            st, _, body = c.request("GET", "/api/v1/namespaces/bench/pods")
            c.close()
            r["list_status"], r["list_bytes"] = st, len(body)
            time.sleep(args.idle)
            r["after_list"] = bl.proc_status(srv.pid)
        except Exception as e:
            r["error"] = f"{type(e).__name__}: {e}"
            print("ERROR:", r["error"], "\n", srv.log_tail(), file=sys.stderr)
            rc = 1
        finally:
            r["exit"] = srv.stop()
        results["runs"].append(r)
        print(f"run {i + 1}: " + ", ".join(f"{k} {r[k]['VmRSS'] / 1024:.1f} MB" for k in ("idle", "seeded", "after_list") if k in r)
              + (f", seeding {r['seed']['creates_per_s']:.0f} creates/s" if "seed" in r else ""), flush=True)

    def med(stage: str, key: str = "VmRSS"):
        v = [r[stage][key] / 1024 for r in results["runs"] if stage in r]
        return round(bl.median(v), 1) if v else None

    results["summary"] = {
        "idle_rss_mb_median": med("idle"), "seeded_rss_mb_median": med("seeded"),
        "idle_rss_anon_mb_median": med("idle", "RssAnon"), "idle_rss_file_mb_median": med("idle", "RssFile"),
        "seeded_rss_anon_mb_median": med("seeded", "RssAnon"),
        "after_list_rss_mb_median": med("after_list"), "after_list_hwm_mb_median": med("after_list", "VmHWM"),
        "idle_threads": [r["idle"]["Threads"] for r in results["runs"] if "idle" in r],
        "idle_rss_mb_runs": [round(r["idle"]["VmRSS"] / 1024, 1) for r in results["runs"] if "idle" in r],
        "seeded_rss_mb_runs": [round(r["seeded"]["VmRSS"] / 1024, 1) for r in results["runs"] if "seeded" in r],
        "seed_creates_per_s_median": round(bl.median([r["seed"]["creates_per_s"] for r in results["runs"] if "seed" in r]), 0)
        if any("seed" in r for r in results["runs"]) else None,
    }
    s = results["summary"]
    s["target_idle_20mb_met"] = s["idle_rss_mb_median"] is not None and s["idle_rss_mb_median"] <= 20.0
    print(json.dumps(s, indent=2))
    bl.save_json(args.out, results)
    return rc


if __name__ == "__main__":
    sys.exit(main())
