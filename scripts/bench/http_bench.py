#!/usr/bin/env python3
"""GET one pod (kemu vs the C libmicrohttpd baseline, alternated) and LIST 1,000 pods, with wrk.

    python3 scripts/bench/http_bench.py [--kemu BIN] [--rounds 3] [--duration 5s] [--out FILE]

1. starts `kemu serve --address 127.0.0.1 --port 0`, seeds namespace `bench` with 1,000 pods
   (bench-0..bench-999) and `default/bench-0`, over one keep-alive connection;
2. fetches kemu's actual `GET /api/v1/namespaces/default/pods/bench-0` response and hands its
   body and its extra headers to the C baseline (scripts/bench/c-baseline/baseline.c, compiled
   here with gcc -O2), so both servers send a response of the same size;
3. runs `wrk -t2 -c32 -d5s --latency` on the pod GET against kemu and C alternately, `--rounds`
   times (after a 1 s warm-up of each), then on `/api/v1/namespaces/bench/pods` (LIST) against
   kemu `--rounds` times;
4. stops both servers by PID.

Targets (from the issue): kemu GET >= 60 % of C's req/s; LIST of 1,000 pods >= 2,000 req/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

POD_PATH = "/api/v1/namespaces/default/pods/bench-0"
LIST_PATH = "/api/v1/namespaces/bench/pods"
SKIP_HEADERS = {"date", "content-length", "connection", "transfer-encoding", "keep-alive"}
BASELINE_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "c-baseline", "baseline.c")


def build_baseline(outdir: str) -> str:
    exe = os.path.join(outdir, "baseline")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libmicrohttpd"],
                           capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["gcc", "-O2", "-o", exe, BASELINE_SRC, *flags], check=True, timeout=120)
    return exe


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kemu", default=bl.kemu_bin(), help="kemu binary (default $KEMU_BIN or .build/release/kemu)")
    ap.add_argument("--server-cmd", help="override the whole server command (must print 'listening on http://127.0.0.1:PORT')")
    ap.add_argument("--baseline", help="prebuilt C baseline binary (default: compile baseline.c into a temp dir)")
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", default="5s")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--out", help="write results as JSON here")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="kemu-bench-http-")
    baseline_bin = args.baseline or build_baseline(work)
    cmd = args.server_cmd.split() if args.server_cmd else bl.kemu_cmd(args.kemu)
    results: dict = {"benchmark": "http", "server_cmd": " ".join(cmd), "machine": bl.machine_info(),
                     "problems": []}
    kemu = c = None
    try:
        kemu = bl.start_server("kemu", cmd, workdir=work)
        results["rss_idle_kib"] = bl.proc_status(kemu.pid)
        results["seed"] = bl.seed(kemu.port, args.pods)
        results["rss_seeded_kib"] = bl.proc_status(kemu.pid)

        cl = bl.Client(kemu.port)
        st, headers, body = cl.request("GET", POD_PATH)
        if st != 200:
            raise RuntimeError(f"GET {POD_PATH} -> HTTP {st}: {body[:300]!r}")
        obj = json.loads(body)
        if obj.get("kind") != "Pod" or obj.get("metadata", {}).get("name") != "bench-0":
            results["problems"].append(f"GET {POD_PATH} returned kind={obj.get('kind')!r} "
                                       f"name={obj.get('metadata', {}).get('name')!r}")
        extra = [(k, v) for k, v in headers if k.lower() not in SKIP_HEADERS]
        results["pod_response"] = {"body_bytes": len(body), "headers": headers}
        with open(os.path.join(work, "pod.json"), "wb") as f:
            f.write(body)
        with open(os.path.join(work, "headers.txt"), "w") as f:
            f.writelines(f"{k}: {v}\n" for k, v in extra)

        st, _, lbody = cl.request("GET", LIST_PATH)
        items = len(json.loads(lbody).get("items") or []) if st == 200 else None
        results["list_response"] = {"status": st, "body_bytes": len(lbody), "items": items}
        if st != 200 or items != args.pods:
            results["problems"].append(f"GET {LIST_PATH} -> HTTP {st}, {items} items (expected {args.pods})")
        cl.close()

        c = bl.start_server("baseline", [baseline_bin, "0", os.path.join(work, "pod.json"),
                                         os.path.join(work, "headers.txt")], workdir=work)
        cc = bl.Client(c.port)
        st, _, cbody = cc.request("GET", POD_PATH)
        cc.close()
        if st != 200 or cbody != body:
            raise RuntimeError(f"C baseline answered HTTP {st} with {len(cbody)} bytes, expected {len(body)}")

        kemu_url, c_url = kemu.base + POD_PATH, c.base + POD_PATH
        pids = [kemu.pid, c.pid]
        wrk = dict(threads=args.threads, connections=args.connections)
        bl.run_wrk(kemu_url, duration="1s", **wrk)          # warm-up, not counted
        bl.run_wrk(c_url, duration="1s", **wrk)
        get_runs: dict[str, list] = {"kemu": [], "c": []}
        for rnd in range(args.rounds):
            for name, url in (("kemu", kemu_url), ("c", c_url)):
                r = bl.measured_wrk(url, pids, duration=args.duration, **wrk)
                r["round"] = rnd + 1
                get_runs[name].append(r)
                print(f"GET  {name:5s} round {rnd + 1}: {r['rps']:>10,.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
                      f"p99 {r['p99_ms']:.2f} ms  non2xx {r['non2xx']}  sock-err {r['socket_errors']}  "
                      f"other processes {r['cpu']['foreign_pct']:.0f} % CPU", flush=True)
        results["get"] = get_runs
        results["rss_after_get_kib"] = bl.proc_status(kemu.pid)

        list_runs = []
        bl.run_wrk(kemu.base + LIST_PATH, duration="1s", **wrk)
        for rnd in range(args.rounds):
            r = bl.measured_wrk(kemu.base + LIST_PATH, pids, duration=args.duration, **wrk)
            r["round"] = rnd + 1
            list_runs.append(r)
            print(f"LIST kemu  round {rnd + 1}: {r['rps']:>10,.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
                  f"p99 {r['p99_ms']:.2f} ms  non2xx {r['non2xx']}  sock-err {r['socket_errors']}  "
                  f"other processes {r['cpu']['foreign_pct']:.0f} % CPU", flush=True)
        results["list"] = list_runs
        results["rss_after_list_kib"] = bl.proc_status(kemu.pid)

        for name, runs in (("kemu GET", get_runs["kemu"]), ("C GET", get_runs["c"]), ("kemu LIST", list_runs)):
            bad = [r for r in runs if r["non2xx"] or r["socket_errors"] or r.get("error")]
            if bad:
                results["problems"].append(f"{name}: {len(bad)} run(s) with non-2xx/socket errors: "
                                           + "; ".join(f"non2xx={r['non2xx']} sock={r['socket_errors']} {r.get('error', '')}"
                                                       for r in bad))
        if not kemu.alive():
            results["problems"].append(f"kemu exited during the run with code {kemu.proc.returncode}")

        busy = [f"{n} round {r['round']}: {r['cpu']['foreign_pct']:.0f} %"
                for n, runs in (("kemu GET", get_runs["kemu"]), ("C GET", get_runs["c"]), ("kemu LIST", list_runs))
                for r in runs if r["cpu"]["foreign_pct"] >= 10]
        if busy:
            results["problems"].append("other processes used >= 10 % of the machine during: " + ", ".join(busy))
        k_rps = [r["rps"] for r in get_runs["kemu"]]
        c_rps = [r["rps"] for r in get_runs["c"]]
        l_rps = [r["rps"] for r in list_runs]
        ratios = [k / c if c else 0 for k, c in zip(k_rps, c_rps)]
        summary = {
            "get_kemu_rps_median": bl.median(k_rps), "get_kemu_spread": bl.spread(k_rps),
            "get_c_rps_median": bl.median(c_rps), "get_c_spread": bl.spread(c_rps),
            "get_kemu_p50_ms_median": bl.median([r["p50_ms"] for r in get_runs["kemu"]]),
            "get_kemu_p99_ms_median": bl.median([r["p99_ms"] for r in get_runs["kemu"]]),
            "get_c_p50_ms_median": bl.median([r["p50_ms"] for r in get_runs["c"]]),
            "get_c_p99_ms_median": bl.median([r["p99_ms"] for r in get_runs["c"]]),
            "get_ratio_of_medians": bl.median(k_rps) / bl.median(c_rps) if bl.median(c_rps) else 0,
            "get_ratio_per_round": ratios,
            "list_rps_median": bl.median(l_rps), "list_spread": bl.spread(l_rps),
            "list_p50_ms_median": bl.median([r["p50_ms"] for r in list_runs]),
            "list_p99_ms_median": bl.median([r["p99_ms"] for r in list_runs]),
            "foreign_cpu_pct_max": max(r["cpu"]["foreign_pct"] for r in get_runs["kemu"] + get_runs["c"] + list_runs),
        }
        summary["target_get_60pct_met"] = summary["get_ratio_of_medians"] >= 0.60
        summary["target_list_2000_met"] = summary["list_rps_median"] >= 2000
        results["summary"] = summary
        print(json.dumps(summary, indent=2))
        for p in results["problems"]:
            print("PROBLEM:", p)
    except Exception as e:  # report what we have, then fail
        results["error"] = f"{type(e).__name__}: {e}"
        print("ERROR:", results["error"], file=sys.stderr)
        if kemu:
            print(kemu.log_tail(), file=sys.stderr)
    finally:
        if kemu:
            results["kemu_exit"] = kemu.stop()
        if c:
            c.stop()
        bl.save_json(args.out, results)
    return 1 if "error" in results else 0


if __name__ == "__main__":
    sys.exit(main())
