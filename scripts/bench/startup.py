#!/usr/bin/env python3
"""Time from process start to the first `GET /readyz` answered 200.

    python3 scripts/bench/startup.py [--kemu BIN] [--runs 10] [--out FILE]

Each run picks a free port P, starts `kemu serve --address 127.0.0.1 --port P`, and from the
moment just before the fork/exec polls every --poll-ms (1 ms) with a raw socket: connect (refused
until kemu listens), send `GET /readyz HTTP/1.1` with `Connection: close`, read the status line.
It also notes when the `kemu listening on ...` stdout line appeared. The process is then killed by
PID. One extra warm-up start (page cache) is made first and not counted. Reports the median,
min and max over --runs starts.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402


def readyz_status(port: int) -> int:
    """One attempt: 0 if nothing listens yet, else the HTTP status of GET /readyz."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect((bl.HOST, port))
    except (ConnectionRefusedError, socket.timeout):
        s.close()
        return 0
    try:
        s.sendall(f"GET /readyz HTTP/1.1\r\nHost: {bl.HOST}:{port}\r\nConnection: close\r\n\r\n".encode())
        buf = b""
        while b"\r\n" not in buf and len(buf) < 4096:
            d = s.recv(4096)
            if not d:
                break
            buf += d
        try:
            return int(buf.split(b"\r\n", 1)[0].split()[1])
        except (IndexError, ValueError):
            return -1
    except (OSError, socket.timeout):
        return -1
    finally:
        s.close()


def one_start(cmd_for_port, poll_s: float, timeout: float, workdir: str) -> dict:
    port = bl.free_port()
    cmd = cmd_for_port(port)
    out_path = os.path.join(workdir, "stdout")
    with open(out_path, "wb") as out, open(os.path.join(workdir, "stderr"), "wb") as err:
        t0 = time.perf_counter_ns()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    res: dict = {"port": port, "attempts": 0, "statuses": {}}
    t_line = None
    deadline = time.perf_counter() + timeout
    try:
        while time.perf_counter() < deadline:
            st = readyz_status(port)
            now = time.perf_counter_ns()
            res["attempts"] += 1
            if st:
                res["statuses"][st] = res["statuses"].get(st, 0) + 1
            if t_line is None:
                with open(out_path, "rb") as f:
                    if bl.LISTEN_RE.search(f.read()):
                        t_line = now
            if st == 200:
                res["ready_ms"] = (now - t0) / 1e6
                break
            if proc.poll() is not None:
                res["error"] = f"exited with {proc.returncode} before /readyz answered 200"
                break
            time.sleep(poll_s)
        else:
            res["error"] = f"/readyz not 200 within {timeout}s"
        if t_line is not None:
            res["stdout_line_ms"] = (t_line - t0) / 1e6
        res["rss_kib_at_ready"] = bl.proc_status(proc.pid).get("VmRSS") if proc.poll() is None else None
    finally:
        srv = bl.Server("kemu", proc, port, os.path.join(workdir, "stderr"), out_path)
        res["exit"] = srv.stop()
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kemu", default=bl.kemu_bin())
    ap.add_argument("--server-cmd", help="override the server command; '{port}' is replaced by the port")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--poll-ms", type=float, default=1.0)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--out")
    args = ap.parse_args()

    if args.server_cmd:
        def cmd_for_port(p):
            return args.server_cmd.replace("{port}", str(p)).split()
    else:
        def cmd_for_port(p):
            return bl.kemu_cmd(args.kemu, p)
    work = tempfile.mkdtemp(prefix="kemu-bench-startup-")
    results: dict = {"benchmark": "startup", "machine": bl.machine_info(),
                     "server_cmd": " ".join(cmd_for_port("PORT")), "runs": []}
    one_start(cmd_for_port, args.poll_ms / 1000, args.timeout, work)     # warm-up, not counted
    for i in range(args.runs):
        q = bl.wait_for_quiet_machine([], max_wait=10.0)
        r = one_start(cmd_for_port, args.poll_ms / 1000, args.timeout, work)
        r["quiet_wait"] = q
        results["runs"].append(r)
        print(f"start {i + 1}: ready {r.get('ready_ms', float('nan')):.1f} ms, "
              f"stdout line {r.get('stdout_line_ms', float('nan')):.1f} ms, attempts {r['attempts']}"
              + (f"  ERROR {r['error']}" if "error" in r else ""), flush=True)
    ok = [r["ready_ms"] for r in results["runs"] if "ready_ms" in r]
    lines = [r["stdout_line_ms"] for r in results["runs"] if "stdout_line_ms" in r]
    results["summary"] = {
        "ready_ms_median": round(bl.median(ok), 2) if ok else None,
        "ready_ms_min": round(min(ok), 2) if ok else None,
        "ready_ms_max": round(max(ok), 2) if ok else None,
        "stdout_line_ms_median": round(bl.median(lines), 2) if lines else None,
        "failed_runs": len(results["runs"]) - len(ok),
        "target_50ms_met": bool(ok) and len(ok) == len(results["runs"]) and bl.median(ok) <= 50.0,
    }
    print(json.dumps(results["summary"], indent=2))
    bl.save_json(args.out, results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
