"""Shared helpers for kemu's benchmark scripts (standard library only).

Every server started here is started by us, talked to only on 127.0.0.1, and stopped by PID.
Every loop is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import http.client
import json
import os
import platform
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

HOST = "127.0.0.1"


def _on_sigterm(signum, frame):
    # `timeout` (scripts/bench/run) sends SIGTERM: unwind so that `finally` stops our servers by PID.
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _on_sigterm)
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_KEMU = os.path.join(REPO_ROOT, ".build", "release", "kemu")
LISTEN_RE = re.compile(rb"listening on http://127\.0\.0\.1:(\d+)")

NAMESPACE_BODY = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}


def pod_body(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
    }


def kemu_bin() -> str:
    return os.environ.get("KEMU_BIN", DEFAULT_KEMU)


def kemu_cmd(binary: str | None = None, port: int = 0) -> list[str]:
    return [binary or kemu_bin(), "serve", "--address", HOST, "--port", str(port)]


def raise_nofile(want: int = 20000) -> int:
    """Raise this process's open-file limit (children inherit it). Returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --------------------------------------------------------------------------------------------
# Starting and stopping servers


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    port: int
    log_path: str
    out_path: str
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM by PID, then SIGKILL by PID if it has not exited within `timeout` seconds."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)
        return self.proc.returncode

    def log_tail(self, n: int = 20) -> str:
        out = []
        for p in (self.out_path, self.log_path):
            try:
                with open(p, "rb") as f:
                    lines = f.read().decode(errors="replace").splitlines()[-n:]
                out.append(f"--- {os.path.basename(p)} ---\n" + "\n".join(lines))
            except OSError:
                pass
        return "\n".join(out)


def start_server(name: str, cmd: list[str], timeout: float = 30.0, workdir: str | None = None) -> Server:
    """Start `cmd`, wait (bounded) for its 'listening on http://127.0.0.1:PORT' stdout line."""
    workdir = workdir or tempfile.mkdtemp(prefix=f"bench-{name}-")
    out_path = os.path.join(workdir, f"{name}.stdout")
    log_path = os.path.join(workdir, f"{name}.stderr")
    out = open(out_path, "wb")
    err = open(log_path, "wb")
    raise_nofile()
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    out.close()
    err.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(out_path, "rb") as f:
            m = LISTEN_RE.search(f.read())
        if m:
            return Server(name, proc, int(m.group(1)), log_path, out_path)
        if proc.poll() is not None:
            break
        time.sleep(0.005)
    srv = Server(name, proc, 0, log_path, out_path)
    srv.stop()
    raise RuntimeError(f"{name} did not print its listening line within {timeout}s "
                       f"(exit code {proc.returncode}): {' '.join(cmd)}\n{srv.log_tail()}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# /proc readings


def proc_status(pid: int) -> dict:
    """VmRSS / VmHWM / RssAnon / RssFile in KiB and the thread count of `pid`."""
    res = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                res[k] = int(v.split()[0])
            elif k == "Threads":
                res[k] = int(v)
    return res


def machine_info() -> dict:
    info = {"nproc": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            info["ram_gib"] = round(kb / 1024 / 1024, 1)
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    info["os"] = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    info["kernel"] = platform.release()
    for key, cmd in (("swift", ["swift", "--version"]), ("wrk", ["wrk", "-v"]),
                     ("libmicrohttpd", ["pkg-config", "--modversion", "libmicrohttpd"])):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
            txt = (r.stdout + r.stderr).strip().splitlines()
            info[key] = txt[0] if txt else ""
        except (OSError, subprocess.TimeoutExpired):
            info[key] = "n/a"
    info["python"] = platform.python_version()
    info["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return info


# --------------------------------------------------------------------------------------------
# Other people's CPU use (the machine is shared; wrk and the server already share its 2 cores)

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_busy() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    total = sum(v[:8])
    return total - idle, total


def _pid_jiffies(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])          # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


class CpuMeter:
    """Measures, over an interval, how much CPU went to processes other than ours.

    ours = the listed server PIDs + this Python process + its waited-for children (wrk).
    Result in percent of the whole machine (100 % = all CPUs busy)."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.start()

    def _ours(self) -> int:
        me = resource.getrusage(resource.RUSAGE_SELF)
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        py = (me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime) * CLK_TCK
        return int(py) + sum(_pid_jiffies(p) for p in self.pids)

    def start(self) -> None:
        self.b0, self.t0 = _stat_busy()
        self.o0 = self._ours()

    def stop(self) -> dict:
        b1, t1 = _stat_busy()
        o1 = self._ours()
        total = max(1, t1 - self.t0)
        busy, ours = b1 - self.b0, o1 - self.o0
        return {"machine_busy_pct": round(100 * busy / total, 1),
                "foreign_pct": round(max(0, 100 * (busy - ours) / total), 1)}


def wait_for_quiet_machine(pids: list[int], threshold_pct: float = 10.0, window: float = 0.5,
                           max_wait: float = 60.0) -> dict:
    """Wait (bounded) until other processes use < threshold_pct of the machine for one window."""
    t0 = time.monotonic()
    last = {}
    while True:
        m = CpuMeter(pids)
        time.sleep(window)
        last = m.stop()
        if last["foreign_pct"] < threshold_pct or time.monotonic() - t0 >= max_wait:
            break
    return {"waited_s": round(time.monotonic() - t0, 1), "quiet": last["foreign_pct"] < threshold_pct, **last}


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# --------------------------------------------------------------------------------------------
# HTTP (keep-alive, loopback only)


class Client:
    """A keep-alive HTTP/1.1 client for one server on 127.0.0.1."""

    def __init__(self, port: int, timeout: float = 10.0):
        self.port = port
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def request(self, method: str, path: str, body=None, content_type: str = "application/json"):
        """Returns (status, headers as list of (name, value), body bytes)."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, bytearray)) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        for attempt in range(2):     # one reconnect if the server closed the keep-alive connection
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                return r.status, r.getheaders(), r.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body=None, content_type: str = "application/json"):
        st, _, data = self.request(method, path, body, content_type)
        try:
            return st, json.loads(data) if data else None
        except ValueError:
            return st, data

    def close(self):
        self.conn.close()


def seed(port: int, pods: int = 1000, namespace: str = "bench", default_pod: bool = True) -> dict:
    """Create namespace `bench` and `pods` pods in it (bench-0 .. bench-N-1) over one keep-alive
    connection, plus default/bench-0. Existing objects (409) are accepted. Returns timing info."""
    c = Client(port)
    t0 = time.monotonic()
    statuses: dict[int, int] = {}
    st, body = c.json("POST", "/api/v1/namespaces", {**NAMESPACE_BODY, "metadata": {"name": namespace}})
    if st not in (200, 201, 409):
        raise RuntimeError(f"creating namespace {namespace}: HTTP {st}: {str(body)[:300]}")
    errors = []
    for i in range(pods):
        st, _, data = c.request("POST", f"/api/v1/namespaces/{namespace}/pods",
                                json.dumps(pod_body(f"bench-{i}")).encode())
        statuses[st] = statuses.get(st, 0) + 1
        if st not in (200, 201, 409) and len(errors) < 3:
            errors.append(f"bench-{i}: HTTP {st}: {data[:300]!r}")
    if default_pod:
        st, _, data = c.request("POST", "/api/v1/namespaces/default/pods",
                                json.dumps(pod_body("bench-0")).encode())
        if st not in (200, 201, 409):
            errors.append(f"default/bench-0: HTTP {st}: {data[:300]!r}")
    elapsed = time.monotonic() - t0
    c.close()
    if errors:
        raise RuntimeError("seeding failed: " + "; ".join(errors))
    return {"pods": pods, "seconds": round(elapsed, 3), "statuses": statuses,
            "creates_per_s": round(pods / elapsed, 1) if elapsed > 0 else None}


# --------------------------------------------------------------------------------------------
# wrk


WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text.strip())
    if not m:
        return float("nan")
    return float(m.group(1)) * WRK_UNITS[m.group(2)]


def run_wrk(url: str, threads: int = 2, connections: int = 32, duration: str = "5s",
            extra: list[str] | None = None) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency", *(extra or []), url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    out = r.stdout
    res: dict = {"cmd": " ".join(cmd), "raw": out + r.stderr}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read", out)
    if m:
        res["requests"] = int(m.group(1))
        res["read"] = m.group(3)
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        res[f"p{pct}_ms"] = _ms(m.group(1)) if m else float("nan")
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    if r.returncode != 0:
        res["error"] = f"wrk exit {r.returncode}: {r.stderr.strip()[:300]}"
    return res


def measured_wrk(url: str, pids: list[int], quiet_wait: float = 60.0, **kw) -> dict:
    """run_wrk after waiting (bounded) for a quiet machine; records other processes' CPU share."""
    q = wait_for_quiet_machine(pids, max_wait=quiet_wait)
    m = CpuMeter(pids)
    r = run_wrk(url, **kw)
    r["cpu"] = m.stop()
    r["quiet_wait"] = q
    return r


# --------------------------------------------------------------------------------------------
# statistics


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> str:
    """min–max relative to the median, e.g. '±4 %'."""
    if len(values) < 2:
        return "n/a"
    med = median(values)
    if not med:
        return "n/a"
    dev = max(abs(max(values) - med), abs(med - min(values))) / med * 100
    return f"±{dev:.0f} %"


def save_json(path: str | None, data: dict) -> None:
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def run_benchmark(amain, args, results: dict, summarize) -> int:
    """Runs `amain(args, results)` (a coroutine), then stores `summarize(results)` as results["summary"], prints
    it and saves everything to args.out. An exception is recorded (what was measured before it is kept);
    returns the exit code: 1 after an error, else 0."""
    try:
        asyncio.run(amain(args, results))
    except Exception as e:          # record and carry on to save what we have
        results["error"] = f"{type(e).__name__}: {e}"
        print("ERROR:", results["error"], file=sys.stderr)
    results["summary"] = summarize(results)
    print(json.dumps(results["summary"], indent=2))
    save_json(args.out, results)
    return 1 if "error" in results else 0


def phase_parser(doc: str, phases: str) -> argparse.ArgumentParser:
    """Arguments shared by the benchmarks made of phases: --kemu, --kemu-arg (repeatable) and --phases."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kemu", default=kemu_bin())
    ap.add_argument("--kemu-arg", action="append", default=[], help="extra kemu serve argument (repeatable)")
    ap.add_argument("--phases", default=phases, help=f"comma-separated: {phases.replace(',', ', ')}")
    return ap


def load_results(d: str, prefix: str) -> list[tuple[str, dict]]:
    """(path, JSON) of each DIR/PREFIX*.json written by a benchmark, in name order."""
    out = []
    for p in sorted(glob.glob(os.path.join(d, prefix + "*.json"))):
        with open(p) as f:
            out.append((p, json.load(f)))
    return out


def print_table(title: str, rows: list[str]) -> None:
    """Prints Markdown rows under a `| # | TITLE | result | target | verdict |` header; nothing without rows."""
    if rows:
        print("\n".join(["", f"| # | {title} | result | target | verdict |", "|---|---|---|---|---|", *rows]))


def parse_phase_args(ap: argparse.ArgumentParser, prefix: str) -> argparse.Namespace:
    """Adds --out and --report (Markdown rows for DIR/PREFIX*.json), parses, and splits --phases into a list."""
    ap.add_argument("--out")
    ap.add_argument("--report", metavar="DIR", help=f"print Markdown rows for DIR/{prefix}*.json and exit")
    args = ap.parse_args()
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    return args
